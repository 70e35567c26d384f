"""What a run records besides its measurements (machine, versions, package size) and how it
prints: the latency table with each case's calls against the minimum."""

import json
import os
import platform
import shutil
import subprocess
import time

from .base import ROOT, VENV_BIN

MINIMUM_NOTES = [
    "unrelated: GetRole only (trust policy rules the role out).",
    "node-role warm: GetRole + ListAttachedRolePolicies + ListRolePolicies + DetachRolePolicy per "
    "managed violation (enforce) + one sns:Publish.",
    "node-role cold (TTL 0, or a fresh process): warm + the quick answer from the instances: "
    "ListInstanceProfilesForRole, DescribeInstances per scanned region, and in each region where an "
    "instance uses one of the role's profiles ListClusters + DescribeNodegroup per managed node group "
    "those instances name; then DescribeAddon per cluster the role serves (CNI_POLICY=keep-if-needed; "
    "the emulator answers 404, so the need is unknown, the policy is kept and the quick answer "
    "stands; in AWS a vpc-cni add-on without IRSA adds ListPodIdentityAssociations). When the "
    "instances give no answer (no profile, no node, a node group declaring another role): that "
    "attempt + the full discovery.",
    "CreateNodegroup (warm index, CNI facts cached): DescribeNodegroup + the warm node-role minimum.",
    "discovery (the full scan): ListClusters per region, ListNodegroups per cluster, DescribeNodegroup "
    "per node group, ListAccessEntries per cluster; DescribeInstances + "
    "DescribeIamInstanceProfileAssociations per region with a cluster (1,000 a page); "
    "ListInstanceProfiles once (1,000 a page).",
    "sweep (dry-run; (e) TTL 0 in one process, (e') a fresh process per sweep with TTL 300): discovery + per "
    "node role ListAttachedRolePolicies + ListRolePolicies "
    "(+ GetRolePolicy per inline policy) + DescribeAddon once per distinct cluster served by a role "
    "with the CNI policy + one Publish per role with violations + one summary Publish.",
    "(f) ignored door, AddRoleToInstanceProfile on a profile no instance runs with: one "
    "DescribeIamInstanceProfileAssociations per SCAN_REGIONS region (1,000 a page), every region "
    "whether or not it has a cluster; nothing else (no IAM call: the profile's users decide).",
    "(g) ignored door, UpdateAssumeRolePolicy whose trust names no role and admits no node service: "
    "none (the event's document decides).",
    "(h) ignored door, ModifyInstanceMetadataOptions on an instance that is no node: DescribeInstances "
    "of the instance's region (1,000 a page) + ListClusters there, asked together; an untagged instance "
    "could be ruled out by DescribeInstances alone, at one more round trip for every node.",
    "enforce cases re-attach the offending policy with boto3 (untimed) before each invocation.",
    "latency is measured by the client around the HTTP POST to cargo lambda watch.",
    "p50/p99 interpolate linearly between ranks (numpy's default): with 20 samples p99 is close to the maximum.",
]


def git_info():
    def run(*args):
        try:
            return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return None

    return {"commit": run("git", "rev-parse", "HEAD"), "dirty": bool(run("git", "status", "--porcelain"))}


def _first_field(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def tool_versions():
    versions = {}
    try:
        from importlib.metadata import version

        versions["moto"] = version("moto")
        versions["boto3"] = version("boto3")
    except Exception:
        pass
    for tool, argv in (
        ("rustc", ["rustc", "--version"]),
        ("cargo-lambda", [str(VENV_BIN / "cargo-lambda"), "lambda", "--version"]),
    ):
        try:
            versions[tool] = subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception:
            versions[tool] = None
    return versions


def machine_info(binary):
    mem = _first_field("/proc/meminfo", "MemTotal:")
    file_desc = None
    if shutil.which("file"):
        file_desc = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True).stdout.strip()
    parts = binary.resolve().parts
    profile = "release" if "release" in parts else ("debug" if "debug" in parts else "unknown")
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _first_field("/proc/cpuinfo", "model name"),
        "mem_total_mib": int(mem.split()[0]) // 1024 if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": tool_versions(),
        "binary": {
            "path": str(binary),
            "profile": profile,
            "is_release": profile == "release",
            "size_bytes": binary.stat().st_size,
            "file": file_desc,
        },
        "git": git_info(),
    }


def package_size(binary):
    zip_path = ROOT / "target" / "lambda" / "node-role-remediator" / "bootstrap.zip"
    if zip_path.exists():
        return {
            "kind": "bootstrap.zip (cargo lambda build --release --arm64)",
            "path": str(zip_path),
            "bytes": zip_path.stat().st_size,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(zip_path.stat().st_mtime)),
        }
    return {
        "kind": "no bootstrap.zip (run `make build`): size of the benchmarked binary instead",
        "path": str(binary),
        "bytes": binary.stat().st_size,
    }


def write_json(path, results):
    path.write_text(json.dumps(results, indent=2) + "\n")


def fmt_ms(x):
    return "-" if x is None else f"{x:.1f}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}"


def print_table(results):
    cases = results["cases"]
    width = max(44, *(len(c["title"]) for c in cases.values()))
    head = (
        f"{'case':<{width}} {'n':>3} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'calls':>7} {'min':>6} "
        f"{'ratio':>6} {'p50/(a)':>8} {'calls/(a)':>9}"
    )
    print()
    print(
        f"latency injected: {results['params']['latency_ms']} ms per request; binary: "
        f"{results['machine']['binary']['path']} ({results['machine']['binary']['profile']}); "
        f"nproc {results['machine']['nproc']}"
    )
    print(head)
    print("-" * len(head))
    for case in cases.values():
        lat = case["latency_ms"]
        to_a = case.get("ratio_to_unrelated") or {}
        print(
            f"{case['title']:<{width}} {case['iterations']:>3} {fmt_ms(lat['p50']):>9} {fmt_ms(lat['p95']):>9} "
            f"{fmt_ms(lat['p99']):>9} {case['api_calls_per_invocation']:>7g} {case['minimum_per_invocation']:>6g} "
            f"{fmt_ratio(case['ratio_made_to_minimum']):>6} {fmt_ratio(to_a.get('p50')):>8} "
            f"{fmt_ratio(to_a.get('calls')):>9}"
        )
    print()
    for case in cases.values():
        print_case_detail(case)
    print_footer(results)


def print_case_detail(case):
    made = ", ".join(f"{op} {n:g}" for op, n in case["api_calls_breakdown_per_invocation"].items())
    print(f"{case['title']}:")
    print(f"    made:    {made or '-'}")
    if case["excess_over_minimum"]:
        print(f"    vs min:  {', '.join(f'{op} {n:+g}' for op, n in case['excess_over_minimum'].items())}")
    if "http_requests_per_invocation_at_proxy" in case:
        print(
            f"    HTTP requests seen by the latency proxy: {case['http_requests_per_invocation_at_proxy']:g}"
            " per invocation (includes SDK retries)"
        )
    print(f"    outcomes: {case['outcomes']}  index: {case['index']}")
    for p in sorted(set(case["problems"])):
        print(f"    PROBLEM: {p}")


def print_footer(results):
    cs = results["cold_start"]
    print()
    print(
        f"cold start ({cs['runs']} fresh processes, first event = node-role attach): "
        f"spawn -> runtime ready p50 {fmt_ms(cs['spawn_to_ready_ms']['p50'])} ms "
        f"(max {fmt_ms(cs['spawn_to_ready_ms']['max'])}); spawn -> first response p50 "
        f"{fmt_ms(cs['spawn_to_first_response_ms']['p50'])} ms (max {fmt_ms(cs['spawn_to_first_response_ms']['max'])})"
    )
    rss = results["peak_rss_kib"]
    print("peak RSS (VmHWM): " + ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in rss.items() if v))
    pkg = results["package"]
    print(f"package: {pkg['bytes'] / 1e6:.2f} MB  ({pkg['kind']}: {pkg['path']})")
    s = results["seed"]
    print(
        f"seeded in {s['seconds']:.1f}s: {s['counts']['clusters']} clusters, {s['counts']['nodegroups']} node groups, "
        f"{s['counts']['node_roles']} node roles in {s['counts']['regions']} scanned regions; {s['line']}"
    )
    print(f"total benchmark time {results['total_seconds']:.1f}s; JSON: {results['params']['out']}")
