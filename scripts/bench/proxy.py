"""The project's HTTP proxy (`aws-proxy`, crate tests/proxy) in front of the emulator or of the
Lambda runtime API: adds latency, throttles a seeded fraction of requests, counts what it saw.

    aws-proxy --upstream http://127.0.0.1:PORT [--latency-ms N] [--throttle FRACTION] [--seed N]

prints one line, its own `http://127.0.0.1:PORT`, once it listens. `GET /__proxy/seen` answers
`{"forwarded": {svc: n}, "throttled": {svc: n}, "operations": {key: n}, "first_seen_ms": {key: unix_ms}}`
(requests that are not AWS calls are keyed `http:METHOD /path`); `POST /__proxy/reset` clears it."""

import json
import select
import subprocess
import threading
import urllib.request

from .base import ROOT

DEFAULT_BINARY = ROOT / "target" / "release" / "aws-proxy"
RUNTIME_NEXT = "/runtime/invocation/next"


class AwsProxy:
    def __init__(self, procs, name, binary, upstream, latency_ms=0, throttle=0.0, seed=None):
        argv = [str(binary), "--upstream", upstream]
        if latency_ms:
            argv += ["--latency-ms", str(latency_ms)]
        if throttle:
            argv += ["--throttle", str(throttle)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        self.proc = procs.spawn(name, argv, None, stdout=subprocess.PIPE)
        self.endpoint = self._first_line(name)
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        # whatever else it prints is read and dropped, so a full pipe never blocks it
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _first_line(self, name, limit=30):
        ready, _, _ = select.select([self.proc.stdout], [], [], limit)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"{name}: aws-proxy printed {line!r} instead of its address (see its log)")
        return line

    def _call(self, method, path):
        req = urllib.request.Request(f"{self.endpoint}{path}", method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body.strip() else None

    def seen(self):
        return self._call("GET", "/__proxy/seen")

    def reset(self):
        self._call("POST", "/__proxy/reset")

    def counts(self):
        """(forwarded, throttled) requests over every service."""
        seen = self.seen()
        return sum(seen["forwarded"].values()), sum(seen["throttled"].values())

    def requests(self):
        """Every HTTP request seen (SDK retries included)."""
        return sum(self.counts())

    def runtime_ready_unix(self):
        """Unix seconds of the first `GET .../runtime/invocation/next` since the last reset, if any."""
        firsts = [
            ms
            for key, ms in self.seen()["first_seen_ms"].items()
            if key.startswith("http:GET ") and key.endswith(RUNTIME_NEXT)
        ]
        return min(firsts) / 1000.0 if firsts else None
