"""Tests of template.yaml: lint, event patterns by real EventBridge delivery (moto), the execution
role against the AWS calls the Rust adapters make, and the template's structure.

Run from the repository root:
    .venv/bin/python -m unittest discover -s tests/template -v
"""

import fnmatch
import json
import re
import subprocess
import sys
import time
import unittest
import uuid
from pathlib import Path

import cfnlint
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import emulator  # noqa: E402  (scripts/emulator.py: the one start-up of the local emulator)

TEMPLATE_PATH = ROOT / "template.yaml"
AUDITOR_POLICY = ROOT / "docs" / "auditor-policy.json"
EVENTS_DIR = ROOT / "events"
ADAPTERS_DIR = ROOT / "shared" / "src" / "aws"
CORE_SRC = ROOT / "shared" / "src"
# The configuration's source: config.rs, or every file of config/ once it is a folder.
CONFIG_RS = CORE_SRC / "config.rs" if (CORE_SRC / "config.rs").exists() else CORE_SRC / "config"
VENV_BIN = Path(sys.executable).parent
# cfn-lint ships the IAM service authorization data (every action of every service).
IAM_ACTIONS_DATA = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"

# The IAM, EKS and EC2 rules whose patterns are tested by delivery.
PATTERN_RULES = ("IamPolicyChangeRule", "EksCreateNodegroupRule", "Ec2InstanceCredentialsRule")
# The rules the events/ files reach (the EC2 rule's events are tests/template/test_doors.py's).
FIXTURE_RULES = ("IamPolicyChangeRule", "EksCreateNodegroupRule")
# What each of them must deliver, written out from the events the function handles (not read
# from the template): (source, eventSource, event names), successful calls only.
RULE_EVENTS = {
    "IamPolicyChangeRule": (
        "aws.iam",
        "iam.amazonaws.com",
        {
            "AttachRolePolicy",
            "PutRolePolicy",
            "AddRoleToInstanceProfile",
            "UpdateAssumeRolePolicy",
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
        },
    ),
    "EksCreateNodegroupRule": ("aws.eks", "eks.amazonaws.com", {"CreateNodegroup", "CreateAccessEntry"}),
    "Ec2InstanceCredentialsRule": (
        "aws.ec2",
        "ec2.amazonaws.com",
        {
            "AssociateIamInstanceProfile",
            "ReplaceIamInstanceProfileAssociation",
            "ModifyInstanceMetadataOptions",
            "CreateLaunchTemplateVersion",
        },
    ),
}
# The rules that invoke the function, and those that send tamper alerts to the topic.
FUNCTION_RULES = (*PATTERN_RULES, "SweepScheduleRule")
TAMPER_RULES = ("TamperAlertRule", "TamperWatchRule")
# The central kind's rules on its organization event bus, which also invoke the function.
CENTRAL_RULES = tuple(f"Central{r}" for r in PATTERN_RULES)
# The forwarder kind's rules, each with the main rule whose pattern it forwards.
FORWARDING_RULES = {"ForwardingRule": "EksCreateNodegroupRule", "Ec2ForwardingRule": "Ec2InstanceCredentialsRule"}
ALARMS = ("FunctionErrorsAlarm", "FunctionThrottlesAlarm", "DeadLettersAlarm", "HeartbeatAlarm")
EMF_RS = next((p for p in (CORE_SRC / "telling" / "emf.rs", CORE_SRC / "emf.rs") if p.exists()), CORE_SRC / "emf.rs")
# Adapter files whose SDK calls need permissions; the file name is the IAM service prefix.
# sts.rs is left out on purpose: sts:GetCallerIdentity needs no permission.
ADAPTER_SERVICES = ("iam", "eks", "ec2", "sns", "securityhub", "cloudtrail")
# Permissions that are no SDK operation, each granted because these operations require it.
REQUIRED_BY = {"iam:PassRole": ("iam:AddRoleToInstanceProfile", "ec2:ReplaceIamInstanceProfileAssociation")}
# The writes that remediate a node role's policies, and those that undo a credential swap.
POLICY_WRITES = {"iam:DetachRolePolicy", "iam:DeleteRolePolicy"}
SWAP_WRITES = {
    "iam:RemoveRoleFromInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "ec2:ReplaceIamInstanceProfileAssociation",
    "iam:PassRole",
}
# RemoveNodeTrust=on's write: a trust policy edited on a role that is not a node role.
TRUST_WRITES = {"iam:UpdateAssumeRolePolicy"}
# Reads only door events make (which profile, which roles a policy is on); the audit reads neither.
EVENT_ONLY_READS = {"iam:GetInstanceProfile", "iam:ListEntitiesForPolicy"}

# Methods that follow `client` in the adapters but are not AWS operations.
NOT_OPERATIONS = {"clone", "config", "send", "into_paginator", "items", "build"}
# An SDK call written as a method call on a client expression, rustfmt line breaks allowed:
# `self.client.get_role()`, `self.client(region)?.describe_nodegroup()`, `client\n  .publish()`.
SDK_CALL = re.compile(r"\bclient\b(?:\([^()]*\))?\??\s*\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")

ACCOUNT_ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"
ACCOUNT_PROFILES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*"
ACCOUNT_INSTANCES = "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"
TO_EC2_ONLY = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
OWN_ROLE_ARN = {"Fn::GetAtt": ["RemediatorRole", "Arn"]}
MAIN_BUS = "arn:${AWS::Partition}:events:${MainRegion}:${AWS::AccountId}:event-bus/default"


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
    """Every statement that grants or denies something to the role: its inline `Policies` and any
    AWS::IAM::RolePolicy / AWS::IAM::Policy attached to it. Managed policies are refused outright
    (their contents are not in the template)."""
    return [statement for _, statement in gated_statements(template, logical_id)]


def gated_statements(template, logical_id):
    """role_statements' statements, each with what it exists under: (the condition of the policy
    resource, the condition of its `!If`), either None. -> [(gate, statement)]"""
    resources = template["Resources"]
    role = resources[logical_id]
    assert "ManagedPolicyArns" not in role["Properties"], f"{logical_id} must not use managed policies"
    documents = [(role.get("Condition"), p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])]
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::RolePolicy" and props.get("RoleName") == {"Ref": logical_id}:
            documents.append((resource.get("Condition"), props["PolicyDocument"]))
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": logical_id} in props.get(
            "Roles", []
        ):
            documents.append((resource.get("Condition"), props["PolicyDocument"]))
    gated = []
    for condition, document in documents:
        for raw in document["Statement"]:
            statement = present(raw)
            if statement is not None:
                when = raw["Fn::If"][0] if isinstance(raw, dict) and "Fn::If" in raw else None
                gated.append(((condition, when), statement))
    return gated


def roles(template):
    """The logical ids of the template's IAM roles."""
    return [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]


def write_gates(template, logical_id, writes):
    """{action: the gates of the Allow statements granting it} for each of `writes` the role has."""
    gates = {}
    for gate, statement in gated_statements(template, logical_id):
        if statement["Effect"] == "Allow":
            for action in set(as_list(statement["Action"])) & writes:
                gates.setdefault(action, set()).add(gate)
    return gates


def present(statement):
    """A statement as deployed when its condition holds (`!If [Cond, statement, !Ref AWS::NoValue]`,
    used for the central kind's extra statements); `None` for a bare NoValue."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        _, when_true, _ = statement["Fn::If"]
        return None if when_true == {"Ref": "AWS::NoValue"} else when_true
    return statement


def iam_actions_by_service():
    data = json.loads(IAM_ACTIONS_DATA.read_text())
    return {service: set(entry["Actions"]) for service, entry in data.items()}


def resource_types(action):
    """The resource types `service:Action` authorises against, by the service authorization data
    (empty: the action supports no resource-level permissions)."""
    service, _, name = action.partition(":")
    data = json.loads(IAM_ACTIONS_DATA.read_text())
    return set(data[service]["Actions"][name.lower()].get("Resources", []))


def with_required_permissions(operations):
    """The operations plus the permissions (REQUIRED_BY) that some of them require."""
    operations = set(operations)
    return operations | {p for p, needed_by in REQUIRED_BY.items() if set(needed_by) & operations}


def pascal(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def operations_called_by_adapters():
    """(`service:Operation` for every SDK call in shared/src/aws/{iam,eks,sns}.rs, methods on a
    client that are neither operations nor known helpers)."""
    known = iam_actions_by_service()
    operations, unknown = set(), set()
    for service in ADAPTER_SERVICES:
        path = ADAPTERS_DIR / f"{service}.rs"
        if not path.exists():
            continue
        for method in SDK_CALL.findall(path.read_text()):
            if method in NOT_OPERATIONS:
                continue
            if pascal(method).lower() in known[service]:
                operations.add(f"{service}:{pascal(method)}")
            else:
                unknown.add(f"{path.name}: client.{method}()")
    return operations, unknown


def normalised(actions):
    """IAM action names are case-insensitive (`GetOpenIDConnectProvider` vs get_open_id_...)."""
    return {a.lower() for a in actions}


# Stand-ins for what CloudFormation resolves at deploy time, to create the template's rules and
# alarms as they would be in an account.
ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/guard/4f0c5f40-1e2d-11f0-9c1b-0a1b2c3d4e5f"
DEPLOYED = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "guard",
    "AWS::StackId": STACK_ID,
    "IamPolicyChangeRule": "guard-IamPolicyChangeRule-1A2B3C",
    "EksCreateNodegroupRule": "guard-EksCreateNodegroupRule-4D5E6F",
    "Ec2InstanceCredentialsRule": "guard-Ec2InstanceCredentialsRule-Y7Z8A9",
    "SweepScheduleRule": "guard-SweepScheduleRule-7G8H9I",
    "TamperAlertRule": "guard-TamperAlertRule-J1K2L3",
    "RemediatorFunction": "guard-RemediatorFunction-M4N5O6",
    "RemediatorRole": "guard-RemediatorRole-P7Q8R9",
    "NotificationTopic": f"arn:aws:sns:us-east-1:{ACCOUNT}:guard-NotificationTopic-S1T2U3",
    "DeadLetterQueue.QueueName": "guard-DeadLetterQueue-V4W5X6",
    "DeadLetterQueue.Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:guard-DeadLetterQueue-V4W5X6",
}


def resolve(value, names=DEPLOYED):
    """The template fragment with the intrinsic functions it uses evaluated against `names`."""
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return names[arg]
        if key == "Fn::GetAtt":
            return names[".".join(arg)]
        if key == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], arg)
        if key == "Fn::Join":
            return arg[0].join(resolve(arg[1], names))
        if key == "Fn::Select":
            return resolve(arg[1], names)[int(arg[0])]
        if key == "Fn::Split":
            return resolve(arg[1], names).split(arg[0])
    return {k: resolve(v, names) for k, v in value.items()}


def start_moto():
    """A moto server on a free loopback port, answering. -> (process, endpoint URL)"""
    return emulator.start_moto()


def stop_moto(server):
    emulator.stop_moto(server)


class Lint(unittest.TestCase):
    def test_cfn_lint_passes(self):
        # Given the template, when cfn-lint (SAM transform included) checks it, then it is clean.
        result = subprocess.run(
            [str(VENV_BIN / "cfn-lint"), str(TEMPLATE_PATH)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 0, f"cfn-lint failed:\n{result.stdout}{result.stderr}")

    def test_every_policy_action_exists(self):
        # cfn-lint does not check action names inside policy documents (a typo such as
        # iam:UntagRoles passes it): check every action of every policy against the
        # service authorization data that cfn-lint ships. Wildcards must match some action.
        known = iam_actions_by_service()
        template = load_template()

        def documents(value):
            if isinstance(value, dict):
                if "Statement" in value and isinstance(value["Statement"], list):
                    yield value
                for child in value.values():
                    yield from documents(child)
            elif isinstance(value, list):
                for child in value:
                    yield from documents(child)

        checked = 0
        for logical_id, resource in template["Resources"].items():
            for document in documents(resource.get("Properties", {})):
                for statement in document["Statement"]:
                    for action in as_list(statement.get("Action", [])):
                        service, _, name = action.partition(":")
                        with self.subTest(resource=logical_id, action=action):
                            self.assertIn(service, known, f"unknown service prefix in {action}")
                            matches = fnmatch.filter(known[service], name.lower())
                            self.assertTrue(matches, f"{logical_id}: no such action {action}")
                        checked += 1
        self.assertGreater(checked, 30, "found suspiciously few policy actions")


class Delivery(unittest.TestCase):
    """moto's EventBridge and SQS (us-east-1), and what every delivery test of a pattern does: a
    rule per pattern with a queue, each case put with a unique marker, then exactly the expected
    markers in each queue. No tests of its own (tests/template/test_doors.py shares it)."""

    @classmethod
    def setUpClass(cls):
        import boto3

        cls.server, cls.endpoint = start_moto()
        cls.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        cls.events = cls.session.client("events", endpoint_url=cls.endpoint)
        cls.sqs = cls.session.client("sqs", endpoint_url=cls.endpoint)
        cls.cloudwatch = cls.session.client("cloudwatch", endpoint_url=cls.endpoint)

    @classmethod
    def tearDownClass(cls):
        stop_moto(cls.server)

    def queue(self, name):
        """A new queue. -> (URL, ARN)"""
        url = self.sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        return url, self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def create_rule_with_queue(self, logical_id, pattern):
        queue_url, queue_arn = self.queue(logical_id)
        rule = f"{logical_id}-{uuid.uuid4().hex[:8]}"
        self.events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        self.events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
        return queue_url

    def pattern_queues(self, logical_ids=PATTERN_RULES):
        """Each rule's EventPattern read from template.yaml, created with a queue. -> {rule: URL}"""
        resources = load_template()["Resources"]
        return {r: self.create_rule_with_queue(r, resources[r]["Properties"]["EventPattern"]) for r in logical_ids}

    def put_cases(self, cases, rule_of, events=None):
        """Puts each (name, envelope) on the default bus of `events` (us-east-1's by default)
        with a unique marker. -> ({marker: name}, {rule: {marker, ...}} as `rule_of` expects)"""
        names, expected = {}, {}
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
            result = (events or self.events).put_events(Entries=[entry])
            self.assertEqual(result["FailedEntryCount"], 0, f"{name}: {result}")
            rule = rule_of(name, envelope)
            if rule:
                expected.setdefault(rule, set()).add(marker)
        return names, expected

    def assert_delivered(self, queues, names, expected):
        """Each queue receives exactly its rule's markers. The negatives are not vacuous: the
        positives arrive through the same bus in the same run, and the stragglers get a grace
        period after the last positive before the final count."""
        unknown = set(expected) - set(queues)
        self.assertFalse(unknown, f"cases expected by rules without a queue: {unknown}")
        delivered = {logical_id: [] for logical_id in queues}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for logical_id, queue_url in queues.items():
                delivered[logical_id].extend(self.drain(queue_url))
            if all(expected.get(r, set()) <= set(delivered[r]) for r in queues):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        for logical_id, queue_url in queues.items():
            delivered[logical_id].extend(self.drain(queue_url))
        for logical_id in queues:
            got = sorted(names.get(m, f"unknown marker {m}") for m in delivered[logical_id])
            want = sorted(names[m] for m in expected.get(logical_id, ()))
            with self.subTest(rule=logical_id):
                self.assertEqual(got, want)

    def drain(self, queue_url):
        markers = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return markers
            for message in messages:
                event = json.loads(message["Body"])
                markers.append(event["detail"].get("testMarker"))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def expected_rule(envelope):
        """Which rule should match, derived from the event's content alone (so a new file in
        events/ is covered without touching this test)."""
        detail = envelope.get("detail") or {}
        if envelope.get("detail-type") != "AWS API Call via CloudTrail" or "errorCode" in detail:
            return None
        for rule, (source, event_source, names) in RULE_EVENTS.items():
            if (envelope.get("source"), detail.get("eventSource")) == (source, event_source):
                if detail.get("eventName") in names:
                    return rule
        return None

    @staticmethod
    def api_call(service, name, request, ip="203.0.113.7", invoked_by=None, error=None, region="us-east-1"):
        """A CloudTrail management event as EventBridge delivers it, in the shape of real
        records (Lambda's functionName is the ARN even when the caller gave the name)."""
        identity = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory",
            "accountId": ACCOUNT,
        }
        if invoked_by:
            identity["invokedBy"] = invoked_by
        detail = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": "2026-11-23T10:00:00Z",
            "eventSource": f"{service}.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": "cloudformation.amazonaws.com" if invoked_by else "aws-cli/2.17.0",
            "requestParameters": request,
            "responseElements": None,
            "eventID": str(uuid.uuid4()),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
        }
        if error:
            detail["errorCode"] = error
        return {"Source": f"aws.{service}", "DetailType": "AWS API Call via CloudTrail", "Detail": detail}


class EventPatternsByDelivery(Delivery):
    """The template's event patterns, created as rules in moto's EventBridge, deliver exactly the
    events they should to an SQS queue per rule."""

    def test_rules_deliver_exactly_the_expected_events(self):
        # Given each rule's EventPattern read from template.yaml, created in EventBridge with a queue
        queues = self.pattern_queues()

        # and every events/ file plus synthesised look-alikes that must not match
        cases = []
        files = sorted(EVENTS_DIR.glob("*.json"))
        self.assertTrue(files, "no events/*.json found")
        for path in files:
            cases.append((path.name, json.loads(path.read_text())))
        attach = json.loads((EVENTS_DIR / "attach-admin-to-node-role.json").read_text())
        nodegroup = json.loads((EVENTS_DIR / "create-nodegroup.json").read_text())
        cases += [
            ("synthetic: AttachRolePolicy detail from source aws.s3", dict(attach, source="aws.s3")),
            (
                "synthetic: AttachRolePolicy with detail-type AWS Console Sign In via CloudTrail",
                dict(attach, **{"detail-type": "AWS Console Sign In via CloudTrail"}),
            ),
            (
                "synthetic: CreateNodegroup detail from source aws.iam",
                dict(nodegroup, source="aws.iam"),
            ),
            (
                "synthetic: failed CreateNodegroup",
                dict(nodegroup, detail=dict(nodegroup["detail"], errorCode="ResourceInUseException")),
            ),
        ]

        # When each is put on the default bus with a unique marker
        names, expected = self.put_cases(cases, lambda _, envelope: self.expected_rule(envelope))
        for logical_id in FIXTURE_RULES:
            self.assertTrue(expected.get(logical_id), f"no positive case for {logical_id}")
        self.assertTrue(len(cases) > sum(len(markers) for markers in expected.values()), "no negative case at all")

        # Then each queue receives exactly its rule's events (none of them the EC2 rule's)
        self.assert_delivered(queues, names, expected)

    # ------------------------------------------------------------------ tamper alerts

    def test_tamper_rules_alert_on_the_guards_resources_only(self):
        # Given both tamper rules as deployed, each delivering its transformed alert to a queue
        resources = load_template()["Resources"]
        alert_rule = DEPLOYED["TamperAlertRule"]
        watch_rule = resolve(resources["TamperWatchRule"]["Properties"]["Name"])
        self.assertRegex(watch_rule, r"^eks-node-role-guard-tamper-watch-[0-9a-f]{12}$")
        self.assertLessEqual(len(watch_rule), 64)
        queues = {}
        for logical_id, rule_name in (("TamperAlertRule", alert_rule), ("TamperWatchRule", watch_rule)):
            props = resolve(resources[logical_id]["Properties"])
            (target,) = props["Targets"]
            self.assertEqual(target["Arn"], DEPLOYED["NotificationTopic"], "alerts go straight to the topic")
            queue_url = self.sqs.create_queue(QueueName=f"{logical_id}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.events.put_rule(Name=rule_name, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED")
            self.events.put_targets(
                Rule=rule_name,
                Targets=[{"Id": "queue", "Arn": queue_arn, "InputTransformer": target["InputTransformer"]}],
            )
            queues[logical_id] = queue_url

        function = DEPLOYED["RemediatorFunction"]
        function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"
        topic = DEPLOYED["NotificationTopic"]
        trail = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/management"
        cfn = {"ip": "cloudformation.amazonaws.com", "invoked_by": "cloudformation.amazonaws.com"}
        alert, watch = {"TamperAlertRule"}, {"TamperWatchRule"}
        cases = [
            # the guard's rules, its watcher included
            (
                "DisableRule on the IAM rule",
                ("events", "DisableRule", {"name": DEPLOYED["IamPolicyChangeRule"]}),
                alert,
            ),
            (
                "DeleteRule on the sweep schedule",
                ("events", "DeleteRule", {"name": DEPLOYED["SweepScheduleRule"]}),
                alert,
            ),
            (
                "DisableRule on the EC2 rule",
                ("events", "DisableRule", {"name": DEPLOYED["Ec2InstanceCredentialsRule"]}),
                alert,
            ),
            (
                "PutRule on the CreateNodegroup rule",
                ("events", "PutRule", {"name": DEPLOYED["EksCreateNodegroupRule"], "eventPattern": "{}"}),
                alert,
            ),
            (
                "RemoveTargets from the IAM rule",
                ("events", "RemoveTargets", {"rule": DEPLOYED["IamPolicyChangeRule"], "ids": ["node-role-remediator"]}),
                alert,
            ),
            (
                "PutTargets on the sweep schedule",
                ("events", "PutTargets", {"rule": DEPLOYED["SweepScheduleRule"], "targets": []}),
                alert,
            ),
            ("DisableRule on the watcher", ("events", "DisableRule", {"name": watch_rule}), alert),
            ("DisableRule on the tamper alert rule", ("events", "DisableRule", {"name": alert_rule}), watch),
            (
                "RemoveTargets from the tamper alert rule",
                ("events", "RemoveTargets", {"rule": alert_rule, "ids": ["notification-topic"]}),
                watch,
            ),
            # the function, by name and by ARN, with Lambda's versioned event names
            (
                "UpdateFunctionConfiguration20150331v2",
                ("lambda", "UpdateFunctionConfiguration20150331v2", {"functionName": function, "environment": {}}),
                alert,
            ),
            (
                "UpdateFunctionCode20150331v2",
                ("lambda", "UpdateFunctionCode20150331v2", {"functionName": function_arn, "publish": True}),
                alert,
            ),
            ("DeleteFunction20150331", ("lambda", "DeleteFunction20150331", {"functionName": function_arn}), alert),
            (
                "PutFunctionConcurrency20171031",
                (
                    "lambda",
                    "PutFunctionConcurrency20171031",
                    {"functionName": function, "reservedConcurrentExecutions": 0},
                ),
                alert,
            ),
            (
                "DeleteFunctionConcurrency20171031",
                ("lambda", "DeleteFunctionConcurrency20171031", {"functionName": function}),
                alert,
            ),
            (
                "AddPermission20150331v2",
                ("lambda", "AddPermission20150331v2", {"functionName": function, "statementId": "x"}),
                alert,
            ),
            (
                "RemovePermission20150331v2",
                ("lambda", "RemovePermission20150331v2", {"functionName": f"{function}:$LATEST", "statementId": "x"}),
                alert,
            ),
            (
                "UpdateFunctionEventInvokeConfig",
                ("lambda", "UpdateFunctionEventInvokeConfig", {"functionName": function_arn + ":$LATEST"}),
                alert,
            ),
            # the topic and its subscriptions
            (
                "SetTopicAttributes",
                ("sns", "SetTopicAttributes", {"topicArn": topic, "attributeName": "Policy"}),
                alert,
            ),
            (
                "Subscribe",
                ("sns", "Subscribe", {"topicArn": topic, "protocol": "https", "endpoint": "https://x"}),
                alert,
            ),
            (
                "Unsubscribe",
                ("sns", "Unsubscribe", {"subscriptionArn": f"{topic}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}),
                alert,
            ),
            (
                "SetSubscriptionAttributes",
                (
                    "sns",
                    "SetSubscriptionAttributes",
                    {
                        "subscriptionArn": f"{topic}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                        "attributeName": "FilterPolicy",
                    },
                ),
                alert,
            ),
            ("DeleteTopic", ("sns", "DeleteTopic", {"topicArn": topic}), alert),
            # the execution role
            (
                "DeleteRolePolicy on the guard's role",
                (
                    "iam",
                    "DeleteRolePolicy",
                    {"roleName": DEPLOYED["RemediatorRole"], "policyName": "node-role-remediator"},
                ),
                alert,
            ),
            (
                "AttachRolePolicy on the guard's role",
                (
                    "iam",
                    "AttachRolePolicy",
                    {"roleName": DEPLOYED["RemediatorRole"], "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                ),
                alert,
            ),
            # CloudTrail, any trail
            ("StopLogging", ("cloudtrail", "StopLogging", {"name": trail}), alert),
            ("DeleteTrail", ("cloudtrail", "DeleteTrail", {"name": "management"}), alert),
            ("UpdateTrail", ("cloudtrail", "UpdateTrail", {"name": trail, "isMultiRegionTrail": False}), alert),
            (
                "PutEventSelectors",
                ("cloudtrail", "PutEventSelectors", {"trailName": None, "name": trail, "eventSelectors": []}),
                alert,
            ),
            # the stack
            ("DeleteStack on the guard's stack", ("cloudformation", "DeleteStack", {"stackName": "guard"}), alert),
            ("DeleteStack by stack id", ("cloudformation", "DeleteStack", {"stackName": STACK_ID}), alert),
            # not alerts: other resources, reads, failed calls, CloudFormation's own calls
            ("DisableRule on an unrelated rule", ("events", "DisableRule", {"name": "nightly-report"}), set()),
            (
                "PutTargets on an unrelated rule",
                ("events", "PutTargets", {"rule": "nightly-report", "targets": []}),
                set(),
            ),
            (
                "UpdateFunctionConfiguration on another function",
                ("lambda", "UpdateFunctionConfiguration20150331v2", {"functionName": "payments"}),
                set(),
            ),
            (
                "UpdateFunctionCode on a look-alike function",
                (
                    "lambda",
                    "UpdateFunctionCode20150331v2",
                    {"functionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x{function}"},
                ),
                set(),
            ),
            (
                "GetFunction on the guard's function",
                ("lambda", "GetFunction20150331v2", {"functionName": function}),
                set(),
            ),
            ("Invoke-ish CreateFunction", ("lambda", "CreateFunction20150331", {"functionName": function}), set()),
            (
                "SetTopicAttributes on another topic",
                ("sns", "SetTopicAttributes", {"topicArn": topic + "-other"}),
                set(),
            ),
            (
                "Unsubscribe from another topic",
                ("sns", "Unsubscribe", {"subscriptionArn": f"{topic}-other:0f1e2d3c"}),
                set(),
            ),
            (
                "DeleteRolePolicy on another role",
                ("iam", "DeleteRolePolicy", {"roleName": "eks-node-prod", "policyName": "x"}),
                set(),
            ),
            ("StartLogging", ("cloudtrail", "StartLogging", {"name": trail}), set()),
            ("DeleteStack on another stack", ("cloudformation", "DeleteStack", {"stackName": "payments"}), set()),
            (
                "a denied DisableRule on the IAM rule",
                (
                    "events",
                    "DisableRule",
                    {"name": DEPLOYED["IamPolicyChangeRule"]},
                    {"error": "AccessDeniedException"},
                ),
                set(),
            ),
            (
                "CloudFormation updating the IAM rule",
                ("events", "PutRule", {"name": DEPLOYED["IamPolicyChangeRule"]}, cfn),
                set(),
            ),
            (
                "CloudFormation updating the tamper alert rule",
                ("events", "PutTargets", {"rule": alert_rule, "targets": []}, cfn),
                set(),
            ),
            (
                "CloudFormation updating the function",
                ("lambda", "UpdateFunctionCode20150331v2", {"functionName": function}, cfn),
                set(),
            ),
            ("CloudFormation setting the topic policy", ("sns", "SetTopicAttributes", {"topicArn": topic}, cfn), set()),
        ]

        # When each call is put on the default bus
        expected = {"TamperAlertRule": {}, "TamperWatchRule": {}}
        for name, call, rules in cases:
            service, event_name, request, *options = call
            options = options[0] if options else {}
            entry = self.api_call(service, event_name, request, **options)
            event_id = entry["Detail"]["eventID"]
            result = self.events.put_events(Entries=[dict(entry, Detail=json.dumps(entry["Detail"]))])
            self.assertEqual(result["FailedEntryCount"], 0, f"{name}: {result}")
            for rule in rules:
                expected[rule][event_id] = (name, entry["Detail"])

        # Then each rule's queue receives exactly its alerts, as readable messages
        def received(queue_url):
            bodies = []
            while True:
                messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    return bodies
                for message in messages:
                    bodies.append(json.loads(message["Body"]))
                    self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

        delivered = {rule: [] for rule in queues}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for rule, queue_url in queues.items():
                delivered[rule].extend(received(queue_url))
            if all(len(delivered[r]) >= len(expected[r]) for r in queues):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        for rule, queue_url in queues.items():
            delivered[rule].extend(received(queue_url))

        for rule in queues:
            with self.subTest(rule=rule):
                got = sorted(expected[rule].get(m["eventID"], (f"unexpected {m}",))[0] for m in delivered[rule])
                self.assertEqual(got, sorted(n for n, _ in expected[rule].values()))
                for message in delivered[rule]:
                    _, detail = expected[rule][message["eventID"]]
                    self.assertTrue(
                        message["alert"].startswith(f"eks-node-role-guard TAMPER ALERT: {detail['eventName']} ("),
                        message["alert"],
                    )
                    self.assertIn(f"account {ACCOUNT}, region us-east-1", message["alert"])
                    self.assertEqual(message["userIdentity"], detail["userIdentity"])
                    self.assertEqual(message["requestParameters"], detail["requestParameters"])
                    self.assertEqual(message["sourceIPAddress"], detail["sourceIPAddress"])

    def test_alarms_are_accepted_and_the_heartbeat_counts_sweeps(self):
        # Given the template's alarms as deployed (alarm topic not set), created in CloudWatch
        resources = load_template()["Resources"]
        names = dict(DEPLOYED, HeartbeatSeconds=43200, Mode="enforce")
        for logical_id in ALARMS:
            # (the actions are an !If on AlarmTopicArn, tested in Structure)
            props = {k: v for k, v in resources[logical_id]["Properties"].items() if not k.endswith("Actions")}
            props = resolve(props, names)
            for key in ("AlarmActions", "OKActions"):
                props[key] = [DEPLOYED["NotificationTopic"]]
            self.cloudwatch.put_metric_alarm(AlarmName=f"guard-{logical_id}", **props)
        alarms = {a["AlarmName"]: a for a in self.cloudwatch.describe_alarms(AlarmNamePrefix="guard-")["MetricAlarms"]}
        self.assertEqual(set(alarms), {f"guard-{a}" for a in ALARMS})
        heartbeat = alarms["guard-HeartbeatAlarm"]
        self.assertEqual(heartbeat["TreatMissingData"], "breaching")
        self.assertEqual(heartbeat["AlarmActions"], [DEPLOYED["NotificationTopic"]])

        def sweep(mode):
            """A sweep's EMF line as CloudWatch extracts it: one stream per dimension set."""
            for dimensions in ([("Mode", mode)], [("Mode", mode), ("Outcome", "sweep_completed")]):
                self.cloudwatch.put_metric_data(
                    Namespace="EKSNodeRoleGuard",
                    MetricData=[
                        {
                            "MetricName": "SweepsCompleted",
                            "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
                            "Value": 1,
                            "Unit": "Count",
                        }
                    ],
                )

        def heartbeat_sum():
            """What the heartbeat's own query (namespace, metric, dimensions, statistic, period) sees."""
            now = time.time()
            datapoints = self.cloudwatch.get_metric_statistics(
                Namespace=heartbeat["Namespace"],
                MetricName=heartbeat["MetricName"],
                Dimensions=heartbeat["Dimensions"],
                StartTime=now - heartbeat["Period"],
                EndTime=now + 60,
                Period=heartbeat["Period"],
                Statistics=[heartbeat["Statistic"]],
            )["Datapoints"]
            return sum(d[heartbeat["Statistic"]] for d in datapoints)

        # When only a stack in the other mode sweeps, the enforce heartbeat sees nothing
        sweep("dry-run")
        self.assertEqual(heartbeat_sum(), 0)
        # and once its own mode sweeps, it sees the sweep
        sweep("enforce")
        self.assertGreaterEqual(heartbeat_sum(), heartbeat["Threshold"])


class ExecutionRoleMatchesCode(unittest.TestCase):
    def test_granted_actions_equal_the_operations_the_adapters_call(self):
        # Given the SDK calls in the adapters and the role's Allow statements
        missing_files = [f"{s}.rs" for s in ADAPTER_SERVICES if not (ADAPTERS_DIR / f"{s}.rs").exists()]
        self.assertFalse(missing_files, f"adapters not found in {ADAPTERS_DIR}: {missing_files}")
        called, unknown = operations_called_by_adapters()
        self.assertTrue(
            called,
            f"found no SDK calls in {ADAPTERS_DIR}/{{iam,eks,sns}}.rs: has the call style or the "
            "layout changed? Update SDK_CALL in this test.",
        )
        self.assertFalse(
            unknown,
            "methods called on a client that are not operations of the service; add them to "
            f"NOT_OPERATIONS if they are helpers: {sorted(unknown)}",
        )
        for service in ADAPTER_SERVICES:
            self.assertTrue(any(op.startswith(f"{service}:") for op in called), f"no SDK call found in {service}.rs")
        granted = set()
        for statement in role_statements(load_template()):
            if statement["Effect"] == "Allow":
                granted.update(a for a in as_list(statement["Action"]) if a.split(":")[0] in ADAPTER_SERVICES)
        # Then they are the same set, with the permissions those calls require (iam:PassRole):
        # nothing missing (AccessDenied in production), nothing extra
        needed = with_required_permissions(called)
        self.assertEqual(
            normalised(granted),
            normalised(needed),
            f"\nmissing from the role: {sorted(normalised(needed) - normalised(granted))}"
            f"\ngranted but never called: {sorted(normalised(granted) - normalised(needed))}",
        )

    def test_no_wildcard_actions(self):
        for statement in role_statements(load_template()):
            for action in as_list(statement["Action"]):
                self.assertNotIn("*", action, f"{statement.get('Sid')}: {action}")

    def test_only_list_calls_without_resource_types_have_a_wildcard_resource(self):
        wildcards = 0
        for statement in role_statements(load_template()):
            if "*" in as_list(statement["Resource"]):
                wildcards += 1
                self.assertIn(
                    as_list(statement["Action"]),
                    (
                        ["eks:ListClusters"],
                        ["cloudtrail:DescribeTrails"],
                        ["organizations:ListAccounts"],
                        ["ec2:DescribeInstances", "ec2:DescribeIamInstanceProfileAssociations"],
                    ),
                    statement.get("Sid"),
                )
                # and the service authorization data agrees that none of them can be scoped
                for action in as_list(statement["Action"]):
                    self.assertEqual(resource_types(action), set(), action)
        self.assertEqual(wildcards, 4)

    def test_instance_and_profile_reads_are_scoped_like_the_role_reads(self):
        # Given the role's Allow statements as (action, resource)
        granted = {
            (action, sub_text(resource))
            for statement in role_statements(load_template())
            if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])
            if action.split(":")[0] in ("iam", "ec2")
            for resource in as_list(statement["Resource"])
        }
        # Then the discovery of node roles from instances reads instances anywhere (no resource
        # type), the profiles as profiles and a role's profiles through the role, as the role reads
        self.assertLessEqual(
            {
                ("ec2:DescribeInstances", "*"),
                ("ec2:DescribeIamInstanceProfileAssociations", "*"),
                ("iam:ListInstanceProfiles", ACCOUNT_PROFILES),
                ("iam:ListInstanceProfilesForRole", ACCOUNT_ROLES),
                ("iam:GetRole", ACCOUNT_ROLES),
            },
            granted,
        )
        self.assertEqual(resource_types("iam:ListInstanceProfilesForRole"), {"role"})

    def test_swap_writes_are_scoped_to_the_accounts_profiles_and_instances(self):
        scopes = {
            "iam:RemoveRoleFromInstanceProfile": ACCOUNT_PROFILES,
            "iam:AddRoleToInstanceProfile": ACCOUNT_PROFILES,
            "ec2:ReplaceIamInstanceProfileAssociation": ACCOUNT_INSTANCES,
            "iam:PassRole": ACCOUNT_ROLES,
        }
        seen = set()
        for statement in role_statements(load_template()):
            actions = set(as_list(statement["Action"]))
            if statement["Effect"] == "Allow" and actions & SWAP_WRITES:
                # one resource type per statement, so no write reaches another type's ARNs
                self.assertEqual(len({scopes[a] for a in actions}), 1, statement.get("Sid"))
                self.assertLessEqual(actions, SWAP_WRITES, statement.get("Sid"))
                for action in actions:
                    self.assertEqual([sub_text(r) for r in as_list(statement["Resource"])], [scopes[action]], action)
                seen |= actions
        self.assertEqual(seen, SWAP_WRITES)

    def test_pass_role_is_only_to_ec2_and_never_of_the_own_role(self):
        # Given every statement naming iam:PassRole
        statements = role_statements(load_template())
        passes = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
        allows = [s for s in passes if s["Effect"] == "Allow"]
        # Then the one Allow grants PassRole alone, on the account's roles, to EC2 only
        self.assertEqual(len(allows), 1)
        (allow,) = allows
        self.assertEqual(as_list(allow["Action"]), ["iam:PassRole"])
        self.assertEqual(sub_text(allow["Resource"]), ACCOUNT_ROLES)
        self.assertEqual(allow.get("Condition"), TO_EC2_ONLY)
        # and the function may not pass its own role (onto an instance profile, to any instance)
        denies = [s for s in passes if s["Effect"] == "Deny"]
        self.assertEqual([s["Resource"] for s in denies], [OWN_ROLE_ARN])

    def test_swap_writes_exist_exactly_where_the_policy_writes_do(self):
        # Given every role of the template and what each Allow write exists under
        template = load_template()
        with_writes = 0
        for logical_id in roles(template):
            with self.subTest(role=logical_id):
                policy = write_gates(template, logical_id, POLICY_WRITES)
                swap = write_gates(template, logical_id, SWAP_WRITES)
                # Then a role has all of the swap writes if it has the policy writes, none otherwise
                self.assertEqual(set(swap), SWAP_WRITES if policy else set())
                # and under the same conditions (today: the main kinds' policy, in every mode)
                gates = set().union(*policy.values()) if policy else set()
                for action, gate in swap.items():
                    self.assertEqual(gate, gates, action)
                with_writes += bool(policy)
        self.assertEqual(with_writes, 1, "only the function's role remediates")

    def test_iam_writes_are_scoped_to_account_roles(self):
        writes = POLICY_WRITES
        seen = set()
        for statement in role_statements(load_template()):
            actions = set(as_list(statement["Action"]))
            if statement["Effect"] == "Allow" and actions & writes:
                seen |= actions & writes
                self.assertEqual([sub_text(r) for r in as_list(statement["Resource"])], [ACCOUNT_ROLES])
        self.assertEqual(seen, writes)

    def test_own_role_is_denied_every_policy_change(self):
        # Given the role's statements, a Deny covers every write on roles the Allow statements
        # grant (PassRole included; the profile writes authorise against profiles, not roles) and
        # the other role writes, on the function's own role ARN
        statements = role_statements(load_template())
        allowed_iam = {
            a
            for s in statements
            if s["Effect"] == "Allow"
            for a in as_list(s["Action"])
            if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List")) and "role" in resource_types(a)
        }
        self.assertIn("iam:PassRole", allowed_iam)
        wanted = allowed_iam | {"iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"}
        denies = [s for s in statements if s["Effect"] == "Deny" and as_list(s["Resource"]) == [OWN_ROLE_ARN]]
        self.assertEqual(len(denies), 1, "expected one Deny on the function's own role")
        self.assertLessEqual(wanted, set(as_list(denies[0]["Action"])))

    def test_kms_and_sns_are_scoped_to_this_stack(self):
        statements = {s["Sid"]: s for s in role_statements(load_template())}
        self.assertEqual(statements["PublishNotifications"]["Resource"], {"Ref": "NotificationTopic"})
        kms = statements["EncryptNotifications"]
        self.assertEqual(kms["Resource"], {"Fn::GetAtt": ["TopicKey", "Arn"]})
        self.assertEqual(
            sub_text(kms["Condition"]["StringEquals"]["kms:ViaService"]), "sns.${AWS::Region}.amazonaws.com"
        )
        self.assertEqual(
            statements["SendFailedInvocationsToDlq"]["Resource"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        )
        self.assertEqual(statements["WriteOwnLogs"]["Resource"], {"Fn::GetAtt": ["LogGroup", "Arn"]})


class AuditorPolicy(unittest.TestCase):
    def test_the_auditor_reads_what_the_function_reads_and_writes_nothing(self):
        # Given the function's IAM, EKS and EC2 grants as (action, resource), in the auditor
        # policy's notation (aws partition, any account: the audit also runs in members)
        def notation(resource):
            text = sub_text(resource)
            return text.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", "*")

        def scoped(statements):
            return {
                (action, notation(resource))
                for statement in statements
                if statement["Effect"] == "Allow"
                for action in as_list(statement["Action"])
                if action.split(":")[0] in ("iam", "eks", "ec2")
                for resource in as_list(statement["Resource"])
            }

        function = scoped(role_statements(load_template()))
        reads = {(a, r) for a, r in function if a not in POLICY_WRITES | SWAP_WRITES | TRUST_WRITES | EVENT_ONLY_READS}
        self.assertIn(("ec2:DescribeInstances", "*"), reads)
        # Then docs/auditor-policy.json grants exactly the reads, as scoped, and no write
        auditor = json.loads(AUDITOR_POLICY.read_text())
        self.assertEqual(scoped(auditor["Statement"]), reads)
        self.assertTrue(all(s["Effect"] == "Allow" and "Condition" not in s for s in auditor["Statement"]))


class SamConfig(unittest.TestCase):
    def test_defaults_deploy_main_in_us_east_1_and_forwarders_elsewhere(self):
        import tomllib

        config = tomllib.loads((ROOT / "samconfig.toml").read_text())
        main = config["default"]["deploy"]["parameters"]
        self.assertEqual(config["default"]["global"]["parameters"]["stack_name"], "eks-node-role-guard")
        self.assertEqual(main["region"], "us-east-1")
        self.assertTrue(main["resolve_s3"])
        self.assertTrue(main["confirm_changeset"])
        self.assertIn("Mode=dry-run", main["parameter_overrides"].split())
        forwarder = config["forwarder"]["deploy"]["parameters"]
        self.assertNotIn("region", forwarder, "forwarders take --region per region")
        self.assertIn("DeploymentKind=forwarder", forwarder["parameter_overrides"].split())
        self.assertNotEqual(
            config["forwarder"]["global"]["parameters"]["stack_name"],
            config["default"]["global"]["parameters"]["stack_name"],
            "a forwarder must never update the main stack in place",
        )
        # The template creates IAM roles: every deploy environment acknowledges it.
        for env in (main, forwarder):
            self.assertIn("CAPABILITY_IAM", env["capabilities"].split())


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
        # SAM's Rust builder copies CodeUri/target/lambda/<Binary>/bootstrap: CodeUri must be the
        # Cargo workspace root, where target/ is.
        self.assertEqual(props["CodeUri"], ".")
        self.assertTrue((ROOT / "Cargo.toml").exists())
        self.assertEqual(function["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(function["Metadata"]["BuildProperties"]["Binary"], "node-role-remediator")
        self.assertEqual(props["Timeout"], 120)
        self.assertEqual(props["MemorySize"], 256)
        self.assertEqual(props["ReservedConcurrentExecutions"], {"Ref": "ReservedConcurrency"})
        self.assertEqual(props["LoggingConfig"], {"LogFormat": "JSON", "LogGroup": {"Ref": "LogGroup"}})
        self.assertEqual(props["Role"], {"Fn::GetAtt": ["RemediatorRole", "Arn"]})
        self.assertEqual(as_list(function["DependsOn"]), ["RemediatorPolicy"])

    def test_environment_maps_the_parameters(self):
        variables = self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["MODE"], {"Ref": "Mode"})
        self.assertEqual(variables["SNS_TOPIC_ARN"], {"Ref": "NotificationTopic"})
        self.assertEqual(
            variables["SCAN_REGIONS"], {"Fn::If": ["HasScanRegions", {"Ref": "ScanRegions"}, {"Ref": "AWS::Region"}]}
        )
        self.assertEqual(
            variables["ALLOWED_POLICIES"],
            {"Fn::If": ["HasAllowedPolicies", {"Ref": "AllowedPolicies"}, {"Ref": "AWS::NoValue"}]},
        )
        self.assertEqual(
            variables["EXEMPT_ROLES"], {"Fn::If": ["HasExemptRoles", {"Ref": "ExemptRoles"}, {"Ref": "AWS::NoValue"}]}
        )
        self.assertEqual(
            variables["EXCEPTIONS"], {"Fn::If": ["HasExceptions", {"Ref": "Exceptions"}, {"Ref": "AWS::NoValue"}]}
        )
        self.assertEqual(variables["CNI_POLICY"], {"Ref": "CniPolicy"})
        self.assertEqual(variables["ADDON_POLICIES"], {"Ref": "AddonPolicies"})
        self.assertEqual(variables["SHARED_ROLES"], {"Ref": "SharedRoles"})
        self.assertEqual(variables["SECURITY_HUB"], {"Ref": "SecurityHubFindings"})
        self.assertEqual(variables["INDEX_TTL_SECONDS"], {"Ref": "IndexTtlSeconds"})
        timeout = self.resources["RemediatorFunction"]["Properties"]["Timeout"]
        self.assertEqual(variables["FUNCTION_TIMEOUT_SECONDS"], str(timeout), "the budget is the function's Timeout")
        # Every variable the template sets is one the function reads (no typo goes unnoticed).
        sources = sorted(CONFIG_RS.glob("*.rs")) if CONFIG_RS.is_dir() else [CONFIG_RS]
        text = "\n".join(path.read_text() for path in sources)
        read = set(re.findall(r'\bget\("([A-Z][A-Z0-9_]*)"\)', text))
        self.assertTrue(read, f"no variables found in {CONFIG_RS}")
        self.assertLessEqual(
            set(variables), read, f"set by the template but not read by config.rs: {set(variables) - read}"
        )

    def test_parameter_defaults(self):
        params = self.template["Parameters"]
        self.assertEqual(params["Mode"]["Default"], "dry-run")
        self.assertEqual(sorted(params["Mode"]["AllowedValues"]), ["dry-run", "enforce"])
        self.assertEqual(params["CniPolicy"]["Default"], "keep-if-needed")
        self.assertEqual(sorted(params["CniPolicy"]["AllowedValues"]), ["deny", "keep", "keep-if-needed"])
        self.assertEqual(params["AddonPolicies"]["Default"], "keep-if-needed")
        self.assertEqual(params["SecurityHubFindings"]["Default"], "off")
        self.assertEqual(sorted(params["AddonPolicies"]["AllowedValues"]), ["deny", "keep", "keep-if-needed"])
        # a node role that non-node instances also run with keeps its policies unless asked
        self.assertEqual(params["SharedRoles"]["Default"], "leave")
        self.assertEqual(params["SharedRoles"]["AllowedValues"], ["leave", "remediate"])
        self.assertEqual(params["DeploymentKind"]["Default"], "main")
        self.assertEqual(params["MainRegion"]["Default"], "us-east-1")
        self.assertEqual(params["SweepSchedule"]["Default"], "rate(6 hours)")
        self.assertEqual(params["IndexTtlSeconds"]["Default"], "300")
        self.assertEqual(params["LogRetentionDays"]["Default"], 90)
        self.assertEqual(params["ReservedConcurrency"]["Default"], 5)
        self.assertGreaterEqual(params["ReservedConcurrency"]["MinValue"], 1, "0 would disable the function")
        for name in ("ScanRegions", "AllowedPolicies", "ExemptRoles", "Exceptions", "NotificationEmail"):
            self.assertEqual(params[name]["Default"], "", name)

    def test_every_parameter_is_in_one_console_group(self):
        groups = self.template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        grouped = [name for group in groups for name in group["Parameters"]]
        self.assertEqual(sorted(grouped), sorted(self.template["Parameters"]))
        behaviour = next(g for g in groups if g["Label"]["default"].startswith("Behaviour"))
        self.assertIn("SharedRoles", behaviour["Parameters"])

    def test_every_function_rule_retries_and_dead_letters(self):
        for logical_id in FUNCTION_RULES:
            with self.subTest(rule=logical_id):
                rule = self.resources[logical_id]
                self.assertEqual(rule["Type"], "AWS::Events::Rule")
                (target,) = rule["Properties"]["Targets"]
                self.assertEqual(target["Arn"], {"Fn::GetAtt": ["RemediatorFunction", "Arn"]})
                self.assertIn("MaximumRetryAttempts", target["RetryPolicy"])
                self.assertIn("MaximumEventAgeInSeconds", target["RetryPolicy"])
                self.assertEqual(target["DeadLetterConfig"]["Arn"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
                permissions = [
                    r["Properties"]
                    for r in self.resources.values()
                    if r["Type"] == "AWS::Lambda::Permission"
                    and r["Properties"].get("SourceArn") == {"Fn::GetAtt": [logical_id, "Arn"]}
                ]
                self.assertEqual(len(permissions), 1, f"one lambda:InvokeFunction permission for {logical_id}")
                self.assertEqual(permissions[0]["Principal"], "events.amazonaws.com")

    def test_sweep_schedule_and_state_come_from_parameters(self):
        props = self.resources["SweepScheduleRule"]["Properties"]
        self.assertEqual(props["ScheduleExpression"], {"Ref": "SweepSchedule"})
        self.assertEqual(props["State"], {"Fn::If": ["IsSweepEnabled", "ENABLED", "DISABLED"]})
        self.assertEqual(
            self.template["Conditions"]["IsSweepEnabled"], {"Fn::Equals": [{"Ref": "SweepEnabled"}, "true"]}
        )

    def test_dead_letter_queue(self):
        queue = self.resources["DeadLetterQueue"]["Properties"]
        self.assertTrue(queue["SqsManagedSseEnabled"])
        self.assertEqual(queue["MessageRetentionPeriod"], 14 * 24 * 3600)
        (statement,) = self.resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(statement["Action"], "sqs:SendMessage")
        self.assertEqual(
            statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            [{"Fn::GetAtt": [r, "Arn"]} for r in FUNCTION_RULES + TAMPER_RULES]
            + [{"Fn::If": ["IsCentral", {"Fn::GetAtt": [r, "Arn"]}, {"Ref": "AWS::NoValue"}]} for r in CENTRAL_RULES],
        )
        invoke = self.resources["RemediatorInvokeConfig"]["Properties"]
        self.assertEqual(invoke["MaximumRetryAttempts"], 2)
        self.assertEqual(
            invoke["DestinationConfig"]["OnFailure"]["Destination"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        )

    def test_topic_is_encrypted_with_the_customer_managed_key(self):
        topic = self.resources["NotificationTopic"]["Properties"]
        self.assertEqual(topic["KmsMasterKeyId"], {"Fn::GetAtt": ["TopicKey", "Arn"]})
        key = self.resources["TopicKey"]["Properties"]
        self.assertTrue(key["EnableKeyRotation"])
        # Only the function (through SNS) and EventBridge and CloudWatch acting for this account
        # may use the key: no other statement grants a cryptographic action.
        crypto = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo")
        users = {}
        for statement in key["KeyPolicy"]["Statement"]:
            actions = as_list(statement["Action"])
            if any(fnmatch.fnmatch(c.lower(), a.lower()) for a in actions for c in crypto):
                users[statement["Sid"]] = statement
        self.assertEqual(set(users), {"TheFunctionPublishesThroughSns", "OwnRulesAndAlarmsPublishThroughSns"})
        function = users["TheFunctionPublishesThroughSns"]
        self.assertEqual(function["Condition"]["ArnEquals"]["aws:PrincipalArn"], OWN_ROLE_ARN)
        self.assertEqual(
            sub_text(function["Condition"]["StringEquals"]["kms:ViaService"]), "sns.${AWS::Region}.amazonaws.com"
        )
        services = users["OwnRulesAndAlarmsPublishThroughSns"]
        self.assertEqual(sorted(services["Principal"]["Service"]), ["cloudwatch.amazonaws.com", "events.amazonaws.com"])
        self.assertEqual(services["Condition"], {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})

    def test_only_the_function_and_the_guards_rules_and_alarms_publish_and_only_over_tls(self):
        statements = {
            s["Sid"]: s for s in self.resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        }
        allows = {sid: s for sid, s in statements.items() if s["Effect"] == "Allow"}
        self.assertEqual(set(allows), {"FunctionPublishes", "TamperAlertRulesPublish", "AlarmsPublish"})
        self.assertTrue(all(s["Action"] == "sns:Publish" for s in allows.values()))
        self.assertEqual(allows["FunctionPublishes"]["Principal"], {"AWS": OWN_ROLE_ARN})
        rules = allows["TamperAlertRulesPublish"]
        self.assertEqual(rules["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(
            rules["Condition"]["ArnEquals"]["aws:SourceArn"], [{"Fn::GetAtt": [r, "Arn"]} for r in TAMPER_RULES]
        )
        alarms = allows["AlarmsPublish"]
        self.assertEqual(alarms["Principal"], {"Service": "cloudwatch.amazonaws.com"})
        alarm_arns = alarms["Condition"]["ArnEquals"]["aws:SourceArn"]
        self.assertEqual(
            alarm_arns,
            [{"Fn::GetAtt": [a, "Arn"]} for a in ALARMS[:-1]]
            + [{"Fn::If": ["HasHeartbeat", {"Fn::GetAtt": ["HeartbeatAlarm", "Arn"]}, {"Ref": "AWS::NoValue"}]}],
        )
        # Every other principal is denied: IAM principals but the role, services but for the
        # guard's own rules and alarms.
        principals = statements["NoOtherPrincipalPublishes"]
        self.assertEqual((principals["Effect"], principals["Principal"]), ("Deny", "*"))
        self.assertEqual(principals["Condition"]["ArnNotEquals"]["aws:PrincipalArn"], OWN_ROLE_ARN)
        self.assertEqual(principals["Condition"]["Bool"]["aws:PrincipalIsAWSService"], "false")
        services = statements["NoOtherServicePublishes"]
        self.assertEqual((services["Effect"], services["Principal"]), ("Deny", "*"))
        self.assertEqual(services["Condition"]["Bool"]["aws:PrincipalIsAWSService"], "true")
        self.assertEqual(
            services["Condition"]["ArnNotEquals"]["aws:SourceArn"],
            rules["Condition"]["ArnEquals"]["aws:SourceArn"] + alarm_arns,
        )
        tls = statements["DenyInsecureTransport"]
        self.assertEqual(tls["Effect"], "Deny")
        self.assertEqual(tls["Condition"]["Bool"]["aws:SecureTransport"], "false")

    def test_alarms_publish_to_the_alarm_topic_or_the_notification_topic(self):
        target = [{"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "NotificationTopic"}]}]
        for logical_id in ALARMS:
            with self.subTest(alarm=logical_id):
                props = self.resources[logical_id]["Properties"]
                self.assertEqual(props["AlarmActions"], target)
                self.assertEqual(props["OKActions"], target)
                self.assertTrue(props["AlarmDescription"].startswith("eks-node-role-guard: "))
        self.assertEqual(self.template["Parameters"]["AlarmTopicArn"]["Default"], "")

    def test_failure_alarms_watch_the_function_and_the_dead_letter_queue(self):
        function = [{"Name": "FunctionName", "Value": {"Ref": "RemediatorFunction"}}]
        wanted = {
            "FunctionErrorsAlarm": ("AWS/Lambda", "Errors", function),
            "FunctionThrottlesAlarm": ("AWS/Lambda", "Throttles", function),
            "DeadLettersAlarm": (
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}],
            ),
        }
        for logical_id, (namespace, metric, dimensions) in wanted.items():
            with self.subTest(alarm=logical_id):
                props = self.resources[logical_id]["Properties"]
                self.assertEqual(
                    (props["Namespace"], props["MetricName"], props["Dimensions"]), (namespace, metric, dimensions)
                )
                self.assertEqual(
                    (props["ComparisonOperator"], props["Threshold"]), ("GreaterThanOrEqualToThreshold", 1)
                )
                self.assertEqual(props["TreatMissingData"], "notBreaching")

    def test_heartbeat_alarm_reads_the_metric_the_function_writes(self):
        # Given the EMF the function prints (shared/src/emf.rs)
        emf = EMF_RS.read_text()
        namespace = re.search(r'pub const NAMESPACE: &str = "([^"]+)";', emf).group(1)
        self.assertIn('("SweepsCompleted", 1, "Count")', emf)
        self.assertIn('"Dimensions": [["Mode"], ["Mode", "Outcome"]]', emf)
        # Then the heartbeat alarm reads the same metric under the [Mode] dimension set
        alarm = self.resources["HeartbeatAlarm"]
        props = alarm["Properties"]
        self.assertEqual((props["Namespace"], props["MetricName"]), (namespace, "SweepsCompleted"))
        self.assertEqual(props["Dimensions"], [{"Name": "Mode", "Value": {"Ref": "Mode"}}])
        self.assertEqual(
            (props["Statistic"], props["ComparisonOperator"], props["Threshold"]), ("Sum", "LessThanThreshold", 1)
        )
        # and no sweep at all is an alarm, over a period the operator sets
        self.assertEqual(props["TreatMissingData"], "breaching")
        self.assertEqual((props["Period"], props["EvaluationPeriods"]), ({"Ref": "HeartbeatSeconds"}, 1))
        heartbeat = self.template["Parameters"]["HeartbeatSeconds"]
        self.assertEqual(heartbeat["Default"], 43200, "twice the default rate(6 hours)")
        self.assertTrue(all(v % 60 == 0 and v <= 86400 for v in heartbeat["AllowedValues"]))
        # and it exists only when the schedule does
        self.assertEqual(alarm["Condition"], "HasHeartbeat")
        self.assertEqual(
            self.template["Conditions"]["HasHeartbeat"],
            {"Fn::And": [{"Condition": "IsMain"}, {"Condition": "IsSweepEnabled"}]},
        )

    def test_tamper_rules_watch_each_other_and_retry_into_the_dead_letter_queue(self):
        alert = self.resources["TamperAlertRule"]["Properties"]
        watch = self.resources["TamperWatchRule"]["Properties"]
        # The watcher's fixed name is the one the alert rule watches
        watched = [
            alt["requestParameters"]
            for alt in alert["EventPattern"]["detail"]["$or"]
            if alt["eventSource"] == ["events.amazonaws.com"]
        ]
        self.assertEqual(len(watched), 2)
        for names in watched:
            rules = next(iter(names.values()))
            self.assertEqual(rules[:-1], [{"Ref": r} for r in FUNCTION_RULES])
            self.assertEqual(rules[-1], watch["Name"])
        for alt in watch["EventPattern"]["detail"]["$or"]:
            self.assertEqual(next(iter(alt["requestParameters"].values())), [{"Ref": "TamperAlertRule"}])
        for props in (alert, watch):
            (target,) = props["Targets"]
            self.assertEqual(target["Arn"], {"Ref": "NotificationTopic"})
            self.assertEqual(target["DeadLetterConfig"]["Arn"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
            self.assertIn("MaximumRetryAttempts", target["RetryPolicy"])
        self.assertEqual(alert["Targets"][0]["InputTransformer"], watch["Targets"][0]["InputTransformer"])
        template = alert["Targets"][0]["InputTransformer"]["InputTemplate"]
        # With every placeholder filled by a JSON value, the message is one JSON object.
        filled = re.sub(r'"[^"]*"', lambda m: re.sub(r"<[^>]+>", "x", m.group(0)), template)
        filled = re.sub(r"<[^>]+>", "{}", filled)
        self.assertIsInstance(json.loads(filled), dict)

    def test_every_checkov_skip_says_why(self):
        skips = [
            (logical_id, skip)
            for logical_id, resource in self.resources.items()
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        ]
        self.assertTrue(skips)
        for logical_id, skip in skips:
            with self.subTest(resource=logical_id, check=skip.get("id")):
                self.assertRegex(skip["id"], r"^CKV_AWS_\d+$")
                self.assertGreater(len(skip.get("comment", "")), 40, "a skip needs its reason")

    def test_email_subscription_is_optional(self):
        subscription = self.resources["NotificationEmailSubscription"]
        self.assertEqual(subscription["Condition"], "HasNotificationEmail")
        self.assertEqual(subscription["Properties"]["Protocol"], "email")

    def test_forwarder_and_main_resources_carry_their_conditions(self):
        conditions = self.template["Conditions"]
        # "main" conditions every stack that runs the function: main and central
        self.assertEqual(
            conditions["IsMain"],
            {"Fn::Or": [{"Fn::Equals": [{"Ref": "DeploymentKind"}, "main"]}, {"Condition": "IsCentral"}]},
        )
        self.assertEqual(conditions["IsCentral"], {"Fn::Equals": [{"Ref": "DeploymentKind"}, "central"]})
        self.assertEqual(conditions["IsForwarder"], {"Fn::Equals": [{"Ref": "DeploymentKind"}, "forwarder"]})
        # HasNotificationEmail implies IsMain
        self.assertIn({"Condition": "IsMain"}, conditions["HasNotificationEmail"]["Fn::And"])
        forwarder = {k for k, r in self.resources.items() if r.get("Condition") == "IsForwarder"}
        self.assertEqual(forwarder, {"ForwarderRole", *FORWARDING_RULES})
        for logical_id, resource in self.resources.items():
            if logical_id not in forwarder:
                with self.subTest(resource=logical_id):
                    self.assertIn(
                        resource.get("Condition"), ("IsMain", "IsCentral", "HasNotificationEmail", "HasHeartbeat")
                    )
        central = {k for k, r in self.resources.items() if r.get("Condition") == "IsCentral"}
        self.assertEqual(
            central,
            {"CentralEventBus", "CentralEventBusPolicy", *CENTRAL_RULES, *(f"{r}Permission" for r in CENTRAL_RULES)},
        )

    def test_forwarder_sends_the_same_events_to_the_main_default_bus(self):
        for forwarding, main_rule in FORWARDING_RULES.items():
            with self.subTest(rule=forwarding):
                rule = self.resources[forwarding]["Properties"]
                self.assertEqual(rule["EventPattern"], self.resources[main_rule]["Properties"]["EventPattern"])
                self.assertEqual([sub_text(t["Arn"]) for t in rule["Targets"]], [MAIN_BUS])
                self.assertEqual([t["RoleArn"] for t in rule["Targets"]], [{"Fn::GetAtt": ["ForwarderRole", "Arn"]}])
        statements = role_statements(self.template, "ForwarderRole")
        self.assertEqual([(s["Action"], sub_text(s["Resource"])) for s in statements], [("events:PutEvents", MAIN_BUS)])
        trust = self.resources["ForwarderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual([s["Principal"] for s in trust], [{"Service": "events.amazonaws.com"}])

    def test_main_outside_us_east_1_is_refused(self):
        rule = self.template["Rules"]["MainStackNeedsUsEast1"]
        self.assertEqual(rule["Assertions"][0]["Assert"], {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]})
        kinds = {"Fn::Or": [{"Fn::Equals": [{"Ref": "DeploymentKind"}, k]} for k in ("main", "central")]}
        self.assertIn(kinds, rule["RuleCondition"]["Fn::And"])
        self.assertIn({"Fn::Equals": [{"Ref": "AllowNonUsEast1"}, "false"]}, rule["RuleCondition"]["Fn::And"])

    def test_nothing_is_hard_coded(self):
        # No account IDs, and no region outside the parameters, the region rule and the
        # us-east-1 explanations.
        text = TEMPLATE_PATH.read_text()
        self.assertIsNone(re.search(r"\b\d{12}\b", text), "hard-coded account ID")
        self.assertNotIn("arn:aws:", text, "hard-coded partition: use ${AWS::Partition}")

        def without_descriptions(value):
            if isinstance(value, dict):
                return {k: without_descriptions(v) for k, v in value.items() if k != "Description"}
            if isinstance(value, list):
                return [without_descriptions(v) for v in value]
            return value

        for logical_id, resource in self.resources.items():
            with self.subTest(resource=logical_id):
                self.assertNotIn("us-east-1", json.dumps(without_descriptions(resource)), "hard-coded region")

    def test_outputs(self):
        outputs = self.template["Outputs"]
        for name in ("FunctionArn", "TopicArn", "DeadLetterQueueUrl", "DeadLetterQueueArn"):
            self.assertEqual(outputs[name]["Condition"], "IsMain", name)
        for forwarding in FORWARDING_RULES:
            self.assertEqual(outputs[f"{forwarding}Arn"]["Condition"], "IsForwarder")
            self.assertEqual(outputs[f"{forwarding}Arn"]["Value"], {"Fn::GetAtt": [forwarding, "Arn"]})


if __name__ == "__main__":
    unittest.main()
