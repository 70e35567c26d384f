//! Security Hub findings against the emulator over real HTTP (`BatchImportFindings`,
//! `GetFindings`): created open in dry-run, archived by enforce, one per violation whatever the
//! deliveries, and archived by the sweep once the role is gone. Each test has a server of its
//! own, so no test sees another's findings.

use std::time::Duration;

use aws_sdk_securityhub::types::{AwsSecurityFinding, ComplianceStatus, RecordState};
use noderole_integration::*;

const S3_EVERYTHING: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

async fn findings(account: &Account) -> Vec<AwsSecurityFinding> {
    let hub = aws_sdk_securityhub::Client::new(&account.sdk);
    let mut pages = hub.get_findings().into_paginator().items().send();
    let mut all = Vec::new();
    while let Some(finding) = pages.next().await {
        all.push(finding.expect("GetFindings"));
    }
    all.sort_by(|a, b| a.id().cmp(&b.id()));
    all
}

/// A node role with AdministratorAccess and an inline `s3:*` policy, in a cluster.
async fn violating_node_role(account: &Account) -> (String, String) {
    let role = unique("node-hub");
    let arn = node_role_named_in_cluster(account, &role, &[ADMIN]).await;
    account.put_inline(&role, "debug-s3", S3_EVERYTHING).await.unwrap();
    (role, arn)
}

#[tokio::test]
async fn dry_run_opens_a_finding_per_violation_and_enforce_archives_them() {
    // Given a node role with two violations and Security Hub findings on
    let moto = Moto::start().unwrap();
    let account = Account::new(&moto).await;
    let (role, arn) = violating_node_role(&account).await;
    let inbox = account.inbox().await.unwrap();
    let on = [("SECURITY_HUB", "on")];

    // When the dry-run function sees an attach event
    let dry = remediator(&account, config(&inbox.topic_arn, &on)).await;
    let report = json_of(&dry.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());

    // Then one ACTIVE / FAILED finding per violation, with what a reviewer needs
    assert_eq!(report["security_hub"]["open"], 2, "{report}");
    let opened = findings(&account).await;
    assert_eq!(opened.len(), 2);
    let ids: Vec<&str> = opened.iter().filter_map(|f| f.id()).collect();
    assert_eq!(
        ids,
        vec![
            format!("eks-node-role-guard/{ACCOUNT}/{role}/inline/debug-s3"),
            format!("eks-node-role-guard/{ACCOUNT}/{role}/managed/arn:aws:iam::aws:policy/{ADMIN}"),
        ]
    );
    for finding in &opened {
        assert_eq!(finding.record_state(), Some(&RecordState::Active));
        assert_eq!(
            finding.compliance().and_then(|c| c.status()),
            Some(&ComplianceStatus::Failed)
        );
        assert_eq!(finding.schema_version(), Some("2018-10-08"));
        assert_eq!(
            finding.product_arn(),
            Some(format!("arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default").as_str())
        );
        assert_eq!(finding.generator_id(), Some("eks-node-role-guard/node-role-policy"));
        assert_eq!(finding.resources()[0].r#type(), Some("AwsIamRole"));
        assert_eq!(finding.resources()[0].id(), Some(arn.as_str()));
        let requirements = finding
            .compliance()
            .map(|c| c.related_requirements())
            .unwrap_or_default();
        assert!(requirements.iter().any(|r| r.contains("5.1.3")), "{requirements:?}");
        let fields = finding.product_fields().expect("product fields");
        assert_eq!(fields["eks-node-role-guard/Mode"], "dry-run");
        assert_eq!(fields["ProviderName"], "eks-node-role-guard");
    }
    let severity = |f: &AwsSecurityFinding| f.severity().and_then(|s| s.label()).map(|l| l.as_str().to_owned());
    assert_eq!(severity(&opened[0]).as_deref(), Some("HIGH"), "s3:* is a wildcard");
    assert_eq!(
        severity(&opened[1]).as_deref(),
        Some("CRITICAL"),
        "administrator access"
    );

    // When enforce removes both
    tokio::time::sleep(Duration::from_millis(20)).await;
    let enforce = remediator(
        &account,
        config(&inbox.topic_arn, &[("SECURITY_HUB", "on"), ("MODE", "enforce")]),
    )
    .await;
    let report = json_of(&enforce.handle(&attach_event(&role, &aws_managed(ADMIN))).await.unwrap());
    assert_eq!(report["outcome"], "remediated");
    assert_eq!(report["security_hub"]["archived"], 2, "{report}");

    // Then the same findings are ARCHIVED / PASSED, created when first seen, updated later
    let archived = findings(&account).await;
    assert_eq!(archived.len(), 2, "updated, not duplicated");
    for (before, after) in opened.iter().zip(&archived) {
        assert_eq!(before.id(), after.id());
        assert_eq!(after.record_state(), Some(&RecordState::Archived));
        assert_eq!(
            after.compliance().and_then(|c| c.status()),
            Some(&ComplianceStatus::Passed)
        );
        assert_eq!(before.created_at(), after.created_at(), "CreatedAt is kept");
        assert!(after.updated_at() > before.updated_at(), "UpdatedAt is newer");
    }
    let undo = archived[1]
        .remediation()
        .and_then(|r| r.recommendation())
        .and_then(|r| r.text())
        .unwrap();
    assert!(undo.contains("aws iam attach-role-policy"), "{undo}");
}

#[tokio::test]
async fn ten_duplicate_deliveries_leave_one_finding_per_violation() {
    let moto = Moto::start().unwrap();
    let account = Account::new(&moto).await;
    let (role, _) = violating_node_role(&account).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("SECURITY_HUB", "on")])).await;
    let event = attach_event(&role, &aws_managed(ADMIN));

    // ten deliveries, five at a time
    for _ in 0..2 {
        let batch = futures::future::join_all((0..5).map(|_| guard.handle(&event))).await;
        assert!(batch.iter().all(Result::is_ok));
    }

    let all = findings(&account).await;
    assert_eq!(all.len(), 2, "{:?}", all.iter().map(|f| f.id()).collect::<Vec<_>>());
    assert!(all.iter().all(|f| f.record_state() == Some(&RecordState::Active)));
}

#[tokio::test]
async fn the_sweep_archives_findings_whose_role_is_gone_and_refreshes_the_open_ones() {
    // Given open findings for two node roles
    let moto = Moto::start().unwrap();
    let account = Account::new(&moto).await;
    let (gone, _) = violating_node_role(&account).await;
    let (stays, _) = violating_node_role(&account).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("SECURITY_HUB", "on")])).await;
    for role in [&gone, &stays] {
        guard.handle(&attach_event(role, &aws_managed(ADMIN))).await.unwrap();
    }
    let before = findings(&account).await;
    assert_eq!(before.len(), 4);

    // and one role deleted out of band (its node group still names it)
    account
        .iam
        .detach_role_policy()
        .role_name(&gone)
        .policy_arn(aws_managed(ADMIN))
        .send()
        .await
        .unwrap();
    for policy in [
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKS_CNI_Policy",
    ] {
        account
            .iam
            .detach_role_policy()
            .role_name(&gone)
            .policy_arn(aws_managed(policy))
            .send()
            .await
            .unwrap();
    }
    account
        .iam
        .delete_role_policy()
        .role_name(&gone)
        .policy_name("debug-s3")
        .send()
        .await
        .unwrap();
    account.iam.delete_role().role_name(&gone).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // When the sweep runs
    let report = json_of(&guard.handle(&event_file("scheduled-sweep.json")).await.unwrap());

    // Then the deleted role's findings are archived, the other role's stay open and are refreshed
    assert_eq!(report["security_hub"]["archived"], 2, "{report}");
    let after = findings(&account).await;
    assert_eq!(after.len(), 4);
    for (before, after) in before.iter().zip(&after) {
        let of_gone = after.id().unwrap().contains(&format!("/{gone}/"));
        let expected = if of_gone {
            RecordState::Archived
        } else {
            RecordState::Active
        };
        assert_eq!(after.record_state(), Some(&expected), "{:?}", after.id());
        assert!(after.updated_at() > before.updated_at(), "{:?} refreshed", after.id());
        assert_eq!(after.created_at(), before.created_at());
    }
}

#[tokio::test]
async fn a_trust_naming_a_node_role_is_a_door_finding_archived_when_enforce_closes_it() {
    // Given a node role in a cluster, and another role with AdministratorAccess whose trust now
    // names it
    let moto = Moto::start().unwrap();
    let account = Account::new(&moto).await;
    let node = unique("node-door");
    let node_arn = node_role_named_in_cluster(&account, &node, &[]).await;
    let admin = unique("deploy-admin");
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": node_arn}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let admin_arn = account.role(&admin, "/", &trust, &[ADMIN]).await.unwrap();
    let mut event = event_file("doors/update-assume-role-policy-names-node-role.json");
    event["detail"]["requestParameters"] = serde_json::json!({"roleName": admin, "policyDocument": trust});
    let inbox = account.inbox().await.unwrap();
    let id = format!("eks-node-role-guard/{ACCOUNT}/{admin}/door/trust_names_node_role/{admin}");

    // When the dry-run function sees the trust edit
    let dry = remediator(&account, config(&inbox.topic_arn, &[("SECURITY_HUB", "on")])).await;
    let report = json_of(&dry.handle(&event).await.unwrap());

    // Then one CRITICAL door finding on the edited role, open, with the close command
    assert_eq!(report["outcome"], "door_opened", "{report}");
    let found = findings(&account).await;
    let door = found
        .iter()
        .find(|f| f.id() == Some(id.as_str()))
        .expect("door finding");
    assert_eq!(door.record_state(), Some(&RecordState::Active));
    assert_eq!(
        door.severity().and_then(|s| s.label()).map(|l| l.as_str()),
        Some("CRITICAL")
    );
    assert_eq!(door.resources()[0].id(), Some(admin_arn.as_str()));
    let remediation = door
        .remediation()
        .and_then(|r| r.recommendation())
        .and_then(|r| r.text());
    assert!(
        remediation.is_some_and(|t| t.contains("update-assume-role-policy")),
        "{remediation:?}"
    );

    // When enforce with REMOVE_NODE_TRUST=on sees it again
    let on = [("SECURITY_HUB", "on"), ("MODE", "enforce"), ("REMOVE_NODE_TRUST", "on")];
    let enforce = remediator(&account, config(&inbox.topic_arn, &on)).await;
    let report = json_of(&enforce.handle(&event).await.unwrap());

    // Then the trust no longer names the node role and the finding is archived, created once
    assert_eq!(report["door"]["result"]["status"], "done", "{report}");
    let now = account.iam.get_role().role_name(&admin).send().await.unwrap();
    let document = now.role.and_then(|r| r.assume_role_policy_document).unwrap_or_default();
    // no statement allows the node role any more (a trust needs a statement: it is denied instead)
    let reading = noderole::verdict::doors::trust::read(&document).expect("a JSON trust");
    assert!(reading.roles.is_empty(), "{document}");
    assert!(
        noderole::types::decode_document(&document).contains("Deny"),
        "{document}"
    );
    let after = findings(&account).await;
    let closed = after
        .iter()
        .find(|f| f.id() == Some(id.as_str()))
        .expect("door finding");
    assert_eq!(closed.record_state(), Some(&RecordState::Archived));
    assert_eq!(closed.created_at(), door.created_at());
}
