//! How the function responds to a judged role: it acts per mode (inline policies backed up to
//! the topic before they go), notifies, and keeps the account's findings. The event path and
//! the sweep ([`Respond`]) both respond this way.

use tracing::error;

use super::Remediator;
use crate::action::remediate::{self, KeepBackup};
use crate::action::swap;
use crate::ports::{Ec2, Findings, Iam, Notifier, Ports};
use crate::running::accounts::Guarded;
use crate::running::sweep::{Respond, Transient, Verdict};
use crate::telling::{findings, notify};
use crate::types::{
    ActionResult, AwsError, ErrorKind, FindingsStatus, InlineBackup, Mode, NotificationStatus, Outcome, Report,
    RoleState,
};
use crate::verdict::check::Stop;

impl<P: Ports> Remediator<P>
where
    P::Iam: Iam,
    P::Ec2: Ec2,
{
    /// Acts on a judged role's violations per mode; inline policies are backed up to the topic
    /// before they are deleted.
    pub(super) async fn act(&self, acct: &Guarded<P>, report: &mut Report, state: &RoleState) {
        if let Some(reason) = self.left_shared(report) {
            report.actions = remediate::planned(&report.violations)
                .into_iter()
                .map(|mut action| {
                    action.result = ActionResult::Skipped { reason: reason.clone() };
                    action
                })
                .collect();
            report.outcome = Outcome::ViolationsFound;
            report.reason = Some(reason);
            return;
        }
        let backups = BackupToTopic {
            notifier: &self.notifier,
            context: notify::BackupContext {
                mode: self.config.mode,
                account: report.account.clone(),
                event: report.event.clone(),
                guards: self.guards(),
            },
        };
        let remediation =
            remediate::remediate(&acct.iam, &backups, self.config.mode, &state.name, &report.violations).await;
        report.outcome = remediation.outcome(self.config.mode);
        report.actions = remediation.actions;
        report.deleted_inline_policies = remediation.backups;
    }

    /// Why enforce leaves a shared role's policies alone (`SHARED_ROLES=leave`), if it does.
    fn left_shared(&self, report: &Report) -> Option<String> {
        let shared = report.shared.as_ref()?;
        (self.config.mode == Mode::Enforce && !self.config.remediate_shared_roles).then(|| {
            format!(
                "instances that are not nodes run with this role ({}): SHARED_ROLES=leave keeps its policies",
                shared.instances.describe()
            )
        })
    }

    /// Puts swapped credentials back per mode (the commands always), and settles the outcome.
    pub(super) async fn undo_swaps(&self, acct: &Guarded<P>, report: &mut Report) {
        if report.swaps.is_empty() {
            return;
        }
        swap::undo(&acct.iam, &acct.ec2, self.config.mode, &mut report.swaps).await;
        swap::settle(report);
    }

    /// Whose accounts this deployment guards: organization mode names each account in subjects.
    pub(super) fn guards(&self) -> notify::Guards {
        match self.members {
            Some(_) => notify::Guards::Organization,
            None => notify::Guards::OwnAccount,
        }
    }

    pub(super) fn findings_scope(&self, acct: &Guarded<P>) -> findings::Scope {
        findings::Scope::new(
            &acct.id,
            acct.findings.region(),
            &self.identity.partition,
            std::time::SystemTime::now(),
        )
    }

    /// Publishes the report if it calls for it. Returns a transient publish failure, if any.
    pub(super) async fn notify(&self, report: &mut Report) -> Option<(String, AwsError)> {
        if !report.outcome.notifies() && report.outcome != Outcome::SweepCompleted {
            return None;
        }
        let notification = notify::notification(report, self.guards());
        match self.notifier.publish(&notification).await {
            Ok(message_id) => {
                report.notification = Some(NotificationStatus {
                    published: true,
                    message_id: Some(message_id),
                    error: None,
                });
                None
            }
            Err(e) => {
                error!(error = %e, "notification not published; the report in this log is the record");
                report.notification = Some(NotificationStatus {
                    published: false,
                    message_id: None,
                    error: Some(e.to_string()),
                });
                e.is_transient().then(|| ("publishing the notification".to_owned(), e))
            }
        }
    }
}

/// The function's response to each role of a sweep: act per mode, then notify.
impl<P: Ports> Respond<P> for Remediator<P>
where
    P::Iam: Iam,
    P::Ec2: Ec2,
{
    async fn role(&self, account: &Guarded<P>, mut report: Report, verdict: Verdict) -> (Report, Option<Transient>) {
        let mut report = match verdict {
            Ok(None) => {
                self.undo_swaps(account, &mut report).await;
                report
            }
            Ok(Some(state)) => {
                self.act(account, &mut report, &state).await;
                self.undo_swaps(account, &mut report).await;
                report
            }
            Err(Stop::Outcome(outcome, reason)) => report.finish(outcome, reason),
            Err(Stop::Transient(context, source)) => {
                let reason = format!("{context}: {source}");
                return (report.finish(Outcome::Failed, reason), Some((context, source)));
            }
        };
        let transient = self.notify(&mut report).await.or_else(|| transient_action(&report));
        (report, transient)
    }

    async fn account(&self, account: &Guarded<P>, roles: &[Report]) -> Option<FindingsStatus> {
        if !self.config.security_hub {
            return None;
        }
        let scope = self.findings_scope(account);
        Some(Box::pin(findings::sync_sweep(&account.findings, roles, &scope)).await)
    }
}

/// Publishes an inline policy's backup to the security team's topic before it is deleted.
struct BackupToTopic<'a, N> {
    notifier: &'a N,
    context: notify::BackupContext,
}

impl<N: Notifier> KeepBackup for BackupToTopic<'_, N> {
    async fn keep(&self, backup: &InlineBackup) -> Result<(), AwsError> {
        let notification = notify::backup_notification(backup, &self.context);
        self.notifier.publish(&notification).await.map(|_| ())
    }
}

/// A transient failure closing the report's door, if any: a retry can close it.
pub(super) fn transient_door(report: &Report) -> Option<(String, AwsError)> {
    let door = report.door.as_ref()?;
    transient(format!("closing: {}", door.kind.title()), door.result.as_ref()?)
}

fn transient(what: String, result: &ActionResult) -> Option<(String, AwsError)> {
    match result {
        ActionResult::Failed {
            error_kind: ErrorKind::Transient,
            error_code,
            error,
        } => Some((
            what,
            AwsError {
                operation: "remediation",
                kind: ErrorKind::Transient,
                code: error_code.clone(),
                message: error.clone(),
            },
        )),
        _ => None,
    }
}

pub(super) fn transient_action(report: &Report) -> Option<(String, AwsError)> {
    let actions = report
        .actions
        .iter()
        .map(|a| (format!("remediating {}", a.policy_name), &a.result));
    let swaps = report.swaps.iter().filter_map(|s| {
        let what = format!(
            "undoing the credential swap of node group {}/{}",
            s.cluster, s.nodegroup
        );
        s.result.as_ref().map(|result| (what, result))
    });
    actions.chain(swaps).find_map(|(what, result)| transient(what, result))
}
