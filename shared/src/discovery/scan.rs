//! Which roles back EKS nodes: managed node groups and node access entries across regions,
//! scanned concurrently within an adaptive bound ([`super::limit`]). A scan that could search no
//! region at all is an error, never an empty answer: the event path, the sweep and the audit all
//! take that one decision here.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::{join_all, try_join_all};

use super::limit::{Limit, limited};
use crate::ports::Eks;
use crate::types::{AwsError, AwsResult, ErrorKind, NodeBinding};

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
}

/// Scans `regions` for node roles with at most `concurrency` EKS calls in flight.
///
/// Clusters, node groups or access entries deleted during the scan are skipped. A transient
/// failure fails the scan (a retry can help); a region or a cluster where EKS denies access is
/// recorded in `skipped` so the report can say the answer may be incomplete, and the rest is
/// still read. When not one region could be searched (EKS denied everywhere: an SCP, a changed
/// boundary), the scan fails: "no node roles" would be a guess, and a guard that cannot see
/// must say so rather than ignore every event.
pub async fn scan<E: Eks>(eks: &E, regions: &[String], concurrency: usize) -> AwsResult<Scan> {
    let limit = Limit::new(concurrency);
    let per_region = regions.iter().map(|region| scan_region(eks, region, &limit));
    let mut scan = Scan::default();
    let mut refused: Option<AwsError> = None;
    for (region, outcome) in regions.iter().zip(join_all(per_region).await) {
        match outcome {
            Ok(found) => {
                scan.regions_searched += 1;
                for (arn, binding) in found.bindings {
                    scan.index.insert(&arn, binding);
                }
                scan.skipped.extend(found.skipped);
            }
            Err(e) if !e.is_transient() => {
                scan.skipped.push(format!("region {region}: {e}"));
                refused = refused.or(Some(e));
            }
            Err(e) => return Err(e),
        }
    }
    match refused {
        Some(first) if scan.regions_searched == 0 => Err(nothing_searched(first, &scan.skipped)),
        _ => Ok(scan),
    }
}

/// The error of a scan that searched no region: the first refusal's operation, kind and code,
/// and every region's reason.
fn nothing_searched(first: AwsError, skipped: &[String]) -> AwsError {
    AwsError {
        operation: first.operation,
        kind: if first.kind == ErrorKind::Denied {
            ErrorKind::Denied
        } else {
            ErrorKind::Rejected
        },
        code: first.code,
        message: format!("no region could be searched ({})", skipped.join("; ")),
    }
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

#[cfg(test)]
mod scan_tests {
    use super::scan;
    use crate::ports::fakes::{FakeCluster, FakeEks, error, role_arn};
    use crate::types::ErrorKind;

    fn eks(failing: crate::types::AwsError) -> FakeEks {
        FakeEks::new(vec![
            FakeCluster::new("us-east-1", "open").nodegroup("ng", "node-open"),
            FakeCluster::new("us-east-1", "closed")
                .nodegroup("ng", "node-closed")
                .nodegroups_fail(failing),
        ])
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
    async fn a_scan_that_can_search_no_region_fails_instead_of_finding_nothing() {
        // Given EKS refusing ListClusters in every region, one of them with a node role
        let regions = vec!["us-east-1".to_owned(), "eu-west-1".to_owned()];
        let denied = error("eks:ListClusters", ErrorKind::Denied, "AccessDeniedException");
        let eks = eks(error("eks:ListNodegroups", ErrorKind::Denied, "AccessDeniedException"))
            .refusing(&["us-east-1", "eu-west-1"], denied.clone());

        // When it scans
        let e = scan(&eks, &regions, 4)
            .await
            .expect_err("nothing searched is no answer");

        // Then the error says so, names each region, and keeps the refusal's kind and code
        assert_eq!(e.kind, ErrorKind::Denied);
        assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));
        assert!(e.message.starts_with("no region could be searched ("), "{e}");
        assert!(
            e.message.contains("region us-east-1: ") && e.message.contains("region eu-west-1: "),
            "{e}"
        );

        // and one region left is an answer, with the other region's refusal as a warning
        let eks = eks_only_refusing("eu-west-1", denied);
        let found = scan(&eks, &regions, 4).await.expect("one region searched");
        assert_eq!(found.regions_searched, 1);
        assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
    }

    fn eks_only_refusing(region: &str, denied: crate::types::AwsError) -> FakeEks {
        FakeEks::new(vec![FakeCluster::new("us-east-1", "open").nodegroup("ng", "node-open")])
            .refusing(&[region], denied)
    }

    #[tokio::test]
    async fn a_transient_failure_still_fails_the_scan() {
        let regions = vec!["us-east-1".to_owned()];
        let throttled = error("eks:ListNodegroups", ErrorKind::Transient, "ThrottlingException");
        assert!(scan(&eks(throttled), &regions, 4).await.is_err());
    }
}
