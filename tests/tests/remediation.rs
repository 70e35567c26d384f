//! The core path against the emulator, over real HTTP with the real SDK clients.

use std::time::Duration;

use noderole::HandlerError;
use noderole_integration::*;
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_secs(2);
const DELIVERY: Duration = Duration::from_secs(10);

fn allowlisted() -> Vec<String> {
    let mut arns = vec![
        aws_managed("AmazonEC2ContainerRegistryReadOnly"),
        aws_managed("AmazonEKSWorkerNodePolicy"),
        aws_managed("AmazonEKS_CNI_Policy"),
    ];
    arns.sort();
    arns
}

fn with(mut arns: Vec<String>, extra: &str) -> Vec<String> {
    arns.push(aws_managed(extra));
    arns.sort();
    arns
}

#[tokio::test]
async fn admin_on_node_role_in_dry_run_is_reported_and_left_alone() {
    // Given a node role that just got AdministratorAccess
    let account = Account::new(Moto::shared()).await;
    let (role, arn) = node_role_in_cluster(&account, &[ADMIN]).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[])).await;

    // When the event arrives in dry-run
    let report = json_of(&guard.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());

    // Then nothing changed, the violation and the planned action are reported and notified
    assert_eq!(report["outcome"], "violations_found");
    assert_eq!(report["mode"], "dry-run");
    assert_eq!(report["node_role"], true);
    assert_eq!(report["role"]["arn"], arn.as_str());
    assert_eq!(report["nodegroups"][0]["nodegroup"], "general");
    assert_eq!(report["violations"][0]["policy_arn"], aws_managed(ADMIN));
    assert_eq!(
        actions(&report),
        vec![("detach_managed_policy".into(), ADMIN.into(), "planned".into())]
    );
    assert_eq!(account.attached(&role).await.unwrap(), with(allowlisted(), ADMIN));

    let notes = inbox.drain(DELIVERY).await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].attributes["mode"], "dry-run");
    assert_eq!(notes[0].attributes["outcome"], "violations_found");
    assert_eq!(notes[0].attributes["account"], ACCOUNT);
    assert!(
        notes[0].subject.contains(&role) && notes[0].subject.len() < 100,
        "{}",
        notes[0].subject
    );
    assert_eq!(notes[0].report["violations"], report["violations"]);
}

#[tokio::test]
async fn admin_on_node_role_in_enforce_is_detached_and_allowlisted_policies_stay() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[ADMIN, "AmazonS3FullAccess"]).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(&guard.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());

    // Then both non-allowlisted policies are gone (the event is a trigger, IAM is the truth)
    assert_eq!(report["outcome"], "remediated");
    let mut done = actions(&report);
    done.sort();
    assert_eq!(
        done,
        vec![
            ("detach_managed_policy".into(), ADMIN.into(), "done".into()),
            (
                "detach_managed_policy".into(),
                "AmazonS3FullAccess".into(),
                "done".into()
            ),
        ]
    );
    assert_eq!(account.attached(&role).await.unwrap(), allowlisted());
    let notes = inbox.drain(DELIVERY).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].attributes["outcome"], "remediated");
    let undo = notes[0].report["actions"][0]["undo_command"]
        .as_str()
        .unwrap_or_default();
    assert!(undo.starts_with("aws iam attach-role-policy --role-name"), "{undo}");
}

#[tokio::test]
async fn inline_policy_is_deleted_with_its_document_and_restore_command_in_the_notification() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[]).await;
    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Debug","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    account.put_inline(&role, "debug-s3", document).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(&guard.handle(&put_event(&role, "debug-s3", document)).await.unwrap());

    assert_eq!(report["outcome"], "remediated");
    assert_eq!(
        actions(&report),
        vec![("delete_inline_policy".into(), "debug-s3".into(), "done".into())]
    );
    assert!(account.inline(&role).await.unwrap().is_empty());
    // The notification read back from the queue carries the document and the restore command
    // (and so does the backup published before the delete, with the same content)
    let notes = inbox.drain(DELIVERY).await.unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    let report_note = reports(&notes);
    assert_eq!(report_note.len(), 1, "{notes:?}");
    let backup = &report_note[0].report["deleted_inline_policies"][0];
    let early = notes.iter().find(|n| n.is_backup()).expect("backup before delete");
    assert_eq!(&early.report["deleted_inline_policies"][0], backup);
    assert!(
        early
            .subject
            .starts_with("eks-node-role-guard: backup before delete: debug-s3 on ")
    );
    let restored: Value = serde_json::from_str(backup["document"].as_str().unwrap()).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(document).unwrap());
    let command = backup["restore_command"].as_str().unwrap();
    assert!(
        command.starts_with(&format!(
            "aws iam put-role-policy --role-name '{role}' --policy-name 'debug-s3'"
        )),
        "{command}"
    );
}

#[tokio::test]
async fn unrelated_role_with_admin_is_untouched_and_not_notified() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("ci-deployer");
    account.role(&role, "/", ACCOUNT_TRUST, &[ADMIN]).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(&guard.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());

    assert_eq!(report["outcome"], "not_node_role");
    assert_eq!(report["node_role"], false);
    // decided from the trust policy alone: one GetRole call
    assert_eq!(report["api_calls"], json!({"iam:GetRole": 1}));
    assert_eq!(account.attached(&role).await.unwrap(), vec![aws_managed(ADMIN)]);
    assert!(inbox.drain(QUIET).await.unwrap().is_empty());
}

#[tokio::test]
async fn ec2_role_outside_any_node_group_is_untouched() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("bastion");
    account.role(&role, "/", EC2_TRUST, &[ADMIN]).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(&guard.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());

    assert_eq!(report["outcome"], "not_node_role");
    assert!(report["reason"].as_str().unwrap().contains("us-east-1, us-west-2"));
    assert!(
        report["api_calls"]["eks:ListClusters"].as_u64() >= Some(2),
        "both regions scanned"
    );
    assert_eq!(account.attached(&role).await.unwrap(), vec![aws_managed(ADMIN)]);
    assert!(inbox.drain(QUIET).await.unwrap().is_empty());
}

#[tokio::test]
async fn node_group_in_a_second_region_is_found() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("node-west");
    let arn = account.node_role(&role, &["AmazonS3FullAccess"]).await.unwrap();
    let cluster = unique("west");
    account
        .cluster(SECOND_REGION, &cluster, &[("batch", &arn)])
        .await
        .unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(
        &guard
            .handle(&attach_event(&role, &aws_managed("AmazonS3FullAccess")))
            .await
            .unwrap(),
    );

    assert_eq!(report["outcome"], "remediated");
    assert_eq!(
        report["nodegroups"],
        json!([{"kind": "managed_nodegroup", "region": SECOND_REGION, "cluster": cluster, "nodegroup": "batch"}])
    );
    assert_eq!(account.attached(&role).await.unwrap(), allowlisted());
}

#[tokio::test]
async fn create_nodegroup_for_a_role_with_extra_policies_is_remediated() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("node-gpu");
    let arn = account.node_role(&role, &["AmazonS3FullAccess"]).await.unwrap();
    account
        .put_inline(
            &role,
            "extra",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    let cluster = unique("ml");
    account
        .cluster(SECOND_REGION, &cluster, &[("gpu", &arn)])
        .await
        .unwrap();
    let inbox = account.inbox().await.unwrap();
    // only the first region is scanned: the event itself names the node group's region
    let guard = remediator(
        &account,
        config(&inbox.topic_arn, &[("MODE", "enforce"), ("SCAN_REGIONS", REGION)]),
    )
    .await;

    let event = create_nodegroup_event(SECOND_REGION, &cluster, "gpu", &arn);
    let report = json_of(&guard.handle(&event).await.unwrap());

    assert_eq!(report["outcome"], "remediated", "{report:#}");
    assert_eq!(report["nodegroups"][0]["cluster"], cluster.as_str());
    // confirmed with DescribeNodegroup in the event's region, although SCAN_REGIONS excludes it
    assert!(report["api_calls"]["eks:DescribeNodegroup"].as_u64() >= Some(1));
    assert_eq!(account.attached(&role).await.unwrap(), allowlisted());
    assert!(account.inline(&role).await.unwrap().is_empty());
    let notes = inbox.drain(DELIVERY).await.unwrap();
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");
    assert_eq!(
        notes.iter().filter(|n| n.is_backup()).count(),
        1,
        "the inline policy's backup"
    );
}

#[tokio::test]
async fn create_nodegroup_for_a_node_group_that_is_gone_is_ignored() {
    let account = Account::new(Moto::shared()).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;
    let event = create_nodegroup_event(REGION, &unique("missing"), "gpu", "arn:aws:iam::123456789012:role/x");

    let report = json_of(&guard.handle(&event).await.unwrap());

    assert_eq!(report["outcome"], "ignored");
    assert!(
        report["reason"].as_str().unwrap().contains("no longer exists"),
        "{report}"
    );
}

#[tokio::test]
async fn failed_call_is_ignored_without_any_aws_call() {
    let account = Account::new(Moto::shared()).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(&guard.handle(&event_file("attach-denied.json")).await.unwrap());

    assert_eq!(report["outcome"], "ignored");
    assert!(report["reason"].as_str().unwrap().contains("AccessDenied"));
    assert_eq!(report["api_calls"], json!({}));
    assert!(inbox.drain(QUIET).await.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_payload_is_a_clear_error() {
    let account = Account::new(Moto::shared()).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    for payload in [json!({"hello": "world"}), json!("AttachRolePolicy"), json!(null)] {
        let err = guard.handle(&payload).await.expect_err("not an event");
        assert!(matches!(err, HandlerError::InvalidEvent(_)));
        assert_eq!(err.error_type(), "InvalidEvent");
        assert!(err.to_string().contains("not an EventBridge event"), "{err}");
    }
}

#[tokio::test]
async fn the_same_event_twice_changes_nothing_the_second_time() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[ADMIN]).await;
    account
        .put_inline(
            &role,
            "p",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;
    let event = attach_event(&role, &aws_managed(ADMIN));

    let first = json_of(&guard.handle(&event).await.unwrap());
    let second = json_of(&guard.handle(&event).await.unwrap());

    assert_eq!(first["outcome"], "remediated");
    assert_eq!(actions(&first).len(), 2);
    assert_eq!(second["outcome"], "compliant");
    assert!(actions(&second).is_empty());
    // the second run found the index warm: no EKS calls at all
    assert_eq!(second["index"], "cached");
    assert!(
        !second["api_calls"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("eks:")),
        "{second:#}"
    );
    let notes = inbox.drain(DELIVERY).await.unwrap();
    assert_eq!(reports(&notes).len(), 1, "only the first run notifies: {notes:?}");
    assert_eq!(
        notes.iter().filter(|n| n.is_backup()).count(),
        1,
        "one backup, of the one delete"
    );
}

#[tokio::test]
async fn exempt_role_is_never_touched() {
    let account = Account::new(Moto::shared()).await;
    let (role, arn) = node_role_in_cluster(&account, &[ADMIN]).await;
    let (other, _) = node_role_in_cluster(&account, &[ADMIN]).await;
    let inbox = account.inbox().await.unwrap();
    let exempt = format!("{role},arn:aws:iam::{ACCOUNT}:role/eks/nodes/{other}");
    let guard = remediator(
        &account,
        config(&inbox.topic_arn, &[("MODE", "enforce"), ("EXEMPT_ROLES", &exempt)]),
    )
    .await;

    let by_name = json_of(&guard.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());
    let by_arn = json_of(&guard.handle(&attach_event(&other, &aws_managed(ADMIN))).await.unwrap());

    assert_eq!(by_name["outcome"], "exempt");
    assert_eq!(by_name["api_calls"], json!({}), "exempt by name costs no call");
    assert_eq!(by_arn["outcome"], "exempt");
    assert!(by_arn["reason"].as_str().unwrap().contains("EXEMPT_ROLES"));
    assert_eq!(account.attached(&role).await.unwrap(), with(allowlisted(), ADMIN));
    assert_eq!(account.attached(&other).await.unwrap(), with(allowlisted(), ADMIN));
    assert!(arn.ends_with(&role));
    assert!(inbox.drain(QUIET).await.unwrap().is_empty());
}

#[tokio::test]
async fn event_from_another_account_is_ignored() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[ADMIN]).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;
    let mut event = attach_event(&role, &aws_managed(ADMIN));
    event["account"] = json!("210987654321");

    let report = json_of(&guard.handle(&event).await.unwrap());

    assert_eq!(report["outcome"], "ignored");
    assert!(report["reason"].as_str().unwrap().contains("210987654321"));
    assert_eq!(account.attached(&role).await.unwrap(), with(allowlisted(), ADMIN));
}

#[tokio::test]
async fn customer_policy_named_like_an_allowlisted_one_is_detached() {
    let account = Account::new(Moto::shared()).await;
    let (role, _) = node_role_in_cluster(&account, &[]).await;
    let lookalike = account
        .customer_policy(
            "AmazonEKSWorkerNodePolicy",
            &format!("/{}/", unique("lookalike")),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    account.attach(&role, &lookalike).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let report = json_of(&guard.handle(&attach_event(&role, &lookalike)).await.unwrap());

    assert_eq!(report["outcome"], "remediated");
    assert_eq!(report["violations"][0]["policy_arn"], lookalike.as_str());
    assert_eq!(account.attached(&role).await.unwrap(), allowlisted());
}
