//! Nodes as they run, over fakes: the quick answer for a self-managed node role, a swap told
//! CRITICAL with its commands, an undone swap, a forged tag, and a shared role.

use super::*;

const CLUSTER: &str = "c";

fn self_managed(iam: FakeIam, role: &str) -> (FakeIam, FakeEc2) {
    let iam = with_node(iam, role, &[ADMIN]).with_profile("sm", Some(role));
    let ec2 = FakeEc2::default()
        .with(FakeInstance::new("us-east-1", "i-1", Some("sm")).self_managed(CLUSTER))
        .with(FakeInstance::new("us-east-1", "i-2", Some("sm")).self_managed(CLUSTER));
    (iam, ec2)
}

fn with_ec2(iam: FakeIam, ec2: FakeEc2, clusters: Vec<FakeCluster>, vars: &[(&str, &str)]) -> Fake {
    guard_with(
        Adapters {
            ec2,
            ..adapters(iam, clusters)
        },
        vars,
    )
}

#[tokio::test]
async fn an_event_on_a_self_managed_node_role_is_answered_from_its_instances_in_a_few_calls() {
    let (iam, ec2) = self_managed(FakeIam::default(), "sm-node");
    // many clusters with node groups: the full scan would read every one
    let clusters: Vec<FakeCluster> = std::iter::once(FakeCluster::new("us-east-1", CLUSTER))
        .chain((0..30).map(|n| FakeCluster::new("eu-west-1", &format!("other-{n}")).nodegroup("ng", "other")))
        .collect();
    let guard = with_ec2(iam.clone(), ec2, clusters, &[]);

    let report = guard.handle(&attach("sm-node")).await.expect("report");

    assert_eq!(report.outcome, Outcome::Remediated, "{report:?}");
    assert_eq!(report.index, Some(IndexSource::Instances));
    assert!(matches!(
        &report.nodegroups[..],
        [NodeBinding::RunningInstances { cluster, instances, .. }] if cluster == CLUSTER && instances.count == 2
    ));
    assert!(!has(&iam.attached("sm-node"), ADMIN));
    let calls = report.api_call_total();
    assert!(calls <= 12, "{calls} calls: {:?}", report.api_calls);
    assert!(
        !report.api_calls.contains_key("eks:ListNodegroups"),
        "{:?}",
        report.api_calls
    );
}

#[tokio::test]
async fn an_instance_tagged_for_a_cluster_that_does_not_exist_makes_no_node_role() {
    let iam = with_node(FakeIam::default(), "forged", &[ADMIN]).with_profile("p", Some("forged"));
    let ec2 = FakeEc2::default().with(FakeInstance::new("us-east-1", "i-1", Some("p")).self_managed("ghost"));
    let guard = with_ec2(iam.clone(), ec2, vec![FakeCluster::new("us-east-1", CLUSTER)], &[]);

    let report = guard.handle(&attach("forged")).await.expect("report");

    assert_eq!(report.outcome, Outcome::NotNodeRole, "{report:?}");
    assert!(has(&iam.attached("forged"), ADMIN));
}

#[tokio::test]
async fn a_swap_is_notified_critical_with_the_commands_and_undone_in_enforce() {
    let iam = with_node(FakeIam::default(), "node", &[])
        .with_role("admin", EC2_TRUST, &[ADMIN], &[])
        .with_profile("eks-ng", Some("admin"));
    let ec2 =
        FakeEc2::default().with(FakeInstance::new("us-east-1", "i-1", Some("eks-ng")).of_nodegroup(CLUSTER, "ng"));
    let clusters = || vec![FakeCluster::new("us-east-1", CLUSTER).nodegroup("ng", "node")];

    // dry-run: told, with its commands, nothing changed
    let dry = with_ec2(iam.clone(), ec2.clone(), clusters(), &[("MODE", "dry-run")]);
    let report = dry.handle(&sweep_event()).await.expect("report");
    let node = report
        .roles
        .iter()
        .find(|r| r.role.as_ref().is_some_and(|r| r.name == "node"))
        .expect("node");
    assert_eq!(node.outcome, Outcome::CredentialSwap);
    assert!(
        report
            .roles
            .iter()
            .all(|r| r.role.as_ref().is_none_or(|r| r.name != "admin"))
    );
    let published = dry.notifier.published.lock().expect("lock").clone();
    let told = published.iter().find(|n| n.subject.contains("node")).expect("notified");
    assert!(told.subject.contains("CREDENTIAL SWAP"), "{}", told.subject);
    let text = telling::text_of(told);
    assert!(
        text.contains("[CRITICAL] CREDENTIAL SWAP: 1 instance(s) of managed node group c/ng"),
        "{text}"
    );
    assert!(
        text.contains("aws iam add-role-to-instance-profile --instance-profile-name 'eks-ng' --role-name 'node'"),
        "{text}"
    );
    assert!(
        report
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("1 CREDENTIAL SWAP(S), 0 undone")
    );
    assert_eq!(iam.profile_roles("eks-ng"), ["admin"]);

    // enforce: undone, the admin role untouched
    let enforce = with_ec2(iam.clone(), ec2, clusters(), &[]);
    let report = enforce.handle(&sweep_event()).await.expect("report");
    let node = report
        .roles
        .iter()
        .find(|r| r.role.as_ref().is_some_and(|r| r.name == "node"))
        .expect("node");
    assert_eq!(node.outcome, Outcome::Remediated, "{node:?}");
    assert_eq!(iam.profile_roles("eks-ng"), ["node"]);
    assert!(has(&iam.attached("admin"), ADMIN));
}

#[tokio::test]
async fn a_shared_role_keeps_its_policies_in_enforce_unless_told_otherwise() {
    let (iam, ec2) = self_managed(FakeIam::default(), "sm-node");
    let ec2 = ec2.with(FakeInstance::new("us-east-1", "i-bastion", Some("sm")));
    let clusters = || vec![FakeCluster::new("us-east-1", CLUSTER)];

    let guard = with_ec2(iam.clone(), ec2.clone(), clusters(), &[]);
    let report = guard.handle(&attach("sm-node")).await.expect("report");
    assert_eq!(report.outcome, Outcome::ViolationsFound, "{report:?}");
    assert_eq!(
        report.shared.as_ref().map(|s| s.instances.ids.clone()),
        Some(vec!["i-bastion".to_owned()])
    );
    assert!(matches!(report.actions[0].result, ActionResult::Skipped { .. }));
    assert!(has(&iam.attached("sm-node"), ADMIN));

    let guard = with_ec2(iam.clone(), ec2, clusters(), &[("SHARED_ROLES", "remediate")]);
    let report = guard.handle(&attach("sm-node")).await.expect("report");
    assert_eq!(report.outcome, Outcome::Remediated);
    assert!(!has(&iam.attached("sm-node"), ADMIN));
}
