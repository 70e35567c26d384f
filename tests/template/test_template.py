"""Tests of template.yaml: lint, event patterns by real EventBridge delivery (moto), the execution
role against the AWS calls the Rust adapters make, and the template's structure.

Run from the repository root:
    .venv/bin/python -m unittest discover -s tests/template -v
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import uuid
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
EVENTS_DIR = ROOT / "events"
ADAPTERS_DIR = ROOT / "shared" / "src" / "aws"
VENV_BIN = Path(sys.executable).parent

# The IAM and EKS rules whose patterns are tested by delivery.
PATTERN_RULES = ("IamPolicyChangeRule", "EksCreateNodegroupRule")

# Method names that follow `client.` in the adapters but are not AWS operations.
NOT_OPERATIONS = {"clone", "send", "into_paginator", "items", "build"}
# An SDK call written as a method call on a client expression, whitespace and newlines allowed:
# `self.client.get_role()`, `self.client(region).describe_nodegroup()`, `client\n  .publish()`.
SDK_CALL = re.compile(r"client(?:\([^)]*\))?\s*\.\s*([a-z_]+)\(\)")

OWN_ROLE_ARN = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${RoleName}"
ACCOUNT_ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"


def load_template():
    return cfn_yaml.load(str(TEMPLATE_PATH))


def as_list(value):
    return list(value) if isinstance(value, list) else [value]


def sub_text(value):
    """The string inside a `!Sub` (or a plain string)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        return value["Fn::Sub"]
    return value


def role_statements(template, logical_id="RemediatorRole"):
    statements = []
    for policy in template["Resources"][logical_id]["Properties"]["Policies"]:
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def pascal(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def operations_called_by_adapters():
    """`service:Operation` for every SDK call in shared/src/aws/{iam,eks,sns}.rs."""
    operations = set()
    for service in ("iam", "eks", "sns"):
        text = (ADAPTERS_DIR / f"{service}.rs").read_text()
        for method in SDK_CALL.findall(text):
            if method not in NOT_OPERATIONS:
                operations.add(f"{service}:{pascal(method)}")
    return operations


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lint(unittest.TestCase):
    def test_cfn_lint_passes(self):
        # Given the template, when cfn-lint (with the SAM transform) checks it, then it is clean.
        result = subprocess.run(
            [str(VENV_BIN / "cfn-lint"), str(TEMPLATE_PATH)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 0, f"cfn-lint failed:\n{result.stdout}{result.stderr}")


class EventPatternsByDelivery(unittest.TestCase):
    """The template's event patterns, created as rules in moto's EventBridge, deliver exactly the
    events they should to an SQS queue per rule."""

    @classmethod
    def setUpClass(cls):
        import boto3

        port = free_port()
        env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
        cls.server = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
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
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        endpoint = f"http://127.0.0.1:{port}"
        cls.events = session.client("events", endpoint_url=endpoint)
        cls.sqs = session.client("sqs", endpoint_url=endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        try:
            cls.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait()

    def create_rule_with_queue(self, logical_id, pattern):
        suffix = uuid.uuid4().hex[:8]
        queue_url = self.sqs.create_queue(QueueName=f"{logical_id}-{suffix}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule = f"{logical_id}-{suffix}"
        self.events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        self.events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
        return queue_url

    def drain(self, queue_url):
        markers = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return markers
            for message in messages:
                event = json.loads(message["Body"])
                markers.append(event["detail"].get("testMarker"))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def expected_rule(envelope):
        """Which rule should match, derived from the event's content alone."""
        detail = envelope.get("detail") or {}
        if envelope.get("detail-type") != "AWS API Call via CloudTrail" or "errorCode" in detail:
            return None
        source, name = envelope.get("source"), detail.get("eventName")
        if source == "aws.iam" and detail.get("eventSource") == "iam.amazonaws.com":
            if name in ("AttachRolePolicy", "PutRolePolicy"):
                return "IamPolicyChangeRule"
        if source == "aws.eks" and detail.get("eventSource") == "eks.amazonaws.com":
            if name == "CreateNodegroup":
                return "EksCreateNodegroupRule"
        return None

    def test_rules_deliver_exactly_the_expected_events(self):
        # Given each rule's EventPattern read from template.yaml, created in EventBridge with a queue
        template = load_template()
        queues = {
            logical_id: self.create_rule_with_queue(
                logical_id, template["Resources"][logical_id]["Properties"]["EventPattern"]
            )
            for logical_id in PATTERN_RULES
        }

        # and every events/ file plus synthesised look-alikes that must not match
        cases = []
        files = sorted(EVENTS_DIR.glob("*.json"))
        self.assertTrue(files, "no events/*.json found")
        for path in files:
            cases.append((path.name, json.loads(path.read_text())))
        attach = json.loads((EVENTS_DIR / "attach-admin-to-node-role.json").read_text())
        cases.append(("synthetic: source aws.s3", dict(attach, source="aws.s3")))
        cases.append(
            (
                "synthetic: console sign-in detail-type",
                dict(attach, **{"detail-type": "AWS Console Sign In via CloudTrail"}),
            )
        )

        # When each is put on the default bus with a unique marker
        expected = {logical_id: set() for logical_id in PATTERN_RULES}
        names = {}
        for name, envelope in cases:
            marker = uuid.uuid4().hex
            names[marker] = name
            detail = dict(envelope.get("detail") or {}, testMarker=marker)
            entry = {
                "Source": envelope["source"],
                "DetailType": envelope["detail-type"],
                "Detail": json.dumps(detail),
                "Resources": envelope.get("resources") or [],
            }
            result = self.events.put_events(Entries=[entry])
            self.assertEqual(result["FailedEntryCount"], 0, f"{name}: {result}")
            rule = self.expected_rule(envelope)
            if rule:
                expected[rule].add(marker)
        for logical_id in PATTERN_RULES:
            self.assertTrue(expected[logical_id], f"no positive case for {logical_id}")

        # Then each queue receives exactly its rule's events (the negatives are not vacuous: the
        # positives arrived through the same bus in the same run)
        delivered = {logical_id: [] for logical_id in PATTERN_RULES}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for logical_id, queue_url in queues.items():
                delivered[logical_id].extend(self.drain(queue_url))
            if all(expected[r] <= set(delivered[r]) for r in PATTERN_RULES):
                break
            time.sleep(0.2)
        time.sleep(0.5)  # let any wrongly matched stragglers land before the final count
        for logical_id, queue_url in queues.items():
            delivered[logical_id].extend(self.drain(queue_url))

        for logical_id in PATTERN_RULES:
            got = sorted(names.get(m, f"unknown marker {m}") for m in delivered[logical_id])
            want = sorted(names[m] for m in expected[logical_id])
            with self.subTest(rule=logical_id):
                self.assertEqual(got, want)


class ExecutionRoleMatchesCode(unittest.TestCase):
    def test_granted_actions_equal_the_operations_the_adapters_call(self):
        # Given the SDK calls in the adapters and the role's Allow statements
        called = operations_called_by_adapters()
        self.assertTrue(
            called,
            f"found no SDK calls in {ADAPTERS_DIR}/{{iam,eks,sns}}.rs: has the call style or the "
            "layout changed? Update SDK_CALL in this test.",
        )
        granted = set()
        for statement in role_statements(load_template()):
            if statement["Effect"] == "Allow":
                granted.update(
                    a for a in as_list(statement["Action"]) if a.split(":")[0] in ("iam", "eks", "sns")
                )
        # Then they are the same set: nothing missing (AccessDenied in production), nothing extra
        self.assertEqual(
            granted,
            called,
            f"\nmissing from the role: {sorted(called - granted)}"
            f"\ngranted but never called: {sorted(granted - called)}",
        )

    def test_no_wildcard_actions(self):
        for statement in role_statements(load_template()):
            for action in as_list(statement["Action"]):
                self.assertNotIn("*", action, f"{statement.get('Sid')}: {action}")

    def test_iam_writes_are_scoped_to_account_roles(self):
        writes = {"iam:DetachRolePolicy", "iam:DeleteRolePolicy"}
        seen = set()
        for statement in role_statements(load_template()):
            actions = set(as_list(statement["Action"]))
            if statement["Effect"] == "Allow" and actions & writes:
                seen |= actions & writes
                self.assertEqual([sub_text(r) for r in as_list(statement["Resource"])], [ACCOUNT_ROLES])
        self.assertEqual(seen, writes)

    def test_own_role_is_denied_policy_changes(self):
        # Given the role's name expression, the Deny (and the key policy) name that very role
        template = load_template()
        role_name = template["Resources"]["RemediatorRole"]["Properties"]["RoleName"]
        own_role_arn = {"Fn::Sub": [OWN_ROLE_ARN, {"RoleName": role_name}]}
        wanted = {"iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePolicy"}
        denies = [
            s
            for s in role_statements(template)
            if s["Effect"] == "Deny" and wanted <= set(as_list(s["Action"])) and as_list(s["Resource"]) == [own_role_arn]
        ]
        self.assertTrue(denies, "no Deny of policy changes on the function's own role")
        key_statements = template["Resources"]["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
        principals = [
            s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
            for s in key_statements
            if "ArnEquals" in s.get("Condition", {})
        ]
        self.assertEqual(principals, [own_role_arn])


class Structure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()
        cls.resources = cls.template["Resources"]

    def test_function_build_and_runtime(self):
        function = self.resources["RemediatorFunction"]
        props = function["Properties"]
        self.assertEqual(function["Type"], "AWS::Serverless::Function")
        self.assertEqual(props["Runtime"], "provided.al2023")
        self.assertEqual(props["Architectures"], ["arm64"])
        self.assertEqual(props["Handler"], "bootstrap")
        self.assertEqual(props["CodeUri"], ".")
        self.assertEqual(function["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(function["Metadata"]["BuildProperties"]["Binary"], "node-role-remediator")
        self.assertEqual(props["LoggingConfig"]["LogFormat"], "JSON")
        self.assertEqual(props["Environment"]["Variables"]["MODE"], {"Ref": "Mode"})

    def test_mode_defaults_to_dry_run(self):
        mode = self.template["Parameters"]["Mode"]
        self.assertEqual(mode["Default"], "dry-run")
        self.assertEqual(sorted(mode["AllowedValues"]), ["dry-run", "enforce"])

    def test_every_function_rule_retries_and_dead_letters(self):
        for logical_id in ("IamPolicyChangeRule", "EksCreateNodegroupRule", "SweepScheduleRule"):
            with self.subTest(rule=logical_id):
                targets = self.resources[logical_id]["Properties"]["Targets"]
                self.assertTrue(targets)
                for target in targets:
                    self.assertEqual(
                        target["RetryPolicy"], {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
                    )
                    self.assertEqual(target["DeadLetterConfig"]["Arn"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})

    def test_topic_is_encrypted_with_the_customer_managed_key(self):
        props = self.resources["NotificationTopic"]["Properties"]
        self.assertIn("KmsMasterKeyId", props)
        self.assertTrue(self.resources["TopicKey"]["Properties"]["EnableKeyRotation"])

    def test_forwarder_and_main_resources_carry_their_conditions(self):
        conditions = self.template["Conditions"]
        # HasNotificationEmail implies IsMain
        self.assertIn({"Condition": "IsMain"}, conditions["HasNotificationEmail"]["Fn::And"])
        forwarder = {k for k, r in self.resources.items() if r.get("Condition") == "IsForwarder"}
        self.assertEqual(forwarder, {"ForwarderRole", "ForwardingRule"})
        for logical_id, resource in self.resources.items():
            if logical_id not in forwarder:
                with self.subTest(resource=logical_id):
                    self.assertIn(resource.get("Condition"), ("IsMain", "HasNotificationEmail"))

    def test_forwarder_sends_the_same_events_to_the_main_default_bus(self):
        rule = self.resources["ForwardingRule"]["Properties"]
        self.assertEqual(rule["EventPattern"], self.resources["EksCreateNodegroupRule"]["Properties"]["EventPattern"])
        bus = "arn:${AWS::Partition}:events:${MainRegion}:${AWS::AccountId}:event-bus/default"
        self.assertEqual([sub_text(t["Arn"]) for t in rule["Targets"]], [bus])
        statements = role_statements(self.template, "ForwarderRole")
        self.assertEqual(
            [(s["Action"], sub_text(s["Resource"])) for s in statements], [("events:PutEvents", bus)]
        )

    def test_main_outside_us_east_1_is_refused(self):
        rule = self.template["Rules"]["MainStackNeedsUsEast1"]
        self.assertEqual(
            rule["Assertions"][0]["Assert"], {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
        )
        self.assertIn({"Fn::Equals": [{"Ref": "AllowNonUsEast1"}, "false"]}, rule["RuleCondition"]["Fn::And"])

    def test_outputs(self):
        outputs = self.template["Outputs"]
        for name in ("FunctionArn", "TopicArn", "DeadLetterQueueUrl"):
            self.assertEqual(outputs[name]["Condition"], "IsMain", name)
        self.assertEqual(outputs["ForwardingRuleArn"]["Condition"], "IsForwarder")


if __name__ == "__main__":
    unittest.main()
