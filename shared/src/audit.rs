//! The audit: what `enforce` would do, found the way the function finds it and changed nowhere.
//! Every node role of every audited account is checked with the function's own rules
//! ([`crate::assess`]) over read-only IAM ([`IamRead`]): the types here cannot detach or delete.
//! The result is a sweep Report in `dry-run`, with the actions enforce would take planned.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::join_all;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::accounts::{Accounts, Guarded, Members};
use crate::addons::AddonFacts;
use crate::assess::{Check, Stop};
use crate::config::Config;
use crate::discovery::{IndexSource, scan};
use crate::findings::NoFindings;
use crate::iam_arn;
use crate::policy::{self, NodeTrust};
use crate::ports::{Eks, IamRead};
use crate::remediate;
use crate::report::{AccountLine, EventSummary, Outcome, Report};

/// Roles checked at once per account, as in the function's sweep.
const ROLE_CONCURRENCY: usize = 4;

/// What the audit reports as it goes (a progress bar in a terminal).
pub trait Progress: Send + Sync {
    /// Discovery starts in `account`.
    fn discovering(&self, _account: &str) {}
    /// Discovery in `account` searched `regions` and found `clusters` clusters with `roles` node
    /// roles, about to be checked.
    fn found(&self, _account: &str, _regions: usize, _clusters: usize, _roles: usize) {}
    /// One role checked.
    fn checked(&self, _account: &str, _role: &str) {}
}

/// Reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// The accounts an audit covers: the caller's own, and with a member role, the members.
pub struct Audited<I, E, M> {
    pub home: Guarded<I, E, NoFindings>,
    pub members: Option<Accounts<I, E, NoFindings, M>>,
}

impl<I: IamRead, E: Eks, M: Members<I, E, NoFindings>> Audited<I, E, M> {
    /// Every node role in every audited account, as a dry-run sweep would see it.
    pub async fn audit(&self, config: &Config, progress: &impl Progress) -> Report {
        let mut report = Report::new(config.mode, Some(self.home.id.clone()), event("Audit"));
        report.outcome = Outcome::SweepCompleted;
        report.index = Some(IndexSource::Scanned);
        let check = Check {
            config,
            home: &self.home.id,
        };
        let swept = match &self.members {
            None => vec![audit_account(&check, &self.home, progress).await],
            Some(members) => match members.guarded().await {
                Ok(ids) => self.audit_members(&check, members, &ids, progress).await,
                Err(e) => {
                    return report.finish(Outcome::Failed, e.to_string());
                }
            },
        };
        for account in swept {
            match account {
                Ok((id, roles, warnings)) => {
                    if self.members.is_some() {
                        report.accounts.push(AccountLine::checked(&id, &roles));
                        report
                            .warnings
                            .extend(warnings.into_iter().map(|w| format!("account {id}: {w}")));
                    } else {
                        report.warnings.extend(warnings);
                    }
                    report.roles.extend(roles);
                }
                Err((id, reason)) if self.members.is_some() => report.accounts.push(AccountLine::failed(&id, reason)),
                Err((_, reason)) => return report.finish(Outcome::Failed, reason),
            }
        }
        report.reason = Some(report.sweep_summary());
        report
    }

    async fn audit_members(
        &self,
        check: &Check<'_>,
        members: &Accounts<I, E, NoFindings, M>,
        ids: &BTreeSet<String>,
        progress: &impl Progress,
    ) -> Vec<AccountAudit> {
        let limit = Semaphore::new(members.central().account_concurrency);
        join_all(ids.iter().map(|id| async {
            let _permit = limit.acquire().await.ok();
            if *id == self.home.id {
                return audit_account(check, &self.home, progress).await;
            }
            match members.enter(id).await {
                Ok(account) => audit_account(check, &account, progress).await,
                Err(e) => Err((id.clone(), Stop::from_enter(e).reason())),
            }
        }))
        .await
    }

    /// Why `role` in `account` (default: the caller's) is or is not treated as a node role, and
    /// the verdict on each of its policies.
    pub async fn explain(&self, config: &Config, account: Option<&str>, role: &str) -> Result<Explanation, String> {
        let member;
        let acct: &Guarded<I, E, NoFindings> = match (account, &self.members) {
            (None, _) => &self.home,
            (Some(id), _) if id == self.home.id => &self.home,
            (Some(id), Some(members)) => {
                members.check_guarded(id).await.map_err(|e| e.to_string())?;
                member = members.enter(id).await.map_err(|e| e.to_string())?;
                &member
            }
            (Some(id), None) => return Err(format!("account {id} needs --member-role to be reached")),
        };
        let found = acct
            .iam
            .role(role)
            .await
            .map_err(|e| format!("reading role {role}: {e}"))?
            .ok_or_else(|| format!("role {role} does not exist in account {}", acct.id))?;
        let trust = trust_of(&found.trust_policy);
        let check = Check {
            config,
            home: &self.home.id,
        };
        let mut report = Report::new(config.mode, Some(acct.id.clone()), event("Explain"));
        let facts = AddonFacts::new(std::time::Duration::from_secs(60));
        let verdict = check.assess(acct, &mut report, role, None, None, &facts).await;
        Ok(Explanation {
            trust,
            report: judged(report, verdict),
        })
    }
}

/// What an explanation says of a role's trust policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trust {
    /// `ec2`, `hybrid` or `none`: who may assume the role, as node discovery reads it.
    pub node_trust: &'static str,
    /// The services and principals its Allow statements name.
    pub principals: Vec<String>,
}

/// `explain`'s answer: the trust policy as read, and the role's Report.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub trust: Trust,
    pub report: Report,
}

fn trust_of(trust_policy: &str) -> Trust {
    let node_trust = match policy::node_trust(trust_policy) {
        Some(NodeTrust::Ec2) => "ec2",
        Some(NodeTrust::Hybrid) => "hybrid",
        None => "none",
    };
    let doc: serde_json::Value =
        serde_json::from_str(&policy::decode_document(trust_policy)).unwrap_or(serde_json::Value::Null);
    let mut principals = BTreeSet::new();
    for statement in policy::allow_statements(&doc) {
        match statement.get("Principal") {
            Some(serde_json::Value::Object(kinds)) => {
                for value in kinds.values() {
                    principals.extend(policy::strings(Some(value)).into_iter().map(str::to_owned));
                }
            }
            Some(serde_json::Value::String(any)) => {
                principals.insert(any.clone());
            }
            _ => {}
        }
    }
    Trust {
        node_trust,
        principals: principals.into_iter().collect(),
    }
}

/// One account's role reports and discovery warnings, or why it could not be audited.
type AccountAudit = Result<(String, Vec<Report>, Vec<String>), (String, String)>;

async fn audit_account<I: IamRead, E: Eks>(
    check: &Check<'_>,
    acct: &Guarded<I, E, NoFindings>,
    progress: &impl Progress,
) -> AccountAudit {
    progress.discovering(&acct.id);
    let config = check.config;
    let found = scan(&acct.eks, &config.scan_regions, config.discovery_concurrency)
        .await
        .map_err(|e| (acct.id.clone(), format!("node-role discovery: {e}")))?;
    if found.regions_searched == 0 && !config.scan_regions.is_empty() {
        // Nothing was searched: an empty answer here would read as "no node roles".
        return Err((
            acct.id.clone(),
            format!("no region could be searched ({})", found.skipped.join("; ")),
        ));
    }
    let found = Arc::new(found);
    acct.index.store(Arc::clone(&found)).await;
    let arns: Vec<&str> = found.index.role_arns().collect();
    let clusters: BTreeSet<(String, String)> = arns
        .iter()
        .flat_map(|arn| found.index.bindings(arn))
        .map(|b| (b.region().to_owned(), b.cluster().to_owned()))
        .collect();
    progress.found(&acct.id, config.scan_regions.len(), clusters.len(), arns.len());
    let facts = AddonFacts::new(std::time::Duration::from_secs(900));
    let limit = Semaphore::new(ROLE_CONCURRENCY);
    let (found_ref, facts_ref, limit_ref) = (&found, &facts, &limit);
    let roles = join_all(arns.iter().map(|&arn| async move {
        let (found, facts, limit) = (found_ref, facts_ref, limit_ref);
        let _permit = limit.acquire().await.ok();
        let mut report = Report::new(config.mode, Some(acct.id.clone()), event("Audit"));
        let Some(name) = iam_arn::role_name_from_arn(arn) else {
            return report.finish(Outcome::Ignored, format!("{arn} is not a role ARN"));
        };
        let known = Some((arn, found.index.bindings(arn)));
        let verdict = check.assess(acct, &mut report, name, None, known, facts).await;
        let mut report = judged(report, verdict);
        // an exempt role is still shown with what it backs
        if report.nodegroups.is_empty() {
            report.nodegroups = found.index.bindings(arn);
        }
        progress.checked(&acct.id, name);
        report
    }))
    .await;
    Ok((acct.id.clone(), roles, found.skipped.clone()))
}

fn event(name: &str) -> EventSummary {
    EventSummary {
        id: None,
        name: name.to_owned(),
        region: None,
        actor: None,
    }
}

/// The report of a checked role: what enforce would do when it has violations, and why the
/// check stopped when it did (a transient failure included: an audit is not retried).
fn judged(mut report: Report, verdict: Result<Option<crate::rules::RoleState>, Stop>) -> Report {
    match verdict {
        Ok(None) => report,
        Ok(Some(_)) => {
            report.actions = remediate::planned(&report.violations);
            report.outcome = Outcome::ViolationsFound;
            report
        }
        Err(Stop::Outcome(outcome, reason)) => report.finish(outcome, reason),
        Err(stop @ Stop::Transient(..)) => {
            let reason = stop.reason();
            report.finish(Outcome::Failed, reason)
        }
    }
}
