//! Seeding and inspecting EC2 instances and IAM instance profiles in the emulated account:
//! nodes as they run, with the tags each kind of node carries.

use anyhow::{Context, Result};
use aws_config::Region;
use aws_sdk_ec2::types::{IamInstanceProfileSpecification, InstanceType, ResourceType, Tag, TagSpecification};

use crate::account::{Account, EC2_TRUST};
use crate::emulator::{REGION, unique};
use crate::fixtures::ADMIN;

/// An AMI the emulator knows.
const AMI: &str = "ami-12c6146b";

/// Tags of a managed node group's instances (`eks:cluster-name`, `eks:nodegroup-name`), launched
/// by its Auto Scaling group `asg` (the system tag `aws:autoscaling:groupName`, which the emulator
/// lets a test write).
pub fn managed_node_tags(cluster: &str, nodegroup: &str, asg: &str) -> Vec<(String, String)> {
    vec![
        ("aws:autoscaling:groupName".to_owned(), asg.to_owned()),
        ("eks:cluster-name".to_owned(), cluster.to_owned()),
        ("eks:nodegroup-name".to_owned(), nodegroup.to_owned()),
        (format!("kubernetes.io/cluster/{cluster}"), "owned".to_owned()),
    ]
}

/// Tags of a self-managed node (`kubernetes.io/cluster/<name>` = `owned`).
pub fn self_managed_tags(cluster: &str) -> Vec<(String, String)> {
    vec![(format!("kubernetes.io/cluster/{cluster}"), "owned".to_owned())]
}

/// A managed node group's nodes as they run: the group's node role, the profile its instances
/// run with, and their ids.
pub struct ManagedNodes {
    pub role: String,
    pub role_arn: String,
    pub profile: String,
    pub profile_arn: String,
    pub ids: Vec<String>,
}

impl Account {
    /// Cluster `cluster` in [`REGION`] with managed node group `ng` of a clean node role, and
    /// `count` instances its Auto Scaling group launched through the group's own profile.
    pub async fn managed_nodes(&self, cluster: &str, count: i32) -> Result<ManagedNodes> {
        let role = unique("managed-node");
        let role_arn = self.node_role(&role, &[]).await?;
        self.cluster(REGION, cluster, &[("ng", &role_arn)]).await?;
        let profile = unique("eks-ng");
        let profile_arn = self.instance_profile(&profile, Some(&role)).await?;
        let asg = self.nodegroup_asg(REGION, cluster, "ng").await?;
        let ids = self
            .run_instances(
                REGION,
                count,
                Some(&profile_arn),
                &managed_node_tags(cluster, "ng", &asg),
            )
            .await?;
        Ok(ManagedNodes {
            role,
            role_arn,
            profile,
            profile_arn,
            ids,
        })
    }

    /// An administrator role any instance could run with (EC2 trust, AdministratorAccess), and
    /// the ARN of a profile holding it.
    pub async fn admin_profile(&self) -> Result<(String, String)> {
        let role = unique("admin-box");
        self.role(&role, "/", EC2_TRUST, &[ADMIN]).await?;
        let profile = self.instance_profile(&unique("admin-profile"), Some(&role)).await?;
        Ok((role, profile))
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_owned()))
                .build(),
        )
    }

    /// The Auto Scaling group EKS names for a node group (`resources.autoScalingGroups`).
    pub async fn nodegroup_asg(&self, region: &str, cluster: &str, nodegroup: &str) -> Result<String> {
        let out = self
            .eks(region)
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup)
            .send()
            .await?;
        out.nodegroup
            .and_then(|ng| ng.resources)
            .and_then(|r| {
                r.auto_scaling_groups
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|g| g.name)
            })
            .context("the node group names an Auto Scaling group")
    }

    /// An instance profile holding `role` (none when `None`); returns its ARN.
    pub async fn instance_profile(&self, name: &str, role: Option<&str>) -> Result<String> {
        let out = self
            .iam
            .create_instance_profile()
            .instance_profile_name(name)
            .send()
            .await?;
        if let Some(role) = role {
            self.iam
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(role)
                .send()
                .await?;
        }
        Ok(out.instance_profile.map(|p| p.arn).unwrap_or_default())
    }

    /// The role names `profile` holds.
    pub async fn profile_roles(&self, profile: &str) -> Result<Vec<String>> {
        let out = self
            .iam
            .get_instance_profile()
            .instance_profile_name(profile)
            .send()
            .await?;
        let profile = out.instance_profile.context("instance profile")?;
        Ok(profile.roles.into_iter().map(|r| r.role_name).collect())
    }

    /// `count` running instances in `region` with `profile` (by ARN) and `tags`; returns their ids.
    /// One `RunInstances` each: the emulator gives the profile to the first instance of a call only.
    pub async fn run_instances(
        &self,
        region: &str,
        count: i32,
        profile: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for _ in 0..count {
            let mut tagged = TagSpecification::builder().resource_type(ResourceType::Instance);
            for (key, value) in tags {
                tagged = tagged.tags(Tag::builder().key(key).value(value).build());
            }
            let mut run = self
                .ec2(region)
                .run_instances()
                .image_id(AMI)
                .instance_type(InstanceType::T3Medium)
                .min_count(1)
                .max_count(1);
            if !tags.is_empty() {
                run = run.tag_specifications(tagged.build());
            }
            if let Some(arn) = profile {
                run = run.iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build());
            }
            let out = run.send().await?;
            ids.extend(
                out.instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_owned)),
            );
        }
        Ok(ids)
    }

    /// The profile ARN `instance`'s current association names, and the association's id.
    pub async fn association(&self, region: &str, instance: &str) -> Result<Option<(String, String)>> {
        let out = self
            .ec2(region)
            .describe_iam_instance_profile_associations()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-id")
                    .values(instance)
                    .build(),
            )
            .send()
            .await?;
        Ok(out.iam_instance_profile_associations().iter().find_map(|a| {
            let current = matches!(a.state().map(|s| s.as_str()), Some("associated" | "associating"));
            let arn = a.iam_instance_profile()?.arn()?.to_owned();
            current.then(|| (arn, a.association_id().unwrap_or_default().to_owned()))
        }))
    }

    /// Replaces `instance`'s profile association with `profile_arn` (what an attacker does).
    pub async fn replace_profile(&self, region: &str, instance: &str, profile_arn: &str) -> Result<()> {
        let (_, association) = self
            .association(region, instance)
            .await?
            .context("the instance has a profile association")?;
        self.ec2(region)
            .replace_iam_instance_profile_association()
            .association_id(association)
            .iam_instance_profile(IamInstanceProfileSpecification::builder().arn(profile_arn).build())
            .send()
            .await?;
        Ok(())
    }

    /// Swaps the role inside `profile`: `from` out, `to` in (what an attacker does).
    pub async fn swap_profile_role(&self, profile: &str, from: &str, to: &str) -> Result<()> {
        self.iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(from)
            .send()
            .await?;
        self.iam
            .add_role_to_instance_profile()
            .instance_profile_name(profile)
            .role_name(to)
            .send()
            .await?;
        Ok(())
    }

    /// A launch template (no metadata options of its own); returns its id.
    pub async fn launch_template(&self, region: &str, name: &str) -> Result<String> {
        let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
            .image_id(AMI)
            .build();
        let out = self
            .ec2(region)
            .create_launch_template()
            .launch_template_name(name)
            .launch_template_data(data)
            .send()
            .await?;
        out.launch_template
            .and_then(|t| t.launch_template_id)
            .context("launch template id")
    }

    /// Managed node group `nodegroup` of `cluster` launching from launch template `id`.
    pub async fn nodegroup_from_template(
        &self,
        region: &str,
        cluster: &str,
        nodegroup: &str,
        role_arn: &str,
        id: &str,
    ) -> Result<()> {
        self.eks(region)
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup)
            .node_role(role_arn)
            .subnets("subnet-0a1b2c3d4e5f60001")
            .launch_template(
                aws_sdk_eks::types::LaunchTemplateSpecification::builder()
                    .id(id)
                    .build(),
            )
            .send()
            .await?;
        Ok(())
    }
}
