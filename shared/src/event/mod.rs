//! Lenient parsing of EventBridge envelopes into a strict [`Trigger`].
//!
//! Real CloudTrail records are messier than typed SDK structs: console sessions carry
//! `"sessionIssuer": {}`, failed calls have `"requestParameters": null`, some producers write
//! booleans as strings. The envelope is parsed with `aws_lambda_events`' `EventBridgeEvent`, the
//! record with our own [`CloudTrailDetail`] whose fields are all optional, and the request
//! parameters per event name with small typed structs. Anything unexpected becomes
//! [`Trigger::Ignored`] with a reason; only a payload that is not an EventBridge event at all is
//! an error.

mod cloudtrail;
mod doors;
#[cfg(test)]
mod tests;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Serialize;
use serde_json::Value;

use crate::types::arn;
use cloudtrail::{AttachRolePolicyParams, CreateNodegroupParams, PutRolePolicyParams};

pub use cloudtrail::CloudTrailDetail;
pub use doors::{DoorEvent, MetadataOptions};

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
    /// A call that may have opened a door into a node's credentials (docs/doors.md).
    Door(DoorEvent),
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
        event.name = crate::types::SWEEP_EVENT.to_owned();
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
        other => match doors::source_of(other) {
            Some(expected) => expected,
            None => return Trigger::ignored(format!("event {other} from {event_source} is not handled")),
        },
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

    if doors::source_of(event_name).is_some() {
        return match doors::parse(event_name, params, detail.response_elements.as_ref(), region) {
            Ok(door) => Trigger::Door(door),
            Err(reason) => Trigger::Ignored { reason },
        };
    }
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
