"""The door events of the latency run (docs/doors.md): three that concern no node, each built
from its `events/doors/` fixture with the bench's account, regions and ids put in, and the few
writes that make the seeded account what those events say happened (made before the account is
read back, untimed)."""

import json

from .base import HOME_REGION, ROOT, UNRELATED_ROLE
from .minimums import cluster_of

FIXTURES = {
    "door_profile": "events/doors/add-role-to-instance-profile.json",
    "door_trust": "events/doors/update-assume-role-policy-names-node-role.json",
    "door_metadata": "events/doors/modify-instance-metadata-options.json",
}
# the fixture's profile: one that holds a role and that no instance runs with
SPARE_PROFILE = "eks-node-profile"
# a trust only Lambda may assume: names no role, admits no node service
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def trust_role(args):
    """The role whose trust the trust event edits: one of the seeded unrelated roles (not (a)'s)."""
    return "unrelated-role-0" if args.unrelated_roles > 0 else UNRELATED_ROLE


def arrange(emu, args):
    """What the events report, done in the account: `SPARE_PROFILE` holding `ci-deployer` (no
    instance uses it) and the trust role trusting Lambda only."""
    iam = emu.client("iam")
    try:
        iam.create_instance_profile(InstanceProfileName=SPARE_PROFILE)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    held = iam.get_instance_profile(InstanceProfileName=SPARE_PROFILE)["InstanceProfile"]["Roles"]
    if not held:
        iam.add_role_to_instance_profile(InstanceProfileName=SPARE_PROFILE, RoleName=UNRELATED_ROLE)
    iam.update_assume_role_policy(RoleName=trust_role(args), PolicyDocument=json.dumps(LAMBDA_TRUST))


def unrelated_instance(inv, regions, prefer):
    """A seeded unrelated instance (`bastion-N`, naming no cluster of its region, as the function
    reads tags): in `prefer` when that scanned region has one, else in the first scanned region
    that has one. -> (region, id) or None"""
    order = sorted(regions, key=lambda r: r != prefer)
    for region in order:
        clusters = set(inv["clusters"][region])
        for instance_id, _profile, tags in inv["instances"][region]:
            if tags.get("Name", "").startswith("bastion-") and cluster_of(tags, clusters) is None:
                return region, instance_id
    return None


def retarget(path, account, region):
    """The fixture with the bench's account (everywhere the fixture's appears) and region."""
    text = (ROOT / path).read_text()
    envelope = json.loads(text)
    envelope = json.loads(text.replace(envelope["account"], account))
    envelope["region"] = region
    envelope["detail"]["awsRegion"] = region
    return envelope


def build(inv, regions, account, args):
    """-> ({case event name: payload bytes}, what each event names, for the results)"""
    events, facts = {}, {}

    profile = retarget(FIXTURES["door_profile"], account, HOME_REGION)
    profile["detail"]["requestParameters"] = {"instanceProfileName": SPARE_PROFILE, "roleName": UNRELATED_ROLE}
    events["door_profile"] = profile
    facts["door_profile"] = {"profile": SPARE_PROFILE, "role": UNRELATED_ROLE, "region": HOME_REGION}

    trust = retarget(FIXTURES["door_trust"], account, HOME_REGION)
    trust["detail"]["requestParameters"] = {
        # as the CLI sends a file's content: pretty-printed
        "policyDocument": json.dumps(LAMBDA_TRUST, indent=2),
        "roleName": trust_role(args),
    }
    events["door_trust"] = trust
    facts["door_trust"] = {"role": trust_role(args), "trusts": "lambda.amazonaws.com"}

    fixture_region = json.loads((ROOT / FIXTURES["door_metadata"]).read_text())["region"]
    found = unrelated_instance(inv, regions, fixture_region)
    if found:
        region, instance_id = found
        meta = retarget(FIXTURES["door_metadata"], account, region)
        detail = meta["detail"]
        detail["requestParameters"]["ModifyInstanceMetadataOptionsRequest"]["InstanceId"] = instance_id
        detail["responseElements"]["ModifyInstanceMetadataOptionsResponse"]["instanceId"] = instance_id
        detail["tlsDetails"]["clientProvidedHostHeader"] = f"ec2.{region}.amazonaws.com"
        events["door_metadata"] = meta
        request = detail["requestParameters"]["ModifyInstanceMetadataOptionsRequest"]
        facts["door_metadata"] = {
            "instance": instance_id,
            "region": region,
            "hop_limit": request.get("HttpPutResponseHopLimit"),
            "tokens": request.get("HttpTokens"),
        }
    return {k: json.dumps(v).encode() for k, v in events.items()}, facts
