//! Door events over the fakes: a node access entry judged at once, a trust that
//! names a node role by its unique id, a policy version reaching a node role and another role,
//! a boundary change on a passing node role told anyway, and a refused trust fix retried.

use super::*;
use crate::types::{DoorKind, Severity};

fn door_event(source: &str, event_source: &str, name: &str, region: &str, params: Value) -> Value {
    json!({
        "version": "0", "id": "d", "detail-type": "AWS API Call via CloudTrail", "source": source,
        "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": region, "resources": [],
        "detail": {"eventSource": event_source, "eventName": name, "awsRegion": region,
                   "requestParameters": params}
    })
}

fn access_entry_event(role: &str, kind: &str) -> Value {
    door_event(
        "aws.eks",
        "eks.amazonaws.com",
        "CreateAccessEntry",
        "us-east-1",
        json!({"name": "c", "principalArn": role_arn(role), "type": kind}),
    )
}

fn trust_event(role: &str, document: &str) -> Value {
    envelope(
        json!({"roleName": role, "policyDocument": document}),
        "UpdateAssumeRolePolicy",
    )
}

fn trusting(principal: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal},
           "Action": "sts:AssumeRole"}]})
    .to_string()
}

#[tokio::test]
async fn a_node_access_entry_is_judged_at_once() {
    let iam = FakeIam::default().with_role("ci", EC2_TRUST, &[ADMIN], &[]);
    // the entry exists in EKS (the event is confirmed with DescribeAccessEntry)
    let cluster = FakeCluster::new("us-east-1", "c").access_entry("ci", "EC2_LINUX");
    let guard = guard(iam, vec![cluster], &[("INDEX_TTL_SECONDS", "300")]);
    let report = guard
        .handle(&access_entry_event("ci", "EC2_LINUX"))
        .await
        .expect("report");
    assert_eq!(report.outcome, Outcome::Remediated, "{:?}", report.reason);
    let door = report.door.as_ref().expect("door");
    assert_eq!(door.kind, DoorKind::NodeAccessEntry);
    assert_eq!(door.severity, Severity::Critical, "AdministratorAccess was found");
    assert!(!has(&guard.home.iam.attached("ci"), ADMIN));

    // the standard kind registers no node: nothing is called at all
    let standard = guard
        .handle(&access_entry_event("ci", "STANDARD"))
        .await
        .expect("report");
    assert_eq!(standard.outcome, Outcome::Ignored);
    assert!(standard.api_calls.is_empty(), "{:?}", standard.api_calls);
}

#[tokio::test]
async fn a_trust_naming_a_node_role_by_its_unique_id_is_critical_for_an_administrator() {
    let iam = with_node(FakeIam::default(), "node", &[]).with_role("deploy-admin", EC2_TRUST, &[ADMIN], &[]);
    let iam = {
        let id = fake_role_id("node");
        iam.roles
            .lock()
            .expect("lock")
            .get_mut("deploy-admin")
            .expect("role")
            .trust = trusting(&id);
        iam
    };
    let clusters = vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")];
    let guard = guard(iam, clusters, &[("REMOVE_NODE_TRUST", "on")]);
    let report = guard
        .handle(&trust_event("deploy-admin", &trusting(&fake_role_id("node"))))
        .await
        .expect("report");
    assert_eq!(report.outcome, Outcome::DoorOpened, "{:?}", report.reason);
    let door = report.door.as_ref().expect("door");
    assert_eq!(
        (door.kind, door.severity),
        (DoorKind::TrustNamesNodeRole, Severity::Critical)
    );
    assert_eq!(door.result, Some(ActionResult::Done));
    let trust = guard.home.iam.roles.lock().expect("lock")["deploy-admin"].trust.clone();
    let reading = crate::verdict::doors::trust::read(&trust).expect("json");
    assert!(reading.roles.is_empty(), "no statement allows the node role: {trust}");
    // the notification carries the command that puts it back as it was
    let published = guard.notifier.published.lock().expect("lock");
    let text = &published.last().expect("notified").message;
    assert!(text.contains("[CRITICAL] DOOR"), "{text}");
    assert!(text.contains("Put it back as found"), "{text}");
}

#[tokio::test]
async fn a_refused_trust_fix_is_reported_and_a_throttled_one_retried() {
    let iam = with_node(FakeIam::default(), "node", &[]).with_role("other", EC2_TRUST, &[], &[]);
    let document = trusting(&role_arn("node"));
    iam.roles.lock().expect("lock").get_mut("other").expect("role").trust = document.clone();
    let clusters = vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")];
    let guard = guard(iam, clusters, &[("REMOVE_NODE_TRUST", "on")]);
    guard.home.iam.fail(
        "UpdateAssumeRolePolicy",
        "other",
        error("iam:UpdateAssumeRolePolicy", ErrorKind::Transient, "Throttling"),
    );
    let retried = guard.handle(&trust_event("other", &document)).await;
    assert!(matches!(retried, Err(HandlerError::Transient { .. })), "{retried:?}");

    guard.home.iam.fail(
        "UpdateAssumeRolePolicy",
        "other",
        error("iam:UpdateAssumeRolePolicy", ErrorKind::Denied, "AccessDenied"),
    );
    let report = guard.handle(&trust_event("other", &document)).await.expect("report");
    let door = report.door.expect("door");
    assert_eq!(
        door.severity,
        Severity::High,
        "no administrator power on the other role"
    );
    assert!(
        matches!(door.result, Some(ActionResult::Failed { .. })),
        "{:?}",
        door.result
    );
}

#[tokio::test]
async fn a_policy_version_judges_every_role_it_is_attached_to() {
    let policy = "arn:aws:iam::aws:policy/AmazonS3FullAccess";
    let iam = with_node(FakeIam::default(), "node", &["AmazonS3FullAccess"]).with_role(
        "app",
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}]}"#,
        &["AmazonS3FullAccess"],
        &[],
    );
    let clusters = vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")];
    let guard = guard(iam, clusters, &[("MODE", "dry-run")]);
    let event = envelope(
        json!({"policyArn": policy, "versionId": "v2"}),
        "SetDefaultPolicyVersion",
    );
    let report = guard.handle(&event).await.expect("report");
    assert_eq!(report.outcome, Outcome::ViolationsFound);
    assert_eq!(report.role.as_ref().map(|r| r.name.as_str()), Some("node"));
    assert_eq!(report.door.as_ref().map(|d| d.kind), Some(DoorKind::PolicyVersion));
    let others: Vec<(&str, Outcome)> = report
        .roles
        .iter()
        .map(|r| (r.role.as_ref().map_or("", |r| r.name.as_str()), r.outcome))
        .collect();
    assert_eq!(others, vec![("app", Outcome::NotNodeRole)]);
}

#[tokio::test]
async fn a_boundary_change_on_a_passing_node_role_is_told_anyway() {
    let iam = with_node(FakeIam::default(), "node", &[]);
    let clusters = vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")];
    let guard = guard(iam, clusters, &[]);
    let event = envelope(json!({"roleName": "node"}), "DeleteRolePermissionsBoundary");
    let report = guard.handle(&event).await.expect("report");
    assert_eq!(report.outcome, Outcome::DoorOpened, "{:?}", report.reason);
    assert_eq!(report.door.as_ref().map(|d| d.severity), Some(Severity::Medium));
    let published = guard.notifier.published.lock().expect("lock");
    let subject = &published.last().expect("notified").subject;
    assert!(
        subject.contains("[MEDIUM] node role permissions boundary changed"),
        "{subject}"
    );
}

#[tokio::test]
async fn a_doors_finding_stays_open_until_an_event_finds_the_door_shut_and_the_sweep_leaves_it() {
    let iam = with_node(FakeIam::default(), "node", &[]).with_role("other", EC2_TRUST, &[], &[]);
    let opened = trusting(&role_arn("node"));
    iam.roles.lock().expect("lock").get_mut("other").expect("role").trust = opened.clone();
    let clusters = vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")];
    let guard = guard_with(adapters(iam, clusters), &[("SECURITY_HUB", "on"), ("MODE", "dry-run")]);
    let id = "eks-node-role-guard/123456789012/other/door/trust_names_node_role/other";
    let finding = |guard: &Fake| guard.home.findings.imported.lock().expect("lock").get(id).cloned();

    let report = guard.handle(&trust_event("other", &opened)).await.expect("report");
    assert_eq!(report.outcome, Outcome::DoorOpened);
    let open = finding(&guard).expect("a finding for the door");
    assert!(open.open);
    assert_eq!(open.severity, "HIGH");
    assert_eq!(open.role_arn, role_arn("other"));

    // the sweep does not re-read doors: it neither closes the finding nor counts it stale
    guard.handle(&sweep_event()).await.expect("sweep");
    assert!(finding(&guard).expect("kept").open);

    // someone fixes the trust; the event of that fix finds the door shut and closes the finding
    let fixed = EC2_TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com");
    guard
        .home
        .iam
        .roles
        .lock()
        .expect("lock")
        .get_mut("other")
        .expect("role")
        .trust = fixed.clone();
    let report = guard.handle(&trust_event("other", &fixed)).await.expect("report");
    assert_eq!(report.outcome, Outcome::Ignored, "{:?}", report.reason);
    let closed = finding(&guard).expect("still there");
    assert!(!closed.open, "closed by the event that found the door shut");
    assert_eq!(closed.created_at, open.created_at);
}
