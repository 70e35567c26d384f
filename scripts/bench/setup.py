"""One bench run's world: a fresh seeded emulator, what it holds (inventory and minimums), the
proxy in front of it when latency or throttling is asked for, and the function under
`cargo lambda watch`."""

import time

from . import account, doors
from .base import HOME_REGION, NODE_ROLE, REGION_ORDER, log, read_events, resolve
from .function import Function, bench_env, start_watch
from .minimums import Minimums
from .proxy import AwsProxy


class Bench:
    """Everything a case needs; made by `prepare`."""

    def __init__(self, args, procs):
        self.args, self.procs = args, procs
        self.started = time.monotonic()
        self.regions = REGION_ORDER[: args.regions]
        if len(self.regions) < args.regions:
            raise SystemExit(f"--regions: at most {len(REGION_ORDER)}")
        self.binary = resolve(args.binary)
        if not self.binary.exists():
            raise SystemExit(f"{self.binary} does not exist: cargo build --release -p node-role-remediator")
        self.proxy_binary = resolve(args.proxy_binary)
        if not self.proxy_binary.exists():
            raise SystemExit(f"{self.proxy_binary} does not exist: cargo build --release -p aws-proxy")
        self.out_path = resolve(args.out)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        log_dir = self.out_path.parent / "logs" / f"latency-{args.latency_ms}ms"
        log_dir.mkdir(parents=True, exist_ok=True)
        for old in log_dir.glob("*.log"):
            old.unlink()
        procs.log_dir = log_dir
        self.env = bench_env()
        self.events = read_events()  # and the door events, built once the account is seeded
        self.door_facts = {}  # what each door event names
        self.proxy = None  # in front of the emulator, when latency or throttling is asked for

    def seconds(self):
        return round(time.monotonic() - self.started, 1)


def prepare(args, procs):
    b = Bench(args, procs)
    # 1. the emulator, seeded
    b.endpoint = account.start_emulator(procs)
    b.topic_arn, b.seed_line, b.seed_seconds, b.seed_cmd = account.seed(b.endpoint, args, b.regions, b.env)
    # 2. what the door events report, then what the account holds, and the fewest calls each case
    #    needs; the door events name its account and ids
    b.emu = account.Emulator(b.endpoint)
    doors.arrange(b.emu, args)
    inv = b.emu.inventory(b.regions)
    b.mins = Minimums(inv, b.regions)
    door_events, b.door_facts = doors.build(inv, b.regions, b.emu.account_id(), args)
    b.events.update(door_events)
    log(f"door events: {b.door_facts}")
    log(f"inventory: {b.mins.counts}; discovery minimum {sum(b.mins.discovery.values())} calls {b.mins.discovery}")
    if not b.mins.role(NODE_ROLE):
        raise RuntimeError(f"{NODE_ROLE} backs no node group in {b.regions}: seed.py changed?")
    # 3. the proxy to the emulator, cargo lambda watch with a proxy in front of its runtime API
    function_endpoint = b.endpoint
    if args.throttle > 0:
        b.proxy = AwsProxy(procs, "throttle-proxy", b.proxy_binary, b.endpoint, throttle=args.throttle, seed=args.seed)
        log(f"throttling proxy {b.proxy.endpoint} -> {b.endpoint}: {args.throttle:.0%} of requests throttled")
    elif args.latency_ms > 0:
        b.proxy = AwsProxy(procs, "latency-proxy", b.proxy_binary, b.endpoint, latency_ms=args.latency_ms)
        log(f"latency proxy {b.proxy.endpoint} -> {b.endpoint}: +{args.latency_ms} ms per request")
    if b.proxy:
        function_endpoint = b.proxy.endpoint
    _, watch_port = start_watch(procs, "cargo-lambda-watch", b.env)
    fn_env = {
        "SNS_TOPIC_ARN": b.topic_arn,
        "SCAN_REGIONS": ",".join(b.regions),
        "AWS_ENDPOINT_URL": function_endpoint,
        "AWS_REGION": HOME_REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    if args.rust_log:
        fn_env["RUST_LOG"] = args.rust_log
    b.fn = Function(procs, b.binary, watch_port, b.proxy_binary, fn_env)
    return b
