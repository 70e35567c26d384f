//! What a sweep adds to its Report: a line per guarded account (organization mode), the totals
//! over the roles it checked, and the one-line summary built from them.

use serde::Serialize;

use super::{ActionResult, Outcome, Report};

/// A sweep's counts over the roles it checked. A sweep's own `violations` and `actions` are
/// empty (each role has its own); these are what its subject, text and `reason` show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Node roles checked.
    pub roles: usize,
    /// Of which needed action: violations found or acted on, or the role could not be checked.
    pub needed_action: usize,
    /// Of which could not be checked (outcome `failed`).
    pub not_checked: usize,
    /// Violations over every role; excepted ones are not among them.
    pub violations: usize,
    /// Violations an exception keeps until its date.
    pub excepted: usize,
    /// Exceptions that stopped applying today (their policies are among the violations).
    pub expired_exceptions: usize,
    pub actions: ActionTotals,
    /// Managed node groups whose instances run with another role than their `nodeRole`.
    #[serde(skip_serializing_if = "is_zero")]
    pub credential_swaps: usize,
    /// Of which undone.
    #[serde(skip_serializing_if = "is_zero")]
    pub swaps_undone: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Actions over every role, by result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ActionTotals {
    /// `dry-run`: what enforce would do.
    pub planned: usize,
    pub done: usize,
    pub already_done: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Totals {
    pub fn of(roles: &[Report]) -> Self {
        let mut totals = Totals {
            roles: roles.len(),
            ..Totals::default()
        };
        for role in roles {
            totals.needed_action += usize::from(role.outcome.notifies());
            totals.not_checked += usize::from(role.outcome == Outcome::Failed);
            totals.violations += role.violations.len();
            totals.excepted += role.excepted.len();
            totals.expired_exceptions += role.expired_exceptions.len();
            totals.credential_swaps += role.swaps.len();
            totals.swaps_undone += role
                .swaps
                .iter()
                .filter(|s| matches!(s.result, Some(ActionResult::Done | ActionResult::AlreadyDone)))
                .count();
            for action in &role.actions {
                let count = match action.result {
                    ActionResult::Planned => &mut totals.actions.planned,
                    ActionResult::Done => &mut totals.actions.done,
                    ActionResult::AlreadyDone => &mut totals.actions.already_done,
                    ActionResult::Failed { .. } => &mut totals.actions.failed,
                    ActionResult::Skipped { .. } => &mut totals.actions.skipped,
                };
                *count += 1;
            }
        }
        totals
    }
}

impl ActionTotals {
    /// `actions: 2 done, 1 FAILED`, or `no actions`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            (self.planned, "planned (dry-run)"),
            (self.done, "done"),
            (self.already_done, "already done"),
            (self.failed, "FAILED"),
            (self.skipped, "SKIPPED"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            "no actions".to_owned()
        } else {
            format!("actions: {}", parts.join(", "))
        }
    }
}

/// One guarded account in an organization-mode sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountLine {
    pub account: String,
    /// Node roles checked in the account.
    pub roles: usize,
    /// Of which needed action (or could not be checked).
    pub needed_action: usize,
    /// Why the account could not be swept (its role is missing or denies AssumeRole, discovery
    /// failed, ...); `None` when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AccountLine {
    pub fn checked(account: &str, roles: &[Report]) -> Self {
        AccountLine {
            account: account.to_owned(),
            roles: roles.len(),
            needed_action: roles.iter().filter(|r| r.outcome.notifies()).count(),
            reason: None,
        }
    }

    pub fn failed(account: &str, reason: String) -> Self {
        AccountLine {
            account: account.to_owned(),
            roles: 0,
            needed_action: 0,
            reason: Some(reason),
        }
    }
}

impl Report {
    /// Ends a sweep's Report: its [`Totals`], summed once over `roles`, and the one-line
    /// summary in `reason`, built from them.
    pub fn summarize_sweep(&mut self) {
        let totals = Totals::of(&self.roles);
        self.reason = Some(self.sweep_summary(&totals));
        self.totals = Some(totals);
    }

    /// The sweep's totals: the ones [`Self::summarize_sweep`] stored, else summed now.
    pub fn sweep_totals(&self) -> Totals {
        self.totals.unwrap_or_else(|| Totals::of(&self.roles))
    }

    /// The sweep's one-line summary: what was checked, what needed action, what is left for the retry.
    fn sweep_summary(&self, totals: &Totals) -> String {
        let report = self;
        let mut summary = format!(
            "{} node role(s) checked, {} needed action: {} violation(s), {} excepted; {}",
            totals.roles,
            totals.needed_action,
            totals.violations,
            totals.excepted,
            totals.actions.summary()
        );
        if totals.credential_swaps > 0 {
            summary.push_str(&format!(
                "; {} CREDENTIAL SWAP(S), {} undone",
                totals.credential_swaps, totals.swaps_undone
            ));
        }
        if totals.expired_exceptions > 0 {
            summary.push_str(&format!("; {} exception(s) expired today", totals.expired_exceptions));
        }
        if !report.accounts.is_empty() {
            let failed: Vec<&str> = report
                .accounts
                .iter()
                .filter(|a| a.reason.is_some())
                .map(|a| a.account.as_str())
                .collect();
            summary = format!("{} account(s) swept, {summary}", report.accounts.len() - failed.len());
            if !failed.is_empty() {
                summary.push_str(&format!("; account(s) not swept: {}", failed.join(", ")));
            }
        }
        let unfinished: Vec<String> = report
            .roles
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .filter_map(|r| {
                let name = &r.role.as_ref()?.name;
                Some(match (&r.account, report.accounts.is_empty()) {
                    (Some(account), false) => format!("{account}/{name}"),
                    _ => name.clone(),
                })
            })
            .collect();
        if !unfinished.is_empty() {
            summary.push_str(&format!(
                "; not finished, retried with this invocation: {}",
                unfinished.join(", ")
            ));
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actions_part_names_each_result_that_happened_and_only_those() {
        assert_eq!(ActionTotals::default().summary(), "no actions");
        let enforce = ActionTotals {
            done: 2,
            already_done: 1,
            failed: 1,
            skipped: 3,
            ..ActionTotals::default()
        };
        assert_eq!(
            enforce.summary(),
            "actions: 2 done, 1 already done, 1 FAILED, 3 SKIPPED"
        );
    }
}
