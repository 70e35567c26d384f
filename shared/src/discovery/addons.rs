//! EKS add-ons that can run on node-role credentials, and whether the clusters a role serves
//! still rely on that.
//!
//! An add-on installed without an IAM role of its own (neither IRSA, its `serviceAccountRoleArn`,
//! nor an EKS Pod Identity association for its service account) gets its AWS credentials from
//! the node's instance profile. Its policy on the node role is then **needed**: removing it
//! breaks the add-on (pods with EBS volumes stop scheduling, pod networking stops, ...). Once the
//! add-on has its own credentials, or is not installed, the policy is a violation like any other.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::ports::Eks;
use crate::types::{AddonCredentials, AddonNeed, AddonNeeds, AwsError, AwsResult, KnownAddon, NodeBinding};

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
    use crate::types::ErrorKind;

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
