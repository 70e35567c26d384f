//! Report → SNS message: readable text for e-mail, the full JSON Report for machines.

use std::fmt::Write as _;

use serde_json::json;

use super::text::subject_line;
use crate::types::{
    ActionKind, ActionResult, InlineBackup, NodeBinding, Notification, Outcome, Report, Usage, Violation,
};

/// SNS messages are at most 256 KiB; keep a margin for the attributes and envelope.
const MESSAGE_MAX: usize = 250 * 1024;

/// Builds the notification for `report` (`MessageStructure=json`).
pub fn notification(report: &Report) -> Notification {
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
        subject: subject(report),
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
    let raw = format!(
        "eks-node-role-guard: backup before delete: {} on {}",
        backup.policy_name, backup.role_name
    );
    Notification {
        subject: subject_line(&raw),
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

/// One line, under 100 characters.
pub fn subject(report: &Report) -> String {
    let what = match report.outcome {
        Outcome::ViolationsFound => "violations found (dry-run)",
        Outcome::Remediated => "remediated",
        Outcome::PartiallyRemediated => "partially remediated",
        Outcome::RemediationFailed => "remediation failed",
        Outcome::SweepCompleted => "sweep completed",
        other => other.as_str(),
    };
    let raw = match &report.role {
        Some(role) => format!(
            "eks-node-role-guard: {what}: {} ({} violation(s))",
            role.name,
            report.violations.len()
        ),
        None => {
            let needing = report.roles.iter().filter(|r| r.outcome.notifies()).count();
            let failed = report.accounts.iter().filter(|a| a.reason.is_some()).count();
            let accounts = match (report.accounts.len(), failed) {
                (0, _) => String::new(),
                (n, 0) => format!("{n} account(s), "),
                (n, failed) => format!("{n} account(s) ({failed} NOT SWEPT), "),
            };
            format!(
                "eks-node-role-guard: {what}: {accounts}{} node role(s), {needing} needed action",
                report.roles.len()
            )
        }
    };
    // a blind guard says so first, where a subject line is read
    let raw = if report.blind.is_some() {
        raw.replacen(
            "eks-node-role-guard: ",
            "eks-node-role-guard: BLIND (no CloudTrail events): ",
            1,
        )
    } else {
        raw
    };
    subject_line(&raw)
}

fn write_usage(out: &mut String, usage: Option<&Usage>) {
    if let Some(usage) = usage {
        let _ = writeln!(out, "      probably for {}: {}", usage.component, usage.evidence);
    }
}

/// The readable message for people.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    if let Some(blind) = &report.blind {
        let _ = writeln!(out, "THE GUARD IS BLIND: {blind}.\n");
    }
    let role = report.role.as_ref();
    let _ = writeln!(
        out,
        "eks-node-role-guard {} in account {} (mode {}).",
        report.outcome.as_str().replace('_', " "),
        report.account.as_deref().unwrap_or("unknown"),
        report.mode
    );
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "{reason}");
    }
    out.push('\n');
    if !report.accounts.is_empty() {
        out.push_str("Accounts:\n");
        for line in &report.accounts {
            let _ = match &line.reason {
                None => writeln!(
                    out,
                    "  - {}: {} node role(s), {} needed action",
                    line.account, line.roles, line.needed_action
                ),
                Some(reason) => writeln!(out, "  - {}: NOT SWEPT: {reason}", line.account),
            };
        }
        out.push('\n');
    }
    if let Some(role) = role {
        let _ = writeln!(out, "Role:    {}", role.arn.as_deref().unwrap_or(&role.name));
    }
    let _ = writeln!(
        out,
        "Event:   {} (id {}) by {}",
        report.event.name,
        report.event.id.as_deref().unwrap_or("-"),
        report.event.actor.as_deref().unwrap_or("unknown")
    );
    for binding in &report.nodegroups {
        let _ = match binding {
            NodeBinding::ManagedNodegroup {
                region,
                cluster,
                nodegroup,
            } => writeln!(out, "Backs:   managed node group {cluster}/{nodegroup} in {region}"),
            NodeBinding::AccessEntry {
                region,
                cluster,
                entry_type,
            } => writeln!(
                out,
                "Backs:   {entry_type} access entry of cluster {cluster} in {region}"
            ),
        };
    }
    if !report.violations.is_empty() {
        out.push_str("\nViolations:\n");
        for v in &report.violations {
            let _ = match v {
                Violation::ManagedPolicy { policy_arn, reason, .. } => {
                    writeln!(out, "  - managed policy {policy_arn}: {reason}")
                }
                Violation::InlinePolicy { policy_name, .. } => {
                    writeln!(
                        out,
                        "  - inline policy {policy_name}: inline policies are not allowed on node roles"
                    )
                }
            };
            write_usage(&mut out, v.used_by());
        }
    }
    if !report.actions.is_empty() {
        out.push_str("\nActions:\n");
        for a in &report.actions {
            let verb = match a.action {
                ActionKind::DetachManagedPolicy => "detach",
                ActionKind::DeleteInlinePolicy => "delete inline",
            };
            let result = match &a.result {
                ActionResult::Planned => "not done (dry-run)".to_owned(),
                ActionResult::Done => "done".to_owned(),
                ActionResult::AlreadyDone => "already done".to_owned(),
                ActionResult::Failed { error, .. } => format!("FAILED: {error}"),
                ActionResult::Skipped { reason } => format!("SKIPPED: {reason}"),
            };
            let _ = writeln!(
                out,
                "  - {verb} {}: {result}",
                a.policy_arn.as_deref().unwrap_or(&a.policy_name)
            );
            if let Some(undo) = &a.undo_command {
                let _ = writeln!(out, "      undo: {undo}");
            }
        }
    }
    if !report.kept.is_empty() {
        out.push_str("\nKept:\n");
        for k in &report.kept {
            let _ = writeln!(out, "  - {}: {}", k.policy_name, k.reason);
            write_usage(&mut out, k.used_by.as_ref());
        }
    }
    if !report.migrations.is_empty() {
        out.push_str("\nMoving these workloads off the node role (EKS Pod Identity; run in order):\n");
        for m in &report.migrations {
            let _ = writeln!(
                out,
                "  {} ({}/{}) -> role {}:",
                m.component,
                m.namespace,
                m.service_accounts.join(", "),
                m.role_name
            );
            for command in &m.commands {
                let _ = writeln!(out, "    {command}");
            }
            for note in &m.notes {
                let _ = writeln!(out, "    note: {note}");
            }
        }
    }
    if !report.deleted_inline_policies.is_empty() {
        out.push_str("\nDeleted inline policies (backup; the command restores each exactly):\n");
        for b in &report.deleted_inline_policies {
            let _ = writeln!(
                out,
                "  {}:\n    {}\n    restore: {}",
                b.policy_name, b.document, b.restore_command
            );
        }
    }
    if !report.roles.is_empty() {
        out.push_str("\nNode roles checked:\n");
        for r in &report.roles {
            let name = r.role.as_ref().map(|r| r.name.as_str()).unwrap_or("?");
            let _ = writeln!(
                out,
                "  - {name}: {} ({} violation(s))",
                r.outcome.as_str(),
                r.violations.len()
            );
        }
    }
    if let Some(hub) = &report.security_hub {
        if let Some(warning) = &hub.warning {
            let _ = writeln!(out, "Warning: {warning}");
        } else {
            let _ = writeln!(
                out,
                "\nSecurity Hub: {} finding(s) open, {} archived.",
                hub.open, hub.archived
            );
        }
        for failed in &hub.failed {
            let _ = writeln!(out, "Warning: Security Hub refused finding {failed}");
        }
    }
    for w in &report.warnings {
        let _ = writeln!(out, "Warning: {w}");
    }
    out
}
