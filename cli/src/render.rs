//! Output formats over the audit's Report: a terminal table, JSON (the Report itself), Markdown,
//! one self-contained HTML page, and ASFF (the findings the function imports).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;
use askama::Template;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use noderole::Report;
use noderole::audit::Explanation;
use noderole::findings::{self, Scope};
use noderole::policy;
use noderole::report::Outcome;
use noderole::rules::Violation;

/// Where the ASFF findings would be imported.
pub struct FindingsScope {
    pub region: String,
    pub partition: String,
}

/// One role as every format shows it.
struct RoleView {
    account: String,
    name: String,
    arn: String,
    /// `violations found`, `compliant`, `exempt`, `failed`.
    verdict: String,
    reason: String,
    backs: Vec<String>,
    clusters: Vec<String>,
    items: Vec<Item>,
    /// Enforce would remove something.
    needs: bool,
}

/// One policy on a role and what enforce would do about it.
struct Item {
    policy: String,
    remove: bool,
    why: String,
    /// The AWS CLI command enforce would run, and the one that undoes it.
    command: Option<String>,
    undo: Option<String>,
}

fn views(report: &Report) -> Vec<RoleView> {
    let mut views: Vec<RoleView> = report.roles.iter().map(view).collect();
    views.sort_by(|a, b| (&a.account, &a.name).cmp(&(&b.account, &b.name)));
    views
}

fn view(role: &Report) -> RoleView {
    let name = role.role.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    let arn = role
        .role
        .as_ref()
        .and_then(|r| r.arn.clone())
        .unwrap_or_else(|| name.clone());
    let mut items: Vec<Item> = role
        .violations
        .iter()
        .map(|v| {
            let usage = v
                .used_by()
                .map(|u| format!(" (probably for {})", u.component))
                .unwrap_or_default();
            match v {
                Violation::ManagedPolicy { policy_arn, reason, .. } => Item {
                    policy: short_policy(policy_arn),
                    remove: true,
                    why: format!("{reason}{usage}"),
                    command: Some(policy::detach_command(&name, policy_arn)),
                    undo: Some(policy::reattach_command(&name, policy_arn)),
                },
                Violation::InlinePolicy {
                    policy_name, document, ..
                } => Item {
                    policy: format!("inline: {policy_name}"),
                    remove: true,
                    why: format!("inline policies are not allowed on node roles{usage}"),
                    command: Some(policy::delete_inline_command(&name, policy_name)),
                    undo: document
                        .as_deref()
                        .map(|doc| policy::restore_command(&name, policy_name, doc)),
                },
            }
        })
        .collect();
    items.extend(role.kept.iter().map(|k| Item {
        policy: short_policy(&k.policy_arn),
        remove: false,
        why: k.reason.clone(),
        command: None,
        undo: None,
    }));
    let backs: Vec<String> = role.nodegroups.iter().map(describe_binding).collect();
    let mut clusters: Vec<String> = role
        .nodegroups
        .iter()
        .map(|b| format!("{}/{}", b.region(), b.cluster()))
        .collect();
    clusters.sort();
    clusters.dedup();
    RoleView {
        needs: items.iter().any(|i| i.remove),
        account: role.account.clone().unwrap_or_default(),
        name,
        arn,
        verdict: role.outcome.as_str().replace('_', " "),
        reason: role.reason.clone().unwrap_or_default(),
        backs,
        clusters,
        items,
    }
}

/// An AWS-managed policy by its path and name; any other by its full ARN (a customer policy may
/// borrow an AWS name).
fn short_policy(arn: &str) -> String {
    match arn.split_once(":iam::aws:policy/") {
        Some((_, name)) => name.to_owned(),
        None => arn.to_owned(),
    }
}

fn describe_binding(binding: &noderole::discovery::NodeBinding) -> String {
    match binding {
        noderole::discovery::NodeBinding::ManagedNodegroup {
            region,
            cluster,
            nodegroup,
        } => format!("{region}/{cluster} node group {nodegroup}"),
        noderole::discovery::NodeBinding::AccessEntry {
            region,
            cluster,
            entry_type,
        } => format!("{region}/{cluster} {entry_type} access entry"),
    }
}

/// Counts for the summary line and the HTML header.
struct Counts {
    roles: usize,
    needing: usize,
    remove: usize,
    keep: usize,
}

fn counts(views: &[RoleView]) -> Counts {
    Counts {
        roles: views.len(),
        needing: views.iter().filter(|v| v.items.iter().any(|i| i.remove)).count(),
        remove: views.iter().flat_map(|v| &v.items).filter(|i| i.remove).count(),
        keep: views.iter().flat_map(|v| &v.items).filter(|i| !i.remove).count(),
    }
}

fn summary_line(report: &Report, views: &[RoleView]) -> String {
    let c = counts(views);
    let accounts = report.accounts.len().max(1);
    let unchecked = unchecked(report);
    let unchecked = if unchecked == 0 {
        String::new()
    } else {
        format!(
            "; {} could not be checked",
            plural(unchecked, "node role or account", "node roles or accounts")
        )
    };
    format!(
        "{} in {}: {} would lose {}; {} kept{unchecked}. Dry-run: nothing was changed.",
        plural(c.roles, "node role", "node roles"),
        plural(accounts, "account", "accounts"),
        c.needing,
        plural(c.remove, "policy", "policies"),
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

/// The sweep Report, as the function would log it in dry-run.
pub fn json(report: &Report) -> Result<String> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}

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

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The findings the function would import into Security Hub, as `batch-import-findings` takes
/// them: same Ids, same fields.
pub fn asff(report: &Report, scope: &FindingsScope) -> Result<String> {
    let now = std::time::SystemTime::now();
    let findings: Vec<serde_json::Value> = report
        .roles
        .iter()
        .flat_map(|role| {
            let account = role.account.as_deref().unwrap_or_default();
            let scope = Scope::new(account, &scope.region, &scope.partition, now);
            findings::for_role(role, &scope, &[])
        })
        .map(|f| f.to_asff_json())
        .collect();
    Ok(serde_json::to_string_pretty(&findings)? + "\n")
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    summary: String,
    counts: Counts,
    accounts: Vec<(String, usize, usize, String)>,
    clusters: Vec<(String, usize, usize)>,
    roles: &'a [RoleView],
    warnings: &'a [String],
}

/// One self-contained HTML file: summary counts per account and cluster, then a card per role.
pub fn html(report: &Report) -> Result<String> {
    let views = views(report);
    let mut per_cluster: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for v in &views {
        let needs = v.items.iter().any(|i| i.remove);
        for c in &v.clusters {
            let key = if report.accounts.is_empty() {
                c.clone()
            } else {
                format!("{} {c}", v.account)
            };
            let entry = per_cluster.entry(key).or_default();
            entry.0 += 1;
            entry.1 += usize::from(needs);
        }
    }
    let accounts = if report.accounts.is_empty() {
        let c = counts(&views);
        vec![(
            report.account.clone().unwrap_or_default(),
            c.roles,
            c.needing,
            String::new(),
        )]
    } else {
        report
            .accounts
            .iter()
            .map(|a| {
                (
                    a.account.clone(),
                    a.roles,
                    a.needed_action,
                    a.reason.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    let page = Page {
        summary: summary_line(report, &views),
        counts: counts(&views),
        accounts,
        clusters: per_cluster.into_iter().map(|(k, (r, n))| (k, r, n)).collect(),
        roles: &views,
        warnings: &report.warnings,
    };
    Ok(page.render()?)
}

/// `explain`: the trust policy as read, what references the role, the verdict per policy.
pub fn explanation(e: &Explanation) -> String {
    let report = &e.report;
    let v = view(report);
    let mut out = String::new();
    let _ = writeln!(out, "Role:     {} (account {})", v.arn, v.account);
    let trust = match e.trust.node_trust {
        "ec2" => "EC2 instances may assume it (ec2.amazonaws.com): a node role candidate",
        "hybrid" => "hybrid nodes may assume it (SSM / IAM Roles Anywhere): a node role candidate",
        _ => "neither EC2 nor a hybrid-node service may assume it: not a node role",
    };
    let _ = writeln!(out, "Trust:    {trust}");
    let _ = writeln!(out, "          principals: {}", e.trust.principals.join(", "));
    if v.backs.is_empty() {
        let _ = writeln!(out, "Backs:    nothing found in the regions searched");
    }
    for b in &v.backs {
        let _ = writeln!(out, "Backs:    {b}");
    }
    let node_role = if report.node_role { "yes" } else { "no" };
    let _ = writeln!(out, "Node role: {node_role}; verdict: {}", v.verdict);
    if !v.reason.is_empty() {
        let _ = writeln!(out, "          {}", v.reason);
    }
    for i in &v.items {
        let what = if i.remove { "REMOVE" } else { "keep  " };
        let _ = writeln!(out, "  {what} {}: {}", i.policy, i.why);
        if let Some(command) = &i.command {
            let _ = writeln!(out, "         enforce runs: {command}");
        }
    }
    if report.outcome == Outcome::Failed {
        let _ = writeln!(out, "The check could not finish: {}", v.reason);
    }
    out
}
