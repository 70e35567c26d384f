//! The exit-code policy, and the stderr lines that explain a code other than 0.
//!
//! 0: clean (or violations without `--exit-code`). 1: violations with `--exit-code`. 2: an
//! error, or an incomplete audit: a node role that could not be checked or an account that
//! could not be entered is never "clean", whatever it may carry.

use std::process::ExitCode;

use noderole::Outcome;
use noderole::Report;
use noderole::running::audit::Explanation;

use crate::render;

/// How a command ended, as the exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: nothing to report, or violations without `--exit-code`.
    Clean,
    /// 1: violations found, with `--exit-code`.
    Violations,
    /// 2: an error, or something that could not be checked.
    Incomplete,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Clean => ExitCode::SUCCESS,
            Exit::Violations => ExitCode::from(1),
            Exit::Incomplete => ExitCode::from(2),
        }
    }
}

/// An error the command could not get past: one sentence on stderr, exit 2.
pub fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("{}", error_line(&e));
    Exit::Incomplete.into()
}

/// `error: ` and the error with its context, on one line whatever the messages hold.
fn error_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    format!("error: {}", text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The audit's code: incomplete before violations, violations only when asked for.
pub fn of_audit(report: &Report, exit_code: bool) -> Exit {
    if render::unchecked(report) > 0 {
        return Exit::Incomplete;
    }
    let violations = report.roles.iter().any(|r| !r.violations.is_empty());
    if exit_code && violations {
        Exit::Violations
    } else {
        Exit::Clean
    }
}

/// `explain`'s code: 2 when the check of the role could not finish.
pub fn of_explanation(explanation: &Explanation) -> Exit {
    if explanation.report.outcome == Outcome::Failed {
        Exit::Incomplete
    } else {
        Exit::Clean
    }
}

/// What the audit could not read or check, one stderr line each: discovery warnings, then
/// accounts not entered, then node roles not checked.
pub fn audit_problems(report: &Report) -> Vec<String> {
    let warnings = report.warnings.iter().map(|w| format!("warning: {w}"));
    let accounts = report.accounts.iter().filter(|a| a.reason.is_some()).map(|line| {
        format!(
            "error: account {} not audited: {}",
            line.account,
            line.reason.as_deref().unwrap_or_default()
        )
    });
    let roles = report
        .roles
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .map(|role| {
            format!(
                "error: node role {} in account {} not checked: {}",
                role.role.as_ref().map_or("?", |r| r.name.as_str()),
                role.account.as_deref().unwrap_or("?"),
                role.reason.as_deref().unwrap_or("unknown reason")
            )
        });
    warnings.chain(accounts).chain(roles).collect()
}

#[cfg(test)]
mod tests {
    use noderole::types::Violation;
    use noderole::types::{AccountLine, EventSummary, RoleRef};
    use noderole::{Mode, Outcome};

    use super::*;

    fn role(name: &str, outcome: Outcome, violating: bool) -> Report {
        let mut r = Report::new(Mode::DryRun, Some("111122223333".into()), summary());
        r.role = Some(RoleRef {
            name: name.into(),
            arn: None,
        });
        if violating {
            r.violations.push(Violation::ManagedPolicy {
                policy_name: "AdministratorAccess".into(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                reason: "AWS-managed policy not in the allowlist".into(),
                used_by: None,
            });
        }
        r.finish(outcome, None)
    }

    fn summary() -> EventSummary {
        EventSummary {
            id: None,
            name: "audit".into(),
            region: None,
            actor: None,
        }
    }

    fn sweep(roles: Vec<Report>) -> Report {
        let mut r = Report::new(Mode::DryRun, Some("111122223333".into()), summary());
        r.roles = roles;
        r.finish(Outcome::SweepCompleted, None)
    }

    #[test]
    fn violations_exit_1_only_with_exit_code() {
        let report = sweep(vec![role("bad", Outcome::ViolationsFound, true)]);
        assert_eq!(of_audit(&report, true), Exit::Violations);
        assert_eq!(of_audit(&report, false), Exit::Clean);
    }

    #[test]
    fn a_clean_audit_exits_0() {
        let report = sweep(vec![role("good", Outcome::Compliant, false)]);
        assert_eq!(of_audit(&report, true), Exit::Clean);
    }

    #[test]
    fn an_incomplete_audit_is_never_clean() {
        // a role that could not be checked outweighs violations, with or without --exit-code
        let report = sweep(vec![
            role("bad", Outcome::ViolationsFound, true),
            role("unread", Outcome::Failed, false),
        ]);
        assert_eq!(of_audit(&report, true), Exit::Incomplete);
        assert_eq!(of_audit(&report, false), Exit::Incomplete);

        let mut report = sweep(vec![role("good", Outcome::Compliant, false)]);
        report.accounts = vec![
            AccountLine::checked("111122223333", &report.roles),
            AccountLine::failed("444455556666", "AccessDenied on sts:AssumeRole".into()),
        ];
        assert_eq!(of_audit(&report, false), Exit::Incomplete);
    }

    #[test]
    fn problems_are_warnings_then_accounts_then_roles() {
        let mut failed = role("unread", Outcome::Failed, false);
        failed.reason = Some("iam:ListRolePolicies denied".into());
        let mut report = sweep(vec![role("good", Outcome::Compliant, false), failed]);
        report.warnings = vec!["eu-west-1: not enabled".into()];
        report.accounts = vec![AccountLine::failed("444455556666", "no such role".into())];
        assert_eq!(
            audit_problems(&report),
            [
                "warning: eu-west-1: not enabled",
                "error: account 444455556666 not audited: no such role",
                "error: node role unread in account 111122223333 not checked: iam:ListRolePolicies denied",
            ]
        );
    }

    #[test]
    fn an_error_is_one_line() {
        let e = anyhow::anyhow!("no credentials in chain. Attempted:\n  Environment: not set").context("connecting");
        assert_eq!(
            error_line(&e),
            "error: connecting: no credentials in chain. Attempted: Environment: not set"
        );
    }

    #[test]
    fn the_codes_are_0_1_2() {
        assert_eq!(
            format!("{:?}", ExitCode::from(Exit::Clean)),
            format!("{:?}", ExitCode::SUCCESS)
        );
        assert_eq!(
            format!("{:?}", ExitCode::from(Exit::Violations)),
            format!("{:?}", ExitCode::from(1))
        );
        assert_eq!(
            format!("{:?}", ExitCode::from(Exit::Incomplete)),
            format!("{:?}", ExitCode::from(2))
        );
    }
}
