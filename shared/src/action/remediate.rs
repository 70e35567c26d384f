//! Turns violations into actions, per mode. Idempotent, and never loses an inline policy: its
//! document is read, logged and kept ([`KeepBackup`], the topic in the function) before it is
//! deleted.

use std::future::Future;

use futures::future::join_all;
use tracing::{info, warn};

use crate::ports::Iam;
use crate::types::{
    ActionKind, ActionRecord, ActionResult, AwsError, AwsResult, Change, InlineBackup, Mode, Outcome, Violation,
};
use crate::verdict::policy;

/// Where an inline policy's backup goes before the policy is deleted: the delete happens only
/// once this succeeds.
pub trait KeepBackup: Sync {
    fn keep(&self, backup: &InlineBackup) -> impl Future<Output = AwsResult<()>> + Send;
}

/// What remediation did.
#[derive(Debug, Default)]
pub struct Remediation {
    pub actions: Vec<ActionRecord>,
    pub backups: Vec<InlineBackup>,
}

impl Remediation {
    /// The outcome these actions add up to.
    pub fn outcome(&self, mode: Mode) -> Outcome {
        if mode == Mode::DryRun {
            return Outcome::ViolationsFound;
        }
        let failed = self
            .actions
            .iter()
            .filter(|a| matches!(a.result, ActionResult::Failed { .. } | ActionResult::Skipped { .. }))
            .count();
        match failed {
            0 => Outcome::Remediated,
            n if n == self.actions.len() => Outcome::RemediationFailed,
            _ => Outcome::PartiallyRemediated,
        }
    }
}

/// Applies `violations` to `role` per `mode`. Actions run concurrently; one failing action does
/// not stop the others. An inline policy's backup is kept through `keep` before the policy is
/// deleted.
pub async fn remediate<I: Iam, K: KeepBackup>(
    iam: &I,
    keep: &K,
    mode: Mode,
    role: &str,
    violations: &[Violation],
) -> Remediation {
    if mode == Mode::DryRun {
        return Remediation {
            actions: planned(violations),
            backups: Vec::new(),
        };
    }
    let results = join_all(violations.iter().map(|v| act(iam, keep, mode, role, v))).await;
    let mut remediation = Remediation::default();
    for (record, backup) in results {
        remediation.actions.push(record);
        remediation.backups.extend(backup);
    }
    remediation
}

/// What enforce would do about `violations`, changing nothing (`dry-run` and the audit).
pub fn planned(violations: &[Violation]) -> Vec<ActionRecord> {
    violations
        .iter()
        .map(|violation| match violation {
            Violation::ManagedPolicy {
                policy_name,
                policy_arn,
                ..
            } => ActionRecord {
                action: ActionKind::DetachManagedPolicy,
                policy_name: policy_name.clone(),
                policy_arn: Some(policy_arn.clone()),
                result: ActionResult::Planned,
                undo_command: None,
            },
            Violation::InlinePolicy { policy_name, .. } => ActionRecord {
                action: ActionKind::DeleteInlinePolicy,
                policy_name: policy_name.clone(),
                policy_arn: None,
                result: ActionResult::Planned,
                undo_command: None,
            },
        })
        .collect()
}

async fn act<I: Iam, K: KeepBackup>(
    iam: &I,
    keep: &K,
    mode: Mode,
    role: &str,
    violation: &Violation,
) -> (ActionRecord, Option<InlineBackup>) {
    match violation {
        Violation::ManagedPolicy {
            policy_name,
            policy_arn,
            ..
        } => {
            let result = match iam.detach(role, policy_arn).await {
                Ok(change) => {
                    info!(role, policy = %policy_arn, mode = %mode, ?change, "detached managed policy");
                    ActionResult::of(change)
                }
                Err(e) => failed(role, policy_name, &e),
            };
            let record = ActionRecord {
                action: ActionKind::DetachManagedPolicy,
                policy_name: policy_name.clone(),
                policy_arn: Some(policy_arn.clone()),
                undo_command: matches!(result, ActionResult::Done).then(|| policy::reattach_command(role, policy_arn)),
                result,
            };
            (record, None)
        }
        Violation::InlinePolicy { policy_name, .. } => {
            let record = |result, undo_command| ActionRecord {
                action: ActionKind::DeleteInlinePolicy,
                policy_name: policy_name.clone(),
                policy_arn: None,
                result,
                undo_command,
            };
            // The document read during evaluation may be stale or missing: back up what is
            // there right now, and delete nothing that could not be backed up.
            let current = match iam.inline_policy(role, policy_name).await {
                Ok(Some(doc)) => doc,
                Ok(None) => return (record(ActionResult::AlreadyDone, None), None),
                // Transient (throttled, deadline): failed, so the invocation is retried.
                Err(e) if e.is_transient() => {
                    warn!(role, policy = %policy_name, error = %e, "inline policy not deleted yet: its document could not be read for the backup");
                    return (record(failed(role, policy_name, &e), None), None);
                }
                Err(e) => {
                    warn!(role, policy = %policy_name, error = %e, "inline policy not deleted: its document could not be backed up");
                    let reason = format!("not deleted: its document could not be read for the backup ({e})");
                    return (record(ActionResult::Skipped { reason }, None), None);
                }
            };
            let restore_command = policy::restore_command(role, policy_name, &current);
            // The backup goes to the log and then to the topic before the delete: a policy is
            // deleted only once its backup is where the security team reads, whatever happens
            // to the notification of the result.
            warn!(role, policy = %policy_name, document = %current, restore = %restore_command, "inline policy backup before delete");
            let backup = InlineBackup {
                role_name: role.to_owned(),
                policy_name: policy_name.clone(),
                document: current,
                restore_command: restore_command.clone(),
            };
            if let Err(e) = keep.keep(&backup).await {
                warn!(role, policy = %policy_name, error = %e, "inline policy not deleted: its backup could not be published");
                if e.is_transient() {
                    return (record(failed(role, policy_name, &e), None), None);
                }
                let reason = format!("not deleted: its backup could not be published ({e})");
                return (record(ActionResult::Skipped { reason }, None), None);
            }
            match iam.delete_inline(role, policy_name).await {
                Ok(Change::Done) => {
                    info!(role, policy = %policy_name, mode = %mode, "deleted inline policy");
                    (record(ActionResult::Done, Some(restore_command)), Some(backup))
                }
                Ok(Change::AlreadyDone) => (record(ActionResult::AlreadyDone, None), None),
                Err(e) => (record(failed(role, policy_name, &e), None), None),
            }
        }
    }
}

fn failed(role: &str, policy: &str, e: &AwsError) -> ActionResult {
    warn!(role, policy, error = %e, "remediation action failed");
    ActionResult::failed(e)
}
