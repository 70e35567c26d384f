//! Add-on policies on node roles: the CNI and the other add-ons stay exactly while a served
//! cluster runs them on the node role; the allowlist never strips the last worker or ECR policy.

use super::*;

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
