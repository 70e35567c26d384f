//! AWS Security Hub (CSPM) findings: one per violation (role × policy), with a deterministic `Id`
//! so duplicate and concurrent deliveries update one finding. The provider owns the lifecycle
//! through `RecordState`: ACTIVE / FAILED while the policy is on the role, ARCHIVED / PASSED once
//! it is gone. Building findings is pure; [`sync_role`] and [`sync_sweep`] talk to the port.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::Value;
use tracing::warn;

use crate::ports::Findings;
use crate::types::{ActionResult, AwsError, Finding, FindingsStatus, OpenFinding, PRODUCT_NAME, Report, Violation};
use crate::verdict::policy;

const TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";
const REQUIREMENTS: &[&str] = &["CIS Amazon EKS Benchmark 5.1.3", "CIS Amazon EKS Benchmark 5.2.1"];
const GUIDE: &str = "https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html";
/// ASFF limits (characters).
const DESCRIPTION_MAX: usize = 1024;
const TITLE_MAX: usize = 256;
const REMEDIATION_MAX: usize = 512;
/// `FailedFindings` error codes worth one more try.
const RETRYABLE: &[&str] = &[
    "InternalException",
    "InternalFailure",
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
];

/// How serious a violation is: decided by the policy alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// CRITICAL for administrator access or `"*"` actions, HIGH for other wildcards or IAM writes
/// (and for what cannot be read), MEDIUM otherwise.
pub fn severity(violation: &Violation) -> Severity {
    match violation {
        Violation::ManagedPolicy { policy_name, .. } => match policy_name.as_str() {
            "AdministratorAccess" => Severity::Critical,
            "IAMFullAccess" | "PowerUserAccess" => Severity::High,
            name if name.ends_with("FullAccess") => Severity::High,
            _ => Severity::Medium,
        },
        Violation::InlinePolicy { document: None, .. } => Severity::High,
        Violation::InlinePolicy {
            document: Some(document),
            ..
        } => document_severity(document),
    }
}

fn document_severity(document: &str) -> Severity {
    let Ok(doc) = serde_json::from_str::<Value>(document) else {
        return Severity::High;
    };
    let mut worst = Severity::Medium;
    for statement in policy::allow_statements(&doc) {
        if statement.get("NotAction").is_some() {
            worst = worst.max(Severity::High);
        }
        for action in policy::strings(statement.get("Action")) {
            let action = action.to_ascii_lowercase();
            if action == "*" || action == "*:*" {
                return Severity::Critical;
            }
            let iam_write = action.strip_prefix("iam:").is_some_and(|a| {
                [
                    "put", "attach", "create", "update", "delete", "add", "passrole", "detach", "remove", "set",
                ]
                .iter()
                .any(|verb| a.starts_with(verb))
            });
            if action.contains('*') || iam_write {
                worst = Severity::High;
            }
        }
    }
    worst
}

/// The deterministic finding `Id`: account, role, policy kind and policy (the ARN for a managed
/// policy, so a customer policy that borrows an AWS name is a finding of its own).
pub fn finding_id(account: &str, role_name: &str, violation: &Violation) -> String {
    match violation {
        Violation::ManagedPolicy { policy_arn, .. } => {
            format!("{PRODUCT_NAME}/{account}/{role_name}/managed/{policy_arn}")
        }
        Violation::InlinePolicy { policy_name, .. } => {
            format!("{PRODUCT_NAME}/{account}/{role_name}/inline/{policy_name}")
        }
    }
}

/// Where findings go and when this invocation runs.
#[derive(Debug, Clone)]
pub struct Scope {
    pub account: String,
    pub region: String,
    pub partition: String,
    /// RFC 3339, the `UpdatedAt` of everything imported now.
    pub now: String,
}

impl Scope {
    pub fn new(account: &str, region: &str, partition: &str, now: SystemTime) -> Scope {
        let now = aws_smithy_types::DateTime::from(now)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        Scope {
            account: account.to_owned(),
            region: region.to_owned(),
            partition: partition.to_owned(),
            now,
        }
    }

    /// The account's default custom product.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account, self.account
        )
    }
}

/// The findings a checked role calls for: each violation (open, or closed once removed), and
/// every open finding of the role whose violation no longer exists (closed).
pub fn for_role(report: &Report, scope: &Scope, open: &[OpenFinding]) -> Vec<Finding> {
    let Some((role_name, role_arn)) = report
        .role
        .as_ref()
        .and_then(|r| Some((r.name.as_str(), r.arn.as_deref()?)))
    else {
        return Vec::new();
    };
    let clusters: BTreeSet<String> = report
        .nodegroups
        .iter()
        .map(|b| format!("{}/{}", b.region(), b.cluster()))
        .collect();
    let clusters = clusters.into_iter().collect::<Vec<_>>().join(", ");
    let mut findings = Vec::new();
    for violation in &report.violations {
        let id = finding_id(&scope.account, role_name, violation);
        // the action on this very policy: a customer policy may share an AWS-managed one's name
        let action = report.actions.iter().find(|a| {
            a.policy_name == violation.policy_name()
                && match violation {
                    Violation::ManagedPolicy { policy_arn, .. } => a.policy_arn.as_deref() == Some(policy_arn.as_str()),
                    Violation::InlinePolicy { .. } => a.policy_arn.is_none(),
                }
        });
        let removed = action.is_some_and(|a| matches!(a.result, ActionResult::Done | ActionResult::AlreadyDone));
        let (kind, policy, reason) = match violation {
            Violation::ManagedPolicy { policy_arn, reason, .. } => {
                ("managed policy", policy_arn.as_str(), reason.as_str())
            }
            Violation::InlinePolicy { policy_name, .. } => (
                "inline policy",
                policy_name.as_str(),
                "inline policies are not allowed on node roles",
            ),
        };
        let used_by = violation
            .used_by()
            .map(|u| format!(" Probably for {} ({}).", u.component, u.evidence))
            .unwrap_or_default();
        let description = format!(
            "The {kind} {policy} is on EKS node role {role_arn}, which backs {clusters}: {reason}. Every pod on \
             these nodes can use the node role's permissions.{used_by}"
        );
        let remediation = match (removed, action.and_then(|a| a.undo_command.as_deref())) {
            (true, Some(undo)) => format!("Removed by {PRODUCT_NAME}. To undo: {undo}"),
            (true, None) => format!("Removed by {PRODUCT_NAME} (or already gone)."),
            (false, _) => match violation {
                Violation::ManagedPolicy { policy_arn, .. } => format!(
                    "Give the workload its own role (EKS Pod Identity or IRSA), then: aws iam detach-role-policy \
                     --role-name {} --policy-arn {}",
                    policy::shell_quote(role_name),
                    policy::shell_quote(policy_arn)
                ),
                Violation::InlinePolicy { policy_name, .. } => format!(
                    "Give the workload its own role (EKS Pod Identity or IRSA), back the document up, then: aws iam \
                     delete-role-policy --role-name {} --policy-name {}",
                    policy::shell_quote(role_name),
                    policy::shell_quote(policy_name)
                ),
            },
        };
        let mut fields = product_fields(report, &clusters);
        fields.insert(field("PolicyKind"), kind.to_owned());
        fields.insert(field("Policy"), policy.to_owned());
        if let Some(usage) = violation.used_by() {
            fields.insert(field("ProbablyUsedBy"), usage.component.to_owned());
        }
        findings.push(Finding {
            created_at: open
                .iter()
                .find(|f| f.id == id)
                .map(|f| f.created_at.clone())
                .unwrap_or_else(|| scope.now.clone()),
            id,
            product_arn: scope.product_arn(),
            account: scope.account.clone(),
            region: scope.region.clone(),
            partition: scope.partition.clone(),
            role_arn: role_arn.to_owned(),
            title: cut(
                &format!("EKS node role {role_name} carries {kind} {}", violation.policy_name()),
                TITLE_MAX,
            ),
            description: cut(&description, DESCRIPTION_MAX),
            severity: severity(violation).label().to_owned(),
            open: !removed,
            updated_at: scope.now.clone(),
            remediation: cut(&remediation, REMEDIATION_MAX),
            remediation_url: GUIDE.to_owned(),
            related_requirements: REQUIREMENTS.iter().map(|r| (*r).to_owned()).collect(),
            types: vec![TYPE.to_owned()],
            product_fields: fields,
        });
    }
    let current: BTreeSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    let gone: Vec<&OpenFinding> = open
        .iter()
        .filter(|f| f.role_arn.eq_ignore_ascii_case(role_arn) && !current.contains(f.id.as_str()))
        .collect();
    findings.extend(
        gone.into_iter()
            .map(|f| closed(f, scope, "the policy is no longer on the role")),
    );
    findings
}

/// A previously open finding, closed: its violation no longer exists.
pub fn closed(finding: &OpenFinding, scope: &Scope, why: &str) -> Finding {
    let mut fields = finding.product_fields.clone();
    fields.insert(field("ResolvedBecause"), why.to_owned());
    Finding {
        id: finding.id.clone(),
        product_arn: scope.product_arn(),
        account: scope.account.clone(),
        region: scope.region.clone(),
        partition: scope.partition.clone(),
        role_arn: finding.role_arn.clone(),
        title: finding.title.clone(),
        description: finding.description.clone(),
        severity: finding.severity.clone(),
        open: false,
        created_at: finding.created_at.clone(),
        updated_at: scope.now.clone(),
        remediation: cut(&format!("Resolved: {why}."), REMEDIATION_MAX),
        remediation_url: GUIDE.to_owned(),
        related_requirements: REQUIREMENTS.iter().map(|r| (*r).to_owned()).collect(),
        types: vec![TYPE.to_owned()],
        product_fields: fields,
    }
}

fn field(name: &str) -> String {
    format!("{PRODUCT_NAME}/{name}")
}

fn product_fields(report: &Report, clusters: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::from([
        ("ProviderName".to_owned(), PRODUCT_NAME.to_owned()),
        ("ProviderVersion".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        (field("Mode"), report.mode.as_str().to_owned()),
        (field("EventName"), report.event.name.clone()),
        (field("Clusters"), clusters.to_owned()),
    ]);
    if let Some(id) = &report.event.id {
        fields.insert(field("EventId"), id.clone());
    }
    fields
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

/// Imports the findings of one checked role (and closes the role's stale ones).
pub async fn sync_role<F: Findings>(port: &F, report: &Report, scope: &Scope) -> FindingsStatus {
    let Some(role_arn) = report.role.as_ref().and_then(|r| r.arn.as_deref()) else {
        return FindingsStatus::default();
    };
    let open = match port.open_findings(&scope.product_arn(), Some(role_arn)).await {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    import(port, for_role(report, scope, &open)).await
}

/// After a sweep: every checked role's findings, and every open finding whose violation no
/// longer exists anywhere (a deleted role, a role that no longer backs nodes) closed. Open
/// findings are re-imported with a new `UpdatedAt`, so Security Hub keeps them past 90 days.
pub async fn sync_sweep<F: Findings>(port: &F, roles: &[Report], scope: &Scope) -> FindingsStatus {
    let open = match port.open_findings(&scope.product_arn(), None).await {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    let mut findings: Vec<Finding> = roles.iter().flat_map(|r| for_role(r, scope, &open)).collect();
    let seen: BTreeSet<String> = findings.iter().map(|f| f.id.clone()).collect();
    let checked: BTreeSet<String> = roles
        .iter()
        .filter_map(|r| r.role.as_ref()?.arn.as_deref().map(str::to_ascii_lowercase))
        .collect();
    findings.extend(open.iter().filter(|f| !seen.contains(&f.id)).map(|f| {
        let why = if checked.contains(&f.role_arn.to_ascii_lowercase()) {
            "the policy is no longer on the role"
        } else {
            "the role no longer exists or no longer backs EKS nodes"
        };
        closed(f, scope, why)
    }));
    import(port, findings).await
}

async fn import<F: Findings>(port: &F, findings: Vec<Finding>) -> FindingsStatus {
    let mut status = FindingsStatus::default();
    if findings.is_empty() {
        return status;
    }
    let mut pending = findings;
    for attempt in 0..2 {
        let outcome = match port.import(&pending).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let mut status = unavailable(&e);
                status.failed = pending.iter().map(|f| f.id.clone()).collect();
                return status;
            }
        };
        let refused: BTreeMap<&str, (&str, &str)> = outcome
            .failed
            .iter()
            .map(|(id, code, message)| (id.as_str(), (code.as_str(), message.as_str())))
            .collect();
        let (accepted, rejected): (Vec<&Finding>, Vec<&Finding>) =
            pending.iter().partition(|f| !refused.contains_key(f.id.as_str()));
        status.open += accepted.iter().filter(|f| f.open).count();
        status.archived += accepted.iter().filter(|f| !f.open).count();
        let mut retry = Vec::new();
        for finding in rejected {
            let (code, message) = refused.get(finding.id.as_str()).copied().unwrap_or_default();
            if attempt == 0 && RETRYABLE.contains(&code) {
                retry.push(finding.clone());
            } else {
                warn!(id = %finding.id, code, message, "Security Hub refused a finding");
                status.failed.push(format!("{}: {code} {message}", finding.id));
            }
        }
        if retry.is_empty() {
            break;
        }
        pending = retry;
    }
    status
}

fn unavailable(e: &AwsError) -> FindingsStatus {
    let warning = match e.code.as_deref() {
        Some("InvalidAccessException") => format!(
            "Security Hub is not enabled in this account and region, so no finding was imported \
             (SECURITY_HUB=on; the SNS notification is the record): {e}"
        ),
        _ => format!("Security Hub findings could not be imported: {e}"),
    };
    warn!(error = %e, "Security Hub unavailable");
    FindingsStatus {
        warning: Some(warning),
        ..FindingsStatus::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(document: &str) -> Violation {
        Violation::InlinePolicy {
            policy_name: "p".into(),
            document: Some(document.into()),
            used_by: None,
        }
    }

    fn managed(name: &str) -> Violation {
        Violation::ManagedPolicy {
            policy_name: name.into(),
            policy_arn: format!("arn:aws:iam::aws:policy/{name}"),
            reason: "r".into(),
            used_by: None,
        }
    }

    #[test]
    fn severity_by_policy() {
        let statement =
            |action: &str| format!(r#"{{"Statement":[{{"Effect":"Allow","Action":{action},"Resource":"*"}}]}}"#);
        let cases = [
            (managed("AdministratorAccess"), Severity::Critical),
            (managed("AmazonS3FullAccess"), Severity::High),
            (managed("IAMFullAccess"), Severity::High),
            (managed("AmazonS3ReadOnlyAccess"), Severity::Medium),
            (inline(&statement(r#""*""#)), Severity::Critical),
            (inline(&statement(r#"["s3:GetObject","*:*"]"#)), Severity::Critical),
            (inline(&statement(r#""s3:*""#)), Severity::High),
            (inline(&statement(r#"["iam:PassRole"]"#)), Severity::High),
            (inline(&statement(r#"["iam:AttachRolePolicy"]"#)), Severity::High),
            (
                inline(&statement(r#"["iam:GetRole","s3:GetObject"]"#)),
                Severity::Medium,
            ),
            (
                inline(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#),
                Severity::Medium,
            ),
            (
                inline(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#),
                Severity::High,
            ),
            (inline("not json"), Severity::High),
        ];
        for (violation, expected) in cases {
            assert_eq!(severity(&violation), expected, "{violation:?}");
        }
    }

    #[test]
    fn ids_are_deterministic_and_tell_managed_from_inline() {
        let a = finding_id("123456789012", "node", &managed("AdministratorAccess"));
        assert_eq!(
            a,
            "eks-node-role-guard/123456789012/node/managed/arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert_eq!(a, finding_id("123456789012", "node", &managed("AdministratorAccess")));
        let customer = Violation::ManagedPolicy {
            policy_name: "AdministratorAccess".into(),
            policy_arn: "arn:aws:iam::123456789012:policy/AdministratorAccess".into(),
            reason: "r".into(),
            used_by: None,
        };
        assert_ne!(a, finding_id("123456789012", "node", &customer));
        assert_eq!(
            finding_id("1", "node", &inline("{}")),
            "eks-node-role-guard/1/node/inline/p"
        );
    }

    #[test]
    fn a_removed_aws_policy_does_not_close_the_customer_look_alike() {
        use crate::types::{ActionKind, ActionRecord, EventSummary, RoleRef};
        let event = EventSummary {
            id: None,
            name: "AttachRolePolicy".into(),
            region: None,
            actor: None,
        };
        let mut report = Report::new(crate::types::Mode::Enforce, Some("1".into()), event);
        report.role = Some(RoleRef {
            name: "node".into(),
            arn: Some("arn:aws:iam::1:role/node".into()),
        });
        let customer = Violation::ManagedPolicy {
            policy_name: "AdministratorAccess".into(),
            policy_arn: "arn:aws:iam::1:policy/AdministratorAccess".into(),
            reason: "r".into(),
            used_by: None,
        };
        report.violations = vec![managed("AdministratorAccess"), customer];
        report.actions = vec![ActionRecord {
            action: ActionKind::DetachManagedPolicy,
            policy_name: "AdministratorAccess".into(),
            policy_arn: Some("arn:aws:iam::aws:policy/AdministratorAccess".into()),
            result: ActionResult::Done,
            undo_command: None,
        }];
        let scope = Scope::new("1", "us-east-1", "aws", SystemTime::UNIX_EPOCH);
        let open: Vec<bool> = for_role(&report, &scope, &[]).iter().map(|f| f.open).collect();
        assert_eq!(open, vec![false, true], "only the detached AWS policy is closed");
    }

    #[test]
    fn product_arn_is_the_accounts_default_product() {
        let scope = Scope::new("123456789012", "eu-west-1", "aws", SystemTime::UNIX_EPOCH);
        assert_eq!(
            scope.product_arn(),
            "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
        );
        assert_eq!(scope.now, "1970-01-01T00:00:00Z");
    }
}
