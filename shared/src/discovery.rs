//! Which roles back EKS nodes: managed node groups and node access entries across regions,
//! scanned concurrently with a bound and kept in memory across warm invocations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::{join_all, try_join_all};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore, SemaphorePermit};

use crate::deadline;
use crate::metrics;
use crate::ports::{AwsError, AwsResult, Eks};

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

/// Node roles by (lower-cased) role ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRoleIndex {
    roles: BTreeMap<String, BTreeSet<NodeBinding>>,
    /// Role ARNs as EKS reported them (original case), keyed like `roles`.
    arns: BTreeMap<String, String>,
}

impl NodeRoleIndex {
    pub fn insert(&mut self, role_arn: &str, binding: NodeBinding) {
        let key = role_arn.to_ascii_lowercase();
        self.arns.entry(key.clone()).or_insert_with(|| role_arn.to_owned());
        self.roles.entry(key).or_default().insert(binding);
    }

    /// Everything that makes `role_arn` a node role; empty when it is none.
    pub fn bindings(&self, role_arn: &str) -> Vec<NodeBinding> {
        self.roles
            .get(&role_arn.to_ascii_lowercase())
            .map(|b| b.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every node role ARN, in a stable order.
    pub fn role_arns(&self) -> impl Iterator<Item = &str> {
        self.arns.values().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.roles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }
}

/// Scans `regions` for node roles with at most `concurrency` EKS calls in flight.
///
/// Clusters, node groups or access entries deleted during the scan are skipped. A transient
/// failure fails the scan (a retry can help); a region or a cluster where EKS denies access is
/// recorded in `skipped` so the report can say the answer may be incomplete, and the rest is
/// still read.
pub async fn scan<E: Eks>(eks: &E, regions: &[String], concurrency: usize) -> AwsResult<Scan> {
    let limit = Limit::new(concurrency);
    let per_region = regions.iter().map(|region| scan_region(eks, region, &limit));
    let mut scan = Scan::default();
    for (region, outcome) in regions.iter().zip(join_all(per_region).await) {
        match outcome {
            Ok(found) => {
                scan.regions_searched += 1;
                for (arn, binding) in found.bindings {
                    scan.index.insert(&arn, binding);
                }
                scan.skipped.extend(found.skipped);
            }
            Err(e) if !e.is_transient() => scan.skipped.push(format!("region {region}: {e}")),
            Err(e) => return Err(e),
        }
    }
    Ok(scan)
}

/// A finished scan.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub index: NodeRoleIndex,
    /// What could not be read (a region, a cluster's node groups or access entries), with the
    /// reason.
    pub skipped: Vec<String>,
    /// Regions whose clusters could be listed.
    pub regions_searched: usize,
}

#[derive(Default)]
struct Found {
    bindings: Vec<(String, NodeBinding)>,
    skipped: Vec<String>,
}

/// How many EKS calls discovery keeps in flight: additive increase, multiplicative decrease.
/// Halved (down to 1) whenever AWS throttled this invocation during a call, one more after as
/// many unthrottled calls as are allowed in flight, up to the configured maximum. So a throttled
/// API sees fewer concurrent calls, not the same 16 retrying.
struct Limit {
    permits: Semaphore,
    max: usize,
    current: AtomicUsize,
    /// Permits to retire as they come back, after a decrease.
    debt: AtomicUsize,
    unthrottled: AtomicUsize,
}

impl Limit {
    fn new(max: usize) -> Limit {
        let max = max.max(1);
        Limit {
            permits: Semaphore::new(max),
            max,
            current: AtomicUsize::new(max),
            debt: AtomicUsize::new(0),
            unthrottled: AtomicUsize::new(0),
        }
    }

    fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Adjusts the limit after a call, and returns (or retires) its permit.
    fn settle(&self, permit: Option<SemaphorePermit<'_>>, throttled: bool) {
        let current = self.current();
        if throttled {
            let lower = (current / 2).max(1);
            if lower < current
                && self
                    .current
                    .compare_exchange(current, lower, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.debt.fetch_add(current - lower, Ordering::Relaxed);
                self.unthrottled.store(0, Ordering::Relaxed);
            }
        } else if self.unthrottled.fetch_add(1, Ordering::Relaxed) + 1 >= current && current < self.max {
            self.unthrottled.store(0, Ordering::Relaxed);
            if self
                .current
                .compare_exchange(current, current + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                // repay a retired permit first, else add one
                let repaid = self
                    .debt
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
                    .is_ok();
                if !repaid {
                    self.permits.add_permits(1);
                }
            }
        }
        if let Some(permit) = permit {
            let retire = self
                .debt
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
                .is_ok();
            if retire {
                permit.forget();
            }
        }
    }
}

/// Rounds of the SDK's own retries a discovery call gets: a scan makes hundreds of reads and
/// one that fails fails the scan, so a transient failure is tried again (while the invocation's
/// budget lasts) rather than costing the whole invocation.
const CALL_ROUNDS: usize = 3;

async fn limited<T, F: Future<Output = AwsResult<T>>>(limit: &Limit, call: impl Fn() -> F) -> AwsResult<T> {
    let mut round = 1;
    loop {
        // The semaphore is never closed, so acquire cannot fail; a closed one would only lift the bound.
        let permit = limit.permits.acquire().await.ok();
        let before = metrics::throttled_so_far();
        let result = call().await;
        limit.settle(permit, metrics::throttled_so_far() > before);
        match result {
            Err(e) if e.is_transient() && round < CALL_ROUNDS && !deadline::exhausted() => round += 1,
            result => return result,
        }
    }
}

async fn scan_region<E: Eks>(eks: &E, region: &str, limit: &Limit) -> AwsResult<Found> {
    let clusters = limited(limit, || eks.clusters(region)).await?;
    let per_cluster = clusters.iter().map(|cluster| scan_cluster(eks, region, cluster, limit));
    let mut found = Found::default();
    for cluster in try_join_all(per_cluster).await? {
        found.bindings.extend(cluster.bindings);
        found.skipped.extend(cluster.skipped);
    }
    Ok(found)
}

async fn scan_cluster<E: Eks>(eks: &E, region: &str, cluster: &str, limit: &Limit) -> AwsResult<Found> {
    let nodegroups = async {
        let names = limited(limit, || eks.nodegroup_names(region, cluster)).await?;
        let described = try_join_all(
            names
                .iter()
                .map(|ng| limited(limit, || eks.nodegroup(region, cluster, ng))),
        )
        .await?;
        Ok::<_, AwsError>(described.into_iter().flatten().map(|ng| {
            let binding = NodeBinding::ManagedNodegroup {
                region: region.to_owned(),
                cluster: cluster.to_owned(),
                nodegroup: ng.name,
            };
            (ng.node_role_arn, binding)
        }))
    };
    let access_entries = async {
        let principals = limited(limit, || eks.access_entry_principals(region, cluster)).await?;
        // Only role principals can be node roles: users and federated principals cost no call.
        let roles = principals.iter().filter(|p| p.contains(":role/"));
        let described =
            try_join_all(roles.map(|principal| limited(limit, || eks.access_entry(region, cluster, principal))))
                .await?;
        Ok::<_, AwsError>(
            described
                .into_iter()
                .flatten()
                .filter(|e| e.is_node_entry())
                .map(|entry| {
                    let binding = NodeBinding::AccessEntry {
                        region: region.to_owned(),
                        cluster: cluster.to_owned(),
                        entry_type: entry.kind,
                    };
                    (entry.principal_arn, binding)
                }),
        )
    };
    let (nodegroups, access_entries) = futures::join!(nodegroups, access_entries);
    let mut found = Found::default();
    match nodegroups {
        Ok(bindings) => found.bindings.extend(bindings),
        // A cluster whose node groups cannot be read (denied by a policy scoped to some
        // clusters) makes the answer partial; the region's other clusters are still read.
        Err(e) if !e.is_transient() => found.skipped.push(format!("node groups of {region}/{cluster}: {e}")),
        Err(e) => return Err(e),
    }
    match access_entries {
        Ok(entries) => found.bindings.extend(entries),
        // Managed node groups were read; an unreadable access-entry list (denied, a cluster in
        // CONFIG_MAP authentication mode) only makes the answer partial.
        Err(e) if !e.is_transient() => found.skipped.push(format!("access entries of {region}/{cluster}: {e}")),
        Err(e) => return Err(e),
    }
    Ok(found)
}

/// The node-role index, reused across warm invocations for `ttl`.
pub struct IndexCache {
    ttl: Duration,
    slot: Mutex<Option<Cached>>,
}

struct Cached {
    built: Instant,
    scan: Arc<Scan>,
}

/// Where an index came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexSource {
    Scanned,
    Cached,
}

impl IndexCache {
    pub fn new(ttl: Duration) -> Self {
        IndexCache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached scan if fresh, else a new one. Concurrent callers wait for one scan.
    pub async fn get<E: Eks>(
        &self,
        eks: &E,
        regions: &[String],
        concurrency: usize,
    ) -> AwsResult<(Arc<Scan>, IndexSource)> {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref().filter(|c| c.built.elapsed() < self.ttl) {
            return Ok((Arc::clone(&cached.scan), IndexSource::Cached));
        }
        let fresh = Arc::new(scan(eks, regions, concurrency).await?);
        if !self.ttl.is_zero() {
            *slot = Some(Cached {
                built: Instant::now(),
                scan: Arc::clone(&fresh),
            });
        }
        Ok((fresh, IndexSource::Scanned))
    }

    /// Forgets the cached index (the sweep always scans afresh).
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }

    /// Records a binding learnt from an event (a node group just created) in a cached index.
    pub async fn learn(&self, role_arn: &str, binding: NodeBinding) {
        if let Some(cached) = self.slot.lock().await.as_mut() {
            Arc::make_mut(&mut cached.scan).index.insert(role_arn, binding);
        }
    }

    /// Stores a scan made elsewhere (the sweep's) for later events.
    pub async fn store(&self, scan: Arc<Scan>) {
        if !self.ttl.is_zero() {
            *self.slot.lock().await = Some(Cached {
                built: Instant::now(),
                scan,
            });
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use super::Limit;

    #[test]
    fn throttling_halves_the_calls_in_flight_and_success_wins_them_back_one_by_one() {
        let limit = Limit::new(16);
        assert_eq!(limit.current(), 16);

        // a throttled call halves the limit, down to one
        for expected in [8, 4, 2, 1, 1] {
            let permit = limit.permits.try_acquire().ok();
            limit.settle(permit, true);
            assert_eq!(limit.current(), expected);
        }
        // and the semaphore follows: retired permits are not handed out again
        let held: Vec<_> = std::iter::from_fn(|| limit.permits.try_acquire().ok())
            .take(16)
            .collect();
        let available = held.len();
        for permit in held {
            limit.settle(Some(permit), false);
        }
        assert!((1..16).contains(&available), "{available} permits after halving to 1");

        // unthrottled calls add one at a time, never beyond the maximum
        for _ in 0..2_000 {
            let permit = limit.permits.try_acquire().ok();
            limit.settle(permit, false);
        }
        assert_eq!(limit.current(), 16);
        let all: Vec<_> = std::iter::from_fn(|| limit.permits.try_acquire().ok())
            .take(32)
            .collect();
        assert_eq!(all.len(), 16, "exactly the maximum in flight once recovered");
    }
}

#[cfg(test)]
mod scan_tests {
    use super::scan;
    use crate::fakes::{FakeCluster, FakeEks, error, role_arn};
    use crate::ports::ErrorKind;

    fn eks(failing: crate::ports::AwsError) -> FakeEks {
        FakeEks {
            clusters: vec![
                FakeCluster::new("us-east-1", "open").nodegroup("ng", "node-open"),
                FakeCluster::new("us-east-1", "closed")
                    .nodegroup("ng", "node-closed")
                    .nodegroups_fail(failing),
            ],
        }
    }

    #[tokio::test]
    async fn a_cluster_that_denies_its_node_groups_is_skipped_and_the_region_is_still_read() {
        let regions = vec!["us-east-1".to_owned()];
        let denied = error("eks:ListNodegroups", ErrorKind::Denied, "AccessDeniedException");
        let found = scan(&eks(denied), &regions, 4).await.expect("scanned");

        assert_eq!(found.regions_searched, 1);
        assert!(!found.index.bindings(&role_arn("node-open")).is_empty());
        assert!(found.index.bindings(&role_arn("node-closed")).is_empty());
        assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
        assert!(
            found.skipped[0].starts_with("node groups of us-east-1/closed: "),
            "{:?}",
            found.skipped
        );
    }

    #[tokio::test]
    async fn a_transient_failure_still_fails_the_scan() {
        let regions = vec!["us-east-1".to_owned()];
        let throttled = error("eks:ListNodegroups", ErrorKind::Transient, "ThrottlingException");
        assert!(scan(&eks(throttled), &regions, 4).await.is_err());
    }
}
