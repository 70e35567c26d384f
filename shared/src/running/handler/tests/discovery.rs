//! Discovery on the event path: access entries, hybrid nodes, what an unrelated role costs, a
//! node group learnt from its event, and a guard that cannot search any region.

use super::*;
use serde_json::json;

#[tokio::test]
async fn self_managed_nodes_registered_as_access_entries_are_node_roles() {
    // Given a Karpenter node role known only through an EC2_LINUX access entry, and an
    // admin role with a STANDARD entry
    let iam = with_node(FakeIam::default(), "karpenter-node", &[ADMIN]).with_role("admins", EC2_TRUST, &[ADMIN], &[]);
    let cluster = FakeCluster::new("eu-west-1", "prod")
        .access_entry("karpenter-node", "EC2_LINUX")
        .access_entry("admins", "STANDARD");
    let guard = guard(iam, vec![cluster], &[]);

    let node = guard.handle(&attach("karpenter-node")).await.expect("report");
    let admin = guard.handle(&attach("admins")).await.expect("report");

    assert_eq!(node.outcome, Outcome::Remediated);
    assert_eq!(
        serde_json::to_value(&node.nodegroups).expect("json"),
        json!([{"kind": "access_entry", "region": "eu-west-1", "cluster": "prod", "entry_type": "EC2_LINUX"}])
    );
    assert!(!has(&guard.home.iam.attached("karpenter-node"), ADMIN));
    assert_eq!(admin.outcome, Outcome::NotNodeRole);
    assert!(has(&guard.home.iam.attached("admins"), ADMIN));
}

#[tokio::test]
async fn hybrid_node_roles_trust_ssm_and_are_found_through_hybrid_entries() {
    let iam = FakeIam::default().with_role("hybrid-node", SSM_TRUST, &[ADMIN], &[]);
    let cluster = FakeCluster::new("us-east-1", "edge").access_entry("hybrid-node", "HYBRID_LINUX");
    let guard = guard(iam, vec![cluster], &[("MODE", "dry-run")]);
    let report = guard.handle(&attach("hybrid-node")).await.expect("report");
    assert_eq!(report.outcome, Outcome::ViolationsFound);
    assert!(report.node_role);
}

#[tokio::test]
async fn an_unrelated_role_costs_one_call_and_a_warm_index_no_discovery_at_all() {
    let iam = with_node(with_node(FakeIam::default(), "a", &[ADMIN]), "b", &[ADMIN]).with_role(
        "app",
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}]}"#,
        &[ADMIN],
        &[],
    );
    let clusters = vec![
        FakeCluster::new("us-east-1", "one").nodegroup("ng1", "a"),
        FakeCluster::new("eu-west-1", "two").nodegroup("ng2", "b"),
    ];
    let guard = guard(iam, clusters, &[]);

    let unrelated = guard.handle(&attach("app")).await.expect("report");
    assert_eq!(unrelated.api_calls, [("iam:GetRole".to_owned(), 1)].into());

    let cold = guard.handle(&attach("a")).await.expect("report");
    assert_eq!(cold.index, Some(IndexSource::Scanned));
    assert!(tally::discovery_calls(&cold.api_calls) > 0);

    let warm = guard.handle(&attach("b")).await.expect("report");
    assert_eq!(warm.outcome, Outcome::Remediated);
    assert_eq!(warm.index, Some(IndexSource::Cached));
    // only the CNI check of a cluster not seen before; then nothing
    assert_eq!(tally::discovery_calls(&warm.api_calls), 1, "{:?}", warm.api_calls);
    let again = guard.handle(&attach("b")).await.expect("report");
    assert_eq!(tally::discovery_calls(&again.api_calls), 0, "{:?}", again.api_calls);
    assert_eq!(
        again.api_calls.keys().cloned().collect::<Vec<_>>(),
        vec!["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
    );
}

#[tokio::test]
async fn create_nodegroup_updates_a_warm_index() {
    let iam = with_node(with_node(FakeIam::default(), "old", &[]), "new", &[ADMIN]);
    let clusters = vec![
        FakeCluster::new("us-east-1", "c")
            .nodegroup("ng", "old")
            .nodegroup("gpu", "new"),
    ];
    let guard = guard(iam, clusters, &[]);
    // warm the index before "new" is known to it
    guard.handle(&attach("old")).await.expect("report");
    guard.home.index.store(Arc::new(Scan::default())).await;

    let mut event = envelope(
        json!({"name": "c", "nodegroupName": "gpu", "nodeRole": role_arn("new")}),
        "CreateNodegroup",
    );
    event["source"] = json!("aws.eks");
    event["detail"]["eventSource"] = json!("eks.amazonaws.com");
    let created = guard.handle(&event).await.expect("report");
    assert_eq!(created.outcome, Outcome::Remediated);

    // a later event for that role finds it in the index without scanning
    guard
        .home
        .iam
        .roles
        .lock()
        .expect("lock")
        .get_mut("new")
        .expect("role")
        .attached
        .push(format!("arn:aws:iam::aws:policy/{ADMIN}"));
    let later = guard.handle(&attach("new")).await.expect("report");
    assert_eq!(later.outcome, Outcome::Remediated);
    assert_eq!(later.index, Some(IndexSource::Cached));
}

#[tokio::test]
async fn a_guard_that_cannot_search_any_region_says_so_for_events_sweeps_and_the_audit() {
    // Given a node role with administrator access, and EKS refused in every scanned region
    let denied = error("eks:ListClusters", ErrorKind::Denied, "AccessDeniedException");
    let eks = FakeEks::new(vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")])
        .refusing(&["us-east-1", "eu-west-1"], denied);
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard = guard_with(
        Adapters {
            eks: eks.clone(),
            ec2: FakeEc2::default(),
            ..adapters(iam.clone(), Vec::new())
        },
        &[],
    );

    // When an AttachRolePolicy event arrives for the EC2-trusted role
    let report = guard.handle(&attach("node")).await.expect("a report, not a retry");

    // Then it failed (not "not a node role"), says why, changed nothing and was notified
    assert_eq!(report.outcome, Outcome::Failed, "{report:?}");
    assert!(!report.node_role);
    let reason = report.reason.clone().unwrap_or_default();
    assert!(reason.contains("no region could be searched"), "{reason}");
    assert!(iam.writes.lock().expect("lock").is_empty());
    let published = guard.notifier.published.lock().expect("lock").clone();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].message.contains("no region could be searched"));

    // and a scheduled sweep fails with the same reason, notified too
    let sweep = guard.handle(&sweep_event()).await.expect("a report");
    assert_eq!(sweep.outcome, Outcome::Failed, "{sweep:?}");
    assert!(sweep.reason.unwrap_or_default().contains("no region could be searched"));
    assert_eq!(guard.notifier.published.lock().expect("lock").len(), 2);

    // and the audit, over the same sweep, fails its account the same way
    let audited = crate::running::audit::Audited::<Fakes> {
        home: crate::running::accounts::Guarded::home(
            "123456789012",
            None,
            iam,
            eks,
            FakeEc2::default(),
            FakeFindings::default(),
            std::time::Duration::ZERO,
        ),
        members: None,
    };
    let audit = audited.audit(&config(&[]), &crate::running::sweep::NoProgress).await;
    assert_eq!(audit.outcome, Outcome::Failed, "{audit:?}");
    assert!(audit.reason.unwrap_or_default().contains("no region could be searched"));
}
