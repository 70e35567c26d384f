//! A small audit in memory, as the core would return it, for the printers' tests.
//!
//! Account 111122223333: `eks-node-prod` (AdministratorAccess and an inline policy to remove,
//! three kept, one of them for a reason with a `|` and a line break; two node groups and an
//! access entry), `eks-node-staging` (exempt), `a-node-clean` (compliant, listed first by name).
//! [`organization`] adds account 444455556666 that could not be entered and a role there whose
//! policies could not be read.

use noderole::types::NodeBinding;
use noderole::types::Usage;
use noderole::types::{AccountLine, EventSummary, Outcome, RoleRef};
use noderole::types::{Kept, Violation};
use noderole::{Mode, Report};

pub const HOME: &str = "111122223333";
pub const MEMBER: &str = "444455556666";
pub const DENIED: &str = "555566667777";

/// The inline policy's document: quotes, `<`, `&` and `|` to escape in every format.
pub const INLINE_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::a<b>&c|d"}]}"#;

fn event() -> EventSummary {
    EventSummary {
        id: None,
        name: "audit".into(),
        region: None,
        actor: None,
    }
}

fn aws(name: &str) -> String {
    format!("arn:aws:iam::aws:policy/{name}")
}

fn kept(name: &str, reason: &str) -> Kept {
    Kept {
        policy_name: name.rsplit('/').next().unwrap_or(name).into(),
        policy_arn: aws(name),
        reason: reason.into(),
        used_by: None,
        addon_needs_it: false,
    }
}

fn nodegroup(region: &str, cluster: &str, nodegroup: &str) -> NodeBinding {
    NodeBinding::ManagedNodegroup {
        region: region.into(),
        cluster: cluster.into(),
        nodegroup: nodegroup.into(),
    }
}

/// A node role's Report as the sweep's check leaves it.
pub fn role(account: &str, name: &str, outcome: Outcome, reason: Option<&str>) -> Report {
    let mut report = Report::new(Mode::DryRun, Some(account.into()), event());
    report.role = Some(RoleRef {
        name: name.into(),
        arn: Some(format!("arn:aws:iam::{account}:role/{name}")),
    });
    report.node_role = true;
    report.finish(outcome, reason.map(str::to_owned))
}

pub fn prod() -> Report {
    let mut r = role(HOME, "eks-node-prod", Outcome::ViolationsFound, None);
    r.nodegroups = vec![
        nodegroup("us-east-1", "prod", "general"),
        nodegroup("us-east-1", "prod", "system"),
        NodeBinding::AccessEntry {
            region: "us-west-2".into(),
            cluster: "edge".into(),
            entry_type: "EC2_LINUX".into(),
        },
    ];
    r.violations = vec![
        Violation::ManagedPolicy {
            policy_name: "AdministratorAccess".into(),
            policy_arn: aws("AdministratorAccess"),
            reason: "AWS-managed policy not in the allowlist".into(),
            used_by: None,
        },
        Violation::InlinePolicy {
            policy_name: "debug-s3".into(),
            document: Some(INLINE_DOCUMENT.into()),
            used_by: Some(Usage {
                component: "Cluster Autoscaler",
                evidence: "autoscaling actions".into(),
                namespace: Some("kube-system"),
                service_accounts: &["cluster-autoscaler"],
                addon: None,
                note: "",
            }),
        },
    ];
    r.kept = vec![
        kept("AmazonEKSWorkerNodePolicy", "allowlisted"),
        kept("AmazonEC2ContainerRegistryReadOnly", "allowlisted"),
        kept(
            "AmazonEKS_CNI_Policy",
            "kept because its need could not be checked (eks:DescribeAddon | rejected\nHTTP 404)",
        ),
    ];
    r
}

pub fn staging() -> Report {
    let mut r = role(
        HOME,
        "eks-node-staging",
        Outcome::Exempt,
        Some("exempt by EXEMPT_ROLES (eks-node-staging)"),
    );
    r.nodegroups = vec![nodegroup("us-east-1", "staging", "default")];
    r
}

pub fn clean() -> Report {
    let mut r = role(HOME, "a-node-clean", Outcome::Compliant, None);
    r.nodegroups = vec![nodegroup("us-east-1", "prod", "batch")];
    r.kept = vec![kept("AmazonEKSWorkerNodePolicy", "allowlisted")];
    r
}

fn sweep(roles: Vec<Report>) -> Report {
    let mut report = Report::new(Mode::DryRun, Some(HOME.into()), event());
    report.roles = roles;
    report.finish(Outcome::SweepCompleted, None)
}

/// One account, roles in an order the printers must not keep: prod, staging, clean.
pub fn single() -> Report {
    let mut report = sweep(vec![prod(), staging(), clean()]);
    report.warnings = vec!["us-west-2/edge: <AccessDenied> on ListNodegroups & DescribeCluster".into()];
    report
}

/// Three accounts: the home one, a member with a role that could not be read, one not entered.
pub fn organization() -> Report {
    let unread = role(
        MEMBER,
        "eks-node-batch",
        Outcome::Failed,
        Some("iam:ListRolePolicies: AccessDenied"),
    );
    let mut report = sweep(vec![unread, prod(), staging(), clean()]);
    report.accounts = vec![
        AccountLine::checked(HOME, &report.roles[1..]),
        AccountLine::checked(MEMBER, &report.roles[..1]),
        AccountLine::failed(DENIED, "sts:AssumeRole on NodeRoleGuardMember: AccessDenied".into()),
    ];
    report
}
