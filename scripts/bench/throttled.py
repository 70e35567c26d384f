"""The throttling cases: every event delivered as Lambda would under throttling (again after an
error, at most three times), through a proxy that throttles a seeded fraction of requests."""

import statistics
import time

from .base import ADMIN, NODE_ROLE, command_line
from .results import fmt_ms, machine_info, write_json
from .stats import percentile

TITLES = {
    "node_cold_index": "node-role attach, cold index (TTL 0)",
    "node_warm_index": "node-role attach, warm index",
    "sweep": "scheduled sweep (dry-run, TTL 0)",
}


def deliver(b, event):
    """One event, retried like Lambda: time to the first success, attempts, what the proxy saw."""
    t0 = time.perf_counter()
    before = b.proxy.counts()
    report, attempts = None, None
    for attempt in range(1, 4):
        _, report = b.fn.invoke(b.events[event])
        if "errorType" not in report:
            attempts = attempt
            break
    after = b.proxy.counts()
    return {
        "ms": (time.perf_counter() - t0) * 1000,
        "attempts": attempts,
        "http": (after[0] - before[0]) + (after[1] - before[1]),
        "throttled": after[1] - before[1],
        "outcome": report.get("outcome") if report else None,
    }


def collect(b):
    args, fn = b.args, b.fn
    runs = {name: [] for name in TITLES}
    fn.start("function-throttled-ttl0", "enforce", 0)
    for _ in range(args.cold_iterations):
        b.emu.attach(NODE_ROLE, ADMIN)
        runs["node_cold_index"].append(deliver(b, "node"))
    fn.stop()
    fn.start("function-throttled-warm", "enforce", 300)
    b.emu.attach(NODE_ROLE, ADMIN)
    deliver(b, "node")  # builds the index (not measured)
    for _ in range(args.iterations):
        b.emu.attach(NODE_ROLE, ADMIN)
        runs["node_warm_index"].append(deliver(b, "node"))
    fn.stop()
    fn.start("function-throttled-sweep", "dry-run", 0)
    for _ in range(args.sweep_iterations):
        runs["sweep"].append(deliver(b, "sweep"))
    fn.stop()
    return runs


def summarise(name, items):
    done = [i for i in items if i["attempts"]]
    return {
        "title": TITLES[name],
        "n": len(items),
        "converged": len(done),
        "ms_to_success": {
            "p50": round(percentile([i["ms"] for i in done], 50), 1),
            "p99": round(percentile([i["ms"] for i in done], 99), 1),
            "samples": [round(i["ms"], 1) for i in done],
        }
        if done
        else None,
        "lambda_attempts": [i["attempts"] for i in items],
        "http_requests_per_event": statistics.mean(i["http"] for i in items),
        "throttled_per_event": statistics.mean(i["throttled"] for i in items),
        "outcomes": sorted({str(i["outcome"]) for i in items}),
    }


def run_throttled(b):
    """Per case: time to the first success (p50/p99, all attempts included), Lambda attempts,
    HTTP requests the proxy saw, how many it throttled, and events that never converged."""
    args = b.args
    runs = collect(b)
    cases = {name: summarise(name, items) for name, items in runs.items()}
    results = {
        "params": {
            "throttle": args.throttle,
            "seed": args.seed,
            "regions": b.regions,
            "iterations": args.iterations,
            "cold_iterations": args.cold_iterations,
            "sweep_iterations": args.sweep_iterations,
            "command": command_line(),
        },
        "machine": machine_info(b.binary),
        "inventory": b.mins.counts,
        "cases": cases,
        "node_role_after": b.emu.role_policies(NODE_ROLE),
        "total_seconds": b.seconds(),
    }
    write_json(b.out_path, results)
    print_table(args, b.mins.counts, cases, results["total_seconds"], b.out_path)
    return results


def print_table(args, inventory, cases, seconds, out_path):
    print(f"\nthrottled: {args.throttle:.0%} of all requests (seed {args.seed}); inventory {inventory}")
    print(
        f"{'case':42} {'n':>3} {'ok':>3} {'p50 ms':>9} {'p99 ms':>9} {'attempts 1/2/3/none':>20} "
        f"{'HTTP/event':>10} {'thr/event':>9}"
    )
    for case in cases.values():
        ms = case["ms_to_success"] or {}
        tried = case["lambda_attempts"]
        spread = "/".join(str(tried.count(k)) for k in (1, 2, 3, None))
        print(
            f"{case['title']:42} {case['n']:>3} {case['converged']:>3} {fmt_ms(ms.get('p50')):>9} "
            f"{fmt_ms(ms.get('p99')):>9} {spread:>20} "
            f"{case['http_requests_per_event']:>10.1f} {case['throttled_per_event']:>9.1f}"
        )
    print(f"total benchmark time {seconds}s; JSON: {out_path}")
