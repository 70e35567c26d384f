//! Which roles back EKS nodes: managed node groups and node access entries across regions,
//! scanned concurrently with a bound and kept in memory across warm invocations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{join_all, try_join_all};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

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
/// failure fails the scan (a retry can help); a region where EKS denies access is recorded in
/// `skipped` so the report can say the answer may be incomplete.
pub async fn scan<E: Eks>(eks: &E, regions: &[String], concurrency: usize) -> AwsResult<Scan> {
    let limit = Semaphore::new(concurrency.max(1));
    let per_region = regions.iter().map(|region| scan_region(eks, region, &limit));
    let mut scan = Scan::default();
    for (region, outcome) in regions.iter().zip(join_all(per_region).await) {
        match outcome {
            Ok(found) => {
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
    /// What could not be read (a region or a cluster's access entries), with the reason.
    pub skipped: Vec<String>,
}

#[derive(Default)]
struct Found {
    bindings: Vec<(String, NodeBinding)>,
    skipped: Vec<String>,
}

async fn limited<T>(limit: &Semaphore, call: impl Future<Output = AwsResult<T>>) -> AwsResult<T> {
    // The semaphore is never closed, so acquire cannot fail; a closed one would only lift the bound.
    let _permit = limit.acquire().await.ok();
    call.await
}

async fn scan_region<E: Eks>(eks: &E, region: &str, limit: &Semaphore) -> AwsResult<Found> {
    let clusters = limited(limit, eks.clusters(region)).await?;
    let per_cluster = clusters.iter().map(|cluster| scan_cluster(eks, region, cluster, limit));
    let mut found = Found::default();
    for cluster in try_join_all(per_cluster).await? {
        found.bindings.extend(cluster.bindings);
        found.skipped.extend(cluster.skipped);
    }
    Ok(found)
}

async fn scan_cluster<E: Eks>(eks: &E, region: &str, cluster: &str, limit: &Semaphore) -> AwsResult<Found> {
    let nodegroups = async {
        let names = limited(limit, eks.nodegroup_names(region, cluster)).await?;
        let described = try_join_all(
            names
                .iter()
                .map(|ng| limited(limit, eks.nodegroup(region, cluster, ng))),
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
        let principals = limited(limit, eks.access_entry_principals(region, cluster)).await?;
        // Only role principals can be node roles: users and federated principals cost no call.
        let roles = principals.iter().filter(|p| p.contains(":role/"));
        let described =
            try_join_all(roles.map(|principal| limited(limit, eks.access_entry(region, cluster, principal)))).await?;
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
    let mut found = Found {
        bindings: nodegroups?.collect(),
        skipped: Vec::new(),
    };
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
