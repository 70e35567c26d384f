"""Organization mode: the release function as a central deployment sweeping N member accounts
of one emulator, through the latency proxy (see README.md).

Run from the repository root (`make bench` runs it with BENCH_ORG):
    PYTHONPATH=scripts .venv/bin/python -m bench.org --accounts 5,20,50 --latency-ms 50
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

from . import account
from .base import ADMIN, HOME_REGION, REGION_ORDER, ROOT, log, resolve
from .function import Function, bench_env, start_watch
from .minimums import Minimums, violations
from .org_account import CENTRAL, MEMBER_ROLE, Account, org_minimum, seed_member
from .processes import Processes
from .proxy import AwsProxy
from .stats import percentile


def seed_organization(endpoint, args, n, regions):
    """An organization with `n` members seeded alike. -> (members, topic ARN, seconds)"""
    central = Account(endpoint, CENTRAL)
    t0 = time.monotonic()
    org = central.client("organizations")
    org.create_organization(FeatureSet="ALL")
    members = [
        org.create_account(AccountName=f"team-{i:03d}", Email=f"team-{i:03d}@example.com")["CreateAccountStatus"][
            "AccountId"
        ]
        for i in range(n)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda acct: seed_member(endpoint, acct, regions, args.clusters, args.unrelated_roles), members))
    topic = central.client("sns").create_topic(Name="bench-org")["TopicArn"]
    return members, topic, time.monotonic() - t0


def organization_minimum(endpoint, members, regions):
    """The sweep's minimum and the number of violating roles, from every account read back."""
    minimums = []
    violating = 0
    # the central account is in the organization, so it is swept too (it has no clusters)
    for acct in [CENTRAL] + members:
        inv = Account(endpoint, acct).inventory(regions)
        minimums.append(Minimums(inv, regions))
        violating += sum(1 for e in inv["roles"].values() if violations(e))
    # ListAccounts pages as this server pages them (the function asks without MaxResults)
    org = Account(endpoint, CENTRAL).client("organizations")
    list_pages = sum(1 for _ in org.get_paginator("list_accounts").paginate())
    return org_minimum(minimums, len(members), list_pages), violating


def scenario(args, procs, n):
    regions = REGION_ORDER[: args.regions]
    env = bench_env()
    endpoint = account.start_emulator(procs, f"moto-{n}")
    members, topic, seed_seconds = seed_organization(endpoint, args, n, regions)
    log(f"{n} accounts seeded in {seed_seconds:.1f}s")
    minimum, violating = organization_minimum(endpoint, members, regions)
    guarded = n + 1

    proxy_binary = resolve(args.proxy_binary)
    proxy = AwsProxy(procs, f"latency-proxy-{n}", proxy_binary, endpoint, latency_ms=args.latency_ms)
    _, watch_port = start_watch(procs, f"watch-{n}", env)
    fn_env = {
        "SNS_TOPIC_ARN": topic,
        "SCAN_REGIONS": ",".join(regions),
        "AWS_ENDPOINT_URL": proxy.endpoint,
        "AWS_REGION": HOME_REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MEMBER_ROLE_NAME": MEMBER_ROLE,
        "ACCOUNTS": "organization",
        "ACCOUNT_CONCURRENCY": str(args.account_concurrency),
        "RUST_LOG": "warn",
    }
    fn = Function(procs, resolve(args.binary), watch_port, proxy_binary, fn_env)
    sweep_event = (ROOT / "events" / "scheduled-sweep.json").read_bytes()

    sweeps = []
    calls = None
    for run in range(args.runs):
        fn.start(f"function-{n}-{run}", "dry-run", 0)
        elapsed, report = fn.invoke(sweep_event)
        check_sweep(report, guarded, violating)
        sweeps.append(elapsed)
        calls = report["api_calls"]
        fn.stop()
    result = {
        "accounts": n,
        "guarded": guarded,
        "regions": len(regions),
        "clusters_per_account": args.clusters * len(regions),
        "unrelated_roles_per_account": args.unrelated_roles,
        "seed_seconds": round(seed_seconds, 1),
        "sweep_ms": [round(s * 1000) for s in sweeps],
        "sweep_p50_ms": round(percentile([s * 1000 for s in sweeps], 50)),
        "sweep_p99_ms": round(percentile([s * 1000 for s in sweeps], 99)),
        "calls": sum(calls.values()),
        "minimum": sum(minimum.values()),
        "calls_by_operation": calls,
        "minimum_by_operation": minimum,
    }
    if n == args.event_accounts:
        result["events"] = member_events(fn, members[0])
    procs.stop_all()  # this scenario's emulator, proxies and watch
    return result


def check_sweep(report, guarded, violating):
    if report.get("outcome") != "sweep_completed":
        raise RuntimeError(f"sweep did not complete: {json.dumps(report)[:600]}")
    lines = report.get("accounts", [])
    failed = [line for line in lines if line.get("reason")]
    if len(lines) != guarded or failed:
        raise RuntimeError(f"{len(lines)} account lines for {guarded} guarded, failed: {failed}")
    found = sum(1 for r in report["roles"] if r["outcome"] == "violations_found")
    if found != violating:
        raise RuntimeError(f"{found} roles with violations reported, {violating} seeded")


def member_events(fn, member):
    """AttachRolePolicy from a member: with a warm index (a sweep first) and a cold one (TTL 0)."""
    envelope = json.loads((ROOT / "events" / "attach-admin-to-node-role.json").read_text())
    envelope["account"] = member
    envelope["detail"]["requestParameters"] = {"roleName": "eks-node-admin", "policyArn": ADMIN}
    payload = json.dumps(envelope).encode()
    sweep_event = (ROOT / "events" / "scheduled-sweep.json").read_bytes()
    out = {}
    fn.start("function-events-warm", "dry-run", 300)
    fn.invoke(sweep_event)
    warm = [fn.invoke(payload) for _ in range(10)]
    fn.stop()
    fn.start("function-events-cold", "dry-run", 0)
    cold = [fn.invoke(payload) for _ in range(5)]
    fn.stop()
    for name, runs in (("warm_index", warm), ("cold_index", cold)):
        for _, report in runs:
            if report.get("outcome") != "violations_found" or report.get("account") != member:
                raise RuntimeError(f"{name}: {json.dumps(report)[:400]}")
        ms = [e * 1000 for e, _ in runs]
        out[name] = {
            "p50_ms": round(percentile(ms, 50)),
            "p99_ms": round(percentile(ms, 99)),
            "calls": sum(runs[-1][1]["api_calls"].values()),
            "calls_by_operation": runs[-1][1]["api_calls"],
        }
    return out


def print_table(args, results, out_path):
    print(
        f"\norganization sweep, dry-run, +{args.latency_ms} ms per request, {args.regions} regions x "
        f"{args.clusters} clusters x 2 node groups and {args.unrelated_roles} unrelated roles per account, "
        f"ACCOUNT_CONCURRENCY={args.account_concurrency}"
    )
    print(
        f"{'accounts':>8} {'seed s':>7} {'sweep p50 ms':>13} {'p99 ms':>8} {'calls':>6} {'minimum':>8} "
        f"{'ratio':>6} {'ms/account':>11}"
    )
    for r in results:
        print(
            f"{r['accounts']:>8} {r['seed_seconds']:>7} {r['sweep_p50_ms']:>13} {r['sweep_p99_ms']:>8} "
            f"{r['calls']:>6} {r['minimum']:>8} {r['calls'] / r['minimum']:>6.2f} "
            f"{r['sweep_p50_ms'] / r['accounts']:>11.0f}"
        )
        for name, e in r.get("events", {}).items():
            print(
                f"    member AttachRolePolicy, {name}: p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms, {e['calls']} calls"
            )
    print(f"results: {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")


def main():
    parser = argparse.ArgumentParser(
        prog="python -m bench.org", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", default="5,20,50", help="member account counts, one scenario each")
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=3, help="clusters per region per account")
    parser.add_argument("--unrelated-roles", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="sweeps per scenario, each in a fresh process")
    parser.add_argument("--account-concurrency", type=int, default=4)
    parser.add_argument("--event-accounts", type=int, default=20, help="the scenario that also times member events")
    parser.add_argument("--binary", default="target/release/node-role-remediator")
    parser.add_argument("--proxy-binary", default="target/release/aws-proxy")
    parser.add_argument("--out", default="bench-results/bench-org.json")
    args = parser.parse_args()
    counts = [int(x) for x in args.accounts.split(",") if x]
    out_path = resolve(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / "logs" / "org"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes(log_dir)
    results = []
    try:
        for n in counts:
            r = scenario(args, procs, n)
            results.append(r)
            log(f"{n} accounts: sweep p50 {r['sweep_p50_ms']} ms, {r['calls']} calls (minimum {r['minimum']})")
    finally:
        procs.stop_all()
    out_path.write_text(json.dumps({"params": vars(args), "results": results}, indent=2))
    print_table(args, results, out_path)


if __name__ == "__main__":
    main()
