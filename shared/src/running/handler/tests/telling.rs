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

/// The readable text of a notification.
pub(super) fn text_of(notification: &Notification) -> String {
    let body: Value = serde_json::from_str(&notification.message).expect("json");
    body["default"].as_str().expect("text").to_owned()
}

/// The JSON Report machines receive in a notification.
fn machine_of(notification: &Notification) -> Value {
    let body: Value = serde_json::from_str(&notification.message).expect("json");
    serde_json::from_str(body["sqs"].as_str().expect("report")).expect("report json")
}

/// The lines of `text`'s section `heading`, up to its blank line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[tokio::test]
async fn violations_show_their_severity_worst_first_and_exceptions_say_until_when() {
    // Given a node role with four violations in no order, one excepted policy, and one exception
    // that ended yesterday
    let today = crate::invocation::today();
    let yesterday = today.pred_opt().expect("a day before");
    let s3_star = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let mut policies = NODE.to_vec();
    policies.extend([
        "AmazonS3ReadOnlyAccess",
        ADMIN,
        "AmazonSSMManagedInstanceCore",
        "AmazonS3FullAccess",
    ]);
    let iam = FakeIam::default().with_role("node", EC2_TRUST, &policies, &[("debug", s3_star)]);
    let exceptions = format!(
        r#"[{{"role":"node","policy":"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore","until":"2099-12-31","reason":"Session Manager until the bastion is gone"}},
            {{"role":"node","policy":"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess","until":"{yesterday}","reason":"reading the artifacts bucket"}}]"#
    );
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[("MODE", "dry-run"), ("EXCEPTIONS", &exceptions)],
    );

    // When a policy is attached
    let report = guard.handle(&attach("node")).await.expect("report");

    // Then each violation shows its severity, worst first and then by name; the excepted policy
    // is listed with its date and reason and not acted on; the expired one is said to be back
    assert_eq!(report.outcome, Outcome::ViolationsFound);
    let published = guard.notifier.published.lock().expect("lock");
    let text = text_of(&published[0]);
    let shown: Vec<&str> = section(&text, "Violations:")
        .into_iter()
        .filter(|l| l.starts_with("  - "))
        .collect();
    let expected = [
        "  - [CRITICAL] managed policy arn:aws:iam::aws:policy/AdministratorAccess: ",
        "  - [HIGH] managed policy arn:aws:iam::aws:policy/AmazonS3FullAccess: ",
        "  - [HIGH] inline policy debug: inline policies are not allowed on node roles",
        "  - [MEDIUM] managed policy arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess: ",
    ];
    assert_eq!(shown.len(), expected.len(), "{text}");
    for (line, start) in shown.iter().zip(expected) {
        assert!(line.starts_with(start), "{line:?} should start with {start:?}:\n{text}");
    }
    assert_eq!(
        section(&text, "Excepted (kept until their date):"),
        [
            "  - [MEDIUM] managed policy arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore: excepted until \
             2099-12-31: Session Manager until the bastion is gone",
            "      probably for AWS Systems Manager agent on the node (Session Manager, patching): the AWS-managed \
             policy of the SSM agent",
        ],
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\nException expired: arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess on this role was excepted until \
             {yesterday} (reading the artifacts bucket); it is a violation again.\n"
        )),
        "{text}"
    );
    assert!(
        report
            .actions
            .iter()
            .all(|a| a.policy_name != "AmazonSSMManagedInstanceCore"),
        "an excepted policy is never acted on: {:?}",
        report.actions
    );
}

#[tokio::test]
async fn the_event_line_names_the_caller_or_the_scheduled_sweep_and_never_invents_one() {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[("MODE", "dry-run")],
    );
    let caller = "arn:aws:sts::123456789012:assumed-role/Admin/alice";
    let mut by_alice = attach("node");
    by_alice["detail"]["userIdentity"] = json!({"type": "AssumedRole", "arn": caller});

    guard.handle(&by_alice).await.expect("report");
    guard.handle(&attach("node")).await.expect("report");
    let sweep = guard.handle(&sweep_event()).await.expect("report");

    let published = guard.notifier.published.lock().expect("lock");
    let events: Vec<String> = published
        .iter()
        .map(|n| {
            let text = text_of(n);
            text.lines()
                .find(|l| l.starts_with("Event:"))
                .expect("an event line")
                .to_owned()
        })
        .collect();
    assert_eq!(
        events,
        [
            format!("Event:   AttachRolePolicy (id e) by {caller}"),
            // a real event that names no caller
            "Event:   AttachRolePolicy (id e) by unknown".to_owned(),
            // the sweep's role, then its summary
            "Event:   Sweep (id s) by the scheduled sweep".to_owned(),
            "Event:   Sweep (id s) by the scheduled sweep".to_owned(),
        ]
    );
    // the machine part says what the event said: no caller
    assert_eq!(sweep.event.actor, None);
    assert_eq!(machine_of(&published[3])["event"]["actor"], Value::Null);
}

#[tokio::test]
async fn a_sweep_summary_counts_the_same_in_its_subject_text_report_and_metrics() {
    use crate::types::{ActionTotals, Totals};
    // Given five node roles: a with two violations, c with one, b compliant, d compliant but for
    // an excepted policy, and e that cannot be read
    let s3_star = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let iam = with_node(FakeIam::default(), "a", &[ADMIN, "AmazonS3FullAccess"]);
    let iam = with_node(with_node(iam, "b", &[]), "d", &["AmazonSSMManagedInstanceCore"]);
    let mut policies = NODE.to_vec();
    policies.push(ADMIN);
    let iam = iam
        .with_role("c", EC2_TRUST, NODE, &[("debug", s3_star)])
        .with_role("e", EC2_TRUST, &policies, &[]);
    iam.fail(
        "ListAttachedRolePolicies",
        "e",
        error("iam:ListAttachedRolePolicies", ErrorKind::Denied, "AccessDenied"),
    );
    let cluster = ["a", "b", "c", "d", "e"]
        .iter()
        .fold(FakeCluster::new("us-east-1", "one"), |c, role| {
            c.nodegroup(&format!("ng-{role}"), role)
        });
    let exceptions = r#"[{"role":"d","policy":"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore","until":"2099-12-31","reason":"bastion"}]"#;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = std::sync::Arc::clone(&lines);
    let guard = guard(iam, vec![cluster], &[("MODE", "dry-run"), ("EXCEPTIONS", exceptions)])
        .with_metrics(move |line| sink.lock().expect("lock").push(line.to_owned()));

    // When the schedule sweeps
    let report = guard.handle(&sweep_event()).await.expect("report");

    // Then the totals are summed once over the roles ...
    let totals = Totals {
        roles: 5,
        needed_action: 3,
        not_checked: 1,
        violations: 3,
        excepted: 1,
        expired_exceptions: 0,
        actions: ActionTotals {
            planned: 3,
            ..ActionTotals::default()
        },
        ..Totals::default()
    };
    assert_eq!(report.totals, Some(totals), "{:?}", report.roles);
    // ... and the subject, the text, the machine part and the metrics all say the same
    let published = guard.notifier.published.lock().expect("lock");
    let summary = published
        .iter()
        .find(|n| n.subject.contains("sweep completed"))
        .expect("summary");
    assert_eq!(
        summary.subject,
        "eks-node-role-guard: sweep completed: 5 node role(s), 3 needed action"
    );
    let text = text_of(summary);
    assert!(
        text.contains(
            "\n5 node role(s) checked, 3 needed action: 3 violation(s), 1 excepted; actions: 3 planned (dry-run)"
        ),
        "{text}"
    );
    let machine = machine_of(summary);
    assert_eq!(machine["totals"], serde_json::to_value(totals).expect("json"));
    assert_eq!(machine["totals"]["actions"]["planned"], 3);
    let roles = section(&text, "Node roles checked:");
    assert_eq!(roles.len(), totals.roles, "{text}");
    let listed_violations: usize = roles
        .iter()
        .filter_map(|l| l.split(" (").nth(1)?.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(listed_violations, totals.violations, "{text}");
    // worst severity first, then by name; the excepted one says so
    let names: Vec<&str> = roles
        .iter()
        .map(|l| l.trim_start_matches("  - ").rsplit("] ").next().unwrap_or(l))
        .map(|l| l.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(names, ["a", "c", "b", "d", "e"], "{text}");
    assert_eq!(roles[0], "  - [CRITICAL] a: violations_found (2 violation(s))");
    assert_eq!(roles[1], "  - [HIGH] c: violations_found (1 violation(s))");
    assert_eq!(roles[3], "  - d: compliant (0 violation(s), 1 excepted)");
    let metrics: Value = serde_json::from_str(lines.lock().expect("lock").last().expect("a line")).expect("EMF");
    assert_eq!(metrics["Violations"], totals.violations);
    assert_eq!(metrics["NodeRolesChecked"], totals.roles);
}
