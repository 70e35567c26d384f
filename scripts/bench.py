#!/usr/bin/env python3
"""Benchmark node-role-remediator against a seeded local AWS emulator (moto).

What it does, re-runnably (every run starts a fresh emulator on free ports):

1. starts moto_server and seeds it with scripts/seed.py at the requested scale;
2. reads the seeded account back (clusters, node groups, node roles, their policies) to compute
   the minimum number of AWS API calls each case needs;
3. starts `cargo lambda watch --only-lambda-apis` and runs the function binary against it,
   one function process at a time, optionally through a TCP proxy that adds latency to every
   request (client -> server chunk) the function sends to the emulator;
4. measures, per event kind: latency p50/p99, API calls made (the Report's `api_calls`) with a
   breakdown, the minimum and made/minimum; plus cold start, peak RSS and package size;
5. prints a table and writes everything as JSON (--out).

Cases:
  unrelated        AttachRolePolicy on ci-deployer (not a node role)            enforce, warm process
  node_cold_index  AttachRolePolicy(AdministratorAccess) on eks-node-prod,      enforce, INDEX_TTL_SECONDS=0
                   every invocation rescans the regions
  node_warm_index  the same event with the node-role index cached               enforce, INDEX_TTL_SECONDS=300
  create_nodegroup CreateNodegroup ml/gpu (role eks-node-gpu, AmazonS3FullAccess) enforce, warm index
  sweep            scheduled sweep over every node role                          dry-run, INDEX_TTL_SECONDS=0
  sweep_fresh      the same sweep, one fresh process per sweep (timed once ready) dry-run, INDEX_TTL_SECONDS=300
  cold_process     node-role attach as the first event of a fresh process (also the cold-start runs)
Before every enforce invocation of a node-role case the offending policy is re-attached with boto3
(directly to the emulator, not timed), so each invocation really detaches and notifies.

Run from the repository root with the project virtualenv: `make bench` or
`.venv/bin/python scripts/bench.py --latency-ms 50`.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
REGION_ORDER = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "ca-central-1",
    "sa-east-1",
]
HOME_REGION = "us-east-1"
AWS_POLICY = "arn:aws:iam::aws:policy/"
ADMIN = AWS_POLICY + "AdministratorAccess"
S3_FULL = AWS_POLICY + "AmazonS3FullAccess"
CNI_NAME = "AmazonEKS_CNI_Policy"
# The function's default allowlist; AmazonEKS_CNI_Policy is kept too (CNI_POLICY=keep-if-needed:
# the emulator lacks the add-on API, so the need is unknown and the policy stays).
ALLOWED = {
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKSWorkerNodeMinimalPolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPullOnly",
    CNI_NAME,
}
NODE_ROLE = "eks-node-prod"
UNRELATED_ROLE = "ci-deployer"
NODEGROUP_ROLE = "eks-node-gpu"
EVENTS = {
    "unrelated": "events/attach-admin-to-unrelated-role.json",
    "node": "events/attach-admin-to-node-role.json",
    "create_nodegroup": "events/create-nodegroup.json",
    "sweep": "events/scheduled-sweep.json",
}
EKS_PAGE = 100  # ListClusters / ListNodegroups / ListAccessEntries page size the SDK paginator gets


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit, what):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited (code {proc.returncode}) before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what}: nothing listens on port {port} after {limit}s")


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# ---------------------------------------------------------------------------------------------
# processes


class Processes:
    """Every child runs in its own session (process group), so stopping it ends its children too."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = []

    def spawn(self, name, argv, env):
        out = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.running.append(proc)
        return proc

    def stop(self, proc):
        if proc in self.running:
            self.running.remove(proc)
        if proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self):
        for proc in reversed(list(self.running)):
            self.stop(proc)


# ---------------------------------------------------------------------------------------------
# TCP proxy (asyncio, in a thread): latency injection and runtime-API observation

REQUEST_LINE = re.compile(rb"(?:^|\r\n)(?:GET|POST|PUT|DELETE|HEAD|PATCH) /\S* HTTP/1\.[01]\r\n")


class Proxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target>. Every client -> server chunk is held for
    `delay` seconds (chunks stay in order and are pipelined, so a request costs one delay, not one
    per chunk); server -> client chunks pass at once. `on_chunk(bytes)` sees client chunks."""

    def __init__(self, target_port, delay_s=0.0, on_chunk=None):
        self.target_port = target_port
        self.delay = delay_s
        self.on_chunk = on_chunk
        self.requests = 0  # HTTP request lines seen client -> server (includes SDK retries)
        self.connections = 0
        self._tasks = set()
        self.loop = asyncio.new_event_loop()
        self.port = None
        self._ready = threading.Event()
        self._error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        self._ready.wait(10)
        if self._error or self.port is None:
            raise RuntimeError(f"proxy did not start: {self._error}")
        return self

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
        except Exception as err:  # reported by start()
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    def stop(self):
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _handle(self, client_reader, client_writer):
        # asyncio keeps only weak references to tasks: hold each connection's task until it ends
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._proxy(client_reader, client_writer)
        finally:
            self._tasks.discard(task)

    async def _proxy(self, client_reader, client_writer):
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._upstream(client_reader, server_writer),
            self._downstream(server_reader, client_writer),
            return_exceptions=True,
        )
        for w in (client_writer, server_writer):
            try:
                w.close()
            except Exception:
                pass

    async def _upstream(self, reader, writer):
        queue = asyncio.Queue()

        async def pump_out():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        sender = asyncio.ensure_future(pump_out())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self.requests += len(REQUEST_LINE.findall(data))
                if self.on_chunk:
                    self.on_chunk(data)
                queue.put_nowait((self.loop.time() + self.delay, data))
        finally:
            queue.put_nowait((0, None))
            await sender

    async def _downstream(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


class ThrottleProxy:
    """An HTTP/1.1 proxy to 127.0.0.1:<target> that answers a seeded `fraction` of requests with the
    protocol's own throttling error (HTTP 400 `<Code>Throttling</Code>` for the query APIs IAM,
    STS and SNS; HTTP 400 `ThrottlingException` for JSON 1.1; HTTP 429 `ThrottlingException` for
    REST JSON such as EKS) and forwards the rest unchanged."""

    def __init__(self, target_port, fraction, seed=1):
        import random
        import socketserver

        self.target_port = target_port
        self.fraction = fraction
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.forwarded = 0
        self.throttled = 0
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while True:
                    request = proxy.read_request(self.rfile)
                    if request is None:
                        return
                    head, body = request
                    with proxy.lock:
                        throttle = proxy.random.random() < proxy.fraction
                        if throttle:
                            proxy.throttled += 1
                        else:
                            proxy.forwarded += 1
                    response = proxy.throttling(head) if throttle else proxy.forward(head, body)
                    self.wfile.write(response)
                    self.wfile.flush()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def counts(self):
        with self.lock:
            return self.forwarded, self.throttled

    @staticmethod
    def read_request(rfile):
        head = []
        while True:
            line = rfile.readline()
            if not line:
                return None
            line = line.rstrip(b"\r\n")
            if not line:
                break
            head.append(line.decode("latin-1"))
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        return head, rfile.read(length) if length else b""

    @staticmethod
    def throttling(head):
        content_type = ""
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.strip()
        if content_type.startswith("application/x-www-form-urlencoded"):
            status, extra = "400 Bad Request", "Content-Type: text/xml\r\n"
            body = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
                    "</Message></Error><RequestId>bench</RequestId></ErrorResponse>")
        elif content_type.startswith("application/x-amz-json"):
            status, extra = "400 Bad Request", "Content-Type: application/x-amz-json-1.1\r\n"
            body = '{"__type":"ThrottlingException","message":"Rate exceeded"}'
        else:
            status = "429 Too Many Requests"
            extra = "Content-Type: application/json\r\nx-amzn-ErrorType: ThrottlingException\r\n"
            body = '{"message":"Rate exceeded"}'
        return (f"HTTP/1.1 {status}\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}").encode()

    def forward(self, head, body):
        lines = [head[0]] + [l for l in head[1:] if l.partition(":")[0].strip().lower() != "connection"]
        data = ("\r\n".join(lines) + "\r\nConnection: close\r\n\r\n").encode("latin-1") + body
        with socket.create_connection(("127.0.0.1", self.target_port)) as conn:
            conn.sendall(data)
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        response = b"".join(chunks)
        end = response.find(b"\r\n\r\n")
        if end < 0:
            return response
        kept = [l for l in response[:end].split(b"\r\n") if l.split(b":")[0].strip().lower() != b"connection"]
        if not any(l.split(b":")[0].strip().lower() in (b"content-length", b"transfer-encoding") for l in kept[1:]):
            kept.append(b"Content-Length: " + str(len(response) - end - 4).encode())
        return b"\r\n".join(kept) + response[end:]


class RuntimeSpy:
    """Notes when the function first polls the runtime API for work: it is ready."""

    def __init__(self):
        self.ready_at = None
        self.lock = threading.Lock()

    def reset(self):
        with self.lock:
            self.ready_at = None

    def __call__(self, data):
        if b"/runtime/invocation/next" in data:
            with self.lock:
                if self.ready_at is None:
                    self.ready_at = time.perf_counter()


# ---------------------------------------------------------------------------------------------
# the emulator: seeding, inventory, state resets


class Emulator:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=HOME_REGION
        )
        cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=16)
        self._clients = {}
        self._session, self._cfg = session, cfg

    def client(self, service, region=HOME_REGION):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint, config=self._cfg
            )
        return self._clients[key]

    def attach(self, role, arn):
        """Re-attach a policy (idempotent in IAM); retries moto's occasional HTML 500."""
        for attempt in range(8):
            try:
                self.client("iam").attach_role_policy(RoleName=role, PolicyArn=arn)
                return
            except ClientError as err:
                if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500 or attempt == 7:
                    raise
            except Exception:
                if attempt == 7:
                    raise
            time.sleep(0.05 * (attempt + 1))

    def inventory(self, regions):
        """What the function should find: clusters, node groups and node roles in `regions`, and
        each node role's policies."""
        clusters, nodegroups = {}, []
        for region in regions:
            eks = self.client("eks", region)
            names = []
            for page in eks.get_paginator("list_clusters").paginate():
                names += page["clusters"]
            clusters[region] = names
            for cluster in names:
                ngs = []
                for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster):
                    ngs += page["nodegroups"]
                for ng in ngs:
                    desc = eks.describe_nodegroup(clusterName=cluster, nodegroupName=ng)["nodegroup"]
                    nodegroups.append((region, cluster, ng, desc["nodeRole"]))
        roles = {}
        for region, cluster, ng, arn in nodegroups:
            entry = roles.setdefault(arn.lower(), {"arn": arn, "clusters": set(), "nodegroups": 0})
            entry["clusters"].add((region, cluster))
            entry["nodegroups"] += 1
        iam = self.client("iam")
        for entry in roles.values():
            name = entry["arn"].rsplit("/", 1)[-1]
            entry["name"] = name
            entry.update(self.role_policies(name))
        return {"clusters": clusters, "nodegroups": nodegroups, "roles": roles}

    def role_policies(self, name):
        iam = self.client("iam")
        attached = []
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            attached += [p["PolicyArn"] for p in page["AttachedPolicies"]]
        inline = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            inline += page["PolicyNames"]
        return {"attached": attached, "inline": inline}


def violations(policies):
    """Managed policies outside the default allowlist (AWS-managed ARNs only) plus every inline."""
    bad = [a for a in policies["attached"] if not (a.startswith(AWS_POLICY) and a[len(AWS_POLICY):] in ALLOWED)]
    return bad + [f"inline:{p}" for p in policies["inline"]]


def pages(n):
    return max(1, math.ceil(n / EKS_PAGE))


class Minimums:
    """Fewest AWS calls each case needs, from the seeded account (not hard-coded)."""

    def __init__(self, inv, regions):
        self.inv = inv
        n_clusters = sum(len(c) for c in inv["clusters"].values())
        per_cluster_ngs = {}
        for region, cluster, _ng, _arn in inv["nodegroups"]:
            per_cluster_ngs[(region, cluster)] = per_cluster_ngs.get((region, cluster), 0) + 1
        list_ngs = sum(pages(per_cluster_ngs.get((r, c), 0)) for r, names in inv["clusters"].items() for c in names)
        self.discovery = {
            "eks:ListClusters": sum(pages(len(inv["clusters"][r])) for r in regions),
            "eks:ListNodegroups": list_ngs,
            "eks:DescribeNodegroup": len(inv["nodegroups"]),
            # the emulator lacks access entries: one failing call per cluster, no DescribeAccessEntry
            "eks:ListAccessEntries": n_clusters,
        }
        self.counts = {
            "regions": len(regions),
            "clusters": n_clusters,
            "nodegroups": len(inv["nodegroups"]),
            "node_roles": len(inv["roles"]),
        }

    def role(self, name):
        for entry in self.inv["roles"].values():
            if entry["name"] == name:
                return entry
        return None

    @staticmethod
    def cni_calls(entry, clusters=None):
        """CNI_POLICY=keep-if-needed checks each cluster the role serves when the role has the CNI
        policy: DescribeAddon vpc-cni (the emulator answers 404, so the check ends there and the
        policy is kept; in AWS an add-on without IRSA adds ListPodIdentityAssociations)."""
        if not any(a == AWS_POLICY + CNI_NAME for a in entry["attached"]):
            return 0
        return len(entry["clusters"] if clusters is None else clusters)

    def role_check(self, name, policies, mode, get_role=True):
        """GetRole + ListAttachedRolePolicies + ListRolePolicies + GetRolePolicy per inline, then
        per violation a detach/delete (enforce only), then one Publish if anything was found."""
        calls = {}
        if get_role:
            calls["iam:GetRole"] = 1
        calls["iam:ListAttachedRolePolicies"] = 1
        calls["iam:ListRolePolicies"] = 1
        if policies["inline"]:
            calls["iam:GetRolePolicy"] = len(policies["inline"])
        bad = violations(policies)
        if mode == "enforce":
            managed = [b for b in bad if not b.startswith("inline:")]
            if managed:
                calls["iam:DetachRolePolicy"] = len(managed)
            if len(bad) > len(managed):
                calls["iam:DeleteRolePolicy"] = len(bad) - len(managed)
        if bad:
            calls["sns:Publish"] = 1
        return calls

    def unrelated(self):
        return {"iam:GetRole": 1}

    def node_warm(self, policies, mode):
        return self.role_check(NODE_ROLE, policies, mode)

    def node_cold(self, policies, mode):
        calls = dict(self.node_warm(policies, mode))
        calls.update(self.discovery)
        entry = self.role(NODE_ROLE)
        cni = self.cni_calls({"attached": policies["attached"], "clusters": entry["clusters"]}) if entry else 0
        if cni:
            calls["eks:DescribeAddon"] = cni
        return calls

    def create_nodegroup(self, policies, mode):
        # warm index and warm per-cluster CNI facts: nothing to discover
        calls = {"eks:DescribeNodegroup": 1}
        calls.update(self.role_check(NODEGROUP_ROLE, policies, mode))
        return calls

    def sweep(self, mode):
        """A full sweep: discovery, then per node role its policies (no GetRole: the index has the
        ARN), each distinct cluster's CNI answer once, one Publish per role needing action plus a
        summary."""
        calls = dict(self.discovery)
        cni_clusters = set()
        publishes = 1
        for entry in self.inv["roles"].values():
            for op, n in self.role_check(entry["name"], entry, mode, get_role=False).items():
                if op == "sns:Publish":
                    publishes += n
                else:
                    calls[op] = calls.get(op, 0) + n
            if self.cni_calls(entry):
                cni_clusters |= entry["clusters"]
        if cni_clusters:
            calls["eks:DescribeAddon"] = len(cni_clusters)
        calls["sns:Publish"] = publishes
        return calls


# ---------------------------------------------------------------------------------------------
# the function under cargo lambda watch


class Function:
    def __init__(self, procs, binary, watch_port, runtime_port, spy, env):
        self.procs, self.binary = procs, binary
        self.watch_port, self.runtime_port, self.spy = watch_port, runtime_port, spy
        self.env = env
        self.proc = None
        self.spawned_at = None
        self.url = f"http://127.0.0.1:{watch_port}/2015-03-31/functions/_/invocations"

    def start(self, name, mode, ttl):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.env)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.runtime_port}/.rt",
                "AWS_LAMBDA_FUNCTION_NAME": "_",
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "MODE": mode,
                "INDEX_TTL_SECONDS": str(ttl),
            }
        )
        self.spy.reset()
        self.spawned_at = time.perf_counter()
        self.proc = self.procs.spawn(name, [str(self.binary)], env)
        return self

    def ready_after(self):
        """Seconds from spawn to the first runtime poll, if seen."""
        if self.spy.ready_at is None:
            return None
        return self.spy.ready_at - self.spawned_at

    def invoke(self, payload, timeout=600):
        req = urllib.request.Request(
            self.url, data=payload, method="POST", headers={"content-type": "application/json"}
        )
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            body = err.read()
        elapsed = time.perf_counter() - t0
        try:
            report = json.loads(body)
        except json.JSONDecodeError:
            report = {"errorType": "UnreadableResponse", "errorMessage": body[:300].decode(errors="replace")}
        if self.proc.poll() is not None:
            raise RuntimeError(f"the function exited (code {self.proc.returncode}); see its log")
        return elapsed, report

    def peak_rss_kib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self):
        if self.proc:
            self.procs.stop(self.proc)
            self.proc = None


# ---------------------------------------------------------------------------------------------
# measuring


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

    def add(self, elapsed, report, minimum, expect_outcome=None, expect_index=None, http_requests=None):
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
        if expect_index and idx != expect_index:
            self.problems.append(f"index {idx}, expected {expect_index}")
        if http_requests is not None:
            self.http_requests.append(http_requests)

    def summary(self):
        ms = [x * 1000 for x in self.latencies]
        totals = [sum(c.values()) for c in self.calls]
        mins = [sum(m.values()) for m in self.minimums]
        n = len(self.calls) or 1
        breakdown = {}
        for c in self.calls:
            for op, k in c.items():
                breakdown[op] = breakdown.get(op, 0) + k
        breakdown = {op: round(k / n, 2) for op, k in sorted(breakdown.items())}
        minimum = {}
        for m in self.minimums:
            for op, k in m.items():
                minimum[op] = minimum.get(op, 0) + k
        minimum = {op: round(k / n, 2) for op, k in sorted(minimum.items())}
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


def git_info():
    def run(*args):
        try:
            return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return None

    return {"commit": run("git", "rev-parse", "HEAD"), "dirty": bool(run("git", "status", "--porcelain"))}


def machine_info(binary):
    cpu = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    file_desc = None
    if shutil.which("file"):
        file_desc = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True).stdout.strip()
    parts = binary.resolve().parts
    profile = "release" if "release" in parts else ("debug" if "debug" in parts else "unknown")
    versions = {}
    try:
        from importlib.metadata import version

        versions["moto"] = version("moto")
        versions["boto3"] = version("boto3")
    except Exception:
        pass
    for tool, argv in (("rustc", ["rustc", "--version"]), ("cargo-lambda", [str(VENV_BIN / "cargo-lambda"), "lambda", "--version"])):
        try:
            versions[tool] = subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception:
            versions[tool] = None
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "mem_total_mib": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
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


def fmt_ms(x):
    return "-" if x is None else f"{x:.1f}"


def print_table(results):
    cases = results["cases"]
    head = f"{'case':<44} {'n':>3} {'p50 ms':>9} {'p99 ms':>9} {'calls':>7} {'min':>6} {'ratio':>6}"
    print()
    print(f"latency injected: {results['params']['latency_ms']} ms per request; binary: "
          f"{results['machine']['binary']['path']} ({results['machine']['binary']['profile']}); "
          f"nproc {results['machine']['nproc']}")
    print(head)
    print("-" * len(head))
    for case in cases.values():
        lat = case["latency_ms"]
        ratio = "-" if case["ratio_made_to_minimum"] is None else f"{case['ratio_made_to_minimum']:.2f}"
        print(
            f"{case['title']:<44} {case['iterations']:>3} {fmt_ms(lat['p50']):>9} {fmt_ms(lat['p99']):>9} "
            f"{case['api_calls_per_invocation']:>7g} {case['minimum_per_invocation']:>6g} {ratio:>6}"
        )
    print()
    for case in cases.values():
        made = ", ".join(f"{op} {n:g}" for op, n in case["api_calls_breakdown_per_invocation"].items())
        print(f"{case['title']}:")
        print(f"    made:    {made or '-'}")
        if case["excess_over_minimum"]:
            print(f"    vs min:  {', '.join(f'{op} {n:+g}' for op, n in case['excess_over_minimum'].items())}")
        if "http_requests_per_invocation_at_proxy" in case:
            print(f"    HTTP requests seen by the latency proxy: {case['http_requests_per_invocation_at_proxy']:g}"
                  " per invocation (includes SDK retries)")
        print(f"    outcomes: {case['outcomes']}  index: {case['index']}")
        for p in sorted(set(case["problems"])):
            print(f"    PROBLEM: {p}")
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


def stats_ms(values):
    ms = [v * 1000 for v in values if v is not None]
    return {
        "p50": round(percentile(ms, 50), 2) if ms else None,
        "max": round(max(ms), 2) if ms else None,
        "samples": [round(x, 2) for x in ms],
    }


# ---------------------------------------------------------------------------------------------


def run(args, procs):
    started = time.monotonic()
    regions = REGION_ORDER[: args.regions]
    if len(regions) < args.regions:
        raise SystemExit(f"--regions: at most {len(REGION_ORDER)}")
    binary = Path(args.binary)
    if not binary.is_absolute():
        binary = ROOT / binary
    if not binary.exists():
        raise SystemExit(f"{binary} does not exist: cargo build --release -p node-role-remediator")
    out_path = Path(args.out)
    if not out_path.is_absolute():
        out_path = ROOT / out_path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / "logs" / f"latency-{args.latency_ms}ms"
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    procs.log_dir = log_dir
    base_env = dict(os.environ)
    base_env["PATH"] = f"{VENV_BIN}{os.pathsep}{base_env.get('PATH', '')}"
    py = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable

    # 1. the emulator
    moto_port = free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    moto_env = dict(base_env, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    moto_bin = VENV_BIN / "moto_server"
    moto = procs.spawn("moto", [str(moto_bin), "-H", "127.0.0.1", "-p", str(moto_port)], moto_env)
    wait_port(moto_port, moto, 60, "moto_server")
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).read()
            break
        except Exception:
            time.sleep(0.1)
    log(f"moto_server on {endpoint}")

    # 2. seed
    seed_cmd = [
        py, "scripts/seed.py", "--endpoint", endpoint, "seed",
        "--regions", ",".join(regions),
        "--clusters-per-region", str(args.clusters_per_region),
        "--nodegroups-per-cluster", str(args.nodegroups_per_cluster),
        "--node-roles", str(args.node_roles),
        "--unrelated-roles", str(args.unrelated_roles),
        "--quiet", "--notify-queue", "bench-notifications",
    ]
    log("seeding: " + " ".join(seed_cmd[1:]))
    t0 = time.monotonic()
    seeded = subprocess.run(seed_cmd, cwd=ROOT, env=base_env, capture_output=True, text=True, timeout=1800)
    seed_seconds = time.monotonic() - t0
    if seeded.returncode != 0:
        raise RuntimeError(f"seed.py failed ({seeded.returncode}): {seeded.stderr[-2000:]}")
    topic = re.search(r"^TOPIC_ARN=(.+)$", seeded.stdout, re.M)
    if not topic:
        raise RuntimeError(f"seed.py printed no TOPIC_ARN: {seeded.stdout[-1000:]}")
    topic_arn = topic.group(1).strip()
    seed_line = next((l for l in seeded.stdout.splitlines() if l.startswith("seeded ")), "").strip()
    log(f"seeded in {seed_seconds:.1f}s: {seed_line}")

    emu = Emulator(endpoint)
    inv = emu.inventory(regions)
    mins = Minimums(inv, regions)
    log(f"inventory: {mins.counts}; discovery minimum {sum(mins.discovery.values())} calls {mins.discovery}")
    if not mins.role(NODE_ROLE):
        raise RuntimeError(f"{NODE_ROLE} backs no node group in {regions}: seed.py changed?")

    # 3. latency proxy to the emulator, runtime-API spy, cargo lambda watch
    proxies = []
    try:
        function_endpoint = endpoint
        latency_proxy = None
        throttle_proxy = None
        if args.throttle > 0:
            throttle_proxy = ThrottleProxy(moto_port, args.throttle, seed=args.seed).start()
            proxies.append(throttle_proxy)
            function_endpoint = f"http://127.0.0.1:{throttle_proxy.port}"
            log(f"throttling proxy {function_endpoint} -> {endpoint}: {args.throttle:.0%} of requests throttled")
        elif args.latency_ms > 0:
            latency_proxy = Proxy(moto_port, args.latency_ms / 1000.0).start()
            proxies.append(latency_proxy)
            function_endpoint = f"http://127.0.0.1:{latency_proxy.port}"
            log(f"latency proxy {function_endpoint} -> {endpoint}: +{args.latency_ms} ms per client chunk")
        watch_port = free_port()
        watch = procs.spawn(
            "cargo-lambda-watch",
            ["cargo", "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(watch_port)],
            base_env,
        )
        wait_port(watch_port, watch, 120, "cargo lambda watch")
        spy = RuntimeSpy()
        runtime_proxy = Proxy(watch_port, 0.0, on_chunk=spy).start()
        proxies.append(runtime_proxy)
        log(f"cargo lambda watch on 127.0.0.1:{watch_port} (runtime API via 127.0.0.1:{runtime_proxy.port})")

        fn_env = {
            "SNS_TOPIC_ARN": topic_arn,
            "SCAN_REGIONS": ",".join(regions),
            "AWS_ENDPOINT_URL": function_endpoint,
            "AWS_REGION": HOME_REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        if args.rust_log:
            fn_env["RUST_LOG"] = args.rust_log
        fn = Function(procs, binary, watch_port, runtime_proxy.port, spy, fn_env)
        events = {k: (ROOT / v).read_bytes() for k, v in EVENTS.items()}

        def requests_now():
            return latency_proxy.requests if latency_proxy else None

        def measured(case, event, minimum, **expect):
            before = requests_now()
            elapsed, report = fn.invoke(events[event])
            http = None if before is None else requests_now() - before
            case.add(elapsed, report, minimum, http_requests=http, **expect)
            return report

        def reset_node_role():
            emu.attach(NODE_ROLE, ADMIN)
            return emu.role_policies(NODE_ROLE)

        def reset_nodegroup_role():
            emu.attach(NODEGROUP_ROLE, S3_FULL)
            return emu.role_policies(NODEGROUP_ROLE)

        if throttle_proxy:
            return run_throttled(args, fn, events, emu, mins, regions, throttle_proxy, out_path, started)

        cases = {
            "unrelated": Case("unrelated", "(a) unrelated role attach"),
            "node_cold_index": Case("node_cold_index", "(b) node-role attach, cold index (TTL 0)"),
            "node_warm_index": Case("node_warm_index", "(c) node-role attach, warm index"),
            "create_nodegroup": Case("create_nodegroup", "(d) CreateNodegroup, warm index"),
            "sweep": Case("sweep", "(e) scheduled sweep (dry-run, TTL 0)"),
            "sweep_fresh": Case("sweep_fresh", "(e') sweep, fresh process, TTL 300"),
            "cold_process": Case("cold_process", "(b') node-role attach, fresh process"),
        }
        rss = {}
        fixed = ("remediated",)

        # 4a. cold starts: a fresh process per run, first event = node-role attach
        ready, first = [], []
        for i in range(args.cold_starts):
            policies = reset_node_role()
            fn.start(f"function-coldstart-{i}", "enforce", 300)
            elapsed, report = fn.invoke(events["node"])
            first.append(time.perf_counter() - fn.spawned_at)
            ready.append(fn.ready_after())
            cases["cold_process"].add(
                elapsed, report, mins.node_cold(policies, "enforce"), expect_outcome=fixed, expect_index="scanned"
            )
            rss[f"fresh process after first event (max of {args.cold_starts})"] = max(
                rss.get(f"fresh process after first event (max of {args.cold_starts})", 0), fn.peak_rss_kib() or 0
            )
            fn.stop()
        log(f"cold starts: ready {[round(x * 1000) if x else None for x in ready]} ms, "
            f"first response {[round(x * 1000) for x in first]} ms")

        # 4b. warm process: unrelated, node-role warm, CreateNodegroup warm
        fn.start("function-warm", "enforce", 300)
        reset_node_role()
        fn.invoke(events["node"])  # builds the index and the CNI facts of prod (not measured)
        reset_nodegroup_role()
        fn.invoke(events["create_nodegroup"])  # CNI facts of ml (not measured)
        warm_started = time.monotonic()
        for i in range(args.iterations):
            measured(cases["unrelated"], "unrelated", mins.unrelated(), expect_outcome=("not_node_role",))
            policies = reset_node_role()
            measured(cases["node_warm_index"], "node", mins.node_warm(policies, "enforce"),
                     expect_outcome=fixed, expect_index="cached")
            policies = reset_nodegroup_role()
            measured(cases["create_nodegroup"], "create_nodegroup", mins.create_nodegroup(policies, "enforce"),
                     expect_outcome=fixed, expect_index="cached")
        rss["warm process (all events)"] = fn.peak_rss_kib()
        fn.stop()
        log(f"warm cases: {args.iterations} iterations in {time.monotonic() - warm_started:.1f}s")

        # 4c. cold index: INDEX_TTL_SECONDS=0, every invocation rescans
        fn.start("function-ttl0", "enforce", 0)
        reset_node_role()
        fn.invoke(events["node"])  # connections (not measured)
        for i in range(args.cold_iterations):
            policies = reset_node_role()
            measured(cases["node_cold_index"], "node", mins.node_cold(policies, "enforce"),
                     expect_outcome=fixed, expect_index="scanned")
        rss["TTL 0 process (node-role events)"] = fn.peak_rss_kib()
        fn.stop()
        log("cold-index cases done")

        # 4d. sweep, dry-run so every sweep sees the same violations
        reset_node_role()
        reset_nodegroup_role()
        inv_now = emu.inventory(regions)
        sweep_mins = Minimums(inv_now, regions)
        fn.start("function-sweep", "dry-run", 0)
        fn.invoke(events["sweep"])  # connections (not measured)
        expected_roles = len(inv_now["roles"])
        for i in range(args.sweep_iterations):
            report = measured(cases["sweep"], "sweep", sweep_mins.sweep("dry-run"),
                              expect_outcome=("sweep_completed",), expect_index="scanned")
            roles = report.get("roles") or []
            if len(roles) != expected_roles:
                cases["sweep"].problems.append(f"{len(roles)} roles in the report, {expected_roles} node roles seeded")
            found = sum(1 for r in roles if r.get("outcome") == "violations_found")
            want = sum(1 for e in inv_now["roles"].values() if violations(e))
            if found != want:
                cases["sweep"].problems.append(f"{found} roles with violations reported, {want} expected")
        rss["sweep process (dry-run)"] = fn.peak_rss_kib()
        fn.stop()

        # 4e. sweep as a scheduled run usually meets it: a fresh process with the default TTL (the
        # CNI answers are cached per cluster within the sweep). Timed from the POST, after the
        # process is ready.
        for i in range(args.sweep_iterations):
            fn.start(f"function-sweep-fresh-{i}", "dry-run", 300)
            deadline = time.monotonic() + 30
            while fn.ready_after() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            measured(cases["sweep_fresh"], "sweep", sweep_mins.sweep("dry-run"),
                     expect_outcome=("sweep_completed",), expect_index="scanned")
            rss["fresh sweep process (max)"] = max(rss.get("fresh sweep process (max)", 0), fn.peak_rss_kib() or 0)
            fn.stop()
        log("sweep done")

        results = {
            "params": {
                "regions": args.regions,
                "scan_regions": regions,
                "clusters_per_region": args.clusters_per_region,
                "nodegroups_per_cluster": args.nodegroups_per_cluster,
                "node_roles": args.node_roles,
                "unrelated_roles": args.unrelated_roles,
                "latency_ms": args.latency_ms,
                "iterations": args.iterations,
                "cold_iterations": args.cold_iterations,
                "sweep_iterations": args.sweep_iterations,
                "cold_starts": args.cold_starts,
                "out": str(out_path),
                "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            },
            "machine": machine_info(binary),
            "seed": {"seconds": round(seed_seconds, 2), "line": seed_line, "counts": mins.counts,
                     "command": " ".join(seed_cmd[1:])},
            "minimum_model": {
                "discovery": mins.discovery,
                "notes": [
                    "unrelated: GetRole only (trust policy rules the role out).",
                    "node-role warm: GetRole + ListAttachedRolePolicies + ListRolePolicies + DetachRolePolicy per "
                    "managed violation (enforce) + one sns:Publish.",
                    "node-role cold: warm + discovery (ListClusters per region, ListNodegroups per cluster, "
                    "DescribeNodegroup per node group, ListAccessEntries per cluster) + DescribeAddon per cluster "
                    "the role serves (CNI_POLICY=keep-if-needed; the emulator answers 404, so the check stops there; "
                    "in AWS a vpc-cni add-on without IRSA adds ListPodIdentityAssociations).",
                    "CreateNodegroup (warm index, CNI facts cached): DescribeNodegroup + the warm node-role minimum.",
                    "sweep (dry-run; (e) TTL 0 in one process, (e') a fresh process per sweep with TTL 300): discovery + per node role ListAttachedRolePolicies + ListRolePolicies "
                    "(+ GetRolePolicy per inline policy) + DescribeAddon once per distinct cluster served by a role "
                    "with the CNI policy + one Publish per role with violations + one summary Publish.",
                    "enforce cases re-attach the offending policy with boto3 (untimed) before each invocation.",
                    "latency is measured by the client around the HTTP POST to cargo lambda watch.",
                    "p50/p99 interpolate linearly between ranks (numpy's default): with 20 samples p99 is "
                    "close to the maximum.",
                ],
            },
            "cases": {k: c.summary() for k, c in cases.items()},
            "cold_start": {
                "runs": args.cold_starts,
                "first_event": "attach-admin-to-node-role.json (enforce, cold index)",
                "spawn_to_ready_ms": stats_ms(ready),
                "spawn_to_first_response_ms": stats_ms(first),
                "ready_means": "the process's first GET .../runtime/invocation/next, seen by a proxy in front "
                               "of the runtime API (after config, SDK setup and sts:GetCallerIdentity)",
            },
            "peak_rss_kib": rss,
            "package": package_size(binary),
            "total_seconds": round(time.monotonic() - started, 1),
        }
        if latency_proxy:
            results["latency_proxy"] = {"connections": latency_proxy.connections,
                                        "requests": latency_proxy.requests}
        out_path.write_text(json.dumps(results, indent=2) + "\n")
        print_table(results)
        return results
    finally:
        fn_proc = locals().get("fn")
        if fn_proc is not None:
            fn_proc.stop()
        for p in proxies:
            p.stop()


def run_throttled(args, fn, events, emu, mins, regions, proxy, out_path, started):
    """Every event delivered as Lambda would under throttling: again after an error, at most
    three times. Per case: time to the first success (p50/p99, all attempts included), Lambda
    attempts, HTTP requests the proxy saw, how many it throttled, and events that never
    converged."""

    def deliver(event):
        t0 = time.perf_counter()
        before = proxy.counts()
        report = None
        for attempt in range(1, 4):
            _, report = fn.invoke(events[event])
            if "errorType" not in report:
                break
        else:
            attempt = None
        after = proxy.counts()
        return {
            "ms": (time.perf_counter() - t0) * 1000,
            "attempts": attempt,
            "http": (after[0] - before[0]) + (after[1] - before[1]),
            "throttled": after[1] - before[1],
            "outcome": report.get("outcome") if report else None,
        }

    def reset_node_role():
        emu.attach(NODE_ROLE, ADMIN)

    runs = {"node_cold_index": [], "node_warm_index": [], "sweep": []}
    fn.start("function-throttled-ttl0", "enforce", 0)
    for _ in range(args.cold_iterations):
        reset_node_role()
        runs["node_cold_index"].append(deliver("node"))
    fn.stop()
    fn.start("function-throttled-warm", "enforce", 300)
    reset_node_role()
    deliver("node")  # builds the index (not measured)
    for _ in range(args.iterations):
        reset_node_role()
        runs["node_warm_index"].append(deliver("node"))
    fn.stop()
    fn.start("function-throttled-sweep", "dry-run", 0)
    for _ in range(args.sweep_iterations):
        runs["sweep"].append(deliver("sweep"))
    fn.stop()
    leftover = emu.role_policies(NODE_ROLE)

    titles = {
        "node_cold_index": "node-role attach, cold index (TTL 0)",
        "node_warm_index": "node-role attach, warm index",
        "sweep": "scheduled sweep (dry-run, TTL 0)",
    }
    cases = {}
    for name, items in runs.items():
        done = [i for i in items if i["attempts"]]
        cases[name] = {
            "title": titles[name],
            "n": len(items),
            "converged": len(done),
            "ms_to_success": {
                "p50": round(percentile([i["ms"] for i in done], 50), 1),
                "p99": round(percentile([i["ms"] for i in done], 99), 1),
                "samples": [round(i["ms"], 1) for i in done],
            } if done else None,
            "lambda_attempts": [i["attempts"] for i in items],
            "http_requests_per_event": statistics.mean(i["http"] for i in items),
            "throttled_per_event": statistics.mean(i["throttled"] for i in items),
            "outcomes": sorted({str(i["outcome"]) for i in items}),
        }
    results = {
        "params": {"throttle": args.throttle, "seed": args.seed, "regions": regions,
                   "iterations": args.iterations, "cold_iterations": args.cold_iterations,
                   "sweep_iterations": args.sweep_iterations,
                   "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])},
        "machine": machine_info(Path(args.binary) if Path(args.binary).is_absolute() else ROOT / args.binary),
        "inventory": mins.counts,
        "cases": cases,
        "node_role_after": leftover,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nthrottled: {args.throttle:.0%} of all requests (seed {args.seed}); inventory {mins.counts}")
    print(f"{'case':42} {'n':>3} {'ok':>3} {'p50 ms':>9} {'p99 ms':>9} {'attempts 1/2/3/none':>20} "
          f"{'HTTP/event':>10} {'thr/event':>9}")
    for case in cases.values():
        ms = case["ms_to_success"] or {}
        tried = case["lambda_attempts"]
        spread = "/".join(str(tried.count(k)) for k in (1, 2, 3, None))
        print(f"{case['title']:42} {case['n']:>3} {case['converged']:>3} {fmt_ms(ms.get('p50')):>9} "
              f"{fmt_ms(ms.get('p99')):>9} {spread:>20} "
              f"{case['http_requests_per_event']:>10.1f} {case['throttled_per_event']:>9.1f}")
    print(f"total benchmark time {results['total_seconds']}s; JSON: {out_path}")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=3, help="number of regions (us-east-1, us-west-2, eu-west-1, ...)")
    parser.add_argument("--clusters-per-region", type=int, default=10)
    parser.add_argument("--nodegroups-per-cluster", type=int, default=4)
    parser.add_argument("--unrelated-roles", type=int, default=2000)
    parser.add_argument("--node-roles", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every request the function sends")
    parser.add_argument("--iterations", type=int, default=20, help="invocations per warm case")
    parser.add_argument("--cold-iterations", type=int, default=5, help="cold-index (TTL 0) invocations")
    parser.add_argument("--sweep-iterations", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=5, help="fresh function processes")
    parser.add_argument("--binary", default="target/release/node-role-remediator")
    parser.add_argument("--out", default="bench-results/bench.json")
    parser.add_argument("--rust-log", default="", help="RUST_LOG for the function (default: its own)")
    parser.add_argument("--throttle", type=float, default=0.0,
                        help="throttle this fraction of the function's AWS requests (0.3 = 30%%) and run the "
                             "throttling cases instead of the latency cases")
    parser.add_argument("--seed", type=int, default=1, help="seed of the throttling proxy's choices")
    args = parser.parse_args()

    procs = Processes(ROOT)

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        run(args, procs)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
