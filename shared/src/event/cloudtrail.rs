//! The CloudTrail record under an EventBridge event's `detail`, read leniently: every field of
//! [`CloudTrailDetail`] is optional and odd types are kept as JSON, and the request parameters of
//! each handled call have a small typed struct of their own.

use serde::Deserialize;
use serde_json::Value;

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
pub(super) struct AttachRolePolicyParams {
    pub(super) role_name: String,
    pub(super) policy_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutRolePolicyParams {
    pub(super) role_name: String,
    pub(super) policy_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateNodegroupParams {
    /// The cluster name.
    pub(super) name: String,
    pub(super) nodegroup_name: String,
    #[serde(default)]
    pub(super) node_role: Option<String>,
}
