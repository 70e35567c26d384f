//! Organization mode over fake member accounts: events handled in their own account only,
//! unguarded accounts ignored, the member role never acted on, and a sweep over every account.

use super::*;
use serde_json::{Value, json};

const MEMBER_A: &str = "111111111111";
const MEMBER_B: &str = "222222222222";
const MEMBER_C: &str = "333333333333";

type Central = Remediator<Fakes>;

/// A node role "node" with administrator access, in one node group.
fn account_with_admin_node() -> (FakeIam, FakeEks) {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let eks = FakeEks::new(vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")]);
    (iam, eks)
}

fn central(accounts: &str, members: FakeMembers) -> (Central, FakeIam) {
    let (home_iam, home_eks) = account_with_admin_node();
    let remediator = guard_with(
        Adapters {
            eks: home_eks,
            ec2: FakeEc2::default(),
            members,
            ..adapters(home_iam.clone(), Vec::new())
        },
        &[("MEMBER_ROLE_NAME", "sec/guard-member"), ("ACCOUNTS", accounts)],
    );
    (remediator, home_iam)
}

fn from_account(mut event: Value, account: &str) -> Value {
    event["account"] = json!(account);
    event
}

#[tokio::test]
async fn an_event_from_a_member_is_handled_in_that_member_only() {
    // Given a central guard over A and B, each with the same over-privileged node role
    let (a, b) = (account_with_admin_node(), account_with_admin_node());
    let (a_iam, b_iam) = (a.0.clone(), b.0.clone());
    let members = FakeMembers {
        accounts: HashMap::from([(MEMBER_A.to_owned(), Ok(a)), (MEMBER_B.to_owned(), Ok(b))]),
        ..FakeMembers::default()
    };
    let connects = Arc::clone(&members.connects);
    let (guard, home_iam) = central(&format!("{MEMBER_A},{MEMBER_B}"), members);

    // When A attaches a policy, twice (a warm function)
    let report = guard
        .handle(&from_account(attach("node"), MEMBER_A))
        .await
        .expect("handled");
    guard
        .handle(&from_account(attach("node"), MEMBER_A))
        .await
        .expect("handled");

    // Then A's role is fixed with A's credentials, named in the report and the notification,
    // and nothing changed in B or in the central account; one AssumeRole served both events
    assert_eq!(report.outcome, Outcome::Remediated);
    assert_eq!(report.account.as_deref(), Some(MEMBER_A));
    assert!(!has(&a_iam.attached("node"), ADMIN));
    assert!(has(&b_iam.attached("node"), ADMIN));
    assert!(has(&home_iam.attached("node"), ADMIN));
    assert_eq!(*connects.lock().expect("lock"), vec![MEMBER_A.to_owned()]);
    let published = guard.notifier.published.lock().expect("lock");
    let note = published
        .iter()
        .find(|n| n.subject.contains("remediated"))
        .expect("notified");
    assert!(note.attributes.contains(&("account".to_owned(), MEMBER_A.to_owned())));
    assert!(note.message.contains(&format!("in account {MEMBER_A}")));
    // the subject tells A's role from the same role in B, without opening the message
    assert_eq!(
        note.subject,
        format!("eks-node-role-guard: remediated: {MEMBER_A}/node (1 violation(s))")
    );
}

#[test]
fn an_organization_subject_keeps_the_account_and_the_count_when_the_role_name_is_long() {
    use crate::telling::notify::{self, Guards};
    use crate::types::{InlineBackup, Mode, RoleRef, Violation};
    let name = format!("eks-node-{}", "x".repeat(55));
    let mut report = Report::new(
        Mode::Enforce,
        Some(MEMBER_A.to_owned()),
        EventSummary {
            id: None,
            name: "AttachRolePolicy".into(),
            region: None,
            actor: None,
        },
    )
    .finish(Outcome::PartiallyRemediated, None);
    report.role = Some(RoleRef {
        name: name.clone(),
        arn: None,
    });
    report.violations = vec![
        Violation::InlinePolicy {
            policy_name: "p".into(),
            document: None,
            used_by: None,
        };
        10
    ];
    let subject = notify::subject(&report, Guards::Organization);
    assert!(subject.chars().count() < 100, "{subject}");
    assert!(
        subject.starts_with(&format!(
            "eks-node-role-guard: partially remediated: {MEMBER_A}/eks-node-x"
        )),
        "{subject}"
    );
    assert!(subject.ends_with("… (10 violation(s))"), "{subject}");
    // a deployment guarding its own account only keeps naming the role alone
    let own = notify::subject(&report, Guards::OwnAccount);
    assert!(
        own.starts_with("eks-node-role-guard: partially remediated: eks-node-x") && !own.contains(MEMBER_A),
        "{own}"
    );
    assert!(own.ends_with("… (10 violation(s))"), "{own}");

    let backup = InlineBackup {
        role_name: "node".into(),
        policy_name: "debug".into(),
        document: "{}".into(),
        restore_command: "aws iam put-role-policy ...".into(),
    };
    let context = |guards| notify::BackupContext {
        mode: Mode::Enforce,
        account: Some(MEMBER_A.to_owned()),
        event: report.event.clone(),
        guards,
    };
    assert_eq!(
        notify::backup_notification(&backup, &context(Guards::Organization)).subject,
        format!("eks-node-role-guard: backup before delete: debug on {MEMBER_A}/node")
    );
    assert_eq!(
        notify::backup_notification(&backup, &context(Guards::OwnAccount)).subject,
        "eks-node-role-guard: backup before delete: debug on node"
    );
}

#[tokio::test]
async fn an_event_from_an_unguarded_account_is_ignored_without_assuming_anything() {
    let members = FakeMembers {
        accounts: HashMap::from([(MEMBER_A.to_owned(), Ok(account_with_admin_node()))]),
        ..FakeMembers::default()
    };
    let connects = Arc::clone(&members.connects);
    let (guard, home_iam) = central(MEMBER_A, members);

    let report = guard
        .handle(&from_account(attach("node"), MEMBER_C))
        .await
        .expect("handled");
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(
        report.reason.as_deref().unwrap_or_default().contains(MEMBER_C),
        "{report:?}"
    );
    // and the central account itself is only guarded when listed
    let report = guard.handle(&attach("node")).await.expect("handled");
    assert_eq!(report.outcome, Outcome::Ignored);
    // and a scheduled event from a guarded member is not a reason to assume its role
    let report = guard
        .handle(&from_account(sweep_event(), MEMBER_A))
        .await
        .expect("handled");
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(
        report.reason.as_deref().unwrap_or_default().contains("sweeps run from"),
        "{report:?}"
    );
    assert!(has(&home_iam.attached("node"), ADMIN));
    assert!(connects.lock().expect("lock").is_empty());
    assert!(guard.notifier.published.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn the_member_role_is_never_acted_on() {
    // Given the member role itself looks like an over-privileged node role
    let iam = with_node(FakeIam::default(), "guard-member", &[ADMIN]);
    let eks = FakeEks::new(vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "guard-member")]);
    let members = FakeMembers {
        accounts: HashMap::from([(MEMBER_A.to_owned(), Ok((iam.clone(), eks)))]),
        ..FakeMembers::default()
    };
    let (guard, _) = central(MEMBER_A, members);
    let report = guard
        .handle(&from_account(attach("guard-member"), MEMBER_A))
        .await
        .expect("handled");
    assert_eq!(report.outcome, Outcome::Exempt);
    assert!(has(&iam.attached("guard-member"), ADMIN));
}

#[tokio::test]
async fn a_sweep_covers_every_account_and_reports_the_ones_it_cannot_enter() {
    // Given the central account and A guarded and fine to enter, B's role denying AssumeRole and
    // C's AssumeRole throttled beyond the SDK's retries
    let a = account_with_admin_node();
    let a_iam = a.0.clone();
    let members = FakeMembers {
        accounts: HashMap::from([
            (MEMBER_A.to_owned(), Ok(a)),
            (
                MEMBER_B.to_owned(),
                Err(error("sts:AssumeRole", ErrorKind::Denied, "AccessDenied")),
            ),
            (
                MEMBER_C.to_owned(),
                Err(error("sts:AssumeRole", ErrorKind::Transient, "Throttling")),
            ),
        ]),
        organization: vec![
            "123456789012".to_owned(),
            MEMBER_A.to_owned(),
            MEMBER_B.to_owned(),
            MEMBER_C.to_owned(),
        ],
        ..FakeMembers::default()
    };
    let connects = Arc::clone(&members.connects);
    let (guard, home_iam) = central("organization", members);

    // When the schedule sweeps
    let err = guard.handle(&sweep_event()).await.expect_err("C is worth a retry");

    // Then the central account and A were remediated, B and C are named with their reasons in
    // one summary, each member was tried once, and Lambda retries the sweep for C
    assert_eq!(err.error_type(), "TransientAwsError");
    assert!(!has(&home_iam.attached("node"), ADMIN));
    assert!(!has(&a_iam.attached("node"), ADMIN));
    let mut tried = connects.lock().expect("lock").clone();
    tried.sort();
    assert_eq!(tried, vec![MEMBER_A, MEMBER_B, MEMBER_C]);
    let published = guard.notifier.published.lock().expect("lock");
    let summaries: Vec<&Notification> = published
        .iter()
        .filter(|n| n.subject.contains("sweep completed"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary for the organization");
    let summary = summaries[0];
    assert!(
        summary.subject.contains("4 account(s) (2 NOT SWEPT)"),
        "{}",
        summary.subject
    );
    let body: Value = serde_json::from_str(&summary.message).expect("json");
    let report: Value = serde_json::from_str(body["sqs"].as_str().unwrap_or_default()).expect("report json");
    let text = body["default"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!(
            "{MEMBER_B}: NOT SWEPT: assuming arn:aws:iam::{MEMBER_B}:role/sec/guard-member"
        )),
        "{text}"
    );
    assert!(text.contains("AccessDenied"), "{text}");
    assert!(
        text.contains(&format!("{MEMBER_A}: 1 node role(s), 1 needed action")),
        "{text}"
    );
    let accounts = report["accounts"].as_array().expect("account lines");
    assert_eq!(accounts.len(), 4);
    let failed: Vec<&str> = accounts
        .iter()
        .filter(|a| a["reason"].is_string())
        .filter_map(|a| a["account"].as_str())
        .collect();
    assert_eq!(failed, vec![MEMBER_B, MEMBER_C]);
    // one notification per role that needed action, each naming its account in the subject, and
    // the summary's list of roles names them the same way
    let mut role_subjects: Vec<&str> = published
        .iter()
        .filter(|n| n.subject.contains(": remediated:"))
        .map(|n| n.subject.as_str())
        .collect();
    role_subjects.sort();
    assert_eq!(
        role_subjects,
        [
            format!("eks-node-role-guard: remediated: {MEMBER_A}/node (1 violation(s))"),
            "eks-node-role-guard: remediated: 123456789012/node (1 violation(s))".to_owned(),
        ]
    );
    for account in [MEMBER_A, "123456789012"] {
        let line = format!("  - [CRITICAL] {account}/node: remediated (1 violation(s))");
        assert!(text.contains(&format!("\n{line}\n")), "{line} in {text}");
    }
}

#[tokio::test]
async fn a_sweep_over_an_empty_organization_fails_and_is_notified() {
    // Given a central guard whose Organizations answer lists no account (a caller outside the
    // management account, or a delegated administrator that lost the delegation)
    let members = FakeMembers {
        organization: Vec::new(),
        ..FakeMembers::default()
    };
    let connects = Arc::clone(&members.connects);
    let (guard, home_iam) = central("organization", members);

    // When the schedule sweeps
    let report = guard.handle(&sweep_event()).await.expect("a report, not a retry");

    // Then the sweep failed, saying why, rather than completing clean over no account
    assert_eq!(report.outcome, Outcome::Failed, "{report:?}");
    let reason = report.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("the organization's account list is empty"),
        "{reason}"
    );
    // nothing was entered or changed, not even the central account's own roles
    assert!(connects.lock().expect("lock").is_empty());
    assert!(has(&home_iam.attached("node"), ADMIN));
    // and the security team is told
    let published = guard.notifier.published.lock().expect("lock");
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(
        published[0].message.contains("account list is empty"),
        "{}",
        published[0].message
    );
}
