//! The notification docs/notifications.md shows is the one the code renders: a dry-run check of
//! a realistic node role, judged on a fixed day, its subject and text compared with the blocks
//! marked `<!-- notification: NAME -->` (a ```` ```text ```` fence, then `<!-- /notification -->`).
//! `UPDATE_SAMPLES=1 cargo test -p noderole --lib documented` rewrites the blocks instead.

use super::*;
use crate::telling::notify::{self, Guards};

const OPEN: &str = "<!-- notification: ";
const CLOSE: &str = "<!-- /notification -->";

fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/notifications.md")
}

/// Where the content of block `name` is in `doc` (between its fence lines).
fn block(doc: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let marker = format!("{OPEN}{name} -->\n```text\n");
    let start = doc.find(&marker)? + marker.len();
    let end = start + doc[start..].find(&format!("```\n{CLOSE}"))?;
    Some(start..end)
}

/// A dry-run check of eks-node-prod on 2026-12-02: AdministratorAccess, an eksctl autoscaler
/// inline policy, and the SSM policy excepted until 2027-03-31, after the attach event in
/// `events/`.
async fn documented_notification() -> Notification {
    let autoscaling = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["autoscaling:DescribeAutoScalingGroups","autoscaling:SetDesiredCapacity","autoscaling:TerminateInstanceInAutoScalingGroup"],"Resource":"*"}]}"#;
    let mut policies = NODE.to_vec();
    policies.extend([ADMIN, "AmazonSSMManagedInstanceCore"]);
    let iam = FakeIam::default().with_role(
        "eks-node-prod",
        EC2_TRUST,
        &policies,
        &[("eksctl-prod-nodegroup-general-PolicyAutoScaling", autoscaling)],
    );
    let exceptions = r#"[{"role":"eks-node-prod","policy":"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "until":"2027-03-31","reason":"Session Manager until the bastion host is retired"}]"#;
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "prod").nodegroup("general", "eks-node-prod")],
        &[("MODE", "dry-run"), ("EXCEPTIONS", exceptions)],
    );
    let payload: Value =
        serde_json::from_str(include_str!("../../../../../events/attach-admin-to-node-role.json")).expect("JSON");
    let event = crate::event::parse(&payload).expect("an event");
    let summary = EventSummary {
        id: event.id,
        name: event.name,
        region: event.region,
        actor: event.actor,
    };
    let mut report = Report::new(guard.config.mode, Some(guard.home.id.clone()), summary);
    let check = Check {
        config: &guard.config,
        home: &guard.home.id,
        today: "2026-12-02".parse().expect("a date"),
    };
    let verdict = check
        .assess(
            &guard.home.in_account(),
            &mut report,
            "eks-node-prod",
            None,
            None,
            &guard.home.addon_facts,
        )
        .await;
    let Ok(Some(state)) = verdict else {
        panic!("violations to act on: {report:?}");
    };
    guard.act(&guard.home, &mut report, &state).await;
    assert_eq!(report.outcome, Outcome::ViolationsFound);
    assert_eq!((report.violations.len(), report.excepted.len()), (2, 1), "{report:?}");
    assert!(!report.migrations.is_empty(), "{report:?}");
    notify::notification(&report, Guards::OwnAccount)
}

#[tokio::test]
async fn the_documented_notification_is_the_one_the_code_renders() {
    let notification = documented_notification().await;
    let body: Value = serde_json::from_str(&notification.message).expect("json");
    let rendered = [
        ("subject", format!("{}\n", notification.subject)),
        ("text", body["default"].as_str().expect("text").to_owned()),
    ];
    let path = doc_path();
    let mut doc = std::fs::read_to_string(&path).expect("docs/notifications.md");
    if std::env::var("UPDATE_SAMPLES").is_ok_and(|v| v == "1") {
        for (name, content) in &rendered {
            let range = block(&doc, name).unwrap_or_else(|| panic!("no block {name} in {}", path.display()));
            doc.replace_range(range, content);
        }
        std::fs::write(&path, doc).expect("rewriting docs/notifications.md");
        return;
    }
    for (name, content) in &rendered {
        let range = block(&doc, name).unwrap_or_else(|| panic!("no block {OPEN}{name} --> in {}", path.display()));
        assert_eq!(
            &doc[range],
            content.as_str(),
            "docs/notifications.md's {name} block is not what the code renders \
             (UPDATE_SAMPLES=1 cargo test -p noderole --lib documented rewrites it)"
        );
    }
}

#[test]
fn a_block_is_found_by_its_name_and_only_its_content_is_taken() {
    let doc = format!("a\n{OPEN}subject -->\n```text\nline 1\n```\n{CLOSE}\n{OPEN}text -->\n```text\n```\n{CLOSE}\n");
    assert_eq!(&doc[block(&doc, "subject").expect("found")], "line 1\n");
    assert_eq!(&doc[block(&doc, "text").expect("found")], "");
    assert_eq!(block(&doc, "other"), None);
}
