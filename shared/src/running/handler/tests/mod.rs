//! Core tests: the handler over the fake set of ports, one file per concern; the fixtures every
//! file shares are here.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

mod addons;
mod discovery;
mod documented;
mod doors;
mod faults;
mod instances;
mod organization;
mod sweep;
mod telling;
mod trust;
use crate::discovery::Scan;
use crate::ports::Adapters;
use crate::ports::fakes::*;
use crate::types::{ActionResult, IndexSource};
use crate::types::{AddonCredentials, ErrorKind, Notification};

const ADMIN: &str = "AdministratorAccess";
const NODE: &[&str] = &[
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEKS_CNI_Policy",
];

fn config(vars: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = HashMap::from([
        (
            "SNS_TOPIC_ARN".to_owned(),
            "arn:aws:sns:us-east-1:123456789012:guard".to_owned(),
        ),
        ("SCAN_REGIONS".to_owned(), "us-east-1,eu-west-1".to_owned()),
        ("MODE".to_owned(), "enforce".to_owned()),
    ]);
    for (k, v) in vars {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|n| map.get(n).cloned()).expect("valid")
}

fn identity() -> Identity {
    Identity::from_caller_arn(
        "123456789012",
        "arn:aws:sts::123456789012:assumed-role/guard-remediator/node-role-remediator",
    )
}

type Fake = Remediator<Fakes>;

/// Fake ports over `iam` and `clusters`: no findings, no trails, no members.
fn adapters(iam: FakeIam, clusters: Vec<FakeCluster>) -> Adapters<Fakes> {
    Adapters {
        iam,
        eks: FakeEks::new(clusters),
        ec2: FakeEc2::default(),
        findings: FakeFindings::default(),
        notifier: FakeNotifier::default(),
        trails: FakeTrails::default(),
        members: FakeMembers::default(),
    }
}

fn guard(iam: FakeIam, clusters: Vec<FakeCluster>, vars: &[(&str, &str)]) -> Fake {
    guard_with(adapters(iam, clusters), vars)
}

fn guard_with(adapters: Adapters<Fakes>, vars: &[(&str, &str)]) -> Fake {
    Remediator::new(config(vars), identity(), adapters)
}

fn attach(role: &str) -> Value {
    envelope(
        json!({"roleName": role, "policyArn": format!("arn:aws:iam::aws:policy/{ADMIN}")}),
        "AttachRolePolicy",
    )
}

fn envelope(params: Value, name: &str) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
        "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                   "requestParameters": params}
    })
}

fn sweep_event() -> Value {
    json!({"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": "us-east-1",
           "resources": [], "detail": {}})
}

fn with_node(iam: FakeIam, name: &str, extra: &[&str]) -> FakeIam {
    let mut policies = NODE.to_vec();
    policies.extend_from_slice(extra);
    iam.with_role(name, EC2_TRUST, &policies, &[])
}

fn has(attached: &[String], name: &str) -> bool {
    attached.iter().any(|a| a.ends_with(&format!("/{name}")))
}
