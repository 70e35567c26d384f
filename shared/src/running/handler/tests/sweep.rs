//! The function's sweep: every node role checked and notified, plus one summary; a role that
//! could not be finished is named and retried.

use super::*;

#[tokio::test]
async fn sweep_checks_every_node_role_and_notifies_per_role_plus_a_summary() {
    let iam = with_node(
        with_node(with_node(FakeIam::default(), "a", &[ADMIN]), "b", &[]),
        "c",
        &[],
    )
    .with_role("unrelated", EC2_TRUST, &[ADMIN], &[]);
    iam.roles
        .lock()
        .expect("lock")
        .get_mut("c")
        .expect("c")
        .inline
        .insert("p".into(), r#"{"Statement":[]}"#.into());
    let clusters = vec![
        FakeCluster::new("us-east-1", "one")
            .nodegroup("ng1", "a")
            .nodegroup("ng2", "b"),
        FakeCluster::new("eu-west-1", "two").access_entry("c", "EC2_LINUX"),
    ];
    let guard = guard(iam, clusters, &[]);

    let report = guard.handle(&sweep_event()).await.expect("report");

    assert_eq!(report.outcome, Outcome::SweepCompleted);
    let outcomes: HashMap<String, Outcome> = report
        .roles
        .iter()
        .map(|r| (r.role.as_ref().expect("role").name.clone(), r.outcome))
        .collect();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes["a"], Outcome::Remediated);
    assert_eq!(outcomes["b"], Outcome::Compliant);
    assert_eq!(outcomes["c"], Outcome::Remediated);
    assert!(guard.home.iam.inline_names("c").is_empty());
    // each cluster's CNI answer is asked once per sweep, not once per role
    assert_eq!(
        report.api_calls.get("eks:DescribeAddon"),
        Some(&2),
        "{:?}",
        report.api_calls
    );
    assert!(
        has(&guard.home.iam.attached("unrelated"), ADMIN),
        "roles outside EKS are not swept"
    );
    let published = guard.notifier.published.lock().expect("lock");
    let subjects: Vec<&str> = published.iter().map(|n| n.subject.as_str()).collect();
    assert_eq!(
        published.len(),
        4,
        "two roles that needed action, one summary, and the backup of c's inline policy before its delete: {subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("eks-node-role-guard: backup before delete: ") && s.ends_with(" on c")),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"eks-node-role-guard: sweep completed: 3 node role(s), 2 needed action"),
        "{subjects:?}"
    );
    // the sweep never lists IAM roles: its cost follows EKS, not the account's role count (the
    // account's instance profiles are listed once, for the roles instances run with)
    let listed = [
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:ListInstanceProfiles",
    ];
    assert!(
        !report
            .api_calls
            .keys()
            .any(|k| k.starts_with("iam:List") && !listed.contains(&k.as_str())),
        "{:?}",
        report.api_calls
    );
    assert_eq!(report.api_calls.get("iam:ListInstanceProfiles"), Some(&1));
}

#[tokio::test]
async fn a_sweep_that_could_not_finish_a_role_names_it_and_asks_for_a_retry() {
    // Given two node roles, one of which cannot be read for now (throttled beyond the retries)
    let iam = with_node(with_node(FakeIam::default(), "a", &[ADMIN]), "b", &[ADMIN]);
    iam.fail(
        "ListAttachedRolePolicies",
        "b",
        error("iam:ListAttachedRolePolicies", ErrorKind::Transient, "Throttling"),
    );
    let guard = guard(
        iam,
        vec![
            FakeCluster::new("us-east-1", "c")
                .nodegroup("ng1", "a")
                .nodegroup("ng2", "b"),
        ],
        &[],
    );

    // When the schedule sweeps
    let err = guard
        .handle(&sweep_event())
        .await
        .expect_err("a retry finishes the sweep");

    // Then the invocation is retried by Lambda, the role it could finish was remediated, and the
    // summary names the one it could not
    assert_eq!(err.error_type(), "TransientAwsError");
    assert!(!has(&guard.home.iam.attached("a"), ADMIN));
    assert!(has(&guard.home.iam.attached("b"), ADMIN));
    let summary = guard
        .notifier
        .published
        .lock()
        .expect("lock")
        .iter()
        .find(|n| n.subject.contains("sweep completed"))
        .map(|n| n.message.clone())
        .expect("summary");
    assert!(
        summary.contains("not finished, retried with this invocation: b"),
        "{summary}"
    );

    // When the retry comes and IAM answers again, the sweep completes
    guard.home.iam.failures.lock().expect("lock").clear();
    let report = guard.handle(&sweep_event()).await.expect("report");
    assert_eq!(report.outcome, Outcome::SweepCompleted);
    assert!(!has(&guard.home.iam.attached("b"), ADMIN));
}
