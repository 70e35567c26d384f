"""Organization mode in the templates: member.yaml (the StackSet's member stack) and the central
kind of template.yaml. Trust and bus policies by unit tests over the template text (moto does
not enforce them); the member rules' patterns and targets by delivery in moto's EventBridge,
from a member account's default bus in two regions to the central account's organization bus,
and the central bus rules by delivery on that bus.

What moto 5.2.5 cannot show (so it is not asserted here): an event it delivers to an SQS target
has no `account` field at all, and one forwarded to a bus in another region or account arrives
with the receiving bus's `region`. In AWS the event keeps the member's `account` and `region`.
moto also enforces neither the bus policy nor the target's `RoleArn` (nor trust policies).

Run from the repository root:
    .venv/bin/python -m unittest discover -s tests/template -v
"""

import json
import re
import subprocess
import time
import unittest
import uuid
from pathlib import Path

from cfnlint.decode import cfn_yaml

import test_template
from test_template import (
    ACCOUNT_ROLES,
    ADAPTERS_DIR,
    EVENTS_DIR,
    FIXTURE_RULES,
    PATTERN_RULES,
    POLICY_WRITES,
    SDK_CALL,
    SWAP_WRITES,
    TO_EC2_ONLY,
    VENV_BIN,
    as_list,
    iam_actions_by_service,
    load_template,
    normalised,
    operations_called_by_adapters,
    pascal,
    resolve,
    role_statements,
    roles,
    start_moto,
    stop_moto,
    sub_text,
    with_required_permissions,
    write_gates,
)

ROOT = Path(__file__).resolve().parents[2]
MEMBER_PATH = ROOT / "member.yaml"
# Real CloudTrail records from public repositories, next to the project (see its SOURCES.md).
SAMPLES_DIR = ROOT.parent / "shared" / "cloudtrail-samples"
CENTRAL_ACCOUNT = "123456789012"  # moto's default account: the central deployment
MEMBER_ACCOUNT = "210987654321"
# member.yaml's rules: the same logical ids and patterns as template.yaml's main rules
MEMBER_RULES = PATTERN_RULES
# template.yaml's rule for each kind of event, on the default bus and on the organization bus
CENTRAL_RULE = {rule: f"Central{rule}" for rule in PATTERN_RULES}


def load_member():
    return cfn_yaml.load(str(MEMBER_PATH))


def operations_in(service, exclude=()):
    """`service:Operation` for each SDK call in shared/src/aws/<service>.rs."""
    text = (ADAPTERS_DIR / f"{service}.rs").read_text()
    return {f"{service}:{pascal(m)}" for m in SDK_CALL.findall(text) if pascal(m) not in exclude}


def cloudtrail_cases():
    """(name, envelope) for every events/ file, every record in ../shared/cloudtrail-samples/
    (a raw record wrapped as EventBridge wraps it), and look-alikes that must match no rule."""
    cases = [(path.name, json.loads(path.read_text())) for path in sorted(EVENTS_DIR.glob("*.json"))]
    if SAMPLES_DIR.is_dir():
        for path in sorted(SAMPLES_DIR.glob("*.json")):
            data = json.loads(path.read_text())
            records = data if isinstance(data, list) else [data]
            for index, record in enumerate(records):
                if "detail" not in record:
                    record = {
                        "source": "aws." + record["eventSource"].split(".")[0],
                        "detail-type": "AWS API Call via CloudTrail",
                        "detail": record,
                    }
                cases.append((f"{path.name}[{index}]", record))
    attach = json.loads((EVENTS_DIR / "attach-admin-to-node-role.json").read_text())
    nodegroup = json.loads((EVENTS_DIR / "create-nodegroup.json").read_text())
    cases += [
        (
            "synthetic: failed CreateNodegroup",
            dict(nodegroup, detail=dict(nodegroup["detail"], errorCode="ResourceInUseException")),
        ),
        ("synthetic: CreateNodegroup detail from source aws.iam", dict(nodegroup, source="aws.iam")),
        ("synthetic: AttachRolePolicy detail from source aws.s3", dict(attach, source="aws.s3")),
        ("synthetic: DeleteNodegroup", dict(nodegroup, detail=dict(nodegroup["detail"], eventName="DeleteNodegroup"))),
    ]
    return cases


def expected_rule(envelope):
    """member.yaml's (and template.yaml's default-bus) rule that must match, from content alone."""
    return test_template.EventPatternsByDelivery.expected_rule(envelope)


class MemberLint(unittest.TestCase):
    def test_cfn_lint_passes(self):
        result = subprocess.run(
            [str(VENV_BIN / "cfn-lint"), str(MEMBER_PATH)], cwd=ROOT, capture_output=True, text=True
        )
        self.assertEqual(result.returncode, 0, f"cfn-lint failed:\n{result.stdout}{result.stderr}")

    def test_every_policy_action_exists(self):
        known = iam_actions_by_service()
        template = load_member()
        actions = [
            action
            for logical_id in ("MemberRole", "ToCentralBusRole")
            for statement in role_statements(template, logical_id)
            for action in as_list(statement["Action"])
        ]
        for statement in template["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]:
            actions += as_list(statement["Action"])
        self.assertGreater(len(actions), 15)
        for action in actions:
            service, _, name = action.partition(":")
            with self.subTest(action=action):
                self.assertIn(name.lower(), known[service])

    def test_every_checkov_skip_says_why(self):
        for logical_id, resource in load_member()["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                with self.subTest(resource=logical_id, check=skip.get("id")):
                    self.assertRegex(skip["id"], r"^CKV_AWS_\d+$")
                    self.assertGreater(len(skip.get("comment", "")), 40, "a skip needs its reason")


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
        # Given the IAM, EKS, EC2 and Security Hub calls the adapters make (a member's
        # notifications go out with the central credentials, and the blind check reads only the
        # central trails), with the permissions they require (iam:PassRole)
        called, unknown = operations_called_by_adapters()
        self.assertFalse(unknown)
        in_member = with_required_permissions(
            op for op in called if op.split(":")[0] in ("iam", "eks", "ec2", "securityhub")
        )
        self.assertTrue(any(op.startswith("iam:") for op in in_member))
        self.assertTrue(any(op.startswith("ec2:") for op in in_member))
        granted = set()
        for statement in role_statements(self.template, "MemberRole"):
            if statement["Effect"] == "Allow":
                granted.update(as_list(statement["Action"]))
        # Then the role grants exactly those
        self.assertEqual(normalised(granted), normalised(in_member))

    def test_member_role_grants_what_the_function_role_grants_for_iam_eks_and_ec2(self):
        # (action, resource, condition): the same scopes, and PassRole to EC2 only in both
        def scoped(statements):
            return {
                (
                    action,
                    sub_text(statement["Resource"]) if not isinstance(statement["Resource"], list) else None,
                    json.dumps(statement.get("Condition"), sort_keys=True),
                )
                for statement in statements
                for action in as_list(statement["Action"])
                if action.split(":")[0] in ("iam", "eks", "ec2") and statement["Effect"] == "Allow"
            }

        member = scoped(role_statements(self.template, "MemberRole"))
        central = scoped(role_statements(load_template(), "RemediatorRole"))
        self.assertEqual(member, central)
        self.assertIn(("iam:PassRole", ACCOUNT_ROLES, json.dumps(TO_EC2_ONLY, sort_keys=True)), member)
        self.assertLessEqual(SWAP_WRITES, {action for action, _, _ in member})

    def test_swap_writes_exist_exactly_where_the_policy_writes_do(self):
        # Given every role of member.yaml: the member role has the policy writes, so it has the
        # swap writes, in the same policy under the same condition; the events role has neither
        with_writes = []
        for logical_id in roles(self.template):
            with self.subTest(role=logical_id):
                policy = write_gates(self.template, logical_id, POLICY_WRITES)
                swap = write_gates(self.template, logical_id, SWAP_WRITES)
                self.assertEqual(set(swap), SWAP_WRITES if policy else set())
                gates = set().union(*policy.values()) if policy else set()
                for action, gate in swap.items():
                    self.assertEqual(gate, gates, action)
                if policy:
                    with_writes.append(logical_id)
        self.assertEqual(with_writes, ["MemberRole"])

    def test_member_role_is_denied_every_change_to_itself(self):
        (deny,) = [s for s in role_statements(self.template, "MemberRole") if s["Effect"] == "Deny"]
        self.assertEqual(deny["Resource"], {"Fn::GetAtt": ["MemberRole", "Arn"]})
        self.assertTrue(
            {"iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy"} <= set(deny["Action"])
        )
        # nor may the guard hand the member role to an instance
        self.assertIn("iam:PassRole", deny["Action"])

    def test_rules_send_the_main_patterns_to_the_central_bus_only_with_a_role(self):
        rules = {k for k, r in self.resources.items() if r["Type"] == "AWS::Events::Rule"}
        self.assertEqual(rules, set(MEMBER_RULES))
        for rule in MEMBER_RULES:
            with self.subTest(rule=rule):
                props = self.resources[rule]["Properties"]
                self.assertEqual(props["EventPattern"], self.main[rule]["Properties"]["EventPattern"])
                (target,) = props["Targets"]
                self.assertEqual(target["Arn"], {"Ref": "CentralEventBusArn"})
                self.assertEqual(target["RoleArn"], {"Fn::GetAtt": ["ToCentralBusRole", "Arn"]})
        # IAM events reach EventBridge only in us-east-1: the IAM rule and the (global) role there
        self.assertEqual(self.resources["IamPolicyChangeRule"]["Condition"], "IsIamRegion")
        self.assertEqual(self.resources["MemberRole"]["Condition"], "IsIamRegion")
        self.assertNotIn("Condition", self.resources["EksCreateNodegroupRule"])
        self.assertNotIn("Condition", self.resources["Ec2InstanceCredentialsRule"])
        # nothing in the member stack targets a function or the member role
        text = MEMBER_PATH.read_text()
        self.assertNotIn("AWS::Lambda", text)

    def test_rules_retry_then_dead_letter_into_this_stacks_queue_only(self):
        queue = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        for rule in MEMBER_RULES:
            with self.subTest(rule=rule):
                (target,) = self.resources[rule]["Properties"]["Targets"]
                self.assertEqual(target["RetryPolicy"], {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600})
                self.assertEqual(target["DeadLetterConfig"], {"Arn": queue})
        props = self.resources["DeadLetterQueue"]["Properties"]
        self.assertTrue(props["SqsManagedSseEnabled"])
        self.assertEqual(props["MessageRetentionPeriod"], 14 * 24 * 3600)
        (statement,) = self.resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual(
            (statement["Effect"], statement["Principal"], statement["Action"], statement["Resource"]),
            ("Allow", {"Service": "events.amazonaws.com"}, "sqs:SendMessage", queue),
        )
        # only this stack's rules, the IAM one where it exists
        self.assertEqual(
            statement["Condition"],
            {
                "ArnEquals": {
                    "aws:SourceArn": [
                        {
                            "Fn::If": [
                                "IsIamRegion",
                                {"Fn::GetAtt": ["IamPolicyChangeRule", "Arn"]},
                                {"Ref": "AWS::NoValue"},
                            ]
                        },
                        {"Fn::GetAtt": ["EksCreateNodegroupRule", "Arn"]},
                        {"Fn::GetAtt": ["Ec2InstanceCredentialsRule", "Arn"]},
                    ]
                }
            },
        )
        # every resource exists in every region but the IAM-region ones
        regional = {k for k, r in self.resources.items() if "Condition" not in r}
        self.assertEqual(
            regional,
            {
                "ToCentralBusRole",
                "EksCreateNodegroupRule",
                "Ec2InstanceCredentialsRule",
                "DeadLetterQueue",
                "DeadLetterQueuePolicy",
            },
        )
        self.assertEqual(
            {k for k, r in self.resources.items() if r.get("Condition") == "IsIamRegion"},
            {"MemberRole", "MemberPolicy", "IamPolicyChangeRule"},
        )

    def test_the_events_role_may_only_put_events_on_the_central_bus(self):
        role = self.resources["ToCentralBusRole"]["Properties"]
        self.assertNotIn("RoleName", role, "one per region: IAM names are global")
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(trust["Condition"], {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})
        statements = role_statements(self.template, "ToCentralBusRole")
        self.assertEqual(
            [(s["Action"], s["Resource"]) for s in statements], [("events:PutEvents", {"Ref": "CentralEventBusArn"})]
        )

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
        self.assertEqual(
            rule["Assertions"][0]["Assert"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]}
        )

    def test_bus_rules_invoke_the_function_only_one_hop(self):
        for main_rule, rule in CENTRAL_RULE.items():
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
        self.assertEqual(
            sub_text(assume["Resource"]), "arn:${AWS::Partition}:iam::*:role${MemberRolePath}${MemberRoleName}"
        )
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
        # and only in the central kind: they are the statements that exist only there
        policy = self.resources["RemediatorPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        central = [s["Fn::If"] for s in policy if "Fn::If" in s and s["Fn::If"][0] == "IsCentral"]
        self.assertEqual(len(central), 2)
        for _, statement, otherwise in central:
            self.assertEqual(otherwise, {"Ref": "AWS::NoValue"})
            self.assertTrue({a.split(":")[0] for a in as_list(statement["Action"])} <= {"sts", "organizations"})
        unconditional = [a for s in policy if "Fn::If" not in s for a in as_list(s["Action"])]
        self.assertFalse([a for a in unconditional if a.split(":")[0] in ("sts", "organizations")])

    def test_environment_turns_organization_mode_on_only_in_central(self):
        env = self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(
            env["MEMBER_ROLE_NAME"],
            {"Fn::If": ["IsCentral", {"Fn::Sub": "${MemberRolePath}${MemberRoleName}"}, {"Ref": "AWS::NoValue"}]},
        )
        self.assertEqual(env["ACCOUNTS"], {"Fn::If": ["IsCentral", {"Ref": "Accounts"}, {"Ref": "AWS::NoValue"}]})
        self.assertEqual(
            env["ACCOUNT_CONCURRENCY"],
            {"Fn::If": ["IsCentral", {"Ref": "AccountConcurrency"}, {"Ref": "AWS::NoValue"}]},
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


class OrganizationPaths(unittest.TestCase):
    """The organization's event path in moto's EventBridge, with each rule and target read from
    the templates: member.yaml's rules on a member account's default bus (us-east-1, where the
    IAM rule exists, and us-west-2, where only the EKS and EC2 rules do) targeting the central
    account's organization bus, and template.yaml's central rules on that bus, each with an SQS
    queue standing in for the function. No tests of its own (tests/template/test_doors.py
    shares it): `through_members` and `on_central_bus` send cases and check what arrives."""

    @classmethod
    def setUpClass(cls):
        import boto3

        cls.server, cls.endpoint = start_moto()
        cls.central = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        # moto maps AssumeRole credentials for a role in another account onto that account
        creds = cls.central.client("sts", endpoint_url=cls.endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/seed", RoleSessionName="seed"
        )["Credentials"]
        cls.member = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        cls.central_events = cls.central.client("events", endpoint_url=cls.endpoint)
        cls.sqs = cls.central.client("sqs", endpoint_url=cls.endpoint)

    @classmethod
    def tearDownClass(cls):
        stop_moto(cls.server)

    def queue(self, sqs, name):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def central_bus_with_rules(self):
        """The organization bus and template.yaml's two rules on it, as deployed by a stack named
        guard-<suffix>, each with a queue in place of the function. -> (bus ARN, {rule: queue URL})"""
        resources = load_template()["Resources"]
        stack = f"guard-{uuid.uuid4().hex[:8]}"
        names = {"AWS::StackName": stack}
        bus_name = resolve(resources["CentralEventBus"]["Properties"]["Name"], names)
        bus = self.central_events.create_event_bus(Name=bus_name)["EventBusArn"]
        names["CentralEventBus"] = bus_name
        queues = {}
        for rule in CENTRAL_RULE.values():
            props = resources[rule]["Properties"]
            (target,) = props["Targets"]
            self.assertEqual(target["Arn"], {"Fn::GetAtt": ["RemediatorFunction", "Arn"]})
            url, arn = self.queue(self.sqs, f"{stack}-{rule}")
            bus_of_rule = resolve(props["EventBusName"], names)
            self.assertEqual(bus_of_rule, bus_name)
            self.central_events.put_rule(
                Name=f"{stack}-{rule}",
                EventBusName=bus_of_rule,
                EventPattern=json.dumps(props["EventPattern"]),
                State="ENABLED",
            )
            self.central_events.put_targets(
                Rule=f"{stack}-{rule}", EventBusName=bus_of_rule, Targets=[{"Id": target["Id"], "Arn": arn}]
            )
            queues[rule] = url
        return bus, queues

    def collect(self, queues, expected):
        """Every message each queue receives, waiting until the expected ones arrived and then a
        grace period for stragglers that must not arrive. -> {rule: [event, ...]}"""
        got = {rule: [] for rule in queues}

        def drain():
            for rule, url in queues.items():
                while True:
                    messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                    if not messages:
                        break
                    for m in messages:
                        got[rule].append(json.loads(m["Body"]))
                        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            drain()
            if all(len(got[r]) >= len(expected[r]) for r in queues):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        drain()
        return got

    def through_members(self, cases, rule_of, must_reach):
        """Sends each (name, envelope) from a member's default bus in two regions; checks that
        exactly the cases `rule_of(name, envelope)` names a member rule for (only where that
        rule exists) arrive on the organization bus unchanged and reach that rule's central rule,
        that each rule in `must_reach` got at least one, and that nothing was dead-lettered.
        -> {central rule: {marker, ...}}"""
        # Given the organization bus with the central rules, and a rule of the test's own that
        # records everything arriving on that bus (so the member rules are judged by themselves,
        # not through the central rules' identical patterns)
        bus, queues = self.central_bus_with_rules()
        bus_name = bus.rsplit("/", 1)[1]
        arrived_url, arrived_arn = self.queue(self.sqs, f"{bus_name}-everything")
        self.central_events.put_rule(
            Name=f"{bus_name}-everything",
            EventBusName=bus_name,
            EventPattern=json.dumps({"detail": {"testMarker": [{"exists": True}]}}),
            State="ENABLED",
        )
        self.central_events.put_targets(
            Rule=f"{bus_name}-everything", EventBusName=bus_name, Targets=[{"Id": "q", "Arn": arrived_arn}]
        )
        member = load_member()
        iam_region = member["Parameters"]["IamRegion"]["Default"]
        stack = f"guard-member-{uuid.uuid4().hex[:8]}"
        # and member.yaml's stack instance in two regions of a member account, its rules' targets
        # exactly as in the template (bus ARN, RoleArn, retry policy, dead-letter queue)
        regions = {}
        for region in (iam_region, "us-west-2"):
            events = self.member.client("events", endpoint_url=self.endpoint, region_name=region)
            sqs = self.member.client("sqs", endpoint_url=self.endpoint, region_name=region)
            dlq_url, dlq_arn = self.queue(sqs, f"{stack}-DeadLetterQueue")
            names = {
                "CentralEventBusArn": bus,
                "ToCentralBusRole.Arn": f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{stack}-ToCentralBusRole-{region}",
                "DeadLetterQueue.Arn": dlq_arn,
            }
            rules = []
            for rule in MEMBER_RULES:
                resource = member["Resources"][rule]
                if resource.get("Condition") == "IsIamRegion" and region != iam_region:
                    continue
                props = resource["Properties"]
                (target,) = resolve(props["Targets"], names)
                self.assertEqual((target["Arn"], target["RoleArn"]), (bus, names["ToCentralBusRole.Arn"]))
                events.put_rule(Name=f"{stack}-{rule}", EventPattern=json.dumps(props["EventPattern"]), State="ENABLED")
                events.put_targets(Rule=f"{stack}-{rule}", Targets=[target])
                rules.append(rule)
            regions[region] = (events, sqs, dlq_url, rules)
        self.assertEqual(
            regions["us-west-2"][3],
            [r for r in MEMBER_RULES if r != "IamPolicyChangeRule"],
            "IAM events: us-east-1 only",
        )

        # When every case arrives on the member's default bus in each region
        sent, expected = {}, {rule: set() for rule in queues}
        for region, (events, _, _, rules) in regions.items():
            for name, envelope in cases:
                marker = uuid.uuid4().hex
                detail = dict(envelope.get("detail") or {}, testMarker=marker)
                result = events.put_events(
                    Entries=[
                        {
                            "Source": envelope["source"],
                            "DetailType": envelope["detail-type"],
                            "Detail": json.dumps(detail),
                        }
                    ]
                )
                self.assertEqual(result["FailedEntryCount"], 0, f"{name}: {result}")
                sent[marker] = (f"{region}: {name}", envelope, detail)
                rule = rule_of(name, envelope)
                if rule in rules:
                    expected[CENTRAL_RULE[rule]].add(marker)
        for rule in must_reach:
            self.assertTrue(expected[CENTRAL_RULE[rule]], f"no positive case for {CENTRAL_RULE[rule]}")
        self.assertGreater(len(sent), sum(map(len, expected.values())), "no negative case at all")

        # Then exactly the successful IAM calls (us-east-1 only) and EKS and EC2 calls (both
        # regions) arrive on the organization bus, unchanged, and each reaches its central rule;
        # failed calls, other calls and look-alikes reach nothing
        expected["arrived"] = set().union(*expected.values())
        got = self.collect(dict(queues, arrived=arrived_url), expected)
        for rule in (*queues, "arrived"):
            with self.subTest(rule=rule):
                received = sorted(sent[e["detail"]["testMarker"]][0] for e in got[rule])
                self.assertEqual(received, sorted(sent[m][0] for m in expected[rule]))
                for event in got[rule]:
                    _, envelope, detail = sent[event["detail"]["testMarker"]]
                    self.assertEqual(
                        (event["source"], event["detail-type"], event["detail"]),
                        (envelope["source"], envelope["detail-type"], detail),
                    )
        # and nothing was dead-lettered on the way
        for region, (_, sqs, dlq_url, _) in regions.items():
            self.assertEqual(sqs.receive_message(QueueUrl=dlq_url).get("Messages", []), [], region)
        return {rule: markers for rule, markers in expected.items() if rule != "arrived"}

    def on_central_bus(self, cases, rule_of, must_reach):
        """Puts each case on the organization bus and again on the central account's default
        bus; checks that each central rule receives exactly the cases `rule_of` names its main
        rule for, from the organization bus only, and that each rule in `must_reach` got one."""
        # Given the organization bus with the central rules
        bus, queues = self.central_bus_with_rules()
        # When every case is put on that bus, and again on the default bus of the same account
        sent, expected = {}, {rule: set() for rule in queues}
        for name, envelope in cases:
            for on_bus in (bus, "default"):
                marker = uuid.uuid4().hex
                detail = dict(envelope.get("detail") or {}, testMarker=marker)
                entry = {
                    "Source": envelope["source"],
                    "DetailType": envelope["detail-type"],
                    "Detail": json.dumps(detail),
                }
                if on_bus != "default":
                    entry["EventBusName"] = on_bus
                result = self.central_events.put_events(Entries=[entry])
                self.assertEqual(result["FailedEntryCount"], 0, f"{name}: {result}")
                sent[marker] = f"{'organization bus' if on_bus != 'default' else 'default bus'}: {name}"
                rule = rule_of(name, envelope)
                if rule and on_bus != "default":
                    expected[CENTRAL_RULE[rule]].add(marker)
        for rule in must_reach:
            self.assertTrue(expected[CENTRAL_RULE[rule]], f"no positive case for {CENTRAL_RULE[rule]}")

        # Then each central rule receives exactly its events from the organization bus, and
        # nothing put on the default bus (the main rules' bus) reaches them
        got = self.collect(queues, expected)
        for rule in queues:
            with self.subTest(rule=rule):
                received = sorted(sent[e["detail"]["testMarker"]] for e in got[rule])
                self.assertEqual(received, sorted(sent[m] for m in expected[rule]))


class OrganizationByDelivery(OrganizationPaths):
    def test_member_events_reach_the_central_rules_from_every_region_and_nothing_else_does(self):
        # (every events/ file and CloudTrail sample, and look-alikes; the EC2 rule's own cases
        # are test_doors.py's)
        self.through_members(cloudtrail_cases(), lambda _, envelope: expected_rule(envelope), FIXTURE_RULES)

    def test_central_bus_rules_deliver_exactly_the_expected_events(self):
        self.on_central_bus(cloudtrail_cases(), lambda _, envelope: expected_rule(envelope), FIXTURE_RULES)


if __name__ == "__main__":
    unittest.main()
