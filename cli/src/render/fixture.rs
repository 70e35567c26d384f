//! A small audit in memory, as the core would return it, for the printers' tests.
//!
//! Account 111122223333: `eks-node-prod` (AdministratorAccess, CRITICAL, whose exception expired
//! yesterday, and an inline policy for the Cluster Autoscaler, HIGH, to remove, with the commands
//! that move the autoscaler to Pod Identity; three kept, one of them for a reason with a `|` and
//! a line break; two node groups and an access entry), `eks-node-logs` (AmazonS3FullAccess,
//! HIGH, excepted until 2027-03-31), `eks-node-staging` (exempt), `a-node-clean` (compliant).
//! [`instances`] has `eks-node-legacy` (the role of two self-managed nodes) and `eks-node-gpu`
//! (its node group's instances run with an administrator role swapped into their profile:
//! CRITICAL, planned).
//! [`organization`] adds account 444455556666 that could not be entered and a role there whose
//! policies could not be read. [`run`] is a run at a fixed time with an exception configured.

use chrono::{NaiveDate, TimeZone, Utc};
use noderole::types::{AccountLine, EventSummary, Outcome, RoleRef};
use noderole::types::{CredentialSwap, Evaluation, Instances, NodeBinding, NodeKind, SwapFix, Usage};
use noderole::types::{Excepted, Exception, Kept, Violation};
use noderole::verdict::migration;
use noderole::{Mode, Report};

use super::run::{RunInfo, Settings};

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

/// An AWS-managed policy not in the allowlist.
pub fn managed(name: &str) -> Violation {
    Violation::ManagedPolicy {
        policy_name: name.into(),
        policy_arn: aws(name),
        reason: "AWS-managed policy not in the allowlist".into(),
        used_by: None,
    }
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
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
        managed("AdministratorAccess"),
        Violation::InlinePolicy {
            policy_name: "debug-s3".into(),
            document: Some(INLINE_DOCUMENT.into()),
            used_by: Some(Usage {
                component: "Cluster Autoscaler",
                evidence: "autoscaling actions".into(),
                namespace: Some("kube-system"),
                service_accounts: &["cluster-autoscaler"],
                addon: None,
                note: "namespace and service account of the usual install; change them in the commands if \
                       yours differ",
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
    r.expired_exceptions = vec![Exception {
        role: "eks-node-prod".into(),
        policy: aws("AdministratorAccess"),
        until: day("2026-12-01"),
        reason: "load test of the batch importer".into(),
    }];
    // the commands as the core writes them for this role
    let evaluation = Evaluation {
        violations: r.violations.clone(),
        ..Evaluation::default()
    };
    let arn = r.role.as_ref().and_then(|role| role.arn.clone()).unwrap_or_default();
    r.migrations = migration::plan(&arn, &evaluation, &r.nodegroups);
    r
}

/// A node role whose one violation an exception keeps until 2027-03-31.
pub fn logs() -> Report {
    let mut r = role(HOME, "eks-node-logs", Outcome::Compliant, None);
    r.nodegroups = vec![nodegroup("us-east-1", "prod", "logging")];
    r.excepted = vec![Excepted {
        violation: managed("AmazonS3FullAccess"),
        until: day("2027-03-31"),
        reason: "moving the log shipper to Pod Identity".into(),
    }];
    r.kept = vec![kept("AmazonEKSWorkerNodePolicy", "allowlisted")];
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

/// The role of two self-managed nodes: no node group declares it, its instances do.
pub fn legacy() -> Report {
    let mut r = role(HOME, "eks-node-legacy", Outcome::Compliant, None);
    r.nodegroups = vec![NodeBinding::RunningInstances {
        region: "us-east-1".into(),
        cluster: "legacy".into(),
        node_kind: NodeKind::SelfManaged,
        profile_arn: format!("arn:aws:iam::{HOME}:instance-profile/legacy-nodes"),
        instances: Instances::of(["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002"]),
    }];
    r.kept = vec![kept("AmazonEKSWorkerNodePolicy", "allowlisted")];
    r
}

/// A node role whose node group's profile now holds an administrator role: a planned swap-back.
pub fn gpu() -> Report {
    let mut r = role(HOME, "eks-node-gpu", Outcome::CredentialSwap, None);
    r.nodegroups = vec![nodegroup("us-east-1", "prod", "gpu")];
    let mut swap = CredentialSwap {
        region: "us-east-1".into(),
        cluster: "prod".into(),
        nodegroup: "gpu".into(),
        instances: Instances::of(["i-0f1e2d3c4b5a60001"]),
        profile_arn: format!("arn:aws:iam::{HOME}:instance-profile/eks-gpu-1a2b"),
        running_role_arn: Some(format!("arn:aws:iam::{HOME}:role/ops-admin")),
        declared_role_arn: format!("arn:aws:iam::{HOME}:role/eks-node-gpu"),
        fix: SwapFix::ProfileRole {
            profile_name: "eks-gpu-1a2b".into(),
            remove_role: Some("ops-admin".into()),
            add_role: "eks-node-gpu".into(),
        },
        undo_commands: Vec::new(),
        reverse_commands: Vec::new(),
        result: None,
    };
    noderole::action::swap::plan(&mut swap);
    r.swaps = vec![swap];
    r.kept = vec![kept("AmazonEKSWorkerNodePolicy", "allowlisted")];
    r
}

fn sweep(roles: Vec<Report>) -> Report {
    let mut report = Report::new(Mode::DryRun, Some(HOME.into()), event());
    report.roles = roles;
    report.finish(Outcome::SweepCompleted, None)
}

/// A node role in the member account whose policies could not be read.
pub fn batch() -> Report {
    role(
        MEMBER,
        "eks-node-batch",
        Outcome::Failed,
        Some("iam:ListRolePolicies: AccessDenied"),
    )
}

/// One account, roles in an order the printers must not keep: staging, clean, logs, prod.
pub fn single() -> Report {
    let mut report = sweep(vec![staging(), clean(), logs(), prod()]);
    report.warnings = vec!["us-west-2/edge: <AccessDenied> on ListNodegroups & DescribeCluster".into()];
    report
}

/// Nodes as they run: a self-managed node role and a node group whose credentials were swapped.
pub fn instances() -> Report {
    sweep(vec![legacy(), gpu()])
}

/// Three accounts: the home one, a member with a role that could not be read, one not entered.
pub fn organization() -> Report {
    let mut report = sweep(vec![batch(), prod(), staging(), clean(), logs()]);
    report.accounts = vec![
        AccountLine::checked(HOME, &report.roles[1..]),
        AccountLine::checked(MEMBER, &report.roles[..1]),
        AccountLine::failed(DENIED, "sts:AssumeRole on NodeRoleGuardMember: AccessDenied".into()),
    ];
    report
}

/// The run behind the reports: a fixed time, a caller, the exception of `eks-node-logs`.
pub fn run() -> RunInfo {
    RunInfo {
        generated_at: Utc.with_ymd_and_hms(2026, 12, 2, 9, 30, 0).single().expect("a time"),
        version: "0.1.0".into(),
        caller: "arn:aws:sts::111122223333:assumed-role/SecurityAudit/jane.doe".into(),
        accounts: vec![HOME.into()],
        regions: vec!["us-east-1".into(), "us-west-2".into()],
        configuration: Settings {
            mode: "dry-run".into(),
            allowed_policies: ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy"]
                .map(String::from)
                .to_vec(),
            exempt_roles: vec!["eks-node-staging".into()],
            exceptions: vec![Exception {
                role: "eks-node-logs".into(),
                policy: aws("AmazonS3FullAccess"),
                until: day("2027-03-31"),
                reason: "moving the log shipper to Pod Identity".into(),
            }],
            cni_policy: "keep-if-needed".into(),
            addon_policies: "keep-if-needed".into(),
            member_role: None,
            member_accounts: None,
        },
    }
}

/// [`run`] over the organization's accounts, through its member role.
pub fn organization_run() -> RunInfo {
    let mut run = run();
    run.accounts = vec![HOME.into(), MEMBER.into(), DENIED.into()];
    run.configuration.member_role = Some("NodeRoleGuardMember".into());
    run.configuration.member_accounts = Some("organization".into());
    run
}
