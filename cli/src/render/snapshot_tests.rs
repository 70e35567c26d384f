//! Snapshots of what a person reads, over the fixture: the table at 120 columns without colour,
//! Markdown, HTML and `explain`. The `.snap` files beside this one are committed; a change to a
//! printer shows as a failing test and a diff. Review one with
//! `INSTA_UPDATE=always cargo test -p eks-node-role-guard` then `git diff` (docs/audit.md); with
//! `CI=true` insta never writes a file and a mismatch fails.
//!
//! `REPORT_HTML_DIR=DIR` also writes the fixture's HTML pages there, to look at in a browser.

use noderole::running::audit::{Explanation, Trust};

use super::fixture;
use super::{explanation, html, markdown, table};

#[test]
fn table_of_one_account_at_120_columns() {
    insta::assert_snapshot!("table_single", table(&fixture::single(), false, Some(120)));
}

#[test]
fn table_of_an_organization_at_120_columns() {
    insta::assert_snapshot!("table_organization", table(&fixture::organization(), false, Some(120)));
}

#[test]
fn markdown_of_one_account() {
    insta::assert_snapshot!("markdown_single", markdown(&fixture::single(), &fixture::run()));
}

#[test]
fn html_of_one_account() {
    insta::assert_snapshot!(
        "html_single",
        html(&fixture::single(), &fixture::run()).expect("renders")
    );
}

#[test]
fn nodes_as_they_run_in_every_format() {
    let report = fixture::instances();
    insta::assert_snapshot!("table_instances", table(&report, false, Some(120)));
    insta::assert_snapshot!("markdown_instances", markdown(&report, &fixture::run()));
    insta::assert_snapshot!("html_instances", html(&report, &fixture::run()).expect("renders"));
}

#[test]
fn html_of_an_organization() {
    let page = html(&fixture::organization(), &fixture::organization_run()).expect("renders");
    insta::assert_snapshot!("html_organization", page);
}

#[test]
fn explain_of_a_role_with_violations() {
    let text = explanation(&Explanation {
        trust: Trust {
            node_trust: "ec2",
            principals: vec!["ec2.amazonaws.com".into()],
        },
        report: fixture::prod(),
    });
    insta::assert_snapshot!("explain_prod", text);
}

#[test]
fn html_pages_for_a_browser() {
    let Some(dir) = std::env::var_os("REPORT_HTML_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the directory");
    let pages = [
        ("audit-single.html", html(&fixture::single(), &fixture::run())),
        (
            "audit-organization.html",
            html(&fixture::organization(), &fixture::organization_run()),
        ),
    ];
    for (name, page) in pages {
        std::fs::write(dir.join(name), page.expect("renders")).expect("written");
    }
}
