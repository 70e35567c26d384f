"""Organization mode's emulated accounts: the central account and N members seeded alike, and the
fewest calls a sweep of all of them needs."""

import json

import boto3
from botocore.config import Config

from .account import Emulator
from .base import AWS_POLICY, HOME_REGION

CENTRAL = "123456789012"
MEMBER_ROLE = "eks-node-role-guard-member"
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
ROOT_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CENTRAL}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
)
BASELINE = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"]
# node roles: two clean, one with AdministratorAccess, one with an inline policy
NODE_ROLES = {"eks-node-a": [], "eks-node-b": [], "eks-node-admin": ["AdministratorAccess"], "eks-node-debug": []}
DEBUG = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
SUBNET = "subnet-0a1b2c3d4e5f60001"


class Account(Emulator):
    """Emulator clients for one account of the emulator (AssumeRole credentials for members)."""

    def __init__(self, endpoint, account):
        super().__init__(endpoint)
        self.account = account
        if account != CENTRAL:
            creds = self.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/bench-seeder", RoleSessionName="seed"
            )["Credentials"]
            self._session = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=HOME_REGION,
            )
            self._cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=16)
            self._clients = {}


def seed_member(endpoint, account, regions, clusters, unrelated):
    a = Account(endpoint, account)
    iam = a.client("iam")
    arns = {}
    for name, extra in NODE_ROLES.items():
        arns[name] = iam.create_role(RoleName=name, Path="/eks/", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
        for policy in BASELINE + extra:
            iam.attach_role_policy(RoleName=name, PolicyArn=AWS_POLICY + policy)
    iam.put_role_policy(RoleName="eks-node-debug", PolicyName="debug-s3", PolicyDocument=DEBUG)
    cluster_role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=ROOT_TRUST)["Role"]["Arn"]
    roles = list(arns.values())
    n = 0
    for region in regions:
        eks = a.client("eks", region)
        for c in range(clusters):
            name = f"cluster-{c}"
            eks.create_cluster(name=name, roleArn=cluster_role, resourcesVpcConfig={"subnetIds": [SUBNET]})
            for g in range(2):
                eks.create_nodegroup(
                    clusterName=name, nodegroupName=f"ng-{g}", nodeRole=roles[n % len(roles)], subnets=[SUBNET]
                )
                n += 1
    for i in range(unrelated):
        iam.create_role(RoleName=f"app-{i:04d}", AssumeRolePolicyDocument=ROOT_TRUST)
    return account


def org_minimum(minimums, members, list_pages):
    """The fewest calls an organization sweep needs: each member's sweep without its own summary,
    one AssumeRole per member, the ListAccounts pages, the blind check, one summary."""
    total = {}
    for m in minimums:
        for op, n in m.sweep("dry-run").items():
            total[op] = total.get(op, 0) + n
        total["sns:Publish"] -= 1
    total["sns:Publish"] = total.get("sns:Publish", 0) + 1
    total["sts:AssumeRole"] = members
    total["organizations:ListAccounts"] = list_pages
    total["cloudtrail:DescribeTrails"] = 1
    return total
