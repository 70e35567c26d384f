//! Lenient parsing of EventBridge envelopes into a strict [`Trigger`].
//!
//! Real CloudTrail records are messier than typed SDK structs: console sessions carry
//! `"sessionIssuer": {}`, failed calls have `"requestParameters": null`, some producers write
//! booleans as strings. The envelope is parsed with `aws_lambda_events`' `EventBridgeEvent`, the
//! record with our own [`CloudTrailDetail`] whose fields are all optional, and the request
//! parameters per event name with small typed structs. Anything unexpected becomes
//! [`Trigger::Ignored`] with a reason; only a payload that is not an EventBridge event at all is
//! an error.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::arn;

pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";

/// The event, reduced to what the function needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// EventBridge event id.
    pub id: Option<String>,
    /// Account the event came from (envelope `account`, else `recipientAccountId`).
    pub account: Option<String>,
    /// Region the event was emitted in (envelope `region`, else `awsRegion`).
    pub region: Option<String>,
    /// `source/detail-type` or the CloudTrail event name, for reports.
    pub name: String,
    /// Who made the call, when known (`userIdentity.arn`).
    pub actor: Option<String>,
    #[serde(skip)]
    pub trigger: Trigger,
}

/// What the event asks the function to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `iam:AttachRolePolicy` succeeded.
    AttachRolePolicy { role_name: String, policy_arn: String },
    /// `iam:PutRolePolicy` succeeded.
    PutRolePolicy { role_name: String, policy_name: String },
    /// `eks:CreateNodegroup` succeeded: a hint to confirm with `DescribeNodegroup`.
    CreateNodegroup {
        region: String,
        cluster: String,
        nodegroup: String,
        node_role_arn: Option<String>,
    },
    /// A scheduled reconciliation run.
    Sweep,
    /// Nothing to do, and why.
    Ignored { reason: String },
}

impl Trigger {
    fn ignored(reason: impl Into<String>) -> Self {
        Trigger::Ignored { reason: reason.into() }
    }
}

/// A payload that is not an EventBridge event.
#[derive(Debug, thiserror::Error)]
#[error("payload is not an EventBridge event: {0}")]
pub struct NotAnEvent(#[source] serde_json::Error);

/// The CloudTrail record under `detail`, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudTrailDetail {
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub aws_region: Option<String>,
    /// Any value at all means the call failed; kept as JSON so an odd type cannot hide it.
    pub error_code: Option<Value>,
    pub error_message: Option<Value>,
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    pub recipient_account_id: Option<String>,
    pub user_identity: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachRolePolicyParams {
    role_name: String,
    policy_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRolePolicyParams {
    role_name: String,
    policy_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateNodegroupParams {
    /// The cluster name.
    name: String,
    nodegroup_name: String,
    #[serde(default)]
    node_role: Option<String>,
}

/// Parses a Lambda payload. Errors only when the payload is not an EventBridge event.
pub fn parse(payload: &Value) -> Result<Event, NotAnEvent> {
    let envelope: EventBridgeEvent<Value> = serde_json::from_value(payload.clone()).map_err(NotAnEvent)?;
    let mut event = Event {
        id: envelope.id.clone(),
        account: envelope.account.clone(),
        region: envelope.region.clone(),
        name: format!("{}/{}", envelope.source, envelope.detail_type),
        actor: None,
        trigger: Trigger::ignored(""),
    };

    if envelope.detail_type == SCHEDULED_DETAIL_TYPE && envelope.source == "aws.events" {
        event.name = "Sweep".to_owned();
        event.trigger = Trigger::Sweep;
        return Ok(event);
    }
    if envelope.detail_type != CLOUDTRAIL_DETAIL_TYPE {
        event.trigger = Trigger::ignored(format!(
            "detail-type {:?} from {:?} is not handled",
            envelope.detail_type, envelope.source
        ));
        return Ok(event);
    }

    let detail: CloudTrailDetail = match serde_json::from_value(envelope.detail) {
        Ok(detail) => detail,
        Err(e) => {
            event.trigger = Trigger::ignored(format!("CloudTrail detail is malformed: {e}"));
            return Ok(event);
        }
    };
    if let Some(name) = &detail.event_name {
        event.name.clone_from(name);
    }
    event.account = event.account.or_else(|| detail.recipient_account_id.clone());
    event.region = event.region.or_else(|| detail.aws_region.clone());
    event.actor = detail
        .user_identity
        .as_ref()
        .and_then(|u| u.get("arn"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    event.trigger = decide(&envelope.source, detail, event.region.as_deref());
    Ok(event)
}

fn decide(source: &str, detail: CloudTrailDetail, region: Option<&str>) -> Trigger {
    let Some(event_name) = detail.event_name.as_deref() else {
        return Trigger::ignored("CloudTrail record has no eventName");
    };
    if let Some(code) = detail.error_code.as_ref().filter(|c| !c.is_null()) {
        let code = code.as_str().map_or_else(|| code.to_string(), str::to_owned);
        return Trigger::ignored(format!("{event_name} failed with {code}: the call changed nothing"));
    }
    let event_source = detail.event_source.as_deref().unwrap_or_default();
    let expected_source = match event_name {
        "AttachRolePolicy" | "PutRolePolicy" => ("aws.iam", "iam.amazonaws.com"),
        "CreateNodegroup" => ("aws.eks", "eks.amazonaws.com"),
        other => return Trigger::ignored(format!("event {other} from {event_source} is not handled")),
    };
    if (source, event_source) != expected_source {
        return Trigger::ignored(format!(
            "{event_name} from source {source:?} / eventSource {event_source:?}; expected {} / {}",
            expected_source.0, expected_source.1
        ));
    }
    let Some(params) = detail.request_parameters.filter(|p| p.is_object()) else {
        return Trigger::ignored(format!("{event_name} has no requestParameters"));
    };

    match event_name {
        "AttachRolePolicy" => match serde_json::from_value::<AttachRolePolicyParams>(params) {
            Ok(p) => Trigger::AttachRolePolicy {
                role_name: role_name_of(&p.role_name),
                policy_arn: p.policy_arn,
            },
            Err(e) => Trigger::ignored(format!("AttachRolePolicy requestParameters unusable: {e}")),
        },
        "PutRolePolicy" => match serde_json::from_value::<PutRolePolicyParams>(params) {
            Ok(p) => Trigger::PutRolePolicy {
                role_name: role_name_of(&p.role_name),
                policy_name: p.policy_name,
            },
            Err(e) => Trigger::ignored(format!("PutRolePolicy requestParameters unusable: {e}")),
        },
        _ => {
            let response_role = detail
                .response_elements
                .as_ref()
                .and_then(|r| r.pointer("/nodegroup/nodeRole"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (serde_json::from_value::<CreateNodegroupParams>(params), region) {
                (Ok(p), Some(region)) => Trigger::CreateNodegroup {
                    region: region.to_owned(),
                    cluster: p.name,
                    nodegroup: p.nodegroup_name,
                    node_role_arn: p.node_role.or(response_role),
                },
                (Ok(_), None) => Trigger::ignored("CreateNodegroup without a region"),
                (Err(e), _) => Trigger::ignored(format!("CreateNodegroup requestParameters unusable: {e}")),
            }
        }
    }
}

/// `roleName` is a name; tolerate an ARN there too.
fn role_name_of(value: &str) -> String {
    arn::role_name_from_arn(value).unwrap_or(value).to_owned()
}

/// A policy document from CloudTrail or IAM: a JSON string (possibly URL-encoded) or an object.
pub fn policy_document_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(crate::types::decode_document(s)),
        Value::Object(_) => Some(value.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
}
