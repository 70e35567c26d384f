//! Nodes as they run, against the emulator over real HTTP: self-managed node roles found from
//! the instances, credential swaps (inside a node group's profile, and by a replaced
//! association) detected and undone, tags that name no cluster ignored, shared roles left alone
//! unless told. Each sweep test has a server of its own: a sweep judges every node role it finds.

use noderole_integration::*;
use serde_json::Value;

/// A cluster with no managed node group, whose nodes are self-managed: `count` instances of
/// role `role` (admin attached) through a profile of its own.
async fn self_managed(account: &Account, cluster: &str, count: i32) -> (String, Vec<String>) {
    account.cluster(REGION, cluster, &[]).await.expect("cluster");
    let role = unique("self-managed-node");
    account.node_role(&role, &[ADMIN]).await.expect("role");
    let profile = account
        .instance_profile(&unique("sm-profile"), Some(&role))
        .await
        .expect("profile");
    let ids = account
        .run_instances(REGION, count, Some(&profile), &self_managed_tags(cluster))
        .await
        .expect("instances");
    (role, ids)
}

/// An administrator role any instance could run with, and its profile's ARN.
async fn admin_profile(account: &Account) -> (String, String) {
    account.admin_profile().await.expect("admin profile")
}

fn role_report<'a>(sweep: &'a Value, role: &str) -> Option<&'a Value> {
    sweep["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["role"]["name"] == role))
}

async fn sweep(account: &Account, overrides: &[(&str, &str)]) -> (Value, Vec<Received>) {
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(account, config(&inbox.topic_arn, overrides)).await;
    let report = json_of(&guard.handle(&event_file("scheduled-sweep.json")).await.expect("swept"));
    let notes = inbox.drain(std::time::Duration::from_secs(5)).await.expect("notes");
    (report, notes)
}

#[tokio::test]
async fn a_self_managed_node_role_is_found_from_its_instances_and_remediated_by_an_event() {
    // Given a cluster whose nodes are self-managed: no node group, no access entry
    let account = Account::new(Moto::shared()).await;
    let cluster = unique("aws-auth");
    let (role, ids) = self_managed(&account, &cluster, 2).await;
    let inbox = account.inbox().await.expect("inbox");
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "enforce")])).await;

    // When AdministratorAccess is attached to its role
    let report = json_of(
        &guard
            .handle(&attach_event(&role, &aws_managed(ADMIN)))
            .await
            .expect("handled"),
    );

    // Then it is a node role, answered from the instances, and the policy is gone
    assert_eq!(report["outcome"], "remediated", "{report:#}");
    assert_eq!(report["index"], "instances");
    let binding = &report["nodegroups"][0];
    assert_eq!(binding["kind"], "running_instances");
    assert_eq!(binding["cluster"], cluster.as_str());
    assert_eq!(binding["node_kind"], "self_managed");
    assert_eq!(binding["instances"]["count"], 2);
    let mut named: Vec<&str> = binding["instances"]["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    named.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(named, expected);
    assert!(
        !account
            .attached(&role)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );
    let calls: u64 = report["api_calls"]
        .as_object()
        .expect("calls")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(calls < 20, "the quick answer takes a few calls, not a scan: {calls}");
}

#[tokio::test]
async fn the_sweep_finds_self_managed_nodes_and_ignores_instances_of_no_real_cluster() {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let cluster = unique("aws-auth");
    let (role, _) = self_managed(&account, &cluster, 3).await;
    // an administrator instance without tags, and one tagged for a cluster that does not exist
    let (untagged, untagged_profile) = admin_profile(&account).await;
    account
        .run_instances(REGION, 1, Some(&untagged_profile), &[])
        .await
        .expect("bastion");
    let (forged, forged_profile) = admin_profile(&account).await;
    account
        .run_instances(REGION, 1, Some(&forged_profile), &self_managed_tags("no-such-cluster"))
        .await
        .expect("forged");

    let (report, notes) = sweep(&account, &[("MODE", "enforce")]).await;

    let found = role_report(&report, &role).expect("the self-managed node role was swept");
    assert_eq!(found["outcome"], "remediated");
    assert_eq!(found["nodegroups"][0]["instances"]["count"], 3);
    for admin in [&untagged, &forged] {
        assert!(
            role_report(&report, admin).is_none(),
            "{admin} is not a node role: {report:#}"
        );
        assert!(
            account
                .attached(admin)
                .await
                .expect("attached")
                .contains(&aws_managed(ADMIN))
        );
    }
    assert!(
        !account
            .attached(&role)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );
    assert!(notes.iter().any(|n| n.subject.contains(&role)), "{notes:?}");
}

/// A cluster with managed node group `ng` of a clean node role, its instances running through
/// the group's own profile. Returns (node role, profile name, profile ARN, instance ids).
async fn managed(account: &Account, cluster: &str) -> (String, String, String, Vec<String>) {
    let nodes = account.managed_nodes(cluster, 2).await.expect("managed nodes");
    (nodes.role, nodes.profile, nodes.profile_arn, nodes.ids)
}

#[tokio::test]
async fn a_role_swapped_inside_the_node_groups_profile_is_reported_then_undone_in_enforce() {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let cluster = unique("prod");
    let (node, profile, _, _) = managed(&account, &cluster).await;
    let admin = unique("admin");
    account.role(&admin, "/", EC2_TRUST, &[ADMIN]).await.expect("admin");
    account.swap_profile_role(&profile, &node, &admin).await.expect("swap");

    // dry-run: a CRITICAL swap on the node role, notified with its commands, nothing changed
    let (report, notes) = sweep(&account, &[]).await;
    let found = role_report(&report, &node).expect("the node role was swept");
    assert_eq!(found["outcome"], "credential_swap", "{found:#}");
    let swap = &found["swaps"][0];
    assert_eq!(swap["nodegroup"], "ng");
    assert_eq!(swap["instances"]["count"], 2);
    assert!(
        swap["running_role_arn"]
            .as_str()
            .expect("running")
            .ends_with(&format!("/{admin}"))
    );
    assert_eq!(swap["fix"]["kind"], "profile_role");
    assert_eq!(swap["result"]["status"], "planned");
    assert!(
        role_report(&report, &admin).is_none(),
        "the swapped-in role is not judged: {report:#}"
    );
    assert_eq!(
        account.profile_roles(&profile).await.expect("roles"),
        std::slice::from_ref(&admin)
    );
    let note = notes.iter().find(|n| n.subject.contains(&node)).expect("notified");
    assert!(note.subject.contains("CREDENTIAL SWAP"), "{}", note.subject);
    let undo = note.report["swaps"][0]["undo_commands"].as_array().expect("commands");
    assert!(
        undo.iter().any(|c| c
            .as_str()
            .is_some_and(|c| c.starts_with("aws iam add-role-to-instance-profile"))),
        "{undo:?}"
    );

    // enforce: the profile holds the node role again; the admin role keeps its policies
    let (report, _) = sweep(&account, &[("MODE", "enforce")]).await;
    let found = role_report(&report, &node).expect("swept again");
    assert_eq!(found["outcome"], "remediated", "{found:#}");
    assert_eq!(found["swaps"][0]["result"]["status"], "done");
    assert_eq!(
        account.profile_roles(&profile).await.expect("roles"),
        std::slice::from_ref(&node)
    );
    assert!(
        account
            .attached(&admin)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );

    // and the next sweep finds nothing to undo
    let (report, _) = sweep(&account, &[("MODE", "enforce")]).await;
    assert_eq!(role_report(&report, &node).expect("swept")["outcome"], "compliant");
}

#[tokio::test]
async fn a_replaced_association_is_detected_and_restored_to_the_node_groups_profile() {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let cluster = unique("prod");
    let (node, _, profile_arn, ids) = managed(&account, &cluster).await;
    let (admin, admin_profile) = admin_profile(&account).await;
    account
        .replace_profile(REGION, &ids[0], &admin_profile)
        .await
        .expect("replaced");

    let (report, _) = sweep(&account, &[("MODE", "enforce")]).await;

    let found = role_report(&report, &node).expect("the node role was swept");
    let swap = &found["swaps"][0];
    assert_eq!(swap["fix"]["kind"], "association", "{found:#}");
    assert_eq!(swap["instances"]["ids"][0], ids[0].as_str());
    assert_eq!(swap["result"]["status"], "done");
    let (now, _) = account
        .association(REGION, &ids[0])
        .await
        .expect("read")
        .expect("associated");
    assert_eq!(now, profile_arn);
    assert!(
        account
            .attached(&admin)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );
}

#[tokio::test]
async fn a_shared_role_is_left_alone_by_default_and_remediated_when_the_setting_says_so() {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let cluster = unique("aws-auth");
    account.cluster(REGION, &cluster, &[]).await.expect("cluster");
    let role = unique("shared-node");
    account.node_role(&role, &[ADMIN]).await.expect("role");
    let profile = account
        .instance_profile(&unique("shared"), Some(&role))
        .await
        .expect("profile");
    account
        .run_instances(REGION, 1, Some(&profile), &self_managed_tags(&cluster))
        .await
        .expect("node");
    let bastion = account
        .run_instances(REGION, 1, Some(&profile), &[])
        .await
        .expect("bastion");

    let (report, _) = sweep(&account, &[("MODE", "enforce")]).await;
    let found = role_report(&report, &role).expect("swept");
    assert_eq!(found["shared"]["instances"]["ids"][0], bastion[0].as_str(), "{found:#}");
    assert_eq!(found["outcome"], "violations_found");
    assert_eq!(found["actions"][0]["result"]["status"], "skipped");
    assert!(
        account
            .attached(&role)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );

    let (report, _) = sweep(&account, &[("MODE", "enforce"), ("SHARED_ROLES", "remediate")]).await;
    assert_eq!(role_report(&report, &role).expect("swept")["outcome"], "remediated");
    assert!(
        !account
            .attached(&role)
            .await
            .expect("attached")
            .contains(&aws_managed(ADMIN))
    );
}

#[tokio::test]
async fn an_instance_tagged_as_a_node_groups_without_its_auto_scaling_group_is_left_alone() {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let cluster = unique("prod");
    let (node, profile, profile_arn, _) = managed(&account, &cluster).await;
    // an administrator box whose owner tagged it as node group ng's (no aws:autoscaling:groupName)
    let (admin, admin_profile) = admin_profile(&account).await;
    let forged: Vec<(String, String)> = managed_node_tags(&cluster, "ng", "ignored")
        .into_iter()
        .filter(|(key, _)| !key.starts_with("aws:"))
        .collect();
    let ids = account
        .run_instances(REGION, 1, Some(&admin_profile), &forged)
        .await
        .expect("forged");

    let (report, _) = sweep(&account, &[("MODE", "enforce")]).await;

    let found = role_report(&report, &node).expect("the node role was swept");
    assert_eq!(found["outcome"], "compliant", "no swap to undo: {found:#}");
    assert!(role_report(&report, &admin).is_none(), "{report:#}");
    let (now, _) = account
        .association(REGION, &ids[0])
        .await
        .expect("read")
        .expect("associated");
    assert_eq!(now, admin_profile, "the box keeps its own profile");
    assert_eq!(
        account.profile_roles(&profile).await.expect("roles"),
        std::slice::from_ref(&node)
    );
    assert_ne!(profile_arn, admin_profile);
}
