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
