"""Where things are and what the bench's account looks like: paths, regions, role names, log()."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "scripts"))  # scripts/emulator.py, the one start-up of the emulator

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
NODE_ROLE = "eks-node-prod"
UNRELATED_ROLE = "ci-deployer"
NODEGROUP_ROLE = "eks-node-gpu"
EVENTS = {
    "unrelated": "events/attach-admin-to-unrelated-role.json",
    "node": "events/attach-admin-to-node-role.json",
    "create_nodegroup": "events/create-nodegroup.json",
    "sweep": "events/scheduled-sweep.json",
}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_events():
    return {k: (ROOT / v).read_bytes() for k, v in EVENTS.items()}


def resolve(path):
    """`path` as given, or under the repository root when relative."""
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


def command_line(module="bench"):
    """How this run was started, for the results."""
    return " ".join([f"python -m {module}"] + sys.argv[1:])
