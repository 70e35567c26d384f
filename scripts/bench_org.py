#!/usr/bin/env python3
"""Benchmark organization mode: the release function as a central deployment sweeping N member
accounts of one emulator, through the latency proxy.

For each N in --accounts (default 5,20,50), on a fresh emulator:
1. an organization (the central account is its management account) with N member accounts
   created through Organizations, each seeded alike: --regions regions x --clusters clusters,
   2 node groups per cluster on 4 node roles (two of them with a violation) and
   --unrelated-roles unrelated roles; the central account itself has no clusters;
2. the minimum calls of an organization sweep, from the seeded accounts read back (not
   hard-coded): each member's sweep minimum (bench.Minimums) + one sts:AssumeRole per member +
   the organizations:ListAccounts pages + one cloudtrail:DescribeTrails + one summary Publish;
3. --runs dry-run sweeps, each in a fresh function process (so every run assumes every member
   role), MEMBER_ROLE_NAME set, ACCOUNTS=organization, INDEX_TTL_SECONDS=0; at the largest N
   that is 20 or less (the default scenario), also an AttachRolePolicy event from a member with
   a warm index (after a sweep) and with a cold one.
Every sweep's Report is checked: sweep_completed, one account line per guarded account (the
members and the central account), none failed, and every seeded violating role counted.

Run from the repository root with the project virtualenv (`make bench` runs it with BENCH_ORG):
    .venv/bin/python scripts/bench_org.py --accounts 5,20,50 --latency-ms 50
"""

import argparse
import json
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the same harness: processes, proxies, the function, minimums)

ROOT = bench.ROOT
CENTRAL = "123456789012"
MEMBER_ROLE = "eks-node-role-guard-member"
EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
ROOT_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CENTRAL}:root"}, "Action": "sts:AssumeRole"}]})
BASELINE = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"]
# node roles: two clean, one with AdministratorAccess, one with an inline policy
NODE_ROLES = {"eks-node-a": [], "eks-node-b": [], "eks-node-admin": ["AdministratorAccess"], "eks-node-debug": []}
DEBUG = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


class Account(bench.Emulator):
    """bench.Emulator for one account of the emulator (AssumeRole credentials for members)."""

    def __init__(self, endpoint, account):
        super().__init__(endpoint)
        self.account = account
        if account != CENTRAL:
            creds = self.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/bench-seeder", RoleSessionName="seed"
            )["Credentials"]
            self._session = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=bench.HOME_REGION,
            )
            self._cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=16)
            self._clients = {}


def seed_member(endpoint, account, regions, clusters, unrelated):
    a = Account(endpoint, account)
    iam = a.client("iam")
    arns = {}
    for name, extra in NODE_ROLES.items():
        arns[name] = iam.create_role(RoleName=name, Path="/eks/", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
        for policy in BASELINE + extra:
            iam.attach_role_policy(RoleName=name, PolicyArn=bench.AWS_POLICY + policy)
    iam.put_role_policy(RoleName="eks-node-debug", PolicyName="debug-s3", PolicyDocument=DEBUG)
    cluster_role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=ROOT_TRUST)["Role"]["Arn"]
    roles = list(arns.values())
    n = 0
    for region in regions:
        eks = a.client("eks", region)
        for c in range(clusters):
            name = f"cluster-{c}"
            eks.create_cluster(name=name, roleArn=cluster_role, resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60001"]})
            for g in range(2):
                eks.create_nodegroup(clusterName=name, nodegroupName=f"ng-{g}", nodeRole=roles[n % len(roles)],
                                     subnets=["subnet-0a1b2c3d4e5f60001"])
                n += 1
    for i in range(unrelated):
        iam.create_role(RoleName=f"app-{i:04d}", AssumeRolePolicyDocument=ROOT_TRUST)
    return account


def org_minimum(minimums, members, list_pages):
    """The fewest calls an organization sweep needs: each member's sweep without its own summary,
    one AssumeRole per member, the ListAccounts pages, the blind check, one summary."""
    total = {}
    for m in minimums:
        for op, n in m.sweep("dry-run").items():
            total[op] = total.get(op, 0) + n
        total["sns:Publish"] -= 1
    total["sns:Publish"] = total.get("sns:Publish", 0) + 1
    total["sts:AssumeRole"] = members
    total["organizations:ListAccounts"] = list_pages
    total["cloudtrail:DescribeTrails"] = 1
    return total


def scenario(args, procs, n, out):
    regions = bench.REGION_ORDER[: args.regions]
    moto_port = bench.free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    env["PATH"] = f"{bench.VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    moto = procs.spawn(f"moto-{n}", [str(bench.VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)], env)
    bench.wait_port(moto_port, moto, 60, "moto_server")
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).read()
            break
        except Exception:
            time.sleep(0.1)

    central = Account(endpoint, CENTRAL)
    t0 = time.monotonic()
    org = central.client("organizations")
    org.create_organization(FeatureSet="ALL")
    members = [org.create_account(AccountName=f"team-{i:03d}", Email=f"team-{i:03d}@example.com")["CreateAccountStatus"]["AccountId"]
               for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda acct: seed_member(endpoint, acct, regions, args.clusters, args.unrelated_roles), members))
    sns, sqs = central.client("sns"), central.client("sqs")
    topic = sns.create_topic(Name="bench-org")["TopicArn"]
    seed_seconds = time.monotonic() - t0
    bench.log(f"{n} accounts seeded in {seed_seconds:.1f}s")

    minimums = []
    violating = 0
    # the central account is in the organization, so it is swept too (it has no clusters)
    for acct in [CENTRAL] + members:
        inv = Account(endpoint, acct).inventory(regions)
        minimums.append(bench.Minimums(inv, regions))
        violating += sum(1 for e in inv["roles"].values() if bench.violations(e))
    guarded = n + 1
    # ListAccounts pages as this server pages them (the function asks without MaxResults)
    list_pages = sum(1 for _ in org.get_paginator("list_accounts").paginate())
    minimum = org_minimum(minimums, n, list_pages)

    proxy = bench.Proxy(moto_port, args.latency_ms / 1000.0).start()
    watch_port = bench.free_port()
    watch = procs.spawn(f"watch-{n}", ["cargo", "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
                                       "--invoke-port", str(watch_port)], env)
    bench.wait_port(watch_port, watch, 120, "cargo lambda watch")
    spy = bench.RuntimeSpy()
    runtime = bench.Proxy(watch_port, 0.0, on_chunk=spy).start()
    fn_env = {
        "SNS_TOPIC_ARN": topic,
        "SCAN_REGIONS": ",".join(regions),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
        "AWS_REGION": bench.HOME_REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MEMBER_ROLE_NAME": MEMBER_ROLE,
        "ACCOUNTS": "organization",
        "ACCOUNT_CONCURRENCY": str(args.account_concurrency),
        "RUST_LOG": "warn",
    }
    binary = ROOT / args.binary
    fn = bench.Function(procs, binary, watch_port, runtime.port, spy, fn_env)
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
        "sweep_p50_ms": round(bench.percentile([s * 1000 for s in sweeps], 50)),
        "sweep_p99_ms": round(bench.percentile([s * 1000 for s in sweeps], 99)),
        "calls": sum(calls.values()),
        "minimum": sum(minimum.values()),
        "calls_by_operation": calls,
        "minimum_by_operation": minimum,
    }
    if n == args.event_accounts:
        result["events"] = member_events(fn, members[0], violating)
    out.append(result)
    # the proxies' threads are daemons and end with this process
    procs.stop(watch)
    procs.stop(moto)
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


def member_events(fn, account, violating):
    """AttachRolePolicy from a member: with a warm index (a sweep first) and a cold one (TTL 0)."""
    envelope = json.loads((ROOT / "events" / "attach-admin-to-node-role.json").read_text())
    envelope["account"] = account
    envelope["detail"]["requestParameters"] = {"roleName": "eks-node-admin", "policyArn": bench.ADMIN}
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
            if report.get("outcome") != "violations_found" or report.get("account") != account:
                raise RuntimeError(f"{name}: {json.dumps(report)[:400]}")
        ms = [e * 1000 for e, _ in runs]
        out[name] = {
            "p50_ms": round(bench.percentile(ms, 50)),
            "p99_ms": round(bench.percentile(ms, 99)),
            "calls": sum(runs[-1][1]["api_calls"].values()),
            "calls_by_operation": runs[-1][1]["api_calls"],
        }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", default="5,20,50", help="member account counts, one scenario each")
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=3, help="clusters per region per account")
    parser.add_argument("--unrelated-roles", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="sweeps per scenario, each in a fresh process")
    parser.add_argument("--account-concurrency", type=int, default=4)
    parser.add_argument("--event-accounts", type=int, default=20, help="the scenario that also times member events")
    parser.add_argument("--binary", default="target/release/node-role-remediator")
    parser.add_argument("--out", default="bench-results/bench-org.json")
    args = parser.parse_args()
    counts = [int(x) for x in args.accounts.split(",") if x]
    out_path = ROOT / args.out
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / "logs" / "org"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = bench.Processes(log_dir)
    results = []
    try:
        for n in counts:
            r = scenario(args, procs, n, results)
            bench.log(f"{n} accounts: sweep p50 {r['sweep_p50_ms']} ms, {r['calls']} calls (minimum {r['minimum']})")
    finally:
        procs.stop_all()
    out_path.write_text(json.dumps({"params": vars(args), "results": results}, indent=2))
    print(f"\norganization sweep, dry-run, +{args.latency_ms} ms per request, {args.regions} regions x "
          f"{args.clusters} clusters x 2 node groups and {args.unrelated_roles} unrelated roles per account, "
          f"ACCOUNT_CONCURRENCY={args.account_concurrency}")
    print(f"{'accounts':>8} {'seed s':>7} {'sweep p50 ms':>13} {'p99 ms':>8} {'calls':>6} {'minimum':>8} {'ratio':>6} {'ms/account':>11}")
    for r in results:
        print(f"{r['accounts']:>8} {r['seed_seconds']:>7} {r['sweep_p50_ms']:>13} {r['sweep_p99_ms']:>8} {r['calls']:>6} "
              f"{r['minimum']:>8} {r['calls'] / r['minimum']:>6.2f} {r['sweep_p50_ms'] / r['accounts']:>11.0f}")
        for name, e in r.get("events", {}).items():
            print(f"    member AttachRolePolicy, {name}: p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms, {e['calls']} calls")
    print(f"results: {out_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
