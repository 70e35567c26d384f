//! EC2 instances and instance profiles as discovery reads them, and what the instances say about
//! the roles nodes run with: the nodes of a cluster that exists, the swaps where a managed node
//! group's instances run with a role other than the one EKS declares, and the instances that
//! are not nodes but share a node role.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ActionResult;

/// One EC2 instance (pending, running, stopping or stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub tags: BTreeMap<String, String>,
    /// The profile it runs with now: its current association's
    /// (`DescribeIamInstanceProfileAssociations`), else what `DescribeInstances` says.
    pub profile_arn: Option<String>,
    /// The id of that association, needed to replace it.
    pub association_id: Option<String>,
}

/// An instance's current profile association (`associating` or `associated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileAssociation {
    pub instance_id: String,
    pub association_id: String,
    pub profile_arn: String,
}

/// An IAM instance profile and the role ARNs it holds (IAM allows at most one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfile {
    pub name: String,
    pub arn: String,
    pub roles: Vec<String>,
}

/// How a node was launched, read from its tags (docs/discovery.md cites which tag says what).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A managed node group's instance whose group EKS no longer lists (its tags remain).
    ManagedNodegroup,
    /// Launched by Karpenter (`karpenter.sh/nodepool`).
    Karpenter,
    /// Launched by EKS Auto Mode.
    AutoMode,
    /// Anything else tagged for the cluster: eksctl unmanaged node groups, CloudFormation or
    /// Terraform self-managed groups.
    SelfManaged,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::ManagedNodegroup => "managed node group",
            NodeKind::Karpenter => "Karpenter",
            NodeKind::AutoMode => "EKS Auto Mode",
            NodeKind::SelfManaged => "self-managed",
        }
    }
}

/// At most this many instance ids are named in a binding, a swap or a shared role; the count
/// says how many there are.
pub const NAMED_INSTANCES: usize = 5;

/// Some instances, by count and the first few ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Instances {
    pub count: usize,
    /// The first [`NAMED_INSTANCES`] ids, sorted.
    pub ids: Vec<String>,
}

impl Instances {
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut all: Vec<&str> = ids.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        Instances {
            count: all.len(),
            ids: all.iter().take(NAMED_INSTANCES).map(|id| (*id).to_owned()).collect(),
        }
    }

    /// `i-1, i-2 and 3 more`.
    pub fn describe(&self) -> String {
        let named = self.ids.join(", ");
        match self.count.saturating_sub(self.ids.len()) {
            0 => named,
            more => format!("{named} and {more} more"),
        }
    }
}

/// A managed node group's instances running with a role other than its declared `nodeRole`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialSwap {
    pub region: String,
    pub cluster: String,
    pub nodegroup: String,
    /// The instances, by count and the first few ids.
    pub instances: Instances,
    /// The profile they run with now.
    pub profile_arn: String,
    /// The role that profile holds now; `None` when it holds none.
    pub running_role_arn: Option<String>,
    /// The node group's `nodeRole`: what they should run with.
    pub declared_role_arn: String,
    pub fix: SwapFix,
    /// The commands that undo the swap, in order.
    pub undo_commands: Vec<String>,
    /// The commands that put the swap back as it was found (after an undo).
    pub reverse_commands: Vec<String>,
    /// What was done about it: planned (dry-run, audit), done, failed, or skipped with why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ActionResult>,
}

/// How a swap is undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SwapFix {
    /// The node group's own profile holds another role (or none): put its `nodeRole` back in.
    ProfileRole {
        profile_name: String,
        /// The role taken out first (a profile holds one role).
        remove_role: Option<String>,
        add_role: String,
    },
    /// The instances' associations were replaced: associate them with the one profile that
    /// holds the node role again.
    Association {
        profile_arn: String,
        /// (instance id, association id) of each instance to put back.
        associations: Vec<(String, String)>,
    },
    /// Not undone automatically, and why; the commands say what to do.
    Manual { reason: String },
}

/// Instances that are not nodes but run with a node role (through any profile holding it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedRole {
    pub instances: Instances,
    /// The profiles they run with.
    pub profiles: Vec<String>,
}
