//! Output formats over the audit's Report, one printer per file over one view of the roles
//! (this module): a terminal table, JSON (the Report itself), Markdown, one self-contained HTML
//! page, ASFF (the findings the function imports), and `explain`'s text.

mod asff;
mod explain;
#[cfg(test)]
mod fixture;
mod html;
mod json;
mod markdown;
mod table;

use noderole::Report;
use noderole::types::NodeBinding;
use noderole::types::Outcome;
use noderole::types::Violation;
use noderole::verdict::policy;

pub use asff::asff;
pub use explain::explanation;
pub use html::html;
pub use json::json;
pub use markdown::markdown;
pub use table::table;

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

fn describe_binding(binding: &NodeBinding) -> String {
    match binding {
        NodeBinding::ManagedNodegroup {
            region,
            cluster,
            nodegroup,
        } => format!("{region}/{cluster} node group {nodegroup}"),
        NodeBinding::AccessEntry {
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

#[cfg(test)]
mod tests {
    use super::fixture::{self, HOME};
    use super::*;

    #[test]
    fn roles_are_listed_by_account_then_name_whatever_the_sweep_order() {
        let names: Vec<(String, String)> = views(&fixture::organization())
            .into_iter()
            .map(|v| (v.account, v.name))
            .collect();
        assert_eq!(
            names,
            [
                (HOME.to_owned(), "a-node-clean".to_owned()),
                (HOME.to_owned(), "eks-node-prod".to_owned()),
                (HOME.to_owned(), "eks-node-staging".to_owned()),
                (fixture::MEMBER.to_owned(), "eks-node-batch".to_owned()),
            ]
        );
    }

    #[test]
    fn a_role_shows_removals_first_then_what_is_kept() {
        let v = view(&fixture::prod());
        let items: Vec<(&str, bool)> = v.items.iter().map(|i| (i.policy.as_str(), i.remove)).collect();
        assert_eq!(
            items,
            [
                ("AdministratorAccess", true),
                ("inline: debug-s3", true),
                ("AmazonEKSWorkerNodePolicy", false),
                ("AmazonEC2ContainerRegistryReadOnly", false),
                ("AmazonEKS_CNI_Policy", false),
            ]
        );
        assert!(v.needs);
        assert_eq!(v.verdict, "violations found");
        assert_eq!(
            v.clusters,
            ["us-east-1/prod", "us-west-2/edge"],
            "each cluster once, sorted"
        );
        assert_eq!(v.backs[2], "us-west-2/edge EC2_LINUX access entry");
        // what the workload probably is, and the command with its undo
        assert!(
            v.items[1].why.ends_with("(probably for Cluster Autoscaler)"),
            "{}",
            v.items[1].why
        );
        let undo = v.items[1]
            .undo
            .as_deref()
            .expect("an inline policy read back can be restored");
        assert!(undo.starts_with("aws iam put-role-policy --role-name 'eks-node-prod' --policy-name 'debug-s3'"));
        assert!(v.items[2].command.is_none(), "nothing runs for what is kept");
    }

    #[test]
    fn aws_managed_policies_by_name_others_by_arn() {
        assert_eq!(
            short_policy("arn:aws:iam::aws:policy/AdministratorAccess"),
            "AdministratorAccess"
        );
        assert_eq!(
            short_policy("arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"),
            "service-role/AmazonEBSCSIDriverPolicy"
        );
        // a customer policy borrowing an AWS name is not mistaken for it
        let customer = "arn:aws:iam::111122223333:policy/AdministratorAccess";
        assert_eq!(short_policy(customer), customer);
    }

    #[test]
    fn the_summary_counts_in_words() {
        let single = fixture::single();
        assert_eq!(
            summary_line(&single, &views(&single)),
            "3 node roles in 1 account: 1 would lose 2 policies; 4 policies kept. Dry-run: nothing was changed."
        );
        let org = fixture::organization();
        assert_eq!(
            summary_line(&org, &views(&org)),
            "4 node roles in 3 accounts: 1 would lose 2 policies; 4 policies kept; 2 node roles or accounts could \
             not be checked. Dry-run: nothing was changed."
        );
        let one = fixture::clean();
        let mut report = fixture::single();
        report.roles = vec![one];
        assert_eq!(
            summary_line(&report, &views(&report)),
            "1 node role in 1 account: 0 would lose 0 policies; 1 policy kept. Dry-run: nothing was changed."
        );
    }

    #[test]
    fn unchecked_counts_failed_roles_and_accounts_not_entered() {
        assert_eq!(unchecked(&fixture::single()), 0);
        assert_eq!(unchecked(&fixture::organization()), 2);
    }
}
