//! Markdown: a summary, then a section per role with a table of its policies and the commands.

use std::fmt::Write as _;

use noderole::Report;

use super::{summary_line, views};

/// Markdown: a summary, then a section per role with a table of its policies and the commands.
pub fn markdown(report: &Report) -> String {
    let views = views(report);
    let mut out = String::from("# eks-node-role-guard audit\n\n");
    let _ = writeln!(out, "{}\n", summary_line(report, &views));
    for v in &views {
        let _ = writeln!(out, "## {} ({})\n", v.name, v.account);
        let _ = writeln!(out, "`{}`: {}\n", v.arn, v.verdict);
        for b in &v.backs {
            let _ = writeln!(out, "- backs {b}");
        }
        if !v.reason.is_empty() {
            let _ = writeln!(out, "\n{}", v.reason);
        }
        if !v.items.is_empty() {
            out.push_str("\n| Policy | Enforce would | Why |\n|---|---|---|\n");
            for i in &v.items {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    md_cell(&i.policy),
                    if i.remove { "**remove**" } else { "keep" },
                    md_cell(&i.why)
                );
            }
            for i in v.items.iter().filter(|i| i.remove) {
                if let Some(command) = &i.command {
                    let _ = writeln!(out, "\n```sh\n{command}\n```");
                }
                if let Some(undo) = &i.undo {
                    let _ = writeln!(out, "Undo:\n\n```sh\n{undo}\n```");
                }
            }
        }
        out.push('\n');
    }
    out
}

/// A table cell: a `|` would end it, a line break would end the row.
fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn a_section_per_role_in_order_after_the_summary() {
        let text = markdown(&fixture::single());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# eks-node-role-guard audit");
        assert_eq!(
            lines[2],
            "3 node roles in 1 account: 1 would lose 2 policies; 4 policies kept. Dry-run: nothing was changed."
        );
        let sections: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            sections,
            [
                "## a-node-clean (111122223333)",
                "## eks-node-prod (111122223333)",
                "## eks-node-staging (111122223333)"
            ]
        );
        assert!(lines.contains(&"`arn:aws:iam::111122223333:role/eks-node-prod`: violations found"));
        assert!(lines.contains(&"- backs us-west-2/edge EC2_LINUX access entry"));
        assert!(lines.contains(&"| AdministratorAccess | **remove** | AWS-managed policy not in the allowlist |"));
        assert!(lines.contains(&"exempt by EXEMPT_ROLES (eks-node-staging)"));
    }

    #[test]
    fn a_pipe_or_a_line_break_cannot_break_the_table() {
        let text = markdown(&fixture::single());
        let row = text
            .lines()
            .find(|l| l.starts_with("| AmazonEKS_CNI_Policy |"))
            .expect("the CNI row");
        assert_eq!(
            row,
            r"| AmazonEKS_CNI_Policy | keep | kept because its need could not be checked (eks:DescribeAddon \| rejected HTTP 404) |"
        );
        assert_eq!(md_cell("a|b\nc"), r"a\|b c");
    }

    #[test]
    fn each_removal_has_its_command_and_undo_in_shell_blocks() {
        let text = markdown(&fixture::single());
        let detach = "```sh\naws iam detach-role-policy --role-name 'eks-node-prod' --policy-arn \
                      'arn:aws:iam::aws:policy/AdministratorAccess'\n```";
        let reattach = "Undo:\n\n```sh\naws iam attach-role-policy --role-name 'eks-node-prod' --policy-arn \
                        'arn:aws:iam::aws:policy/AdministratorAccess'\n```";
        let (at_detach, at_reattach) = (text.find(detach), text.find(reattach));
        assert!(at_detach.is_some() && at_reattach > at_detach, "{text}");
        // the inline policy is restored from its document, in a code block (no Markdown escaping)
        assert!(text.contains("\"Resource\":\"arn:aws:s3:::a<b>&c|d\""), "{text}");
        // and nothing is offered to run for what is kept
        assert_eq!(text.matches("```sh").count(), 4, "{text}");
    }
}
