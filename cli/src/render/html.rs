//! HTML: one self-contained page (`templates/report.html`), summary counts per account and
//! cluster, then a card per role.

use std::collections::BTreeMap;

use anyhow::Result;
use askama::Template;
use noderole::Report;

use super::{Counts, RoleView, counts, summary_line, views};

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

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn one_page_with_the_counts_and_a_card_per_role_in_order() {
        let page = html(&fixture::single()).expect("renders");
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains(
            "<p>3 node roles in 1 account: 1 would lose 2 policies; 4 policies kept. Dry-run: nothing was changed.</p>"
        ));
        assert!(page.contains(r#"<div class="tile alert"><b>2</b><span>policies enforce would remove</span></div>"#));
        assert!(page.contains(r#"<div class="tile"><b>4</b><span>policies kept</span></div>"#));
        let cards: Vec<&str> = page
            .split(r#"<section class="card "#)
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert_eq!(cards, ["clean", "needs", "clean"]);
        let order: Vec<usize> = ["a-node-clean", "eks-node-prod", "eks-node-staging"]
            .iter()
            .map(|n| page.find(&format!("id=\"role-111122223333-{n}\"")).expect("a card"))
            .collect();
        assert!(order.is_sorted(), "{order:?}");
        assert!(page.contains(r#"<h3>eks-node-staging<span class="badge clean">exempt</span></h3>"#));
    }

    #[test]
    fn clusters_and_accounts_are_counted() {
        let page = html(&fixture::organization()).expect("renders");
        assert!(page.contains("<tr><td>111122223333 us-east-1/prod</td><td>2</td><td>1</td></tr>"));
        assert!(page.contains("<tr><td>111122223333 us-west-2/edge</td><td>1</td><td>1</td></tr>"));
        assert!(page.contains(
            "<tr><td>555566667777</td><td>0</td><td>0</td><td>sts:AssumeRole on NodeRoleGuardMember: AccessDenied</td></tr>"
        ));
        // one account: its line is made from the roles
        let page = html(&fixture::single()).expect("renders");
        assert!(page.contains("<tr><td>111122223333</td><td>3</td><td>1</td><td></td></tr>"));
    }

    #[test]
    fn text_from_aws_is_escaped() {
        let page = html(&fixture::single()).expect("renders");
        // a discovery warning, folded
        assert!(page.contains("1 discovery warning(s)"));
        assert!(
            page.contains("<li>us-west-2/edge: &#60;AccessDenied&#62; on ListNodegroups &#38; DescribeCluster</li>")
        );
        assert!(!page.contains("<AccessDenied>"));
        // the restore command carries the policy document: quotes and markup escaped
        assert!(page.contains("&#39;eks-node-prod&#39;"));
        assert!(page.contains("arn:aws:s3:::a&#60;b&#62;&#38;c|d"));
        assert!(!page.contains("a<b>&c"));
    }

    #[test]
    fn no_warnings_no_fold() {
        let mut report = fixture::single();
        report.warnings.clear();
        let page = html(&report).expect("renders");
        assert!(!page.contains("discovery warning"));
    }
}
