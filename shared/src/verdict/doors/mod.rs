//! Deciding a door event (docs/doors.md): whether it widened what a node's credentials reach,
//! in as few calls as that takes, and what the response is. Events that change which role
//! nodes run with, or what a node role may do, are answered by judging the roles concerned as
//! node roles ([`Decision::Judge`]: the checks, swaps and remediation the other events get);
//! the others are findings of their own ([`Decision::Open`]). Whatever concerns no node is
//! [`Decision::Unrelated`], with the reason.

mod metadata;
mod profiles;
mod roles;
pub mod trust;

use crate::event::DoorEvent;
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{AwsResult, Door, DoorKind, NodeBinding};
use crate::verdict::check::InAccount;

/// What a door event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do with nodes, and why.
    Unrelated(String),
    /// Nothing open: the doors `kinds` on the role are shut (their findings close), and why.
    Closed {
        role_arn: String,
        kinds: Vec<DoorKind>,
        reason: String,
    },
    /// Judge these roles now, as node roles where they are ones.
    Judge(Judge),
    /// A door no policy check shows: notified, and closed where `close` says how and enforce
    /// may.
    Open {
        /// The role the door concerns, for the report.
        role: Option<String>,
        door: Door,
        close: Option<Close>,
    },
}

/// Roles to judge, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judge {
    pub roles: Vec<String>,
    /// What the event proves the first role is (an access entry just created).
    pub confirmed: Option<NodeBinding>,
    /// The event changed which role instances run with: the cached index no longer says.
    pub stale_index: bool,
    /// Also judge the node roles whose node groups' instances now run through this profile
    /// (a swap is reported on the node group's declared role).
    pub swapped_through: Option<String>,
    pub door: Door,
}

/// How the guard itself may close a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Put this trust policy on the role (`REMOVE_NODE_TRUST=on`, enforce).
    Trust { role: String, document: String },
}

/// What discovery reads, and where.
pub struct Scope<'a, 'b, I, E, C> {
    pub acct: &'a InAccount<'b, I, E, C>,
    pub regions: &'a [String],
    pub concurrency: usize,
    /// The CloudTrail event name.
    pub event: &'a str,
}

/// Why a door event needs no call at all, if it does not: an access entry of another type, a
/// trust that names no role and shares no node service, metadata options that open nothing.
pub fn needless(door: &DoorEvent) -> Option<String> {
    match door {
        DoorEvent::AccessEntryCreated {
            entry_type,
            principal_arn,
            cluster,
            ..
        } => {
            if !matches!(
                entry_type.as_str(),
                "EC2_LINUX" | "EC2_WINDOWS" | "EC2" | "HYBRID_LINUX"
            ) {
                return Some(format!(
                    "access entry of type {entry_type} on cluster {cluster} registers no node"
                ));
            }
            crate::types::arn::role_name_from_arn(principal_arn)
                .is_none()
                .then(|| format!("access entry principal {principal_arn} is not a role"))
        }
        DoorEvent::TrustUpdated { role_name, document } => roles::needless_trust(role_name, document),
        DoorEvent::InstanceMetadata {
            instance_id, metadata, ..
        } => metadata::needless(instance_id, metadata),
        DoorEvent::LaunchTemplateMetadata {
            template_id,
            template_name,
            metadata,
            ..
        } => {
            let template = template_id.as_deref().or(template_name.as_deref()).unwrap_or_default();
            metadata::needless(&format!("launch template {template}"), metadata)
        }
        DoorEvent::ProfileRoleAdded { .. }
        | DoorEvent::ProfileAssociated { .. }
        | DoorEvent::PolicyVersion { .. }
        | DoorEvent::BoundaryChanged { .. } => None,
    }
}

/// Whether a needless door event may still close a door's finding: a trust edit that leaves
/// nothing open shuts the trust doors of its role (read with `GetRole` when findings are on).
pub fn may_shut(door: &DoorEvent) -> bool {
    matches!(door, DoorEvent::TrustUpdated { .. })
}

/// Decides a door event in the account.
pub async fn decide<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    door: &DoorEvent,
) -> AwsResult<Decision> {
    if let Some(reason) = needless(door).filter(|_| !may_shut(door)) {
        return Ok(Decision::Unrelated(reason));
    }
    match door {
        DoorEvent::ProfileRoleAdded {
            profile_name,
            role_name,
        } => profiles::role_added(scope, profile_name, role_name).await,
        DoorEvent::ProfileAssociated {
            region,
            instance_id,
            association_id,
            profile,
        } => {
            profiles::associated(
                scope,
                region,
                instance_id.as_deref(),
                association_id.as_deref(),
                profile,
            )
            .await
        }
        DoorEvent::AccessEntryCreated {
            region,
            cluster,
            principal_arn,
            ..
        } => roles::access_entry(scope, region, cluster, principal_arn).await,
        DoorEvent::TrustUpdated { role_name, document } => roles::trust(scope, role_name, document).await,
        DoorEvent::PolicyVersion { policy_arn, version } => {
            roles::policy_version(scope, policy_arn, version.as_deref()).await
        }
        DoorEvent::BoundaryChanged { role_name, boundary } => {
            Ok(roles::boundary(scope, role_name, boundary.as_deref()))
        }
        DoorEvent::InstanceMetadata {
            region,
            instance_id,
            metadata,
        } => metadata::instance(scope, region, instance_id, metadata).await,
        DoorEvent::LaunchTemplateMetadata {
            region,
            template_id,
            template_name,
            version,
            metadata,
        } => {
            let template = metadata::Template {
                id: template_id.as_deref(),
                name: template_name.as_deref(),
                version: *version,
            };
            metadata::launch_template(scope, region, &template, metadata).await
        }
    }
}
