//! Shared fixtures: the configuration and remediator the tests use, and the one-node-group
//! setup most of them start from.

use std::collections::HashMap;

use noderole::{Config, Remediator};

/// The function's remediator over the AWS adapters.
pub type AwsRemediator = Remediator<noderole::aws::Aws>;

use crate::account::Account;
use crate::emulator::{REGION, SECOND_REGION, unique};

/// The AWS-managed policy most violations are made of.
pub const ADMIN: &str = "AdministratorAccess";

/// Configuration as the function would read it, with `overrides` on top.
pub fn config(topic_arn: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("SNS_TOPIC_ARN".to_owned(), topic_arn.to_owned()),
        ("SCAN_REGIONS".to_owned(), format!("{REGION},{SECOND_REGION}")),
        ("MODE".to_owned(), "dry-run".to_owned()),
    ]);
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test configuration")
}

/// The remediator wired to the emulator, the way the function's `main` wires it.
pub async fn remediator(account: &Account, config: Config) -> AwsRemediator {
    let (identity, adapters) = noderole::aws::adapters(&account.sdk, &config)
        .await
        .expect("the adapters build against moto");
    Remediator::new(config, identity, adapters)
}

/// A node role named `role` (the worker, ECR and CNI policies plus `extra` AWS-managed ones)
/// backing node group `general` of a new cluster in [`REGION`]; returns its ARN.
pub async fn node_role_named_in_cluster(account: &Account, role: &str, extra: &[&str]) -> String {
    let arn = account.node_role(role, extra).await.expect("node role");
    account
        .cluster(REGION, &unique("cluster"), &[("general", &arn)])
        .await
        .expect("cluster");
    arn
}

/// [`node_role_named_in_cluster`] with a new name: `(name, ARN)`.
pub async fn node_role_in_cluster(account: &Account, extra: &[&str]) -> (String, String) {
    let role = unique("node");
    let arn = node_role_named_in_cluster(account, &role, extra).await;
    (role, arn)
}
