//! Verdicts on a node role's policies: violations, what stays and why, and what a policy is
//! probably for.

use serde::Serialize;

use super::{Excepted, Exception};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    ManagedPolicy {
        policy_name: String,
        policy_arn: String,
        reason: String,
        /// What the policy is probably for, when it can be told.
        #[serde(skip_serializing_if = "Option::is_none")]
        used_by: Option<Usage>,
    },
    InlinePolicy {
        policy_name: String,
        /// The document, URL-decoded; `None` if it could not be read.
        document: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        used_by: Option<Usage>,
    },
}

impl Violation {
    pub fn policy_name(&self) -> &str {
        match self {
            Violation::ManagedPolicy { policy_name, .. } | Violation::InlinePolicy { policy_name, .. } => policy_name,
        }
    }

    pub fn used_by(&self) -> Option<&Usage> {
        match self {
            Violation::ManagedPolicy { used_by, .. } | Violation::InlinePolicy { used_by, .. } => used_by.as_ref(),
        }
    }
}

/// A managed policy that stays, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub policy_name: String,
    pub policy_arn: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Usage>,
    /// Kept only because an add-on installed in a cluster the role serves still runs on the
    /// node role.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub addon_needs_it: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub violations: Vec<Violation>,
    pub kept: Vec<Kept>,
    /// Violations an exception keeps until its date.
    pub excepted: Vec<Excepted>,
    /// Exceptions that stopped applying today: their policies are violations again.
    pub expired: Vec<Exception>,
}

/// What probably uses a policy, and how that was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// The workload: `Cluster Autoscaler`, `Amazon EBS CSI driver`, ...
    pub component: &'static str,
    /// How it was recognised (policy name, eksctl flag, actions).
    pub evidence: String,
    /// Where the workload's pods run; `None` for what runs on the host, not in a pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'static str>,
    /// Its service accounts that call AWS.
    pub service_accounts: &'static [&'static str],
    /// The EKS add-on, when the workload is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<&'static str>,
    /// What to know before moving it.
    pub note: &'static str,
}
