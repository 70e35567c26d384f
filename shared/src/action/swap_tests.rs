use super::{settle, undo};
use crate::ports::fakes::{FakeEc2, FakeIam, FakeInstance, error, profile_arn, role_arn};
use crate::types::{ActionResult, CredentialSwap, ErrorKind, EventSummary, Instances, Mode, Outcome, Report, SwapFix};

fn swap(fix: SwapFix, profile: &str, running: Option<&str>) -> CredentialSwap {
    CredentialSwap {
        region: "us-east-1".to_owned(),
        cluster: "prod".to_owned(),
        nodegroup: "ng".to_owned(),
        instances: Instances::of(["i-1"]),
        profile_arn: profile_arn(profile),
        running_role_arn: running.map(role_arn),
        declared_role_arn: role_arn("node"),
        fix,
        undo_commands: Vec::new(),
        reverse_commands: Vec::new(),
        result: None,
    }
}

fn in_profile() -> SwapFix {
    SwapFix::ProfileRole {
        profile_name: "eks-ng".to_owned(),
        remove_role: Some("admin".to_owned()),
        add_role: "node".to_owned(),
    }
}

fn iam() -> FakeIam {
    FakeIam::default()
        .with_profile("eks-ng", Some("admin"))
        .with_profile("eks-other", Some("node"))
}

#[tokio::test]
async fn enforce_puts_the_node_role_back_into_its_profile_and_leaves_the_admin_role_alone() {
    let iam = iam().with_role("admin", "{}", &["AdministratorAccess"], &[]);
    let mut swaps = vec![swap(in_profile(), "eks-ng", Some("admin"))];

    undo(&iam, &FakeEc2::default(), Mode::Enforce, &mut swaps).await;

    assert_eq!(swaps[0].result, Some(ActionResult::Done));
    assert_eq!(iam.profile_roles("eks-ng"), ["node"]);
    assert_eq!(
        iam.attached("admin"),
        ["arn:aws:iam::aws:policy/AdministratorAccess"],
        "the swapped-in role keeps its policies"
    );
    assert_eq!(
        swaps[0].undo_commands,
        [
            "aws iam remove-role-from-instance-profile --instance-profile-name 'eks-ng' --role-name 'admin'",
            "aws iam add-role-to-instance-profile --instance-profile-name 'eks-ng' --role-name 'node'",
        ]
    );
    assert_eq!(
        swaps[0].reverse_commands,
        [
            "aws iam remove-role-from-instance-profile --instance-profile-name 'eks-ng' --role-name 'node'",
            "aws iam add-role-to-instance-profile --instance-profile-name 'eks-ng' --role-name 'admin'",
        ]
    );
}

#[tokio::test]
async fn dry_run_plans_with_the_commands_and_changes_nothing() {
    let iam = iam();
    let ec2 = FakeEc2::default();
    let mut swaps = vec![swap(in_profile(), "eks-ng", Some("admin"))];

    undo(&iam, &ec2, Mode::DryRun, &mut swaps).await;

    assert_eq!(swaps[0].result, Some(ActionResult::Planned));
    assert_eq!(swaps[0].undo_commands.len(), 2);
    assert!(iam.writes.lock().expect("lock").is_empty());
    assert_eq!(iam.profile_roles("eks-ng"), ["admin"]);
}

#[tokio::test]
async fn a_replaced_association_is_replaced_back_and_a_manual_fix_is_skipped_with_its_reason() {
    let ec2 = FakeEc2::default().with(FakeInstance::new("us-east-1", "i-1", Some("admin")).of_nodegroup("prod", "ng"));
    let back = SwapFix::Association {
        profile_arn: profile_arn("eks-other"),
        associations: vec![("i-1".to_owned(), "iip-assoc-i-1".to_owned())],
    };
    let manual = SwapFix::Manual {
        reason: "2 profiles hold the node role (arn:aws:iam::123456789012:instance-profile/a, b)".to_owned(),
    };
    let mut swaps = vec![swap(back, "admin", Some("admin")), swap(manual, "admin", Some("admin"))];

    undo(&iam(), &ec2, Mode::Enforce, &mut swaps).await;

    assert_eq!(swaps[0].result, Some(ActionResult::Done));
    assert_eq!(ec2.profile_of("i-1").as_deref(), Some("eks-other"));
    assert!(
        swaps[0].undo_commands[0].starts_with("aws ec2 replace-iam-instance-profile-association --region us-east-1"),
        "{:?}",
        swaps[0].undo_commands
    );
    assert!(swaps[0].undo_commands[0].ends_with(&format!("'Arn={}'", profile_arn("eks-other"))));
    assert!(swaps[0].reverse_commands[0].ends_with(&format!("'Arn={}'", profile_arn("admin"))));
    assert!(matches!(&swaps[1].result, Some(ActionResult::Skipped { reason }) if reason.starts_with("2 profiles")));
    // the manual fix's commands point at the first profile its reason names
    assert!(
        swaps[1].undo_commands[0].ends_with("'Arn=arn:aws:iam::123456789012:instance-profile/a'"),
        "{:?}",
        swaps[1].undo_commands
    );
}

#[tokio::test]
async fn a_failed_undo_is_reported_and_keeps_the_outcome_a_credential_swap() {
    let iam = iam();
    let throttled = error("iam:AddRoleToInstanceProfile", ErrorKind::Transient, "Throttling");
    iam.fail("AddRoleToInstanceProfile", "eks-ng", throttled);
    let mut report = Report::new(Mode::Enforce, None, sweep());
    report.outcome = Outcome::Compliant;
    report.swaps = vec![swap(in_profile(), "eks-ng", Some("admin"))];

    undo(&iam, &FakeEc2::default(), Mode::Enforce, &mut report.swaps).await;
    settle(&mut report);

    assert!(matches!(
        &report.swaps[0].result,
        Some(ActionResult::Failed {
            error_kind: ErrorKind::Transient,
            ..
        })
    ));
    assert_eq!(report.outcome, Outcome::CredentialSwap);
}

#[test]
fn an_undone_swap_on_a_compliant_role_is_remediated() {
    let mut report = Report::new(Mode::Enforce, None, sweep());
    report.outcome = Outcome::Compliant;
    let mut done = swap(in_profile(), "eks-ng", Some("admin"));
    done.result = Some(ActionResult::Done);
    report.swaps = vec![done];
    settle(&mut report);
    assert_eq!(report.outcome, Outcome::Remediated);
}

fn sweep() -> EventSummary {
    EventSummary {
        id: None,
        name: "Sweep".to_owned(),
        region: None,
        actor: None,
    }
}
