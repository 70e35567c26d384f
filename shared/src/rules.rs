//! The allowlist and its verdicts: pure functions, no I/O.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::config::{CNI_POLICY_NAME, CniPolicy};
use crate::iam_arn;
use crate::ports::AttachedPolicy;

/// Policies that let nodes join a cluster, least privileged first.
const WORKER_NODE_POLICIES: &[&str] = &["AmazonEKSWorkerNodeMinimalPolicy", "AmazonEKSWorkerNodePolicy"];
/// Policies that let nodes pull images from ECR, least privileged first.
const ECR_PULL_POLICIES: &[&str] = &[
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPowerUser",
    "AmazonEC2ContainerRegistryFullAccess",
];

/// An inline policy and its (URL-decoded) document, `None` when it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    pub name: String,
    pub document: Option<String>,
}

/// A node role's current policies, as re-read from IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    pub name: String,
    pub arn: String,
    pub attached: Vec<AttachedPolicy>,
    pub inline: Vec<InlinePolicy>,
}

/// Whether the clusters a role serves still rely on it for the VPC CNI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CniNeed {
    /// These clusters' `aws-node` has no role of its own.
    Needed { clusters: Vec<String> },
    /// Every cluster the role serves gives `aws-node` its own role.
    NotNeeded,
    /// Could not tell (API missing, denied or failed): treated as needed.
    Unknown { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    ManagedPolicy {
        policy_name: String,
        policy_arn: String,
        reason: String,
    },
    InlinePolicy {
        policy_name: String,
        /// The document, URL-decoded; `None` if it could not be read.
        document: Option<String>,
    },
}

impl Violation {
    pub fn policy_name(&self) -> &str {
        match self {
            Violation::ManagedPolicy { policy_name, .. } | Violation::InlinePolicy { policy_name, .. } => policy_name,
        }
    }
}

/// A managed policy that stays, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub policy_name: String,
    pub policy_arn: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub violations: Vec<Violation>,
    pub kept: Vec<Kept>,
}

/// The allowlist, bound to one deployment's configuration.
#[derive(Debug, Clone)]
pub struct Allowlist<'a> {
    pub allowed: &'a BTreeSet<String>,
    pub cni: CniPolicy,
}

impl Allowlist<'_> {
    /// Judges every policy on the role.
    pub fn evaluate(&self, role: &RoleState, cni_need: &CniNeed) -> Evaluation {
        let partition = iam_arn::partition(&role.arn).unwrap_or("aws");
        let aws_managed = |name: &str| iam_arn::aws_managed_policy_arn(partition, name);

        let mut evaluation = Evaluation::default();
        for policy in &role.attached {
            let verdict = if policy.arn == aws_managed(CNI_POLICY_NAME) {
                self.cni_verdict(cni_need)
            } else if self.allowed.iter().any(|name| policy.arn == aws_managed(name)) {
                Ok("allowlisted".to_owned())
            } else if policy.arn.contains(":iam::aws:policy/") {
                Err("AWS-managed policy not in the allowlist".to_owned())
            } else {
                Err("customer-managed policy: only allowlisted AWS-managed policies may stay".to_owned())
            };
            match verdict {
                Ok(reason) => evaluation.kept.push(kept(policy, reason)),
                Err(reason) => evaluation.violations.push(Violation::ManagedPolicy {
                    policy_name: policy.name.clone(),
                    policy_arn: policy.arn.clone(),
                    reason,
                }),
            }
        }
        for policy in &role.inline {
            evaluation.violations.push(Violation::InlinePolicy {
                policy_name: policy.name.clone(),
                document: policy.document.clone(),
            });
        }

        keep_last_of(&mut evaluation, WORKER_NODE_POLICIES, &aws_managed, "worker-node");
        keep_last_of(&mut evaluation, ECR_PULL_POLICIES, &aws_managed, "ECR image-pull");
        evaluation
    }

    fn cni_verdict(&self, need: &CniNeed) -> Result<String, String> {
        match (self.cni, need) {
            (CniPolicy::Keep, _) => Ok("CNI policy kept (CNI_POLICY=keep)".to_owned()),
            (CniPolicy::Deny, _) => {
                Err("CNI policy denied (CNI_POLICY=deny): aws-node must use its own role".to_owned())
            }
            (CniPolicy::KeepIfNeeded, CniNeed::Needed { clusters }) => Ok(format!(
                "aws-node has no IAM role of its own in cluster(s) {}: the node role still provides pod networking",
                clusters.join(", ")
            )),
            (CniPolicy::KeepIfNeeded, CniNeed::Unknown { reason }) => {
                Ok(format!("kept because its need could not be checked ({reason})"))
            }
            (CniPolicy::KeepIfNeeded, CniNeed::NotNeeded) => {
                Err("aws-node has its own role (IRSA or Pod Identity) in every cluster this role serves".to_owned())
            }
        }
    }
}

/// If the violations would take away every policy of a kind the nodes need, keep the least
/// privileged one and say why.
fn keep_last_of(evaluation: &mut Evaluation, kind: &[&str], aws_managed: &dyn Fn(&str) -> String, label: &str) {
    let arns: Vec<String> = kind.iter().map(|name| aws_managed(name)).collect();
    if evaluation.kept.iter().any(|k| arns.contains(&k.policy_arn)) {
        return;
    }
    let Some(position) = arns.iter().find_map(|arn| {
        evaluation
            .violations
            .iter()
            .position(|v| matches!(v, Violation::ManagedPolicy { policy_arn, .. } if policy_arn == arn))
    }) else {
        return;
    };
    if let Violation::ManagedPolicy {
        policy_name,
        policy_arn,
        reason,
    } = evaluation.violations.remove(position)
    {
        evaluation.kept.push(Kept {
            policy_name,
            policy_arn,
            reason: format!(
                "last {label} policy on the role, kept so nodes keep working (would otherwise be removed: {reason})"
            ),
        });
    }
}

fn kept(policy: &AttachedPolicy, reason: String) -> Kept {
    Kept {
        policy_name: policy.name.clone(),
        policy_arn: policy.arn.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_ALLOWED_POLICIES;

    fn managed(partition: &str, name: &str) -> AttachedPolicy {
        AttachedPolicy {
            name: name.to_owned(),
            arn: iam_arn::aws_managed_policy_arn(partition, name),
        }
    }

    fn customer(name: &str) -> AttachedPolicy {
        AttachedPolicy {
            name: name.to_owned(),
            arn: format!("arn:aws:iam::123456789012:policy/{name}"),
        }
    }

    fn role(partition: &str, attached: Vec<AttachedPolicy>, inline: &[&str]) -> RoleState {
        RoleState {
            name: "node".into(),
            arn: format!("arn:{partition}:iam::123456789012:role/eks/node"),
            attached,
            inline: inline
                .iter()
                .map(|n| InlinePolicy {
                    name: (*n).into(),
                    document: Some("{}".into()),
                })
                .collect(),
        }
    }

    fn defaults() -> BTreeSet<String> {
        DEFAULT_ALLOWED_POLICIES.iter().map(|s| (*s).to_owned()).collect()
    }

    fn violating(e: &Evaluation) -> Vec<&str> {
        e.violations.iter().map(Violation::policy_name).collect()
    }

    fn kept_names(e: &Evaluation) -> Vec<&str> {
        e.kept.iter().map(|k| k.policy_name.as_str()).collect()
    }

    const WORKER: &str = "AmazonEKSWorkerNodePolicy";
    const ECR: &str = "AmazonEC2ContainerRegistryReadOnly";

    #[test]
    fn verdicts_table() {
        let allowed = defaults();
        let needed = CniNeed::Needed {
            clusters: vec!["prod".into()],
        };
        struct Case {
            name: &'static str,
            partition: &'static str,
            attached: Vec<AttachedPolicy>,
            inline: &'static [&'static str],
            cni: CniPolicy,
            need: CniNeed,
            violations: &'static [&'static str],
        }
        let cases = vec![
            Case {
                name: "compliant role",
                partition: "aws",
                attached: vec![
                    managed("aws", WORKER),
                    managed("aws", ECR),
                    managed("aws", CNI_POLICY_NAME),
                ],
                inline: &[],
                cni: CniPolicy::KeepIfNeeded,
                need: needed.clone(),
                violations: &[],
            },
            Case {
                name: "admin attached",
                partition: "aws",
                attached: vec![
                    managed("aws", WORKER),
                    managed("aws", ECR),
                    managed("aws", "AdministratorAccess"),
                ],
                inline: &[],
                cni: CniPolicy::Keep,
                need: needed.clone(),
                violations: &["AdministratorAccess"],
            },
            Case {
                name: "every inline policy is a violation",
                partition: "aws",
                attached: vec![managed("aws", WORKER), managed("aws", ECR)],
                inline: &["a", "b"],
                cni: CniPolicy::Keep,
                need: needed.clone(),
                violations: &["a", "b"],
            },
            Case {
                name: "customer look-alike of an allowlisted name",
                partition: "aws",
                attached: vec![managed("aws", WORKER), managed("aws", ECR), customer(WORKER)],
                inline: &[],
                cni: CniPolicy::Keep,
                need: needed.clone(),
                violations: &[WORKER],
            },
            Case {
                name: "partition-aware: aws-cn role with aws-cn policies",
                partition: "aws-cn",
                attached: vec![
                    managed("aws-cn", WORKER),
                    managed("aws-cn", ECR),
                    managed("aws-cn", "AmazonS3FullAccess"),
                ],
                inline: &[],
                cni: CniPolicy::Keep,
                need: needed.clone(),
                violations: &["AmazonS3FullAccess"],
            },
            Case {
                name: "partition-aware: aws ARN on a gov role is not the allowlisted policy",
                partition: "aws-us-gov",
                attached: vec![
                    managed("aws-us-gov", WORKER),
                    managed("aws-us-gov", ECR),
                    managed("aws", "AmazonEKSWorkerNodeMinimalPolicy"),
                ],
                inline: &[],
                cni: CniPolicy::Keep,
                need: needed.clone(),
                violations: &["AmazonEKSWorkerNodeMinimalPolicy"],
            },
            Case {
                name: "CNI denied",
                partition: "aws",
                attached: vec![
                    managed("aws", WORKER),
                    managed("aws", ECR),
                    managed("aws", CNI_POLICY_NAME),
                ],
                inline: &[],
                cni: CniPolicy::Deny,
                need: needed.clone(),
                violations: &[CNI_POLICY_NAME],
            },
            Case {
                name: "CNI no longer needed",
                partition: "aws",
                attached: vec![
                    managed("aws", WORKER),
                    managed("aws", ECR),
                    managed("aws", CNI_POLICY_NAME),
                ],
                inline: &[],
                cni: CniPolicy::KeepIfNeeded,
                need: CniNeed::NotNeeded,
                violations: &[CNI_POLICY_NAME],
            },
            Case {
                name: "CNI need unknown is kept",
                partition: "aws",
                attached: vec![
                    managed("aws", WORKER),
                    managed("aws", ECR),
                    managed("aws", CNI_POLICY_NAME),
                ],
                inline: &[],
                cni: CniPolicy::KeepIfNeeded,
                need: CniNeed::Unknown {
                    reason: "denied".into(),
                },
                violations: &[],
            },
        ];
        for case in cases {
            let rules = Allowlist {
                allowed: &allowed,
                cni: case.cni,
            };
            let evaluation = rules.evaluate(&role(case.partition, case.attached, case.inline), &case.need);
            assert_eq!(violating(&evaluation), case.violations, "{}", case.name);
        }
    }

    #[test]
    fn never_removes_the_last_worker_or_ecr_policy() {
        // Given an allowlist that forgot the worker and ECR policies
        let allowed: BTreeSet<String> = ["AmazonEKS_CNI_Policy".to_owned()].into();
        let rules = Allowlist {
            allowed: &allowed,
            cni: CniPolicy::Keep,
        };
        let state = role(
            "aws",
            vec![
                managed("aws", WORKER),
                managed("aws", "AmazonEC2ContainerRegistryPowerUser"),
                managed("aws", ECR),
                managed("aws", "AdministratorAccess"),
            ],
            &[],
        );
        // When evaluated
        let evaluation = rules.evaluate(&state, &CniNeed::NotNeeded);
        // Then one worker policy and the least privileged ECR policy stay, with a reason
        assert_eq!(
            violating(&evaluation),
            vec!["AmazonEC2ContainerRegistryPowerUser", "AdministratorAccess"]
        );
        assert_eq!(kept_names(&evaluation), vec![WORKER, ECR]);
        assert!(evaluation.kept.iter().all(|k| k.reason.starts_with("last ")));
    }

    #[test]
    fn the_only_ecr_policy_stays_even_when_broad() {
        let allowed = defaults();
        let rules = Allowlist {
            allowed: &allowed,
            cni: CniPolicy::Keep,
        };
        let state = role(
            "aws",
            vec![
                managed("aws", WORKER),
                managed("aws", "AmazonEC2ContainerRegistryPowerUser"),
            ],
            &[],
        );
        let evaluation = rules.evaluate(&state, &CniNeed::NotNeeded);
        assert!(evaluation.violations.is_empty());
        assert!(kept_names(&evaluation).contains(&"AmazonEC2ContainerRegistryPowerUser"));
    }
}
