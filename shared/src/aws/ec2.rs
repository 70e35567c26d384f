//! EC2 through the SDK, one client per region: the instances and the profiles they run with,
//! and, for the function only, the write that puts an instance's profile back.

use std::collections::HashMap;

use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification};

use super::{CountCalls, classify};
use crate::ports::{Ec2, Ec2Read};
use crate::types::{AwsResult, Change, Instance, ProfileAssociation};

/// Instances in these states can run, or run again, with their profile.
const LIVE_STATES: &[&str] = &["pending", "running", "stopping", "stopped"];

/// EC2 clients, one per region, read-only: what the audit holds.
#[derive(Debug, Clone)]
pub struct Ec2Reader {
    sdk: SdkConfig,
    clients: HashMap<String, Client>,
}

/// EC2 clients with the association write: what the function holds.
#[derive(Debug, Clone)]
pub struct Ec2Clients {
    reader: Ec2Reader,
}

impl Ec2Reader {
    pub fn new(sdk: &SdkConfig, regions: &[String]) -> Self {
        Ec2Reader {
            sdk: sdk.clone(),
            clients: regions.iter().map(|r| (r.clone(), build(sdk, r))).collect(),
        }
    }

    fn client(&self, region: &str) -> Client {
        self.clients
            .get(region)
            .cloned()
            .unwrap_or_else(|| build(&self.sdk, region))
    }
}

impl Ec2Clients {
    pub fn new(sdk: &SdkConfig, regions: &[String]) -> Self {
        Ec2Clients {
            reader: Ec2Reader::new(sdk, regions),
        }
    }
}

fn build(sdk: &SdkConfig, region: &str) -> Client {
    let conf = aws_sdk_ec2::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .retry_partition(super::retry_partition(format!("ec2-{region}")))
        .interceptor(CountCalls)
        .build();
    Client::from_conf(conf)
}

impl Ec2Read for Ec2Reader {
    async fn instances(&self, region: &str) -> AwsResult<Vec<Instance>> {
        let states = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.iter().map(|s| (*s).to_owned()).collect()))
            .build();
        let mut pages = self
            .client(region)
            .describe_instances()
            .filters(states)
            .max_results(1000)
            .into_paginator()
            .send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ec2:DescribeInstances", &e))?;
            let found = page.reservations().iter().flat_map(|r| r.instances());
            instances.extend(found.filter_map(|i| {
                Some(Instance {
                    id: i.instance_id()?.to_owned(),
                    tags: i
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                        .collect(),
                    profile_arn: i.iam_instance_profile().and_then(|p| p.arn()).map(str::to_owned),
                    association_id: None,
                })
            }));
        }
        Ok(instances)
    }

    async fn profile_associations(&self, region: &str) -> AwsResult<Vec<ProfileAssociation>> {
        let current = Filter::builder()
            .name("state")
            .values("associating")
            .values("associated")
            .build();
        let mut pages = self
            .client(region)
            .describe_iam_instance_profile_associations()
            .filters(current)
            .max_results(1000)
            .into_paginator()
            .send();
        let mut associations = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ec2:DescribeIamInstanceProfileAssociations", &e))?;
            associations.extend(page.iam_instance_profile_associations().iter().filter_map(|a| {
                Some(ProfileAssociation {
                    instance_id: a.instance_id()?.to_owned(),
                    association_id: a.association_id()?.to_owned(),
                    profile_arn: a.iam_instance_profile()?.arn()?.to_owned(),
                })
            }));
        }
        Ok(associations)
    }
}

impl Ec2Read for Ec2Clients {
    async fn instances(&self, region: &str) -> AwsResult<Vec<Instance>> {
        self.reader.instances(region).await
    }

    async fn profile_associations(&self, region: &str) -> AwsResult<Vec<ProfileAssociation>> {
        self.reader.profile_associations(region).await
    }
}

impl Ec2 for Ec2Clients {
    async fn replace_profile(&self, region: &str, association_id: &str, profile_arn: &str) -> AwsResult<Change> {
        self.reader
            .client(region)
            .replace_iam_instance_profile_association()
            .association_id(association_id)
            .iam_instance_profile(IamInstanceProfileSpecification::builder().arn(profile_arn).build())
            .customize()
            .config_override(aws_sdk_ec2::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
            .map(|_| Change::Done)
            .map_err(|e| classify("ec2:ReplaceIamInstanceProfileAssociation", &e))
    }
}
