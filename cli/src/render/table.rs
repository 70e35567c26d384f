//! The terminal table: per role a heading, a table of its policies (severity, policy, what
//! enforce would do, why), expired exceptions and the migration commands below it; then the
//! summary line and the accounts not audited. Policy names never wrap: the reason column takes
//! what width is left, and long commands stand below the table, not in a column.

use std::fmt::Write as _;

use comfy_table::{Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, presets};
use noderole::Report;

use super::view::{Item, RoleView, Verdict};
use super::{summary_line, views};
use noderole::types::Migration;

/// The terminal table, colour only when `colour`, fitted to `width` columns when given
/// (otherwise to the terminal, or unbounded when there is none).
pub fn table(report: &Report, colour: bool, width: Option<u16>) -> String {
    let views = views(report);
    let mut out = String::new();
    for v in &views {
        role_block(&mut out, v, colour, width);
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary_line(report, &views));
    for line in report.accounts.iter().filter(|a| a.reason.is_some()) {
        let _ = writeln!(
            out,
            "Account {} not audited: {}",
            line.account,
            line.reason.as_deref().unwrap_or_default()
        );
    }
    out
}

fn role_block(out: &mut String, v: &RoleView, colour: bool, width: Option<u16>) {
    let worst = match v.worst_label() {
        "" => String::new(),
        label => format!(", worst {label}"),
    };
    let verdict = format!("{}{worst}", v.verdict);
    let verdict = if colour {
        paint(&verdict, state_colour(v.state))
    } else {
        verdict
    };
    let name = if colour {
        format!("\u{1b}[1m{}\u{1b}[0m", v.name)
    } else {
        v.name.clone()
    };
    let _ = writeln!(out, "{name} (account {}): {verdict}", v.account);
    for b in &v.backs {
        let _ = writeln!(out, "  backs {b}");
    }
    if !v.reason.is_empty() {
        let _ = writeln!(out, "  {}", v.reason.replace('\n', " "));
    }
    if !v.items.is_empty() {
        let _ = writeln!(out, "{}", policies(&v.items, colour, width));
    }
    for line in &v.expired {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str(&Migration::text(&v.migrations, "  "));
}

fn policies(items: &[Item], colour: bool, width: Option<u16>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Severity", "Policy", "Enforce would", "Why"])
        // what identifies a row never wraps; the reason takes the width that is left
        .set_constraints([
            ColumnConstraint::ContentWidth,
            ColumnConstraint::ContentWidth,
            ColumnConstraint::ContentWidth,
        ]);
    if let Some(width) = width {
        table.set_width(width);
    }
    if colour {
        // the caller decides (stdout a terminal, no --output); comfy-table would ask stdout again
        table.enforce_styling();
    }
    for i in items {
        let mut severity = Cell::new(i.severity_label());
        let mut verdict = Cell::new(i.verdict_label());
        if colour {
            severity = match i.severity_label() {
                "CRITICAL" => severity.fg(Color::Red).add_attribute(Attribute::Bold),
                "HIGH" => severity.fg(Color::Yellow),
                _ => severity,
            };
            verdict = verdict.fg(match i.verdict {
                Verdict::Remove => Color::Red,
                Verdict::Excepted => Color::Magenta,
                Verdict::Keep => Color::Green,
            });
        }
        table.add_row([severity, Cell::new(&i.policy), verdict, Cell::new(&i.why)]);
    }
    table
}

fn state_colour(state: &str) -> &'static str {
    match state {
        "needs" | "failed" => "\u{1b}[31m",
        "excepted" => "\u{1b}[35m",
        "clean" => "\u{1b}[32m",
        _ => "",
    }
}

fn paint(text: &str, colour: &str) -> String {
    if colour.is_empty() {
        text.to_owned()
    } else {
        format!("{colour}{text}\u{1b}[0m")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// The table rows (as cells, borders and padding dropped) under the heading of `role`.
    fn rows(text: &str, role: &str) -> Vec<Vec<String>> {
        text.split("\n\n")
            .find(|block| block.starts_with(&format!("{role} (")))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with('│'))
            .map(|l| l.trim_matches('│').split('┆').map(|c| c.trim().to_owned()).collect())
            .collect()
    }

    #[test]
    fn a_block_per_role_by_severity_with_a_row_per_policy_and_the_summary_below() {
        let text = table(&fixture::single(), false, None);
        let headings: Vec<&str> = text
            .split("\n\n")
            .filter_map(|b| b.lines().next())
            .filter(|l| l.contains(" (account "))
            .collect();
        assert_eq!(
            headings,
            [
                "eks-node-prod (account 111122223333): violations found, worst CRITICAL",
                "eks-node-logs (account 111122223333): compliant, worst HIGH",
                "a-node-clean (account 111122223333): compliant",
                "eks-node-staging (account 111122223333): exempt",
            ]
        );
        let prod = rows(&text, "eks-node-prod");
        assert_eq!(prod[0], ["Severity", "Policy", "Enforce would", "Why"]);
        let verdicts: Vec<(&str, &str, &str)> = prod[1..]
            .iter()
            .filter(|r| !r[1].is_empty()) // a reason's second line
            .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("CRITICAL", "AdministratorAccess", "REMOVE"),
                ("HIGH", "inline: debug-s3", "REMOVE"),
                ("", "AmazonEC2ContainerRegistryReadOnly", "keep"),
                ("", "AmazonEKS_CNI_Policy", "keep"),
                ("", "AmazonEKSWorkerNodePolicy", "keep"),
            ]
        );
        let logs = rows(&text, "eks-node-logs");
        assert_eq!(
            logs[1],
            [
                "HIGH",
                "AmazonS3FullAccess",
                "excepted",
                "excepted until 2027-03-31: moving the log shipper to Pod Identity"
            ]
        );
        // a role with no policy to list says why, and has no table
        assert!(text.contains("eks-node-staging (account 111122223333): exempt\n  backs us-east-1/staging node group default\n  exempt by EXEMPT_ROLES (eks-node-staging)\n\n"), "{text}");
        assert!(rows(&text, "eks-node-staging").is_empty());
        assert_eq!(
            text.lines().last(),
            Some(
                "4 node roles in 1 account: 1 would lose 2 policies; 1 excepted; 5 policies kept. Dry-run: nothing \
                 was changed."
            )
        );
        assert!(!text.contains('\u{1b}'), "no colour unless asked");
    }

    #[test]
    fn bindings_expired_exceptions_and_migrations_stand_beside_the_table() {
        let text = table(&fixture::single(), false, None);
        assert!(text.contains(
            "\n  backs us-east-1/prod node group general\n  backs us-east-1/prod node group system\n  backs \
             us-west-2/edge EC2_LINUX access entry\n┌"
        ));
        let after_table = text.split("┘\n").nth(1).expect("below prod's table");
        let lines: Vec<&str> = after_table.lines().collect();
        assert!(lines[0].starts_with("  exception expired: AdministratorAccess was excepted until 2026-12-01"));
        assert_eq!(
            lines[1],
            "  Moving these workloads off the node role (EKS Pod Identity; run in order):"
        );
        assert!(lines[3].starts_with("      aws iam create-role --role-name 'cluster-autoscaler-eks-node-prod'"));
    }

    #[test]
    fn at_120_columns_no_policy_name_wraps_and_no_line_is_wider() {
        let mut report = fixture::single();
        // the longest names eksctl writes
        let mut eksctl = fixture::role(
            fixture::HOME,
            "eksctl-platform-nodegroup-ng-1-NodeInstanceRole-DEMO",
            noderole::Outcome::ViolationsFound,
            None,
        );
        eksctl.violations = vec![noderole::types::Violation::InlinePolicy {
            policy_name: "eksctl-platform-nodegroup-ng-1-PolicyExternalDNSHostedZones".into(),
            document: None,
            used_by: None,
        }];
        report.roles.push(eksctl);
        let text = table(&report, false, Some(120));
        for line in text.lines().filter(|l| l.starts_with(['│', '┌', '╞', '└'])) {
            assert!(line.chars().count() <= 120, "{} wide: {line}", line.chars().count());
        }
        let policies: Vec<String> = report
            .roles
            .iter()
            .flat_map(|r| rows(&text, &r.role.as_ref().expect("a role").name))
            .map(|row| row[1].clone())
            .collect();
        for name in [
            "inline: eksctl-platform-nodegroup-ng-1-PolicyExternalDNSHostedZones",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonS3FullAccess",
        ] {
            assert!(
                policies.iter().any(|p| p == name),
                "{name} whole in a row: {policies:?}"
            );
        }
        // the reason wrapped instead, within its column
        let eksctl = rows(&text, "eksctl-platform-nodegroup-ng-1-NodeInstanceRole-DEMO");
        assert!(eksctl[1][3].starts_with("inline policies"), "{text}");
        assert_ne!(eksctl[1][3], "inline policies are not allowed on node roles", "{text}");
    }

    #[test]
    fn many_accounts_name_each_role_s_account_and_the_accounts_not_audited() {
        let text = table(&fixture::organization(), false, None);
        assert!(text.contains(
            "eks-node-batch (account 444455556666): could not be checked\n  iam:ListRolePolicies: AccessDenied\n"
        ));
        let tail: Vec<&str> = text.lines().rev().take(2).collect();
        assert_eq!(
            tail[0],
            "Account 555566667777 not audited: sts:AssumeRole on NodeRoleGuardMember: AccessDenied"
        );
        assert!(
            tail[1].contains("; 2 node roles or accounts could not be checked."),
            "{}",
            tail[1]
        );
    }

    #[test]
    fn colour_marks_severity_verdicts_and_roles_only_when_asked() {
        let text = table(&fixture::single(), true, None);
        // red for what enforce would remove, green for what it keeps, magenta for excepted
        assert_eq!(text.matches("\u{1b}[38;5;9m REMOVE ").count(), 2, "{text}");
        assert_eq!(text.matches("\u{1b}[38;5;10m keep ").count(), 5, "{text}");
        assert_eq!(text.matches("\u{1b}[38;5;13m excepted ").count(), 1, "{text}");
        assert!(text.contains("CRITICAL"), "{text}");
        assert!(
            text.contains("\u{1b}[31mviolations found, worst CRITICAL\u{1b}[0m"),
            "{text}"
        );
        let exempt = text
            .lines()
            .find(|l| l.contains("eks-node-staging"))
            .expect("the exempt heading");
        assert!(exempt.ends_with("): exempt"), "{exempt}");
    }
}
