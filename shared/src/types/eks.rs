//! EKS data as the ports return it: node groups, access entries, add-on credentials.

use serde::Serialize;

/// A managed node group as `DescribeNodegroup` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodegroup {
    pub region: String,
    pub cluster: String,
    pub name: String,
    pub node_role_arn: String,
    pub status: String,
    /// The Auto Scaling groups EKS runs the group's instances in (`resources.autoScalingGroups`):
    /// each instance carries the system tag `aws:autoscaling:groupName`, which no user can write.
    pub autoscaling_groups: Vec<String>,
    /// The launch template the group's instances are launched from (`launchTemplate`): its id
    /// and name, when the group has one of its own.
    pub launch_template: Option<(Option<String>, Option<String>)>,
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
