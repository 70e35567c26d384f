"""Benchmark node-role-remediator against a seeded local AWS emulator (moto).

Every run starts a fresh emulator on free ports, seeds it (scripts/seed.py), reads it back to
compute the fewest AWS calls each case needs, runs the release function under
`cargo lambda watch` one process at a time (through aws-proxy when --latency-ms or --throttle
is given) and prints a table; everything goes to --out as JSON. The cases and the JSON are
described in scripts/bench/README.md.

Run from the repository root: `make bench`, or
`PYTHONPATH=scripts .venv/bin/python -m bench --latency-ms 50`.
"""

import argparse
import signal

from .base import ROOT
from .cases import run_latency
from .processes import Processes
from .setup import prepare
from .throttled import run_throttled


def parse_args():
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--regions", type=int, default=3, help="number of regions (us-east-1, us-west-2, eu-west-1, ...)"
    )
    parser.add_argument("--clusters-per-region", type=int, default=10)
    parser.add_argument("--nodegroups-per-cluster", type=int, default=4)
    parser.add_argument("--unrelated-roles", type=int, default=2000)
    parser.add_argument("--node-roles", type=int, default=4)
    parser.add_argument(
        "--instances-per-nodegroup", type=int, default=2, help="instances running as each node group's nodes"
    )
    parser.add_argument("--unrelated-instances", type=int, default=3, help="instances without EKS tags")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every request the function sends")
    parser.add_argument("--iterations", type=int, default=20, help="invocations per warm case")
    parser.add_argument("--cold-iterations", type=int, default=5, help="cold-index (TTL 0) invocations")
    parser.add_argument("--sweep-iterations", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=5, help="fresh function processes")
    parser.add_argument("--binary", default="target/release/node-role-remediator")
    parser.add_argument(
        "--proxy-binary", default="target/release/aws-proxy", help="the proxy (cargo build --release -p aws-proxy)"
    )
    parser.add_argument("--out", default="bench-results/bench.json")
    parser.add_argument("--rust-log", default="", help="RUST_LOG for the function (default: its own)")
    parser.add_argument(
        "--throttle",
        type=float,
        default=0.0,
        help="throttle this fraction of the function's AWS requests (0.3 = 30%%) and run the "
        "throttling cases instead of the latency cases",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the throttling proxy's choices")
    return parser.parse_args()


def stop_on_signals():
    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def main():
    args = parse_args()
    procs = Processes(ROOT)
    stop_on_signals()
    try:
        b = prepare(args, procs)
        if b.proxy and args.throttle > 0:
            run_throttled(b)
        else:
            run_latency(b)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
