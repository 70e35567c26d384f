//! One way a role backs EKS nodes, and where the answer came from.

use serde::Serialize;

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
}

impl NodeBinding {
    pub fn region(&self) -> &str {
        match self {
            NodeBinding::ManagedNodegroup { region, .. } | NodeBinding::AccessEntry { region, .. } => region,
        }
    }
    pub fn cluster(&self) -> &str {
        match self {
            NodeBinding::ManagedNodegroup { cluster, .. } | NodeBinding::AccessEntry { cluster, .. } => cluster,
        }
    }
}

/// Where an index came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexSource {
    Scanned,
    Cached,
}
