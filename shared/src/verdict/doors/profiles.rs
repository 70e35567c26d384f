//! Doors that change which role nodes run with: a role added to an instance profile, an
//! instance associated with another profile. Whether any node runs with that profile is a few
//! reads; when one does, the role it holds now and the node groups' declared roles are judged
//! with a fresh index, which shows a managed node group's swap and a self-managed node's role.

use std::collections::BTreeSet;

use futures::future::try_join_all;

use super::{Decision, Judge, Scope};
use crate::discovery::nodes;
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{AwsResult, Door, DoorKind, Instances, Severity, arn};

/// `AddRoleToInstanceProfile`: which instances of `SCAN_REGIONS` run with the profile (one
/// `DescribeIamInstanceProfileAssociations` per region); none, and the event is unrelated.
pub(super) async fn role_added<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    profile: &str,
    role: &str,
) -> AwsResult<Decision> {
    let ec2 = scope.acct.ec2;
    let per_region = try_join_all(scope.regions.iter().map(|region| ec2.profile_associations(region))).await?;
    let users: Vec<&str> = per_region
        .iter()
        .flatten()
        .filter(|a| arn::profile_name_from_arn(&a.profile_arn).eq_ignore_ascii_case(profile))
        .map(|a| a.instance_id.as_str())
        .collect();
    if users.is_empty() {
        return Ok(Decision::Unrelated(format!(
            "no instance in {} runs with instance profile {profile}",
            scope.regions.join(", ")
        )));
    }
    let instances = Instances::of(users.iter().copied());
    let door = Door::new(DoorKind::ProfileRole, scope.event, Severity::High, profile).finding(format!(
        "instance profile {profile}, which {} instance(s) run with ({}), now holds role {role}: \
         judged as those instances' role",
        instances.count,
        instances.describe()
    ));
    Ok(Decision::Judge(Judge {
        roles: vec![role.to_owned()],
        confirmed: None,
        stale_index: true,
        swapped_through: Some(profile.to_owned()),
        door,
    }))
}

/// `AssociateIamInstanceProfile` / `ReplaceIamInstanceProfileAssociation`: whether the
/// instance is a node of a cluster that exists (`DescribeInstances`, `ListClusters`), and the
/// role its new profile holds (`GetInstanceProfile`).
pub(super) async fn associated<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    region: &str,
    instance_id: Option<&str>,
    association_id: Option<&str>,
    profile: &str,
) -> AwsResult<Decision> {
    let ec2 = scope.acct.ec2;
    let instance_id = match (instance_id, association_id) {
        (Some(id), _) => id.to_owned(),
        (None, Some(association)) => {
            let associations = ec2.profile_associations(region).await?;
            match associations.into_iter().find(|a| a.association_id == association) {
                Some(found) => found.instance_id,
                None => {
                    return Ok(Decision::Unrelated(format!(
                        "association {association} no longer exists in {region}"
                    )));
                }
            }
        }
        (None, None) => return Ok(Decision::Unrelated("the event names no instance".to_owned())),
    };
    let (instances, clusters) = futures::try_join!(ec2.instances(region), scope.acct.eks.clusters(region))?;
    let Some(instance) = instances.into_iter().find(|i| i.id == instance_id) else {
        return Ok(Decision::Unrelated(format!(
            "instance {instance_id} no longer exists in {region}"
        )));
    };
    let clusters: BTreeSet<String> = clusters.into_iter().collect();
    let Some(cluster) = nodes::node_cluster(&instance, &clusters) else {
        return Ok(Decision::Unrelated(format!(
            "instance {instance_id} is not a node of a cluster in {region}"
        )));
    };
    let name = arn::profile_name_from_arn(profile);
    let Some(found) = scope.acct.iam.instance_profile(name).await? else {
        return Ok(Decision::Unrelated(format!("instance profile {name} no longer exists")));
    };
    let role = found
        .roles
        .first()
        .and_then(|r| arn::role_name_from_arn(r))
        .map(str::to_owned);
    let door = Door::new(DoorKind::ProfileAssociation, scope.event, Severity::High, &instance_id).finding(format!(
        "node {instance_id} of cluster {cluster} now runs with instance profile {name} ({})",
        match &role {
            Some(role) => format!("role {role}: judged as its role"),
            None => "which holds no role".to_owned(),
        }
    ));
    Ok(Decision::Judge(Judge {
        roles: role.into_iter().collect(),
        confirmed: None,
        stale_index: true,
        swapped_through: Some(found.arn),
        door,
    }))
}
