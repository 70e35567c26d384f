//! The event path: a Lambda payload in, a Report out. Parses the event, enters the account it
//! came from, checks the role with the verdict stage, acts per mode and tells. The scheduled
//! sweep is [`crate::running::sweep`] with this remediator as its response.

use std::sync::Arc;

use serde_json::Value;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::event;
use crate::event::{Event, NotAnEvent, Trigger};
use crate::invocation::deadline::Budget;
use crate::invocation::{deadline, tally};
use crate::ports::{Adapters, Ec2, Eks, Iam, Ports, Trails};
use crate::running::accounts::{Accounts, EnterError, Guarded};
use crate::running::sweep::{NoProgress, Sweep};
use crate::telling::emf::MetricSink;
use crate::telling::{emf, findings, trail_health};
use crate::types::{AwsError, ErrorKind, EventSummary, Identity, NodeBinding, Outcome, Report, arn};
use crate::verdict::check::{Check, Stop};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    InvalidEvent(#[from] NotAnEvent),
    /// A retry could help: EventBridge / Lambda retries and the dead-letter queue take over.
    #[error("{context}: {source}")]
    Transient {
        context: String,
        #[source]
        source: AwsError,
    },
}

impl HandlerError {
    /// Stable `errorType` for the Lambda runtime.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Transient { .. } => "TransientAwsError",
        }
    }
}

/// The function's state across invocations: one type parameter, the set of ports.
pub struct Remediator<P: Ports> {
    config: Config,
    identity: Identity,
    /// The function's own account: IAM, EKS and Security Hub (used when `SECURITY_HUB=on`)
    /// with the function's credentials, and that account's caches.
    home: Guarded<P>,
    /// Organization mode: the member accounts and how to act in them.
    members: Option<Accounts<P>>,
    /// The security team's topic, always with the function's own credentials.
    notifier: P::Notifier,
    /// CloudTrail, asked by the sweep whether the guard is blind.
    trails: P::Trails,
    /// Receives one EMF line per invocation (stdout in the function); none by default.
    metrics: Option<MetricSink>,
}

/// The account an invocation acts in: the home account, borrowed, or a member's connection.
enum In<'a, G> {
    Home(&'a G),
    Member(Arc<G>),
}

impl<G> std::ops::Deref for In<'_, G> {
    type Target = G;
    fn deref(&self) -> &G {
        match self {
            In::Home(home) => home,
            In::Member(member) => member,
        }
    }
}

/// A finished invocation: the report always, and an error when a retry could help.
struct Handled {
    report: Report,
    retry: Option<HandlerError>,
}

impl Handled {
    fn done(report: Report) -> Self {
        Handled { report, retry: None }
    }

    fn retry(report: Report, error: HandlerError) -> Self {
        Handled {
            report,
            retry: Some(error),
        }
    }
}

impl<P: Ports> Remediator<P>
where
    P::Iam: Iam,
    P::Ec2: Ec2,
{
    /// The remediator over `adapters`; with `MEMBER_ROLE_NAME` it also guards the member
    /// accounts `config.central` names (organization mode).
    pub fn new(config: Config, identity: Identity, adapters: Adapters<P>) -> Self {
        let home = Guarded::home(
            &identity.account,
            identity.own_role.clone(),
            adapters.iam,
            adapters.eks,
            adapters.ec2,
            adapters.findings,
            config.index_ttl,
        );
        let members = config.central.clone().map(|central| {
            Accounts::new(
                adapters.members,
                central,
                &identity.partition,
                &identity.account,
                config.index_ttl,
            )
        });
        Remediator {
            home,
            members,
            notifier: adapters.notifier,
            trails: adapters.trails,
            metrics: None,
            config,
            identity,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends one CloudWatch EMF line per invocation to `sink` ([`emf::to_stdout`] in Lambda).
    pub fn with_metrics(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.metrics = Some(Box::new(sink));
        self
    }

    fn emit(&self, document: impl FnOnce() -> Value) {
        if let Some(sink) = &self.metrics {
            sink(&document().to_string());
        }
    }

    /// Handles one Lambda payload within `budget` (from the runtime's deadline): AWS calls stop
    /// being started before the deadline, the partial Report is logged and notified, and the
    /// invocation asks for a retry.
    pub async fn handle_within(&self, payload: &Value, budget: Budget) -> Result<Report, HandlerError> {
        deadline::within(budget, self.handle(payload)).await
    }

    /// Handles one Lambda payload; returns the Report, already logged.
    pub async fn handle(&self, payload: &Value) -> Result<Report, HandlerError> {
        let started = std::time::Instant::now();
        let event = match event::parse(payload) {
            Ok(event) => event,
            Err(e) => {
                error!(error = %e, "rejected payload");
                self.emit(|| emf::rejected(self.config.mode, started.elapsed(), std::time::SystemTime::now()));
                return Err(e.into());
            }
        };
        let (Handled { mut report, retry }, tally) = tally::counted(self.handle_event_in_time(event)).await;
        let calls: u64 = tally.calls.values().sum();
        report.api_calls = tally.calls;
        report.api_attempts = (tally.attempts > calls).then_some(tally.attempts);
        report.throttled = tally.throttled;
        log_report(&report);
        self.emit(|| emf::document(&report, started.elapsed(), std::time::SystemTime::now()));
        match retry {
            None => Ok(report),
            Some(e) => {
                error!(error = %e, error_type = e.error_type(), "invocation failed; a retry may help");
                Err(e)
            }
        }
    }

    /// [`Self::handle_event`], with a backstop: work the reserve did not stop (an SDK backoff
    /// that outlasts it) is cut at the deadline, so the invocation still answers and logs.
    async fn handle_event_in_time(&self, event: Event) -> Handled {
        let summary = EventSummary {
            id: event.id.clone(),
            name: event.name.clone(),
            region: event.region.clone(),
            actor: event.actor.clone(),
        };
        let mut handled = match deadline::finish_by() {
            None => self.handle_event(event).await,
            Some(at) => match tokio::time::timeout_at(at.into(), self.handle_event(event)).await {
                Ok(handled) => handled,
                Err(_) => {
                    let report = Report::new(self.config.mode, Some(self.identity.account.clone()), summary);
                    let reason = "the invocation's deadline was reached before it finished; a retry finishes it";
                    error!("{reason}");
                    let source = AwsError {
                        operation: "invocation",
                        kind: ErrorKind::Transient,
                        code: Some(deadline::CODE.to_owned()),
                        message: reason.to_owned(),
                    };
                    return Handled::retry(
                        report.finish(Outcome::Failed, reason.to_owned()),
                        HandlerError::Transient {
                            context: "deadline".to_owned(),
                            source,
                        },
                    );
                }
            },
        };
        if handled.retry.is_some() && deadline::exhausted() {
            handled.report.deadline = Some(
                "the invocation stopped starting AWS calls before its deadline; what was not done is \
                 marked failed with DeadlineReached, and the retry finishes it"
                    .to_owned(),
            );
        }
        handled
    }

    async fn handle_event(&self, event: Event) -> Handled {
        let summary = EventSummary {
            id: event.id.clone(),
            name: event.name.clone(),
            region: event.region.clone(),
            actor: event.actor.clone(),
        };
        let mut report = Report::new(self.config.mode, Some(self.identity.account.clone()), summary);
        // a needless door costs no call; with findings on, a trust edit is still read, since it
        // may shut a door whose finding is open
        if let Trigger::Door(door) = &event.trigger
            && let Some(reason) = crate::verdict::doors::needless(door)
            && !(self.config.security_hub && crate::verdict::doors::may_shut(door))
        {
            return Handled::done(report.finish(Outcome::Ignored, reason));
        }
        let account = match (&event.trigger, event.account.as_deref()) {
            (Trigger::Ignored { reason }, _) => return Handled::done(report.finish(Outcome::Ignored, reason.clone())),
            (_, None) => return Handled::done(report.finish(Outcome::Ignored, "event names no account".to_owned())),
            // the schedule is the central account's own; the sweep covers every guarded account
            (Trigger::Sweep, Some(account)) if account == self.home.id => return self.sweep(report).await,
            // a sweep event from another account: nothing to do there, so nothing to assume
            (Trigger::Sweep, Some(account)) => {
                let reason = format!(
                    "scheduled sweep from account {account}; sweeps run from account {}",
                    self.home.id
                );
                return Handled::done(report.finish(Outcome::Ignored, reason));
            }
            (_, Some(account)) => account,
        };
        report.account = Some(account.to_owned());
        let acct = match self.enter(account).await {
            Ok(acct) => acct,
            Err(stop) => return self.stopped(report, stop).await,
        };
        match event.trigger {
            Trigger::AttachRolePolicy { role_name, .. } | Trigger::PutRolePolicy { role_name, .. } => {
                self.check_and_notify(&acct, report, &role_name, None).await
            }
            // boxed: a door's response holds whole checks, and stays off the stack
            Trigger::Door(door) => Box::pin(self.door(&acct, report, &door)).await,
            // both answered before entering the account
            Trigger::Sweep | Trigger::Ignored { .. } => {
                Handled::done(report.finish(Outcome::Ignored, "not an action event".to_owned()))
            }
            Trigger::CreateNodegroup {
                region,
                cluster,
                nodegroup,
                node_role_arn,
            } => {
                let found = match acct.eks.nodegroup(&region, &cluster, &nodegroup).await {
                    Ok(found) => found,
                    Err(e) => return self.stopped(report, Stop::from_aws("DescribeNodegroup", e)).await,
                };
                let Some(found) = found else {
                    let reason = format!("node group {cluster}/{nodegroup} in {region} no longer exists");
                    return Handled::done(report.finish(Outcome::Ignored, reason));
                };
                if let Some(hint) = node_role_arn.filter(|hint| !arn::same_role_arn(hint, &found.node_role_arn)) {
                    warn!(hint = %hint, actual = %found.node_role_arn, "event's node role differs from DescribeNodegroup; using the latter");
                }
                let binding = NodeBinding::ManagedNodegroup {
                    region,
                    cluster,
                    nodegroup: found.name,
                };
                acct.index.learn(&found.node_role_arn, binding.clone()).await;
                let Some(role_name) = arn::role_name_from_arn(&found.node_role_arn) else {
                    let reason = format!("node group role {:?} is not a role ARN", found.node_role_arn);
                    return Handled::done(report.finish(Outcome::Ignored, reason));
                };
                self.check_and_notify(&acct, report, role_name, Some(binding)).await
            }
        }
    }

    /// The account an event from `account` is handled in, or why it is not handled.
    async fn enter(&self, account: &str) -> Result<In<'_, Guarded<P>>, Stop> {
        let Some(members) = &self.members else {
            if account == self.home.id {
                return Ok(In::Home(&self.home));
            }
            let reason = format!(
                "event from account {account}; this function guards account {}",
                self.home.id
            );
            return Err(Stop::Outcome(Outcome::Ignored, reason));
        };
        members.check_guarded(account).await.map_err(EnterError::stop)?;
        if account == self.home.id {
            return Ok(In::Home(&self.home));
        }
        members.enter(account).await.map(In::Member).map_err(EnterError::stop)
    }

    /// Finishes a check that stopped early; a `failed` outcome is notified like any other.
    async fn stopped(&self, report: Report, stop: Stop) -> Handled {
        match stop {
            Stop::Outcome(outcome, reason) => {
                let mut report = report.finish(outcome, reason);
                match self.notify(&mut report).await {
                    Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
                    None => Handled::done(report),
                }
            }
            Stop::Transient(context, source) => {
                let reason = format!("{context}: {source}");
                Handled::retry(
                    report.finish(Outcome::Failed, reason),
                    HandlerError::Transient { context, source },
                )
            }
        }
    }

    /// Checks one role, acts per mode, notifies when there is something to say.
    async fn check_and_notify(
        &self,
        acct: &Guarded<P>,
        mut report: Report,
        role_name: &str,
        confirmed: Option<NodeBinding>,
    ) -> Handled {
        let verdict = self
            .check()
            .assess(
                &acct.in_account(),
                &mut report,
                role_name,
                confirmed,
                None,
                &acct.addon_facts,
            )
            .await;
        match verdict {
            Ok(None) => self.undo_swaps(acct, &mut report).await,
            Ok(Some(state)) => {
                self.act(acct, &mut report, &state).await;
                self.undo_swaps(acct, &mut report).await;
            }
            Err(stop) => return self.stopped(report, stop).await,
        }
        doors::settle(&mut report);
        if self.config.security_hub && report.node_role {
            // boxed: the SDK's futures are large, and they live on the heap instead of the stack
            let scope = self.findings_scope(acct);
            let status = Box::pin(findings::sync_role(&acct.findings, &report, &scope)).await;
            report.security_hub = Some(status);
        }
        let transient = self.notify(&mut report).await;
        match transient.or_else(|| transient_action(&report)) {
            Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
            None => Handled::done(report),
        }
    }

    /// The rules this deployment applies.
    fn check(&self) -> Check<'_> {
        Check {
            config: &self.config,
            home: &self.home.id,
            today: crate::invocation::today(),
        }
    }

    /// Checks every node role found in `SCAN_REGIONS`, in every guarded account: one
    /// notification per role that needed action, then one summary.
    async fn sweep(&self, mut report: Report) -> Handled {
        let sweep = Sweep {
            check: self.check(),
            home: &self.home,
            members: self.members.as_ref(),
            respond: self,
            progress: &NoProgress,
        };
        let transient = match sweep.run(&mut report).await {
            Ok(transient) => transient,
            Err(stop) => return self.stopped(report, stop).await,
        };
        match Box::pin(self.trails.trails()).await {
            Ok(Some(trails)) => report.blind = trail_health::blind_reason(&trails),
            Ok(None) => {}
            Err(e) => report.warnings.push(format!(
                "whether a CloudTrail trail feeds the guard could not be checked: {e}"
            )),
        }
        if let Some(blind) = &report.blind {
            error!(reason = %blind, "the guard is blind: no CloudTrail trail feeds its rules");
        }
        report.summarize_sweep();
        let publish = self.notify(&mut report).await;
        match transient.or(publish) {
            Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
            None => Handled::done(report),
        }
    }
}

fn log_report(report: &Report) {
    match serde_json::to_string(report) {
        Ok(json) => info!(target: "report", outcome = report.outcome.as_str(), report = %json, "report"),
        Err(e) => error!(error = %e, "report could not be serialized"),
    }
}

mod doors;
mod respond;

use respond::transient_action;
#[cfg(test)]
mod tests;
