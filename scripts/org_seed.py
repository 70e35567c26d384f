#!/usr/bin/env python3
"""Seed the local emulator (moto) with an organization for `make demo-org`, and show its roles.

  org_seed.py --endpoint URL seed       organization + three member accounts + an outsider, each
                                        with node role eks-node-app in cluster apps (us-east-1);
                                        prints IDS=..., OUTSIDER=..., TOPIC_ARN=..., QUEUE_URL=...
  org_seed.py --endpoint URL show ID... the node role's policies in each account
                                        (--json FILE: also {account: {managed, inline}})
  org_seed.py event ACCOUNT FILE        events/attach-admin-to-node-role.json from ACCOUNT, on eks-node-app

moto maps the credentials AssumeRole returns for a role in another account onto that account,
which is how the seeder (and the function) reach the members.
"""

import argparse
import json
import sys
from pathlib import Path

import boto3

CENTRAL = "123456789012"
REGION = "us-east-1"
ROLE = "eks-node-app"
POLICY = "arn:aws:iam::aws:policy/"
BASELINE = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"]
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
EKS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
DEBUG = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
OUTSIDER = "999988887777"


def session(endpoint, account=CENTRAL):
    central = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    if account == CENTRAL:
        return central
    creds = central.client("sts", endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/demo-seeder", RoleSessionName="seed"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def seed_account(endpoint, account, extra_managed, inline):
    s = session(endpoint, account)
    iam, eks = s.client("iam", endpoint_url=endpoint), s.client("eks", endpoint_url=endpoint)
    arn = iam.create_role(RoleName=ROLE, Path="/eks/", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    for name in BASELINE + extra_managed:
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=POLICY + name)
    if inline:
        iam.put_role_policy(RoleName=ROLE, PolicyName="debug-s3", PolicyDocument=DEBUG)
    cluster_role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=EKS_TRUST)["Role"]["Arn"]
    eks.create_cluster(
        name="apps",
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]},
    )
    eks.create_nodegroup(
        clusterName="apps", nodegroupName="general", nodeRole=arn, subnets=["subnet-0a1b2c3d4e5f60001"]
    )


def seed(endpoint):
    central = session(endpoint)
    org = central.client("organizations", endpoint_url=endpoint)
    org.create_organization(FeatureSet="ALL")
    ids = []
    for name in ("team-a", "team-b", "team-c"):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        ids.append(status["AccountId"])
    # A gets AdministratorAccess by the event below; B carries S3 full access; C an inline policy
    seed_account(endpoint, ids[0], [], False)
    seed_account(endpoint, ids[1], ["AmazonS3FullAccess"], False)
    seed_account(endpoint, ids[2], [], True)
    seed_account(endpoint, OUTSIDER, ["AdministratorAccess"], False)
    for account in ids[:1] + [OUTSIDER]:
        iam = session(endpoint, account).client("iam", endpoint_url=endpoint)
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=POLICY + "AdministratorAccess")
    sns, sqs = central.client("sns", endpoint_url=endpoint), central.client("sqs", endpoint_url=endpoint)
    topic = sns.create_topic(Name="eks-node-role-guard")["TopicArn"]
    queue = sqs.create_queue(QueueName="eks-node-role-guard-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    print(f"IDS={','.join(ids)}")
    print(f"OUTSIDER={OUTSIDER}")
    print(f"TOPIC_ARN={topic}")
    print(f"QUEUE_URL={queue}")


def show(endpoint, accounts, json_path=None):
    state = {}
    for account in accounts:
        iam = session(endpoint, account).client("iam", endpoint_url=endpoint)
        managed = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
        inline = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
        state[account] = {"managed": managed, "inline": inline}
        extra = [p for p in managed if p not in BASELINE]
        print(f"  {account} {ROLE}: baseline + {', '.join(extra + [f'inline {i}' for i in inline]) or 'nothing else'}")
    if json_path:
        Path(json_path).write_text(json.dumps(state, indent=2))


def event(account, path):
    envelope = json.loads(Path(path).read_text())
    envelope["account"] = account
    envelope["detail"]["recipientAccountId"] = account
    envelope["detail"]["requestParameters"] = {"roleName": ROLE, "policyArn": POLICY + "AdministratorAccess"}
    print(json.dumps(envelope))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint")
    parser.add_argument("--json", metavar="FILE", help="show: also write {account: {managed, inline}} to FILE")
    parser.add_argument("command", choices=["seed", "show", "event"])
    parser.add_argument("args", nargs="*")
    a = parser.parse_args()
    if a.command == "seed":
        seed(a.endpoint)
    elif a.command == "show":
        show(a.endpoint, a.args, a.json)
    else:
        event(*a.args)


if __name__ == "__main__":
    sys.exit(main())
