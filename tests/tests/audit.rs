//! `eks-node-role-guard audit` and `explain`, the built command against the emulator over real
//! HTTP: verdicts, read-only by construction (the account is unchanged and every request was a
//! read), each output format, exit codes and errors. Each test has a server of its own: an
//! audit reads the whole account.

use std::collections::{BTreeMap, BTreeSet};

use noderole_integration::Proxy;
use noderole_integration::*;
use serde_json::Value;

const S3_EVERYTHING: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

/// An account with a violating node role, a compliant one, a decoy with the same violations
/// but no node group, and an unrelated role.
struct Seeded {
    moto: Moto,
    account: Account,
    violating: String,
    compliant: String,
    decoy: String,
    unrelated: String,
}

async fn seeded() -> Seeded {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let violating = unique("node-admin");
    let arn = account.node_role(&violating, &[ADMIN]).await.expect("role");
    account
        .put_inline(&violating, "debug-s3", S3_EVERYTHING)
        .await
        .expect("inline");
    let compliant = unique("node-clean");
    let clean_arn = account.node_role(&compliant, &[]).await.expect("role");
    account
        .cluster(REGION, &unique("prod"), &[("general", &arn), ("system", &clean_arn)])
        .await
        .expect("cluster");
    let decoy = unique("decoy");
    account.role(&decoy, "/", EC2_TRUST, &[ADMIN]).await.expect("decoy");
    account
        .put_inline(&decoy, "debug-s3", S3_EVERYTHING)
        .await
        .expect("inline");
    let unrelated = unique("ci-deployer");
    account
        .role(&unrelated, "/", ACCOUNT_TRUST, &[ADMIN])
        .await
        .expect("unrelated");
    Seeded {
        moto,
        account,
        violating,
        compliant,
        decoy,
        unrelated,
    }
}

/// Every role's attached and inline policies.
async fn snapshot(s: &Seeded) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut all = BTreeMap::new();
    for role in [&s.violating, &s.compliant, &s.decoy, &s.unrelated] {
        let attached = s.account.attached(role).await.expect("attached");
        let inline = s.account.inline(role).await.expect("inline");
        all.insert(role.clone(), (attached, inline));
    }
    all
}

fn role_report<'a>(report: &'a Value, role: &str) -> Option<&'a Value> {
    report["roles"].as_array()?.iter().find(|r| r["role"]["name"] == role)
}

#[tokio::test]
async fn the_audit_reports_what_enforce_would_do_and_only_reads() {
    // Given the seeded account, behind a proxy that records every request
    let s = seeded().await;
    let before = snapshot(&s).await;
    let proxy = Proxy::start(&s.moto.endpoint, 0.0, 1).expect("proxy");

    // When the audit runs with --exit-code
    let run = run_cli(
        &proxy.endpoint,
        &["audit", "--regions", REGION, "--format", "json", "--exit-code"],
    )
    .expect("ran");

    // Then it exits 1 (violations), the node roles carry the function's verdicts, decoys and
    // unrelated roles are not there
    assert_eq!(run.code, 1, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("the Report as JSON");
    assert_eq!(report["mode"], "dry-run");
    assert_eq!(report["outcome"], "sweep_completed");
    let violating = role_report(&report, &s.violating).expect("violating role");
    assert_eq!(violating["outcome"], "violations_found");
    let planned: BTreeSet<(String, String)> = violating["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["policy_name"].as_str().unwrap_or_default().to_owned(),
                a["result"]["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        BTreeSet::from([
            (ADMIN.to_owned(), "planned".to_owned()),
            ("debug-s3".to_owned(), "planned".to_owned())
        ])
    );
    assert_eq!(
        role_report(&report, &s.compliant).expect("compliant role")["outcome"],
        "compliant"
    );
    assert!(role_report(&report, &s.decoy).is_none());
    assert!(role_report(&report, &s.unrelated).is_none());

    // and nothing changed, and every request the command made was a read
    assert_eq!(snapshot(&s).await, before);
    let seen = proxy.seen();
    assert!(!seen.operations.is_empty());
    for operation in seen.operations.keys() {
        let (service, what) = operation.split_once(':').expect("service:operation");
        let read = match service {
            "iam" | "sts" | "organizations" => ["Get", "List"].iter().any(|p| what.starts_with(p)),
            "eks" => what.starts_with("GET "),
            "ec2" => what.starts_with("Describe"),
            _ => false,
        };
        assert!(read, "{operation} is not a read: {:?}", seen.operations);
    }
}

#[tokio::test]
async fn every_format_parses_and_the_findings_are_the_functions() {
    let s = seeded().await;
    let endpoint = s.moto.endpoint.clone();
    let audit = |format: &str| {
        let run = run_cli(&endpoint, &["audit", "--regions", REGION, "--format", format]).expect("ran");
        assert_eq!(run.code, 0, "without --exit-code violations are not an error: {run:?}");
        run.stdout
    };

    // the table and Markdown name the roles and the verdicts
    let table = audit("table");
    assert!(table.contains(&s.violating) && table.contains(&s.compliant), "{table}");
    assert!(table.contains("REMOVE") && !table.contains(&s.decoy), "{table}");
    let markdown = audit("markdown");
    assert!(markdown.contains(&format!("## {} ", s.violating)), "{markdown}");
    assert!(markdown.contains("aws iam detach-role-policy"), "{markdown}");

    // the HTML is HTML, with a card per node role
    let html = audit("html");
    let headings = html_headings(&html);
    assert!(headings.contains(&s.violating), "{headings:?}");
    assert!(headings.contains(&s.compliant), "{headings:?}");
    assert!(!html.contains(&s.decoy));

    // the ASFF findings are those the function imports into Security Hub: same Ids
    let asff: Value = serde_json::from_str(&audit("asff")).expect("ASFF as JSON");
    let ids: BTreeSet<String> = asff
        .as_array()
        .expect("an array of findings")
        .iter()
        .filter_map(|f| f["Id"].as_str().map(str::to_owned))
        .collect();
    let inbox = s.account.inbox().await.expect("inbox");
    let guard = remediator(
        &s.account,
        config(&inbox.topic_arn, &[("SECURITY_HUB", "on"), ("SCAN_REGIONS", REGION)]),
    )
    .await;
    guard.handle(&event_file("scheduled-sweep.json")).await.expect("swept");
    let hub = aws_sdk_securityhub::Client::new(&s.account.sdk);
    let mut pages = hub.get_findings().into_paginator().items().send();
    let mut imported = BTreeSet::new();
    while let Some(finding) = pages.next().await {
        imported.extend(finding.expect("GetFindings").id.map(|id| id.to_owned()));
    }
    assert_eq!(ids.len(), 2, "{asff}");
    assert_eq!(ids, imported);

    // --exit-code is 0 when nothing would change (the violating role exempt), --output writes
    let out = std::env::temp_dir().join(format!("{}.html", unique("audit")));
    let run = run_cli(
        &endpoint,
        &[
            "audit",
            "--regions",
            REGION,
            "--exempt-roles",
            &s.violating,
            "--exit-code",
            "--format",
            "html",
            "--output",
            out.to_str().expect("utf-8 path"),
        ],
    )
    .expect("ran");
    assert_eq!(run.code, 0, "{run:?}");
    let written = std::fs::read_to_string(&out).expect("written");
    let _ = std::fs::remove_file(&out);
    assert!(html_headings(&written).contains(&s.violating));
}

#[tokio::test]
async fn explain_says_why_and_errors_are_clear() {
    let s = seeded().await;
    let endpoint = s.moto.endpoint.clone();

    let run = run_cli(&endpoint, &["explain", &s.violating, "--regions", REGION]).expect("ran");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ec2.amazonaws.com"), "{}", run.stdout);
    assert!(run.stdout.contains("node group general"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("REMOVE {ADMIN}: AWS-managed policy not in the allowlist")),
        "{}",
        run.stdout
    );
    let decoy = run_cli(
        &endpoint,
        &["explain", &s.decoy, "--regions", REGION, "--format", "json"],
    )
    .expect("ran");
    let explained: Value = serde_json::from_str(&decoy.stdout).expect("json");
    assert_eq!(explained["trust"]["node_trust"], "ec2");
    assert_eq!(explained["report"]["outcome"], "not_node_role", "{explained}");

    // an unknown role, an unknown region, no credentials: exit 2 with a sentence that says so
    let unknown = run_cli(&endpoint, &["explain", "no-such-role", "--regions", REGION]).expect("ran");
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("role no-such-role does not exist"),
        "{unknown:?}"
    );
    let typo = run_cli(&endpoint, &["audit", "--regions", "us-eest-1"]).expect("ran");
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("unknown region \"us-eest-1\""), "{typo:?}");
    let nobody = run_cli_env(&["audit", "--regions", REGION], &[("AWS_ENDPOINT_URL", &endpoint)]).expect("ran");
    assert_eq!(nobody.code, 2);
    assert!(nobody.stderr.contains("no AWS credentials found"), "{nobody:?}");
}

#[tokio::test]
async fn member_accounts_are_audited_through_the_member_role() {
    let moto = Moto::start().expect("moto");
    let ids = [unique_account(), unique_account()];
    let role = unique("node");
    for id in &ids {
        let member = Account::in_account(&moto, id).await;
        let arn = member.node_role(&role, &[ADMIN]).await.expect("role");
        member
            .cluster(REGION, &unique("c"), &[("ng", &arn)])
            .await
            .expect("cluster");
    }
    let accounts = ids.join(",");

    let through_members = |command: &[&str]| {
        let scope = [
            "--regions",
            REGION,
            "--member-role",
            "security/auditor",
            "--accounts",
            &accounts,
        ];
        run_cli(&moto.endpoint, &[command, &scope[..]].concat()).expect("ran")
    };

    // explain in an account outside --accounts: refused before any AssumeRole
    let outsider = unique_account();
    let refused = through_members(&["explain", &role, "--account", &outsider]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("is not among the accounts"), "{refused:?}");

    let run = through_members(&["audit", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    let lines = report["accounts"].as_array().expect("account lines");
    assert_eq!(lines.len(), 2, "{report}");
    for id in &ids {
        let found = report["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|r| r["account"] == id.as_str() && r["outcome"] == "violations_found");
        assert!(found, "{id}: {report}");
    }
}

#[tokio::test]
async fn the_callers_own_node_role_is_judged_and_findings_name_the_profiles_region() {
    // Given the audit run with the violating node role's own credentials, as from a node
    let s = seeded().await;
    let role_arn = s
        .account
        .iam
        .get_role()
        .role_name(&s.violating)
        .send()
        .await
        .expect("GetRole")
        .role
        .map(|r| r.arn)
        .expect("role");
    let session = aws_sdk_sts::Client::new(&s.account.sdk)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("i-0123456789abcdef0")
        .send()
        .await
        .expect("AssumeRole")
        .credentials
        .expect("credentials");
    let as_node = |args: &[&str], region: &str| {
        run_cli_env(
            args,
            &[
                ("AWS_ENDPOINT_URL", &s.moto.endpoint),
                ("AWS_ACCESS_KEY_ID", session.access_key_id()),
                ("AWS_SECRET_ACCESS_KEY", session.secret_access_key()),
                ("AWS_SESSION_TOKEN", session.session_token()),
                ("AWS_REGION", region),
            ],
        )
        .expect("ran")
    };

    // When it audits (regions written loosely, as SCAN_REGIONS accepts them)
    let run = as_node(
        &[
            "audit",
            "--regions",
            &format!(" {REGION},"),
            "--format",
            "json",
            "--exit-code",
        ],
        REGION,
    );

    // Then the caller's role is not exempt: it is judged like any node role
    assert_eq!(run.code, 1, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    let violating = role_report(&report, &s.violating).expect("violating role");
    assert_eq!(violating["outcome"], "violations_found", "{violating}");

    // and ASFF findings carry the profile's region (where batch-import-findings runs), not
    // the region searched
    let asff = as_node(&["audit", "--regions", REGION, "--format", "asff"], "us-west-2");
    assert_eq!(asff.code, 0, "{asff:?}");
    let findings: Value = serde_json::from_str(&asff.stdout).expect("ASFF");
    let findings = findings.as_array().expect("findings");
    assert!(!findings.is_empty());
    for finding in findings {
        assert_eq!(finding["Region"], "us-west-2", "{finding}");
        let product = finding["ProductArn"].as_str().unwrap_or_default();
        assert!(product.starts_with("arn:aws:securityhub:us-west-2:"), "{product}");
    }
}

#[tokio::test]
async fn an_audit_that_could_not_check_everything_is_never_clean() {
    let s = seeded().await;
    // a second cluster, whose node groups a policy scoped to some clusters will refuse
    let hidden = unique("node-hidden");
    let hidden_arn = s.account.node_role(&hidden, &[ADMIN]).await.expect("role");
    let closed = unique("closed");
    s.account
        .cluster(REGION, &closed, &[("ng", &hidden_arn)])
        .await
        .expect("cluster");
    let audit = |endpoint: &str| {
        run_cli(
            endpoint,
            &["audit", "--regions", REGION, "--format", "json", "--exit-code"],
        )
        .expect("ran")
    };

    // A cluster whose node groups are denied: a warning, the region's other clusters audited
    let proxy = Proxy::start(&s.moto.endpoint, 0.0, 1).expect("proxy");
    proxy.deny(&format!("eks:GET /clusters/{closed}/node-groups"));
    let run = audit(&proxy.endpoint);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("warning: node groups of {REGION}/{closed}:")),
        "{run:?}"
    );
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(role_report(&report, &s.violating).is_some(), "{report}");
    assert!(role_report(&report, &hidden).is_none(), "{report}");

    // Node roles whose policies cannot be read: reported as not checked, exit 2, not 0 or 1
    let proxy = Proxy::start(&s.moto.endpoint, 0.0, 1).expect("proxy");
    proxy.deny("iam:ListAttachedRolePolicies");
    let run = audit(&proxy.endpoint);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("error: node role {} in account", s.compliant)),
        "{run:?}"
    );
    let report: Value = serde_json::from_str(&run.stdout).expect("the report is still written");
    assert_eq!(
        role_report(&report, &s.compliant).expect("compliant")["outcome"],
        "failed"
    );
    let table = run_cli(&proxy.endpoint, &["audit", "--regions", REGION]).expect("ran");
    assert_eq!(table.code, 2, "{table:?}");
    assert!(table.stdout.contains("could not be checked"), "{}", table.stdout);
    let explained = run_cli(&proxy.endpoint, &["explain", &s.compliant, "--regions", REGION]).expect("ran");
    assert_eq!(explained.code, 2, "{explained:?}");

    // No region searched at all: an error, not "0 node roles"
    let proxy = Proxy::start(&s.moto.endpoint, 0.0, 1).expect("proxy");
    proxy.deny("eks:GET /clusters");
    let run = audit(&proxy.endpoint);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no region could be searched"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
}

/// The text of every `<h3>` (role cards), read by Python's HTML parser.
fn html_headings(html: &str) -> Vec<String> {
    let script = "import html.parser, json, sys\n\
                  class P(html.parser.HTMLParser):\n    \
                      def __init__(self):\n        \
                          super().__init__(); self.inside = False; self.found = []\n    \
                      def handle_starttag(self, tag, attrs):\n        \
                          if tag == 'h3': self.inside = True; self.found.append('')\n    \
                      def handle_endtag(self, tag):\n        \
                          if tag == 'h3': self.inside = False\n    \
                      def handle_data(self, data):\n        \
                          if self.inside and not self.get_starttag_text().startswith('<span'): self.found[-1] += data\n\
                  p = P(); p.feed(sys.stdin.read()); p.close()\n\
                  print(json.dumps([t.strip() for t in p.found]))\n";
    let mut child = std::process::Command::new(venv_python().expect("python"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(html.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("parsed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("headings")
}
