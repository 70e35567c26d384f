//! The terminal table: a row per policy, the summary line, then the accounts not audited.

use std::fmt::Write as _;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use noderole::Report;

use super::{summary_line, views};

/// The terminal table: a row per policy, colour only when `colour`.
pub fn table(report: &Report, colour: bool) -> String {
    let views = views(report);
    let multi = !report.accounts.is_empty();
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let mut header = vec!["Role", "Node groups / entries", "Policy", "Enforce would", "Why"];
    if multi {
        header.insert(0, "Account");
    }
    table.set_header(header);
    if colour {
        // the caller decides (stdout a terminal, no --output); comfy-table would ask stdout again
        table.enforce_styling();
    }
    for v in &views {
        let rows: Vec<(String, String, Option<Color>, String)> = if v.items.is_empty() {
            vec![(String::new(), v.verdict.clone(), None, v.reason.clone())]
        } else {
            v.items
                .iter()
                .map(|i| {
                    let (what, color) = if i.remove {
                        ("REMOVE", Color::Red)
                    } else {
                        ("keep", Color::Green)
                    };
                    (i.policy.clone(), what.to_owned(), Some(color), i.why.clone())
                })
                .collect()
        };
        for (n, (policy, what, color, why)) in rows.into_iter().enumerate() {
            let mut cells = Vec::new();
            if multi {
                cells.push(Cell::new(if n == 0 { v.account.as_str() } else { "" }));
            }
            cells.push(Cell::new(if n == 0 { v.name.as_str() } else { "" }));
            cells.push(Cell::new(if n == 0 { v.backs.join("\n") } else { String::new() }));
            cells.push(Cell::new(policy));
            let mut verdict = Cell::new(what);
            if let (true, Some(color)) = (colour, color) {
                verdict = verdict.fg(color);
            }
            cells.push(verdict);
            cells.push(Cell::new(why));
            table.add_row(cells);
        }
    }
    let mut out = format!("{table}\n{}\n", summary_line(report, &views));
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

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// The table's rows as their cells, borders and padding dropped.
    fn rows(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| l.starts_with('│'))
            .map(|l| l.trim_matches('│').split('┆').map(|c| c.trim().to_owned()).collect())
            .collect()
    }

    #[test]
    fn a_row_per_policy_roles_by_name_and_the_summary_below() {
        let text = table(&fixture::single(), false);
        let rows = rows(&text);
        assert_eq!(
            rows[0],
            ["Role", "Node groups / entries", "Policy", "Enforce would", "Why"]
        );
        let named: Vec<&str> = rows[1..]
            .iter()
            .map(|r| r[0].as_str())
            .filter(|n| !n.is_empty())
            .collect();
        assert_eq!(named, ["a-node-clean", "eks-node-prod", "eks-node-staging"]);
        let verdicts: Vec<(&str, &str)> = rows[1..]
            .iter()
            .filter(|r| !r[2].is_empty())
            .map(|r| (r[2].as_str(), r[3].as_str()))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("AmazonEKSWorkerNodePolicy", "keep"),
                ("AdministratorAccess", "REMOVE"),
                ("inline: debug-s3", "REMOVE"),
                ("AmazonEKSWorkerNodePolicy", "keep"),
                ("AmazonEC2ContainerRegistryReadOnly", "keep"),
                ("AmazonEKS_CNI_Policy", "keep"),
            ]
        );
        // a role with no policy to list shows its verdict and why
        let exempt = rows
            .iter()
            .find(|r| r[0] == "eks-node-staging")
            .expect("the exempt role");
        assert_eq!(exempt[3], "exempt");
        assert_eq!(exempt[4], "exempt by EXEMPT_ROLES (eks-node-staging)");
        assert_eq!(
            text.lines().last(),
            Some("3 node roles in 1 account: 1 would lose 2 policies; 4 policies kept. Dry-run: nothing was changed.")
        );
        assert!(!text.contains('\u{1b}'), "no colour unless asked");
    }

    #[test]
    fn every_binding_is_listed_beside_the_role() {
        let rows = rows(&table(&fixture::single(), false));
        let start = rows.iter().position(|r| r[0] == "eks-node-prod").expect("prod");
        let backs: Vec<&str> = rows[start..start + 3].iter().map(|r| r[1].as_str()).collect();
        assert_eq!(
            backs,
            [
                "us-east-1/prod node group general",
                "us-east-1/prod node group system",
                "us-west-2/edge EC2_LINUX access entry"
            ]
        );
    }

    #[test]
    fn many_accounts_add_a_column_and_name_the_accounts_not_audited() {
        let text = table(&fixture::organization(), false);
        let rows = rows(&text);
        assert_eq!(rows[0][0], "Account");
        let failed = rows.iter().find(|r| r[1] == "eks-node-batch").expect("the unread role");
        assert_eq!(failed[0], fixture::MEMBER);
        assert_eq!(failed[4], "failed");
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
    fn colour_marks_the_verdicts_only_when_asked() {
        let text = table(&fixture::single(), true);
        // red for what enforce would remove, green for what it keeps, nothing for a verdict row
        assert_eq!(text.matches("\u{1b}[38;5;9m REMOVE ").count(), 2, "{text}");
        assert_eq!(text.matches("\u{1b}[38;5;10m keep ").count(), 4, "{text}");
        let exempt = text
            .lines()
            .find(|l| l.contains("eks-node-staging"))
            .expect("the exempt row");
        assert!(!exempt.contains('\u{1b}'), "{exempt}");
    }
}
