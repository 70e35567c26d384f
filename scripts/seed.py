#!/usr/bin/env python3
"""Seed a local AWS emulator (moto) with a realistic EKS account, show roles, drain notifications.

Subcommands:
  seed    (default) roles, clusters, node groups, decoys; optional benchmark scale and SNS/SQS
  show    --roles a,b,...   attached managed policy ARNs and inline policy names per role
  drain   --queue-url URL   receive every notification from the SQS queue and print it
          (alias drain-queue)
  told    FILE --seen IDS   the text (rendered by the function) of each notification published
          since the last call, or the Report's outcome when none was

Examples:
  seed.py --endpoint http://127.0.0.1:5000 --notify-queue inbox
  seed.py --endpoint http://127.0.0.1:5000 seed --quiet --regions us-east-1,us-west-2,eu-west-1
      --clusters-per-region 10 --nodegroups-per-cluster 4 --unrelated-roles 2000
      --instances-per-nodegroup 2 --unrelated-instances 3   (one line)

The endpoint comes from --endpoint or AWS_ENDPOINT_URL; credentials are testing/testing.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

ACCOUNT = "123456789012"
HOME_REGION = "us-east-1"
AWS_POLICY = "arn:aws:iam::aws:policy/"
WORKER = AWS_POLICY + "AmazonEKSWorkerNodePolicy"
ECR = AWS_POLICY + "AmazonEC2ContainerRegistryReadOnly"
CNI = AWS_POLICY + "AmazonEKS_CNI_Policy"
BASELINE = [WORKER, ECR, CNI]
TOPIC_NAME = "eks-node-role-guard"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
DEBUG_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Debug", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
FAKE_WORKER_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
}
EKSCTL_ROLE = "eksctl-platform-nodegroup-ng-1-NodeInstanceRole-DEMO"
DEMO_ROLES = [
    "eks-node-prod",
    "eks-node-batch",
    "eks-node-gpu",
    "eks-node-staging",
    "ci-deployer",
    "bastion-ec2",
]
AMI = "ami-12c6146b"  # an image the emulator knows


def statement(actions, resource):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


def trust(principal):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


EC2_TRUST = trust({"Service": "ec2.amazonaws.com"})
EKS_TRUST = trust({"Service": "eks.amazonaws.com"})
ROOT_TRUST = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})


class Aws:
    """boto3 clients against the emulator, one per (service, region), created once."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=HOME_REGION,
        )
        # moto can answer 500 under concurrent IAM writes: standard retries cover 5xx.
        self.config = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=32)
        self.clients = {}

    def client(self, service, region=HOME_REGION):
        key = (service, region)
        if key not in self.clients:
            self.clients[key] = self.session.client(
                service, region_name=region, endpoint_url=self.endpoint, config=self.config
            )
        return self.clients[key]


def error_code(err):
    return err.response.get("Error", {}).get("Code", "")


RETRIED = [0]  # emulator HTTP 500s retried by `retrying`, reported in the summary
RETRIED_LOCK = threading.Lock()


def retrying(fn, *args, **kwargs):
    """moto 5.2.5 answers concurrent IAM writes now and then with an HTML 500 ("dictionary changed
    size during iteration"). botocore cannot parse that body, so its own retries never see it:
    retry here, a few times, and only for that. Any other error is real and propagates."""
    for attempt in range(8):
        try:
            return fn(*args, **kwargs)
        except ResponseParserError:
            pass
        except ClientError as err:
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500:
                raise
        with RETRIED_LOCK:
            RETRIED[0] += 1
        if attempt == 7:
            raise RuntimeError(f"{fn.__name__}: emulator kept failing with HTTP 500")
        time.sleep(0.05 * (attempt + 1))


def ignore_exists(fn, *args, **kwargs):
    """Call fn; an 'already exists' error means a previous seed (or a retried request that did land)
    got there first: seed is re-runnable."""
    try:
        return retrying(fn, *args, **kwargs)
    except ClientError as err:
        if error_code(err) in ("EntityAlreadyExists", "ResourceInUseException"):
            return None
        raise


class Seeder:
    def __init__(self, aws, quiet):
        self.aws = aws
        self.iam = aws.client("iam")
        self.quiet = quiet
        self.counts = {
            "roles": 0,
            "clusters": 0,
            "nodegroups": 0,
            "customer_policies": 0,
            "inline_policies": 0,
            "profiles": 0,
            "instances": 0,
        }
        self.made = []  # (region, cluster, node group, node role ARN) of every node group created

    def log(self, msg):
        if not self.quiet:
            print(msg, flush=True)

    def role(self, name, trust_doc, managed=(), inline=None, path="/"):
        ignore_exists(self.iam.create_role, RoleName=name, Path=path, AssumeRolePolicyDocument=trust_doc)
        for arn in managed:
            retrying(self.iam.attach_role_policy, RoleName=name, PolicyArn=arn)
        for policy_name, doc in (inline or {}).items():
            retrying(
                self.iam.put_role_policy,
                RoleName=name,
                PolicyName=policy_name,
                # compact, like the document in events/put-inline-on-node-role.json
                PolicyDocument=json.dumps(doc, separators=(",", ":")),
            )
        self.counts["roles"] += 1
        self.counts["inline_policies"] += len(inline or {})
        arn = f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
        self.log(
            f"role {arn}: {', '.join(shorten(a) for a in managed) or 'no managed policies'}"
            + (f"; inline {', '.join(inline)}" if inline else "")
        )
        return arn

    def cluster(self, region, name, nodegroups, service_role_arn):
        """nodegroups: list of (nodegroup name, node role ARN)."""
        eks = self.aws.client("eks", region)
        ignore_exists(
            eks.create_cluster,
            name=name,
            roleArn=service_role_arn,
            resourcesVpcConfig={"subnetIds": SUBNETS},
        )
        for ng, role_arn in nodegroups:
            ignore_exists(
                eks.create_nodegroup,
                clusterName=name,
                nodegroupName=ng,
                nodeRole=role_arn,
                subnets=SUBNETS,
                scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
            )
            self.made.append((region, name, ng, role_arn))
        return len(nodegroups)

    def profile(self, role_name):
        """An instance profile named after `role_name`, holding it. -> its ARN"""
        created = ignore_exists(self.iam.create_instance_profile, InstanceProfileName=role_name)
        if not created:
            return self.iam.get_instance_profile(InstanceProfileName=role_name)["InstanceProfile"]["Arn"]
        retrying(self.iam.add_role_to_instance_profile, InstanceProfileName=role_name, RoleName=role_name)
        self.counts["profiles"] += 1
        return created["InstanceProfile"]["Arn"]

    def run(self, region, count, profile_arn, tags):
        """`count` running instances with `profile_arn` and `tags` (the emulator makes none for node
        groups). One request each: the emulator associates the profile with the first instance of a
        request only."""
        for _ in range(count):
            retrying(
                self.aws.client("ec2", region).run_instances,
                ImageId=AMI,
                InstanceType="t3.medium",
                MinCount=1,
                MaxCount=1,
                IamInstanceProfile={"Arn": profile_arn},
                TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags]}],
            )
        return count

    def asg(self, region, cluster, nodegroup):
        """The Auto Scaling group EKS names for a node group (moto creates none, but names one)."""
        described = self.aws.client("eks", region).describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)
        groups = described["nodegroup"].get("resources", {}).get("autoScalingGroups", [])
        return groups[0]["name"] if groups else f"eks-{nodegroup}"

    def instances(self, per_nodegroup, unrelated, regions):
        """Nodes as they run: each node group's role in an instance profile, `per_nodegroup`
        instances per node group tagged as managed nodes are; then `unrelated` instances without
        EKS tags on bastion-ec2's profile, spread over `regions`."""
        if per_nodegroup > 0:
            roles = sorted({arn for *_, arn in self.made})
            profiles = {arn: self.profile(arn.rsplit("/", 1)[-1]) for arn in roles}
            for region in {region for region, *_ in self.made}:
                self.aws.client("ec2", region)  # clients made here, not by the pool's threads
            with ThreadPoolExecutor(max_workers=16) as pool:
                jobs = [
                    pool.submit(
                        self.run,
                        region,
                        per_nodegroup,
                        profiles[arn],
                        [
                            # launched by the node group's Auto Scaling group, as EKS does
                            ("aws:autoscaling:groupName", self.asg(region, cluster, ng)),
                            ("eks:cluster-name", cluster),
                            ("eks:nodegroup-name", ng),
                            (f"kubernetes.io/cluster/{cluster}", "owned"),
                        ],
                    )
                    for region, cluster, ng, arn in self.made
                ]
                self.counts["instances"] += sum(job.result() for job in jobs)
        if unrelated > 0:
            bastion = self.profile("bastion-ec2")
            for n in range(unrelated):
                self.counts["instances"] += self.run(regions[n % len(regions)], 1, bastion, [("Name", f"bastion-{n}")])
        if per_nodegroup > 0 or unrelated > 0:
            self.log(
                f"instances: {self.counts['instances']} ({per_nodegroup} per node group, {unrelated} bastions), "
                f"{self.counts['profiles']} instance profiles"
            )

    def base(self):
        cluster_role = self.role("eks-cluster-role", EKS_TRUST, [AWS_POLICY + "AmazonEKSClusterPolicy"])
        self.cluster_role = cluster_role

        prod = self.role(
            "eks-node-prod", EC2_TRUST, BASELINE + [AWS_POLICY + "AdministratorAccess"], path="/eks/nodes/"
        )
        batch = self.role("eks-node-batch", EC2_TRUST, BASELINE, inline={"debug-s3-everything": DEBUG_DOC})
        gpu = self.role("eks-node-gpu", EC2_TRUST, BASELINE + [AWS_POLICY + "AmazonS3FullAccess"])

        fake = ignore_exists(
            self.iam.create_policy,
            PolicyName="AmazonEKSWorkerNodePolicy",
            PolicyDocument=json.dumps(FAKE_WORKER_DOC),
            Description="Customer-managed look-alike of the AWS-managed worker node policy",
        )
        fake_arn = fake["Policy"]["Arn"] if fake else f"arn:aws:iam::{ACCOUNT}:policy/AmazonEKSWorkerNodePolicy"
        self.counts["customer_policies"] += 1
        staging = self.role("eks-node-staging", EC2_TRUST, BASELINE + [fake_arn])

        self.role("ci-deployer", ROOT_TRUST, [AWS_POLICY + "AdministratorAccess"])
        self.role(
            "bastion-ec2",
            EC2_TRUST,
            [AWS_POLICY + "AmazonSSMManagedInstanceCore", AWS_POLICY + "AmazonS3ReadOnlyAccess"],
        )

        for region, name, ngs in [
            ("us-east-1", "prod", [("general", prod), ("system", prod)]),
            ("us-west-2", "analytics", [("batch", batch)]),
            ("us-west-2", "ml", [("gpu", gpu)]),
            ("us-east-1", "staging", [("default", staging)]),
        ]:
            self.counts["nodegroups"] += self.cluster(region, name, ngs, cluster_role)
            self.counts["clusters"] += 1
            self.log(f"cluster {region}/{name}: node groups {', '.join(ng for ng, _ in ngs)}")

    def trail(self):
        """A logging multi-region trail, so the sweep's blind check finds the guard fed."""
        s3 = self.aws.client("s3")
        cloudtrail = self.aws.client("cloudtrail")
        ignore_exists(s3.create_bucket, Bucket="eks-node-role-guard-demo-trail")
        ignore_exists(
            cloudtrail.create_trail,
            Name="management-events",
            S3BucketName="eks-node-role-guard-demo-trail",
            IsMultiRegionTrail=True,
        )
        cloudtrail.start_logging(Name="management-events")
        self.log("trail management-events: multi-region, logging")

    def eksctl(self):
        """A node role as eksctl builds it with iam.withAddonPolicies (autoScaler, externalDNS,
        ebs, cloudWatch, imageBuilder): what the function attributes and plans to move."""
        stack = "eksctl-platform-nodegroup-ng-1"
        autoscaling = [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeTags",
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
            "ec2:DescribeLaunchTemplateVersions",
        ]
        role = self.role(
            EKSCTL_ROLE,
            EC2_TRUST,
            # eksctl's defaults for a managed node group, then imageBuilder, ebs and cloudWatch
            [
                AWS_POLICY + p
                for p in (
                    "AmazonEKSWorkerNodePolicy",
                    "AmazonEC2ContainerRegistryPullOnly",
                    "AmazonEKS_CNI_Policy",
                    "AmazonSSMManagedInstanceCore",
                    "AmazonEC2ContainerRegistryPowerUser",
                    "service-role/AmazonEBSCSIDriverPolicy",
                    "CloudWatchAgentServerPolicy",
                )
            ],
            inline={
                f"{stack}-PolicyAutoScaling": statement(autoscaling, "*"),
                f"{stack}-PolicyExternalDNSChangeSet": statement(
                    ["route53:ChangeResourceRecordSets"], "arn:aws:route53:::hostedzone/*"
                ),
                f"{stack}-PolicyExternalDNSHostedZones": statement(
                    ["route53:ListHostedZones", "route53:ListResourceRecordSets", "route53:ListTagsForResource"], "*"
                ),
            },
        )
        self.counts["nodegroups"] += self.cluster("us-east-1", "platform", [("ng-1", role)], self.cluster_role)
        self.counts["clusters"] += 1
        self.log("cluster us-east-1/platform: node group ng-1 (eksctl-built node role)")

    def bench(self, regions, clusters_per_region, nodegroups_per_cluster, node_roles):
        if clusters_per_region <= 0:
            return
        roles = []
        for k in range(max(node_roles, 1)):
            # every fourth role compliant, each of the others with one typical violation
            extra, inline = [], None
            if k % 4 == 1:
                extra = [AWS_POLICY + "AmazonS3FullAccess"]
            elif k % 4 == 2:
                inline = {"debug-s3-everything": DEBUG_DOC}
            elif k % 4 == 3:
                extra = [AWS_POLICY + "AdministratorAccess"]
            roles.append(self.role(f"bench-node-role-{k}", EC2_TRUST, BASELINE + extra, inline=inline))
        jobs = []
        n = 0
        for region in regions:
            for i in range(clusters_per_region):
                ngs = []
                for j in range(nodegroups_per_cluster):
                    ngs.append((f"bench-ng-{j}", roles[n % len(roles)]))
                    n += 1
                jobs.append((region, f"bench-cluster-{region}-{i}", ngs))
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = [pool.submit(self.cluster, r, c, ngs, self.cluster_role) for r, c, ngs in jobs]
            for f in futures:
                self.counts["nodegroups"] += f.result()
                self.counts["clusters"] += 1
        self.log(
            f"benchmark: {len(jobs)} clusters in {', '.join(regions)}, "
            f"{nodegroups_per_cluster} node groups each, {len(roles)} shared node roles"
        )

    def unrelated(self, count):
        if count <= 0:
            return

        def one(n):
            ignore_exists(
                self.iam.create_role,
                RoleName=f"unrelated-role-{n}",
                AssumeRolePolicyDocument=ROOT_TRUST,
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, range(count)))
        self.counts["roles"] += count
        self.log(f"unrelated roles: {count}")

    def notify(self, queue_name):
        sns = self.aws.client("sns")
        sqs = self.aws.client("sqs")
        topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        print(f"TOPIC_ARN={topic_arn}")
        print(f"QUEUE_URL={queue_url}")
        return topic_arn, queue_url


def cmd_seed(args, aws):
    start = time.monotonic()
    seeder = Seeder(aws, args.quiet)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    seeder.base()
    if args.trail:
        seeder.trail()
    if args.eksctl_role:
        seeder.eksctl()
    t_base = time.monotonic()
    seeder.bench(regions, args.clusters_per_region, args.nodegroups_per_cluster, args.node_roles)
    t_bench = time.monotonic()
    seeder.unrelated(args.unrelated_roles)
    t_unrelated = time.monotonic()
    seeder.instances(args.instances_per_nodegroup, args.unrelated_instances, regions)
    t_instances = time.monotonic()
    if args.notify_queue:
        seeder.notify(args.notify_queue)
    c = seeder.counts
    print(
        f"seeded {c['roles']} roles ({c['inline_policies']} inline policies), "
        f"{c['customer_policies']} customer-managed policy, "
        f"{c['clusters']} clusters, {c['nodegroups']} node groups, "
        f"{c['instances']} instances on {c['profiles']} instance profiles "
        f"in {time.monotonic() - start:.1f}s (base {t_base - start:.1f}s, benchmark clusters "
        f"{t_bench - t_base:.1f}s, unrelated roles {t_unrelated - t_bench:.1f}s, "
        f"instances {t_instances - t_unrelated:.1f}s; "
        f"{RETRIED[0]} emulator HTTP 500s retried; {aws.endpoint})",
        flush=True,
    )


def cmd_show(args, aws):
    iam = aws.client("iam")
    names = [r.strip() for r in args.roles.split(",") if r.strip()]
    width = max((len(n) for n in names), default=0)
    state = {}
    for name in names:
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as err:
            if error_code(err) == "NoSuchEntity":
                print(f"{name:<{width}}  (no such role)")
                continue
            raise
        managed = []
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            managed += [p["PolicyArn"] for p in page["AttachedPolicies"]]
        inline = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            inline += page["PolicyNames"]
        state[name] = {"arn": role["Arn"], "managed": sorted(managed), "inline": sorted(inline)}
        print(f"{name:<{width}}  path {role.get('Path', '/')}")
        print(f"{'':<{width}}    managed: {', '.join(shorten(a) for a in sorted(managed)) or '-'}")
        print(f"{'':<{width}}    inline:  {', '.join(sorted(inline)) or '-'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=2)


def shorten(arn):
    """AWS-managed ARNs by name; customer-managed ARNs in full so the look-alike stands out."""
    return arn[len(AWS_POLICY) :] if arn.startswith(AWS_POLICY) else arn


def load_report(path):
    """The JSON Report `cargo lambda invoke` wrote to `path` (stray lines before it tolerated)."""
    text = open(path, encoding="utf-8").read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start = text.find("{")
        try:
            return json.loads(text[start:]) if start >= 0 else None
        except json.JSONDecodeError:
            return None


def print_text(text, indent="  "):
    for line in fold_warnings(text.rstrip("\n").split("\n")):
        print(f"{indent}| {line}" if line else f"{indent}|")


def cmd_told(args, aws):
    """What one invocation told: the text of every notification published since the last call
    (rendered by the function itself), or, when it published none, its outcome and reason."""
    seen_path = args.seen
    seen = set(open(seen_path).read().split()) if seen_path and os.path.exists(seen_path) else set()
    published = published_messages(aws.endpoint)
    new = [(mid, msg) for mid, msg in published.items() if mid not in seen]
    if seen_path:
        with open(seen_path, "a", encoding="utf-8") as out:
            out.writelines(f"{mid}\n" for mid, _ in new)
    report = load_report(args.file)
    if not isinstance(report, dict):
        print(f"  (not a Report: {args.file})")
        return
    if not new:
        reason = f": {report['reason']}" if report.get("reason") else ""
        print(f"  outcome {report.get('outcome')}{reason} (nothing published)")
        return
    for n, (_, msg) in enumerate(new, 1):
        text = readable_text(msg)
        print(f"  notification {n} of {len(new)}:")
        print_text(text if text is not None else msg)


def published_messages(endpoint):
    """{message id: full published Message} from moto's model dump (GET /moto-api/data.json).

    An SQS subscriber of a MessageStructure=json publication receives only the message's `sqs`
    key (here the JSON Report); the readable `default`/`email` text never reaches the queue.
    moto keeps every published message, all keys included, so the demo can show the text e-mail
    subscribers would read. Empty if the endpoint is not moto (or the dump fails)."""
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/moto-api/data.json", timeout=120) as resp:
            data = json.load(resp)
    except (OSError, ValueError):
        return {}
    out = {}
    for topic in (data.get("sns") or {}).get("Topic") or []:
        for sent in topic.get("sent_notifications") or []:
            if isinstance(sent, list) and len(sent) >= 2:
                out[sent[0]] = sent[1]
    return out


def readable_text(published):
    """The `default` text of a MessageStructure=json publication (None when not structured)."""
    try:
        structure = json.loads(published)
    except (TypeError, ValueError):
        return None
    return structure.get("default") if isinstance(structure, dict) else None


def fold_warnings(lines):
    """Display only: the emulator lacks EKS access entries, so every scan warns once per cluster;
    show the first warning of a run of them and count the rest."""
    out, run = [], 0
    for line in lines + [""]:
        if line.startswith("Warning: "):
            run += 1
            if run == 1:
                out.append(line)
            continue
        if run > 1:
            out.append(f"Warning: ... (+{run - 1} more)")
        run = 0
        out.append(line)
    return out[:-1]


def cmd_drain(args, aws):
    sqs = aws.client("sqs")
    messages = []
    empty = 0
    while empty < 2:
        resp = sqs.receive_message(
            QueueUrl=args.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        batch = resp.get("Messages", [])
        if not batch:
            empty += 1
            continue
        empty = 0
        for m in batch:
            messages.append(m)
            sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=m["ReceiptHandle"])
    published = published_messages(aws.endpoint) if messages and not args.no_text else {}
    print(f"{len(messages)} notification(s) in {args.queue_url.rsplit('/', 1)[-1]}")
    for n, m in enumerate(messages, 1):
        try:
            envelope = json.loads(m["Body"])
        except json.JSONDecodeError:
            print(f"\n[{n}] raw body: {m['Body'][:300]}")
            continue
        # raw delivery off: the body is the SNS envelope, attributes are inside it
        attrs = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
        print(f"\n[{n}] Subject: {envelope.get('Subject')}")
        print(f"    Attributes: {', '.join(f'{k}={v}' for k, v in sorted(attrs.items())) or '-'}")
        body = envelope.get("Message", "")
        try:
            report = json.loads(body)
        except (json.JSONDecodeError, TypeError):
            report = None
        text = readable_text(published.get(envelope.get("MessageId")))
        if text is not None:
            print("    Text (the `default`/`email` key, what e-mail subscribers read):")
            print_text(text, "      ")
        if isinstance(report, dict) and isinstance(report.get("totals"), dict):
            # a sweep summary: its own violations and actions are empty, its totals count its roles
            totals = report["totals"]
            print(
                f"    SQS body: the JSON Report ({len(body)} bytes; outcome {report.get('outcome')}, "
                f"{totals.get('roles')} node role(s), {totals.get('needed_action')} needed action, "
                f"{totals.get('violations')} violation(s), {sum((totals.get('actions') or {}).values())} action(s))"
            )
        elif isinstance(report, dict):
            print(
                f"    SQS body: the JSON Report ({len(body)} bytes; outcome {report.get('outcome')}, "
                f"{len(report.get('violations') or [])} violation(s), "
                f"{len(report.get('actions') or [])} action(s), "
                f"{len(report.get('deleted_inline_policies') or [])} inline backup(s))"
            )
        else:
            print(f"    SQS body: {body[:500]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="emulator URL")
    sub = parser.add_subparsers(dest="command")

    seed = sub.add_parser("seed", help="create the demo account (default)")
    add_seed_args(seed)
    show = sub.add_parser("show", help="print roles' managed and inline policies")
    show.add_argument("--roles", default=",".join(DEMO_ROLES))
    show.add_argument("--json", metavar="FILE", help="also write {role: {managed, inline}} to FILE")
    drain = sub.add_parser("drain", aliases=["drain-queue"], help="print and delete every notification in an SQS queue")
    drain.add_argument("--queue-url", required=True)
    drain.add_argument("--no-text", action="store_true", help="skip the readable text (no moto model dump)")
    told = sub.add_parser(
        "told", help="the text of each notification published since the last call, else the Report's outcome"
    )
    told.add_argument("file", help="the invocation's JSON Report")
    told.add_argument("--seen", metavar="FILE", help="message ids already shown (read, then appended to)")

    argv = sys.argv[1:]
    commands = {"seed", "show", "drain", "drain-queue", "told", "-h", "--help"}
    # `seed` is the default subcommand, also when only global options precede it
    if not any(a in commands for a in argv):
        i = 0
        while i < len(argv) and argv[i].startswith("--endpoint"):
            i += 1 if "=" in argv[i] else 2
        argv = argv[:i] + ["seed"] + argv[i:]
    args = parser.parse_args(argv)

    if not args.endpoint:
        parser.error("no endpoint: pass --endpoint or set AWS_ENDPOINT_URL")
    aws = Aws(args.endpoint)
    run = {"seed": cmd_seed, "show": cmd_show, "drain": cmd_drain, "drain-queue": cmd_drain, "told": cmd_told}
    run[args.command](args, aws)


def add_seed_args(p):
    p.add_argument("--regions", default="us-east-1,us-west-2", help="regions for benchmark clusters")
    p.add_argument("--clusters-per-region", type=int, default=0, help="extra benchmark clusters per region")
    p.add_argument("--nodegroups-per-cluster", type=int, default=4)
    p.add_argument("--node-roles", type=int, default=4, help="node roles shared by benchmark node groups")
    p.add_argument("--unrelated-roles", type=int, default=0, help="roles trusting the account root")
    p.add_argument(
        "--instances-per-nodegroup",
        type=int,
        default=0,
        help="run this many instances per node group, tagged as its nodes, on its role's instance profile",
    )
    p.add_argument(
        "--unrelated-instances", type=int, default=0, help="instances without EKS tags on bastion-ec2's profile"
    )
    p.add_argument("--notify-queue", help="create SNS topic + this SQS queue subscribed to it")
    p.add_argument("--trail", action="store_true", help="also a logging multi-region CloudTrail trail")
    p.add_argument("--eksctl-role", action="store_true", help=f"also an eksctl-built node role ({EKSCTL_ROLE})")
    p.add_argument("--quiet", action="store_true")


if __name__ == "__main__":
    try:
        main()
    except ClientError as err:
        print(f"seed.py: AWS error: {err}", file=sys.stderr)
        sys.exit(1)
    except (BotoCoreError, ResponseParserError, RuntimeError) as err:
        # e.g. the emulator is not running (EndpointConnectionError)
        print(f"seed.py: {err}", file=sys.stderr)
        sys.exit(1)
