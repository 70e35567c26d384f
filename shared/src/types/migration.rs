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

/// The heading every format puts above the migration commands.
pub const MIGRATIONS_HEADING: &str = "Moving these workloads off the node role (EKS Pod Identity; run in order)";

impl Migration {
    /// `Cluster Autoscaler (kube-system/cluster-autoscaler) -> role cluster-autoscaler-eks-node-prod`.
    pub fn title(&self) -> String {
        format!(
            "{} ({}/{}) -> role {}",
            self.component,
            self.namespace,
            self.service_accounts.join(", "),
            self.role_name
        )
    }

    /// The migrations as plain text, each line indented by `indent`: the heading, then per
    /// workload its commands in order, one a line so a block pastes into a shell, and its notes.
    /// Empty when there are none.
    pub fn text(migrations: &[Migration], indent: &str) -> String {
        let mut out = String::new();
        if migrations.is_empty() {
            return out;
        }
        out.push_str(&format!("{indent}{MIGRATIONS_HEADING}:\n"));
        for m in migrations {
            out.push_str(&format!("{indent}  {}:\n", m.title()));
            for command in &m.commands {
                out.push_str(&format!("{indent}    {command}\n"));
            }
            for note in &m.notes {
                out.push_str(&format!("{indent}    note: {note}\n"));
            }
        }
        out
    }
}
