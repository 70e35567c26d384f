"""The emulated account: starting the emulator, seeding it, reading it back (what the function
should find) and putting policies back between invocations."""

import re
import subprocess
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import emulator  # scripts/emulator.py

from .base import HOME_REGION, ROOT, VENV_BIN, log


def start_emulator(procs, name="moto"):
    """moto on a free port, its log in the bench's log folder, stopped with the other children."""
    server, endpoint = emulator.start_moto(procs.log_dir / f"{name}.log")
    procs.adopt(server)
    log(f"moto_server on {endpoint}")
    return endpoint


def python():
    return str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable


def seed(endpoint, args, regions, env):
    """scripts/seed.py at the requested scale. -> (topic ARN, seeded line, seconds, command)"""
    seed_cmd = [
        python(),
        "scripts/seed.py",
        "--endpoint",
        endpoint,
        "seed",
        "--regions",
        ",".join(regions),
        "--clusters-per-region",
        str(args.clusters_per_region),
        "--nodegroups-per-cluster",
        str(args.nodegroups_per_cluster),
        "--node-roles",
        str(args.node_roles),
        "--unrelated-roles",
        str(args.unrelated_roles),
        "--instances-per-nodegroup",
        str(args.instances_per_nodegroup),
        "--unrelated-instances",
        str(args.unrelated_instances),
        "--quiet",
        "--notify-queue",
        "bench-notifications",
    ]
    log("seeding: " + " ".join(seed_cmd[1:]))
    t0 = time.monotonic()
    seeded = subprocess.run(seed_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - t0
    if seeded.returncode != 0:
        raise RuntimeError(f"seed.py failed ({seeded.returncode}): {seeded.stderr[-2000:]}")
    topic = re.search(r"^TOPIC_ARN=(.+)$", seeded.stdout, re.M)
    if not topic:
        raise RuntimeError(f"seed.py printed no TOPIC_ARN: {seeded.stdout[-1000:]}")
    line = next((ln for ln in seeded.stdout.splitlines() if ln.startswith("seeded ")), "").strip()
    log(f"seeded in {seconds:.1f}s: {line}")
    return topic.group(1).strip(), line, seconds, " ".join(seed_cmd[1:])


class Emulator:
    """boto3 clients on the emulator for one account (the default one unless a subclass says)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=HOME_REGION
        )
        self._cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=16)
        self._clients = {}

    def client(self, service, region=HOME_REGION):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint, config=self._cfg
            )
        return self._clients[key]

    def account_id(self):
        return self.client("sts").get_caller_identity()["Account"]

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
        """What the function should find: clusters, node groups and node roles in `regions`, each
        node role's policies, each region's live instances (id, profile ARN, tags) and profile
        associations, and the account's instance profiles with the role ARNs they hold."""
        clusters, nodegroups, instances, associations = {}, [], {}, {}
        for region in regions:
            instances[region], associations[region] = self.instances(region)
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
        for region, cluster, _ng, arn in nodegroups:
            entry = roles.setdefault(arn.lower(), {"arn": arn, "clusters": set(), "nodegroups": 0})
            entry["clusters"].add((region, cluster))
            entry["nodegroups"] += 1
        for entry in roles.values():
            name = entry["arn"].rsplit("/", 1)[-1]
            entry["name"] = name
            entry.update(self.role_policies(name))
        profiles = {}
        for page in self.client("iam").get_paginator("list_instance_profiles").paginate():
            for p in page["InstanceProfiles"]:
                profiles[p["Arn"]] = [r["Arn"] for r in p["Roles"]]
        return {
            "clusters": clusters,
            "nodegroups": nodegroups,
            "roles": roles,
            "instances": instances,
            "associations": associations,
            "profiles": profiles,
        }

    def instances(self, region):
        """-> ([(id, profile ARN or None, tags)] of live instances, number of current associations),
        filtered as the function filters them."""
        ec2 = self.client("ec2", region)
        live = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
        found = []
        for page in ec2.get_paginator("describe_instances").paginate(Filters=live):
            for reservation in page["Reservations"]:
                for i in reservation["Instances"]:
                    tags = {t["Key"]: t.get("Value", "") for t in i.get("Tags", [])}
                    found.append((i["InstanceId"], (i.get("IamInstanceProfile") or {}).get("Arn"), tags))
        current = [{"Name": "state", "Values": ["associating", "associated"]}]
        associations = 0
        for page in ec2.get_paginator("describe_iam_instance_profile_associations").paginate(Filters=current):
            associations += len(page["IamInstanceProfileAssociations"])
        return found, associations

    def role_policies(self, name):
        iam = self.client("iam")
        attached = []
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            attached += [p["PolicyArn"] for p in page["AttachedPolicies"]]
        inline = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            inline += page["PolicyNames"]
        return {"attached": attached, "inline": inline}
