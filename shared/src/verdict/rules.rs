//! The allowlist and its verdicts: pure functions, no I/O.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::config::{AddonPolicy, Config};
use crate::types::{
    AddonNeed, AddonNeeds, Evaluation, Exception, Kept, KnownAddon, RoleState, VPC_CNI, Violation, addon, arn,
};
use crate::verdict::{exceptions, usage};

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
    /// `EXCEPTIONS`, and the day (UTC) they are judged on.
    pub exceptions: &'a [Exception],
    pub today: NaiveDate,
}

impl<'a> Allowlist<'a> {
    pub fn from_config(config: &'a Config, today: NaiveDate) -> Self {
        Allowlist {
            allowed: &config.allowed_policies,
            cni: config.cni_policy,
            addons: config.addon_policies,
            exceptions: &config.exceptions,
            today,
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

    /// Judges every policy on the role; what an exception covers today is set aside in
    /// `excepted`.
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
        exceptions::apply(&mut evaluation, self.exceptions, &role.name, &role.arn, self.today);
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
#[path = "rules_tests.rs"]
mod tests;
