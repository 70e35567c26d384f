//! Injected faults: a denied action does not stop the others, transient failures ask for a
//! retry after notifying, and an inline policy goes only after its backup is published.

use super::*;
use serde_json::Value;

#[tokio::test]
async fn a_denied_action_is_reported_while_the_others_go_ahead() {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN, "AmazonS3FullAccess"]);
    iam.fail(
        "DetachRolePolicy",
        &format!("arn:aws:iam::aws:policy/{ADMIN}"),
        error("iam:DetachRolePolicy", ErrorKind::Denied, "AccessDenied"),
    );
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    );

    let report = guard
        .handle(&attach("node"))
        .await
        .expect("a permanent failure is a report, not an error");

    assert_eq!(report.outcome, Outcome::PartiallyRemediated);
    let attached = guard.home.iam.attached("node");
    assert!(has(&attached, ADMIN) && !has(&attached, "AmazonS3FullAccess"));
    let published = guard.notifier.published.lock().expect("lock");
    assert!(
        published[0].message.contains("FAILED"),
        "the notification names the failure"
    );
}

#[tokio::test]
async fn transient_failures_return_an_error_after_logging_and_notifying() {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    iam.fail(
        "DetachRolePolicy",
        "*",
        error("iam:DetachRolePolicy", ErrorKind::Transient, "Throttling"),
    );
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    );
    let err = guard.handle(&attach("node")).await.expect_err("a retry could help");
    assert_eq!(err.error_type(), "TransientAwsError");
    assert_eq!(
        guard.notifier.published.lock().expect("lock").len(),
        1,
        "what happened was still notified"
    );

    // a notification that cannot be published: the report records it, the error asks for a retry
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard2 = super::tests::guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    );
    *guard2.notifier.failure.lock().expect("lock") = Some(error("sns:Publish", ErrorKind::Transient, "Throttling"));
    let err = guard2
        .handle(&attach("node"))
        .await
        .expect_err("publish can be retried");
    assert!(err.to_string().contains("publishing the notification"), "{err}");
    assert!(
        !has(&guard2.home.iam.attached("node"), ADMIN),
        "the fix itself went ahead"
    );

    // a denied GetRole is a `failed` report, notified, and not retried
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    iam.fail("GetRole", "*", error("iam:GetRole", ErrorKind::Denied, "AccessDenied"));
    let guard3 = super::tests::guard(iam, vec![], &[]);
    let report = guard3.handle(&attach("node")).await.expect("report");
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(guard3.notifier.published.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn an_inline_policy_is_deleted_only_after_its_backup_is_published() {
    // Given a node role with an inline policy, and a topic that throttles every publish
    let iam = with_node(FakeIam::default(), "node", &[]);
    iam.roles
        .lock()
        .expect("lock")
        .get_mut("node")
        .expect("node")
        .inline
        .insert(
            "debug".into(),
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(),
        );
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    );
    *guard.notifier.failure.lock().expect("lock") = Some(error("sns:Publish", ErrorKind::Transient, "Throttling"));

    // When the event is handled, the policy stays: its backup could not reach the topic
    let err = guard.handle(&attach("node")).await.expect_err("a retry could help");
    assert_eq!(err.error_type(), "TransientAwsError");
    assert_eq!(guard.home.iam.inline_names("node"), vec!["debug".to_owned()]);

    // When the topic works again and Lambda retries, the backup goes out first, then the delete
    *guard.notifier.failure.lock().expect("lock") = None;
    let report = guard.handle(&attach("node")).await.expect("report");
    assert_eq!(report.outcome, Outcome::Remediated);
    assert!(guard.home.iam.inline_names("node").is_empty());
    let published = guard.notifier.published.lock().expect("lock");
    let subjects: Vec<&str> = published.iter().map(|n| n.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "eks-node-role-guard: backup before delete: debug on node",
            "eks-node-role-guard: remediated: node (1 violation(s))"
        ]
    );
    let backup: Value = serde_json::from_str(&published[0].message).expect("json");
    let machine: Value = serde_json::from_str(backup["sqs"].as_str().expect("sqs")).expect("json");
    assert_eq!(machine["deleted_inline_policies"][0]["policy_name"], "debug");
    assert!(
        machine["deleted_inline_policies"][0]["restore_command"]
            .as_str()
            .expect("restore")
            .starts_with("aws iam put-role-policy ")
    );
}
