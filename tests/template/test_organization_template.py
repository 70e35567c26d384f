"""Organization mode in the templates: member.yaml (the StackSet's member stack) and the central
kind of template.yaml. Trust and bus policies by unit tests over the template text (moto does
not enforce them); the member rules' patterns and targets by delivery in moto's EventBridge,
from a member account's default bus to the central account's organization bus.

Run from the repository root:
    .venv/bin/python -m unittest discover -s tests/template -v
"""

import json
import os
import re
import socket
import subprocess
import time
import unittest
import uuid
from pathlib import Path

from cfnlint.decode import cfn_yaml

from test_template import (
    ADAPTERS_DIR,
    EVENTS_DIR,
    SDK_CALL,
    VENV_BIN,
    as_list,
    free_port,
    load_template,
    normalised,
    operations_called_by_adapters,
    pascal,
    role_statements,
    sub_text,
)

ROOT = Path(__file__).resolve().parents[2]
MEMBER_PATH = ROOT / "member.yaml"
MEMBER_ACCOUNT = "210987654321"


def load_member():
    return cfn_yaml.load(str(MEMBER_PATH))


def operations_in(service, exclude=()):
    """`service:Operation` for each SDK call in shared/src/aws/<service>.rs."""
    text = (ADAPTERS_DIR / f"{service}.rs").read_text()
    return {f"{service}:{pascal(m)}" for m in SDK_CALL.findall(text) if pascal(m) not in exclude}


class MemberTemplate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_member()
        cls.resources = cls.template["Resources"]
        cls.main = load_template()["Resources"]

    def test_member_role_trusts_only_the_central_function_within_the_organization(self):
        trust = self.resources["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(len(trust), 1)
        (statement,) = trust
        self.assertEqual(statement["Effect"], "Allow")
        self.assertEqual(statement["Principal"], {"AWS": {"Ref": "CentralFunctionRoleArn"}})
        self.assertEqual(statement["Action"], "sts:AssumeRole")
        self.assertEqual(statement["Condition"], {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}})
        self.assertEqual(self.resources["MemberRole"]["Properties"]["MaxSessionDuration"], 3600)

    def test_member_role_may_do_what_the_adapters_do_in_a_member_and_nothing_else(self):
        # Given the IAM, EKS and Security Hub calls the adapters make (a member's notifications
        # go out with the central credentials, and the blind check reads only the central trails)
        called, unknown = operations_called_by_adapters()
        self.assertFalse(unknown)
        in_member = {op for op in called if op.split(":")[0] in ("iam", "eks", "securityhub")}
        self.assertTrue(any(op.startswith("iam:") for op in in_member))
        granted = set()
        for statement in role_statements(self.template, "MemberRole"):
            if statement["Effect"] == "Allow":
                granted.update(as_list(statement["Action"]))
        # Then the role grants exactly those
        self.assertEqual(normalised(granted), normalised(in_member))

    def test_member_role_grants_what_the_function_role_grants_for_iam_and_eks(self):
        def scoped(statements):
            return {
                (action, sub_text(statement["Resource"]) if not isinstance(statement["Resource"], list) else None)
                for statement in statements
                for action in as_list(statement["Action"])
                if action.split(":")[0] in ("iam", "eks") and statement["Effect"] == "Allow"
            }

        member = scoped(role_statements(self.template, "MemberRole"))
        central = scoped(role_statements(load_template(), "RemediatorRole"))
        self.assertEqual(member, central)

    def test_member_role_is_denied_every_change_to_itself(self):
        (deny,) = [s for s in role_statements(self.template, "MemberRole") if s["Effect"] == "Deny"]
        self.assertEqual(deny["Resource"], {"Fn::GetAtt": ["MemberRole", "Arn"]})
        self.assertTrue({"iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy"} <= set(deny["Action"]))

    def test_rules_send_the_main_patterns_to_the_central_bus_only_with_a_role(self):
        for rule, main_rule in (("IamPolicyChangeRule", "IamPolicyChangeRule"), ("EksCreateNodegroupRule", "EksCreateNodegroupRule")):
            with self.subTest(rule=rule):
                props = self.resources[rule]["Properties"]
                self.assertEqual(props["EventPattern"], self.main[main_rule]["Properties"]["EventPattern"])
                (target,) = props["Targets"]
                self.assertEqual(target["Arn"], {"Ref": "CentralEventBusArn"})
                self.assertEqual(target["RoleArn"], {"Fn::GetAtt": ["ToCentralBusRole", "Arn"]})
        # IAM events reach EventBridge only in us-east-1: the IAM rule and the (global) role there
        self.assertEqual(self.resources["IamPolicyChangeRule"]["Condition"], "IsIamRegion")
        self.assertEqual(self.resources["MemberRole"]["Condition"], "IsIamRegion")
        self.assertNotIn("Condition", self.resources["EksCreateNodegroupRule"])
        # nothing in the member stack targets a function or the member role
        text = MEMBER_PATH.read_text()
        self.assertNotIn("AWS::Lambda", text)

    def test_the_events_role_may_only_put_events_on_the_central_bus(self):
        role = self.resources["ToCentralBusRole"]["Properties"]
        self.assertNotIn("RoleName", role, "one per region: IAM names are global")
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(trust["Condition"], {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})
        statements = role_statements(self.template, "ToCentralBusRole")
        self.assertEqual([(s["Action"], s["Resource"]) for s in statements], [("events:PutEvents", {"Ref": "CentralEventBusArn"})])

    def test_nothing_is_hard_coded(self):
        text = MEMBER_PATH.read_text()
        self.assertIsNone(re.search(r"\b\d{12}\b", text), "hard-coded account ID")
        self.assertNotIn("arn:aws:", text)


class CentralKind(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()
        cls.resources = cls.template["Resources"]

    def test_bus_admits_put_events_from_the_organization_only(self):
        props = self.resources["CentralEventBusPolicy"]["Properties"]
        self.assertEqual(props["EventBusName"], {"Ref": "CentralEventBus"})
        statement = props["Statement"]
        self.assertEqual(statement["Effect"], "Allow")
        self.assertEqual(statement["Principal"], "*")
        self.assertEqual(statement["Action"], "events:PutEvents")
        self.assertEqual(statement["Resource"], {"Fn::GetAtt": ["CentralEventBus", "Arn"]})
        self.assertEqual(statement["Condition"], {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}})
        rule = self.template["Rules"]["CentralNeedsOrganizationId"]
        self.assertEqual(rule["Assertions"][0]["Assert"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]})

    def test_bus_rules_invoke_the_function_only_one_hop(self):
        for rule, main_rule in (
            ("CentralIamPolicyChangeRule", "IamPolicyChangeRule"),
            ("CentralEksCreateNodegroupRule", "EksCreateNodegroupRule"),
        ):
            with self.subTest(rule=rule):
                props = self.resources[rule]["Properties"]
                self.assertEqual(props["EventBusName"], {"Ref": "CentralEventBus"})
                self.assertEqual(props["EventPattern"], self.resources[main_rule]["Properties"]["EventPattern"])
                self.assertEqual([t["Arn"] for t in props["Targets"]], [{"Fn::GetAtt": ["RemediatorFunction", "Arn"]}])
                self.assertEqual(
                    self.resources[f"{rule}Permission"]["Properties"]["SourceArn"], {"Fn::GetAtt": [rule, "Arn"]}
                )
        # no rule anywhere on the organization bus targets another bus
        for logical_id, resource in self.resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Events::Rule" and props.get("EventBusName") == {"Ref": "CentralEventBus"}:
                for target in props["Targets"]:
                    self.assertNotIn(":event-bus/", json.dumps(target["Arn"]), logical_id)
                    self.assertNotIn("RoleArn", target, logical_id)

    def test_central_role_assumes_only_member_roles_in_the_organization_and_lists_accounts(self):
        statements = {s.get("Sid"): s for s in role_statements(self.template)}
        assume = statements["AssumeMemberRoles"]
        self.assertEqual(assume["Action"], "sts:AssumeRole")
        self.assertEqual(sub_text(assume["Resource"]), "arn:${AWS::Partition}:iam::*:role${MemberRolePath}${MemberRoleName}")
        self.assertEqual(assume["Condition"], {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}})
        # the organization-mode actions granted are exactly those its adapters call
        # (sts:GetCallerIdentity needs no permission)
        granted = {
            a
            for s in role_statements(self.template)
            if s["Effect"] == "Allow"
            for a in as_list(s["Action"])
            if a.split(":")[0] in ("sts", "organizations")
        }
        called = operations_in("sts", exclude=("GetCallerIdentity",)) | operations_in("organizations")
        self.assertEqual(normalised(granted), normalised(called))
        # and only in the central kind
        policy = self.resources["RemediatorPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        conditional = [s for s in policy if "Fn::If" in s]
        self.assertEqual(len(conditional), 2)
        for s in conditional:
            self.assertEqual(s["Fn::If"][0], "IsCentral")
            self.assertEqual(s["Fn::If"][2], {"Ref": "AWS::NoValue"})

    def test_environment_turns_organization_mode_on_only_in_central(self):
        env = self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(
            env["MEMBER_ROLE_NAME"],
            {"Fn::If": ["IsCentral", {"Fn::Sub": "${MemberRolePath}${MemberRoleName}"}, {"Ref": "AWS::NoValue"}]},
        )
        self.assertEqual(env["ACCOUNTS"], {"Fn::If": ["IsCentral", {"Ref": "Accounts"}, {"Ref": "AWS::NoValue"}]})
        self.assertEqual(
            env["ACCOUNT_CONCURRENCY"], {"Fn::If": ["IsCentral", {"Ref": "AccountConcurrency"}, {"Ref": "AWS::NoValue"}]}
        )
        # the two templates agree on the member role's name and path
        member = load_member()["Parameters"]
        params = self.template["Parameters"]
        for name in ("MemberRoleName", "MemberRolePath"):
            self.assertEqual(params[name]["Default"], member[name]["Default"], name)
            self.assertEqual(params[name]["AllowedPattern"], member[name]["AllowedPattern"], name)

    def test_outputs_are_what_the_member_stacks_need(self):
        outputs = self.template["Outputs"]
        self.assertEqual(outputs["CentralEventBusArn"]["Value"], {"Fn::GetAtt": ["CentralEventBus", "Arn"]})
        self.assertEqual(outputs["CentralFunctionRoleArn"]["Value"], {"Fn::GetAtt": ["RemediatorRole", "Arn"]})
        member_params = load_member()["Parameters"]
        for name in ("CentralEventBusArn", "CentralFunctionRoleArn", "OrganizationId"):
            self.assertIn(name, member_params)


class MemberToCentralByDelivery(unittest.TestCase):
    """member.yaml's rules in a member account's default bus, targeting the central account's
    organization bus, where central rules with template.yaml's patterns feed an SQS queue."""

    @classmethod
    def setUpClass(cls):
        import boto3

        port = free_port()
        cls.server = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, AWS_DEFAULT_REGION="us-east-1"),
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if cls.server.poll() is not None or time.monotonic() > deadline:
                    cls.server.kill()
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        central = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        # moto maps AssumeRole credentials for a role in another account onto that account
        creds = central.client("sts", endpoint_url=endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/seed", RoleSessionName="seed"
        )["Credentials"]
        member = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name="us-east-1",
        )
        cls.central_events = central.client("events", endpoint_url=endpoint)
        cls.sqs = central.client("sqs", endpoint_url=endpoint)
        cls.member_events = member.client("events", endpoint_url=endpoint)
        cls.member_account = member.client("sts", endpoint_url=endpoint).get_caller_identity()["Account"]

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(timeout=10)

    def test_member_events_reach_the_central_rules_and_nothing_else_does(self):
        self.assertEqual(self.member_account, MEMBER_ACCOUNT)
        central = load_template()["Resources"]
        member = load_member()["Resources"]
        # Given the central organization bus with the central rules, each feeding a queue
        suffix = uuid.uuid4().hex[:8]
        bus = self.central_events.create_event_bus(Name=f"guard-organization-{suffix}")["EventBusArn"]
        queues = {}
        for rule in ("CentralIamPolicyChangeRule", "CentralEksCreateNodegroupRule"):
            url = self.sqs.create_queue(QueueName=f"{rule}-{suffix}")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            name = f"{rule}-{suffix}"
            pattern = central[rule]["Properties"]["EventPattern"]
            self.central_events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
            self.central_events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
            queues[rule] = url
        # and the member's rules on its default bus, targeting the central bus as member.yaml does
        for rule in ("IamPolicyChangeRule", "EksCreateNodegroupRule"):
            props = member[rule]["Properties"]
            (target,) = props["Targets"]
            self.assertEqual(target["Arn"], {"Ref": "CentralEventBusArn"})
            name = f"member-{rule}-{suffix}"
            self.member_events.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]))
            self.member_events.put_targets(
                Rule=name,
                Targets=[{"Id": "central", "Arn": bus, "RoleArn": f"arn:aws:iam::{MEMBER_ACCOUNT}:role/to-central"}],
            )

        # When the member account's CloudTrail events arrive on its default bus
        sent = {}
        for path in sorted(EVENTS_DIR.glob("*.json")):
            envelope = json.loads(path.read_text())
            if envelope.get("detail-type") != "AWS API Call via CloudTrail":
                continue
            detail = dict(envelope["detail"], testMarker=path.name)
            self.member_events.put_events(
                Entries=[
                    {
                        "Source": envelope["source"],
                        "DetailType": envelope["detail-type"],
                        "Detail": json.dumps(detail),
                    }
                ]
            )
            sent[path.name] = envelope

        # Then successful AttachRolePolicy / PutRolePolicy reach the central IAM rule,
        # CreateNodegroup the central EKS rule, and failed or unrelated calls nothing
        def drain(url):
            markers = []
            while True:
                messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    return sorted(markers)
                for m in messages:
                    markers.append(json.loads(m["Body"])["detail"]["testMarker"])
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        def expected(kind):
            names = {"iam": ("AttachRolePolicy", "PutRolePolicy"), "eks": ("CreateNodegroup",)}[kind]
            return sorted(
                name
                for name, e in sent.items()
                if e["source"] == f"aws.{kind}" and e["detail"].get("eventName") in names and "errorCode" not in e["detail"]
            )

        iam, eks = drain(queues["CentralIamPolicyChangeRule"]), drain(queues["CentralEksCreateNodegroupRule"])
        self.assertTrue(expected("iam") and expected("eks"), "events/ has both kinds")
        self.assertEqual(iam, expected("iam"))
        self.assertEqual(eks, expected("eks"))
        self.assertIn("attach-denied.json", sent, "a failed call is among the events sent")


if __name__ == "__main__":
    unittest.main()
