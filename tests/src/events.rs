//! Events from `events/`, retargeted at seeded roles, and the Report as JSON.

use noderole::Report;
use serde_json::{Value, json};

use crate::emulator::repo_root;

/// An `events/` file.
pub fn event_file(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `events/attach-admin-to-node-role.json` retargeted at `role` and `policy_arn`.
pub fn attach_event(role: &str, policy_arn: &str) -> Value {
    let mut event = event_file("attach-admin-to-node-role.json");
    event["detail"]["requestParameters"] = json!({"roleName": role, "policyArn": policy_arn});
    event
}

/// `events/put-inline-on-node-role.json` retargeted at `role` and `policy`.
pub fn put_event(role: &str, policy: &str, document: &str) -> Value {
    let mut event = event_file("put-inline-on-node-role.json");
    event["detail"]["requestParameters"] = json!({"roleName": role, "policyName": policy, "policyDocument": document});
    event
}

/// `events/create-nodegroup.json` retargeted.
pub fn create_nodegroup_event(region: &str, cluster: &str, nodegroup: &str, role_arn: &str) -> Value {
    let mut event = event_file("create-nodegroup.json");
    event["region"] = json!(region);
    event["detail"]["awsRegion"] = json!(region);
    event["detail"]["requestParameters"]["name"] = json!(cluster);
    event["detail"]["requestParameters"]["nodegroupName"] = json!(nodegroup);
    event["detail"]["requestParameters"]["nodeRole"] = json!(role_arn);
    event["detail"]["responseElements"]["nodegroup"]["clusterName"] = json!(cluster);
    event["detail"]["responseElements"]["nodegroup"]["nodegroupName"] = json!(nodegroup);
    event["detail"]["responseElements"]["nodegroup"]["nodeRole"] = json!(role_arn);
    event
}

/// The report as JSON, for assertions on the contract rather than on Rust types.
pub fn json_of(report: &Report) -> Value {
    serde_json::to_value(report).expect("report serializes")
}

/// `(action, policy, status)` of every action in a JSON report.
pub fn actions(report: &Value) -> Vec<(String, String, String)> {
    report["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    (
                        a["action"].as_str().unwrap_or_default().to_owned(),
                        a["policy_name"].as_str().unwrap_or_default().to_owned(),
                        a["result"]["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A CloudTrail event of `name` in `region` with `params` and `response`, in the envelope of
/// `events/attach-admin-to-node-role.json`: IAM calls record flat fields, EC2 calls wrap them in
/// `<Operation>Request` / `<Operation>Response` (the builders below do).
pub fn cloudtrail_event(name: &str, region: &str, params: Value, response: Value) -> Value {
    let (source, event_source) = match name {
        "AssociateIamInstanceProfile"
        | "ReplaceIamInstanceProfileAssociation"
        | "ModifyInstanceMetadataOptions"
        | "CreateLaunchTemplateVersion" => ("aws.ec2", "ec2.amazonaws.com"),
        _ => ("aws.iam", "iam.amazonaws.com"),
    };
    let mut event = event_file("attach-admin-to-node-role.json");
    event["source"] = json!(source);
    event["region"] = json!(region);
    let detail = &mut event["detail"];
    detail["eventSource"] = json!(event_source);
    detail["eventName"] = json!(name);
    detail["awsRegion"] = json!(region);
    detail["requestParameters"] = params;
    detail["responseElements"] = response;
    event
}

/// `iam:AddRoleToInstanceProfile` (IAM events reach EventBridge in us-east-1).
pub fn add_role_to_profile_event(profile: &str, role: &str) -> Value {
    let params = json!({"instanceProfileName": profile, "roleName": role});
    cloudtrail_event("AddRoleToInstanceProfile", "us-east-1", params, Value::Null)
}

/// `ec2:AssociateIamInstanceProfile` of `instance` with `profile_arn`.
pub fn associate_profile_event(region: &str, instance: &str, profile_arn: &str) -> Value {
    let params = json!({"AssociateIamInstanceProfileRequest": {
        "InstanceId": instance, "IamInstanceProfile": {"Arn": profile_arn}}});
    let response = json!({"AssociateIamInstanceProfileResponse": {"iamInstanceProfileAssociation": {
        "associationId": "iip-assoc-0123456789abcdef0", "instanceId": instance,
        "iamInstanceProfile": {"arn": profile_arn}, "state": "associating"}}});
    cloudtrail_event("AssociateIamInstanceProfile", region, params, response)
}

/// `ec2:ReplaceIamInstanceProfileAssociation`: the request names only the association, the
/// response the instance.
pub fn replace_association_event(region: &str, association: &str, instance: &str, profile_arn: &str) -> Value {
    let params = json!({"ReplaceIamInstanceProfileAssociationRequest": {
        "AssociationId": association, "IamInstanceProfile": {"Arn": profile_arn}}});
    let response = json!({"ReplaceIamInstanceProfileAssociationResponse": {"iamInstanceProfileAssociation": {
        "associationId": "iip-assoc-0fedcba9876543210", "instanceId": instance,
        "iamInstanceProfile": {"arn": profile_arn}, "state": "associating"}}});
    cloudtrail_event("ReplaceIamInstanceProfileAssociation", region, params, response)
}

/// `iam:UpdateAssumeRolePolicy` putting `document` on `role`.
pub fn trust_event(role: &str, document: &str) -> Value {
    let params = json!({"roleName": role, "policyDocument": document});
    cloudtrail_event("UpdateAssumeRolePolicy", "us-east-1", params, Value::Null)
}

/// `iam:CreatePolicyVersion` of `policy_arn`.
pub fn policy_version_event(policy_arn: &str, document: &str, set_as_default: bool) -> Value {
    let params = json!({"policyArn": policy_arn, "policyDocument": document, "setAsDefault": set_as_default});
    let response = json!({"policyVersion": {"versionId": "v2", "isDefaultVersion": set_as_default}});
    cloudtrail_event("CreatePolicyVersion", "us-east-1", params, response)
}

/// `iam:DeleteRolePermissionsBoundary` of `role`.
pub fn delete_boundary_event(role: &str) -> Value {
    cloudtrail_event(
        "DeleteRolePermissionsBoundary",
        "us-east-1",
        json!({"roleName": role}),
        Value::Null,
    )
}

/// `ec2:ModifyInstanceMetadataOptions` on `instance` (the hop limit as CloudTrail may write it:
/// a number).
pub fn metadata_event(region: &str, instance: &str, hop_limit: i64, tokens: &str) -> Value {
    let params = json!({"ModifyInstanceMetadataOptionsRequest": {
        "InstanceId": instance, "HttpPutResponseHopLimit": hop_limit, "HttpTokens": tokens}});
    cloudtrail_event("ModifyInstanceMetadataOptions", region, params, Value::Null)
}

/// `ec2:CreateLaunchTemplateVersion` of template `id`, version `version`, with `HttpTokens`
/// `tokens`.
pub fn launch_template_version_event(region: &str, id: &str, version: i64, tokens: &str) -> Value {
    let params = json!({"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": id,
        "LaunchTemplateData": {"MetadataOptions": {"HttpTokens": tokens}}}});
    let response = json!({"CreateLaunchTemplateVersionResponse": {"launchTemplateVersion": {
        "launchTemplateId": id, "versionNumber": version}}});
    cloudtrail_event("CreateLaunchTemplateVersion", region, params, response)
}

/// Calls a JSON report names, as `(operation, count)`, sorted.
pub fn calls_of(report: &Value) -> Vec<(String, u64)> {
    report["api_calls"]
        .as_object()
        .map(|calls| {
            calls
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}
