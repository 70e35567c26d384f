//! A guard whose EKS permissions are gone (an SCP, a changed boundary): every EKS request it
//! makes, in every scanned region, is refused with `AccessDeniedException` by the proxy in
//! front of the emulator. It cannot tell a node role from any other role, and must say so
//! instead of reading the silence as "no node roles": the event path, the sweep and the audit
//! answer the same.

use std::time::Duration;

use noderole_integration::*;

const DELIVERY: Duration = Duration::from_secs(10);

/// The words the guard uses for "I could not look at all".
fn says_no_region_was_searched(reason: &str) -> bool {
    let reason = reason.to_lowercase();
    reason.contains("no region could be searched") || reason.contains("could not search any region")
}

/// A node role (EC2-trusted, backing a node group in each scanned region) and a proxy to the
/// emulator that refuses every EKS operation.
async fn node_role_behind_a_denying_proxy(moto: &Moto) -> (Account, String, Proxy) {
    let account = Account::new(moto).await;
    let role = unique("node");
    let arn = account.node_role(&role, &[]).await.expect("node role");
    account
        .cluster(REGION, &unique("cluster"), &[("general", &arn)])
        .await
        .expect("cluster");
    account
        .cluster(SECOND_REGION, &unique("cluster"), &[("batch", &arn)])
        .await
        .expect("cluster");
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1).expect("proxy");
    proxy.deny("eks:");
    (account, role, proxy)
}

#[tokio::test]
async fn an_event_the_guard_cannot_judge_fails_loudly_instead_of_reading_as_not_a_node_role() {
    // Given a real node role and a guard whose every EKS request is refused
    let moto = Moto::shared();
    let (account, role, proxy) = node_role_behind_a_denying_proxy(moto).await;
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(&Account::at(&proxy.endpoint).await, config(&inbox.topic_arn, &[])).await;

    // When AdministratorAccess is attached to it
    let report = guard
        .handle(&attach_event(&role, &aws_managed(ADMIN)))
        .await
        .map(|r| json_of(&r));

    // Then the guard did ask EKS (and was refused) ...
    assert!(
        proxy.seen().denied.get("eks").copied().unwrap_or(0) > 0,
        "{:?}",
        proxy.seen()
    );
    // ... and the event ends failed, not as "not a node role", saying why
    let report = report.expect("a report, not an error");
    assert_eq!(report["outcome"], "failed", "{report:#}");
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(says_no_region_was_searched(reason), "reason: {reason:?}\n{report:#}");

    // and the security team hears about it
    let notes = inbox.drain(DELIVERY).await.expect("inbox");
    let failed: Vec<&Received> = notes.iter().filter(|n| n.report["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{notes:?}");
    assert_eq!(failed[0].report["reason"], report["reason"]);
}

#[tokio::test]
async fn a_sweep_that_cannot_search_any_region_fails_and_says_so() {
    // Given the same guard, blind to EKS
    let moto = Moto::shared();
    let (account, _role, proxy) = node_role_behind_a_denying_proxy(moto).await;
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(&Account::at(&proxy.endpoint).await, config(&inbox.topic_arn, &[])).await;

    // When the schedule sweeps
    let report = json_of(
        &guard
            .handle(&event_file("scheduled-sweep.json"))
            .await
            .expect("a report"),
    );

    // Then the sweep is failed, not an empty success, with the reason the audit gives
    assert_eq!(report["outcome"], "failed", "{report:#}");
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(says_no_region_was_searched(reason), "reason: {reason:?}\n{report:#}");
}

#[test]
fn the_audit_of_an_account_it_cannot_search_exits_2_and_says_so() {
    // Given the same account, audited through the proxy that refuses EKS
    let moto = Moto::shared();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (_account, _role, proxy) = runtime.block_on(node_role_behind_a_denying_proxy(moto));

    // When the audit runs over both regions
    let regions = format!("{REGION},{SECOND_REGION}");
    let run = run_cli(&proxy.endpoint, &["audit", "--regions", &regions]).expect("ran");

    // Then it is an error (exit 2), not "0 node roles"
    assert_eq!(run.code, 2, "{run:?}");
    assert!(says_no_region_was_searched(&run.stderr), "{run:?}");
    assert!(!run.stdout.contains("0 node roles"), "{run:?}");
}
