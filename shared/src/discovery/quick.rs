//! The quick answer for one role with a cold index: the instances that run with it. IAM lists
//! the profiles that hold the role; each region's instances say which of them use those
//! profiles; a node of a cluster EKS lists there makes the role a node role, in a dozen calls
//! where the full scan reads every node group and access entry of every cluster. Only a yes is
//! quick: no instance, an instance of a managed node group that declares another role (a swap,
//! which the full scan judges), or any doubt, and the caller scans.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;

use super::limit::{Limit, limited};
use super::nodes::{self, Declared, DeclaredGroup, Profiles};
use super::scan::Sources;
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{AwsResult, Instance, Instances, NodeBinding, NodeFacts, SharedRole, arn};

/// The facts of `role_arn` read from the instances that run with it, when they make it a node
/// role; `None` when the full scan must decide.
pub async fn from_instances<I: IamRead, E: Eks, C: Ec2Read>(
    sources: &Sources<'_, I, E, C>,
    regions: &[String],
    concurrency: usize,
    role_name: &str,
    role_arn: &str,
) -> AwsResult<Option<NodeFacts>> {
    let limit = Limit::new(concurrency);
    let profiles = limited(&limit, || sources.iam.instance_profiles_for_role(role_name)).await?;
    if profiles.is_empty() {
        return Ok(None);
    }
    let profiles = Profiles::new(profiles);
    let per_region = regions
        .iter()
        .map(|region| region_facts(sources, &limit, region, &profiles, role_arn));
    let mut facts = NodeFacts::default();
    let mut others: BTreeSet<(String, String)> = BTreeSet::new();
    for found in try_join_all(per_region).await? {
        let Some(found) = found else {
            return Ok(None);
        };
        facts.bindings.extend(found.bindings);
        others.extend(found.others);
    }
    if facts.bindings.is_empty() {
        return Ok(None);
    }
    facts.bindings.sort();
    facts.bindings.dedup();
    if !others.is_empty() {
        facts.shared = Some(SharedRole {
            instances: Instances::of(others.iter().map(|(id, _)| id.as_str())),
            profiles: others
                .iter()
                .map(|(_, p)| p.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        });
    }
    Ok(Some(facts))
}

/// One region's answer.
struct RegionFacts {
    bindings: Vec<NodeBinding>,
    /// (instance id, profile ARN) of instances that are not nodes.
    others: Vec<(String, String)>,
}

/// `None` when this region needs the full scan (a managed node group's instance runs with the
/// role but EKS declares another).
async fn region_facts<I: IamRead, E: Eks, C: Ec2Read>(
    sources: &Sources<'_, I, E, C>,
    limit: &Limit,
    region: &str,
    profiles: &Profiles,
    role_arn: &str,
) -> AwsResult<Option<RegionFacts>> {
    let instances = limited(limit, || sources.ec2.instances(region)).await?;
    let users: Vec<Instance> = instances
        .into_iter()
        .filter(|i| i.profile_arn.as_deref().is_some_and(|p| profiles.get(p).is_some()))
        .collect();
    if users.is_empty() {
        return Ok(Some(RegionFacts {
            bindings: Vec::new(),
            others: Vec::new(),
        }));
    }
    let clusters: BTreeSet<String> = limited(limit, || sources.eks.clusters(region))
        .await?
        .into_iter()
        .collect();
    // the managed node groups these instances name, with their declared roles
    let named: BTreeSet<(String, String)> = users
        .iter()
        .filter_map(|i| {
            let group = i.tags.get("eks:nodegroup-name")?;
            let cluster = i.tags.get("eks:cluster-name")?;
            clusters.contains(cluster).then(|| (cluster.clone(), group.clone()))
        })
        .collect();
    let described = try_join_all(
        named
            .iter()
            .map(|(cluster, group)| limited(limit, || sources.eks.nodegroup(region, cluster, group))),
    )
    .await?;
    let mut nodegroups = BTreeMap::new();
    for ((cluster, _), found) in named.iter().zip(described) {
        if let Some(group) = found {
            let declared = DeclaredGroup::of(group.node_role_arn, group.autoscaling_groups);
            nodegroups.insert((cluster.clone(), group.name), declared);
        }
    }
    let declared = Declared {
        region,
        clusters: &clusters,
        nodegroups: &nodegroups,
    };
    let running = nodes::read(&declared, &users, profiles);
    if !running.swaps.is_empty() {
        return Ok(None);
    }
    let mut bindings: Vec<NodeBinding> = running.bindings.into_iter().map(|(_, b)| b).collect();
    bindings.extend(
        nodegroups
            .iter()
            .filter(|(_, declared)| arn::same_role_arn(&declared.role_arn, role_arn))
            .map(|((cluster, group), _)| NodeBinding::ManagedNodegroup {
                region: region.to_owned(),
                cluster: cluster.clone(),
                nodegroup: group.clone(),
            }),
    );
    let others = running
        .others
        .into_iter()
        .map(|(_, id, profile)| (id, profile))
        .collect();
    Ok(Some(RegionFacts { bindings, others }))
}
