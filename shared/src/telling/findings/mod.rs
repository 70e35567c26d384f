//! AWS Security Hub (CSPM) findings: one per violation (role × policy), one per credential
//! swap ([`swap`]) and one per door an event opened ([`door`]), with a deterministic `Id`
//! so duplicate and concurrent deliveries update one finding. The provider owns the lifecycle
//! through `RecordState`: ACTIVE / FAILED while the policy is on the role, ARCHIVED / PASSED once
//! it is gone. Building findings from a Report is pure and lives here; [`sync_role`] and
//! [`sync_sweep`] ([`sync`]) import them through the [`Findings`](crate::ports::Findings) port.

mod door;
mod swap;
mod sync;

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::text::shorten;
use crate::types::{ActionResult, Finding, OpenFinding, PRODUCT_NAME, Report, Violation};
use crate::verdict::policy;
use crate::verdict::severity::severity;

pub use door::{door_finding_id, is_door_finding};
pub use swap::swap_finding_id;
pub use sync::{sync_door, sync_doors_shut, sync_role, sync_sweep};

const TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";
const REQUIREMENTS: &[&str] = &["CIS Amazon EKS Benchmark 5.1.3", "CIS Amazon EKS Benchmark 5.2.1"];
const GUIDE: &str = "https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html";
/// ASFF limits (characters).
const DESCRIPTION_MAX: usize = 1024;
const TITLE_MAX: usize = 256;
const REMEDIATION_MAX: usize = 512;
/// A `ProductFields` value.
const FIELD_MAX: usize = 2048;

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
    // an excepted violation is still a violation: its finding stays open, and says until when
    let excepted = report.excepted.iter().map(|e| (&e.violation, Some(e)));
    for (violation, exception) in report.violations.iter().map(|v| (v, None)).chain(excepted) {
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
        let excepted = exception
            .map(|e| format!(" Kept by EXCEPTIONS: {}.", e.note()))
            .unwrap_or_default();
        let description = format!(
            "The {kind} {policy} is on EKS node role {role_arn}, which backs {clusters}: {reason}. Every pod on \
             these nodes can use the node role's permissions.{used_by}{excepted}"
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
        if let Some(exception) = exception {
            fields.insert(field("ExceptedUntil"), exception.until.to_string());
            fields.insert(field("ExceptionReason"), shorten(&exception.reason, FIELD_MAX));
        }
        let title = match exception {
            Some(e) => format!(
                "EKS node role {role_name} carries {kind} {} (excepted until {})",
                violation.policy_name(),
                e.until
            ),
            None => format!("EKS node role {role_name} carries {kind} {}", violation.policy_name()),
        };
        findings.push(finish(
            Draft {
                id,
                role_arn: role_arn.to_owned(),
                title,
                description,
                severity: severity(violation),
                open: !removed,
                remediation,
                fields,
            },
            scope,
            open,
        ));
    }
    findings.extend(swap::swap_findings(
        report,
        scope,
        open,
        (role_name, role_arn),
        &clusters,
    ));
    findings.extend(door::door_finding(report, scope, open));
    let current: BTreeSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    // a door's finding closes only when a door event finds it shut ([`door`])
    let gone: Vec<&OpenFinding> = open
        .iter()
        .filter(|f| {
            f.role_arn.eq_ignore_ascii_case(role_arn) && !current.contains(f.id.as_str()) && !is_door_finding(&f.id)
        })
        .collect();
    findings.extend(
        gone.into_iter()
            .map(|f| closed(f, scope, "the policy is no longer on the role")),
    );
    findings
}

/// What differs between findings; [`finish`] adds what the scope and this product say.
struct Draft {
    id: String,
    role_arn: String,
    title: String,
    description: String,
    severity: crate::verdict::severity::Severity,
    open: bool,
    remediation: String,
    fields: BTreeMap<String, String>,
}

/// A finding from its draft: `CreatedAt` kept from the open finding of the same `Id`, texts
/// shortened to ASFF's limits.
fn finish(draft: Draft, scope: &Scope, open: &[OpenFinding]) -> Finding {
    Finding {
        created_at: open
            .iter()
            .find(|f| f.id == draft.id)
            .map(|f| f.created_at.clone())
            .unwrap_or_else(|| scope.now.clone()),
        id: draft.id,
        product_arn: scope.product_arn(),
        account: scope.account.clone(),
        region: scope.region.clone(),
        partition: scope.partition.clone(),
        role_arn: draft.role_arn,
        title: shorten(&draft.title, TITLE_MAX),
        description: shorten(&draft.description, DESCRIPTION_MAX),
        severity: draft.severity.label().to_owned(),
        open: draft.open,
        updated_at: scope.now.clone(),
        remediation: shorten(&draft.remediation, REMEDIATION_MAX),
        remediation_url: GUIDE.to_owned(),
        related_requirements: REQUIREMENTS.iter().map(|r| (*r).to_owned()).collect(),
        types: vec![TYPE.to_owned()],
        product_fields: draft.fields,
    }
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
        remediation: shorten(&format!("Resolved: {why}."), REMEDIATION_MAX),
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::verdict::severity::tests::{inline, managed};

    /// A report on role `node` of account `1`, for event `event`.
    fn node_report(event: &str) -> Report {
        let event = crate::types::EventSummary {
            id: None,
            name: event.into(),
            region: None,
            actor: None,
        };
        let mut report = Report::new(crate::types::Mode::Enforce, Some("1".into()), event);
        report.role = Some(crate::types::RoleRef {
            name: "node".into(),
            arn: Some("arn:aws:iam::1:role/node".into()),
        });
        report
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
        use crate::types::{ActionKind, ActionRecord};
        let mut report = node_report("AttachRolePolicy");
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
    fn an_excepted_violation_stays_an_open_finding_that_says_until_when() {
        use crate::types::{Excepted, OpenFinding};
        let mut report = node_report("ScheduledSweep");
        let ssm = managed("AmazonSSMManagedInstanceCore");
        report.excepted = vec![Excepted {
            violation: ssm.clone(),
            until: "2027-01-31".parse().expect("a date"),
            reason: "bastion access".into(),
        }];
        let scope = Scope::new("1", "us-east-1", "aws", SystemTime::UNIX_EPOCH);
        // it was open before the exception: the exception must not close it
        let earlier = OpenFinding {
            id: finding_id("1", "node", &ssm),
            role_arn: "arn:aws:iam::1:role/node".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            title: "t".into(),
            description: "d".into(),
            severity: "MEDIUM".into(),
            product_fields: BTreeMap::new(),
        };
        let findings = for_role(&report, &scope, &[earlier]);
        assert_eq!(findings.len(), 1, "one finding, not a second one that closes it");
        let finding = &findings[0];
        assert!(finding.open);
        assert_eq!(finding.created_at, "2026-01-01T00:00:00Z");
        assert!(
            finding.title.ends_with("(excepted until 2027-01-31)"),
            "{}",
            finding.title
        );
        assert!(
            finding
                .description
                .contains("Kept by EXCEPTIONS: excepted until 2027-01-31: bastion access.")
        );
        assert_eq!(
            finding.product_fields["eks-node-role-guard/ExceptedUntil"],
            "2027-01-31"
        );
        assert_eq!(
            finding.product_fields["eks-node-role-guard/ExceptionReason"],
            "bastion access"
        );
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
