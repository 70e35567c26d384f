"""Child processes of the bench: each in its own session, its output in a log file, all stopped
at the end; free ports and waiting for a listener."""

import os
import signal
import socket
import subprocess
import time

from .base import ROOT


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


def stop_group(proc):
    """SIGTERM to the process group, SIGKILL after 5 seconds."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


class Processes:
    """Every child runs in its own session (process group), so stopping it ends its children too."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = []

    def spawn(self, name, argv, env, stdout=None):
        """`argv` with its stderr (and stdout, unless `stdout` is given) in `<log_dir>/<name>.log`."""
        out = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out if stdout is None else stdout,
            stderr=out if stdout is not None else subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.running.append(proc)
        return proc

    def adopt(self, proc):
        """A child started elsewhere (in its own session), stopped with the others."""
        self.running.append(proc)
        return proc

    def stop(self, proc):
        if proc in self.running:
            self.running.remove(proc)
        stop_group(proc)

    def stop_all(self):
        for proc in reversed(list(self.running)):
            self.stop(proc)
