//! Add-ons the guard knows (their policies and service accounts), and whether the clusters a
//! role serves still give each its credentials through the node role.

use std::collections::BTreeMap;

use serde::Serialize;

use super::arn;

/// An EKS-managed add-on whose AWS-managed policy people put on node roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownAddon {
    /// The EKS add-on name (`aws eks describe-addon --addon-name`).
    pub name: &'static str,
    /// What people call it.
    pub component: &'static str,
    /// The AWS-managed policies it needs: path and name under `arn:<partition>:iam::aws:policy/`.
    pub policies: &'static [&'static str],
    pub namespace: &'static str,
    /// Every service account of the add-on that calls AWS; each needs its own credentials
    /// before the node role's policy can go.
    pub service_accounts: &'static [&'static str],
    /// Runs even when it is not installed as an EKS add-on (every cluster ships a
    /// self-managed `aws-node`), so "not an add-on" does not mean "not running".
    pub always_runs: bool,
    /// Where AWS documents the policy and the service account.
    pub documentation: &'static str,
}

/// The VPC CNI: `aws-node` manages pod IP addresses with `AmazonEKS_CNI_Policy`.
pub const VPC_CNI: KnownAddon = KnownAddon {
    name: "vpc-cni",
    component: "Amazon VPC CNI (aws-node)",
    policies: &["AmazonEKS_CNI_Policy"],
    namespace: "kube-system",
    service_accounts: &["aws-node"],
    always_runs: true,
    documentation: "https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html",
};

/// The add-ons this product knows, by the policy each needs.
pub const KNOWN_ADDONS: &[KnownAddon] = &[
    VPC_CNI,
    KnownAddon {
        name: "aws-ebs-csi-driver",
        component: "Amazon EBS CSI driver",
        policies: &["service-role/AmazonEBSCSIDriverPolicy"],
        namespace: "kube-system",
        service_accounts: &["ebs-csi-controller-sa"],
        always_runs: false,
        documentation: "https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html",
    },
    KnownAddon {
        name: "aws-efs-csi-driver",
        component: "Amazon EFS CSI driver",
        policies: &["service-role/AmazonEFSCSIDriverPolicy"],
        namespace: "kube-system",
        service_accounts: &["efs-csi-controller-sa", "efs-csi-node-sa"],
        always_runs: false,
        documentation: "https://docs.aws.amazon.com/eks/latest/userguide/efs-csi.html",
    },
    KnownAddon {
        name: "amazon-cloudwatch-observability",
        component: "Amazon CloudWatch Observability (CloudWatch agent)",
        policies: &["CloudWatchAgentServerPolicy", "AWSXrayWriteOnlyAccess"],
        namespace: "amazon-cloudwatch",
        service_accounts: &["cloudwatch-agent"],
        always_runs: false,
        documentation: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-setup-EKS-addon.html",
    },
];

/// The known add-on whose policy `policy_arn` is, if any (AWS-managed, in `partition`).
pub fn by_policy_arn(partition: &str, policy_arn: &str) -> Option<&'static KnownAddon> {
    KNOWN_ADDONS.iter().find(|addon| {
        addon
            .policies
            .iter()
            .any(|policy| policy_arn == arn::aws_managed_policy_arn(partition, policy))
    })
}

/// Whether the clusters a role serves still give an add-on its credentials through the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "need", rename_all = "snake_case")]
pub enum AddonNeed {
    /// These clusters run the add-on on node-role credentials.
    Needed { clusters: Vec<String> },
    /// No cluster the role serves does (each cluster, and why).
    NotNeeded { clusters: Vec<String> },
    /// Could not tell (API missing, denied or failed): treated as needed.
    Unknown { reason: String },
}

/// Each checked add-on's need, by add-on name. An add-on that was not checked is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddonNeeds(BTreeMap<&'static str, AddonNeed>);

impl AddonNeeds {
    pub fn get(&self, addon: &KnownAddon) -> Option<&AddonNeed> {
        self.0.get(addon.name)
    }

    pub fn insert(&mut self, addon: &KnownAddon, need: AddonNeed) {
        self.0.insert(addon.name, need);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_matched_with_their_path_and_partition() {
        let ebs = by_policy_arn("aws", "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy");
        assert_eq!(ebs.map(|a| a.name), Some("aws-ebs-csi-driver"));
        assert_eq!(
            by_policy_arn("aws-cn", "arn:aws-cn:iam::aws:policy/AmazonEKS_CNI_Policy").map(|a| a.name),
            Some("vpc-cni")
        );
        // without its path, in another partition, or customer-managed: not the add-on's policy
        assert!(by_policy_arn("aws", "arn:aws:iam::aws:policy/AmazonEBSCSIDriverPolicy").is_none());
        assert!(by_policy_arn("aws-us-gov", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy").is_none());
        assert!(by_policy_arn("aws", "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_Policy").is_none());
    }
}
