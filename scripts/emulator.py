#!/usr/bin/env python3
"""The local AWS emulator (moto_server), started one way for the demos, the bench and the tests.

As a library::

    from emulator import start_moto, stop_moto
    server, endpoint = start_moto(log_path)   # endpoint: "http://127.0.0.1:PORT", answering
    ...
    stop_moto(server)

As a command, for callers in other languages (the Rust tests, the shell scripts)::

    .venv/bin/python scripts/emulator.py [--log FILE]

prints exactly one line, the endpoint ``http://127.0.0.1:PORT``, once the server answers, then
keeps it running until SIGTERM, SIGINT or SIGHUP, or until its own stdin reaches end of file (so a
caller that holds a pipe to its stdin stops the emulator just by exiting, even when killed), and
stops the server on the way out. It exits with status 1 when the server fails to start or dies
(the reason on stderr), so "this process is alive" means "the emulator is up".

The server runs in its own session (process group), is given ``MOTO_IAM_LOAD_MANAGED_POLICIES=true``
(AWS-managed policies such as AdministratorAccess exist, as in a real account) and
``AWS_DEFAULT_REGION=us-east-1``, and listens on a free port of 127.0.0.1 only.
"""

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_LIMIT_S = 180


def moto_server_path():
    """moto_server beside the running Python when it is a virtualenv's, else the project's."""
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return beside
    return ROOT / ".venv" / "bin" / "moto_server"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(endpoint):
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as resp:
            resp.read()
        return True
    except OSError:
        return False


def _tail(log_path, lines=30):
    if log_path is None:
        return ""
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start_moto(log_path=None):
    """A moto server on a free loopback port, answering HTTP. -> (process, endpoint URL).

    Its output goes to `log_path` (truncated) or nowhere. Raises RuntimeError when it exits or
    does not answer within START_LIMIT_S seconds."""
    binary = moto_server_path()
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `make tools`")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", AWS_DEFAULT_REGION="us-east-1")
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        server = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log_path:
            out.close()
    deadline = time.monotonic() + START_LIMIT_S
    try:
        while not _answers(endpoint):
            if server.poll() is not None:
                raise RuntimeError(f"moto_server exited (code {server.returncode}) before answering\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"moto_server did not answer on {endpoint} within {START_LIMIT_S}s\n{_tail(log_path)}"
                )
            time.sleep(0.1)
    except BaseException:  # a signal or a failure while waiting: no server left behind
        stop_moto(server)
        raise
    return server, endpoint


def stop_moto(server):
    """Stops the server's process group: SIGTERM, then SIGKILL after 5 seconds."""
    if server.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _stdin_closed(fd, wait_s):
    """True once `fd` (our stdin) is at end of file or unusable; waits at most `wait_s`."""
    if fd is None:
        time.sleep(wait_s)
        return False
    try:
        readable, _, _ = select.select([fd], [], [], wait_s)
        return bool(readable) and not os.read(fd, 65536)
    except OSError:
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", help="the server's output (default: discarded)")
    args = parser.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    server = None
    try:
        try:
            server, endpoint = start_moto(args.log)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(endpoint, flush=True)
        # until the caller closes our stdin (or is gone), a signal arrives or the server dies
        fd = sys.stdin.fileno() if sys.stdin is not None else None
        while not _stdin_closed(fd, 0.5):
            if server.poll() is not None:
                print(f"error: moto_server exited (code {server.returncode})", file=sys.stderr)
                return 1
        return 0
    finally:
        if server is not None:
            stop_moto(server)


if __name__ == "__main__":
    sys.exit(main())
