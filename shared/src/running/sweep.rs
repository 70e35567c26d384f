//! The sweep: every node role of every guarded account, top to bottom: find (discovery in each
//! account), judge (each role's check), act and tell (each role's [`Respond`]), then what the
//! account as a whole needs (its findings). The function's scheduled sweep and the audit are
//! this one loop with two responses: the function acts per mode and notifies, the audit plans.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::Semaphore;
use tracing::error;

use crate::discovery::addons::AddonFacts;
use crate::discovery::{Scan, scan};
use crate::ports::Ports;
use crate::running::accounts::{Accounts, Guarded};
use crate::types::{AccountLine, AwsError, FindingsStatus, IndexSource, Outcome, Report, RoleState, arn};
use crate::verdict::check::{Check, Stop};

/// Node roles checked at once in one account.
const ROLE_CONCURRENCY: usize = 4;
/// Lifetime of a sweep's add-on facts: longer than any sweep runs, so each cluster's add-on
/// answers once per sweep, not once per role (whatever `INDEX_TTL_SECONDS` is).
const FACTS_TTL: Duration = Duration::from_secs(900);

/// A failure a retry could fix: what was being done, and the error.
pub type Transient = (String, AwsError);

/// A role's check: `Some(state)` when it has violations to act on, `None` when the report
/// already says why not (compliant), or why the check stopped.
pub type Verdict = Result<Option<RoleState>, Stop>;

/// What the sweep reports as it goes (a progress bar in a terminal).
pub trait Progress: Send + Sync {
    /// Discovery starts in `account`.
    fn discovering(&self, _account: &str) {}
    /// Discovery in `account` searched `regions` and found `clusters` clusters with `roles` node
    /// roles, about to be checked.
    fn found(&self, _account: &str, _regions: usize, _clusters: usize, _roles: usize) {}
    /// One role checked.
    fn checked(&self, _account: &str, _role: &str) {}
}

/// Reports nothing: the function's sweep.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What happens to each judged role, and to each account once its roles are done.
pub trait Respond<P: Ports>: Sync {
    /// Acts on one judged role and tells about it; returns its report and a failure a retry
    /// could fix.
    fn role(
        &self,
        account: &Guarded<P>,
        report: Report,
        verdict: Verdict,
    ) -> impl Future<Output = (Report, Option<Transient>)> + Send;

    /// After every role of `account`: its Security Hub findings, when this response keeps them.
    fn account(&self, account: &Guarded<P>, roles: &[Report]) -> impl Future<Output = Option<FindingsStatus>> + Send;
}

/// One sweep over the home account and, in organization mode, the members.
pub struct Sweep<'a, P: Ports, R> {
    pub check: Check<'a>,
    pub home: &'a Guarded<P>,
    pub members: Option<&'a Accounts<P>>,
    pub respond: &'a R,
    pub progress: &'a dyn Progress,
}

/// What a sweep found in one account.
struct AccountSweep {
    account: String,
    roles: Vec<Report>,
    warnings: Vec<String>,
    security_hub: Option<FindingsStatus>,
    /// The first failure a retry could fix.
    transient: Option<Transient>,
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

impl<P: Ports, R: Respond<P>> Sweep<'_, P, R> {
    /// Sweeps every guarded account into `report` (roles, a line per account in organization
    /// mode, warnings, findings). `Err` when the sweep as a whole could not run: the account list
    /// could not be had, or the one account of a per-account deployment could not be searched.
    pub async fn run(&self, report: &mut Report) -> Result<Option<Transient>, Stop> {
        let swept = match self.members {
            None => vec![self.account(self.home, report).await],
            Some(members) => match members.guarded().await {
                Ok(ids) => self.members(members, &ids, report).await,
                Err(e) => return Err(e.stop()),
            },
        };
        let central = self.members.is_some();
        let mut transient = None;
        for account in swept {
            if let Some(stop) = account.stop {
                if !central {
                    return Err(stop);
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
        Ok(transient)
    }

    /// Every guarded account, `ACCOUNT_CONCURRENCY` at a time; the home account with the
    /// guard's own credentials.
    async fn members(&self, members: &Accounts<P>, ids: &BTreeSet<String>, parent: &Report) -> Vec<AccountSweep> {
        let limit = Semaphore::new(members.central().account_concurrency);
        join_all(ids.iter().map(|id| async {
            let _permit = limit.acquire().await.ok();
            if *id == self.home.id {
                return self.account(self.home, parent).await;
            }
            match members.enter(id).await {
                Ok(account) => self.account(&account, parent).await,
                Err(e) => AccountSweep::stopped(id, e.stop()),
            }
        }))
        .await
    }

    /// Every node role of one account: find, then judge and respond to each, then the account.
    async fn account(&self, account: &Guarded<P>, parent: &Report) -> AccountSweep {
        self.progress.discovering(&account.id);
        let config = self.check.config;
        let in_account = account.in_account();
        let sources = in_account.sources();
        let found = match scan(&sources, &config.scan_regions, config.discovery_concurrency).await {
            Ok(found) => Arc::new(found),
            Err(e) => return AccountSweep::stopped(&account.id, Stop::from_aws("node-role discovery", e)),
        };
        account.index.store(Arc::clone(&found)).await;
        let arns: Vec<&str> = found.index.role_arns().collect();
        self.progress.found(
            &account.id,
            config.scan_regions.len(),
            cluster_count(&found),
            arns.len(),
        );

        let facts = AddonFacts::new(FACTS_TTL);
        let limit = Semaphore::new(ROLE_CONCURRENCY);
        let checked = join_all(
            arns.iter()
                .map(|arn| self.role(account, &found, arn, parent, &limit, &facts)),
        )
        .await;
        let mut swept = AccountSweep {
            account: account.id.clone(),
            roles: Vec::new(),
            warnings: found.skipped.clone(),
            security_hub: None,
            transient: None,
            stop: None,
        };
        for (report, transient) in checked {
            swept.transient = swept.transient.or(transient);
            swept.roles.push(report);
        }
        swept.security_hub = self.respond.account(account, &swept.roles).await;
        swept
    }

    /// One role: judged with the scan's bindings, then handed to the response.
    async fn role(
        &self,
        account: &Guarded<P>,
        found: &Scan,
        role_arn: &str,
        parent: &Report,
        limit: &Semaphore,
        facts: &AddonFacts,
    ) -> (Report, Option<Transient>) {
        let _permit = limit.acquire().await.ok();
        let report = Report::new(parent.mode, Some(account.id.clone()), parent.event.clone());
        let Some(name) = arn::role_name_from_arn(role_arn) else {
            return (
                report.finish(Outcome::Ignored, format!("{role_arn} is not a role ARN")),
                None,
            );
        };
        let mut report = report;
        let known = found.index.facts(role_arn);
        let bindings = known.bindings.clone();
        let verdict = self
            .check
            .assess(
                &account.in_account(),
                &mut report,
                name,
                None,
                Some((role_arn, known)),
                facts,
            )
            .await;
        // an exempt role is still shown with what it backs
        if report.nodegroups.is_empty() {
            report.nodegroups = bindings;
        }
        let done = self.respond.role(account, report, verdict).await;
        self.progress.checked(&account.id, name);
        done
    }
}

/// The clusters a scan found node roles in.
fn cluster_count(found: &Scan) -> usize {
    found
        .index
        .role_arns()
        .flat_map(|arn| found.index.bindings(arn))
        .map(|b| (b.region().to_owned(), b.cluster().to_owned()))
        .collect::<BTreeSet<_>>()
        .len()
}
