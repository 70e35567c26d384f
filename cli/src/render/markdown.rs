//! Markdown: the summary and the run, then a section per role (by severity) with a table of its
//! policies, the commands enforce would run with their undo, and the migration commands.

use std::fmt::Write as _;

use noderole::Report;

use super::view::RoleView;
use super::{MIGRATIONS, RunInfo, summary_line, views};

/// Markdown: the summary and the run, then a section per role.
pub fn markdown(report: &Report, run: &RunInfo) -> String {
    let views = views(report);
    let mut out = String::from("# eks-node-role-guard audit\n\n");
    let _ = writeln!(out, "{}\n", summary_line(report, &views));
    out.push_str("## This run\n\n");
    for (label, value) in run.rows() {
        let _ = writeln!(out, "- {label}: {}", md_text(&value));
    }
    for line in run.exception_lines() {
        let _ = writeln!(out, "  - {}", md_text(&line));
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "- Warning: {}", md_text(warning));
    }
    out.push('\n');
    for v in &views {
        role(&mut out, v);
    }
    out
}

fn role(out: &mut String, v: &RoleView) {
    let _ = writeln!(out, "## {} ({})\n", v.name, v.account);
    let worst = match v.worst_label() {
        "" => String::new(),
        label => format!(", worst **{label}**"),
    };
    let _ = writeln!(out, "`{}`: {}{worst}\n", v.arn, v.verdict);
    for b in &v.backs {
        let _ = writeln!(out, "- backs {b}");
    }
    if !v.reason.is_empty() {
        let _ = writeln!(out, "\n{}", md_text(&v.reason));
    }
    for line in &v.expired {
        let _ = writeln!(out, "\n**{}**", md_text(line));
    }
    if !v.items.is_empty() {
        out.push_str("\n| Severity | Policy | Enforce would | Why |\n|---|---|---|---|\n");
        for i in &v.items {
            let verdict = match i.verdict_label() {
                "REMOVE" => "**remove**",
                other => other,
            };
            let _ = writeln!(
                out,
                "| {} | {} | {verdict} | {} |",
                i.severity_label(),
                md_cell(&i.policy),
                md_cell(&i.why)
            );
        }
    }
    for i in v.items.iter().filter(|i| i.remove()) {
        let _ = writeln!(out, "\n**{}** ({})\n", md_text(&i.policy), i.severity_label());
        if let Some(command) = &i.command {
            let _ = writeln!(out, "Enforce runs:\n\n```sh\n{command}\n```\n");
        }
        if let Some(undo) = &i.undo {
            let _ = writeln!(out, "Undo:\n\n```sh\n{undo}\n```");
        }
    }
    if !v.migrations.is_empty() {
        let _ = writeln!(out, "\n### {MIGRATIONS}");
        for m in &v.migrations {
            let _ = writeln!(out, "\n{}:\n\n```sh", md_text(&m.title()));
            for command in &m.commands {
                let _ = writeln!(out, "{command}");
            }
            out.push_str("```\n");
            if !m.notes.is_empty() {
                out.push('\n');
            }
            for note in &m.notes {
                let _ = writeln!(out, "- {}", md_text(note));
            }
        }
    }
    out.push('\n');
}

/// A table cell: a `|` would end it, a line break would end the row.
fn md_cell(text: &str) -> String {
    md_text(text).replace('|', "\\|")
}

/// Text from AWS or the configuration on one line, with nothing that Markdown would read as
/// emphasis, code or HTML (names' underscores stay: within a word they are not emphasis).
fn md_text(text: &str) -> String {
    text.replace('\n', " ")
        .replace('\\', "\\\\")
        .replace('*', "\\*")
        .replace('`', "\\`")
        .replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn text() -> String {
        markdown(&fixture::single(), &fixture::run())
    }

    #[test]
    fn the_summary_the_run_then_a_section_per_role_by_severity() {
        let text = text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# eks-node-role-guard audit");
        assert!(lines[2].starts_with("4 node roles in 1 account: 1 would lose 2 policies; 1 excepted;"));
        let sections: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            sections,
            [
                "## This run",
                "## eks-node-prod (111122223333)",
                "## eks-node-logs (111122223333)",
                "## a-node-clean (111122223333)",
                "## eks-node-staging (111122223333)",
            ]
        );
        for line in [
            "- Generated at: 2026-12-02T09:30:00Z (UTC)",
            "- Tool: eks-node-role-guard 0.1.0",
            "- Caller: arn:aws:sts::111122223333:assumed-role/SecurityAudit/jane.doe",
            "- Regions searched: us-east-1, us-west-2",
            "- Mode: dry-run (read-only: nothing is changed)",
            "- Exempt roles (EXEMPT_ROLES): eks-node-staging",
            "  - eks-node-logs: arn:aws:iam::aws:policy/AmazonS3FullAccess until 2027-03-31: moving the log shipper \
             to Pod Identity",
            "`arn:aws:iam::111122223333:role/eks-node-prod`: violations found, worst **CRITICAL**",
            "- backs us-west-2/edge EC2_LINUX access entry",
            "| CRITICAL | AdministratorAccess | **remove** | AWS-managed policy not in the allowlist |",
            "| HIGH | AmazonS3FullAccess | excepted | excepted until 2027-03-31: moving the log shipper to Pod \
             Identity |",
            "**exception expired: AdministratorAccess was excepted until 2026-12-01 (load test of the batch \
             importer); it is a violation again**",
            "exempt by EXEMPT_ROLES (eks-node-staging)",
        ] {
            assert!(lines.contains(&line), "{line}\n{text}");
        }
    }

    #[test]
    fn a_pipe_a_line_break_or_markup_cannot_break_the_table() {
        let text = text();
        let row = text
            .lines()
            .find(|l| l.starts_with("|  | AmazonEKS_CNI_Policy |"))
            .expect("the CNI row");
        assert_eq!(
            row,
            r"|  | AmazonEKS_CNI_Policy | keep | kept because its need could not be checked (eks:DescribeAddon \| rejected HTTP 404) |"
        );
        assert_eq!(md_cell("a|b\nc"), r"a\|b c");
        assert_eq!(md_text("<b>*x*</b>"), r"&lt;b>\*x\*&lt;/b>");
        assert!(text.contains("- Warning: us-west-2/edge: &lt;AccessDenied> on ListNodegroups & DescribeCluster"));
    }

    #[test]
    fn each_removal_has_its_command_and_undo_labelled_in_shell_blocks() {
        let text = text();
        let detach = "**AdministratorAccess** (CRITICAL)\n\nEnforce runs:\n\n```sh\naws iam detach-role-policy --role-name \
                      'eks-node-prod' --policy-arn 'arn:aws:iam::aws:policy/AdministratorAccess'\n```";
        let reattach = "Undo:\n\n```sh\naws iam attach-role-policy --role-name 'eks-node-prod' --policy-arn \
                        'arn:aws:iam::aws:policy/AdministratorAccess'\n```";
        let (at_detach, at_reattach) = (text.find(detach), text.find(reattach));
        assert!(at_detach.is_some() && at_reattach > at_detach, "{text}");
        // the inline policy is restored from its document, in a code block (no Markdown escaping)
        assert!(text.contains("\"Resource\":\"arn:aws:s3:::a<b>&c|d\""), "{text}");
        // two removals with command and undo, one migration; nothing to run for what is kept
        assert_eq!(text.matches("```sh").count(), 5, "{text}");
        assert_eq!(text.matches("Enforce runs:").count(), 2, "{text}");
    }

    #[test]
    fn the_migration_commands_follow_the_role_s_table() {
        let text = text();
        let prod = text.split("## eks-node-logs").next().expect("prod's section");
        let at = prod
            .find("### Moving these workloads off the node role (EKS Pod Identity; run in order)")
            .expect("the heading");
        let after = &prod[at..];
        assert!(after.contains(
            "Cluster Autoscaler (kube-system/cluster-autoscaler) -> role cluster-autoscaler-eks-node-prod:\n\n```sh\n\
             aws iam create-role --role-name 'cluster-autoscaler-eks-node-prod'"
        ));
        assert!(
            after.contains("\n- each cluster needs the eks-pod-identity-agent add-on"),
            "{after}"
        );
    }
}
