//! HTML: one self-contained page (`templates/report.html`): the summary and the run, counts per
//! account and cluster, then a card per role (by severity) with its policies, commands and
//! migration commands.

use std::collections::BTreeMap;

use anyhow::Result;
use askama::Template;
use noderole::Report;

use super::view::RoleView;
use super::{Counts, MIGRATIONS, RunInfo, counts, summary_line, views};

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    summary: String,
    counts: Counts,
    run: &'a RunInfo,
    run_rows: Vec<(&'static str, String)>,
    exceptions: Vec<String>,
    accounts: Vec<(String, usize, usize, String)>,
    clusters: Vec<(String, usize, usize)>,
    roles: &'a [RoleView],
    warnings: &'a [String],
    migrations_heading: &'static str,
}

impl Page<'_> {
    /// `text` cut after each `:` and `/`, where the page may break an ARN or a policy's name (an
    /// ARN's pieces themselves never break).
    fn breakable<'t>(&self, text: &'t str) -> Vec<&'t str> {
        text.split_inclusive([':', '/']).collect()
    }

    fn title(&self, m: &noderole::types::Migration) -> String {
        m.title()
    }
}

/// One self-contained HTML file: the summary and the run, counts per account and cluster, then
/// a card per role.
pub fn html(report: &Report, run: &RunInfo) -> Result<String> {
    let views = views(report);
    let mut per_cluster: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for v in &views {
        for c in &v.clusters {
            let key = if report.accounts.is_empty() {
                c.clone()
            } else {
                format!("{} {c}", v.account)
            };
            let entry = per_cluster.entry(key).or_default();
            entry.0 += 1;
            entry.1 += usize::from(v.needs);
        }
    }
    let accounts = if report.accounts.is_empty() {
        let c = counts(report, &views);
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
        counts: counts(report, &views),
        run,
        run_rows: run.rows(),
        exceptions: run.exception_lines(),
        accounts,
        clusters: per_cluster.into_iter().map(|(k, (r, n))| (k, r, n)).collect(),
        roles: &views,
        warnings: &report.warnings,
        migrations_heading: MIGRATIONS,
    };
    Ok(page.render()?)
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn page() -> String {
        html(&fixture::single(), &fixture::run()).expect("renders")
    }

    /// The cards' classes, in order.
    fn cards(page: &str) -> Vec<&str> {
        page.split(r#"<section class="card "#)
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect()
    }

    #[test]
    fn one_page_with_the_counts_and_a_card_per_role_by_severity() {
        let page = page();
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains(
            "<p>4 node roles in 1 account: 1 would lose 2 policies; 1 excepted; 5 policies kept. Dry-run: nothing \
             was changed.</p>"
        ));
        assert!(page.contains(r#"<div class="tile alert"><b>2</b><span>policies enforce would remove</span></div>"#));
        assert!(page.contains(r#"<div class="tile excepted"><b>1</b><span>excepted until a date</span></div>"#));
        assert!(page.contains(r#"<div class="tile"><b>5</b><span>policies kept</span></div>"#));
        assert_eq!(cards(&page), ["needs", "excepted", "clean", "exempt"]);
        let order: Vec<usize> = ["eks-node-prod", "eks-node-logs", "a-node-clean", "eks-node-staging"]
            .iter()
            .map(|n| page.find(&format!("id=\"role-111122223333-{n}\"")).expect("a card"))
            .collect();
        assert!(order.is_sorted(), "{order:?}");
        assert!(page.contains(
            r#"<h3>eks-node-prod<span class="badge needs">violations found</span><span class="sev critical">worst CRITICAL</span></h3>"#
        ));
        assert!(page.contains(r#"<h3>eks-node-staging<span class="badge exempt">exempt</span></h3>"#));
    }

    #[test]
    fn each_policy_shows_its_severity_and_an_excepted_one_its_date() {
        let page = page();
        assert!(page.contains(
            r#"<div class="verdict remove">REMOVE</div><div class="name">AdministratorAccess<span class="sev critical">CRITICAL</span></div>"#
        ));
        assert!(page.contains(
            r#"<div class="verdict excepted">EXCEPTED</div><div class="name">AmazonS3FullAccess<span class="sev high">HIGH</span></div>"#
        ));
        assert!(
            page.contains(
                r#"<div class="why">excepted until 2027-03-31: moving the log shipper to Pod Identity</div>"#
            )
        );
        assert!(
            page.contains(
                r#"<div class="expired">exception expired: AdministratorAccess was excepted until 2026-12-01"#
            )
        );
    }

    #[test]
    fn the_run_is_in_the_header_and_its_configuration_listed() {
        let page = page();
        assert!(page.contains("<time datetime=\"2026-12-02T09:30:00Z\">2026-12-02T09:30:00Z</time>"));
        assert!(page.contains("<tr><th>Tool</th><td>eks-node-role-guard 0.1.0</td></tr>"));
        assert!(page.contains("<tr><th>Exempt roles (EXEMPT_ROLES)</th><td>eks-node-staging</td></tr>"));
        assert!(page.contains(
            "<li>eks-node-logs: arn:aws:iam::aws:policy/AmazonS3FullAccess until 2027-03-31: moving the log \
             shipper to Pod Identity</li>"
        ));
    }

    #[test]
    fn a_failed_role_is_not_a_clean_card() {
        let page = html(&fixture::organization(), &fixture::organization_run()).expect("renders");
        assert_eq!(cards(&page), ["needs", "excepted", "failed", "clean", "exempt"]);
        assert!(page.contains(r#"<h3>eks-node-batch<span class="badge failed">could not be checked</span></h3>"#));
        assert!(page.contains(r#"<div class="tile alert"><b>2</b><span>could not be checked</span></div>"#));
    }

    #[test]
    fn migrations_follow_the_policies_in_order() {
        let page = page();
        let prod = &page[page.find("id=\"role-111122223333-eks-node-prod\"").expect("prod")..];
        let prod = &prod[..prod.find("</section>").expect("its end")];
        assert!(prod.contains("<h4>Moving these workloads off the node role (EKS Pod Identity; run in order)</h4>"));
        assert!(prod.contains(
            "<p class=\"mig\">Cluster Autoscaler (kube-system/cluster-autoscaler) -&#62; role \
             cluster-autoscaler-eks-node-prod</p>"
        ));
        assert!(
            prod.contains("<ol class=\"steps\"><li><pre>aws iam create-role --role-name"),
            "{prod}"
        );
    }

    #[test]
    fn clusters_and_accounts_are_counted() {
        let org = html(&fixture::organization(), &fixture::organization_run()).expect("renders");
        assert!(org.contains("<tr><td>111122223333 us-east-1/prod</td><td>3</td><td>1</td></tr>"));
        assert!(org.contains("<tr><td>111122223333 us-west-2/edge</td><td>1</td><td>1</td></tr>"));
        assert!(org.contains(
            "<tr><td>555566667777</td><td>0</td><td>0</td><td>sts:AssumeRole on NodeRoleGuardMember: AccessDenied</td></tr>"
        ));
        // one account: its line is made from the roles
        assert!(page().contains("<tr><td>111122223333</td><td>4</td><td>1</td><td></td></tr>"));
    }

    #[test]
    fn text_from_aws_is_escaped_and_arns_break_only_after_a_colon_or_slash() {
        let page = page();
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
        assert!(page.contains(
            "<div class=\"arn\"><span>arn:</span><wbr><span>aws:</span><wbr><span>iam:</span><wbr><span>:</span><wbr>\
             <span>111122223333:</span><wbr><span>role/</span><wbr><span>eks-node-prod</span></div>"
        ));
        // code scrolls sideways rather than breaking inside a word
        assert!(page.contains("pre { white-space: pre; overflow-x: auto;"));
        assert!(!page.contains("break-all"));
    }

    #[test]
    fn no_warnings_no_fold() {
        let mut report = fixture::single();
        report.warnings.clear();
        let page = html(&report, &fixture::run()).expect("renders");
        assert!(!page.contains("discovery warning"));
    }
}
