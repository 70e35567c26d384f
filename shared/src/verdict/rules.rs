//! The allowlist and its verdicts: pure functions, no I/O.

use std::collections::BTreeSet;

use crate::config::{AddonPolicy, Config};
use crate::types::{AddonNeed, AddonNeeds, Evaluation, Kept, KnownAddon, RoleState, VPC_CNI, Violation, addon, arn};
use crate::verdict::usage;

/// Policies that let nodes join a cluster, least privileged first.
const WORKER_NODE_POLICIES: &[&str] = &["AmazonEKSWorkerNodeMinimalPolicy", "AmazonEKSWorkerNodePolicy"];
/// Policies that let nodes pull images from ECR, least privileged first.
const ECR_PULL_POLICIES: &[&str] = &[
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPowerUser",
    "AmazonEC2ContainerRegistryFullAccess",
];

/// The allowlist, bound to one deployment's configuration.
#[derive(Debug, Clone)]
pub struct Allowlist<'a> {
    /// Policy names (any AWS-managed path) or path/name pairs; see `ALLOWED_POLICIES`.
    pub allowed: &'a BTreeSet<String>,
    /// `CNI_POLICY`.
    pub cni: AddonPolicy,
    /// `ADDON_POLICIES`.
    pub addons: AddonPolicy,
}

impl<'a> Allowlist<'a> {
    pub fn from_config(config: &'a Config) -> Self {
        Allowlist {
            allowed: &config.allowed_policies,
            cni: config.cni_policy,
            addons: config.addon_policies,
        }
    }

    /// Whether `policy_arn` is an AWS-managed policy of `partition` that the allowlist names,
    /// by its name under any path or by its path and name.
    pub fn allows(&self, partition: &str, policy_arn: &str) -> bool {
        let Some(resource) = policy_arn.strip_prefix(&arn::aws_managed_policy_arn(partition, "")) else {
            return false;
        };
        let name = resource.rsplit('/').next().unwrap_or(resource);
        self.allowed.iter().any(|entry| {
            if entry.contains('/') {
                entry == resource
            } else {
                entry == name
            }
        })
    }

    fn setting(&self, addon: &KnownAddon) -> (AddonPolicy, &'static str) {
        if addon.name == VPC_CNI.name {
            (self.cni, "CNI_POLICY")
        } else {
            (self.addons, "ADDON_POLICIES")
        }
    }

    /// The known add-ons on the role whose need decides their verdict: the ones to ask EKS about.
    pub fn addons_to_check(&self, role: &RoleState) -> Vec<&'static KnownAddon> {
        let partition = role.partition();
        let mut found: Vec<&'static KnownAddon> = Vec::new();
        let on_role = role
            .attached
            .iter()
            .filter_map(|p| addon::by_policy_arn(partition, &p.arn).filter(|a| self.decides(a, partition, &p.arn)))
            .filter(|addon| self.setting(addon).0 == AddonPolicy::KeepIfNeeded);
        for addon in on_role {
            // an add-on with two policies on the role is asked about once
            if !found.iter().any(|f| f.name == addon.name) {
                found.push(addon);
            }
        }
        found
    }

    /// The CNI policy is governed by `CNI_POLICY` alone; another add-on's policy by
    /// `ADDON_POLICIES` unless the allowlist already keeps it.
    fn decides(&self, addon: &KnownAddon, partition: &str, policy_arn: &str) -> bool {
        addon.name == VPC_CNI.name || !self.allows(partition, policy_arn)
    }

    /// Judges every policy on the role.
    pub fn evaluate(&self, role: &RoleState, needs: &AddonNeeds) -> Evaluation {
        let partition = role.partition();
        let aws_managed = |name: &str| arn::aws_managed_policy_arn(partition, name);

        let mut evaluation = Evaluation::default();
        for policy in &role.attached {
            let addon = addon::by_policy_arn(partition, &policy.arn);
            let verdict = match addon {
                Some(addon) if self.decides(addon, partition, &policy.arn) => self.addon_verdict(addon, needs),
                _ if self.allows(partition, &policy.arn) => Ok(("allowlisted".to_owned(), false)),
                _ if policy.arn.contains(":iam::aws:policy/") => {
                    Err("AWS-managed policy not in the allowlist".to_owned())
                }
                _ => Err("customer-managed policy: only allowlisted AWS-managed policies may stay".to_owned()),
            };
            let used_by = usage::of_managed(partition, &policy.arn);
            match verdict {
                Ok((reason, addon_needs_it)) => evaluation.kept.push(Kept {
                    policy_name: policy.name.clone(),
                    policy_arn: policy.arn.clone(),
                    reason,
                    used_by,
                    addon_needs_it,
                }),
                Err(reason) => evaluation.violations.push(Violation::ManagedPolicy {
                    policy_name: policy.name.clone(),
                    policy_arn: policy.arn.clone(),
                    reason,
                    used_by,
                }),
            }
        }
        for policy in &role.inline {
            evaluation.violations.push(Violation::InlinePolicy {
                policy_name: policy.name.clone(),
                document: policy.document.clone(),
                used_by: usage::of_inline(&policy.name, policy.document.as_deref()),
            });
        }

        keep_last_of(&mut evaluation, WORKER_NODE_POLICIES, &aws_managed, "worker-node");
        keep_last_of(&mut evaluation, ECR_PULL_POLICIES, &aws_managed, "ECR image-pull");
        evaluation
    }

    /// Kept (with the reason, and whether because the add-on needs it) or a violation's reason.
    fn addon_verdict(&self, addon: &KnownAddon, needs: &AddonNeeds) -> Result<(String, bool), String> {
        let (setting, variable) = self.setting(addon);
        let component = addon.component;
        let needed = |reason: String| Ok((reason, true));
        match (setting, needs.get(addon)) {
            (AddonPolicy::Keep, _) => Ok((format!("{component} policy kept ({variable}=keep)"), false)),
            (AddonPolicy::Deny, _) => Err(format!(
                "{component} policy denied ({variable}=deny): the add-on must use its own role"
            )),
            (AddonPolicy::KeepIfNeeded, Some(AddonNeed::Needed { clusters })) => needed(format!(
                "{component} has no IAM role of its own (neither IRSA nor EKS Pod Identity for {}/{}) in \
                 cluster(s) {}: it still gets its credentials from the node role",
                addon.namespace,
                addon.service_accounts.join(", "),
                clusters.join(", ")
            )),
            // kept for safety, but not known to be in use: no migration is planned for it
            (AddonPolicy::KeepIfNeeded, Some(AddonNeed::Unknown { reason })) => {
                Ok((format!("kept because its need could not be checked ({reason})"), false))
            }
            (AddonPolicy::KeepIfNeeded, None) => Ok(("kept because its need was not checked".to_owned(), false)),
            (AddonPolicy::KeepIfNeeded, Some(AddonNeed::NotNeeded { clusters })) => Err(format!(
                "{component} no longer needs the node role in any cluster this role serves: {}",
                clusters.join("; ")
            )),
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
        used_by,
    } = evaluation.violations.remove(position)
    {
        evaluation.kept.push(Kept {
            policy_name,
            policy_arn,
            reason: format!(
                "last {label} policy on the role, kept so nodes keep working (would otherwise be removed: {reason})"
            ),
            used_by,
            addon_needs_it: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CNI_POLICY_NAME, DEFAULT_ALLOWED_POLICIES};
    use crate::types::VPC_CNI;
    use crate::types::{AttachedPolicy, InlinePolicy};

    fn managed(partition: &str, name: &str) -> AttachedPolicy {
        AttachedPolicy {
            name: name.to_owned(),
            arn: arn::aws_managed_policy_arn(partition, name),
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

    fn cni(need: AddonNeed) -> AddonNeeds {
        let mut needs = AddonNeeds::default();
        needs.insert(&VPC_CNI, need);
        needs
    }

    fn not_needed() -> AddonNeeds {
        cni(AddonNeed::NotNeeded { clusters: vec![] })
    }

    fn rules(allowed: &BTreeSet<String>, cni: AddonPolicy) -> Allowlist<'_> {
        Allowlist {
            allowed,
            cni,
            addons: AddonPolicy::KeepIfNeeded,
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
        let needed = cni(AddonNeed::Needed {
            clusters: vec!["prod".into()],
        });
        struct Case {
            name: &'static str,
            partition: &'static str,
            attached: Vec<AttachedPolicy>,
            inline: &'static [&'static str],
            cni: AddonPolicy,
            need: AddonNeeds,
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
                cni: AddonPolicy::KeepIfNeeded,
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
                cni: AddonPolicy::Keep,
                need: needed.clone(),
                violations: &["AdministratorAccess"],
            },
            Case {
                name: "every inline policy is a violation",
                partition: "aws",
                attached: vec![managed("aws", WORKER), managed("aws", ECR)],
                inline: &["a", "b"],
                cni: AddonPolicy::Keep,
                need: needed.clone(),
                violations: &["a", "b"],
            },
            Case {
                name: "customer look-alike of an allowlisted name",
                partition: "aws",
                attached: vec![managed("aws", WORKER), managed("aws", ECR), customer(WORKER)],
                inline: &[],
                cni: AddonPolicy::Keep,
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
                cni: AddonPolicy::Keep,
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
                cni: AddonPolicy::Keep,
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
                cni: AddonPolicy::Deny,
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
                cni: AddonPolicy::KeepIfNeeded,
                need: not_needed(),
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
                cni: AddonPolicy::KeepIfNeeded,
                need: cni(AddonNeed::Unknown {
                    reason: "denied".into(),
                }),
                violations: &[],
            },
        ];
        for case in cases {
            let evaluation =
                rules(&allowed, case.cni).evaluate(&role(case.partition, case.attached, case.inline), &case.need);
            assert_eq!(violating(&evaluation), case.violations, "{}", case.name);
        }
    }

    #[test]
    fn allowlisted_names_match_aws_managed_policies_under_any_path_but_never_customer_ones() {
        let allowed: BTreeSet<String> = [
            "AmazonEBSCSIDriverPolicy",
            "job-function/ViewOnlyAccess",
            "AmazonEKSWorkerNodePolicy",
        ]
        .map(str::to_owned)
        .into();
        let rules = rules(&allowed, AddonPolicy::Keep);
        let cases = [
            (
                "aws",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
                true,
            ),
            ("aws", "arn:aws:iam::aws:policy/AmazonEBSCSIDriverPolicy", true),
            ("aws", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", true),
            // a path in the entry must match exactly
            ("aws", "arn:aws:iam::aws:policy/ViewOnlyAccess", false),
            (
                "aws",
                "arn:aws:iam::123456789012:policy/service-role/AmazonEBSCSIDriverPolicy",
                false,
            ),
            (
                "aws",
                "arn:aws:iam::123456789012:policy/AmazonEKSWorkerNodePolicy",
                false,
            ),
            (
                "aws-cn",
                "arn:aws-cn:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
                true,
            ),
            (
                "aws-cn",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
                false,
            ),
            (
                "aws",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicyV2",
                false,
            ),
        ];
        for (partition, arn, allowed) in cases {
            assert_eq!(rules.allows(partition, arn), allowed, "{arn} in {partition}");
        }
    }

    #[test]
    fn each_add_on_on_the_role_is_checked_once_unless_allowlisted_or_decided_by_setting() {
        let state = role(
            "aws",
            vec![
                managed("aws", "CloudWatchAgentServerPolicy"),
                managed("aws", CNI_POLICY_NAME),
                managed("aws", "AWSXrayWriteOnlyAccess"),
                managed("aws", "service-role/AmazonEBSCSIDriverPolicy"),
                customer("AmazonEFSCSIDriverPolicy"),
            ],
            &[],
        );
        let names =
            |rules: Allowlist<'_>| -> Vec<&str> { rules.addons_to_check(&state).iter().map(|a| a.name).collect() };
        let allowed = defaults();
        assert_eq!(
            names(rules(&allowed, AddonPolicy::KeepIfNeeded)),
            vec!["amazon-cloudwatch-observability", "vpc-cni", "aws-ebs-csi-driver"]
        );
        // the CNI policy follows CNI_POLICY even when allowlisted; the others follow the allowlist
        let allowed: BTreeSet<String> = ["AmazonEBSCSIDriverPolicy".to_owned(), CNI_POLICY_NAME.to_owned()].into();
        assert_eq!(
            names(rules(&allowed, AddonPolicy::KeepIfNeeded)),
            vec!["amazon-cloudwatch-observability", "vpc-cni"]
        );
        let mut deny = rules(&allowed, AddonPolicy::Deny);
        deny.addons = AddonPolicy::Deny;
        assert!(names(deny).is_empty());
    }

    #[test]
    fn never_removes_the_last_worker_or_ecr_policy() {
        // Given an allowlist that forgot the worker and ECR policies
        let allowed: BTreeSet<String> = ["AmazonEKS_CNI_Policy".to_owned()].into();
        let rules = rules(&allowed, AddonPolicy::Keep);
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
        let evaluation = rules.evaluate(&state, &not_needed());
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
        let rules = rules(&allowed, AddonPolicy::Keep);
        let state = role(
            "aws",
            vec![
                managed("aws", WORKER),
                managed("aws", "AmazonEC2ContainerRegistryPowerUser"),
            ],
            &[],
        );
        let evaluation = rules.evaluate(&state, &not_needed());
        assert!(evaluation.violations.is_empty());
        assert!(kept_names(&evaluation).contains(&"AmazonEC2ContainerRegistryPowerUser"));
    }
}
