//! One way a role backs EKS nodes, and where the answer came from.

use serde::Serialize;

use super::{CredentialSwap, Instances, NodeKind, SharedRole};

/// One way a role backs nodes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeBinding {
    ManagedNodegroup {
        region: String,
        cluster: String,
        nodegroup: String,
    },
    AccessEntry {
        region: String,
        cluster: String,
        entry_type: String,
    },
    /// Instances of a cluster that exists run with the role, through `profile_arn`: nodes EKS
    /// does not declare (self-managed, Karpenter, Auto Mode, `aws-auth` clusters).
    RunningInstances {
        region: String,
        cluster: String,
        node_kind: NodeKind,
        profile_arn: String,
        instances: Instances,
    },
}

impl NodeBinding {
    pub fn region(&self) -> &str {
        match self {
            NodeBinding::ManagedNodegroup { region, .. }
            | NodeBinding::AccessEntry { region, .. }
            | NodeBinding::RunningInstances { region, .. } => region,
        }
    }
    pub fn cluster(&self) -> &str {
        match self {
            NodeBinding::ManagedNodegroup { cluster, .. }
            | NodeBinding::AccessEntry { cluster, .. }
            | NodeBinding::RunningInstances { cluster, .. } => cluster,
        }
    }
}

/// Everything discovery knows of one role: what makes it a node role, the swaps found on the
/// node groups that declare it, and the instances that are not nodes but share it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFacts {
    pub bindings: Vec<NodeBinding>,
    pub swaps: Vec<CredentialSwap>,
    pub shared: Option<SharedRole>,
}

/// Where an index came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexSource {
    Scanned,
    Cached,
    /// The quick answer: the instances that run with the role make it a node role.
    Instances,
}
