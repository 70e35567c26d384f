//! The ports the core depends on, phrased in the product's verbs, over the data in
//! [`crate::types`]. `aws/` implements them over the SDK clients; tests implement them with
//! in-memory fakes ([`fakes`]). [`Ports`] names one whole set, so the use cases carry one type
//! parameter instead of one per port.

use std::future::Future;
use std::time::SystemTime;

use crate::types::{
    AccessEntry, AddonCredentials, AttachedPolicy, AwsResult, Change, Finding, ImportOutcome, Instance,
    InstanceProfile, KnownAddon, Nodegroup, Notification, OpenFinding, ProfileAssociation, Role, TrailState,
};

mod absent;
#[cfg(test)]
pub(crate) mod fakes;

pub use absent::{NoFindings, NoMembers, NoTrails, Silent};

/// One deployment's set of ports: the AWS adapters, the audit's read-only adapters, or the
/// fakes of the core tests. Each associated type is one port.
pub trait Ports: Sized + Send + Sync + 'static {
    /// IAM in one account: read-only for the audit ([`IamRead`]), with the writes ([`Iam`]) for
    /// the function.
    type Iam: IamRead;
    type Eks: Eks;
    /// EC2 per region: read-only for the audit ([`Ec2Read`]), with the association write
    /// ([`Ec2`]) for the function.
    type Ec2: Ec2Read;
    type Findings: Findings;
    type Notifier: Notifier;
    type Trails: Trails;
    type Members: Members<Self>;
}

/// The adapters of one deployment, built at the edge (the function's `main`, the CLI) and
/// handed to a use case whole.
pub struct Adapters<P: Ports> {
    pub iam: P::Iam,
    pub eks: P::Eks,
    pub ec2: P::Ec2,
    pub findings: P::Findings,
    pub notifier: P::Notifier,
    pub trails: P::Trails,
    pub members: P::Members,
}

/// Clients acting in a member account, and when their credentials expire.
pub struct Connection<P: Ports> {
    pub iam: P::Iam,
    pub eks: P::Eks,
    pub ec2: P::Ec2,
    pub findings: P::Findings,
    pub expires: SystemTime,
}

/// Reaching member accounts: the organization's account list, and credentials in one account.
pub trait Members<P: Ports>: Send + Sync {
    /// Ids of the organization's ACTIVE accounts, all pages.
    fn organization_accounts(&self) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// Clients acting in `account` as `role_arn` (`sts:AssumeRole`).
    fn connect(&self, account: &str, role_arn: &str) -> impl Future<Output = AwsResult<Connection<P>>> + Send;
}

/// IAM, global, read-only: everything a check needs. The audit command holds only this.
pub trait IamRead: Send + Sync {
    /// `None` when the role does not exist.
    fn role(&self, name: &str) -> impl Future<Output = AwsResult<Option<Role>>> + Send;
    fn attached_policies(&self, role: &str) -> impl Future<Output = AwsResult<Vec<AttachedPolicy>>> + Send;
    fn inline_policy_names(&self, role: &str) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// The URL-decoded document, `None` when the policy no longer exists.
    fn inline_policy(&self, role: &str, policy: &str) -> impl Future<Output = AwsResult<Option<String>>> + Send;
    /// Every instance profile of the account with the roles it holds, all pages
    /// (`ListInstanceProfiles`).
    fn instance_profiles(&self) -> impl Future<Output = AwsResult<Vec<InstanceProfile>>> + Send;
    /// The instance profiles that hold `role` (`ListInstanceProfilesForRole`); empty when the
    /// role is gone.
    fn instance_profiles_for_role(&self, role: &str) -> impl Future<Output = AwsResult<Vec<InstanceProfile>>> + Send;
    /// One instance profile by name (`GetInstanceProfile`); `None` when it does not exist.
    fn instance_profile(&self, name: &str) -> impl Future<Output = AwsResult<Option<InstanceProfile>>> + Send;
    /// The names of the roles a managed policy is attached to (`ListEntitiesForPolicy`, roles
    /// only, all pages); empty when the policy is gone.
    fn policy_roles(&self, policy_arn: &str) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
}

/// IAM with the writes that remediate.
pub trait Iam: IamRead {
    fn detach(&self, role: &str, policy_arn: &str) -> impl Future<Output = AwsResult<Change>> + Send;
    fn delete_inline(&self, role: &str, policy: &str) -> impl Future<Output = AwsResult<Change>> + Send;
    /// `RemoveRoleFromInstanceProfile`: undoing a swap takes the swapped-in role out first.
    fn remove_role_from_profile(&self, profile: &str, role: &str) -> impl Future<Output = AwsResult<Change>> + Send;
    /// `AddRoleToInstanceProfile`: then puts the node role back.
    fn add_role_to_profile(&self, profile: &str, role: &str) -> impl Future<Output = AwsResult<Change>> + Send;
    /// `UpdateAssumeRolePolicy`: a trust that lets a node role assume another role, narrowed
    /// (`REMOVE_NODE_TRUST=on`).
    fn update_trust(&self, role: &str, document: &str) -> impl Future<Output = AwsResult<Change>> + Send;
}

/// EC2, per region, read-only: the instances and the profiles they run with.
pub trait Ec2Read: Send + Sync {
    /// Instances in the `pending`, `running`, `stopping` or `stopped` state, all pages, with
    /// their tags and the profile `DescribeInstances` names (no association id).
    fn instances(&self, region: &str) -> impl Future<Output = AwsResult<Vec<Instance>>> + Send;
    /// Current profile associations (`associating`, `associated`), all pages.
    fn profile_associations(&self, region: &str) -> impl Future<Output = AwsResult<Vec<ProfileAssociation>>> + Send;
}

/// EC2 with the write that puts an instance's profile back.
pub trait Ec2: Ec2Read {
    /// `ReplaceIamInstanceProfileAssociation`.
    fn replace_profile(
        &self,
        region: &str,
        association_id: &str,
        profile_arn: &str,
    ) -> impl Future<Output = AwsResult<Change>> + Send;
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

/// SNS.
pub trait Notifier: Send + Sync {
    /// Returns the message id.
    fn publish(&self, notification: &Notification) -> impl Future<Output = AwsResult<String>> + Send;
}

/// AWS Security Hub (CSPM) custom findings in the function's own account and region.
pub trait Findings: Send + Sync {
    /// Imports (creates or updates, by `Id`) findings; at most 100 per call are sent.
    fn import(&self, findings: &[Finding]) -> impl Future<Output = AwsResult<ImportOutcome>> + Send;
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
    fn trails(&self) -> impl Future<Output = AwsResult<Option<Vec<TrailState>>>> + Send;
}
