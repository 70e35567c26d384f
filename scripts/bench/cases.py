"""The latency cases, each a few invocations of one event kind in the process state it names
(see README.md), and the results they make."""

import time

from .base import ADMIN, NODE_ROLE, NODEGROUP_ROLE, S3_FULL, command_line, log
from .doors import SPARE_PROFILE
from .minimums import Minimums, violations
from .results import MINIMUM_NOTES, machine_info, package_size, print_table, write_json
from .stats import Case, stats_ms

FIXED = ("remediated",)
TITLES = {
    "unrelated": "(a) unrelated role attach",
    "node_cold_index": "(b) node-role attach, cold index (TTL 0)",
    "node_warm_index": "(c) node-role attach, warm index",
    "create_nodegroup": "(d) CreateNodegroup, warm index",
    "sweep": "(e) scheduled sweep (dry-run, TTL 0)",
    "sweep_fresh": "(e') sweep, fresh process, TTL 300",
    "cold_process": "(b') node-role attach, fresh process",
    "door_profile": "(f) ignored door: AddRoleToInstanceProfile on a profile no instance uses",
    "door_trust": "(g) ignored door: UpdateAssumeRolePolicy trusting only lambda.amazonaws.com",
    "door_metadata": "(h) ignored door: ModifyInstanceMetadataOptions on an instance that is no node (hop limit 2)",
}
IGNORED = ("ignored",)


class Runner:
    """Invokes the function, re-arms the account between invocations and records each case."""

    def __init__(self, b):
        self.b, self.fn, self.emu, self.mins = b, b.fn, b.emu, b.mins
        self.cases = {name: Case(name, title) for name, title in TITLES.items()}
        self.rss = {}

    def measured(self, case, event, minimum, **expect):
        proxy = self.b.proxy
        before = proxy.requests() if proxy else None
        elapsed, report = self.fn.invoke(self.b.events[event])
        http = None if before is None else proxy.requests() - before
        self.cases[case].add(elapsed, report, minimum, http_requests=http, **expect)
        return report

    def reset_node_role(self):
        self.emu.attach(NODE_ROLE, ADMIN)
        return self.emu.role_policies(NODE_ROLE)

    def reset_nodegroup_role(self):
        self.emu.attach(NODEGROUP_ROLE, S3_FULL)
        return self.emu.role_policies(NODEGROUP_ROLE)

    def peak_rss(self, label, keep_max=False):
        now = self.fn.peak_rss_kib()
        self.rss[label] = max(self.rss.get(label, 0), now or 0) if keep_max else now

    def cold_starts(self, runs):
        """A fresh process per run, first event = node-role attach. -> (ready s, first response s)"""
        ready, first = [], []
        for i in range(runs):
            policies = self.reset_node_role()
            self.fn.start(f"function-coldstart-{i}", "enforce", 300)
            elapsed, report = self.fn.invoke(self.b.events["node"])
            first.append(time.perf_counter() - self.fn.spawned_at)
            ready.append(self.fn.ready_after())
            self.cases["cold_process"].add(
                elapsed,
                report,
                self.mins.node_cold(policies, "enforce"),
                expect_outcome=FIXED,
                expect_index=self.mins.node_cold_index(),
            )
            self.peak_rss(f"fresh process after first event (max of {runs})", keep_max=True)
            self.fn.stop()
        log(
            f"cold starts: ready {[round(x * 1000) if x else None for x in ready]} ms, "
            f"first response {[round(x * 1000) for x in first]} ms"
        )
        return ready, first

    def doors(self):
        """The door events that concern no node, one each, beside (a) in the warm process."""
        facts = self.b.door_facts
        self.measured(
            "door_profile",
            "door_profile",
            self.mins.door_profile_unused(),
            expect_outcome=IGNORED,
            expect_reason=f"runs with instance profile {SPARE_PROFILE}",
        )
        self.measured(
            "door_trust",
            "door_trust",
            self.mins.door_trust_needless(),
            expect_outcome=IGNORED,
            expect_reason="names no role and admits no one beside the node services",
        )
        meta = facts.get("door_metadata")
        if meta:
            self.measured(
                "door_metadata",
                "door_metadata",
                self.mins.door_metadata_not_node(meta["region"]),
                expect_outcome=IGNORED,
                expect_reason=f"instance {meta['instance']} is not a node of a cluster in {meta['region']}",
            )

    def warm(self, iterations):
        """One warm process: unrelated, the door events that concern no node, node-role warm,
        CreateNodegroup warm."""
        fn, mins = self.fn, self.mins
        fn.start("function-warm", "enforce", 300)
        self.reset_node_role()
        # the CNI facts of prod (not measured); with a cold index this is the quick answer, which
        # builds no index
        fn.invoke(self.b.events["node"])
        self.reset_nodegroup_role()
        # a node group just created needs every binding: the full scan builds the index, and the CNI
        # facts of ml (not measured)
        fn.invoke(self.b.events["create_nodegroup"])
        if "door_metadata" not in self.b.door_facts:
            self.cases["door_metadata"].problems.append("no unrelated instance in a scanned region to name")
        started = time.monotonic()
        for _ in range(iterations):
            self.measured("unrelated", "unrelated", mins.unrelated(), expect_outcome=("not_node_role",))
            self.doors()
            policies = self.reset_node_role()
            self.measured(
                "node_warm_index",
                "node",
                mins.node_warm(policies, "enforce"),
                expect_outcome=FIXED,
                expect_index="cached",
            )
            policies = self.reset_nodegroup_role()
            self.measured(
                "create_nodegroup",
                "create_nodegroup",
                mins.create_nodegroup(policies, "enforce"),
                expect_outcome=FIXED,
                expect_index="cached",
            )
        self.peak_rss("warm process (all events)")
        fn.stop()
        log(f"warm cases: {iterations} iterations in {time.monotonic() - started:.1f}s")

    def cold_index(self, iterations):
        """INDEX_TTL_SECONDS=0: every invocation rescans."""
        self.fn.start("function-ttl0", "enforce", 0)
        self.reset_node_role()
        self.fn.invoke(self.b.events["node"])  # connections (not measured)
        for _ in range(iterations):
            policies = self.reset_node_role()
            self.measured(
                "node_cold_index",
                "node",
                self.mins.node_cold(policies, "enforce"),
                expect_outcome=FIXED,
                expect_index=self.mins.node_cold_index(),
            )
        self.peak_rss("TTL 0 process (node-role events)")
        self.fn.stop()
        log("cold-index cases done")

    def sweeps(self, iterations):
        """Dry-run sweeps, so every sweep sees the same violations: in one process with TTL 0,
        then as a scheduled run usually meets it, a fresh process with the default TTL (timed from
        the POST, after the process is ready)."""
        fn = self.fn
        self.reset_node_role()
        self.reset_nodegroup_role()
        inv_now = self.emu.inventory(self.b.regions)
        sweep_mins = Minimums(inv_now, self.b.regions)
        fn.start("function-sweep", "dry-run", 0)
        fn.invoke(self.b.events["sweep"])  # connections (not measured)
        expected_roles = len(inv_now["roles"])
        want = sum(1 for e in inv_now["roles"].values() if violations(e))
        for _ in range(iterations):
            report = self.measured(
                "sweep",
                "sweep",
                sweep_mins.sweep("dry-run"),
                expect_outcome=("sweep_completed",),
                expect_index="scanned",
            )
            roles = report.get("roles") or []
            if len(roles) != expected_roles:
                self.cases["sweep"].problems.append(
                    f"{len(roles)} roles in the report, {expected_roles} node roles seeded"
                )
            found = sum(1 for r in roles if r.get("outcome") == "violations_found")
            if found != want:
                self.cases["sweep"].problems.append(f"{found} roles with violations reported, {want} expected")
        self.peak_rss("sweep process (dry-run)")
        fn.stop()
        for i in range(iterations):
            fn.start(f"function-sweep-fresh-{i}", "dry-run", 300)
            fn.wait_ready(30)
            self.measured(
                "sweep_fresh",
                "sweep",
                sweep_mins.sweep("dry-run"),
                expect_outcome=("sweep_completed",),
                expect_index="scanned",
            )
            self.peak_rss("fresh sweep process (max)", keep_max=True)
            fn.stop()
        log("sweep done")


def relative_to(cases, base="unrelated"):
    """Each case's p50, p95 and calls over `base`'s (None where `base`'s is 0 or missing)."""
    ref = cases.get(base)
    if not ref:
        return
    for case in cases.values():
        pairs = {
            "p50": (case["latency_ms"]["p50"], ref["latency_ms"]["p50"]),
            "p95": (case["latency_ms"]["p95"], ref["latency_ms"]["p95"]),
            "calls": (case["api_calls_per_invocation"], ref["api_calls_per_invocation"]),
        }
        case[f"ratio_to_{base}"] = {k: round(x / y, 3) if x is not None and y else None for k, (x, y) in pairs.items()}


def run_latency(b):
    args = b.args
    r = Runner(b)
    ready, first = r.cold_starts(args.cold_starts)
    r.warm(args.iterations)
    r.cold_index(args.cold_iterations)
    r.sweeps(args.sweep_iterations)
    results = {
        "params": {
            "regions": args.regions,
            "scan_regions": b.regions,
            "clusters_per_region": args.clusters_per_region,
            "nodegroups_per_cluster": args.nodegroups_per_cluster,
            "node_roles": args.node_roles,
            "unrelated_roles": args.unrelated_roles,
            "instances_per_nodegroup": args.instances_per_nodegroup,
            "unrelated_instances": args.unrelated_instances,
            "latency_ms": args.latency_ms,
            "iterations": args.iterations,
            "cold_iterations": args.cold_iterations,
            "sweep_iterations": args.sweep_iterations,
            "cold_starts": args.cold_starts,
            "out": str(b.out_path),
            "command": command_line(),
        },
        "machine": machine_info(b.binary),
        "seed": {
            "seconds": round(b.seed_seconds, 2),
            "line": b.seed_line,
            "counts": b.mins.counts,
            "command": b.seed_cmd,
        },
        "minimum_model": {
            "discovery": b.mins.discovery,
            "node_cold_quick": b.mins.quick(NODE_ROLE)[0],
            "notes": MINIMUM_NOTES,
        },
        "cases": {k: c.summary() for k, c in r.cases.items()},
        "door_events": b.door_facts,
        "cold_start": {
            "runs": args.cold_starts,
            "first_event": "attach-admin-to-node-role.json (enforce, cold index)",
            "spawn_to_ready_ms": stats_ms(ready),
            "spawn_to_first_response_ms": stats_ms(first),
            "ready_means": "the process's first GET .../runtime/invocation/next, seen by a proxy in front "
            "of the runtime API (after config, SDK setup and sts:GetCallerIdentity)",
        },
        "peak_rss_kib": r.rss,
        "package": package_size(b.binary),
        "total_seconds": b.seconds(),
    }
    relative_to(results["cases"])
    if b.proxy:
        results["latency_proxy"] = {"requests": b.proxy.requests()}
    write_json(b.out_path, results)
    print_table(results)
    return results
