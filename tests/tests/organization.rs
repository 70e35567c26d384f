//! Organization mode against the emulator: one central guard, several member accounts in one
//! moto server, reached through real `sts:AssumeRole` and Organizations calls over HTTP.

use noderole_integration::*;
use serde_json::{Value, json};

const MEMBER_ROLE: &str = "security/eks-node-role-guard-member";

/// A node role named `role` with AdministratorAccess, backing a node group in `account`.
async fn admin_node_role(account: &Account, role: &str) -> String {
    node_role_named_in_cluster(account, role, &[ADMIN]).await
}

fn from(mut event: Value, account: &str) -> Value {
    event["account"] = json!(account);
    event
}

fn has_admin(attached: &[String]) -> bool {
    attached.contains(&aws_managed(ADMIN))
}

#[tokio::test]
async fn an_event_from_a_member_remediates_that_member_and_touches_no_other() {
    // Given members A and B with the same over-privileged node role, and an unguarded C
    let moto = Moto::shared();
    let central = Account::new(moto).await;
    let (a_id, b_id, c_id) = (unique_account(), unique_account(), unique_account());
    let (a, b, c) = (
        Account::in_account(moto, &a_id).await,
        Account::in_account(moto, &b_id).await,
        Account::in_account(moto, &c_id).await,
    );
    let role = unique("node");
    for member in [&a, &b, &c] {
        admin_node_role(member, &role).await;
    }
    let inbox = central.inbox().await.expect("inbox");
    let accounts = format!("{a_id},{b_id}");
    let guard = remediator(
        &central,
        config(
            &inbox.topic_arn,
            &[
                ("MODE", "enforce"),
                ("MEMBER_ROLE_NAME", MEMBER_ROLE),
                ("ACCOUNTS", &accounts),
            ],
        ),
    )
    .await;

    // When A's role gets AdministratorAccess
    let report = json_of(
        &guard
            .handle(&from(attach_event(&role, &aws_managed(ADMIN)), &a_id))
            .await
            .expect("handled"),
    );

    // Then A's role lost it through the assumed member role, B's and C's kept it, the report
    // names A, and the notification went to the central topic naming A
    assert_eq!(report["outcome"], "remediated", "{report}");
    assert_eq!(report["account"], a_id.as_str());
    assert_eq!(report["api_calls"]["sts:AssumeRole"], 1, "{report}");
    assert!(!has_admin(&a.attached(&role).await.expect("A")));
    assert!(has_admin(&b.attached(&role).await.expect("B")));
    assert!(has_admin(&c.attached(&role).await.expect("C")));
    let notes = inbox.drain(std::time::Duration::from_secs(10)).await.expect("inbox");
    let reports = reports(&notes);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].report["account"], a_id.as_str());

    // When C, outside ACCOUNTS, sends the same event: ignored, and nothing assumed there
    let ignored = json_of(
        &guard
            .handle(&from(attach_event(&role, &aws_managed(ADMIN)), &c_id))
            .await
            .expect("handled"),
    );
    assert_eq!(ignored["outcome"], "ignored");
    assert!(
        ignored["reason"].as_str().unwrap_or_default().contains(&c_id),
        "{ignored}"
    );
    assert!(ignored["api_calls"].get("sts:AssumeRole").is_none(), "{ignored}");
    assert!(has_admin(&c.attached(&role).await.expect("C")));
}

#[tokio::test]
async fn a_sweep_remediates_every_guarded_account_and_reports_each() {
    // Given three members, each with a violating node role and a compliant decoy, plus the
    // central account's own violating node role
    let moto = Moto::shared();
    let central = Account::new(moto).await;
    let ids = [unique_account(), unique_account(), unique_account()];
    let mut members = Vec::new();
    let role = unique("node");
    let decoy = unique("decoy");
    for id in &ids {
        let member = Account::in_account(moto, id).await;
        admin_node_role(&member, &role).await;
        member.node_role(&decoy, &[]).await.expect("decoy");
        members.push(member);
    }
    let own_role = unique("central-node");
    admin_node_role(&central, &own_role).await;
    let inbox = central.inbox().await.expect("inbox");
    let accounts = format!("{ACCOUNT},{}", ids.join(","));
    let guard = remediator(
        &central,
        config(
            &inbox.topic_arn,
            &[
                ("MODE", "enforce"),
                ("MEMBER_ROLE_NAME", MEMBER_ROLE),
                ("ACCOUNTS", &accounts),
                ("ACCOUNT_CONCURRENCY", "2"),
            ],
        ),
    )
    .await;

    // When the schedule sweeps
    let report = json_of(&guard.handle(&event_file("scheduled-sweep.json")).await.expect("swept"));

    // Then every member's node role and the central one were remediated, each account has a
    // line, and one AssumeRole was made per member
    assert_eq!(report["outcome"], "sweep_completed", "{report}");
    for member in &members {
        assert!(!has_admin(&member.attached(&role).await.expect("member")));
    }
    assert!(!has_admin(&central.attached(&own_role).await.expect("central")));
    let lines = report["accounts"].as_array().expect("account lines");
    assert_eq!(lines.len(), 4);
    for id in &ids {
        let line = lines
            .iter()
            .find(|l| l["account"] == id.as_str())
            .expect("a line per member");
        assert!(line.get("reason").is_none(), "{line}");
        assert!(line["needed_action"].as_u64() >= Some(1), "{line}");
        let remediated =
            report["roles"].as_array().expect("roles").iter().any(|r| {
                r["account"] == id.as_str() && r["role"]["name"] == role.as_str() && r["outcome"] == "remediated"
            });
        assert!(remediated, "{id}: {report}");
    }
    assert_eq!(report["api_calls"]["sts:AssumeRole"], 3, "{report}");
    let notes = inbox.drain(std::time::Duration::from_secs(10)).await.expect("inbox");
    let summaries: Vec<_> = notes
        .iter()
        .filter(|n| n.report["outcome"] == "sweep_completed")
        .collect();
    assert_eq!(summaries.len(), 1, "one summary for the organization");
}

#[tokio::test]
async fn accounts_organization_reads_the_members_from_organizations() {
    // Given an organization whose management account runs the guard, and two member accounts
    // created through Organizations
    let moto = Moto::shared();
    let central = Account::new(moto).await;
    let organizations = aws_sdk_organizations::Client::new(&central.sdk);
    organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let mut ids = Vec::new();
    for name in ["team-a", "team-b"] {
        let status = organizations
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("account")
            .create_account_status
            .expect("status");
        ids.push(status.account_id.expect("account id"));
    }
    let role = unique("node");
    let mut members = Vec::new();
    for id in &ids {
        let member = Account::in_account(moto, id).await;
        admin_node_role(&member, &role).await;
        members.push(member);
    }
    let outsider_id = unique_account();
    let outsider = Account::in_account(moto, &outsider_id).await;
    admin_node_role(&outsider, &role).await;
    let inbox = central.inbox().await.expect("inbox");
    let guard = remediator(
        &central,
        config(
            &inbox.topic_arn,
            &[
                ("MODE", "enforce"),
                ("MEMBER_ROLE_NAME", MEMBER_ROLE),
                ("ACCOUNTS", "organization"),
            ],
        ),
    )
    .await;

    // When each member and the outsider send an event
    for id in &ids {
        let report = json_of(
            &guard
                .handle(&from(attach_event(&role, &aws_managed(ADMIN)), id))
                .await
                .expect("handled"),
        );
        assert_eq!(report["outcome"], "remediated", "{report}");
    }
    let ignored = json_of(
        &guard
            .handle(&from(attach_event(&role, &aws_managed(ADMIN)), &outsider_id))
            .await
            .expect("handled"),
    );

    // Then the organization's accounts were remediated, the outsider was not, and the account
    // list was read once (cached like the index)
    for member in &members {
        assert!(!has_admin(&member.attached(&role).await.expect("member")));
    }
    assert_eq!(ignored["outcome"], "ignored", "{ignored}");
    assert!(
        ignored["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("ACCOUNTS=organization"),
        "{ignored}"
    );
    assert!(
        ignored["api_calls"].get("organizations:ListAccounts").is_none(),
        "{ignored}"
    );
    assert!(has_admin(&outsider.attached(&role).await.expect("outsider")));
}

#[tokio::test]
async fn a_member_event_converges_with_half_of_all_requests_throttled() {
    // Given member A's over-privileged node role, and half of every request (STS's AssumeRole
    // included) answered with throttling between the guard and the emulator
    let moto = Moto::shared();
    let central = Account::new(moto).await;
    let a_id = unique_account();
    let a = Account::in_account(moto, &a_id).await;
    let role = unique("node");
    admin_node_role(&a, &role).await;
    let inbox = central.inbox().await.expect("inbox");
    let proxy = noderole_integration::Proxy::start(&moto.endpoint, 0.0, 11).expect("proxy");
    let sdk = sdk_for(&proxy.endpoint).await;
    let config = config(
        &inbox.topic_arn,
        &[
            ("MODE", "enforce"),
            ("SCAN_REGIONS", REGION),
            ("MEMBER_ROLE_NAME", MEMBER_ROLE),
            ("ACCOUNTS", &a_id),
        ],
    );
    let (identity, adapters) = noderole::aws::adapters(&sdk, &config).await.expect("adapters");
    let guard = noderole::Remediator::new(config, identity, adapters);
    proxy.set_fraction(0.5);

    // When the event is delivered as Lambda would: again after a retryable error, three times
    let event = from(attach_event(&role, &aws_managed(ADMIN)), &a_id);
    let mut outcome = None;
    for _ in 0..3 {
        match guard.handle(&event).await {
            Ok(report) => {
                outcome = Some(json_of(&report));
                break;
            }
            Err(e) => assert_eq!(e.error_type(), "TransientAwsError", "{e}"),
        }
    }
    proxy.set_fraction(0.0);

    // Then the member's role was remediated within those attempts, with requests to STS seen
    let report = outcome.expect("remediated within three attempts");
    assert_eq!(report["outcome"], "remediated", "{report}");
    assert!(!has_admin(&a.attached(&role).await.expect("A")));
    let seen = proxy.seen();
    assert!(seen.forwarded.get("sts").copied().unwrap_or(0) >= 1, "{seen:?}");
    assert!(seen.total_throttled() > 0, "{seen:?}");
}

#[tokio::test]
async fn a_members_findings_go_to_that_members_security_hub() {
    // Given member A's over-privileged node role and Security Hub findings on
    let moto = Moto::shared();
    let central = Account::new(moto).await;
    let a_id = unique_account();
    let a = Account::in_account(moto, &a_id).await;
    let role = unique("node");
    admin_node_role(&a, &role).await;
    let inbox = central.inbox().await.expect("inbox");
    let guard = remediator(
        &central,
        config(
            &inbox.topic_arn,
            &[
                ("SECURITY_HUB", "on"),
                ("MEMBER_ROLE_NAME", MEMBER_ROLE),
                ("ACCOUNTS", &a_id),
            ],
        ),
    )
    .await;

    // When A's event is checked in dry-run
    let report = json_of(
        &guard
            .handle(&from(attach_event(&role, &aws_managed(ADMIN)), &a_id))
            .await
            .expect("handled"),
    );

    // Then the finding was imported into A's Security Hub, attributed to A under A's default
    // product, and the central account's Security Hub received nothing of A's
    assert_eq!(report["security_hub"]["open"], 1, "{report}");
    let in_member = hub_findings(&a).await;
    assert_eq!(in_member.len(), 1, "{in_member:?}");
    assert_eq!(in_member[0].aws_account_id(), Some(a_id.as_str()));
    assert_eq!(
        in_member[0].product_arn(),
        Some(format!("arn:aws:securityhub:{REGION}:{a_id}:product/{a_id}/default").as_str())
    );
    let in_central = hub_findings(&central).await;
    assert!(
        in_central.iter().all(|f| f.aws_account_id() != Some(a_id.as_str())),
        "{in_central:?}"
    );
}

async fn hub_findings(account: &Account) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    let hub = aws_sdk_securityhub::Client::new(&account.sdk);
    let mut pages = hub.get_findings().into_paginator().items().send();
    let mut all = Vec::new();
    while let Some(finding) = pages.next().await {
        all.push(finding.expect("GetFindings"));
    }
    all
}
