//! Core tests: the handler over in-memory fakes of the ports (access entries, CNI, cost,
//! sweep, faults, trust boundaries, arbitrary input).

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::discovery::Scan;
use crate::ports::Adapters;
use crate::ports::fakes::*;
use crate::types::IndexSource;
use crate::types::{AddonCredentials, ErrorKind, Notification};

const ADMIN: &str = "AdministratorAccess";
const NODE: &[&str] = &[
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEKS_CNI_Policy",
];

fn config(vars: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = HashMap::from([
        (
            "SNS_TOPIC_ARN".to_owned(),
            "arn:aws:sns:us-east-1:123456789012:guard".to_owned(),
        ),
        ("SCAN_REGIONS".to_owned(), "us-east-1,eu-west-1".to_owned()),
        ("MODE".to_owned(), "enforce".to_owned()),
    ]);
    for (k, v) in vars {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|n| map.get(n).cloned()).expect("valid")
}

fn identity() -> Identity {
    Identity::from_caller_arn(
        "123456789012",
        "arn:aws:sts::123456789012:assumed-role/guard-remediator/node-role-remediator",
    )
}

type Fake = Remediator<Fakes>;

/// Fake ports over `iam` and `clusters`: no findings, no trails, no members.
fn adapters(iam: FakeIam, clusters: Vec<FakeCluster>) -> Adapters<Fakes> {
    Adapters {
        iam,
        eks: FakeEks { clusters },
        findings: FakeFindings::default(),
        notifier: FakeNotifier::default(),
        trails: FakeTrails::default(),
        members: FakeMembers::default(),
    }
}

fn guard(iam: FakeIam, clusters: Vec<FakeCluster>, vars: &[(&str, &str)]) -> Fake {
    guard_with(adapters(iam, clusters), vars)
}

fn guard_with(adapters: Adapters<Fakes>, vars: &[(&str, &str)]) -> Fake {
    Remediator::new(config(vars), identity(), adapters)
}

fn attach(role: &str) -> Value {
    envelope(
        json!({"roleName": role, "policyArn": format!("arn:aws:iam::aws:policy/{ADMIN}")}),
        "AttachRolePolicy",
    )
}

fn envelope(params: Value, name: &str) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
        "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                   "requestParameters": params}
    })
}

fn sweep_event() -> Value {
    json!({"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": "us-east-1",
           "resources": [], "detail": {}})
}

fn with_node(iam: FakeIam, name: &str, extra: &[&str]) -> FakeIam {
    let mut policies = NODE.to_vec();
    policies.extend_from_slice(extra);
    iam.with_role(name, EC2_TRUST, &policies, &[])
}

fn has(attached: &[String], name: &str) -> bool {
    attached.iter().any(|a| a.ends_with(&format!("/{name}")))
}

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
async fn cni_policy_stays_while_any_served_cluster_needs_it() {
    let cases = [
        // (cluster CNI credentials, CNI_POLICY, CNI policy still attached afterwards)
        (vec![Ok(AddonCredentials::NodeRole)], "keep-if-needed", true),
        (
            vec![Ok(AddonCredentials::AddonServiceAccountRole)],
            "keep-if-needed",
            false,
        ),
        (vec![Ok(AddonCredentials::PodIdentity)], "keep-if-needed", false),
        (
            vec![Ok(AddonCredentials::PodIdentity), Ok(AddonCredentials::NodeRole)],
            "keep-if-needed",
            true,
        ),
        (
            vec![Err(error(
                "eks:DescribeAddon",
                ErrorKind::Denied,
                "AccessDeniedException",
            ))],
            "keep-if-needed",
            true,
        ),
        (vec![Ok(AddonCredentials::AddonServiceAccountRole)], "keep", true),
        (vec![Ok(AddonCredentials::NodeRole)], "deny", false),
    ];
    for (credentials, mode, kept) in cases {
        let iam = with_node(FakeIam::default(), "node", &[]);
        let clusters = credentials
            .iter()
            .enumerate()
            .map(|(i, c)| {
                FakeCluster::new("us-east-1", &format!("c{i}"))
                    .nodegroup("ng", "node")
                    .cni(c.clone())
            })
            .collect();
        let guard = guard(iam, clusters, &[("CNI_POLICY", mode)]);
        let report = guard.handle(&attach("node")).await.expect("report");
        let attached = guard.home.iam.attached("node");
        assert_eq!(
            has(&attached, "AmazonEKS_CNI_Policy"),
            kept,
            "{credentials:?} {mode}: {report:?}"
        );
        if kept && mode == "keep-if-needed" {
            let reason = &report
                .kept
                .iter()
                .find(|k| k.policy_name == "AmazonEKS_CNI_Policy")
                .expect("kept")
                .reason;
            assert!(
                reason.contains("aws-node") || reason.contains("could not be checked"),
                "{reason}"
            );
            let text = crate::telling::notify::text(&report);
            assert!(
                text.contains(reason.as_str()) || report.violations.is_empty(),
                "the notification says why"
            );
        }
        // the worker and ECR policies always stay
        assert!(has(&attached, "AmazonEKSWorkerNodePolicy") && has(&attached, "AmazonEC2ContainerRegistryReadOnly"));
    }
}

#[tokio::test]
async fn add_on_policies_stay_only_while_the_add_on_runs_on_the_node_role() {
    use crate::types::{KNOWN_ADDONS, VPC_CNI};
    for addon in KNOWN_ADDONS.iter().filter(|a| a.name != VPC_CNI.name) {
        let denied = error("eks:DescribeAddon", ErrorKind::Denied, "AccessDeniedException");
        let cases = [
            // (the add-on's credentials in the one cluster, policy still attached afterwards)
            (Ok(AddonCredentials::NodeRole), true),
            (Ok(AddonCredentials::AddonServiceAccountRole), false),
            (Ok(AddonCredentials::PodIdentity), false),
            (Ok(AddonCredentials::NotInstalled), false),
            (Err(denied), true),
        ];
        for (credentials, stays) in cases {
            // Given a node role carrying the add-on's policy (under its AWS-managed path)
            let iam = with_node(FakeIam::default(), "node", addon.policies);
            let cluster = FakeCluster::new("us-east-1", "prod")
                .nodegroup("ng", "node")
                .addon(addon.name, credentials.clone());
            let guard = guard(iam, vec![cluster], &[]);
            // When an attach event arrives in enforce mode
            let report = guard.handle(&attach("node")).await.expect("report");
            // Then the policy stays exactly while the add-on still runs on the node role
            let attached = guard.home.iam.attached("node");
            for policy in addon
                .policies
                .iter()
                .map(|p| crate::types::arn::policy_name_from_arn(p))
            {
                assert_eq!(
                    has(&attached, policy),
                    stays,
                    "{} {credentials:?}: {report:?}",
                    addon.name
                );
            }
            let policy = crate::types::arn::policy_name_from_arn(addon.policies[0]);
            if stays {
                let kept = report.kept.iter().find(|k| k.policy_name == policy).expect("kept");
                let why = if credentials.is_ok() {
                    addon.component
                } else {
                    "could not be checked"
                };
                assert!(kept.reason.contains(why), "{}", kept.reason);
                assert_eq!(kept.used_by.as_ref().and_then(|u| u.addon), Some(addon.name));
                // and the notification says why, with the commands that move an add-on known to
                // run on the node role (none for one that could not be checked)
                let text = crate::telling::notify::text(&report);
                assert!(text.contains(&kept.reason), "{text}");
                assert_eq!(kept.addon_needs_it, credentials.is_ok());
                let migration = report.migrations.iter().find(|m| m.component == addon.component);
                assert_eq!(migration.is_some(), credentials.is_ok(), "{:?}", report.migrations);
                if let Some(migration) = migration {
                    assert!(migration.commands.iter().any(|c| c.contains(addon.service_accounts[0])));
                    assert!(text.contains(&migration.commands[0]), "{text}");
                }
            } else {
                let violation = report.violations.iter().find(|v| v.policy_name() == policy);
                let violation = violation.expect("a violation");
                assert_eq!(violation.used_by().and_then(|u| u.addon), Some(addon.name));
            }
            // the CNI policy is judged on its own (aws-node runs on the node role here), and
            // each add-on is asked about once
            assert!(has(&attached, "AmazonEKS_CNI_Policy"));
            assert_eq!(report.api_calls.get("eks:DescribeAddon"), Some(&2), "{}", addon.name);
        }
    }
}

#[tokio::test]
async fn addon_policies_deny_and_the_allowlist_decide_without_asking_eks() {
    let ebs = "service-role/AmazonEBSCSIDriverPolicy";
    for (vars, stays) in [
        (vec![("ADDON_POLICIES", "deny")], false),
        (vec![("ADDON_POLICIES", "keep")], true),
        // allowlisted by name (whatever its path), by path and name, or by ARN
        (
            vec![(
                "ALLOWED_POLICIES",
                "AmazonEKSWorkerNodePolicy,AmazonEC2ContainerRegistryReadOnly,AmazonEBSCSIDriverPolicy",
            )],
            true,
        ),
        (
            vec![(
                "ALLOWED_POLICIES",
                "AmazonEKSWorkerNodePolicy,service-role/AmazonEBSCSIDriverPolicy",
            )],
            true,
        ),
        (
            vec![(
                "ALLOWED_POLICIES",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            )],
            true,
        ),
    ] {
        let iam = with_node(FakeIam::default(), "node", &[ebs]);
        let cluster = FakeCluster::new("us-east-1", "prod")
            .nodegroup("ng", "node")
            .addon("aws-ebs-csi-driver", Ok(AddonCredentials::NodeRole))
            .cni(Ok(AddonCredentials::PodIdentity));
        let guard = guard(iam, vec![cluster], &vars);
        let report = guard.handle(&attach("node")).await.expect("report");
        assert_eq!(
            has(&guard.home.iam.attached("node"), "AmazonEBSCSIDriverPolicy"),
            stays,
            "{vars:?}: {report:?}"
        );
        // only the CNI question went to EKS
        assert_eq!(report.api_calls.get("eks:DescribeAddon"), Some(&1), "{vars:?}");
    }
}

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

#[tokio::test]
async fn an_allowlist_without_worker_or_ecr_policies_never_strips_the_last_one() {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[
            ("ALLOWED_POLICIES", "AmazonEKSWorkerNodeMinimalPolicy"),
            ("CNI_POLICY", "keep"),
        ],
    );
    let report = guard.handle(&attach("node")).await.expect("report");
    let attached = guard.home.iam.attached("node");
    assert!(!has(&attached, ADMIN));
    assert!(has(&attached, "AmazonEKSWorkerNodePolicy"));
    assert!(has(&attached, "AmazonEC2ContainerRegistryReadOnly"));
    let reasons: Vec<&str> = report.kept.iter().map(|k| k.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("last worker-node policy")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("last ECR image-pull policy")),
        "{reasons:?}"
    );
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
    guard.home.index.invalidate().await;
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
    // the sweep never lists IAM roles: its cost follows EKS, not the account's role count
    assert!(
        !report
            .api_calls
            .keys()
            .any(|k| k.starts_with("iam:List") && k != "iam:ListAttachedRolePolicies" && k != "iam:ListRolePolicies")
    );
}

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

#[tokio::test]
async fn the_functions_own_role_and_exempt_roles_are_never_touched() {
    let iam = with_node(
        with_node(FakeIam::default(), "guard-remediator", &[ADMIN]),
        "legacy",
        &[ADMIN],
    );
    let clusters = vec![
        FakeCluster::new("us-east-1", "c")
            .nodegroup("a", "guard-remediator")
            .nodegroup("b", "legacy"),
    ];
    let guard = guard(iam, clusters, &[("EXEMPT_ROLES", "legacy")]);
    for role in ["guard-remediator", "legacy"] {
        let report = guard.handle(&attach(role)).await.expect("report");
        assert_eq!(report.outcome, Outcome::Exempt, "{role}");
    }
    let sweep = guard.handle(&sweep_event()).await.expect("report");
    assert!(sweep.roles.iter().all(|r| r.outcome == Outcome::Exempt));
    assert!(guard.home.iam.writes.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn tags_do_not_exempt_and_foreign_accounts_are_ignored() {
    // exemptions come only from configuration: there is no tag lookup at all (FakeIam has none);
    // an event from another account is ignored before any call
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    );
    let mut event = attach("node");
    event["account"] = json!("999999999999");
    let report = guard.handle(&event).await.expect("report");
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(report.api_calls.is_empty());
    assert!(guard.home.iam.writes.lock().expect("lock").is_empty());
}

/// Arbitrary JSON, and valid events with one field replaced by arbitrary JSON.
fn payloads() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    let arbitrary = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map("[a-zA-Z-]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let paths = [
        "/detail-type",
        "/source",
        "/account",
        "/detail",
        "/detail/eventName",
        "/detail/eventSource",
        "/detail/errorCode",
        "/detail/requestParameters",
        "/detail/requestParameters/roleName",
        "/detail/requestParameters/policyArn",
        "/region",
        "/detail/userIdentity",
    ];
    prop_oneof![
        arbitrary.clone(),
        (0..paths.len(), arbitrary).prop_map(move |(i, value)| {
            let mut event = attach("missing-role");
            if let Some(slot) = event.pointer_mut(paths[i]) {
                *slot = value;
            }
            event
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_payload_panics_or_acts_blindly(payload in payloads()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        // a role that exists but is no node role: nothing may ever be written
        let iam = FakeIam::default().with_role("missing-role", EC2_TRUST, &[ADMIN], &[]);
        let guard = guard(iam, vec![], &[]);
        match runtime.block_on(guard.handle(&payload)) {
            Ok(report) => {
                prop_assert!(report.outcome != Outcome::Remediated);
                if matches!(report.outcome, Outcome::Ignored | Outcome::NotNodeRole | Outcome::Exempt) {
                    prop_assert!(report.reason.as_deref().is_some_and(|r| !r.is_empty()));
                }
            }
            Err(e) => prop_assert_eq!(e.error_type(), "InvalidEvent"),
        }
        prop_assert!(guard.home.iam.writes.lock().expect("lock").is_empty());
    }
}

// ---- organization mode -------------------------------------------------------------------

const MEMBER_A: &str = "111111111111";
const MEMBER_B: &str = "222222222222";
const MEMBER_C: &str = "333333333333";

type Central = Remediator<Fakes>;

/// A node role "node" with administrator access, in one node group.
fn account_with_admin_node() -> (FakeIam, FakeEks) {
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let eks = FakeEks {
        clusters: vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
    };
    (iam, eks)
}

fn central(accounts: &str, members: FakeMembers) -> (Central, FakeIam) {
    let (home_iam, home_eks) = account_with_admin_node();
    let remediator = guard_with(
        Adapters {
            eks: home_eks,
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
    let eks = FakeEks {
        clusters: vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "guard-member")],
    };
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
    // one notification per role that needed action, each naming its account
    let role_notes: Vec<&Notification> = published
        .iter()
        .filter(|n| n.subject.contains(": remediated:"))
        .collect();
    assert_eq!(role_notes.len(), 2);
}
