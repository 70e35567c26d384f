//! Doors that widen who can use a node role or what it may do, and how pods reach it, against
//! the emulator over real HTTP: another role's trust naming a node role (closed with
//! REMOVE_NODE_TRUST=on in enforce), a node role's trust admitting another account, a new
//! default version of a policy attached to a node role, a node role's permissions boundary
//! removed, metadata options opened on a node or on its node group's launch template.

use std::time::Duration;

use noderole_integration::*;
use serde_json::{Value, json};

/// How long an inbox is watched for a notification that should not come.
const QUIET: Duration = Duration::from_secs(3);

async fn deliver(account: &Account, overrides: &[(&str, &str)], event: &Value) -> (Value, Vec<Received>) {
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(account, config(&inbox.topic_arn, overrides)).await;
    let report = json_of(&guard.handle(event).await.expect("handled"));
    let notes = inbox.drain(QUIET).await.expect("notes");
    (report, notes)
}

/// A trust admitting `principals` as `AWS` principals.
fn trusting(principals: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}]})
    .to_string()
}

const OTHER_ACCOUNT: &str = "arn:aws:iam::210987654321:root";

#[tokio::test]
async fn a_trust_naming_a_node_role_is_critical_on_an_admin_role_and_closed_only_when_told() {
    let account = Account::new(Moto::shared()).await;
    let (_, node_arn) = node_role_in_cluster(&account, &[]).await;
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let deploy = unique("deploy-admin");
    account.role(&deploy, "/", ACCOUNT_TRUST, &[ADMIN]).await.expect("role");
    let opened = trusting(&[&root, &node_arn]);
    account.set_trust(&deploy, &opened).await.expect("trust");
    let event = trust_event(&deploy, &opened);

    let (report, notes) = deliver(&account, &[], &event).await;
    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["role"]["name"], deploy.as_str());
    assert_eq!(report["door"]["kind"], "trust_names_node_role");
    assert_eq!(report["door"]["severity"], "CRITICAL");
    assert_eq!(report["door"]["result"]["status"], "planned");
    let notes = reports(&notes);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].report["door"]["kind"], "trust_names_node_role");

    let (report, _) = deliver(&account, &[("MODE", "enforce")], &event).await;
    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["door"]["result"]["status"], "skipped");
    assert!(trust_names(&account.trust(&deploy).await.expect("trust"), &node_arn));

    let on = [("MODE", "enforce"), ("REMOVE_NODE_TRUST", "on")];
    let (report, notes) = deliver(&account, &on, &event).await;
    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["door"]["result"]["status"], "done");
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");
    let now = account.trust(&deploy).await.expect("trust");
    assert!(!trust_names(&now, &node_arn), "{now}");
    assert!(trust_names(&now, &root), "the other principals stay: {now}");

    // the same event delivered again: the trust as it is now names no node role
    let (report, notes) = deliver(&account, &on, &event).await;
    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert_eq!(calls_of(&report), vec![("iam:GetRole".to_owned(), 1)]);
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn a_node_role_trusting_another_account_is_a_door_with_the_command_that_narrows_it() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[]).await;
    let opened = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com", "AWS": OTHER_ACCOUNT}, "Action": "sts:AssumeRole"}]})
    .to_string();
    account.set_trust(&role, &opened).await.expect("trust");

    let (report, notes) = deliver(&account, &[("MODE", "enforce")], &trust_event(&role, &opened)).await;

    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["door"]["kind"], "node_role_trust");
    assert_eq!(report["door"]["severity"], "HIGH");
    let close = report["door"]["close_commands"][0].as_str().expect("close command");
    assert!(close.starts_with("aws iam update-assume-role-policy"), "{close}");
    assert!(close.contains(&role) && !close.contains(OTHER_ACCOUNT), "{close}");
    assert!(report["door"].get("result").is_none(), "only notified: {report:#}");
    assert!(
        trust_names(&account.trust(&role).await.expect("trust"), OTHER_ACCOUNT),
        "a node role's trust is not changed"
    );
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");
}

#[tokio::test]
async fn a_trust_naming_no_role_and_no_node_service_is_ignored_without_a_call() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("lambda-fn");
    let lambda = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    account.role(&role, "/", lambda, &[ADMIN]).await.expect("role");

    let (report, notes) = deliver(&account, &[("MODE", "enforce")], &trust_event(&role, lambda)).await;

    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert_eq!(calls_of(&report), Vec::<(String, u64)>::new());
    assert!(notes.is_empty(), "{notes:?}");
}

const WIDE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const NARROW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

#[tokio::test]
async fn a_new_default_policy_version_judges_the_node_roles_it_is_attached_to() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[]).await;
    let policy = account
        .customer_policy(&unique("node-extras"), "/", NARROW)
        .await
        .expect("policy");
    account.attach(&role, &policy).await.expect("attach");
    account.new_default_version(&policy, WIDE).await.expect("version");

    let (report, notes) = deliver(&account, &[], &policy_version_event(&policy, WIDE, true)).await;
    assert_eq!(report["outcome"], "violations_found", "{report:#}");
    assert_eq!(report["role"]["name"], role.as_str());
    assert_eq!(report["door"]["kind"], "policy_version");
    // a managed policy's severity goes by its name: a customer-managed one is MEDIUM whatever
    // its version allows
    assert_eq!(report["door"]["severity"], "MEDIUM");
    assert!(
        report["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .any(|v| v["policy_arn"] == policy.as_str()),
        "{report:#}"
    );
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");

    // attached to no role: one read
    let loose = account
        .customer_policy(&unique("loose"), "/", NARROW)
        .await
        .expect("policy");
    account.new_default_version(&loose, WIDE).await.expect("version");
    let (report, notes) = deliver(&account, &[], &policy_version_event(&loose, WIDE, true)).await;
    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert_eq!(calls_of(&report), vec![("iam:ListEntitiesForPolicy".to_owned(), 1)]);
    assert!(notes.is_empty(), "{notes:?}");

    // not made the default: nothing in effect changed, no call
    let (report, _) = deliver(&account, &[], &policy_version_event(&policy, WIDE, false)).await;
    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert_eq!(calls_of(&report), Vec::<(String, u64)>::new());
}

#[tokio::test]
async fn a_node_roles_boundary_removed_is_told_even_when_the_role_passes() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[]).await;
    let boundary = account
        .customer_policy(&unique("boundary"), "/", NARROW)
        .await
        .expect("boundary");
    account.drop_boundary(&role, &boundary).await.expect("boundary dropped");

    let (report, notes) = deliver(&account, &[("MODE", "enforce")], &delete_boundary_event(&role)).await;
    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["node_role"], true);
    assert_eq!(report["door"]["kind"], "permissions_boundary");
    assert_eq!(report["door"]["severity"], "MEDIUM");
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");

    // a role that is no node role
    let other = unique("ci");
    account.role(&other, "/", ACCOUNT_TRUST, &[]).await.expect("role");
    account
        .drop_boundary(&other, &boundary)
        .await
        .expect("boundary dropped");
    let (report, notes) = deliver(&account, &[("MODE", "enforce")], &delete_boundary_event(&other)).await;
    assert_eq!(report["outcome"], "not_node_role", "{report:#}");
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn metadata_options_that_open_imds_to_pods_on_a_node_are_a_door_with_the_command_that_closes_it() {
    let account = Account::new(Moto::shared()).await;
    let nodes = account.managed_nodes(&unique("prod"), 1).await.expect("nodes");
    let node = &nodes.ids[0];

    let (report, notes) = deliver(
        &account,
        &[("MODE", "enforce")],
        &metadata_event(REGION, node, 2, "required"),
    )
    .await;
    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["door"]["kind"], "instance_metadata");
    assert_eq!(report["door"]["severity"], "HIGH");
    assert_eq!(report["door"]["subject"], node.as_str());
    let close = report["door"]["close_commands"][0].as_str().expect("close command");
    assert!(
        close.contains(node) && close.contains("--http-put-response-hop-limit 1 --http-tokens required"),
        "{close}"
    );
    assert!(report["door"].get("result").is_none(), "only notified: {report:#}");
    let notes = reports(&notes);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].report["outcome"], "door_opened");

    // options that open nothing need no call
    let (report, notes) = deliver(&account, &[], &metadata_event(REGION, node, 1, "required")).await;
    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert_eq!(calls_of(&report), Vec::<(String, u64)>::new());
    assert!(notes.is_empty(), "{notes:?}");

    // an instance that is no node
    let bastion = account.run_instances(REGION, 1, None, &[]).await.expect("bastion");
    let (report, notes) = deliver(&account, &[], &metadata_event(REGION, &bastion[0], 2, "optional")).await;
    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert!(report.get("door").is_none());
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn a_launch_template_version_allowing_imdsv1_is_a_door_when_a_managed_node_group_launches_from_it() {
    let account = Account::new(Moto::shared()).await;
    let cluster = unique("prod");
    account.cluster(REGION, &cluster, &[]).await.expect("cluster");
    let node = unique("lt-node");
    let node_arn = account.node_role(&node, &[]).await.expect("node role");
    let used = account
        .launch_template(REGION, &unique("lt-used"))
        .await
        .expect("template");
    account
        .nodegroup_from_template(REGION, &cluster, "from-template", &node_arn, &used)
        .await
        .expect("node group");
    let unused = account
        .launch_template(REGION, &unique("lt-unused"))
        .await
        .expect("template");

    let event = launch_template_version_event(REGION, &used, 2, "optional");
    let (report, notes) = deliver(&account, &[], &event).await;
    assert_eq!(report["outcome"], "door_opened", "{report:#}");
    assert_eq!(report["door"]["kind"], "launch_template_metadata");
    assert_eq!(report["door"]["severity"], "HIGH");
    assert!(
        report["door"]["finding"]
            .as_str()
            .expect("finding")
            .contains(&format!("{cluster}/from-template")),
        "{report:#}"
    );
    let close = report["door"]["close_commands"][0].as_str().expect("close command");
    assert!(
        close.contains(&used) && close.contains("--source-version 2") && close.contains(r#""HttpTokens":"required""#),
        "{close}"
    );
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");

    let (report, notes) = deliver(
        &account,
        &[],
        &launch_template_version_event(REGION, &unused, 2, "optional"),
    )
    .await;
    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert!(report["reason"].as_str().expect("reason").contains(&unused));
    assert!(notes.is_empty(), "{notes:?}");
}
