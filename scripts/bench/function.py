"""The function binary as Lambda runs it: one process at a time polling `cargo lambda watch`'s
runtime API through a counting proxy of its own (which tells when the process is ready), invoked
over HTTP.

Each process gets a fresh runtime proxy, stopped with it: a killed process leaves its
`GET .../invocation/next` long-poll behind, and a proxy that kept that poll open upstream would
let `cargo lambda watch` hand the next invocation to the dead process."""

import json
import os
import time
import urllib.error
import urllib.request

from .base import VENV_BIN, log
from .processes import free_port, wait_port
from .proxy import AwsProxy


def start_watch(procs, name, env):
    """`cargo lambda watch --only-lambda-apis` on a free port. -> (process, port)"""
    watch_port = free_port()
    watch = procs.spawn(
        name,
        [
            "cargo",
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            str(watch_port),
        ],
        env,
    )
    wait_port(watch_port, watch, 120, "cargo lambda watch")
    log(f"cargo lambda watch on 127.0.0.1:{watch_port}")
    return watch, watch_port


def bench_env():
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


class Function:
    def __init__(self, procs, binary, watch_port, proxy_binary, env):
        self.procs, self.binary, self.proxy_binary = procs, binary, proxy_binary
        self.watch_port = watch_port
        self.env = env
        self.proc = None
        self.runtime = None
        self.spawned_at = None
        self.spawned_unix = None
        self.url = f"http://127.0.0.1:{watch_port}/2015-03-31/functions/_/invocations"

    def start(self, name, mode, ttl):
        self.runtime = AwsProxy(
            self.procs, f"{name}-runtime-proxy", self.proxy_binary, f"http://127.0.0.1:{self.watch_port}"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.env)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.runtime.port}/.rt",
                "AWS_LAMBDA_FUNCTION_NAME": "_",
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "MODE": mode,
                "INDEX_TTL_SECONDS": str(ttl),
            }
        )
        self.spawned_at = time.perf_counter()
        self.spawned_unix = time.time()
        self.proc = self.procs.spawn(name, [str(self.binary)], env)
        return self

    def ready_after(self):
        """Seconds from spawn to the first runtime poll, if seen."""
        ready = self.runtime.runtime_ready_unix()
        if ready is None:
            return None
        return ready - self.spawned_unix

    def wait_ready(self, limit_s=30):
        deadline = time.monotonic() + limit_s
        while self.ready_after() is None and time.monotonic() < deadline:
            time.sleep(0.01)

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
        if self.runtime:
            self.procs.stop(self.runtime.proc)
            self.runtime = None
