"""The doors: the CloudTrail calls besides AttachRolePolicy, PutRolePolicy and CreateNodegroup
through which a node role gains permissions or a way into another role, or an instance's node
credentials change hands or become reachable. Each is wired wherever the first three are: the
main stack's rules, the forwarder stacks, the central rules and member.yaml's rules.

By delivery in moto's EventBridge (the rules and targets read from the templates): each door's
successful call reaches exactly its rule, in the main region, through a forwarder from another
region, and from a member account through the organization bus; the same call failed, the same
event name from another service, the neighbouring calls (DetachRolePolicy,
RemoveRoleFromInstanceProfile, DisassociateIamInstanceProfile, CreateLaunchTemplate,
DeleteAccessEntry) and the reads reach nothing. Then the permissions the doors bring: the reads,
and iam:UpdateAssumeRolePolicy only with RemoveNodeTrust=on.

Run from the repository root:
    .venv/bin/python -m unittest discover -s tests/template -v
"""

import json
import unittest
import uuid

from test_organization_template import CENTRAL_RULE, OrganizationPaths, load_member

from test_template import (
    ACCOUNT,
    ACCOUNT_PROFILES,
    ACCOUNT_ROLES,
    DEPLOYED,
    EVENTS_DIR,
    FORWARDING_RULES,
    PATTERN_RULES,
    RULE_EVENTS,
    TRUST_WRITES,
    Delivery,
    as_list,
    gated_statements,
    load_template,
    resolve,
    resource_types,
    role_statements,
    roles,
    sub_text,
)

ACCOUNT_POLICIES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/*"
# The events each rule gained, the doors (RULE_EVENTS holds them with the first three).
DOORS = {
    "IamPolicyChangeRule": {
        "AddRoleToInstanceProfile",
        "UpdateAssumeRolePolicy",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
    },
    "EksCreateNodegroupRule": {"CreateAccessEntry"},
    "Ec2InstanceCredentialsRule": {
        "AssociateIamInstanceProfile",
        "ReplaceIamInstanceProfileAssociation",
        "ModifyInstanceMetadataOptions",
        "CreateLaunchTemplateVersion",
    },
}
# Where each service's calls happen (IAM's reach EventBridge in us-east-1 only), and an error
# code such a call fails with in CloudTrail.
REGION = {"iam": "us-east-1", "eks": "us-west-2", "ec2": "us-west-2"}
FAILURE = {"iam": "AccessDenied", "eks": "AccessDeniedException", "ec2": "Client.UnauthorizedOperation"}
# A service whose source and eventSource a look-alike borrows.
OTHER = {"iam": "ec2", "eks": "iam", "ec2": "iam"}
RULE_OF_SERVICE = {"iam": "IamPolicyChangeRule", "eks": "EksCreateNodegroupRule", "ec2": "Ec2InstanceCredentialsRule"}

NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-node-prod"
PROFILE = f"arn:aws:iam::{ACCOUNT}:instance-profile/ci-deployer-profile"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/node-extras"
EVERYTHING = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
NODE_MAY_ASSUME = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": NODE_ROLE}, "Action": "sts:AssumeRole"}],
    }
)
INSTANCE = "i-0aaaa1111bbbb2222c"


def ec2(operation, **parameters):
    """EC2's newer APIs' requestParameters: the parameters wrapped in <Operation>Request."""
    return {f"{operation}Request": parameters}


# (service, event name, requestParameters) of each door's call, in CloudTrail's shapes.
DOOR_CALLS = [
    ("iam", "AddRoleToInstanceProfile", {"instanceProfileName": "eks-node-profile", "roleName": "ci-deployer"}),
    ("iam", "UpdateAssumeRolePolicy", {"roleName": "deploy-admin", "policyDocument": NODE_MAY_ASSUME}),
    ("iam", "CreatePolicyVersion", {"policyArn": POLICY, "policyDocument": EVERYTHING, "setAsDefault": True}),
    ("iam", "SetDefaultPolicyVersion", {"policyArn": POLICY, "versionId": "v3"}),
    (
        "iam",
        "PutRolePermissionsBoundary",
        {"roleName": "eks-node-prod", "permissionsBoundary": "arn:aws:iam::aws:policy/PowerUserAccess"},
    ),
    ("iam", "DeleteRolePermissionsBoundary", {"roleName": "eks-node-prod"}),
    ("eks", "CreateAccessEntry", {"name": "prod", "principalArn": NODE_ROLE, "type": "EC2_LINUX"}),
    (
        "ec2",
        "AssociateIamInstanceProfile",
        ec2("AssociateIamInstanceProfile", InstanceId=INSTANCE, IamInstanceProfile={"Name": "ci-deployer-profile"}),
    ),
    (
        "ec2",
        "ReplaceIamInstanceProfileAssociation",
        ec2(
            "ReplaceIamInstanceProfileAssociation",
            AssociationId="iip-assoc-0123456789abcdef0",
            IamInstanceProfile={"Arn": PROFILE},
        ),
    ),
    (
        "ec2",
        "ModifyInstanceMetadataOptions",
        ec2("ModifyInstanceMetadataOptions", InstanceId=INSTANCE, HttpTokens="optional", HttpPutResponseHopLimit=2),
    ),
    (
        "ec2",
        "CreateLaunchTemplateVersion",
        ec2(
            "CreateLaunchTemplateVersion",
            LaunchTemplateId="lt-0abc1234def567890",
            SourceVersion="3",
            LaunchTemplateData={"IamInstanceProfile": {"Arn": PROFILE}},
        ),
    ),
]
# Calls next to the doors that no rule takes: their opposites, their neighbours and the reads.
NEIGHBOURS = [
    ("iam", "DetachRolePolicy", {"roleName": "eks-node-prod", "policyArn": POLICY}),
    ("iam", "RemoveRoleFromInstanceProfile", {"instanceProfileName": "eks-node-profile", "roleName": "eks-node-prod"}),
    ("iam", "DeletePolicyVersion", {"policyArn": POLICY, "versionId": "v2"}),
    ("eks", "DeleteAccessEntry", {"name": "prod", "principalArn": NODE_ROLE}),
    ("ec2", "DisassociateIamInstanceProfile", ec2("DisassociateIamInstanceProfile", AssociationId="iip-assoc-0")),
    ("ec2", "CreateLaunchTemplate", ec2("CreateLaunchTemplate", LaunchTemplateName="nodes", LaunchTemplateData={})),
]
READS = [
    ("iam", "GetInstanceProfile", {"instanceProfileName": "eks-node-profile"}),
    ("iam", "ListEntitiesForPolicy", {"policyArn": POLICY}),
    ("iam", "GetPolicyVersion", {"policyArn": POLICY, "versionId": "v3"}),
    ("eks", "DescribeAccessEntry", {"name": "prod", "principalArn": NODE_ROLE}),
    ("eks", "ListAccessEntries", {"name": "prod"}),
    ("ec2", "DescribeIamInstanceProfileAssociations", ec2("DescribeIamInstanceProfileAssociations")),
    ("ec2", "DescribeInstances", {"instancesSet": {"items": [{"instanceId": INSTANCE}]}}),
    ("ec2", "DescribeLaunchTemplateVersions", ec2("DescribeLaunchTemplateVersions", Versions=["$Latest"])),
]


def record(service, name, request, error=None, like=None, detail_type="AWS API Call via CloudTrail"):
    """An EventBridge envelope of a CloudTrail record: `service`'s call in its region, or with
    `like` another service's source and eventSource."""
    entry = Delivery.api_call(service, name, request, error=error, region=REGION[service])
    detail = dict(entry["Detail"], readOnly=name.startswith(("Get", "List", "Describe")))
    source = like or service
    detail["eventSource"] = f"{source}.amazonaws.com"
    return {"source": f"aws.{source}", "detail-type": detail_type, "region": REGION[service], "detail": detail}


def door_cases():
    """[(name, envelope, the rule that must deliver it or None)]: each door's successful call,
    the same call failed and from another service, the neighbours and reads, and any
    events/doors/*.json envelope (judged by the content oracle)."""
    cases = []
    for service, name, request in DOOR_CALLS:
        cases.append((f"{service}:{name}", record(service, name, request), RULE_OF_SERVICE[service]))
        failed = record(service, name, request, error=FAILURE[service])
        cases.append((f"failed {service}:{name}", failed, None))
        cases.append((f"{name} from aws.{OTHER[service]}", record(service, name, request, like=OTHER[service]), None))
    for service, name, request in NEIGHBOURS + READS:
        cases.append((f"{service}:{name}", record(service, name, request), None))
    service, name, request = DOOR_CALLS[-1]
    service_event = record(service, name, request, detail_type="AWS Service Event via CloudTrail")
    cases.append((f"{name} as an AWS Service Event", service_event, None))
    for path in sorted((EVENTS_DIR / "doors").glob("*.json")):
        envelope = json.loads(path.read_text())
        cases.append((f"events/doors/{path.name}", envelope, Delivery.expected_rule(envelope)))
    names = [name for name, _, _ in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def rule_of(cases):
    """`rule_of(name, envelope)` for Delivery.put_cases and OrganizationPaths: the case's rule."""
    rules = {name: rule for name, _, rule in cases}
    return lambda name, _envelope: rules[name]


def envelopes(cases):
    return [(name, envelope) for name, envelope, _ in cases]


class DoorCases(unittest.TestCase):
    def test_the_cases_open_every_door_and_agree_with_the_oracle(self):
        # Every door has a successful call among the positives, under its own rule
        cases = door_cases()
        opened = {}
        for _, envelope, rule in cases:
            if rule:
                opened.setdefault(rule, set()).add(envelope["detail"]["eventName"])
        for rule, names in DOORS.items():
            self.assertLessEqual(names, opened.get(rule, set()), rule)
            self.assertLessEqual(names, RULE_EVENTS[rule][2], rule)
        # and the content oracle the other delivery tests use judges every case the same way
        for name, envelope, rule in cases:
            with self.subTest(case=name):
                self.assertEqual(Delivery.expected_rule(envelope), rule)


class DoorsByDelivery(Delivery):
    def test_main_rules_deliver_each_door_to_its_rule_and_nothing_else(self):
        # Given the main stack's IAM, EKS and EC2 rules, each with a queue
        queues = self.pattern_queues()
        # When every door case is put on the default bus
        cases = door_cases()
        names, expected = self.put_cases(envelopes(cases), rule_of(cases))
        self.assertEqual(set(expected), set(PATTERN_RULES), "a positive case for every rule")
        # Then each rule receives exactly its doors' successful calls
        self.assert_delivered(queues, names, expected)

    def test_forwarders_send_the_regions_doors_to_the_main_rules(self):
        # Given the main rules on us-east-1's default bus, and the forwarder stack's rules on
        # us-west-2's, with their targets as deployed (MainRegion us-east-1)
        resources = load_template()["Resources"]
        queues = self.pattern_queues()
        west = self.session.client("events", endpoint_url=self.endpoint, region_name="us-west-2")
        names = dict(DEPLOYED, MainRegion="us-east-1")
        names["ForwarderRole.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/guard-forwarder-ForwarderRole-B1C2D3"
        for forwarding in FORWARDING_RULES:
            props = resources[forwarding]["Properties"]
            (target,) = resolve(props["Targets"], names)
            self.assertEqual(target["Arn"], f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default")
            name = f"{forwarding}-{uuid.uuid4().hex[:8]}"
            west.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED")
            west.put_targets(Rule=name, Targets=[target])
        # When every door case, and the CreateNodegroup the forwarder always carried, happen in
        # us-west-2 (IAM's there too: a forwarder must not carry them)
        nodegroup = json.loads((EVENTS_DIR / "create-nodegroup.json").read_text())
        cases = door_cases() + [("events/create-nodegroup.json", nodegroup, "EksCreateNodegroupRule")]
        regional = rule_of([(n, e, None if r == "IamPolicyChangeRule" else r) for n, e, r in cases])
        sent, expected = self.put_cases(envelopes(cases), regional, events=west)
        self.assertEqual(set(expected), {"EksCreateNodegroupRule", "Ec2InstanceCredentialsRule"})
        # Then the main rules receive exactly the EKS and EC2 doors' successful calls
        self.assert_delivered(queues, sent, expected)


class DoorsThroughTheOrganization(OrganizationPaths):
    def test_member_doors_reach_the_central_rules_from_every_region(self):
        # (the IAM doors from us-east-1 only, where member.yaml's IAM rule is)
        cases = door_cases()
        expected = self.through_members(envelopes(cases), rule_of(cases), PATTERN_RULES)
        self.assertEqual({r for r, markers in expected.items() if markers}, set(CENTRAL_RULE.values()))

    def test_central_bus_rules_deliver_the_doors_from_the_organization_bus_only(self):
        cases = door_cases()
        self.on_central_bus(envelopes(cases), rule_of(cases), PATTERN_RULES)


class DoorsInTheTemplates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()
        cls.member = load_member()

    def patterns(self):
        """(where, rule the pattern must equal) for every rule that takes CloudTrail calls."""
        main, member = self.template["Resources"], self.member["Resources"]
        for rule in PATTERN_RULES:
            yield f"template.yaml {rule}", rule, main[rule]
            yield f"template.yaml {CENTRAL_RULE[rule]}", rule, main[CENTRAL_RULE[rule]]
            yield f"member.yaml {rule}", rule, member[rule]
        for forwarding, rule in FORWARDING_RULES.items():
            yield f"template.yaml {forwarding}", rule, main[forwarding]

    def test_every_rule_names_exactly_its_events_successful_calls_only(self):
        seen = set()
        for where, rule, resource in self.patterns():
            source, event_source, names = RULE_EVENTS[rule]
            with self.subTest(rule=where):
                pattern = resource["Properties"]["EventPattern"]
                self.assertEqual(
                    {k: v for k, v in pattern.items() if k != "detail"},
                    {"source": [source], "detail-type": ["AWS API Call via CloudTrail"]},
                )
                detail = pattern["detail"]
                self.assertEqual(set(detail), {"eventSource", "eventName", "errorCode"})
                self.assertEqual(detail["eventSource"], [event_source])
                self.assertEqual(set(detail["eventName"]), names)
                self.assertEqual(len(detail["eventName"]), len(names))
                self.assertEqual(detail["errorCode"], [{"exists": False}])
                seen.add(where)
        self.assertEqual(len(seen), 3 * len(PATTERN_RULES) + len(FORWARDING_RULES))

    def test_remove_node_trust_is_a_behaviour_parameter_off_by_default_in_both_templates(self):
        params = self.template["Parameters"]["RemoveNodeTrust"]
        self.assertEqual((params["Default"], params["AllowedValues"]), ("off", ["off", "on"]))
        self.assertIn(
            "on: in enforce, remove a statement that lets a node role assume another role from that role's "
            "trust policy (it edits a role that is not a node role); off: notify only",
            " ".join(params["Description"].split()),
        )
        groups = self.template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        (group,) = [g["Parameters"] for g in groups if "RemoveNodeTrust" in g["Parameters"]]
        self.assertIn("SharedRoles", group)
        variables = self.template["Resources"]["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["REMOVE_NODE_TRUST"], {"Ref": "RemoveNodeTrust"})
        member = self.member["Parameters"]["RemoveNodeTrust"]
        self.assertEqual((member["Default"], member["AllowedValues"]), (params["Default"], params["AllowedValues"]))
        for template in (self.template, self.member):
            self.assertEqual(
                template["Conditions"]["RemoveNodeTrustOn"], {"Fn::Equals": [{"Ref": "RemoveNodeTrust"}, "on"]}
            )

    def test_the_trust_write_exists_only_with_remove_node_trust_on_on_the_accounts_roles(self):
        # Given every role of both templates, and the gates of each statement granting the write
        wanted = {
            "template.yaml": (self.template, "RemediatorRole", ("IsMain", "RemoveNodeTrustOn")),
            "member.yaml": (self.member, "MemberRole", ("IsIamRegion", "RemoveNodeTrustOn")),
        }
        for where, (template, role, gate) in wanted.items():
            for logical_id in roles(template):
                with self.subTest(template=where, role=logical_id):
                    grants = [
                        (g, s)
                        for g, s in gated_statements(template, logical_id)
                        if s["Effect"] == "Allow" and set(as_list(s["Action"])) & TRUST_WRITES
                    ]
                    if logical_id != role:
                        self.assertEqual(grants, [])
                        continue
                    # Then only the guard's role has it, in a statement of its own on the
                    # account's roles, under the RemoveNodeTrustOn condition alone
                    ((got_gate, statement),) = grants
                    self.assertEqual(got_gate, gate)
                    self.assertEqual(as_list(statement["Action"]), sorted(TRUST_WRITES))
                    self.assertEqual(sub_text(statement["Resource"]), ACCOUNT_ROLES)
                    self.assertNotIn("Condition", statement)
        self.assertEqual(resource_types("iam:UpdateAssumeRolePolicy"), {"role"})

    def test_the_guards_own_role_is_denied_the_doors_role_writes_and_they_alert(self):
        writes = {"iam:UpdateAssumeRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"}
        for template, role in ((self.template, "RemediatorRole"), (self.member, "MemberRole")):
            with self.subTest(role=role):
                (deny,) = [s for s in role_statements(template, role) if s["Effect"] == "Deny"]
                self.assertEqual(deny["Resource"], {"Fn::GetAtt": [role, "Arn"]})
                self.assertLessEqual(writes | {"iam:PassRole"}, set(deny["Action"]))
        # and such a change to the function's role outside CloudFormation is a tamper alert
        alternatives = self.template["Resources"]["TamperAlertRule"]["Properties"]["EventPattern"]["detail"]["$or"]
        (iam,) = [a for a in alternatives if a["eventSource"] == ["iam.amazonaws.com"]]
        self.assertLessEqual({w.split(":")[1] for w in writes}, set(iam["eventName"]))
        self.assertEqual(iam["requestParameters"], {"roleName": [{"Ref": "RemediatorRole"}]})

    def test_the_doors_reads_are_scoped_to_the_accounts_profiles_and_policies(self):
        scopes = {"iam:GetInstanceProfile": ACCOUNT_PROFILES, "iam:ListEntitiesForPolicy": ACCOUNT_POLICIES}
        for template, role in ((self.template, "RemediatorRole"), (self.member, "MemberRole")):
            granted = {
                (action, sub_text(statement["Resource"]))
                for statement in role_statements(template, role)
                if statement["Effect"] == "Allow"
                for action in as_list(statement["Action"])
                if action in scopes
            }
            self.assertEqual(granted, set(scopes.items()), role)
        self.assertEqual(resource_types("iam:GetInstanceProfile"), {"instance-profile"})
        self.assertEqual(resource_types("iam:ListEntitiesForPolicy"), {"policy"})

    def test_the_ec2_rules_are_wired_like_the_others(self):
        main, member = self.template["Resources"], self.member["Resources"]
        ec2, central = "Ec2InstanceCredentialsRule", CENTRAL_RULE["Ec2InstanceCredentialsRule"]
        self.assertEqual((main[ec2]["Condition"], main[central]["Condition"]), ("IsMain", "IsCentral"))
        self.assertEqual(main[central]["Properties"]["EventBusName"], {"Ref": "CentralEventBus"})
        for rule in (ec2, central):
            with self.subTest(rule=rule):
                (target,) = main[rule]["Properties"]["Targets"]
                self.assertEqual(target["Arn"], {"Fn::GetAtt": ["RemediatorFunction", "Arn"]})
                self.assertEqual(target["RetryPolicy"], {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600})
                self.assertEqual(target["DeadLetterConfig"], {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}})
                permission = main[f"{rule}Permission"]["Properties"]
                self.assertEqual(permission["SourceArn"], {"Fn::GetAtt": [rule, "Arn"]})
        (target,) = member[ec2]["Properties"]["Targets"]
        self.assertEqual(target["Arn"], {"Ref": "CentralEventBusArn"})
        self.assertEqual(target["DeadLetterConfig"], {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}})
        # the rule is watched: disabling, re-patterning or retargeting it alerts
        alternatives = main["TamperAlertRule"]["Properties"]["EventPattern"]["detail"]["$or"]
        watched = [a for a in alternatives if a["eventSource"] == ["events.amazonaws.com"]]
        self.assertEqual(len(watched), 2)
        for alternative in watched:
            self.assertIn({"Ref": ec2}, next(iter(alternative["requestParameters"].values())))
        self.assertEqual(self.template["Outputs"]["Ec2ForwardingRuleArn"]["Condition"], "IsForwarder")


if __name__ == "__main__":
    unittest.main()
