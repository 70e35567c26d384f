//! Trust boundaries and arbitrary input: the function's own role and exempt roles are never
//! touched, tags exempt nothing, foreign accounts are ignored, and no payload makes it panic
//! or act blindly.

use super::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_functions_own_role_and_exempt_roles_are_never_touched() {
    let iam = with_node(
        with_node(FakeIam::default(), "guard-remediator", &[ADMIN]),
        "legacy",
        &[ADMIN],
    );
    let clusters = vec![
        FakeCluster::new("us-east-1", "c")
            .nodegroup("a", "guard-remediator")
            .nodegroup("b", "legacy"),
    ];
    let guard = guard(iam, clusters, &[("EXEMPT_ROLES", "legacy")]);
    for role in ["guard-remediator", "legacy"] {
        let report = guard.handle(&attach(role)).await.expect("report");
        assert_eq!(report.outcome, Outcome::Exempt, "{role}");
    }
    let sweep = guard.handle(&sweep_event()).await.expect("report");
    assert!(sweep.roles.iter().all(|r| r.outcome == Outcome::Exempt));
    assert!(guard.home.iam.writes.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn tags_do_not_exempt_and_foreign_accounts_are_ignored() {
    // exemptions come only from configuration: there is no tag lookup at all (FakeIam has none);
    // an event from another account is ignored before any call
    let iam = with_node(FakeIam::default(), "node", &[ADMIN]);
    let guard = guard(
        iam,
        vec![FakeCluster::new("us-east-1", "c").nodegroup("ng", "node")],
        &[],
    );
    let mut event = attach("node");
    event["account"] = json!("999999999999");
    let report = guard.handle(&event).await.expect("report");
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(report.api_calls.is_empty());
    assert!(guard.home.iam.writes.lock().expect("lock").is_empty());
}

/// Arbitrary JSON, and valid events with one field replaced by arbitrary JSON.
fn payloads() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    let arbitrary = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map("[a-zA-Z-]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let paths = [
        "/detail-type",
        "/source",
        "/account",
        "/detail",
        "/detail/eventName",
        "/detail/eventSource",
        "/detail/errorCode",
        "/detail/requestParameters",
        "/detail/requestParameters/roleName",
        "/detail/requestParameters/policyArn",
        "/region",
        "/detail/userIdentity",
    ];
    prop_oneof![
        arbitrary.clone(),
        (0..paths.len(), arbitrary).prop_map(move |(i, value)| {
            let mut event = attach("missing-role");
            if let Some(slot) = event.pointer_mut(paths[i]) {
                *slot = value;
            }
            event
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_payload_panics_or_acts_blindly(payload in payloads()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        // a role that exists but is no node role: nothing may ever be written
        let iam = FakeIam::default().with_role("missing-role", EC2_TRUST, &[ADMIN], &[]);
        let guard = guard(iam, vec![], &[]);
        match runtime.block_on(guard.handle(&payload)) {
            Ok(report) => {
                prop_assert!(report.outcome != Outcome::Remediated);
                if matches!(report.outcome, Outcome::Ignored | Outcome::NotNodeRole | Outcome::Exempt) {
                    prop_assert!(report.reason.as_deref().is_some_and(|r| !r.is_empty()));
                }
            }
            Err(e) => prop_assert_eq!(e.error_type(), "InvalidEvent"),
        }
        prop_assert!(guard.home.iam.writes.lock().expect("lock").is_empty());
    }
}
