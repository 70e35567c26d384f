//! The Report: what the handler returns, logs as one line and sends to machine subscribers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    AccountLine, AwsError, Change, CredentialSwap, Door, ErrorKind, Excepted, Exception, FindingsStatus, IndexSource,
    Kept, Migration, Mode, NodeBinding, SharedRole, Totals, Violation,
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
    /// A managed node group's instances run with a role other than its `nodeRole` (see `swaps`),
    /// and the swap is not undone: dry-run, or it could not be.
    CredentialSwap,
    /// An event opened a door into a node's credentials that the role's policies do not show
    /// (see `door`): notified, and closed where enforce may.
    DoorOpened,
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
            Outcome::CredentialSwap => "credential_swap",
            Outcome::DoorOpened => "door_opened",
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
                | Outcome::CredentialSwap
                | Outcome::DoorOpened
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

impl ActionResult {
    /// What an idempotent write did.
    pub fn of(change: Change) -> Self {
        match change {
            Change::Done => ActionResult::Done,
            Change::AlreadyDone => ActionResult::AlreadyDone,
        }
    }

    /// A write that failed, as the report keeps it.
    pub fn failed(e: &AwsError) -> Self {
        ActionResult::Failed {
            error_kind: e.kind,
            error_code: e.code.clone(),
            error: e.to_string(),
        }
    }
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

/// The `name` the scheduled sweep's event is given (it has no CloudTrail event name).
pub const SWEEP_EVENT: &str = "Sweep";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    pub id: Option<String>,
    pub name: String,
    pub region: Option<String>,
    /// The caller's ARN; `None` when the event names none (the scheduled sweep never does).
    pub actor: Option<String>,
}

impl EventSummary {
    /// Whether this is the scheduled sweep's event: a CloudTrail event is named after its API
    /// call, and one named otherwise is never acted on.
    pub fn is_sweep(&self) -> bool {
        self.name == SWEEP_EVENT
    }
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
    /// The door into node credentials the event opened, what was found and done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door: Option<Door>,
    pub nodegroups: Vec<NodeBinding>,
    /// Instances of the node groups this role backs that run with another role, and what was
    /// done about each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swaps: Vec<CredentialSwap>,
    /// Instances that are not nodes but run with this role: `SHARED_ROLES` says whether enforce
    /// still acts on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedRole>,
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
    /// Sweep only: the counts over `roles`, summed once; the summary's subject and text show these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// Organization-mode sweep only: one line per guarded account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountLine>,
    /// A sweep: one report per node role checked; a door event that reached several roles:
    /// the other roles' reports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Report>,
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
            door: None,
            nodegroups: Vec::new(),
            swaps: Vec::new(),
            shared: None,
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
            totals: None,
            accounts: Vec::new(),
            roles: Vec::new(),
        }
    }

    pub fn finish(mut self, outcome: Outcome, reason: impl Into<Option<String>>) -> Self {
        self.outcome = outcome;
        self.reason = reason.into();
        self
    }

    /// Total AWS calls.
    pub fn api_call_total(&self) -> u64 {
        self.api_calls.values().sum()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
