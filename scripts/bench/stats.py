"""Per-case measurements: latency samples, API calls made against the minimum, outcomes."""

import math
import statistics


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def stats_ms(values):
    ms = [v * 1000 for v in values if v is not None]
    return {
        "p50": round(percentile(ms, 50), 2) if ms else None,
        "max": round(max(ms), 2) if ms else None,
        "samples": [round(x, 2) for x in ms],
    }


def mean_by_key(dicts):
    """{key: mean over `dicts`} (a missing key counts 0), sorted by key, rounded to 2 places."""
    n = len(dicts) or 1
    total = {}
    for d in dicts:
        for op, k in d.items():
            total[op] = total.get(op, 0) + k
    return {op: round(k / n, 2) for op, k in sorted(total.items())}


class Case:
    def __init__(self, name, title):
        self.name, self.title = name, title
        self.latencies = []
        self.calls = []  # api_calls dict per invocation
        self.minimums = []  # minimum dict per invocation
        self.outcomes = {}
        self.index = {}
        self.http_requests = []  # requests seen by the latency proxy per invocation
        self.problems = []

    def add(
        self, elapsed, report, minimum, expect_outcome=None, expect_index=None, http_requests=None, expect_reason=None
    ):
        self.latencies.append(elapsed)
        if "errorType" in report:
            self.problems.append(f"{report['errorType']}: {report.get('errorMessage', '')[:200]}")
            self.calls.append({})
        else:
            self.calls.append(dict(report.get("api_calls") or {}))
        self.minimums.append(minimum)
        outcome = report.get("outcome", report.get("errorType"))
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        idx = report.get("index")
        self.index[str(idx)] = self.index.get(str(idx), 0) + 1
        if expect_outcome and outcome not in expect_outcome:
            self.problems.append(f"outcome {outcome}, expected {'/'.join(expect_outcome)}: {report.get('reason')}")
        if expect_reason and expect_reason not in (report.get("reason") or ""):
            self.problems.append(f"reason {report.get('reason')!r}, expected one saying {expect_reason!r}")
        if expect_index and idx != expect_index:
            self.problems.append(f"index {idx}, expected {expect_index}")
        if http_requests is not None:
            self.http_requests.append(http_requests)

    def summary(self):
        ms = [x * 1000 for x in self.latencies]
        totals = [sum(c.values()) for c in self.calls]
        mins = [sum(m.values()) for m in self.minimums]
        breakdown = mean_by_key(self.calls)
        minimum = mean_by_key(self.minimums)
        excess = {
            op: round(breakdown.get(op, 0) - minimum.get(op, 0), 2)
            for op in sorted(set(breakdown) | set(minimum))
            if round(breakdown.get(op, 0) - minimum.get(op, 0), 2) != 0
        }
        made = statistics.mean(totals) if totals else 0
        least = statistics.mean(mins) if mins else 0
        out = {
            "title": self.title,
            "iterations": len(ms),
            "latency_ms": {
                "p50": round(percentile(ms, 50), 2) if ms else None,
                "p95": round(percentile(ms, 95), 2) if ms else None,
                "p99": round(percentile(ms, 99), 2) if ms else None,
                "min": round(min(ms), 2) if ms else None,
                "max": round(max(ms), 2) if ms else None,
                "mean": round(statistics.mean(ms), 2) if ms else None,
                "samples": [round(x, 2) for x in ms],
            },
            "api_calls_per_invocation": round(made, 2),
            "api_calls_total": sum(totals),
            "api_calls_breakdown_per_invocation": breakdown,
            "minimum_per_invocation": round(least, 2),
            "minimum_breakdown": minimum,
            "ratio_made_to_minimum": round(made / least, 3) if least else None,
            "excess_over_minimum": excess,
            "outcomes": self.outcomes,
            "index": self.index,
            "problems": self.problems,
        }
        if self.http_requests:
            out["http_requests_per_invocation_at_proxy"] = round(statistics.mean(self.http_requests), 2)
        return out
