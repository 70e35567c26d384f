use std::collections::HashMap;

use aws_config::{Region, SdkConfig};
use aws_sdk_eks::Client;

use super::{CountCalls, classify};
use crate::ports::Eks;
use crate::types::{AccessEntry, AddonCredentials, AwsResult, KnownAddon, Nodegroup};

/// EKS clients, one per region, built once for `SCAN_REGIONS` and on demand for others.
#[derive(Debug, Clone)]
pub struct EksClients {
    /// Builds clients for regions outside `clients`; `None` for fixed client sets (tests).
    sdk: Option<SdkConfig>,
    clients: HashMap<String, Client>,
}

impl EksClients {
    pub fn new(sdk: &SdkConfig, regions: &[String]) -> Self {
        let clients = regions.iter().map(|r| (r.clone(), build(sdk, r))).collect();
        EksClients {
            sdk: Some(sdk.clone()),
            clients,
        }
    }

    /// A fixed set of clients by region (for example mocked ones).
    pub fn from_clients(clients: HashMap<String, Client>) -> Self {
        EksClients { sdk: None, clients }
    }

    fn client(&self, region: &str) -> Client {
        match (self.clients.get(region), &self.sdk) {
            (Some(client), _) => client.clone(),
            (None, Some(sdk)) => build(sdk, region),
            // a fixed set without this region answers with any of its clients
            (None, None) => self
                .clients
                .values()
                .next()
                .cloned()
                .unwrap_or_else(|| build(&SdkConfig::builder().build(), region)),
        }
    }
}

fn build(sdk: &SdkConfig, region: &str) -> Client {
    let conf = aws_sdk_eks::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .retry_partition(super::retry_partition(format!("eks-{region}")))
        .interceptor(CountCalls)
        .build();
    Client::from_conf(conf)
}

impl Eks for EksClients {
    async fn clusters(&self, region: &str) -> AwsResult<Vec<String>> {
        let mut pages = self.client(region).list_clusters().into_paginator().items().send();
        let mut clusters = Vec::new();
        while let Some(item) = pages.next().await {
            clusters.push(item.map_err(|e| classify("eks:ListClusters", &e))?);
        }
        Ok(clusters)
    }

    async fn nodegroup_names(&self, region: &str, cluster: &str) -> AwsResult<Vec<String>> {
        let mut pages = self
            .client(region)
            .list_nodegroups()
            .cluster_name(cluster)
            .into_paginator()
            .items()
            .send();
        let mut names = Vec::new();
        while let Some(item) = pages.next().await {
            match item {
                Ok(name) => names.push(name),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(classify("eks:ListNodegroups", &e)),
            }
        }
        Ok(names)
    }

    async fn nodegroup(&self, region: &str, cluster: &str, nodegroup: &str) -> AwsResult<Option<Nodegroup>> {
        let request = self
            .client(region)
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup);
        match request.send().await {
            Ok(out) => Ok(out.nodegroup.and_then(|ng| {
                Some(Nodegroup {
                    region: region.to_owned(),
                    cluster: cluster.to_owned(),
                    name: ng.nodegroup_name.clone().unwrap_or_else(|| nodegroup.to_owned()),
                    status: ng.status.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    autoscaling_groups: ng
                        .resources
                        .iter()
                        .flat_map(|r| r.auto_scaling_groups())
                        .filter_map(|g| g.name().map(str::to_owned))
                        .collect(),
                    launch_template: ng
                        .launch_template
                        .as_ref()
                        .map(|t| (t.id().map(str::to_owned), t.name().map(str::to_owned))),
                    node_role_arn: ng.node_role?,
                })
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("eks:DescribeNodegroup", &e)),
        }
    }

    async fn access_entry_principals(&self, region: &str, cluster: &str) -> AwsResult<Vec<String>> {
        let mut pages = self
            .client(region)
            .list_access_entries()
            .cluster_name(cluster)
            .into_paginator()
            .items()
            .send();
        let mut principals = Vec::new();
        while let Some(item) = pages.next().await {
            match item {
                Ok(principal) => principals.push(principal),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(classify("eks:ListAccessEntries", &e)),
            }
        }
        Ok(principals)
    }

    async fn access_entry(&self, region: &str, cluster: &str, principal_arn: &str) -> AwsResult<Option<AccessEntry>> {
        let request = self
            .client(region)
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal_arn);
        match request.send().await {
            Ok(out) => Ok(out.access_entry.map(|entry| AccessEntry {
                principal_arn: entry.principal_arn.unwrap_or_else(|| principal_arn.to_owned()),
                kind: entry.r#type.unwrap_or_default(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("eks:DescribeAccessEntry", &e)),
        }
    }

    async fn addon_credentials(&self, region: &str, cluster: &str, addon: &KnownAddon) -> AwsResult<AddonCredentials> {
        let client = self.client(region);
        match client
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(addon.name)
            .send()
            .await
        {
            Ok(out) => {
                let role = out
                    .addon
                    .as_ref()
                    .and_then(|a| a.service_account_role_arn())
                    .unwrap_or_default();
                if !role.is_empty() {
                    return Ok(AddonCredentials::AddonServiceAccountRole);
                }
            }
            // Not installed as an add-on. `aws-node` still runs self-managed (Pod Identity may
            // apply); other add-ons are then not there for EKS to tell about.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                if !addon.always_runs {
                    return Ok(AddonCredentials::NotInstalled);
                }
            }
            Err(e) => return Err(classify("eks:DescribeAddon", &e)),
        }
        // Every service account that calls AWS needs its own association before the node
        // role's policy can go.
        for service_account in addon.service_accounts {
            let associations = client
                .list_pod_identity_associations()
                .cluster_name(cluster)
                .namespace(addon.namespace)
                .service_account(*service_account)
                .max_results(1)
                .send()
                .await
                .map_err(|e| classify("eks:ListPodIdentityAssociations", &e))?;
            if associations.associations.is_none_or(|a| a.is_empty()) {
                return Ok(AddonCredentials::NodeRole);
            }
        }
        Ok(AddonCredentials::PodIdentity)
    }
}
