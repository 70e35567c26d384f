//! What the guard tells: one metric line per invocation, Security Hub findings and their
//! failures, and a sweep that says first when no trail feeds the guard.

use super::*;
use serde_json::{Value, json};

#[tokio::test]
async fn every_invocation_emits_exactly_one_metric_line() {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = std::sync::Arc::clone(&lines);
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    )
    .with_metrics(move |line| sink.lock().expect("lock").push(line.to_owned()));

    guard.handle(&attach("node")).await.expect("report");
    guard.handle(&sweep_event()).await.expect("report");
    guard.handle(&json!({"not": "an event"})).await.expect_err("invalid");

    let lines = lines.lock().expect("lock");
    let docs: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let outcomes: Vec<&str> = docs.iter().filter_map(|d| d["Outcome"].as_str()).collect();
    assert_eq!(outcomes, vec!["remediated", "sweep_completed", "invalid_event"]);
    assert_eq!(docs[0]["PoliciesDetached"], 1);
    assert_eq!(docs[1]["SweepsCompleted"], 1);
    assert!(lines.iter().all(|l| !l.contains('\n')));
}

#[tokio::test]
async fn security_hub_not_enabled_is_a_warning_never_a_failed_remediation() {
    // Given Security Hub on in the configuration but not enabled in the account
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let hub = FakeFindings::default();
    *hub.failure.lock().expect("lock") = Some(error(
        "securityhub:GetFindings",
        ErrorKind::Rejected,
        "InvalidAccessException",
    ));
    let guard = guard_with(
        Adapters {
            findings: hub,
            ..adapters(iam, vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")])
        },
        &[("SECURITY_HUB", "on")],
    );

    // When a violation is removed
    let report = guard
        .handle(&attach("node"))
        .await
        .expect("no retry: a warning is not a failure");

    // Then remediation and notification went ahead, and both say Security Hub is not enabled
    assert_eq!(report.outcome, Outcome::Remediated);
    let warning = report
        .security_hub
        .as_ref()
        .and_then(|s| s.warning.clone())
        .expect("warning");
    assert!(warning.contains("not enabled"), "{warning}");
    let published = guard.notifier.published.lock().expect("lock");
    assert_eq!(published.len(), 1);
    assert!(published[0].message.contains("Security Hub is not enabled"));
}

#[tokio::test]
async fn a_finding_refused_for_a_transient_reason_is_sent_again() {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let hub = FakeFindings::default();
    let id = format!("eks-node-role-guard/123456789012/node/managed/arn:aws:iam::aws:policy/{ADMIN}");
    hub.refuse_once
        .lock()
        .expect("lock")
        .insert(id.clone(), "InternalException".into());
    let guard = guard_with(
        Adapters {
            findings: hub,
            ..adapters(iam, vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")])
        },
        &[("SECURITY_HUB", "on"), ("MODE", "dry-run")],
    );

    let report = guard.handle(&attach("node")).await.expect("report");

    let status = report.security_hub.expect("status");
    assert_eq!((status.open, status.failed.len()), (1, 0), "{status:?}");
    assert!(guard.home.findings.imported.lock().expect("lock").contains_key(&id));
    assert_eq!(report.api_calls.get("securityhub:BatchImportFindings"), Some(&2));
}

#[tokio::test]
async fn a_sweep_without_a_logging_trail_says_first_that_the_guard_is_blind() {
    use crate::types::TrailState;
    let logging = TrailState {
        name: "org-trail".into(),
        home_region: "eu-west-1".into(),
        multi_region: true,
        logging: true,
        selectors: vec![],
    };
    let stopped = TrailState {
        logging: false,
        ..logging.clone()
    };
    for (trails, blind) in [
        (Ok(Some(vec![])), true),
        (Ok(Some(vec![stopped])), true),
        (Ok(Some(vec![logging])), false),
        // a denied check is a warning, not a verdict
        (
            Err(error(
                "cloudtrail:DescribeTrails",
                ErrorKind::Denied,
                "AccessDeniedException",
            )),
            false,
        ),
    ] {
        let denied = trails.is_err();
        let iam = with_node(FakeIam::default(), "node", &[]);
        let guard = guard_with(
            Adapters {
                trails: FakeTrails(trails),
                ..adapters(iam, vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")])
            },
            &[],
        );
        let report = guard.handle(&sweep_event()).await.expect("report");
        assert_eq!(report.blind.is_some(), blind, "{report:?}");
        let published = guard.notifier.published.lock().expect("lock");
        let summary = published.last().expect("the sweep summary is always sent");
        assert_eq!(summary.subject.contains("BLIND"), blind, "{}", summary.subject);
        assert!(summary.subject.chars().count() < 100);
        let text: Value = serde_json::from_str(&summary.message).expect("json");
        assert_eq!(
            text["default"]
                .as_str()
                .unwrap_or_default()
                .starts_with("THE GUARD IS BLIND"),
            blind
        );
        assert_eq!(
            report.warnings.iter().any(|w| w.contains("could not be checked")),
            denied
        );
    }
}
