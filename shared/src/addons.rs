//! EKS add-ons that can run on node-role credentials, and whether the clusters a role serves
//! still rely on that.
//!
//! An add-on installed without an IAM role of its own (neither IRSA, its `serviceAccountRoleArn`,
//! nor an EKS Pod Identity association for its service account) gets its AWS credentials from
//! the node's instance profile. Its policy on the node role is then **needed**: removing it
//! breaks the add-on (pods with EBS volumes stop scheduling, pod networking stops, ...). Once the
//! add-on has its own credentials, or is not installed, the policy is a violation like any other.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::Serialize;

use crate::discovery::NodeBinding;
use crate::ports::{AddonCredentials, AwsError, AwsResult, Eks};

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
            .any(|policy| policy_arn == crate::iam_arn::aws_managed_policy_arn(partition, policy))
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

/// Asks, per cluster the role serves, how each of `addons` gets its credentials.
pub async fn needs<E: Eks>(
    eks: &E,
    facts: &AddonFacts,
    addons: &[&'static KnownAddon],
    bindings: &[NodeBinding],
) -> AddonNeeds {
    let clusters: BTreeSet<(&str, &str)> = bindings.iter().map(|b| (b.region(), b.cluster())).collect();
    let per_addon = addons.iter().map(|addon| async {
        let checks = join_all(clusters.iter().map(|(region, cluster)| {
            facts.get_or_check(region, cluster, addon.name, || {
                eks.addon_credentials(region, cluster, addon)
            })
        }))
        .await;
        let mut needed = Vec::new();
        let mut not_needed = Vec::new();
        for ((region, cluster), check) in clusters.iter().zip(checks) {
            match check {
                Ok(AddonCredentials::NodeRole) => needed.push(format!("{cluster} ({region})")),
                Ok(other) => not_needed.push(format!("{cluster} ({region}): {}", other.describe())),
                Err(e) => return (*addon, AddonNeed::Unknown { reason: e.to_string() }),
            }
        }
        let need = if needed.is_empty() {
            AddonNeed::NotNeeded { clusters: not_needed }
        } else {
            AddonNeed::Needed { clusters: needed }
        };
        (*addon, need)
    });
    let mut found = AddonNeeds::default();
    for (addon, need) in join_all(per_addon).await {
        found.insert(addon, need);
    }
    found
}

type FactKey = (String, String, &'static str);

/// Each (cluster, add-on) answer, reused for `ttl`. Concurrent askers of the same question wait
/// for one call; transient failures are not remembered, permanent ones (access denied) are.
pub struct AddonFacts {
    ttl: Duration,
    entries: std::sync::Mutex<HashMap<FactKey, Arc<Fact>>>,
}

struct Fact {
    created: Instant,
    answer: tokio::sync::OnceCell<AwsResult<AddonCredentials>>,
}

impl AddonFacts {
    pub fn new(ttl: Duration) -> Self {
        AddonFacts {
            ttl,
            entries: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn get_or_check<F, Fut>(
        &self,
        region: &str,
        cluster: &str,
        addon: &'static str,
        check: F,
    ) -> AwsResult<AddonCredentials>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AwsResult<AddonCredentials>>,
    {
        let key: FactKey = (region.to_owned(), cluster.to_owned(), addon);
        let Some(fact) = self.fact(&key) else {
            // a poisoned lock only costs the cache
            return check().await;
        };
        let answer = fact.answer.get_or_init(check).await.clone();
        if answer.as_ref().is_err_and(AwsError::is_transient)
            && let Ok(mut entries) = self.entries.lock()
            && entries.get(&key).is_some_and(|current| Arc::ptr_eq(current, &fact))
        {
            entries.remove(&key);
        }
        answer
    }

    /// The entry to wait on: a pending or fresh one, else a new one.
    fn fact(&self, key: &FactKey) -> Option<Arc<Fact>> {
        let mut entries = self.entries.lock().ok()?;
        if let Some(fact) = entries
            .get(key)
            .filter(|f| !f.answer.initialized() || f.created.elapsed() < self.ttl)
        {
            return Some(Arc::clone(fact));
        }
        let fact = Arc::new(Fact {
            created: Instant::now(),
            answer: tokio::sync::OnceCell::new(),
        });
        entries.insert(key.clone(), Arc::clone(&fact));
        Some(fact)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ports::ErrorKind;

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

    #[tokio::test]
    async fn concurrent_askers_share_one_call_and_transient_failures_are_forgotten() {
        let facts = AddonFacts::new(Duration::from_secs(60));
        let calls = AtomicU32::new(0);
        let ask = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(AddonCredentials::NodeRole)
        };
        let answers = join_all((0..5).map(|_| facts.get_or_check("r", "c", "vpc-cni", ask))).await;
        assert!(answers.iter().all(|a| *a == Ok(AddonCredentials::NodeRole)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let throttled = || async {
            Err(AwsError {
                operation: "eks:DescribeAddon",
                kind: ErrorKind::Transient,
                code: Some("ThrottlingException".into()),
                message: "Rate exceeded".into(),
            })
        };
        assert!(facts.get_or_check("r", "c2", "vpc-cni", throttled).await.is_err());
        let retried = facts
            .get_or_check("r", "c2", "vpc-cni", || async { Ok(AddonCredentials::PodIdentity) })
            .await;
        assert_eq!(
            retried,
            Ok(AddonCredentials::PodIdentity),
            "a transient failure is asked again"
        );
    }

    #[tokio::test]
    async fn a_zero_ttl_remembers_nothing() {
        let facts = AddonFacts::new(Duration::ZERO);
        facts
            .get_or_check("r", "c", "vpc-cni", || async { Ok(AddonCredentials::NodeRole) })
            .await
            .ok();
        let again = facts
            .get_or_check("r", "c", "vpc-cni", || async { Ok(AddonCredentials::PodIdentity) })
            .await;
        assert_eq!(again, Ok(AddonCredentials::PodIdentity));
    }
}
