//! The Report: what the handler returns, logs as one line and sends to machine subscribers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    ErrorKind, Excepted, Exception, FindingsStatus, IndexSource, Kept, Migration, Mode, NodeBinding, Violation,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing to do for this event (see `reason`).
    Ignored,
    /// The role backs no EKS nodes.
    NotNodeRole,
    /// A node role, exempt by configuration (or the function's own role).
    Exempt,
    /// A node role with nothing to remove.
    Compliant,
    /// Violations found; `dry-run` changed nothing.
    ViolationsFound,
    /// Every violation removed (or already gone).
    Remediated,
    /// Some actions failed, others succeeded.
    PartiallyRemediated,
    /// Every action failed.
    RemediationFailed,
    /// The role could not be checked (for example: access denied); see `reason`.
    Failed,
    /// A sweep over every node role (see `roles`).
    SweepCompleted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ignored => "ignored",
            Outcome::NotNodeRole => "not_node_role",
            Outcome::Exempt => "exempt",
            Outcome::Compliant => "compliant",
            Outcome::ViolationsFound => "violations_found",
            Outcome::Remediated => "remediated",
            Outcome::PartiallyRemediated => "partially_remediated",
            Outcome::RemediationFailed => "remediation_failed",
            Outcome::Failed => "failed",
            Outcome::SweepCompleted => "sweep_completed",
        }
    }

    /// Whether the security team hears about it.
    pub fn notifies(self) -> bool {
        matches!(
            self,
            Outcome::ViolationsFound
                | Outcome::Remediated
                | Outcome::PartiallyRemediated
                | Outcome::RemediationFailed
                | Outcome::Failed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRef {
    pub name: String,
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    DetachManagedPolicy,
    DeleteInlinePolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionResult {
    /// `dry-run`: what would have been done.
    Planned,
    Done,
    /// `NoSuchEntity`: already gone, nothing claimed.
    AlreadyDone,
    Failed {
        error_kind: ErrorKind,
        error_code: Option<String>,
        error: String,
    },
    /// Not attempted, and why (for example: its document could not be backed up).
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    pub action: ActionKind,
    pub policy_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    pub result: ActionResult,
    /// The CLI command that undoes the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo_command: Option<String>,
}

/// A deleted inline policy, complete enough to put it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineBackup {
    pub role_name: String,
    pub policy_name: String,
    /// The URL-decoded document as it was before deletion.
    pub document: String,
    /// `aws iam put-role-policy ...` that restores it exactly.
    pub restore_command: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    pub id: Option<String>,
    pub name: String,
    pub region: Option<String>,
    pub actor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationStatus {
    pub published: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub mode: Mode,
    pub account: Option<String>,
    pub event: EventSummary,
    pub role: Option<RoleRef>,
    pub node_role: bool,
    pub nodegroups: Vec<NodeBinding>,
    pub violations: Vec<Violation>,
    pub kept: Vec<Kept>,
    /// Violations kept by `EXCEPTIONS` until their date: never acted on, always shown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excepted: Vec<Excepted>,
    /// Exceptions that stopped applying today (UTC): their policies are in `violations` again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expired_exceptions: Vec<Exception>,
    pub actions: Vec<ActionRecord>,
    /// Inline policies deleted by this invocation, with their documents and restore commands.
    pub deleted_inline_policies: Vec<InlineBackup>,
    /// How to move the workloads these policies serve to their own credentials (EKS Pod Identity).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<Migration>,
    /// Discovery caveats: what could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexSource>,
    /// AWS API calls made by this invocation, by `service:Operation`.
    pub api_calls: BTreeMap<String, u64>,
    /// HTTP attempts those calls took (the SDK's retries included), when more than the calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_attempts: Option<u64>,
    /// Attempts AWS answered with throttling.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled: u64,
    /// Set when the invocation stopped starting work because its deadline was near: what was
    /// left undone is in `actions` (skipped) or, for a sweep, in `roles` (failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationStatus>,
    /// Sweep only: why the guard receives no events (no logging trail records IAM writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blind: Option<String>,
    /// Security Hub findings imported by this invocation (`SECURITY_HUB=on`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<FindingsStatus>,
    /// Organization-mode sweep only: one line per guarded account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountLine>,
    /// Sweep only: one report per node role checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Report>,
}

/// One guarded account in an organization-mode sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountLine {
    pub account: String,
    /// Node roles checked in the account.
    pub roles: usize,
    /// Of which needed action (or could not be checked).
    pub needed_action: usize,
    /// Why the account could not be swept (its role is missing or denies AssumeRole, discovery
    /// failed, ...); `None` when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AccountLine {
    pub fn checked(account: &str, roles: &[Report]) -> Self {
        AccountLine {
            account: account.to_owned(),
            roles: roles.len(),
            needed_action: roles.iter().filter(|r| r.outcome.notifies()).count(),
            reason: None,
        }
    }

    pub fn failed(account: &str, reason: String) -> Self {
        AccountLine {
            account: account.to_owned(),
            roles: 0,
            needed_action: 0,
            reason: Some(reason),
        }
    }
}

impl Report {
    pub fn new(mode: Mode, account: Option<String>, event: EventSummary) -> Self {
        Report {
            outcome: Outcome::Ignored,
            reason: None,
            mode,
            account,
            event,
            role: None,
            node_role: false,
            nodegroups: Vec::new(),
            violations: Vec::new(),
            kept: Vec::new(),
            excepted: Vec::new(),
            expired_exceptions: Vec::new(),
            actions: Vec::new(),
            deleted_inline_policies: Vec::new(),
            migrations: Vec::new(),
            warnings: Vec::new(),
            index: None,
            api_calls: BTreeMap::new(),
            api_attempts: None,
            throttled: 0,
            deadline: None,
            notification: None,
            blind: None,
            security_hub: None,
            accounts: Vec::new(),
            roles: Vec::new(),
        }
    }

    pub fn finish(mut self, outcome: Outcome, reason: impl Into<Option<String>>) -> Self {
        self.outcome = outcome;
        self.reason = reason.into();
        self
    }

    /// The sweep's one-line summary: what was checked, what needed action, what is left for the retry.
    pub fn sweep_summary(&self) -> String {
        let report = self;
        let needing = report.roles.iter().filter(|r| r.outcome.notifies()).count();
        let mut summary = format!("{} node role(s) checked, {needing} needed action", report.roles.len());
        if !report.accounts.is_empty() {
            let failed: Vec<&str> = report
                .accounts
                .iter()
                .filter(|a| a.reason.is_some())
                .map(|a| a.account.as_str())
                .collect();
            summary = format!("{} account(s) swept, {summary}", report.accounts.len() - failed.len());
            if !failed.is_empty() {
                summary.push_str(&format!("; account(s) not swept: {}", failed.join(", ")));
            }
        }
        let unfinished: Vec<String> = report
            .roles
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .filter_map(|r| {
                let name = &r.role.as_ref()?.name;
                Some(match (&r.account, report.accounts.is_empty()) {
                    (Some(account), false) => format!("{account}/{name}"),
                    _ => name.clone(),
                })
            })
            .collect();
        if !unfinished.is_empty() {
            summary.push_str(&format!(
                "; not finished, retried with this invocation: {}",
                unfinished.join(", ")
            ));
        }
        summary
    }

    /// Total AWS calls.
    pub fn api_call_total(&self) -> u64 {
        self.api_calls.values().sum()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
