//! The use case: event in, Report out. Decides with the pure core, acts through the ports.

use std::sync::Arc;

use futures::future::join_all;
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::{error, info, warn};

use crate::accounts::{Accounts, Guarded, Members, NoMembers};
use crate::addons::AddonFacts;
use crate::assess::{Check, Stop};
use crate::config::Config;
use crate::deadline::{self, Budget};
use crate::discovery::{IndexSource, NodeBinding, Scan, scan};
use crate::emf::{self, MetricSink};
use crate::findings::{self, FindingsStatus, NoFindings};
use crate::iam_arn;
use crate::metrics;
use crate::notify;
use crate::ports::{AwsError, Eks, Findings, Iam, Notifier, Trails};
use crate::remediate::remediate;
use crate::report::{AccountLine, EventSummary, NotificationStatus, Outcome, Report};
use crate::trail_health::{self, NoTrails};
use crate::trigger::{self, Event, NotAnEvent, Trigger};

/// Node roles checked at once during a sweep.
const SWEEP_CONCURRENCY: usize = 4;
/// Lifetime of the per-sweep add-on facts: longer than any sweep runs.
const SWEEP_FACTS_TTL: std::time::Duration = std::time::Duration::from_secs(900);

/// Who the function is: its account, partition and, when it runs as an assumed role, that role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub partition: String,
    /// The function's own execution role: never acted on.
    pub own_role: Option<String>,
}

impl Identity {
    /// From `sts:GetCallerIdentity`'s ARN (`arn:aws:sts::123:assumed-role/Role/session`).
    pub fn from_caller_arn(account: &str, arn: &str) -> Self {
        let own_role = arn
            .split_once(":assumed-role/")
            .and_then(|(_, rest)| rest.split('/').next())
            .or_else(|| iam_arn::role_name_from_arn(arn))
            .map(str::to_owned);
        Identity {
            account: account.to_owned(),
            partition: iam_arn::partition(arn).unwrap_or("aws").to_owned(),
            own_role,
        }
    }
}

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

/// The function's state across invocations.
pub struct Remediator<I, E, N, F = NoFindings, T = NoTrails, M = NoMembers> {
    config: Config,
    identity: Identity,
    /// The function's own account: IAM, EKS and Security Hub (used when `SECURITY_HUB=on`)
    /// with the function's credentials, and that account's caches.
    home: Guarded<I, E, F>,
    /// Organization mode: the member accounts and how to act in them.
    members: Option<Accounts<I, E, F, M>>,
    /// The security team's topic, always with the function's own credentials.
    notifier: N,
    /// CloudTrail, asked by the sweep whether the guard is blind.
    trails: T,
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

/// What a sweep found in one account.
struct AccountSweep {
    account: String,
    roles: Vec<Report>,
    warnings: Vec<String>,
    security_hub: Option<FindingsStatus>,
    /// The first failure a retry could fix.
    transient: Option<(String, AwsError)>,
    /// The account could not be swept at all (not entered, discovery failed).
    stop: Option<Stop>,
}

impl AccountSweep {
    fn stopped(account: &str, stop: Stop) -> Self {
        AccountSweep {
            account: account.to_owned(),
            roles: Vec::new(),
            warnings: Vec::new(),
            security_hub: None,
            transient: None,
            stop: Some(stop),
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

impl<I: Iam, E: Eks, N: Notifier> Remediator<I, E, N> {
    pub fn new(config: Config, identity: Identity, iam: I, eks: E, notifier: N) -> Self {
        let home = Guarded::home(
            &identity.account,
            identity.own_role.clone(),
            iam,
            eks,
            NoFindings,
            config.index_ttl,
        );
        Remediator {
            home,
            members: None,
            metrics: None,
            config,
            identity,
            notifier,
            trails: NoTrails,
        }
    }
}

impl<I, E, N, F, T> Remediator<I, E, N, F, T, NoMembers> {
    /// Imports findings through `findings` when the configuration says `SECURITY_HUB=on`.
    pub fn with_findings<G: Findings>(self, findings: G) -> Remediator<I, E, N, G, T> {
        Remediator {
            config: self.config,
            identity: self.identity,
            home: self.home.with_findings(findings),
            members: None,
            notifier: self.notifier,
            trails: self.trails,
            metrics: self.metrics,
        }
    }

    /// Guards the member accounts `config.central` names through `members` (organization
    /// mode); without `MEMBER_ROLE_NAME` the remediator stays a per-account one.
    pub fn with_members<M: Members<I, E, F>>(self, members: M) -> Remediator<I, E, N, F, T, M> {
        let accounts = self.config.central.clone().map(|central| {
            Accounts::new(
                members,
                central,
                &self.identity.partition,
                &self.identity.account,
                self.config.index_ttl,
            )
        });
        Remediator {
            config: self.config,
            identity: self.identity,
            home: self.home,
            members: accounts,
            notifier: self.notifier,
            trails: self.trails,
            metrics: self.metrics,
        }
    }
}

impl<I, E, N, F, T, M> Remediator<I, E, N, F, T, M> {
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends one CloudWatch EMF line per invocation to `sink` ([`emf::to_stdout`] in Lambda).
    pub fn with_metrics(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.metrics = Some(Box::new(sink));
        self
    }

    /// Lets the sweep check that a CloudTrail trail feeds the guard's rules.
    pub fn with_trails<U: Trails>(self, trails: U) -> Remediator<I, E, N, F, U, M> {
        Remediator {
            config: self.config,
            identity: self.identity,
            home: self.home,
            members: self.members,
            notifier: self.notifier,
            trails,
            metrics: self.metrics,
        }
    }
}

impl<I: Iam, E: Eks, N: Notifier, F: Findings, T: Trails, M: Members<I, E, F>> Remediator<I, E, N, F, T, M> {
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
        let event = match trigger::parse(payload) {
            Ok(event) => event,
            Err(e) => {
                error!(error = %e, "rejected payload");
                self.emit(|| emf::rejected(self.config.mode, started.elapsed(), std::time::SystemTime::now()));
                return Err(e.into());
            }
        };
        let (Handled { mut report, retry }, tally) = metrics::counted(self.handle_event_in_time(event)).await;
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
                        kind: crate::ports::ErrorKind::Transient,
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
                if let Some(hint) = node_role_arn.filter(|hint| !iam_arn::same_role_arn(hint, &found.node_role_arn)) {
                    warn!(hint = %hint, actual = %found.node_role_arn, "event's node role differs from DescribeNodegroup; using the latter");
                }
                let binding = NodeBinding::ManagedNodegroup {
                    region,
                    cluster,
                    nodegroup: found.name,
                };
                acct.index.learn(&found.node_role_arn, binding.clone()).await;
                let Some(role_name) = iam_arn::role_name_from_arn(&found.node_role_arn) else {
                    let reason = format!("node group role {:?} is not a role ARN", found.node_role_arn);
                    return Handled::done(report.finish(Outcome::Ignored, reason));
                };
                self.check_and_notify(&acct, report, role_name, Some(binding)).await
            }
        }
    }

    /// The account an event from `account` is handled in, or why it is not handled.
    async fn enter(&self, account: &str) -> Result<In<'_, Guarded<I, E, F>>, Stop> {
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
        members.check_guarded(account).await.map_err(Stop::from_enter)?;
        if account == self.home.id {
            return Ok(In::Home(&self.home));
        }
        members.enter(account).await.map(In::Member).map_err(Stop::from_enter)
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
        acct: &Guarded<I, E, F>,
        mut report: Report,
        role_name: &str,
        confirmed: Option<NodeBinding>,
    ) -> Handled {
        let stop = self
            .check_role(acct, &mut report, role_name, confirmed, None, &acct.addon_facts)
            .await;
        let mut report = match stop {
            Ok(()) => report,
            Err(stop) => return self.stopped(report, stop).await,
        };
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

    /// Fills `report` for one role and acts per mode. `known` skips discovery (the sweep
    /// already has the index).
    async fn check_role(
        &self,
        acct: &Guarded<I, E, F>,
        report: &mut Report,
        role_name: &str,
        confirmed: Option<NodeBinding>,
        known: Option<(&str, Vec<NodeBinding>)>,
        addon_facts: &AddonFacts,
    ) -> Result<(), Stop> {
        let check = Check {
            config: &self.config,
            home: &self.home.id,
        };
        let Some(state) = check
            .assess(acct, report, role_name, confirmed, known, addon_facts)
            .await?
        else {
            return Ok(());
        };
        let context = notify::BackupContext {
            mode: self.config.mode,
            account: report.account.clone(),
            event: report.event.clone(),
        };
        let remediation = remediate(&acct.iam, &self.notifier, &context, &state.name, &report.violations).await;
        report.outcome = remediation.outcome(self.config.mode);
        report.actions = remediation.actions;
        report.deleted_inline_policies = remediation.backups;
        Ok(())
    }

    fn findings_scope(&self, acct: &Guarded<I, E, F>) -> findings::Scope {
        findings::Scope::new(
            &acct.id,
            acct.findings.region(),
            &self.identity.partition,
            std::time::SystemTime::now(),
        )
    }

    /// Publishes the report if it calls for it. Returns a transient publish failure, if any.
    async fn notify(&self, report: &mut Report) -> Option<(String, AwsError)> {
        if !report.outcome.notifies() && report.outcome != Outcome::SweepCompleted {
            return None;
        }
        let notification = notify::notification(report);
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

    /// Checks every node role found in `SCAN_REGIONS`, in every guarded account: one
    /// notification per role that needed action, then one summary.
    async fn sweep(&self, mut report: Report) -> Handled {
        let swept = match &self.members {
            None => vec![self.sweep_account(&self.home, &report).await],
            Some(members) => match members.guarded().await {
                Ok(ids) => self.sweep_members(members, &ids, &report).await,
                Err(e) => return self.stopped(report, Stop::from_enter(e)).await,
            },
        };
        let central = self.members.is_some();
        let mut transient = None;
        for account in swept {
            if let Some(stop) = account.stop {
                if !central {
                    return self.stopped(report, stop).await;
                }
                let reason = stop.reason();
                error!(account = %account.account, reason = %reason, "account not swept");
                report.accounts.push(AccountLine::failed(&account.account, reason));
                if let Stop::Transient(context, source) = stop {
                    transient = transient.or(Some((format!("account {}: {context}", account.account), source)));
                }
                continue;
            }
            if central {
                report
                    .accounts
                    .push(AccountLine::checked(&account.account, &account.roles));
                report.warnings.extend(
                    account
                        .warnings
                        .into_iter()
                        .map(|w| format!("account {}: {w}", account.account)),
                );
            } else {
                report.warnings.extend(account.warnings);
            }
            report.security_hub = match (report.security_hub.take(), account.security_hub) {
                (Some(all), Some(more)) => Some(all.merge(more)),
                (all, more) => all.or(more),
            };
            transient = transient.or(account.transient);
            report.roles.extend(account.roles);
        }
        report.index = Some(IndexSource::Scanned);
        report.outcome = Outcome::SweepCompleted;
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
        report.reason = Some(report.sweep_summary());
        let publish = self.notify(&mut report).await;
        match transient.or(publish) {
            Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
            None => Handled::done(report),
        }
    }

    /// Every guarded account, `ACCOUNT_CONCURRENCY` at a time; the home account with the
    /// function's own credentials.
    async fn sweep_members(
        &self,
        members: &Accounts<I, E, F, M>,
        ids: &std::collections::BTreeSet<String>,
        parent: &Report,
    ) -> Vec<AccountSweep> {
        let limit = Semaphore::new(members.central().account_concurrency);
        join_all(ids.iter().map(|id| async {
            let _permit = limit.acquire().await.ok();
            if *id == self.home.id {
                return self.sweep_account(&self.home, parent).await;
            }
            match members.enter(id).await {
                Ok(acct) => self.sweep_account(&acct, parent).await,
                Err(e) => AccountSweep::stopped(id, Stop::from_enter(e)),
            }
        }))
        .await
    }

    /// Every node role of one account: discovery, each role, then its findings.
    async fn sweep_account(&self, acct: &Guarded<I, E, F>, parent: &Report) -> AccountSweep {
        let scan = match scan(&acct.eks, &self.config.scan_regions, self.config.discovery_concurrency).await {
            Ok(scan) => Arc::new(scan),
            Err(e) => return AccountSweep::stopped(&acct.id, Stop::from_aws("node-role discovery", e)),
        };
        acct.index.store(Arc::clone(&scan)).await;
        let mut parent = parent.clone();
        parent.account = Some(acct.id.clone());

        // Each cluster's add-on answers once for the whole sweep, not once per role (whatever
        // INDEX_TTL_SECONDS is): roles asking the same question wait for one call.
        let addon_facts = AddonFacts::new(SWEEP_FACTS_TTL);
        let limit = Semaphore::new(SWEEP_CONCURRENCY);
        let checked = join_all(
            scan.index
                .role_arns()
                .map(|arn| async { self.sweep_role(acct, &scan, arn, &parent, &limit, &addon_facts).await }),
        )
        .await;
        let mut swept = AccountSweep {
            account: acct.id.clone(),
            roles: Vec::new(),
            warnings: scan.skipped.clone(),
            security_hub: None,
            transient: None,
            stop: None,
        };
        for (role_report, role_transient) in checked {
            swept.transient = swept.transient.or(role_transient);
            swept.roles.push(role_report);
        }
        if self.config.security_hub {
            let scope = self.findings_scope(acct);
            swept.security_hub = Some(Box::pin(findings::sync_sweep(&acct.findings, &swept.roles, &scope)).await);
        }
        swept
    }

    async fn sweep_role(
        &self,
        acct: &Guarded<I, E, F>,
        scan: &Scan,
        arn: &str,
        parent: &Report,
        limit: &Semaphore,
        addon_facts: &AddonFacts,
    ) -> (Report, Option<(String, AwsError)>) {
        let _permit = limit.acquire().await.ok();
        let mut report = Report::new(parent.mode, parent.account.clone(), parent.event.clone());
        let Some(name) = iam_arn::role_name_from_arn(arn) else {
            return (
                report.finish(Outcome::Ignored, format!("{arn} is not a role ARN")),
                None,
            );
        };
        let known = Some((arn, scan.index.bindings(arn)));
        let stop = self.check_role(acct, &mut report, name, None, known, addon_facts).await;
        let mut report = match stop {
            Ok(()) => report,
            Err(Stop::Outcome(outcome, reason)) => report.finish(outcome, reason),
            Err(Stop::Transient(context, source)) => {
                let reason = format!("{context}: {source}");
                return (report.finish(Outcome::Failed, reason), Some((context, source)));
            }
        };
        let transient = self.notify(&mut report).await.or_else(|| transient_action(&report));
        (report, transient)
    }
}

fn transient_action(report: &Report) -> Option<(String, AwsError)> {
    report.actions.iter().find_map(|a| match &a.result {
        crate::report::ActionResult::Failed {
            error_kind: crate::ports::ErrorKind::Transient,
            error_code,
            error,
        } => Some((
            format!("remediating {}", a.policy_name),
            AwsError {
                operation: "remediation",
                kind: crate::ports::ErrorKind::Transient,
                code: error_code.clone(),
                message: error.clone(),
            },
        )),
        _ => None,
    })
}

fn log_report(report: &Report) {
    match serde_json::to_string(report) {
        Ok(json) => info!(target: "report", outcome = report.outcome.as_str(), report = %json, "report"),
        Err(e) => error!(error = %e, "report could not be serialized"),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
