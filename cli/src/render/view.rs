//! One view of the roles, which every human format prints: each role with its policies in the
//! order a reviewer reads them, the severity the core gives each violation, the exceptions, and
//! the commands.

use std::cmp::Reverse;

use noderole::Report;
use noderole::types::{Exception, Migration, NodeBinding, Outcome, Violation};
use noderole::verdict::policy;
use noderole::verdict::severity::{Severity, severity};

/// One role as every format shows it.
pub(super) struct RoleView {
    pub account: String,
    pub name: String,
    pub arn: String,
    /// `violations found`, `compliant`, `exempt`, `could not be checked`.
    pub verdict: String,
    pub reason: String,
    pub backs: Vec<String>,
    pub clusters: Vec<String>,
    /// Removals, then excepted violations, then what is kept.
    pub items: Vec<Item>,
    /// Enforce would remove something.
    pub needs: bool,
    /// How the role looks: `needs`, `failed`, `excepted`, `exempt` or `clean`.
    pub state: &'static str,
    /// The worst severity of its violations, removals and excepted alike.
    pub worst: Option<Severity>,
    /// `exception expired: ...`, one per exception that stopped applying today.
    pub expired: Vec<String>,
    pub migrations: Vec<Migration>,
}

/// What enforce would do about one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Verdict {
    Remove,
    /// A violation an exception keeps until its date.
    Excepted,
    Keep,
}

/// One policy on a role and what enforce would do about it.
pub(super) struct Item {
    pub policy: String,
    pub verdict: Verdict,
    /// The core's severity, for violations (removed or excepted).
    pub severity: Option<Severity>,
    pub why: String,
    /// The AWS CLI command enforce would run, and the one that undoes it.
    pub command: Option<String>,
    pub undo: Option<String>,
    /// A credential swap to undo rather than a policy to remove.
    pub swap: bool,
    /// The policy's name, for the order within a verdict and severity.
    sort_name: String,
}

impl Item {
    pub fn remove(&self) -> bool {
        self.verdict == Verdict::Remove
    }

    /// `CRITICAL`, `HIGH`, `MEDIUM`, or empty for what is kept.
    pub fn severity_label(&self) -> &'static str {
        self.severity.map(Severity::label).unwrap_or_default()
    }

    /// `REMOVE`, `UNDO SWAP`, `excepted`, `keep`.
    pub fn verdict_label(&self) -> &'static str {
        match self.verdict {
            Verdict::Remove if self.swap => "UNDO SWAP",
            Verdict::Remove => "REMOVE",
            Verdict::Excepted => "excepted",
            Verdict::Keep => "keep",
        }
    }

    /// The HTML class: `remove`, `excepted`, `keep`.
    pub fn class(&self) -> &'static str {
        match self.verdict {
            Verdict::Remove => "remove",
            Verdict::Excepted => "excepted",
            Verdict::Keep => "keep",
        }
    }
}

impl RoleView {
    /// `CRITICAL` or empty.
    pub fn worst_label(&self) -> &'static str {
        self.worst.map(Severity::label).unwrap_or_default()
    }

    /// The verdict badge's class: the state, but a compliant role with exceptions is compliant
    /// (its card and an `N excepted` badge say the rest).
    pub fn badge(&self) -> &'static str {
        match self.state {
            "excepted" => "clean",
            state => state,
        }
    }

    pub fn excepted(&self) -> usize {
        self.items.iter().filter(|i| i.verdict == Verdict::Excepted).count()
    }
}

/// The roles by their worst severity (CRITICAL first); those without a violation after them,
/// the ones that could not be checked first (they may hide one); then by account and name.
pub(super) fn views(report: &Report) -> Vec<RoleView> {
    let mut views: Vec<RoleView> = report.roles.iter().map(view).collect();
    views.sort_by(|a, b| {
        (Reverse(a.worst), a.state != "failed", &a.account, &a.name).cmp(&(
            Reverse(b.worst),
            b.state != "failed",
            &b.account,
            &b.name,
        ))
    });
    views
}

pub(super) fn view(role: &Report) -> RoleView {
    let name = role.role.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    let arn = role
        .role
        .as_ref()
        .and_then(|r| r.arn.clone())
        .unwrap_or_else(|| name.clone());
    let mut items: Vec<Item> = role.swaps.iter().map(swaps::item).collect();
    items.extend(role.violations.iter().map(|v| removal(&name, v)));
    items.extend(role.excepted.iter().map(|e| Item {
        policy: label(&e.violation),
        verdict: Verdict::Excepted,
        severity: Some(severity(&e.violation)),
        why: e.note(),
        command: None,
        undo: None,
        swap: false,
        sort_name: e.violation.policy_name().to_lowercase(),
    }));
    items.extend(role.kept.iter().map(|k| Item {
        policy: short_policy(&k.policy_arn),
        verdict: Verdict::Keep,
        severity: None,
        why: k.reason.clone(),
        command: None,
        undo: None,
        swap: false,
        sort_name: k.policy_name.to_lowercase(),
    }));
    items.sort_by(|a, b| {
        (a.verdict, Reverse(a.severity), &a.sort_name).cmp(&(b.verdict, Reverse(b.severity), &b.sort_name))
    });
    let mut backs: Vec<String> = role.nodegroups.iter().map(describe_binding).collect();
    backs.extend(role.shared.as_ref().map(swaps::shared));
    let mut clusters: Vec<String> = role
        .nodegroups
        .iter()
        .map(|b| format!("{}/{}", b.region(), b.cluster()))
        .collect();
    clusters.sort();
    clusters.dedup();
    let needs = items.iter().any(Item::remove);
    let worst = items.iter().filter_map(|i| i.severity).max();
    let state = match role.outcome {
        Outcome::Failed => "failed",
        _ if needs => "needs",
        _ if items.iter().any(|i| i.verdict == Verdict::Excepted) => "excepted",
        Outcome::Exempt => "exempt",
        _ => "clean",
    };
    RoleView {
        needs,
        state,
        worst,
        account: role.account.clone().unwrap_or_default(),
        name,
        arn,
        verdict: match role.outcome {
            Outcome::Failed => "could not be checked".to_owned(),
            other => other.as_str().replace('_', " "),
        },
        reason: role.reason.clone().unwrap_or_default(),
        backs,
        clusters,
        items,
        expired: role.expired_exceptions.iter().map(expired_line).collect(),
        migrations: role.migrations.clone(),
    }
}

fn removal(role_name: &str, v: &Violation) -> Item {
    let usage = v
        .used_by()
        .map(|u| format!(" (probably for {})", u.component))
        .unwrap_or_default();
    let (why, command, undo) = match v {
        Violation::ManagedPolicy { policy_arn, reason, .. } => (
            format!("{reason}{usage}"),
            policy::detach_command(role_name, policy_arn),
            Some(policy::reattach_command(role_name, policy_arn)),
        ),
        Violation::InlinePolicy {
            policy_name, document, ..
        } => (
            format!("inline policies are not allowed on node roles{usage}"),
            policy::delete_inline_command(role_name, policy_name),
            document
                .as_deref()
                .map(|doc| policy::restore_command(role_name, policy_name, doc)),
        ),
    };
    Item {
        policy: label(v),
        verdict: Verdict::Remove,
        severity: Some(severity(v)),
        why,
        command: Some(command),
        undo,
        swap: false,
        sort_name: v.policy_name().to_lowercase(),
    }
}

/// `AdministratorAccess`, `inline: debug-s3`, or a customer policy's ARN.
fn label(v: &Violation) -> String {
    match v {
        Violation::ManagedPolicy { policy_arn, .. } => short_policy(policy_arn),
        Violation::InlinePolicy { policy_name, .. } => format!("inline: {policy_name}"),
    }
}

/// `exception expired: AdministratorAccess was excepted until 2026-12-01 (load test); it is a
/// violation again`, as notifications say it.
fn expired_line(e: &Exception) -> String {
    format!(
        "exception expired: {} was excepted until {} ({}); it is a violation again",
        short_policy(&e.policy),
        e.until,
        e.reason
    )
}

/// An AWS-managed policy by its path and name; any other by its full ARN (a customer policy may
/// borrow an AWS name).
pub(super) fn short_policy(arn: &str) -> String {
    match arn.split_once(":iam::aws:policy/") {
        Some((_, name)) => name.to_owned(),
        None => arn.to_owned(),
    }
}

fn describe_binding(binding: &NodeBinding) -> String {
    match binding {
        NodeBinding::ManagedNodegroup {
            region,
            cluster,
            nodegroup,
        } => format!("{region}/{cluster} node group {nodegroup}"),
        NodeBinding::AccessEntry {
            region,
            cluster,
            entry_type,
        } => format!("{region}/{cluster} {entry_type} access entry"),
        NodeBinding::RunningInstances {
            region,
            cluster,
            node_kind,
            profile_arn,
            instances,
        } => format!(
            "{region}/{cluster} {} {} node(s) ({}) through {}",
            instances.count,
            node_kind.as_str(),
            instances.describe(),
            profile_arn.rsplit('/').next().unwrap_or(profile_arn)
        ),
    }
}

#[path = "view_swaps.rs"]
mod swaps;

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, HOME, MEMBER};
    use super::*;

    #[test]
    fn roles_by_worst_severity_then_unchecked_then_account_and_name() {
        let names: Vec<(String, String, &str)> = views(&fixture::organization())
            .into_iter()
            .map(|v| (v.account.clone(), v.name.clone(), v.worst_label()))
            .collect();
        let expected = [
            (HOME, "eks-node-prod", "CRITICAL"),
            (HOME, "eks-node-logs", "HIGH"),
            (MEMBER, "eks-node-batch", ""),
            (HOME, "a-node-clean", ""),
            (HOME, "eks-node-staging", ""),
        ];
        let expected: Vec<(String, String, &str)> = expected
            .iter()
            .map(|(a, n, s)| ((*a).to_owned(), (*n).to_owned(), *s))
            .collect();
        assert_eq!(names, expected);
        // a MEDIUM removal comes after the HIGH excepted one, and the same severity goes by name
        let mut report = fixture::single();
        let mut medium = fixture::role(HOME, "a-node-medium", Outcome::ViolationsFound, None);
        medium.violations = vec![fixture::managed("AmazonS3ReadOnlyAccess")];
        let mut high = fixture::role(MEMBER, "a-node-high", Outcome::ViolationsFound, None);
        high.violations = vec![fixture::managed("AmazonS3FullAccess")];
        report.roles.extend([medium, high]);
        let names: Vec<String> = views(&report).into_iter().map(|v| v.name).collect();
        assert_eq!(
            names,
            [
                "eks-node-prod",
                "eks-node-logs",
                "a-node-high",
                "a-node-medium",
                "a-node-clean",
                "eks-node-staging"
            ],
            "HIGH before MEDIUM; the same severity by account: eks-node-logs (111…) before a-node-high (444…)"
        );
    }

    #[test]
    fn a_role_shows_removals_by_severity_then_excepted_then_kept_by_name() {
        let v = view(&fixture::prod());
        let items: Vec<(&str, &str, &str)> = v
            .items
            .iter()
            .map(|i| (i.policy.as_str(), i.verdict_label(), i.severity_label()))
            .collect();
        assert_eq!(
            items,
            [
                ("AdministratorAccess", "REMOVE", "CRITICAL"),
                ("inline: debug-s3", "REMOVE", "HIGH"),
                ("AmazonEC2ContainerRegistryReadOnly", "keep", ""),
                ("AmazonEKS_CNI_Policy", "keep", ""),
                ("AmazonEKSWorkerNodePolicy", "keep", ""),
            ]
        );
        assert!(v.needs);
        assert_eq!((v.state, v.verdict.as_str()), ("needs", "violations found"));
        assert_eq!(
            v.clusters,
            ["us-east-1/prod", "us-west-2/edge"],
            "each cluster once, sorted"
        );
        assert_eq!(v.backs[2], "us-west-2/edge EC2_LINUX access entry");
        // what the workload probably is, and the command with its undo
        assert!(
            v.items[1].why.ends_with("(probably for Cluster Autoscaler)"),
            "{}",
            v.items[1].why
        );
        let undo = v.items[1]
            .undo
            .as_deref()
            .expect("an inline policy read back can be restored");
        assert!(undo.starts_with("aws iam put-role-policy --role-name 'eks-node-prod' --policy-name 'debug-s3'"));
        assert!(v.items[2].command.is_none(), "nothing runs for what is kept");
        assert_eq!(
            v.expired,
            [
                "exception expired: AdministratorAccess was excepted until 2026-12-01 (load test of the batch \
              importer); it is a violation again"
            ]
        );
        assert_eq!(v.migrations.len(), 1, "the Cluster Autoscaler's move");
    }

    #[test]
    fn an_excepted_violation_is_a_row_of_its_own_with_its_severity() {
        let v = view(&fixture::logs());
        let excepted = &v.items[0];
        assert_eq!(
            (excepted.policy.as_str(), excepted.verdict, excepted.severity_label()),
            ("AmazonS3FullAccess", Verdict::Excepted, "HIGH")
        );
        assert_eq!(
            excepted.why,
            "excepted until 2027-03-31: moving the log shipper to Pod Identity"
        );
        assert!(excepted.command.is_none(), "enforce leaves it until the date");
        assert!(!v.needs);
        assert_eq!((v.state, v.excepted(), v.worst_label()), ("excepted", 1, "HIGH"));
    }

    #[test]
    fn a_failed_role_never_looks_clean() {
        let v = view(&fixture::batch());
        assert_eq!((v.state, v.verdict.as_str()), ("failed", "could not be checked"));
        assert_eq!(view(&fixture::staging()).state, "exempt");
        assert_eq!(view(&fixture::clean()).state, "clean");
    }

    #[test]
    fn aws_managed_policies_by_name_others_by_arn() {
        assert_eq!(
            short_policy("arn:aws:iam::aws:policy/AdministratorAccess"),
            "AdministratorAccess"
        );
        assert_eq!(
            short_policy("arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"),
            "service-role/AmazonEBSCSIDriverPolicy"
        );
        // a customer policy borrowing an AWS name is not mistaken for it
        let customer = "arn:aws:iam::111122223333:policy/AdministratorAccess";
        assert_eq!(short_policy(customer), customer);
    }
}
