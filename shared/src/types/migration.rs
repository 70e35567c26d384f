//! Moving one workload off the node role to credentials of its own (EKS Pod Identity).

use serde::Serialize;

/// Moving one workload off the node role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub component: &'static str,
    pub namespace: &'static str,
    pub service_accounts: &'static [&'static str],
    /// The role the commands create, trusted by `pods.eks.amazonaws.com`.
    pub role_name: String,
    /// The node-role policies it moves (managed ARNs, inline names).
    pub policies: Vec<String>,
    /// Run in order: create the role, give it the policies, associate it in each cluster.
    pub commands: Vec<String>,
    /// What the commands cannot do for you.
    pub notes: Vec<String>,
}
