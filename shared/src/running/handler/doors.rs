//! The response to a door event (docs/doors.md): the verdict stage decides what it opened
//! ([`doors::decide`]); roles to judge go through the same check, remediation and swap undo as
//! any event, and a door of its own is notified, and closed where enforce may.

use crate::event::DoorEvent;
use crate::ports::{Ec2, Iam, Ports};
use crate::running::accounts::Guarded;
use crate::telling::findings;
use crate::types::{ActionResult, Door, DoorKind, Mode, Outcome, Report, RoleRef, arn};
use crate::verdict::check::Stop;
use crate::verdict::doors::{self, Close, Decision, Judge, Scope};
use crate::verdict::severity;

use super::{Handled, HandlerError, Remediator};

impl<P: Ports> Remediator<P>
where
    P::Iam: Iam,
    P::Ec2: Ec2,
{
    /// Decides a door event in `acct` and responds.
    pub(super) async fn door(&self, acct: &Guarded<P>, report: Report, door: &DoorEvent) -> Handled {
        let decision = {
            let in_account = acct.in_account();
            let scope = Scope {
                acct: &in_account,
                regions: &self.config.scan_regions,
                concurrency: self.config.discovery_concurrency,
                event: &report.event.name,
            };
            Box::pin(doors::decide(&scope, door)).await
        };
        match decision {
            Ok(Decision::Unrelated(reason)) => Handled::done(report.finish(Outcome::Ignored, reason)),
            Ok(Decision::Closed {
                role_arn,
                kinds,
                reason,
            }) => {
                let mut report = report;
                if self.config.security_hub {
                    let scope = self.findings_scope(acct);
                    let status = Box::pin(findings::sync_doors_shut(
                        &acct.findings,
                        &role_arn,
                        &kinds,
                        &scope,
                        &reason,
                    ))
                    .await;
                    report.security_hub = Some(status);
                }
                Handled::done(report.finish(Outcome::Ignored, reason))
            }
            Ok(Decision::Judge(judge)) => Box::pin(self.judge(acct, report, judge)).await,
            Ok(Decision::Open { role, door, close }) => Box::pin(self.open(acct, report, role, door, close)).await,
            Err(e) => {
                self.stopped(report, Stop::from_aws("deciding what the event opened", e))
                    .await
            }
        }
    }

    /// Judges the roles a door concerns, one report each; the first that notifies is the
    /// invocation's, the others are in its `roles`.
    async fn judge(&self, acct: &Guarded<P>, report: Report, judge: Judge) -> Handled {
        if judge.stale_index {
            acct.index.forget().await;
        }
        let mut roles: Vec<String> = Vec::new();
        if let Some(profile) = &judge.swapped_through {
            let in_account = acct.in_account();
            let sources = in_account.sources();
            let scanned = acct
                .index
                .get(&sources, &self.config.scan_regions, self.config.discovery_concurrency)
                .await;
            match scanned {
                Ok((scan, _)) => roles.extend(
                    scan.index
                        .swapped_through(profile)
                        .iter()
                        .filter_map(|r| arn::role_name_from_arn(r).map(str::to_owned)),
                ),
                Err(e) => return self.stopped(report, Stop::from_aws("node-role discovery", e)).await,
            }
        }
        let first = judge.roles.first().cloned();
        if let (Some(binding), Some(role)) = (&judge.confirmed, &first) {
            acct.index.learn(&judge.door.subject, binding.clone()).await;
            tracing::debug!(role = %role, "learnt a node binding from the event");
        }
        for role in judge.roles {
            if !roles.iter().any(|r| arn::same_role_name(r, &role)) {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            let reason = "the profile holds no role, and no node group's instances run swapped through it".to_owned();
            return Handled::done(report.finish(Outcome::Ignored, reason));
        }
        let mut reports = Vec::new();
        let mut retry: Option<HandlerError> = None;
        for role in &roles {
            let mut one = report.clone();
            one.door = Some(judge.door.clone());
            let confirmed = judge
                .confirmed
                .clone()
                .filter(|_| first.as_deref().is_some_and(|f| arn::same_role_name(f, role)));
            let handled = Box::pin(self.check_and_notify(acct, one, role, confirmed)).await;
            reports.push(handled.report);
            retry = retry.or(handled.retry);
        }
        let main = reports.iter().position(|r| r.outcome.notifies()).unwrap_or(0);
        let mut primary = reports.remove(main);
        primary.roles = reports;
        Handled { report: primary, retry }
    }

    /// A door of its own: closed where it may be, then reported and notified.
    async fn open(
        &self,
        acct: &Guarded<P>,
        report: Report,
        role: Option<String>,
        mut door: Door,
        close: Option<Close>,
    ) -> Handled {
        let mut report = report;
        report.role = role.map(|name| RoleRef { name, arn: None });
        if let Some(Close::Trust { role, document }) = close {
            door.result = Some(match (self.config.mode, self.config.remove_node_trust) {
                (Mode::DryRun, _) => ActionResult::Planned,
                (Mode::Enforce, false) => ActionResult::Skipped {
                    reason: "REMOVE_NODE_TRUST=off: the trust is notified, not changed".to_owned(),
                },
                (Mode::Enforce, true) => match acct.iam.update_trust(&role, &document).await {
                    Ok(change) => ActionResult::of(change),
                    Err(e) => ActionResult::failed(&e),
                },
            });
        }
        let closed = matches!(door.result, Some(ActionResult::Done | ActionResult::AlreadyDone));
        let reason = if closed {
            format!("{}: closed", door.kind.title())
        } else {
            format!("{}: notified", door.kind.title())
        };
        report.door = Some(door);
        let mut report = report.finish(Outcome::DoorOpened, reason);
        if self.config.security_hub {
            let scope = self.findings_scope(acct);
            report.security_hub = Some(Box::pin(findings::sync_door(&acct.findings, &report, &scope)).await);
        }
        let transient = self.notify(&mut report).await;
        match transient.or_else(|| super::respond::transient_door(&report)) {
            Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
            None => Handled::done(report),
        }
    }
}

/// After a judged role's check: the door's severity is at least what was found on the role,
/// and a boundary or policy-version change on a node role is told even when the role passes.
pub(super) fn settle(report: &mut Report) {
    let Some(mut door) = report.door.take() else {
        return;
    };
    if let Some(found) = severity::worst(report) {
        door.severity = door.severity.max(found);
    }
    let told_anyway = matches!(door.kind, DoorKind::PermissionsBoundary | DoorKind::PolicyVersion);
    if told_anyway && report.node_role && report.outcome == Outcome::Compliant {
        report.outcome = Outcome::DoorOpened;
        report.reason = Some(format!("{}: the role was judged again and passes", door.kind.title()));
    }
    report.door = Some(door);
}
