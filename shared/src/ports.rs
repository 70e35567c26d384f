//! The ports the core depends on, phrased in the product's verbs. `aws/` implements them over
//! the SDK clients; tests implement them with in-memory fakes.

use std::future::Future;

use serde::Serialize;

use crate::addons::KnownAddon;

/// An AWS call that failed, already classified by the adapter that made it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{operation} failed ({}): {message}", kind.as_str())]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The AWS error code, when the service sent one (`AccessDenied`, `Throttling`, ...).
    pub code: Option<String>,
    pub message: String,
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Throttling, 5xx, timeouts, connection failures: a later retry could succeed.
    Transient,
    /// AccessDenied (IAM policy, SCP, permissions boundary): retrying will not help.
    Denied,
    /// Anything else the service rejected.
    Rejected,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Denied => "access denied",
            ErrorKind::Rejected => "rejected",
        }
    }
}

impl AwsError {
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

/// A role as `GetRole` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub arn: String,
    /// URL-decoded trust policy.
    pub trust_policy: String,
}

/// A managed policy attached to a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AttachedPolicy {
    pub name: String,
    pub arn: String,
}

/// Whether an idempotent write changed something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Done,
    /// `NoSuchEntity`: someone (maybe a concurrent invocation) already did it.
    AlreadyDone,
}

pub type AwsResult<T> = Result<T, AwsError>;

/// IAM, global, read-only: everything a check needs. The audit command holds only this.
pub trait IamRead: Send + Sync {
    /// `None` when the role does not exist.
    fn role(&self, name: &str) -> impl Future<Output = AwsResult<Option<Role>>> + Send;
    fn attached_policies(&self, role: &str) -> impl Future<Output = AwsResult<Vec<AttachedPolicy>>> + Send;
    fn inline_policy_names(&self, role: &str) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// The URL-decoded document, `None` when the policy no longer exists.
    fn inline_policy(&self, role: &str, policy: &str) -> impl Future<Output = AwsResult<Option<String>>> + Send;
}

/// IAM with the two writes that remediate.
pub trait Iam: IamRead {
    fn detach(&self, role: &str, policy_arn: &str) -> impl Future<Output = AwsResult<Change>> + Send;
    fn delete_inline(&self, role: &str, policy: &str) -> impl Future<Output = AwsResult<Change>> + Send;
}

/// A managed node group as `DescribeNodegroup` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodegroup {
    pub region: String,
    pub cluster: String,
    pub name: String,
    pub node_role_arn: String,
    pub status: String,
}

/// An EKS access entry (`DescribeAccessEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub principal_arn: String,
    /// `STANDARD`, `EC2_LINUX`, `EC2_WINDOWS`, `EC2`, `HYBRID_LINUX`, `FARGATE_LINUX`.
    pub kind: String,
}

impl AccessEntry {
    /// Access-entry types that register node roles.
    pub fn is_node_entry(&self) -> bool {
        matches!(self.kind.as_str(), "EC2_LINUX" | "EC2_WINDOWS" | "EC2" | "HYBRID_LINUX")
    }
}

/// How an add-on in one cluster gets its AWS credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddonCredentials {
    /// Not installed as an EKS add-on (and not one that runs regardless).
    NotInstalled,
    /// The add-on has a `serviceAccountRoleArn` (IRSA).
    AddonServiceAccountRole,
    /// Every service account of the add-on has an EKS Pod Identity association.
    PodIdentity,
    /// Neither: the add-on uses the node role.
    NodeRole,
}

impl AddonCredentials {
    pub fn describe(self) -> &'static str {
        match self {
            AddonCredentials::NotInstalled => "not installed as an EKS add-on",
            AddonCredentials::AddonServiceAccountRole => "has its own role (IRSA)",
            AddonCredentials::PodIdentity => "has its own role (EKS Pod Identity)",
            AddonCredentials::NodeRole => "runs on the node role",
        }
    }
}

/// EKS, per region.
pub trait Eks: Send + Sync {
    fn clusters(&self, region: &str) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// Empty when the cluster no longer exists.
    fn nodegroup_names(&self, region: &str, cluster: &str) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// `None` when the node group (or its cluster) no longer exists.
    fn nodegroup(
        &self,
        region: &str,
        cluster: &str,
        nodegroup: &str,
    ) -> impl Future<Output = AwsResult<Option<Nodegroup>>> + Send;
    /// Principal ARNs of the cluster's access entries; empty when the cluster is gone.
    fn access_entry_principals(
        &self,
        region: &str,
        cluster: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// `None` when the entry no longer exists.
    fn access_entry(
        &self,
        region: &str,
        cluster: &str,
        principal_arn: &str,
    ) -> impl Future<Output = AwsResult<Option<AccessEntry>>> + Send;
    /// How `addon` gets its credentials in the cluster: `DescribeAddon`, then Pod Identity
    /// associations of its service accounts.
    fn addon_credentials(
        &self,
        region: &str,
        cluster: &str,
        addon: &KnownAddon,
    ) -> impl Future<Output = AwsResult<AddonCredentials>> + Send;
}

/// A message ready for the security team's topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub subject: String,
    /// The `MessageStructure=json` body.
    pub message: String,
    pub attributes: Vec<(String, String)>,
}

/// SNS.
pub trait Notifier: Send + Sync {
    /// Returns the message id.
    fn publish(&self, notification: &Notification) -> impl Future<Output = AwsResult<String>> + Send;
}

/// A finding this product imported earlier and that is still open (`RecordState` ACTIVE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFinding {
    pub id: String,
    pub created_at: String,
    pub role_arn: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub product_fields: std::collections::BTreeMap<String, String>,
}

/// What a batch import did: findings Security Hub refused, with its error code and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub imported: usize,
    pub failed: Vec<(String, String, String)>,
}

/// AWS Security Hub (CSPM) custom findings in the function's own account and region.
pub trait Findings: Send + Sync {
    /// Imports (creates or updates, by `Id`) findings; at most 100 per call are sent.
    fn import(&self, findings: &[crate::findings::Finding]) -> impl Future<Output = AwsResult<ImportOutcome>> + Send;
    /// Open findings of this product (`product_arn`), all pages; only those of `role_arn` when given.
    fn open_findings(
        &self,
        product_arn: &str,
        role_arn: Option<&str>,
    ) -> impl Future<Output = AwsResult<Vec<OpenFinding>>> + Send;
    /// The region findings go to.
    fn region(&self) -> &str;
}

/// CloudTrail, for the sweep's "is the guard blind?" check.
pub trait Trails: Send + Sync {
    /// Every trail that records the function's region (multi-region and organization trails
    /// included), with its status and selectors; `None` when this deployment does not check.
    fn trails(&self) -> impl Future<Output = AwsResult<Option<Vec<crate::trail_health::TrailState>>>> + Send;
}
