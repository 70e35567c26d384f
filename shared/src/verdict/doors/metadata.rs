//! Instance metadata (IMDS) opened to pods: a hop limit above 1 lets a container that is not on
//! the host network reach IMDSv2 and the node's role; `HttpTokens=optional` allows IMDSv1, which
//! no hop limit applies to (docs/doors.md). The guard notifies with the command that restores
//! hop limit 1 and required tokens, and changes nothing itself: EKS's own defaults differ by
//! node kind, and a workload may depend on the current setting.

use std::collections::BTreeSet;

use futures::future::try_join_all;

use super::{Decision, Scope};
use crate::discovery::nodes;
use crate::event::MetadataOptions;
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{AwsResult, Door, DoorKind, Severity, arn};
use crate::verdict::policy::shell_quote;

/// What the options open, one line each; empty when they open nothing.
pub fn opened(metadata: &MetadataOptions) -> Vec<String> {
    let mut open = Vec::new();
    if let Some(hops) = metadata.hop_limit.filter(|h| *h > 1) {
        open.push(format!(
            "HttpPutResponseHopLimit {hops}: containers {} hop(s) away reach IMDSv2 and the node's role",
            hops - 1
        ));
    }
    if metadata.tokens.as_deref() == Some("optional") {
        open.push("HttpTokens optional: IMDSv1 answers without a token, whatever the hop limit".to_owned());
    }
    open
}

/// Why the options need no call: they open nothing.
pub(super) fn needless(what: &str, metadata: &MetadataOptions) -> Option<String> {
    opened(metadata).is_empty().then(|| {
        format!("the metadata options of {what} open nothing to pods (hop limit 1 or unchanged, tokens required or unchanged)")
    })
}

/// `ModifyInstanceMetadataOptions` on a node of a cluster that exists (`DescribeInstances`,
/// `ListClusters`).
pub(super) async fn instance<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    region: &str,
    instance_id: &str,
    metadata: &MetadataOptions,
) -> AwsResult<Decision> {
    let (instances, clusters) = futures::try_join!(scope.acct.ec2.instances(region), scope.acct.eks.clusters(region))?;
    let clusters: BTreeSet<String> = clusters.into_iter().collect();
    let instance = instances.iter().find(|i| i.id == instance_id);
    let node = instance.and_then(|i| Some((i, nodes::node_cluster(i, &clusters)?)));
    let Some((instance, cluster)) = node else {
        return Ok(Decision::Unrelated(format!(
            "instance {instance_id} is not a node of a cluster in {region}"
        )));
    };
    // the role pods reach: the one its profile holds
    let role = match instance.profile_arn.as_deref() {
        Some(profile) => scope
            .acct
            .iam
            .instance_profile(arn::profile_name_from_arn(profile))
            .await?
            .and_then(|p| p.roles.into_iter().next()),
        None => None,
    };
    let reach = role
        .as_deref()
        .map_or_else(|| "its role".to_owned(), |r| format!("role {r}"));
    let mut door = Door::new(DoorKind::InstanceMetadata, scope.event, Severity::High, instance_id).finding(format!(
        "node {instance_id} of cluster {cluster} lets pods reach {reach} through the instance metadata service"
    ));
    door.role_arn = role;
    door.details = opened(metadata);
    door.close_commands = vec![format!(
        "aws ec2 modify-instance-metadata-options --region {} --instance-id {} --http-put-response-hop-limit 1 --http-tokens required",
        shell_quote(region),
        shell_quote(instance_id)
    )];
    Ok(Decision::Open {
        role: None,
        door,
        close: None,
    })
}

/// A launch template, as the event names it.
pub(super) struct Template<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub version: Option<i64>,
}

/// `CreateLaunchTemplateVersion` of a managed node group's launch template: the groups of the
/// region's clusters that launch from it (`ListClusters`, `ListNodegroups`, `DescribeNodegroup`).
pub(super) async fn launch_template<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    region: &str,
    template: &Template<'_>,
    metadata: &MetadataOptions,
) -> AwsResult<Decision> {
    let eks = scope.acct.eks;
    let label = template.id.or(template.name).unwrap_or_default().to_owned();
    let mut users = Vec::new();
    for cluster in eks.clusters(region).await? {
        let names = eks.nodegroup_names(region, &cluster).await?;
        let groups = try_join_all(names.iter().map(|n| eks.nodegroup(region, &cluster, n))).await?;
        for group in groups.into_iter().flatten() {
            let Some((id, name)) = &group.launch_template else {
                continue;
            };
            let same_id = template.id.is_some() && id.as_deref() == template.id;
            let same_name = template.name.is_some() && name.as_deref() == template.name;
            if same_id || same_name {
                users.push((format!("{cluster}/{}", group.name), group.node_role_arn.clone()));
            }
        }
    }
    if users.is_empty() {
        return Ok(Decision::Unrelated(format!(
            "launch template {label} is no managed node group's in {region}"
        )));
    }
    let version = template
        .version
        .map_or_else(|| "a new version".to_owned(), |v| format!("version {v}"));
    let mut door = Door::new(DoorKind::LaunchTemplateMetadata, scope.event, Severity::High, &label).finding(format!(
        "launch template {label} of node group(s) {} has {version} that lets pods reach the node role through the \
         instance metadata service: nodes launched from it will",
        users
            .iter()
            .map(|(group, _)| group.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    door.role_arn = users.first().map(|(_, role)| role.clone());
    door.details = opened(metadata);
    let source = template
        .version
        .map(|v| format!(" --source-version {v}"))
        .unwrap_or_default();
    let which = match template.id {
        Some(id) => format!("--launch-template-id {}", shell_quote(id)),
        None => format!("--launch-template-name {}", shell_quote(&label)),
    };
    door.close_commands = vec![format!(
        "aws ec2 create-launch-template-version --region {} {which}{source} --launch-template-data {}",
        shell_quote(region),
        shell_quote(r#"{"MetadataOptions":{"HttpPutResponseHopLimit":1,"HttpTokens":"required"}}"#)
    )];
    Ok(Decision::Open {
        role: None,
        door,
        close: None,
    })
}
