//! Safety against the emulator: exact restore, duplicate and concurrent deliveries, and a
//! sweep whose cost does not grow with unrelated roles.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use noderole_integration::*;
use serde_json::{Value, json};

const DELIVERY: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_deleted_inline_policy_is_restored_exactly_from_the_notification() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("node-restore");
    node_role_named_in_cluster(&account, &role, &[]).await;
    // awkward content: quotes, a single quote, unicode, nested conditions, whitespace
    let document = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Sid": "O'Brien's \"debug\"", "Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"],
    "Resource": "arn:aws:s3:::bücket/*", "Condition": {"StringLike": {"aws:PrincipalTag/team": ["a*", "b?"]}}}]
}"#;
    account.put_inline(&role, "legacy's-policy", document).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    guard
        .handle(&put_event(&role, "legacy's-policy", document))
        .await
        .unwrap();
    assert!(account.inline(&role).await.unwrap().is_empty(), "deleted");

    let notes = inbox.drain(DELIVERY).await.unwrap();
    let command = notes[0].report["deleted_inline_policies"][0]["restore_command"]
        .as_str()
        .expect("restore command")
        .to_owned();
    assert!(command.starts_with("aws iam put-role-policy "), "{command}");
    account.run_iam_command(&command).await.expect("restore");

    let restored = account
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name("legacy's-policy")
        .send()
        .await
        .unwrap();
    let restored: Value = serde_json::from_str(&noderole::types::decode_document(restored.policy_document())).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(document).unwrap());
}

/// `(policy, status)` counts over many reports.
fn tally(reports: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for report in reports {
        for (_, policy, status) in actions(report) {
            *counts.entry((policy, status)).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn ten_deliveries_of_one_event_remove_each_violation_once() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("node-dup");
    node_role_named_in_cluster(&account, &role, &[ADMIN]).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;
    let event = attach_event(&role, &aws_managed(ADMIN));

    let mut reports = Vec::new();
    for _ in 0..10 {
        reports.push(json_of(&guard.handle(&event).await.expect("no delivery fails")));
    }

    assert_eq!(tally(&reports), BTreeMap::from([((ADMIN.into(), "done".into()), 1)]));
    assert_eq!(reports.iter().filter(|r| r["outcome"] == "compliant").count(), 9);
    assert_eq!(inbox.drain(DELIVERY).await.unwrap().len(), 1);
}

#[tokio::test]
async fn twenty_concurrent_invocations_claim_each_removal_once() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("node-race");
    let arn = account
        .node_role(
            &role,
            &["AdministratorAccess", "AmazonS3FullAccess", "AmazonEC2FullAccess"],
        )
        .await
        .unwrap();
    account
        .put_inline(
            &role,
            "one",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    account
        .put_inline(
            &role,
            "two",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    account.cluster(REGION, &unique("c"), &[("ng", &arn)]).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    // one warm function instance serving twenty concurrent events (as with runtime concurrency)
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;
    let event = attach_event(&role, &aws_managed(ADMIN));

    let results = futures::future::join_all((0..20).map(|_| guard.handle(&event))).await;

    let reports: Vec<Value> = results
        .iter()
        .map(|r| json_of(r.as_ref().expect("no invocation fails")))
        .collect();
    let done: BTreeMap<_, _> = tally(&reports)
        .into_iter()
        .filter(|((_, status), _)| status == "done")
        .collect();
    let expected: BTreeMap<(String, String), usize> = [
        "AdministratorAccess",
        "AmazonS3FullAccess",
        "AmazonEC2FullAccess",
        "one",
        "two",
    ]
    .into_iter()
    .map(|p| ((p.to_owned(), "done".to_owned()), 1))
    .collect();
    assert_eq!(done, expected, "each removal claimed exactly once");
    assert!(
        tally(&reports)
            .keys()
            .all(|(_, status)| status == "done" || status == "already_done"),
        "{:?}",
        tally(&reports)
    );
    assert_eq!(
        account.attached(&role).await.unwrap().len(),
        3,
        "only the allowlisted three remain"
    );
    assert!(account.inline(&role).await.unwrap().is_empty());

    // notifications never claim the same removal twice, and every deleted document is backed up once
    let notes = inbox.drain(DELIVERY).await.unwrap();
    let mut claimed: Vec<String> = notes
        .iter()
        .flat_map(|n| actions(&n.report))
        .filter(|(_, _, status)| status == "done")
        .map(|(_, policy, _)| policy)
        .collect();
    claimed.sort();
    assert_eq!(
        claimed,
        [
            "AdministratorAccess",
            "AmazonEC2FullAccess",
            "AmazonS3FullAccess",
            "one",
            "two"
        ]
    );
    let backups: usize = noderole_integration::reports(&notes)
        .iter()
        .map(|n| n.report["deleted_inline_policies"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(backups, 2);
    // and each was in the topic before it was deleted (concurrent invocations that lost the
    // race to delete may have published a backup too)
    let early: BTreeSet<String> = notes
        .iter()
        .filter(|n| n.is_backup())
        .filter_map(|n| {
            n.report["deleted_inline_policies"][0]["policy_name"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(early, BTreeSet::from(["one".to_owned(), "two".to_owned()]));
}

#[tokio::test]
async fn sweep_cost_does_not_depend_on_unrelated_roles() {
    // a dedicated server: the sweep sees every cluster in the account
    let moto = Moto::start().unwrap();
    let account = Account::new(&moto).await;
    let arn = account.node_role("sweep-node", &["AmazonS3FullAccess"]).await.unwrap();
    account
        .cluster(REGION, "sweep-a", &[("ng1", &arn), ("ng2", &arn)])
        .await
        .unwrap();
    account
        .cluster(SECOND_REGION, "sweep-b", &[("ng3", &arn)])
        .await
        .unwrap();
    let inbox = account.inbox().await.unwrap();

    let mut calls = Vec::new();
    for unrelated in [5, 300] {
        let create = (0..unrelated).map(|i| {
            let account = &account;
            async move {
                account
                    .role(
                        &format!("unrelated-{unrelated}-{i}"),
                        "/",
                        ACCOUNT_TRUST,
                        &["ReadOnlyAccess"],
                    )
                    .await
                    .unwrap()
            }
        });
        futures::future::join_all(create).await;
        // a fresh instance, dry-run so both runs see the same violation
        let guard = remediator(&account, config(&inbox.topic_arn, &[])).await;
        let report = json_of(&guard.handle(&event_file("scheduled-sweep.json")).await.unwrap());
        assert_eq!(report["outcome"], "sweep_completed");
        assert_eq!(report["roles"].as_array().unwrap().len(), 1, "{report:#}");
        assert_eq!(report["roles"][0]["outcome"], "violations_found");
        calls.push(report["api_calls"].clone());
    }
    assert_eq!(calls[0], calls[1], "same calls with 5 and 305 unrelated roles");
    assert_eq!(calls[0]["iam:ListRoles"], Value::Null);
    assert_eq!(calls[0]["eks:DescribeNodegroup"], json!(3));
}
