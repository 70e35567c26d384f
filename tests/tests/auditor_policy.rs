//! `docs/auditor-policy.json` is exactly what `audit` calls, plus the two reads `explain` adds:
//! the built command audits realistic
//! accounts (managed node groups, a Karpenter-style node role registered as an access entry, the
//! VPC CNI add-on without a role of its own) behind the recording proxy, once for the caller's
//! account and once for an organization through a member role, and the union of the requests
//! it made, each named as its IAM action, must be the policy's actions less `explain`'s own:
//! nothing missing (an audit that a reviewer's policy would break) and nothing extra (a
//! permission it never uses). `explain` runs the same way and needs nothing else.
//!
//! moto has no EKS access-entry, add-on or Pod Identity API (it answers HTML 404), so the proxy
//! answers those requests itself, the way EKS answers for such a cluster; every other request
//! reaches the emulator.

use std::collections::BTreeSet;

use noderole_integration::*;
use serde_json::Value;

/// The member role the policy may assume (member.yaml's default name).
const MEMBER_ROLE: &str = "eks-node-role-guard-member";

/// Actions the policy grants that no audit of the emulator can call, with the reason. Empty:
/// every action in the policy is called by one of the two runs below.
const UNREACHABLE: &[(&str, &str)] = &[];

/// Actions only `explain` calls: it reads the role it is asked about whether or not it is a
/// node role (the audit reads only roles discovery found, whose trust it does not need), and
/// first asks which instance profiles hold it (the quick answer from the instances running it;
/// the audit's sweep lists every profile once instead).
const EXPLAIN_ONLY: &[&str] = &["iam:GetRole", "iam:ListInstanceProfilesForRole"];

/// The IAM action of a request as the proxy names it: `service:Operation` for IAM, STS and
/// Organizations; EKS (a REST protocol) by method and path.
fn action(operation: &str) -> String {
    let (service, what) = operation.split_once(':').expect("service:operation");
    if service != "eks" {
        return operation.to_owned();
    }
    let (method, path) = what.split_once(' ').expect("METHOD /path");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = match (method, segments.as_slice()) {
        ("GET", ["clusters"]) => "ListClusters",
        ("GET", ["clusters", _]) => "DescribeCluster",
        ("GET", ["clusters", _, "node-groups"]) => "ListNodegroups",
        ("GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("GET", ["clusters", _, "access-entries"]) => "ListAccessEntries",
        ("GET", ["clusters", _, "access-entries", _]) => "DescribeAccessEntry",
        ("GET", ["clusters", _, "addons"]) => "ListAddons",
        ("GET", ["clusters", _, "addons", _]) => "DescribeAddon",
        ("GET", ["clusters", _, "pod-identity-associations"]) => "ListPodIdentityAssociations",
        ("GET", ["clusters", _, "pod-identity-associations", _]) => "DescribePodIdentityAssociation",
        _ => panic!("an EKS request this test cannot name: {operation}"),
    };
    format!("eks:{name}")
}

/// Every action of every Allow statement of `docs/auditor-policy.json`.
fn policy_actions() -> BTreeSet<String> {
    let path = repo_root().join("docs/auditor-policy.json");
    let text = std::fs::read_to_string(&path).expect("docs/auditor-policy.json");
    let policy: Value = serde_json::from_str(&text).expect("the policy is JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        if statement["Action"] == "sts:AssumeRole" {
            assert_eq!(statement["Resource"], format!("arn:aws:iam::*:role/{MEMBER_ROLE}"));
        }
        match &statement["Action"] {
            Value::String(one) => actions.insert(one.clone()),
            Value::Array(many) => {
                for a in many {
                    actions.insert(a.as_str().expect("action").to_owned());
                }
                true
            }
            other => panic!("Action is {other}"),
        };
    }
    actions
}

/// In `account`: a cluster `cluster` with a managed node group on a node role that carries the
/// CNI policy (so the add-on's credentials are asked), and a Karpenter-style node role known
/// only from the cluster's access entry; the proxy answers that cluster's access-entry, add-on
/// and Pod Identity requests.
/// Returns the managed node group's role.
async fn realistic(account: &Account, account_id: &str, cluster: &str, proxy: &Proxy) -> String {
    let managed = unique("node-managed");
    let arn = account.node_role(&managed, &[ADMIN]).await.expect("node role");
    account
        .cluster(REGION, cluster, &[("general", &arn)])
        .await
        .expect("cluster");
    let karpenter = unique("karpenter-node");
    account
        .role(&karpenter, "/", EC2_TRUST, &["AmazonEKSWorkerNodePolicy"])
        .await
        .expect("karpenter role");
    account
        .put_inline(
            &karpenter,
            "debug-s3",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )
        .await
        .expect("inline");
    let principal = format!("arn:aws:iam::{account_id}:role/{karpenter}");
    let at = format!("eks:GET /clusters/{cluster}");
    // the longer prefixes first: the proxy answers with the first that matches
    proxy.answer(
        &format!("{at}/access-entries/"),
        &format!(
            r#"{{"accessEntry":{{"clusterName":"{cluster}","principalArn":"{principal}","type":"EC2_LINUX","kubernetesGroups":[],"username":"system:node:{{{{EC2PrivateDNSName}}}}"}}}}"#
        ),
    );
    proxy.answer(
        &format!("{at}/access-entries"),
        &format!(r#"{{"accessEntries":["{principal}"]}}"#),
    );
    proxy.answer(
        &format!("{at}/addons/"),
        &format!(r#"{{"addon":{{"addonName":"vpc-cni","clusterName":"{cluster}","status":"ACTIVE"}}}}"#),
    );
    proxy.answer(&format!("{at}/pod-identity-associations"), r#"{"associations":[]}"#);
    managed
}

/// The actions of one `explain` run through `proxy`.
fn explained(proxy: &Proxy, args: &[&str]) -> BTreeSet<String> {
    proxy.reset();
    let mut argv = vec!["explain"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--regions", REGION, "--format", "json"]);
    let run = run_cli(&proxy.endpoint, &argv).expect("ran");
    assert_eq!(run.code, 0, "{run:?}");
    let explanation: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(explanation["report"]["outcome"], "violations_found", "{explanation:#}");
    proxy.seen().operations.keys().map(|o| action(o)).collect()
}

/// The actions of one audit run through `proxy`, after checking that it audited what it should.
fn audited(proxy: &Proxy, args: &[&str], accounts: usize) -> BTreeSet<String> {
    proxy.reset();
    let mut argv = vec!["audit", "--regions", REGION, "--format", "json"];
    argv.extend_from_slice(args);
    let run = run_cli(&proxy.endpoint, &argv).expect("ran");
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("json report");
    let roles = report["roles"].as_array().expect("roles");
    // each account: the managed node role and the access entry's, both with violations
    let violating = roles.iter().filter(|r| r["outcome"] == "violations_found").count();
    assert!(violating >= 2 * accounts, "{report:#}");
    let seen = proxy.seen();
    assert!(seen.denied.is_empty() && seen.throttled.is_empty(), "{seen:?}");
    seen.operations.keys().map(|o| action(o)).collect()
}

#[tokio::test]
async fn the_auditor_policy_is_exactly_what_the_audit_calls() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1).expect("proxy");

    // Given the caller's account, the management account of an organization with one member,
    // each with a cluster, node groups, an access entry and the CNI add-on
    let central = Account::new(moto).await;
    let organizations = aws_sdk_organizations::Client::new(&central.sdk);
    organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let member_id = organizations
        .create_account()
        .account_name("team-a")
        .email("team-a@example.com")
        .send()
        .await
        .expect("account")
        .create_account_status
        .and_then(|s| s.account_id)
        .expect("account id");
    let home_role = realistic(&central, ACCOUNT, &unique("prod"), &proxy).await;
    let member = Account::in_account(moto, &member_id).await;
    let member_role = realistic(&member, &member_id, &unique("team-a"), &proxy).await;

    // When the caller's account is audited, then the organization through the member role
    let single = audited(&proxy, &[], 1);
    let through_members = ["--member-role", MEMBER_ROLE, "--accounts", "organization"];
    let organization = audited(&proxy, &through_members, 2);

    // Then the organization's run needs Organizations and AssumeRole on top of the single one
    assert!(organization.is_superset(&single), "{single:?}\n{organization:?}");
    assert!(organization.contains("organizations:ListAccounts"), "{organization:?}");
    assert!(organization.contains("sts:AssumeRole"), "{organization:?}");
    // and the policy is their union: nothing missing, nothing unused
    let called: BTreeSet<String> = single
        .union(&organization)
        .cloned()
        .chain(UNREACHABLE.iter().map(|(a, _)| (*a).to_owned()))
        .collect();
    let granted = policy_actions();
    let for_audit: BTreeSet<String> = granted
        .iter()
        .filter(|a| !EXPLAIN_ONLY.contains(&a.as_str()))
        .cloned()
        .collect();
    let missing: Vec<&String> = called.difference(&for_audit).collect();
    let unused: Vec<&String> = for_audit.difference(&called).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "missing from docs/auditor-policy.json: {missing:?}; granted but never called: {unused:?}"
    );

    // When a role is explained, in the caller's account and in the member
    let mut in_member = vec![member_role.as_str(), "--account", member_id.as_str()];
    in_member.extend_from_slice(&through_members);
    let explain: BTreeSet<String> = explained(&proxy, &[&home_role])
        .union(&explained(&proxy, &in_member))
        .cloned()
        .collect();

    // Then explain needs nothing the policy does not grant, and calls what only it needs
    let beyond: Vec<&String> = explain.difference(&granted).collect();
    assert!(beyond.is_empty(), "explain calls {beyond:?} beyond the policy");
    for only in EXPLAIN_ONLY {
        assert!(explain.contains(*only), "{only}: {explain:?}");
    }
}
