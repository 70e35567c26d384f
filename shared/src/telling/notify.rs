//! Report → SNS message: readable text for e-mail ([`text`]), the full JSON Report for
//! machines, a subject that names the role (and, in organization mode, its account).

use std::fmt::Write as _;

use serde_json::json;

use super::text::{subject_around, subject_line};
use crate::types::{InlineBackup, Notification, Outcome, Report};

pub use super::readable::text;

/// SNS messages are at most 256 KiB; keep a margin for the attributes and envelope.
const MESSAGE_MAX: usize = 250 * 1024;

/// Which accounts the deployment guards, as far as its subjects care. With its own, every
/// notification is about that one account and subjects name the role alone; with an
/// organization's (`MEMBER_ROLE_NAME`), the same role name in two accounts would read the same,
/// so each subject names `ACCOUNT/ROLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guards {
    OwnAccount,
    Organization,
}

impl Guards {
    /// `ACCOUNT/` in organization mode, else nothing: what goes before a role's name.
    fn account_prefix(self, account: Option<&str>) -> String {
        match (self, account) {
            (Guards::Organization, Some(account)) => format!("{account}/"),
            _ => String::new(),
        }
    }
}

/// Builds the notification for `report` (`MessageStructure=json`).
pub fn notification(report: &Report, guards: Guards) -> Notification {
    let text = text(report);
    let mut machine = serde_json::to_string(report).unwrap_or_else(|e| json!({"error": e.to_string()}).to_string());
    let mut message = structure(&text, &machine);
    if message.len() > MESSAGE_MAX {
        // Only a sweep summary can grow this large: drop the per-role details, which went out
        // in their own notifications and are in the log.
        let mut slim = report.clone();
        slim.roles.clear();
        slim.warnings
            .push("per-role details omitted to fit the SNS size limit; see the function's log".to_owned());
        machine = serde_json::to_string(&slim).unwrap_or_default();
        message = structure(&text, &machine);
    }
    let mut attributes = vec![
        ("mode".to_owned(), report.mode.as_str().to_owned()),
        ("outcome".to_owned(), report.outcome.as_str().to_owned()),
        (
            "account".to_owned(),
            report.account.clone().unwrap_or_else(|| "unknown".to_owned()),
        ),
        ("event".to_owned(), report.event.name.clone()),
    ];
    if let Some(role) = &report.role {
        attributes.push(("role".to_owned(), role.name.clone()));
    }
    Notification {
        subject: subject(report, guards),
        message,
        attributes,
    }
}

/// What a backup notification says about where it comes from.
#[derive(Debug, Clone)]
pub struct BackupContext {
    pub mode: crate::types::Mode,
    pub account: Option<String>,
    pub event: crate::types::EventSummary,
    pub guards: Guards,
}

/// The notification published *before* an inline policy is deleted, with its document and the
/// command that restores it: a policy is deleted only once its backup is in the topic, so no
/// throttled or failed notification afterwards can lose it. Machines find the backup where the
/// Report puts it, in `deleted_inline_policies`.
pub fn backup_notification(backup: &InlineBackup, context: &BackupContext) -> Notification {
    let machine = json!({
        "outcome": "inline_policy_backup",
        "reason": "backup published before the inline policy is deleted",
        "mode": context.mode.as_str(),
        "account": context.account,
        "event": context.event,
        "role": {"name": backup.role_name},
        "deleted_inline_policies": [backup],
    })
    .to_string();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "eks-node-role-guard is deleting inline policy {} of node role {} in account {}.\n\
         Its document is below; the report of this change follows in a separate notification.\n",
        backup.policy_name,
        backup.role_name,
        context.account.as_deref().unwrap_or("unknown"),
    );
    let _ = writeln!(
        text,
        "Event:   {} (id {})",
        context.event.name,
        context.event.id.as_deref().unwrap_or("-")
    );
    let _ = writeln!(text, "\nDocument:\n{}\n", backup.document);
    let _ = writeln!(text, "Restore with:\n  {}", backup.restore_command);
    let before = format!(
        "eks-node-role-guard: backup before delete: {} on {}",
        backup.policy_name,
        context.guards.account_prefix(context.account.as_deref())
    );
    Notification {
        subject: subject_around(&before, &backup.role_name, ""),
        message: structure(&text, &machine),
        attributes: vec![
            ("mode".to_owned(), context.mode.as_str().to_owned()),
            ("outcome".to_owned(), "inline_policy_backup".to_owned()),
            (
                "account".to_owned(),
                context.account.clone().unwrap_or_else(|| "unknown".to_owned()),
            ),
            ("event".to_owned(), context.event.name.clone()),
            ("role".to_owned(), backup.role_name.clone()),
        ],
    }
}

fn structure(text: &str, machine: &str) -> String {
    json!({
        "default": text,
        "email": text,
        "email-json": machine,
        "sqs": machine,
        "lambda": machine,
        "https": machine,
        "http": machine,
    })
    .to_string()
}

/// One line, under 100 characters: the outcome and the role with its violations, or a sweep's
/// totals. A role's name is shortened before the account and the count are.
pub fn subject(report: &Report, guards: Guards) -> String {
    let what = match report.outcome {
        Outcome::ViolationsFound => "violations found (dry-run)",
        Outcome::Remediated => "remediated",
        Outcome::PartiallyRemediated => "partially remediated",
        Outcome::RemediationFailed => "remediation failed",
        Outcome::SweepCompleted => "sweep completed",
        Outcome::CredentialSwap => "CREDENTIAL SWAP",
        other => other.as_str(),
    };
    if let (Outcome::DoorOpened, Some(door)) = (report.outcome, &report.door) {
        let before = format!(
            "eks-node-role-guard: [{}] {}: {}",
            door.severity.label(),
            door.kind.title(),
            guards.account_prefix(report.account.as_deref())
        );
        return subject_around(&before, &door.subject, "");
    }
    if let Some(role) = &report.role {
        let before = format!(
            "eks-node-role-guard: {what}: {}",
            guards.account_prefix(report.account.as_deref())
        );
        let after = match report.swaps.len() {
            0 => format!(" ({} violation(s))", report.violations.len()),
            n => format!(" ({} violation(s), {n} swap(s))", report.violations.len()),
        };
        return subject_around(&before, &role.name, &after);
    }
    let totals = report.sweep_totals();
    let failed = report.accounts.iter().filter(|a| a.reason.is_some()).count();
    let accounts = match (report.accounts.len(), failed) {
        (0, _) => String::new(),
        (n, 0) => format!("{n} account(s), "),
        (n, failed) => format!("{n} account(s) ({failed} NOT SWEPT), "),
    };
    // a blind guard says so first, where a subject line is read
    let blind = if report.blind.is_some() {
        "BLIND (no CloudTrail events): "
    } else {
        ""
    };
    subject_line(&format!(
        "eks-node-role-guard: {blind}{what}: {accounts}{} node role(s), {} needed action",
        totals.roles, totals.needed_action
    ))
}
