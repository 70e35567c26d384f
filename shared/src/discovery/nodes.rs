//! Nodes as they run: which EC2 instances are nodes of a cluster that exists, the role each
//! runs with (its profile's), and what that says. Instances of undeclared nodes (self-managed,
//! Karpenter, Auto Mode) make their role a node role; a managed node group's instances running
//! with another role than its `nodeRole` are a credential swap; instances that are not nodes
//! but run with a node role share it. Tags can be written by anyone with `ec2:CreateTags`, so
//! a tag counts only when it names a cluster EKS lists in the instance's region.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::types::{CredentialSwap, Instance, InstanceProfile, Instances, NodeBinding, NodeKind, SwapFix, arn};

/// Tags whose value names the node's cluster, most specific first: managed node groups
/// (`eks:cluster-name`), Karpenter and Auto Mode (`eks:eks-cluster-name`), eksctl.
const CLUSTER_TAGS: &[&str] = &[
    "eks:cluster-name",
    "eks:eks-cluster-name",
    "alpha.eksctl.io/cluster-name",
    "eksctl.cluster.k8s.io/v1alpha1/cluster-name",
];
/// `kubernetes.io/cluster/<name>` (`owned` or `shared`): the tag every node kind carries.
const CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";
/// A managed node group's instances name their group.
const NODEGROUP_TAG: &str = "eks:nodegroup-name";
/// The Auto Scaling group that launched an instance: a system tag (`aws:` keys cannot be written
/// by users), so it proves what `eks:nodegroup-name` only claims.
const ASG_TAG: &str = "aws:autoscaling:groupName";
/// Karpenter names the NodePool that launched the instance.
const KARPENTER_TAG: &str = "karpenter.sh/nodepool";
/// Karpenter and Auto Mode name the cluster with it; without Karpenter's tag, Auto Mode.
const AUTO_MODE_CLUSTER_TAG: &str = "eks:eks-cluster-name";

/// The account's instance profiles (IAM is global: one listing per scan), by lower-cased ARN.
#[derive(Debug, Default)]
pub struct Profiles {
    by_arn: HashMap<String, InstanceProfile>,
}

impl Profiles {
    pub fn new(profiles: Vec<InstanceProfile>) -> Self {
        Profiles {
            by_arn: profiles.into_iter().map(|p| (p.arn.to_ascii_lowercase(), p)).collect(),
        }
    }

    pub fn get(&self, profile_arn: &str) -> Option<&InstanceProfile> {
        self.by_arn.get(&profile_arn.to_ascii_lowercase())
    }

    /// The role a profile holds; `None` when it holds none or is unknown.
    pub fn role_of(&self, profile_arn: &str) -> Option<&str> {
        self.get(profile_arn)?.roles.first().map(String::as_str)
    }

    /// The profiles that hold `role_arn`, sorted by ARN.
    pub fn holding(&self, role_arn: &str) -> Vec<&InstanceProfile> {
        let mut found: Vec<&InstanceProfile> = self
            .by_arn
            .values()
            .filter(|p| p.roles.iter().any(|r| arn::same_role_arn(r, role_arn)))
            .collect();
        found.sort_by(|a, b| a.arn.cmp(&b.arn));
        found
    }
}

/// What EKS declares in one region: its clusters, and each managed node group by (cluster,
/// node group).
pub struct Declared<'a> {
    pub region: &'a str,
    pub clusters: &'a BTreeSet<String>,
    pub nodegroups: &'a BTreeMap<(String, String), DeclaredGroup>,
}

/// A managed node group as EKS declares it: its `nodeRole`, and the Auto Scaling groups its
/// instances run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredGroup {
    pub role_arn: String,
    pub autoscaling_groups: Vec<String>,
}

impl DeclaredGroup {
    pub fn of(role_arn: String, autoscaling_groups: Vec<String>) -> Self {
        DeclaredGroup {
            role_arn,
            autoscaling_groups,
        }
    }
}

/// What one region's instances say.
#[derive(Debug, Default)]
pub struct RunningNodes {
    /// (role ARN, binding) of nodes EKS does not declare.
    pub bindings: Vec<(String, NodeBinding)>,
    /// (declared role ARN, swap) of managed node groups.
    pub swaps: Vec<(String, CredentialSwap)>,
    /// (role ARN, instance id, profile ARN) of instances that are not nodes.
    pub others: Vec<(String, String, String)>,
}

/// A node: its cluster, how it was launched, and its managed node group's declared role.
struct Node<'a> {
    cluster: &'a str,
    kind: NodeKind,
    managed: Option<(&'a str, &'a str)>,
}

/// The cluster an instance is a node of, if its tags name one that exists in the region. An
/// instance that names a managed node group of that cluster is one of its nodes only when the
/// group's Auto Scaling group launched it; otherwise its tags claim what it is not, and it is
/// no node at all (so that a tag cannot make the guard change its profile or judge its role).
fn classify<'a>(instance: &'a Instance, declared: &Declared<'a>) -> Option<Node<'a>> {
    let cluster = node_cluster(instance, declared.clusters)?;
    let tag = |key: &str| instance.tags.get(key).map(String::as_str);
    let declared_group = tag(NODEGROUP_TAG).and_then(|group| {
        declared
            .nodegroups
            .get_key_value(&(cluster.to_owned(), group.to_owned()))
    });
    let managed = match declared_group {
        Some(((_, group), found)) => {
            let launched = tag(ASG_TAG).is_some_and(|asg| found.autoscaling_groups.iter().any(|a| a == asg));
            if !launched {
                return None;
            }
            Some((group.as_str(), found.role_arn.as_str()))
        }
        None => None,
    };
    let kind = if tag(NODEGROUP_TAG).is_some() {
        NodeKind::ManagedNodegroup
    } else if tag(KARPENTER_TAG).is_some() {
        NodeKind::Karpenter
    } else if tag(AUTO_MODE_CLUSTER_TAG).is_some() {
        NodeKind::AutoMode
    } else {
        NodeKind::SelfManaged
    };
    Some(Node { cluster, kind, managed })
}

/// The cluster an instance's tags name, when it is one of `clusters` (those EKS lists in its
/// region): then the instance is a node of that cluster, or claims to be one.
pub fn node_cluster<'a>(instance: &Instance, clusters: &'a BTreeSet<String>) -> Option<&'a str> {
    let named = CLUSTER_TAGS
        .iter()
        .filter_map(|tag| instance.tags.get(*tag).map(String::as_str))
        .chain(
            instance
                .tags
                .keys()
                .filter_map(|key| key.strip_prefix(CLUSTER_TAG_PREFIX)),
        );
    named.filter_map(|name| clusters.get(name)).map(String::as_str).next()
}

/// Reads one region's instances against what EKS declares there and the account's profiles.
pub fn read(declared: &Declared<'_>, instances: &[Instance], profiles: &Profiles) -> RunningNodes {
    let mut running = RunningNodes::default();
    // (cluster, kind, profile, role) -> instance ids, of undeclared nodes
    let mut undeclared: BTreeMap<(&str, NodeKind, &str, &str), Vec<&str>> = BTreeMap::new();
    // (cluster, node group, declared role, profile, running role) -> instances, of swaps
    type SwapKey<'k> = (&'k str, &'k str, &'k str, &'k str, Option<&'k str>);
    let mut swapped: BTreeMap<SwapKey<'_>, Vec<&Instance>> = BTreeMap::new();
    // profile (lower-cased) -> every instance of the region using it
    let mut users: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for instance in instances {
        let Some(profile) = instance.profile_arn.as_deref() else {
            continue; // no profile: no credentials from the instance
        };
        users
            .entry(profile.to_ascii_lowercase())
            .or_default()
            .insert(&instance.id);
        let role = profiles.role_of(profile);
        match (classify(instance, declared), role) {
            (None, Some(role)) => running
                .others
                .push((role.to_owned(), instance.id.clone(), profile.to_owned())),
            (None, None) => {}
            (
                Some(Node {
                    managed: Some((group, declared_role)),
                    cluster,
                    ..
                }),
                role,
            ) => {
                if !role.is_some_and(|role| arn::same_role_arn(role, declared_role)) {
                    swapped
                        .entry((cluster, group, declared_role, profile, role))
                        .or_default()
                        .push(instance);
                }
            }
            (Some(node), Some(role)) => undeclared
                .entry((node.cluster, node.kind, profile, role))
                .or_default()
                .push(&instance.id),
            (Some(_), None) => {}
        }
    }
    for ((cluster, kind, profile, role), ids) in undeclared {
        let binding = NodeBinding::RunningInstances {
            region: declared.region.to_owned(),
            cluster: cluster.to_owned(),
            node_kind: kind,
            profile_arn: profile.to_owned(),
            instances: Instances::of(ids),
        };
        running.bindings.push((role.to_owned(), binding));
    }
    for ((cluster, group, declared_role, profile, role), on) in swapped {
        let others = users
            .get(&profile.to_ascii_lowercase())
            .map(|all| all.len().saturating_sub(on.len()))
            .unwrap_or_default();
        let swap = CredentialSwap {
            region: declared.region.to_owned(),
            cluster: cluster.to_owned(),
            nodegroup: group.to_owned(),
            instances: Instances::of(on.iter().map(|i| i.id.as_str())),
            profile_arn: profile.to_owned(),
            running_role_arn: role.map(str::to_owned),
            declared_role_arn: declared_role.to_owned(),
            fix: fix(profiles, profile, role, declared_role, &on, others),
            undo_commands: Vec::new(),
            reverse_commands: Vec::new(),
            result: None,
        };
        running.swaps.push((declared_role.to_owned(), swap));
    }
    running
}

/// How a swap is undone, when that is unambiguous. No profile holds the node role any more:
/// the swap happened inside the profile the nodes use, so the node role goes back into it
/// (unless other instances use that profile too). Exactly one profile holds it: the instances'
/// associations were replaced, so they go back to that profile. Several: which one the group
/// launched with is not on the instance, so a person decides.
fn fix(
    profiles: &Profiles,
    profile: &str,
    running_role: Option<&str>,
    declared_role: &str,
    on: &[&Instance],
    other_users: usize,
) -> SwapFix {
    let holding = profiles.holding(declared_role);
    let name = |role: &str| arn::role_name_from_arn(role).unwrap_or(role).to_owned();
    match holding.as_slice() {
        [] if other_users > 0 => SwapFix::Manual {
            reason: format!(
                "{other_users} other instance(s) use profile {profile}: putting the node role back into it changes their role too"
            ),
        },
        [] => SwapFix::ProfileRole {
            profile_name: profiles
                .get(profile)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| arn::profile_name_from_arn(profile).to_owned()),
            remove_role: running_role.map(name),
            add_role: name(declared_role),
        },
        [only] => {
            let associations: Vec<(String, String)> = on
                .iter()
                .filter_map(|i| Some((i.id.clone(), i.association_id.clone()?)))
                .collect();
            if associations.len() < on.len() {
                return SwapFix::Manual {
                    reason: "the profile association of some instances could not be read".to_owned(),
                };
            }
            SwapFix::Association {
                profile_arn: only.arn.clone(),
                associations,
            }
        }
        several => SwapFix::Manual {
            reason: format!(
                "{} profiles hold the node role ({}); which one the node group launched with is not recorded on its instances",
                several.len(),
                several.iter().map(|p| p.arn.as_str()).collect::<Vec<_>>().join(", ")
            ),
        },
    }
}

#[cfg(test)]
#[path = "nodes_tests.rs"]
mod tests;
