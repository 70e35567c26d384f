//! Output formats over the audit's Report, one printer per file over one view of the roles
//! ([`view`]): a terminal table, JSON (the Report itself and the run), Markdown, one
//! self-contained HTML page, ASFF (the findings the function imports), and `explain`'s text.
//! What the run was ([`RunInfo`]) is built by the command and passed in: no printer reads the
//! clock.

mod asff;
mod explain;
#[cfg(test)]
mod fixture;
mod html;
mod json;
mod markdown;
mod run;
#[cfg(test)]
mod snapshot_tests;
mod table;
mod view;

use noderole::Report;
#[cfg(test)]
use noderole::types::Migration;
use noderole::types::Outcome;

pub use asff::asff;
pub use explain::explanation;
pub use html::html;
pub use json::json;
pub use markdown::markdown;
pub use run::RunInfo;
pub use table::table;
use view::{RoleView, views};

/// Where the ASFF findings would be imported.
pub struct FindingsScope {
    pub region: String,
    pub partition: String,
}

/// The heading of the migration commands, as notifications print it.
use noderole::types::MIGRATIONS_HEADING as MIGRATIONS;

/// Counts for the summary line and the HTML header.
struct Counts {
    roles: usize,
    needing: usize,
    remove: usize,
    swaps: usize,
    excepted: usize,
    keep: usize,
    unchecked: usize,
}

fn counts(report: &Report, views: &[RoleView]) -> Counts {
    let items = || views.iter().flat_map(|v| &v.items);
    Counts {
        roles: views.len(),
        needing: views.iter().filter(|v| v.needs).count(),
        remove: items().filter(|i| i.remove() && !i.swap).count(),
        swaps: items().filter(|i| i.swap).count(),
        excepted: items().filter(|i| i.verdict == view::Verdict::Excepted).count(),
        keep: items().filter(|i| i.verdict == view::Verdict::Keep).count(),
        unchecked: unchecked(report),
    }
}

fn summary_line(report: &Report, views: &[RoleView]) -> String {
    let c = counts(report, views);
    let accounts = report.accounts.len().max(1);
    let unchecked = if c.unchecked == 0 {
        String::new()
    } else {
        format!(
            "; {} could not be checked",
            plural(c.unchecked, "node role or account", "node roles or accounts")
        )
    };
    let swaps = match c.swaps {
        0 => String::new(),
        n => format!("; {} to undo", plural(n, "credential swap", "credential swaps")),
    };
    format!(
        "{} in {}: {} would lose {}{swaps}; {} excepted; {} kept{unchecked}. Dry-run: nothing was changed.",
        plural(c.roles, "node role", "node roles"),
        plural(accounts, "account", "accounts"),
        c.needing,
        plural(c.remove, "policy", "policies"),
        c.excepted,
        plural(c.keep, "policy", "policies"),
    )
}

/// Node roles whose check failed and accounts that could not be entered: what makes an audit
/// incomplete rather than clean.
pub fn unchecked(report: &Report) -> usize {
    let roles = report.roles.iter().filter(|r| r.outcome == Outcome::Failed).count();
    roles + report.accounts.iter().filter(|a| a.reason.is_some()).count()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::fixture;
    use super::*;

    #[test]
    fn the_summary_counts_in_words() {
        let single = fixture::single();
        assert_eq!(
            summary_line(&single, &views(&single)),
            "4 node roles in 1 account: 1 would lose 2 policies; 1 excepted; 5 policies kept. Dry-run: nothing \
             was changed."
        );
        let org = fixture::organization();
        assert_eq!(
            summary_line(&org, &views(&org)),
            "5 node roles in 3 accounts: 1 would lose 2 policies; 1 excepted; 5 policies kept; 2 node roles or \
             accounts could not be checked. Dry-run: nothing was changed."
        );
        let mut report = fixture::single();
        report.roles = vec![fixture::clean()];
        assert_eq!(
            summary_line(&report, &views(&report)),
            "1 node role in 1 account: 0 would lose 0 policies; 0 excepted; 1 policy kept. Dry-run: nothing was \
             changed."
        );
    }

    #[test]
    fn unchecked_counts_failed_roles_and_accounts_not_entered() {
        assert_eq!(unchecked(&fixture::single()), 0);
        assert_eq!(unchecked(&fixture::organization()), 2);
    }

    #[test]
    fn migrations_read_as_the_notifications_print_them() {
        let text = Migration::text(&fixture::prod().migrations, "");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("{MIGRATIONS}:"));
        assert_eq!(
            lines[1],
            "  Cluster Autoscaler (kube-system/cluster-autoscaler) -> role cluster-autoscaler-eks-node-prod:"
        );
        assert!(lines[2].starts_with("    aws iam create-role --role-name 'cluster-autoscaler-eks-node-prod'"));
        assert!(lines.iter().any(|l| l.starts_with("    note: ")), "{text}");
        assert_eq!(Migration::text(&[], "  "), "");
    }
}
