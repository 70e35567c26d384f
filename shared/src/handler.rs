//! The use case: event in, Report out. Decides with the pure core, acts through the ports.

use std::sync::Arc;

use futures::future::{join_all, try_join_all};
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::{error, info, warn};

use crate::addons::{self, AddonFacts};
use crate::config::Config;
use crate::deadline::{self, Budget};
use crate::discovery::{IndexCache, IndexSource, NodeBinding, Scan, scan};
use crate::emf::{self, MetricSink};
use crate::findings::{self, NoFindings};
use crate::iam_arn;
use crate::metrics;
use crate::migration;
use crate::notify;
use crate::policy::{self, NodeTrust};
use crate::ports::{AwsError, Eks, Findings, Iam, Notifier, Trails};
use crate::remediate::remediate;
use crate::report::{EventSummary, NotificationStatus, Outcome, Report, RoleRef};
use crate::rules::{Allowlist, InlinePolicy, RoleState};
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
pub struct Remediator<I, E, N, F = NoFindings, T = NoTrails> {
    config: Config,
    identity: Identity,
    iam: I,
    eks: E,
    notifier: N,
    /// Security Hub, used when `SECURITY_HUB=on`.
    findings: F,
    /// CloudTrail, asked by the sweep whether the guard is blind.
    trails: T,
    index: IndexCache,
    /// How each cluster's add-ons get credentials, reused across warm invocations for
    /// `INDEX_TTL_SECONDS`.
    addon_facts: AddonFacts,
    /// Receives one EMF line per invocation (stdout in the function); none by default.
    metrics: Option<MetricSink>,
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

/// Why checking a role stopped early, as a report outcome, or an error for the handler.
enum Stop {
    Outcome(Outcome, String),
    Transient(String, AwsError),
}

impl<I: Iam, E: Eks, N: Notifier> Remediator<I, E, N> {
    pub fn new(config: Config, identity: Identity, iam: I, eks: E, notifier: N) -> Self {
        Remediator {
            index: IndexCache::new(config.index_ttl),
            addon_facts: AddonFacts::new(config.index_ttl),
            metrics: None,
            config,
            identity,
            iam,
            eks,
            notifier,
            findings: NoFindings,
            trails: NoTrails,
        }
    }
}

impl<I, E, N, F, T> Remediator<I, E, N, F, T> {
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends one CloudWatch EMF line per invocation to `sink` ([`emf::to_stdout`] in Lambda).
    pub fn with_metrics(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.metrics = Some(Box::new(sink));
        self
    }

    /// Imports findings through `findings` when the configuration says `SECURITY_HUB=on`.
    pub fn with_findings<G: Findings>(self, findings: G) -> Remediator<I, E, N, G, T> {
        self.with_ports(|_, trails| (findings, trails))
    }

    /// Lets the sweep check that a CloudTrail trail feeds the guard's rules.
    pub fn with_trails<U: Trails>(self, trails: U) -> Remediator<I, E, N, F, U> {
        self.with_ports(|findings, _| (findings, trails))
    }

    /// The same remediator with its optional ports replaced.
    fn with_ports<G, U>(self, replace: impl FnOnce(F, T) -> (G, U)) -> Remediator<I, E, N, G, U> {
        let (findings, trails) = replace(self.findings, self.trails);
        Remediator {
            config: self.config,
            identity: self.identity,
            iam: self.iam,
            eks: self.eks,
            notifier: self.notifier,
            findings,
            trails,
            index: self.index,
            addon_facts: self.addon_facts,
            metrics: self.metrics,
        }
    }
}

impl<I: Iam, E: Eks, N: Notifier, F: Findings, T: Trails> Remediator<I, E, N, F, T> {
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
        let report = Report::new(self.config.mode, Some(self.identity.account.clone()), summary);
        let ignored = matches!(event.trigger, Trigger::Ignored { .. });
        match event.account.as_deref() {
            _ if ignored => {}
            Some(account) if account == self.identity.account => {}
            Some(account) => {
                let reason = format!(
                    "event from account {account}; this function guards account {}",
                    self.identity.account
                );
                return Handled::done(report.finish(Outcome::Ignored, reason));
            }
            None => return Handled::done(report.finish(Outcome::Ignored, "event names no account".to_owned())),
        }
        match event.trigger {
            Trigger::Sweep => self.sweep(report).await,
            Trigger::AttachRolePolicy { role_name, .. } | Trigger::PutRolePolicy { role_name, .. } => {
                self.check_and_notify(report, &role_name, None).await
            }
            Trigger::CreateNodegroup {
                region,
                cluster,
                nodegroup,
                node_role_arn,
            } => {
                let found = match self.eks.nodegroup(&region, &cluster, &nodegroup).await {
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
                self.index.learn(&found.node_role_arn, binding.clone()).await;
                let Some(role_name) = iam_arn::role_name_from_arn(&found.node_role_arn) else {
                    let reason = format!("node group role {:?} is not a role ARN", found.node_role_arn);
                    return Handled::done(report.finish(Outcome::Ignored, reason));
                };
                self.check_and_notify(report, role_name, Some(binding)).await
            }
            Trigger::Ignored { reason } => Handled::done(report.finish(Outcome::Ignored, reason)),
        }
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
    async fn check_and_notify(&self, mut report: Report, role_name: &str, confirmed: Option<NodeBinding>) -> Handled {
        let stop = self
            .check_role(&mut report, role_name, confirmed, None, &self.addon_facts)
            .await;
        let mut report = match stop {
            Ok(()) => report,
            Err(stop) => return self.stopped(report, stop).await,
        };
        if self.config.security_hub && report.node_role {
            // boxed: the SDK's futures are large, and they live on the heap instead of the stack
            let scope = self.findings_scope();
            let status = Box::pin(findings::sync_role(&self.findings, &report, &scope)).await;
            report.security_hub = Some(status);
        }
        let transient = self.notify(&mut report).await;
        match transient.or_else(|| transient_action(&report)) {
            Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
            None => Handled::done(report),
        }
    }

    /// Fills `report` for one role. `known` skips discovery (the sweep already has the index).
    async fn check_role(
        &self,
        report: &mut Report,
        role_name: &str,
        confirmed: Option<NodeBinding>,
        known: Option<(&str, Vec<NodeBinding>)>,
        addon_facts: &AddonFacts,
    ) -> Result<(), Stop> {
        report.role = Some(RoleRef {
            name: role_name.to_owned(),
            arn: known.as_ref().map(|(arn, _)| (*arn).to_owned()),
        });
        if let Some(reason) = self.exemption(role_name, None) {
            return Err(Stop::Outcome(Outcome::Exempt, reason));
        }

        let (role_arn, bindings) = match known {
            Some((arn, bindings)) => (arn.to_owned(), bindings),
            None => {
                let role = match self.iam.role(role_name).await {
                    Ok(Some(role)) => role,
                    Ok(None) => {
                        return Err(Stop::Outcome(
                            Outcome::Ignored,
                            format!("role {role_name} no longer exists"),
                        ));
                    }
                    Err(e) => return Err(Stop::from_aws("GetRole", e)),
                };
                report.role = Some(RoleRef {
                    name: role.name.clone(),
                    arn: Some(role.arn.clone()),
                });
                if let Some(reason) = self.exemption(&role.name, Some(&role.arn)) {
                    return Err(Stop::Outcome(Outcome::Exempt, reason));
                }
                if confirmed.is_none() && policy::node_trust(&role.trust_policy).is_none() {
                    return Err(Stop::Outcome(
                        Outcome::NotNodeRole,
                        "the role's trust policy admits neither ec2.amazonaws.com nor a hybrid-node service \
                         (ssm.amazonaws.com, rolesanywhere.amazonaws.com)"
                            .to_owned(),
                    ));
                }
                let mut bindings = match self.discover(report, &role.arn, &role.trust_policy).await {
                    Ok(bindings) => bindings,
                    Err(e) => return Err(Stop::from_aws("node-role discovery", e)),
                };
                if let Some(binding) = confirmed.filter(|b| !bindings.contains(b)) {
                    bindings.push(binding);
                }
                (role.arn, bindings)
            }
        };
        report.nodegroups = bindings;
        if report.nodegroups.is_empty() {
            return Err(Stop::Outcome(
                Outcome::NotNodeRole,
                format!(
                    "backs no managed node group or node access entry in {}",
                    self.config.scan_regions.join(", ")
                ),
            ));
        }
        report.node_role = true;

        let state = match self.role_state(role_name, &role_arn).await {
            Ok(Some(state)) => state,
            Ok(None) => {
                return Err(Stop::Outcome(
                    Outcome::Ignored,
                    format!("role {role_name} no longer exists"),
                ));
            }
            Err(e) => return Err(Stop::from_aws("reading the role's policies", e)),
        };
        let allowlist = Allowlist::from_config(&self.config);
        let to_check = allowlist.addons_to_check(&state);
        let needs = addons::needs(&self.eks, addon_facts, &to_check, &report.nodegroups).await;
        let evaluation = allowlist.evaluate(&state, &needs);
        report.migrations = migration::plan(&state.arn, &evaluation, &report.nodegroups);
        report.kept = evaluation.kept;
        report.violations = evaluation.violations;
        if report.violations.is_empty() {
            report.outcome = Outcome::Compliant;
            return Ok(());
        }

        let context = notify::BackupContext {
            mode: self.config.mode,
            account: report.account.clone(),
            event: report.event.clone(),
        };
        let remediation = remediate(&self.iam, &self.notifier, &context, &state.name, &report.violations).await;
        report.outcome = remediation.outcome(self.config.mode);
        report.actions = remediation.actions;
        report.deleted_inline_policies = remediation.backups;
        Ok(())
    }

    fn findings_scope(&self) -> findings::Scope {
        findings::Scope::new(
            &self.identity.account,
            self.findings.region(),
            &self.identity.partition,
            std::time::SystemTime::now(),
        )
    }

    fn exemption(&self, name: &str, arn: Option<&str>) -> Option<String> {
        if self
            .identity
            .own_role
            .as_deref()
            .is_some_and(|own| iam_arn::same_role_name(own, name))
        {
            return Some("this is the function's own execution role, which it never modifies".to_owned());
        }
        self.config
            .exempt_roles
            .iter()
            .find(|exempt| {
                iam_arn::same_role_name(exempt, name) || arn.is_some_and(|arn| iam_arn::same_role_arn(exempt, arn))
            })
            .map(|exempt| format!("exempt by EXEMPT_ROLES ({exempt})"))
    }

    /// Node bindings of `role_arn` from the (cached) index.
    async fn discover(
        &self,
        report: &mut Report,
        role_arn: &str,
        trust_policy: &str,
    ) -> Result<Vec<NodeBinding>, AwsError> {
        let (scan, source) = self
            .index
            .get(&self.eks, &self.config.scan_regions, self.config.discovery_concurrency)
            .await?;
        report.index = Some(source);
        report.warnings.extend(scan.skipped.iter().cloned());
        let bindings = scan.index.bindings(role_arn);
        if bindings.is_empty() && policy::node_trust(trust_policy) == Some(NodeTrust::Hybrid) {
            report
                .warnings
                .push("hybrid-node trust but no HYBRID_LINUX access entry found for this role".to_owned());
        }
        Ok(bindings)
    }

    /// The role's current policies, re-read from IAM; `None` if the role is gone.
    async fn role_state(&self, name: &str, arn: &str) -> Result<Option<RoleState>, AwsError> {
        let (attached, inline_names) =
            match futures::try_join!(self.iam.attached_policies(name), self.iam.inline_policy_names(name)) {
                Ok(found) => found,
                Err(e) if e.code.as_deref() == Some("NoSuchEntity") => return Ok(None),
                Err(e) => return Err(e),
            };
        let documents = try_join_all(inline_names.iter().map(|p| self.iam.inline_policy(name, p))).await?;
        let inline = inline_names
            .into_iter()
            .zip(documents)
            .map(|(name, document)| InlinePolicy { name, document })
            .collect();
        Ok(Some(RoleState {
            name: name.to_owned(),
            arn: arn.to_owned(),
            attached,
            inline,
        }))
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

    /// Checks every node role found in `SCAN_REGIONS`: one notification per role that needed
    /// action, then one summary.
    async fn sweep(&self, mut report: Report) -> Handled {
        let scan = match scan(&self.eks, &self.config.scan_regions, self.config.discovery_concurrency).await {
            Ok(scan) => Arc::new(scan),
            Err(e) => return self.stopped(report, Stop::from_aws("node-role discovery", e)).await,
        };
        self.index.store(Arc::clone(&scan)).await;
        report.index = Some(IndexSource::Scanned);
        report.warnings.extend(scan.skipped.iter().cloned());

        // Each cluster's add-on answers once for the whole sweep, not once per role (whatever
        // INDEX_TTL_SECONDS is): roles asking the same question wait for one call.
        let addon_facts = AddonFacts::new(SWEEP_FACTS_TTL);
        let limit = Semaphore::new(SWEEP_CONCURRENCY);
        let roles = join_all(
            scan.index
                .role_arns()
                .map(|arn| async { self.sweep_role(&scan, arn, &report, &limit, &addon_facts).await }),
        )
        .await;
        let mut transient = None;
        for (role_report, role_transient) in roles {
            transient = transient.or(role_transient);
            report.roles.push(role_report);
        }
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
        if self.config.security_hub {
            let scope = self.findings_scope();
            let status = Box::pin(findings::sync_sweep(&self.findings, &report.roles, &scope)).await;
            report.security_hub = Some(status);
        }
        let needing = report.roles.iter().filter(|r| r.outcome.notifies()).count();
        let unfinished: Vec<&str> = report
            .roles
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .filter_map(|r| r.role.as_ref().map(|role| role.name.as_str()))
            .collect();
        report.reason = Some(if unfinished.is_empty() {
            format!("{} node role(s) checked, {needing} needed action", report.roles.len())
        } else {
            format!(
                "{} node role(s) checked, {needing} needed action; not finished, retried with this \
                 invocation: {}",
                report.roles.len(),
                unfinished.join(", ")
            )
        });
        let publish = self.notify(&mut report).await;
        match transient.or(publish) {
            Some((context, source)) => Handled::retry(report, HandlerError::Transient { context, source }),
            None => Handled::done(report),
        }
    }

    async fn sweep_role(
        &self,
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
        let stop = self.check_role(&mut report, name, None, known, addon_facts).await;
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

impl Stop {
    /// Transient errors become handler errors; permanent ones a `failed` outcome.
    fn from_aws(context: &str, e: AwsError) -> Stop {
        if e.is_transient() {
            Stop::Transient(context.to_owned(), e)
        } else {
            Stop::Outcome(Outcome::Failed, format!("{context}: {e}"))
        }
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
