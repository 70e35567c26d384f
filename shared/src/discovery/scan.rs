//! Which roles back EKS nodes: what EKS declares (managed node groups, node access entries)
//! and what the instances run with ([`super::nodes`]), across regions, scanned concurrently
//! within an adaptive bound ([`super::limit`]). A scan that could search no region at all is
//! an error, never an empty answer: the event path, the sweep and the audit all take that one
//! decision here.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::{join_all, try_join_all};

use super::limit::{Limit, limited};
use super::nodes::{self, Declared, DeclaredGroup, Profiles, RunningNodes};
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{
    AwsError, AwsResult, CredentialSwap, ErrorKind, Instance, Instances, NodeBinding, NodeFacts, SharedRole,
};

/// What discovery reads in one account: IAM (instance profiles), EKS and EC2.
pub struct Sources<'a, I, E, C> {
    pub iam: &'a I,
    pub eks: &'a E,
    pub ec2: &'a C,
}

/// Node roles by (lower-cased) role ARN, with the swaps and the other users found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRoleIndex {
    roles: BTreeMap<String, BTreeSet<NodeBinding>>,
    /// Role ARNs as AWS reported them (original case), keyed like `roles`.
    arns: BTreeMap<String, String>,
    /// Swaps on the node groups that declare each role.
    swaps: BTreeMap<String, Vec<CredentialSwap>>,
    /// (instance id, profile ARN) of instances that are not nodes, by the role they run with.
    others: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl NodeRoleIndex {
    pub fn insert(&mut self, role_arn: &str, binding: NodeBinding) {
        let key = role_arn.to_ascii_lowercase();
        self.arns.entry(key.clone()).or_insert_with(|| role_arn.to_owned());
        self.roles.entry(key).or_default().insert(binding);
    }

    fn add(&mut self, running: RunningNodes) {
        for (arn, binding) in running.bindings {
            self.insert(&arn, binding);
        }
        for (arn, swap) in running.swaps {
            self.swaps.entry(arn.to_ascii_lowercase()).or_default().push(swap);
        }
        for (arn, instance, profile) in running.others {
            self.others
                .entry(arn.to_ascii_lowercase())
                .or_default()
                .insert((instance, profile));
        }
    }

    /// Everything that makes `role_arn` a node role; empty when it is none.
    pub fn bindings(&self, role_arn: &str) -> Vec<NodeBinding> {
        self.roles
            .get(&role_arn.to_ascii_lowercase())
            .map(|b| b.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// What the scan knows of `role_arn`: its bindings, the swaps on its node groups, and the
    /// instances that share it when it is a node role.
    pub fn facts(&self, role_arn: &str) -> NodeFacts {
        let key = role_arn.to_ascii_lowercase();
        let bindings = self.bindings(role_arn);
        let shared = match self.others.get(&key) {
            Some(others) if !bindings.is_empty() => Some(SharedRole {
                instances: Instances::of(others.iter().map(|(id, _)| id.as_str())),
                profiles: others
                    .iter()
                    .map(|(_, p)| p.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            }),
            _ => None,
        };
        NodeFacts {
            bindings,
            swaps: self.swaps.get(&key).cloned().unwrap_or_default(),
            shared,
        }
    }

    /// The declared roles of the node groups whose instances run swapped through the profile
    /// named `profile` (a name or an ARN), sorted.
    pub fn swapped_through(&self, profile: &str) -> Vec<String> {
        let name = crate::types::arn::profile_name_from_arn(profile);
        let mut roles: Vec<String> = self
            .swaps
            .iter()
            .filter(|(_, swaps)| {
                swaps
                    .iter()
                    .any(|s| crate::types::arn::profile_name_from_arn(&s.profile_arn).eq_ignore_ascii_case(name))
            })
            .filter_map(|(key, _)| self.arns.get(key).cloned().or_else(|| Some(key.clone())))
            .collect();
        roles.sort();
        roles
    }

    /// Every node role ARN, in a stable order.
    pub fn role_arns(&self) -> impl Iterator<Item = &str> {
        self.arns.values().map(String::as_str)
    }
}

/// Scans `regions` for node roles with at most `concurrency` EKS and EC2 calls in flight.
///
/// Clusters, node groups or access entries deleted during the scan are skipped. A transient
/// failure fails the scan (a retry can help); a region or a cluster where EKS denies access is
/// recorded in `skipped` so the report can say the answer may be incomplete, and the rest is
/// still read; so are a region whose instances EC2 refuses and an account whose instance
/// profiles IAM refuses (the instance paths are then not searched). When not one region could
/// be searched (EKS denied everywhere: an SCP, a changed boundary), the scan fails: "no node
/// roles" would be a guess, and a guard that cannot see must say so rather than ignore every
/// event.
pub async fn scan<I: IamRead, E: Eks, C: Ec2Read>(
    sources: &Sources<'_, I, E, C>,
    regions: &[String],
    concurrency: usize,
) -> AwsResult<Scan> {
    let limit = Limit::new(concurrency);
    let per_region = join_all(regions.iter().map(|region| scan_region(sources, region, &limit)));
    // IAM is global: the account's profiles are listed once, beside the regions
    let (per_region, profiles) = futures::join!(per_region, limited(&limit, || sources.iam.instance_profiles()));
    let mut scan = Scan::default();
    let profiles = match profiles {
        Ok(profiles) => Some(Profiles::new(profiles)),
        Err(e) if !e.is_transient() => {
            scan.skipped.push(format!(
                "instance profiles (the roles instances run with were not read): {e}"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    let mut refused: Option<AwsError> = None;
    for (region, outcome) in regions.iter().zip(per_region) {
        match outcome {
            Ok(found) => {
                scan.regions_searched += 1;
                if let (Some(profiles), Some(instances)) = (&profiles, &found.instances) {
                    let declared = Declared {
                        region,
                        clusters: &found.clusters,
                        nodegroups: &found.nodegroups,
                    };
                    scan.index.add(nodes::read(&declared, instances, profiles));
                }
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
    /// What could not be read (a region, a cluster's node groups or access entries, a region's
    /// instances), with the reason.
    pub skipped: Vec<String>,
    /// Regions whose clusters could be listed.
    pub regions_searched: usize,
}

#[derive(Default)]
struct Found {
    bindings: Vec<(String, NodeBinding)>,
    /// (cluster, node group) -> what EKS declares of it.
    nodegroups: Vec<((String, String), DeclaredGroup)>,
    skipped: Vec<String>,
}

/// What one region declares and runs.
#[derive(Default)]
struct RegionFound {
    clusters: BTreeSet<String>,
    /// (cluster, node group) -> its `nodeRole` and Auto Scaling groups.
    nodegroups: BTreeMap<(String, String), DeclaredGroup>,
    bindings: Vec<(String, NodeBinding)>,
    /// `None` when EC2 refused (then in `skipped`) or the region has no cluster to run nodes of.
    instances: Option<Vec<Instance>>,
    skipped: Vec<String>,
}

async fn scan_region<I: IamRead, E: Eks, C: Ec2Read>(
    sources: &Sources<'_, I, E, C>,
    region: &str,
    limit: &Limit,
) -> AwsResult<RegionFound> {
    let clusters = limited(limit, || sources.eks.clusters(region)).await?;
    let per_cluster = clusters
        .iter()
        .map(|cluster| scan_cluster(sources.eks, region, cluster, limit));
    // without a cluster in the region no instance there can be a node: no EC2 call
    let instances = async {
        if clusters.is_empty() {
            return Ok(None);
        }
        running_instances(sources.ec2, region, limit).await.map(Some)
    };
    let (per_cluster, instances) = futures::join!(try_join_all(per_cluster), instances);
    let mut found = RegionFound {
        clusters: clusters.iter().cloned().collect(),
        ..RegionFound::default()
    };
    for cluster in per_cluster? {
        found.bindings.extend(cluster.bindings);
        found.nodegroups.extend(cluster.nodegroups);
        found.skipped.extend(cluster.skipped);
    }
    match instances {
        Ok(instances) => found.instances = instances,
        Err(e) if !e.is_transient() => found.skipped.push(format!("instances of {region}: {e}")),
        Err(e) => return Err(e),
    }
    Ok(found)
}

/// The region's instances, each with the profile of its current association where one is
/// listed (the truth after a `ReplaceIamInstanceProfileAssociation`).
async fn running_instances<C: Ec2Read>(ec2: &C, region: &str, limit: &Limit) -> AwsResult<Vec<Instance>> {
    let (mut instances, associations) = futures::try_join!(
        limited(limit, || ec2.instances(region)),
        limited(limit, || ec2.profile_associations(region))
    )?;
    let by_instance: BTreeMap<&str, _> = associations.iter().map(|a| (a.instance_id.as_str(), a)).collect();
    for instance in &mut instances {
        if let Some(association) = by_instance.get(instance.id.as_str()) {
            instance.profile_arn = Some(association.profile_arn.clone());
            instance.association_id = Some(association.association_id.clone());
        }
    }
    Ok(instances)
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
        Ok::<_, AwsError>(described.into_iter().flatten())
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
        Ok(described) => {
            for ng in described {
                let binding = NodeBinding::ManagedNodegroup {
                    region: region.to_owned(),
                    cluster: cluster.to_owned(),
                    nodegroup: ng.name.clone(),
                };
                found.bindings.push((ng.node_role_arn.clone(), binding));
                found.nodegroups.push((
                    (cluster.to_owned(), ng.name),
                    DeclaredGroup::of(ng.node_role_arn, ng.autoscaling_groups),
                ));
            }
        }
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
#[path = "scan_tests.rs"]
mod tests;
