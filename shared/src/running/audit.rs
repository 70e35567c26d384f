//! The audit: what `enforce` would do, found the way the function finds it and changed nowhere.
//! It is the sweep ([`crate::running::sweep`]) with a response that plans instead of acting,
//! over the audit's port set, whose IAM is read-only ([`IamRead`]): it cannot detach or delete.
//! The result is a sweep Report in `dry-run`, with the actions enforce would take planned.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::action::{remediate, swap};
use crate::config::Config;
use crate::discovery::addons::AddonFacts;
use crate::ports::{IamRead, Ports};
use crate::running::accounts::{Accounts, Guarded};
use crate::running::sweep::{Progress, Respond, Sweep, Transient, Verdict};
use crate::types::{EventSummary, FindingsStatus, Outcome, Report, decode_document};
use crate::verdict::check::{Check, Stop};
use crate::verdict::policy;
use crate::verdict::policy::NodeTrust;

/// The accounts an audit covers: the caller's own, and with a member role, the members.
pub struct Audited<P: Ports> {
    pub home: Guarded<P>,
    pub members: Option<Accounts<P>>,
}

/// The audit's response to each judged role: the plan of what enforce would do.
struct Plan;

impl<P: Ports> Respond<P> for Plan {
    async fn role(&self, _account: &Guarded<P>, report: Report, verdict: Verdict) -> (Report, Option<Transient>) {
        (judged(report, verdict), None)
    }

    async fn account(&self, _account: &Guarded<P>, _roles: &[Report]) -> Option<FindingsStatus> {
        None
    }
}

impl<P: Ports> Audited<P> {
    /// Every node role in every audited account, as a dry-run sweep would see it.
    pub async fn audit(&self, config: &Config, progress: &impl Progress) -> Report {
        let mut report = Report::new(config.mode, Some(self.home.id.clone()), event("Audit"));
        let sweep = Sweep {
            check: Check {
                config,
                home: &self.home.id,
                today: crate::invocation::today(),
            },
            home: &self.home,
            members: self.members.as_ref(),
            respond: &Plan,
            progress,
        };
        match sweep.run(&mut report).await {
            Ok(_) => {
                report.summarize_sweep();
                report
            }
            // an audit is not retried: a transient failure is a failed audit too
            Err(stop) => report.finish(Outcome::Failed, stop.reason()),
        }
    }

    /// Why `role` in `account` (default: the caller's) is or is not treated as a node role, and
    /// the verdict on each of its policies.
    pub async fn explain(&self, config: &Config, account: Option<&str>, role: &str) -> Result<Explanation, String> {
        let member;
        let acct: &Guarded<P> = match (account, &self.members) {
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
            today: crate::invocation::today(),
        };
        let mut report = Report::new(config.mode, Some(acct.id.clone()), event("Explain"));
        let facts = AddonFacts::new(std::time::Duration::from_secs(60));
        let verdict = check
            .assess(&acct.in_account(), &mut report, role, None, None, &facts)
            .await;
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
        serde_json::from_str(&decode_document(trust_policy)).unwrap_or(serde_json::Value::Null);
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

fn event(name: &str) -> EventSummary {
    EventSummary {
        id: None,
        name: name.to_owned(),
        region: None,
        actor: None,
    }
}

/// The swaps of a checked role with the commands that undo them, none undone.
fn planned_swaps(mut report: Report) -> Report {
    report.swaps.iter_mut().for_each(swap::plan);
    swap::settle(&mut report);
    report
}

/// The report of a checked role: what enforce would do when it has violations, and why the
/// check stopped when it did (a transient failure included: an audit is not retried).
fn judged(mut report: Report, verdict: Verdict) -> Report {
    match verdict {
        Ok(None) => planned_swaps(report),
        Ok(Some(_)) => {
            report.actions = remediate::planned(&report.violations);
            report.outcome = Outcome::ViolationsFound;
            planned_swaps(report)
        }
        Err(Stop::Outcome(outcome, reason)) => report.finish(outcome, reason),
        Err(stop @ Stop::Transient(..)) => {
            let reason = stop.reason();
            report.finish(Outcome::Failed, reason)
        }
    }
}
