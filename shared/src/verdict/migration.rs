//! The fix, not only the finding: for each workload a node-role policy serves, the commands that
//! give it its own credentials with EKS Pod Identity, so the policy can leave the node role.
//! Pure: the commands are text for a person to run, shell-quoted like the restore commands.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::types::{Evaluation, Migration, NodeBinding, Usage, Violation, arn};
use crate::verdict::policy::{reattach_command, restore_command, shell_quote};

/// IAM role names are at most 64 characters.
const ROLE_NAME_MAX: usize = 64;

/// The trust policy of a role for EKS Pod Identity.
pub fn pod_identity_trust_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"]
        }]
    })
    .to_string()
}

/// One policy to move, with what uses it.
enum Moved<'a> {
    Managed { arn: &'a str },
    Inline { name: &'a str, document: Option<&'a str> },
}

/// Migrations for every attributed violation of `role_arn`, and for every policy kept only
/// because an add-on still runs on the node role (the CNI policy, part of every standard node
/// role, excepted), grouped by workload.
pub fn plan(role_arn: &str, evaluation: &Evaluation, bindings: &[NodeBinding]) -> Vec<Migration> {
    let role_name = arn::role_name_from_arn(role_arn).unwrap_or(role_arn);
    // per workload: what it is, the policies to move, and whether it runs as an installed EKS
    // add-on (then the add-on API owns its associations)
    let mut by_component: BTreeMap<&'static str, (&Usage, Vec<Moved<'_>>, bool)> = BTreeMap::new();
    // an excepted policy is the one a team is moving right now: its commands matter most
    let excepted = evaluation.excepted.iter().map(|e| &e.violation);
    let violations = evaluation.violations.iter().chain(excepted).filter_map(|v| {
        let moved = match v {
            Violation::ManagedPolicy { policy_arn, .. } => Moved::Managed { arn: policy_arn },
            Violation::InlinePolicy {
                policy_name, document, ..
            } => Moved::Inline {
                name: policy_name,
                document: document.as_deref(),
            },
        };
        Some((v.used_by()?, moved, false))
    });
    let kept = evaluation
        .kept
        .iter()
        .filter(|k| k.addon_needs_it)
        .filter_map(|k| Some((k.used_by.as_ref()?, Moved::Managed { arn: &k.policy_arn }, true)))
        .filter(|(usage, _, _)| usage.addon != Some(crate::types::VPC_CNI.name));
    for (usage, moved, installed) in violations.chain(kept) {
        if usage.namespace.is_none() {
            continue;
        }
        let entry = by_component
            .entry(usage.component)
            .or_insert_with(|| (usage, Vec::new(), false));
        entry.1.push(moved);
        entry.2 |= installed && usage.addon.is_some();
    }
    let clusters: BTreeSet<(&str, &str)> = bindings.iter().map(|b| (b.region(), b.cluster())).collect();
    by_component
        .into_values()
        .filter_map(|(usage, moved, installed)| {
            let addon = usage.addon.filter(|_| installed);
            migration(role_arn, role_name, usage, &moved, addon, &clusters)
        })
        .collect()
}

fn migration(
    node_role_arn: &str,
    node_role_name: &str,
    usage: &Usage,
    moved: &[Moved<'_>],
    installed_addon: Option<&str>,
    clusters: &BTreeSet<(&str, &str)>,
) -> Option<Migration> {
    let namespace = usage.namespace?;
    let first_account = usage.service_accounts.first()?;
    let role_name: String = format!("{first_account}-{node_role_name}")
        .chars()
        .take(ROLE_NAME_MAX)
        .collect();
    let role_arn = format!(
        "arn:{}:iam::{}:role/{role_name}",
        arn::partition(node_role_arn).unwrap_or("aws"),
        node_role_arn.split(':').nth(4).unwrap_or_default()
    );

    let mut commands = vec![format!(
        "aws iam create-role --role-name {} --assume-role-policy-document {}",
        shell_quote(&role_name),
        shell_quote(&pod_identity_trust_policy())
    )];
    let mut policies = Vec::new();
    let mut notes = Vec::new();
    for policy in moved {
        match policy {
            Moved::Managed { arn } => {
                commands.push(reattach_command(&role_name, arn));
                policies.push((*arn).to_owned());
            }
            Moved::Inline {
                name,
                document: Some(document),
            } => {
                commands.push(restore_command(&role_name, name, document));
                policies.push((*name).to_owned());
            }
            Moved::Inline { name, document: None } => {
                policies.push((*name).to_owned());
                notes.push(format!(
                    "the document of inline policy {name} could not be read: copy it to {role_name} by hand"
                ));
            }
        }
    }
    for (region, cluster) in clusters {
        if let Some(addon) = installed_addon {
            // AWS: give an EKS add-on its associations through the add-on API, which owns them
            // (and replaces the add-on's previous ones).
            let associations: Vec<String> = usage
                .service_accounts
                .iter()
                .map(|sa| shell_quote(&format!("serviceAccount={sa},roleArn={role_arn}")))
                .collect();
            commands.push(format!(
                "aws eks update-addon --region {} --cluster-name {} --addon-name {} --pod-identity-associations {}",
                shell_quote(region),
                shell_quote(cluster),
                shell_quote(addon),
                associations.join(" ")
            ));
            continue;
        }
        for service_account in usage.service_accounts {
            commands.push(format!(
                "aws eks create-pod-identity-association --region {} --cluster-name {} --namespace {} \
                 --service-account {} --role-arn {}",
                shell_quote(region),
                shell_quote(cluster),
                shell_quote(namespace),
                shell_quote(service_account),
                shell_quote(&role_arn)
            ));
        }
    }
    notes.push(format!(
        "{}: {namespace}/{} ({})",
        usage.component,
        usage.service_accounts.join(", "),
        usage.note
    ));
    notes.push(match installed_addon {
        Some(_) => "each cluster needs the eks-pod-identity-agent add-on (aws eks create-addon --addon-name \
                    eks-pod-identity-agent); update-addon restarts the add-on's pods with the new credentials, \
                    then the policies can leave the node role"
            .to_owned(),
        None => "each cluster needs the eks-pod-identity-agent add-on (aws eks create-addon --addon-name \
                 eks-pod-identity-agent); restart the workload's pods after the association so they pick up \
                 the new credentials, then the policies can leave the node role"
            .to_owned(),
    });
    Some(Migration {
        component: usage.component,
        namespace,
        service_accounts: usage.service_accounts,
        role_name,
        policies,
        commands,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Kept;
    use crate::verdict::usage;

    const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eks/nodes/eksctl-prod-nodegroup-ng-1-NodeInstanceRole";

    fn binding(region: &str, cluster: &str) -> NodeBinding {
        NodeBinding::ManagedNodegroup {
            region: region.into(),
            cluster: cluster.into(),
            nodegroup: "ng-1".into(),
        }
    }

    #[test]
    fn an_eksctl_autoscaler_policy_moves_to_a_pod_identity_role_in_every_cluster() {
        // Given an attributed inline violation on a role that serves two clusters
        let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["autoscaling:SetDesiredCapacity"],"Resource":"*"}]}"#;
        let name = "eksctl-prod-nodegroup-ng-1-PolicyAutoScaling";
        let evaluation = Evaluation {
            violations: vec![
                Violation::InlinePolicy {
                    policy_name: name.into(),
                    document: Some(document.into()),
                    used_by: usage::of_inline(name, Some(document)),
                },
                Violation::ManagedPolicy {
                    policy_name: "AdministratorAccess".into(),
                    policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                    reason: "not allowed".into(),
                    used_by: None,
                },
            ],
            kept: vec![],
            ..Evaluation::default()
        };
        // When planned
        let plan = plan(
            NODE_ROLE,
            &evaluation,
            &[binding("us-east-1", "prod"), binding("eu-west-1", "edge")],
        );
        // Then one migration, for the attributed policy only, with exact commands
        assert_eq!(plan.len(), 1);
        let m = &plan[0];
        assert_eq!(m.component, "Cluster Autoscaler");
        assert_eq!(
            m.role_name,
            "cluster-autoscaler-eksctl-prod-nodegroup-ng-1-NodeInstanceRole"
        );
        assert_eq!(m.policies, vec![name]);
        assert_eq!(
            m.commands,
            vec![
                format!(
                    "aws iam create-role --role-name '{}' --assume-role-policy-document '{}'",
                    m.role_name,
                    pod_identity_trust_policy()
                ),
                restore_command(&m.role_name, name, document),
                format!(
                    "aws eks create-pod-identity-association --region 'eu-west-1' --cluster-name 'edge' \
                     --namespace 'kube-system' --service-account 'cluster-autoscaler' \
                     --role-arn 'arn:aws:iam::123456789012:role/{}'",
                    m.role_name
                ),
                format!(
                    "aws eks create-pod-identity-association --region 'us-east-1' --cluster-name 'prod' \
                     --namespace 'kube-system' --service-account 'cluster-autoscaler' \
                     --role-arn 'arn:aws:iam::123456789012:role/{}'",
                    m.role_name
                ),
            ]
        );
        assert!(
            m.commands.iter().all(|c| shell_words::split(c).is_ok()),
            "each command is shell-quoted"
        );
    }

    #[test]
    fn add_ons_still_on_the_node_role_get_a_plan_but_the_cni_and_host_agents_do_not() {
        let efs = "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy";
        let cni = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy";
        let ssm = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
        let kept = |arn: &str| Kept {
            policy_name: arn::policy_name_from_arn(arn).into(),
            policy_arn: arn.into(),
            reason: "needed".into(),
            used_by: usage::of_managed("aws", arn),
            addon_needs_it: true,
        };
        let evaluation = Evaluation {
            violations: vec![Violation::ManagedPolicy {
                policy_name: "AmazonSSMManagedInstanceCore".into(),
                policy_arn: ssm.into(),
                reason: "not allowed".into(),
                used_by: usage::of_managed("aws", ssm),
            }],
            kept: vec![kept(efs), kept(cni)],
            ..Evaluation::default()
        };
        let plan = plan(NODE_ROLE, &evaluation, &[binding("us-east-1", "prod")]);
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert_eq!(plan[0].component, "Amazon EFS CSI driver");
        // the installed add-on gets both its service accounts' associations through its own API
        let role_arn = format!("arn:aws:iam::123456789012:role/{}", plan[0].role_name);
        assert_eq!(
            plan[0].commands.last().map(String::as_str),
            Some(
                format!(
                    "aws eks update-addon --region 'us-east-1' --cluster-name 'prod' --addon-name 'aws-efs-csi-driver' \
                     --pod-identity-associations 'serviceAccount=efs-csi-controller-sa,roleArn={role_arn}' \
                     'serviceAccount=efs-csi-node-sa,roleArn={role_arn}'"
                )
                .as_str()
            )
        );
        assert_eq!(plan[0].commands[1], reattach_command(&plan[0].role_name, efs));
    }

    #[test]
    fn role_names_fit_iam() {
        let long = format!("arn:aws:iam::123456789012:role/{}", "n".repeat(64));
        let evaluation = Evaluation {
            violations: vec![Violation::InlinePolicy {
                policy_name: "x-PolicyAutoScaling".into(),
                document: None,
                used_by: usage::of_inline("x-PolicyAutoScaling", None),
            }],
            kept: vec![],
            ..Evaluation::default()
        };
        let plan = plan(&long, &evaluation, &[binding("us-east-1", "prod")]);
        assert_eq!(plan[0].role_name.len(), 64);
        assert!(plan[0].notes[0].contains("could not be read"), "{:?}", plan[0].notes);
    }
}
