//! Tests of event parsing: console-session quirks, failed calls, events that are not handled,
//! payloads that are not events.

use super::*;
use serde_json::json;

fn envelope(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail
    })
}

fn cloudtrail(event_source: &str, name: &str, params: Value) -> Value {
    json!({
        "eventVersion": "1.09", "eventSource": event_source, "eventName": name,
        "awsRegion": "us-east-1", "requestParameters": params, "responseElements": null,
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
            "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {}}},
    })
}

fn trigger(payload: Value) -> Trigger {
    parse(&payload).expect("an event").trigger
}

#[test]
fn attach_with_console_session_quirks() {
    // Given a console session: empty sessionIssuer, string booleans, unknown fields
    let mut detail = cloudtrail(
        "iam.amazonaws.com",
        "AttachRolePolicy",
        json!({"roleName": "n", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    );
    detail["readOnly"] = json!("False");
    detail["responseElements"] = json!("None");
    detail["sessionCredentialFromConsole"] = json!("true");
    detail["somethingNew"] = json!({"nested": [1, 2]});
    let event = parse(&envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, detail)).expect("event");
    // Then it is an attach for the role, with the actor kept
    assert_eq!(
        event.trigger,
        Trigger::AttachRolePolicy {
            role_name: "n".into(),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
        }
    );
    assert_eq!(event.actor.as_deref(), Some("arn:aws:iam::123456789012:user/alice"));
    assert_eq!(event.name, "AttachRolePolicy");
}

#[test]
fn put_role_policy_with_document_as_string_and_role_as_arn() {
    let detail = cloudtrail(
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": "arn:aws:iam::123456789012:role/eks/nodes/n", "policyName": "p",
               "policyDocument": "{\n \"Version\": \"2012-10-17\", \"Statement\": []}"}),
    );
    assert_eq!(
        trigger(envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, detail)),
        Trigger::PutRolePolicy {
            role_name: "n".into(),
            policy_name: "p".into()
        }
    );
}

#[test]
fn create_nodegroup_takes_hints_from_request_or_response() {
    let mut detail = cloudtrail(
        "eks.amazonaws.com",
        "CreateNodegroup",
        json!({"name": "prod", "nodegroupName": "general"}),
    );
    detail["awsRegion"] = json!("us-west-2");
    detail["responseElements"] = json!({"nodegroup": {"nodeRole": "arn:aws:iam::123456789012:role/r"}});
    let mut payload = envelope("aws.eks", CLOUDTRAIL_DETAIL_TYPE, detail);
    payload["region"] = json!("us-west-2");
    assert_eq!(
        trigger(payload),
        Trigger::CreateNodegroup {
            region: "us-west-2".into(),
            cluster: "prod".into(),
            nodegroup: "general".into(),
            node_role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
        }
    );
}

#[test]
fn failed_calls_and_null_parameters_are_ignored_with_a_reason() {
    let mut detail = cloudtrail("iam.amazonaws.com", "AttachRolePolicy", Value::Null);
    detail["errorCode"] = json!("AccessDenied");
    let Trigger::Ignored { reason } = trigger(envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, detail)) else {
        panic!("failed call must be ignored");
    };
    assert!(reason.contains("AccessDenied"), "{reason}");

    // requestParameters null without an errorCode
    let detail = cloudtrail("iam.amazonaws.com", "AttachRolePolicy", Value::Null);
    let Trigger::Ignored { reason } = trigger(envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, detail)) else {
        panic!("null params must be ignored");
    };
    assert!(reason.contains("no requestParameters"), "{reason}");

    // an errorCode of an odd type still means the call failed
    let mut detail = cloudtrail(
        "iam.amazonaws.com",
        "AttachRolePolicy",
        json!({"roleName": "n", "policyArn": "a"}),
    );
    detail["errorCode"] = json!(403);
    assert!(matches!(
        trigger(envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, detail)),
        Trigger::Ignored { .. }
    ));
}

#[test]
fn other_events_sources_and_detail_types_are_ignored() {
    let cases = [
        envelope(
            "aws.iam",
            CLOUDTRAIL_DETAIL_TYPE,
            cloudtrail(
                "iam.amazonaws.com",
                "DetachRolePolicy",
                json!({"roleName": "n", "policyArn": "a"}),
            ),
        ),
        envelope(
            "aws.s3",
            CLOUDTRAIL_DETAIL_TYPE,
            cloudtrail(
                "iam.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": "n", "policyArn": "a"}),
            ),
        ),
        envelope(
            "aws.iam",
            CLOUDTRAIL_DETAIL_TYPE,
            cloudtrail(
                "s3.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": "n", "policyArn": "a"}),
            ),
        ),
        envelope("aws.signin", "AWS Console Sign In via CloudTrail", json!({})),
        envelope("aws.events", "Scheduled Event", json!({})).tap(|v| v["source"] = json!("custom.app")),
        envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, json!("a string detail")),
        envelope("aws.iam", CLOUDTRAIL_DETAIL_TYPE, json!({"eventName": 7})),
        envelope(
            "aws.iam",
            CLOUDTRAIL_DETAIL_TYPE,
            cloudtrail("iam.amazonaws.com", "AttachRolePolicy", json!({"roleName": "n"})),
        ),
    ];
    for payload in cases {
        let t = trigger(payload.clone());
        let Trigger::Ignored { reason } = t else {
            panic!("{payload} must be ignored, got {t:?}");
        };
        assert!(!reason.is_empty());
    }
}

#[test]
fn scheduled_event_is_a_sweep() {
    assert_eq!(
        trigger(envelope("aws.events", SCHEDULED_DETAIL_TYPE, json!({}))),
        Trigger::Sweep
    );
}

#[test]
fn non_events_are_errors() {
    for payload in [
        json!(null),
        json!("AttachRolePolicy"),
        json!([1, 2]),
        json!({}),
        json!({"detail": {}}),
        json!({"Records": [{"eventName": "AttachRolePolicy"}]}),
    ] {
        let err = parse(&payload).expect_err("not an event");
        assert!(err.to_string().starts_with("payload is not an EventBridge event"));
    }
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}
impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
