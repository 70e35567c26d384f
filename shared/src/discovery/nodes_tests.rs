use std::collections::{BTreeMap, BTreeSet};

use super::{Declared, DeclaredGroup, Profiles, read};
use crate::types::{Instance, InstanceProfile, NodeBinding, NodeKind, SwapFix};

const ACCOUNT: &str = "123456789012";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn profile_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:instance-profile/{name}")
}

fn profile(name: &str, role_name: Option<&str>) -> InstanceProfile {
    InstanceProfile {
        name: name.to_owned(),
        arn: profile_arn(name),
        roles: role_name.map(role).into_iter().collect(),
    }
}

fn instance(id: &str, profile: &str, tags: &[(&str, &str)]) -> Instance {
    Instance {
        id: id.to_owned(),
        tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        profile_arn: Some(profile_arn(profile)),
        association_id: Some(format!("iip-assoc-{id}")),
    }
}

const MANAGED: &[(&str, &str)] = &[
    ("eks:cluster-name", "prod"),
    ("eks:nodegroup-name", "ng"),
    ("aws:autoscaling:groupName", "eks-ng-1a2b"),
];

struct World {
    clusters: BTreeSet<String>,
    nodegroups: BTreeMap<(String, String), DeclaredGroup>,
}

impl World {
    /// Cluster `prod` in us-east-1 with managed node group `ng` declaring `node`.
    fn new() -> Self {
        World {
            clusters: ["prod".to_owned()].into(),
            nodegroups: [(
                ("prod".to_owned(), "ng".to_owned()),
                DeclaredGroup::of(role("node"), vec!["eks-ng-1a2b".to_owned()]),
            )]
            .into(),
        }
    }

    fn declared(&self) -> Declared<'_> {
        Declared {
            region: "us-east-1",
            clusters: &self.clusters,
            nodegroups: &self.nodegroups,
        }
    }
}

#[test]
fn a_self_managed_node_makes_its_role_a_node_role_with_its_cluster_profile_and_instances() {
    let world = World::new();
    let profiles = Profiles::new(vec![profile("sm-profile", Some("self-managed"))]);
    let instances: Vec<Instance> = (1..=7)
        .map(|n| {
            instance(
                &format!("i-{n:02}"),
                "sm-profile",
                &[("kubernetes.io/cluster/prod", "owned")],
            )
        })
        .collect();

    let running = read(&world.declared(), &instances, &profiles);

    assert_eq!(running.bindings.len(), 1, "{:?}", running.bindings);
    let (arn, binding) = &running.bindings[0];
    assert_eq!(arn, &role("self-managed"));
    let NodeBinding::RunningInstances {
        cluster,
        node_kind,
        profile_arn: via,
        instances,
        ..
    } = binding
    else {
        panic!("{binding:?}")
    };
    assert_eq!((cluster.as_str(), *node_kind), ("prod", NodeKind::SelfManaged));
    assert_eq!(via, &profile_arn("sm-profile"));
    assert_eq!(instances.count, 7);
    assert_eq!(instances.ids, ["i-01", "i-02", "i-03", "i-04", "i-05"]);
    assert_eq!(instances.describe(), "i-01, i-02, i-03, i-04, i-05 and 2 more");
    assert!(running.swaps.is_empty() && running.others.is_empty());
}

#[test]
fn tags_naming_a_cluster_that_does_not_exist_or_no_cluster_make_no_node() {
    let world = World::new();
    let profiles = Profiles::new(vec![profile("admin", Some("admin"))]);
    let instances = vec![
        instance(
            "i-forged",
            "admin",
            &[("kubernetes.io/cluster/ghost", "owned"), ("eks:cluster-name", "ghost")],
        ),
        instance("i-plain", "admin", &[("Name", "bastion")]),
    ];

    let running = read(&world.declared(), &instances, &profiles);

    assert!(running.bindings.is_empty(), "{:?}", running.bindings);
    assert!(running.swaps.is_empty());
    // both are other users of the admin role, should it ever be a node role
    assert_eq!(running.others.len(), 2);
}

#[test]
fn karpenter_and_auto_mode_nodes_are_told_apart_by_their_tags() {
    let world = World::new();
    let profiles = Profiles::new(vec![
        profile("k", Some("karpenter-node")),
        profile("a", Some("auto-node")),
    ]);
    let instances = vec![
        instance(
            "i-k",
            "k",
            &[("eks:eks-cluster-name", "prod"), ("karpenter.sh/nodepool", "default")],
        ),
        instance("i-a", "a", &[("eks:eks-cluster-name", "prod")]),
    ];

    let running = read(&world.declared(), &instances, &profiles);

    let kinds: BTreeMap<&str, NodeKind> = running
        .bindings
        .iter()
        .map(|(arn, b)| match b {
            NodeBinding::RunningInstances { node_kind, .. } => (arn.rsplit('/').next().unwrap_or(arn), *node_kind),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds["karpenter-node"], NodeKind::Karpenter);
    assert_eq!(kinds["auto-node"], NodeKind::AutoMode);
}

#[test]
fn a_managed_node_group_running_with_its_node_role_is_no_news() {
    let world = World::new();
    let profiles = Profiles::new(vec![profile("eks-ng", Some("node"))]);
    let running = read(&world.declared(), &[instance("i-1", "eks-ng", MANAGED)], &profiles);
    assert!(running.bindings.is_empty() && running.swaps.is_empty() && running.others.is_empty());
}

#[test]
fn a_role_swapped_inside_the_node_groups_profile_is_undone_in_that_profile() {
    // Given the node group's profile now holding an administrator role, and no profile the node role
    let world = World::new();
    let profiles = Profiles::new(vec![profile("eks-ng", Some("admin"))]);

    let running = read(&world.declared(), &[instance("i-1", "eks-ng", MANAGED)], &profiles);

    // Then it is a swap on the node group, not a binding of the admin role
    assert!(
        running.bindings.is_empty(),
        "the swapped-in role is not judged as a node role"
    );
    let (declared, swap) = &running.swaps[0];
    assert_eq!(declared, &role("node"));
    assert_eq!(swap.running_role_arn.as_deref(), Some(role("admin").as_str()));
    assert_eq!((swap.cluster.as_str(), swap.nodegroup.as_str()), ("prod", "ng"));
    assert_eq!(
        swap.fix,
        SwapFix::ProfileRole {
            profile_name: "eks-ng".to_owned(),
            remove_role: Some("admin".to_owned()),
            add_role: "node".to_owned(),
        }
    );
}

#[test]
fn a_replaced_association_goes_back_to_the_one_profile_holding_the_node_role() {
    let world = World::new();
    let profiles = Profiles::new(vec![profile("eks-ng", Some("node")), profile("admin", Some("admin"))]);
    let instances = vec![instance("i-1", "admin", MANAGED), instance("i-2", "eks-ng", MANAGED)];

    let running = read(&world.declared(), &instances, &profiles);

    assert_eq!(running.swaps.len(), 1);
    let swap = &running.swaps[0].1;
    assert_eq!(swap.instances.ids, ["i-1"]);
    assert_eq!(
        swap.fix,
        SwapFix::Association {
            profile_arn: profile_arn("eks-ng"),
            associations: vec![("i-1".to_owned(), "iip-assoc-i-1".to_owned())],
        }
    );
}

#[test]
fn an_ambiguous_or_shared_swap_is_left_to_a_person_with_the_reason() {
    let world = World::new();
    // two profiles hold the node role: which one the group launched with is unknown
    let two = Profiles::new(vec![
        profile("eks-a", Some("node")),
        profile("eks-b", Some("node")),
        profile("admin", Some("admin")),
    ]);
    let running = read(&world.declared(), &[instance("i-1", "admin", MANAGED)], &two);
    let SwapFix::Manual { reason } = &running.swaps[0].1.fix else {
        panic!("{:?}", running.swaps)
    };
    assert!(reason.starts_with("2 profiles hold the node role ("), "{reason}");

    // the node group's profile, swapped, also serves an instance that is not a node
    let one = Profiles::new(vec![profile("eks-ng", Some("admin"))]);
    let instances = vec![instance("i-1", "eks-ng", MANAGED), instance("i-bastion", "eks-ng", &[])];
    let running = read(&world.declared(), &instances, &one);
    let SwapFix::Manual { reason } = &running.swaps[0].1.fix else {
        panic!("{:?}", running.swaps)
    };
    assert!(reason.starts_with("1 other instance(s) use profile "), "{reason}");
}

#[test]
fn a_profile_left_without_a_role_is_a_swap_that_puts_the_node_role_back() {
    let world = World::new();
    let profiles = Profiles::new(vec![profile("eks-ng", None)]);
    let running = read(&world.declared(), &[instance("i-1", "eks-ng", MANAGED)], &profiles);
    let swap = &running.swaps[0].1;
    assert_eq!(swap.running_role_arn, None);
    assert_eq!(
        swap.fix,
        SwapFix::ProfileRole {
            profile_name: "eks-ng".to_owned(),
            remove_role: None,
            add_role: "node".to_owned(),
        }
    );
}

#[test]
fn an_instance_naming_a_node_group_it_was_not_launched_by_is_no_node_and_no_swap() {
    // Given an administrator box tagged as node group ng's, but not in ng's Auto Scaling group
    let world = World::new();
    let profiles = Profiles::new(vec![profile("eks-ng", Some("node")), profile("admin", Some("admin"))]);
    let forged = [("eks:cluster-name", "prod"), ("eks:nodegroup-name", "ng")];
    let elsewhere = [
        ("eks:cluster-name", "prod"),
        ("eks:nodegroup-name", "ng"),
        ("aws:autoscaling:groupName", "ops-admins"),
    ];
    let instances = vec![
        instance("i-tagged", "admin", &forged),
        instance("i-other-asg", "admin", &elsewhere),
    ];

    let running = read(&world.declared(), &instances, &profiles);

    // Then nothing is a swap to undo, and the admin role is no node role
    assert!(running.swaps.is_empty(), "{:?}", running.swaps);
    assert!(running.bindings.is_empty(), "{:?}", running.bindings);
    assert_eq!(running.others.len(), 2);
}
