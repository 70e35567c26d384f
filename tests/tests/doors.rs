//! Doors that change which role nodes run with, against the emulator over real HTTP: a role
//! added to a node's instance profile, an instance associated with another profile; duplicate
//! and concurrent deliveries undo a swap once. Metadata options are in `doors_trust.rs`.

use std::time::Duration;

use noderole::HandlerError;
use noderole_integration::*;
use serde_json::Value;

/// How long an inbox is watched for a notification that should not come.
const QUIET: Duration = Duration::from_secs(3);

/// Delivers `event` to a new remediator with `overrides`: the report, and what the inbox got.
async fn deliver(account: &Account, overrides: &[(&str, &str)], event: &Value) -> (Value, Vec<Received>) {
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(account, config(&inbox.topic_arn, overrides)).await;
    let report = json_of(&guard.handle(event).await.expect("handled"));
    let notes = inbox.drain(QUIET).await.expect("notes");
    (report, notes)
}

fn calls(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(op, n)| ((*op).to_owned(), *n)).collect()
}

/// A managed node group whose profile holds an administrator role instead of its node role.
async fn swapped(account: &Account) -> (ManagedNodes, String) {
    let nodes = account.managed_nodes(&unique("prod"), 2).await.expect("nodes");
    let admin = unique("admin");
    account.role(&admin, "/", EC2_TRUST, &[ADMIN]).await.expect("admin");
    account
        .swap_profile_role(&nodes.profile, &nodes.role, &admin)
        .await
        .expect("swap");
    (nodes, admin)
}

/// Every swap result status in a report and the reports of the other roles it reached.
fn swap_results(report: &Value) -> Vec<String> {
    let own = report["swaps"].as_array().into_iter().flatten();
    let others = report["roles"].as_array().into_iter().flatten();
    own.chain(others.flat_map(|r| r["swaps"].as_array().into_iter().flatten()))
        .map(|s| s["result"]["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_role_added_to_a_node_groups_profile_in_place_of_its_node_role_is_a_swap_undone_in_enforce() {
    let account = Account::new(Moto::shared()).await;
    let (nodes, admin) = swapped(&account).await;
    let event = add_role_to_profile_event(&nodes.profile, &admin);

    let (report, notes) = deliver(&account, &[], &event).await;
    assert_eq!(report["outcome"], "credential_swap", "{report:#}");
    assert_eq!(report["role"]["name"], nodes.role.as_str());
    assert_eq!(report["door"]["kind"], "profile_role");
    assert_eq!(report["door"]["severity"], "CRITICAL");
    assert_eq!(swap_results(&report), ["planned"]);
    assert_eq!(
        report["roles"][0]["role"]["name"],
        admin.as_str(),
        "the added role is judged too"
    );
    assert_eq!(
        account.profile_roles(&nodes.profile).await.expect("roles"),
        std::slice::from_ref(&admin)
    );
    let notes = reports(&notes);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].report["door"]["kind"], "profile_role");

    let (report, _) = deliver(&account, &[("MODE", "enforce")], &event).await;
    assert_eq!(report["outcome"], "remediated", "{report:#}");
    assert_eq!(report["door"]["kind"], "profile_role");
    assert_eq!(swap_results(&report), ["done"]);
    assert_eq!(
        account.profile_roles(&nodes.profile).await.expect("roles"),
        std::slice::from_ref(&nodes.role)
    );
    assert!(
        account
            .attached(&admin)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN)),
        "the swapped-in role is not a node role: its policies stay"
    );
}

#[tokio::test]
async fn an_administrator_role_added_to_a_self_managed_nodes_profile_is_judged_as_its_node_role() {
    let account = Account::new(Moto::shared()).await;
    let cluster = unique("aws-auth");
    account.cluster(REGION, &cluster, &[]).await.expect("cluster");
    let node = unique("self-managed-node");
    account.node_role(&node, &[]).await.expect("node role");
    let profile = unique("sm-profile");
    let profile_arn = account.instance_profile(&profile, Some(&node)).await.expect("profile");
    account
        .run_instances(REGION, 1, Some(&profile_arn), &self_managed_tags(&cluster))
        .await
        .expect("node");
    let admin = unique("admin");
    account.role(&admin, "/", EC2_TRUST, &[ADMIN]).await.expect("admin");
    account.swap_profile_role(&profile, &node, &admin).await.expect("added");

    let (report, notes) = deliver(
        &account,
        &[("MODE", "enforce")],
        &add_role_to_profile_event(&profile, &admin),
    )
    .await;

    assert_eq!(report["outcome"], "remediated", "{report:#}");
    assert_eq!(report["role"]["name"], admin.as_str());
    assert_eq!(report["node_role"], true);
    assert_eq!(report["door"]["kind"], "profile_role");
    assert_eq!(report["door"]["severity"], "CRITICAL");
    assert_eq!(
        actions(&report),
        vec![("detach_managed_policy".into(), ADMIN.into(), "done".into())]
    );
    assert!(
        !account
            .attached(&admin)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");
}

#[tokio::test]
async fn a_role_added_to_a_profile_no_instance_uses_is_ignored_after_one_read_per_region() {
    let account = Account::new(Moto::shared()).await;
    let role = unique("lonely");
    account.role(&role, "/", EC2_TRUST, &[ADMIN]).await.expect("role");
    let profile = unique("unused");
    account.instance_profile(&profile, Some(&role)).await.expect("profile");

    let (report, notes) = deliver(
        &account,
        &[("MODE", "enforce")],
        &add_role_to_profile_event(&profile, &role),
    )
    .await;

    assert_eq!(report["outcome"], "ignored", "{report:#}");
    assert!(
        report["reason"].as_str().expect("reason").contains(&profile),
        "{report:#}"
    );
    assert_eq!(
        calls_of(&report),
        calls(&[("ec2:DescribeIamInstanceProfileAssociations", 2)]),
        "one read in each of SCAN_REGIONS' two regions"
    );
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn a_managed_nodes_association_replaced_with_another_profile_is_restored_in_enforce() {
    let account = Account::new(Moto::shared()).await;
    let nodes = account.managed_nodes(&unique("prod"), 2).await.expect("nodes");
    let (admin, admin_profile) = account.admin_profile().await.expect("admin");
    let (_, before) = account
        .association(REGION, &nodes.ids[0])
        .await
        .expect("read")
        .expect("associated");
    account
        .replace_profile(REGION, &nodes.ids[0], &admin_profile)
        .await
        .expect("replaced");
    let event = replace_association_event(REGION, &before, &nodes.ids[0], &admin_profile);

    let (report, notes) = deliver(&account, &[("MODE", "enforce")], &event).await;

    assert_eq!(report["outcome"], "remediated", "{report:#}");
    assert_eq!(report["role"]["name"], nodes.role.as_str());
    assert_eq!(report["door"]["kind"], "profile_association");
    assert_eq!(report["door"]["severity"], "CRITICAL");
    assert_eq!(report["swaps"][0]["fix"]["kind"], "association");
    assert_eq!(swap_results(&report), ["done"]);
    let (now, _) = account
        .association(REGION, &nodes.ids[0])
        .await
        .expect("read")
        .expect("associated");
    assert_eq!(now, nodes.profile_arn);
    assert!(
        account
            .attached(&admin)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );
    assert_eq!(reports(&notes).len(), 1, "{notes:?}");
}

#[tokio::test]
async fn a_profile_associated_with_an_instance_that_is_no_node_is_ignored_after_two_reads() {
    let account = Account::new(Moto::shared()).await;
    let (_, admin_profile) = account.admin_profile().await.expect("admin");
    // a bastion without a profile gets one; another has its profile replaced
    let bare = account.run_instances(REGION, 1, None, &[]).await.expect("bare");
    account
        .ec2(REGION)
        .associate_iam_instance_profile()
        .instance_id(&bare[0])
        .iam_instance_profile(
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .arn(&admin_profile)
                .build(),
        )
        .send()
        .await
        .expect("associated");
    let (_, other_profile) = account.admin_profile().await.expect("other");
    let boxed = account
        .run_instances(REGION, 1, Some(&other_profile), &[])
        .await
        .expect("box");
    let (_, before) = account
        .association(REGION, &boxed[0])
        .await
        .expect("read")
        .expect("associated");
    account
        .replace_profile(REGION, &boxed[0], &admin_profile)
        .await
        .expect("replaced");

    for event in [
        associate_profile_event(REGION, &bare[0], &admin_profile),
        replace_association_event(REGION, &before, &boxed[0], &admin_profile),
    ] {
        let (report, notes) = deliver(&account, &[("MODE", "enforce")], &event).await;
        assert_eq!(report["outcome"], "ignored", "{report:#}");
        assert!(
            report["reason"].as_str().expect("reason").contains("is not a node"),
            "{report:#}"
        );
        assert_eq!(
            calls_of(&report),
            calls(&[("ec2:DescribeInstances", 1), ("eks:ListClusters", 1)])
        );
        assert!(notes.is_empty(), "{notes:?}");
    }
}

#[tokio::test]
async fn duplicate_deliveries_undo_a_swap_once() {
    let account = Account::new(Moto::shared()).await;
    let (nodes, admin) = swapped(&account).await;
    let event = add_role_to_profile_event(&nodes.profile, &admin);
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    let mut results = Vec::new();
    for _ in 0..10 {
        let report = json_of(&guard.handle(&event).await.expect("handled"));
        results.extend(swap_results(&report));
    }

    assert_eq!(results.iter().filter(|r| *r == "done").count(), 1, "{results:?}");
    assert!(
        results.iter().all(|r| r == "done" || r == "already_done"),
        "{results:?}"
    );
    assert_eq!(
        account.profile_roles(&nodes.profile).await.expect("roles"),
        std::slice::from_ref(&nodes.role)
    );
}

#[tokio::test]
async fn concurrent_deliveries_to_twenty_function_instances_leave_the_profile_with_the_node_role() {
    let account = Account::new(Moto::shared()).await;
    let (nodes, admin) = swapped(&account).await;
    let event = add_role_to_profile_event(&nodes.profile, &admin);
    let inbox = account.inbox().await.expect("inbox");
    let mut guards = Vec::new();
    for _ in 0..20 {
        guards.push(remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await);
    }

    let handled = futures::future::join_all(guards.iter().map(|g| g.handle(&event))).await;

    // a delivery that failed transiently is retried, as Lambda retries it
    let mut results = Vec::new();
    let mut retried = 0;
    for (guard, outcome) in guards.iter().zip(handled) {
        let report = match outcome {
            Ok(report) => report,
            Err(HandlerError::Transient { .. }) => {
                retried += 1;
                guard
                    .handle(&event)
                    .await
                    .expect("the retry finds nothing left to undo")
            }
            Err(e) => panic!("{e}"),
        };
        results.extend(swap_results(&json_of(&report)));
    }
    assert_eq!(
        results.iter().filter(|r| *r == "done").count(),
        1,
        "{results:?} ({retried} retried)"
    );
    assert!(
        results.iter().all(|r| r == "done" || r == "already_done"),
        "{results:?}"
    );
    assert_eq!(
        account.profile_roles(&nodes.profile).await.expect("roles"),
        std::slice::from_ref(&nodes.role)
    );
}

#[tokio::test]
async fn concurrent_undos_of_an_emptied_profile_all_end_done_or_already_done() {
    // the node role taken out of its profile and nothing put in: each undo only adds it back,
    // and IAM refuses every add after the first as over the profile's quota of one role
    let account = Account::new(Moto::shared()).await;
    let nodes = account.managed_nodes(&unique("prod"), 1).await.expect("nodes");
    account
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(&nodes.profile)
        .role_name(&nodes.role)
        .send()
        .await
        .expect("emptied");
    let event = delete_boundary_event(&nodes.role);
    let inbox = account.inbox().await.expect("inbox");
    let mut guards = Vec::new();
    for _ in 0..8 {
        guards.push(remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await);
    }

    let handled = futures::future::join_all(guards.iter().map(|g| g.handle(&event))).await;

    let reports: Vec<Value> = handled.iter().map(|h| json_of(h.as_ref().expect("handled"))).collect();
    let results: Vec<String> = reports.iter().flat_map(swap_results).collect();
    assert_eq!(results.iter().filter(|r| *r == "done").count(), 1, "{results:?}");
    assert!(
        reports.iter().all(|r| r["outcome"] != "credential_swap"),
        "an undo another invocation made is no failure: {results:?}"
    );
    assert_eq!(
        account.profile_roles(&nodes.profile).await.expect("roles"),
        std::slice::from_ref(&nodes.role)
    );
}
