//! How serious a violation is, decided by the policy alone: the `Severity` of its Security Hub
//! finding, and the order every human format shows roles and policies in.

use serde_json::Value;

pub use crate::types::Severity;
use crate::types::{Report, Violation};
use crate::verdict::policy;

/// The worst of a role's report: CRITICAL when its nodes run with swapped credentials, else
/// the worst of its violations and of the door an event opened; `None` when it has none.
pub fn worst(report: &Report) -> Option<Severity> {
    let swapped = (!report.swaps.is_empty()).then_some(Severity::Critical);
    let door = report.door.as_ref().map(|d| d.severity);
    report.violations.iter().map(severity).max().max(swapped).max(door)
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An inline policy `p` with `document` (test fixture, also used by the findings tests).
    pub(crate) fn inline(document: &str) -> Violation {
        Violation::InlinePolicy {
            policy_name: "p".into(),
            document: Some(document.into()),
            used_by: None,
        }
    }

    /// The AWS-managed policy `name` (test fixture, also used by the findings tests).
    pub(crate) fn managed(name: &str) -> Violation {
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
}
