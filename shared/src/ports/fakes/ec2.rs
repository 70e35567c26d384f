//! EC2 in memory: instances per region with tags and a profile association each, failures
//! injectable per `(operation, region)`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{error, fake_asg, profile_arn};
use crate::invocation::tally;
use crate::ports::{Ec2, Ec2Read};
use crate::types::{AwsError, AwsResult, Change, ErrorKind, Instance, ProfileAssociation};

/// One instance: its region, tags, and the profile (by name) of its association.
#[derive(Debug, Clone)]
pub struct FakeInstance {
    pub region: String,
    pub id: String,
    pub tags: BTreeMap<String, String>,
    pub profile: Option<String>,
}

impl FakeInstance {
    pub fn new(region: &str, id: &str, profile: Option<&str>) -> Self {
        FakeInstance {
            region: region.to_owned(),
            id: id.to_owned(),
            tags: BTreeMap::new(),
            profile: profile.map(str::to_owned),
        }
    }

    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Tagged as EKS tags a managed node group's instances, in the group's Auto Scaling group.
    pub fn of_nodegroup(self, cluster: &str, nodegroup: &str) -> Self {
        self.tag("aws:autoscaling:groupName", &fake_asg(cluster, nodegroup))
            .tag("eks:cluster-name", cluster)
            .tag("eks:nodegroup-name", nodegroup)
            .tag(&format!("kubernetes.io/cluster/{cluster}"), "owned")
    }

    /// Tagged as a self-managed node of `cluster` (`kubernetes.io/cluster/<name>`).
    pub fn self_managed(self, cluster: &str) -> Self {
        self.tag(&format!("kubernetes.io/cluster/{cluster}"), "owned")
    }

    fn association_id(&self) -> String {
        format!("iip-assoc-{}", self.id)
    }
}

/// Clones share their state.
#[derive(Default, Clone)]
pub struct FakeEc2 {
    pub instances: Arc<Mutex<Vec<FakeInstance>>>,
    pub failures: Arc<Mutex<HashMap<(&'static str, String), AwsError>>>,
    pub writes: Arc<Mutex<Vec<String>>>,
}

impl FakeEc2 {
    pub fn with(self, instance: FakeInstance) -> Self {
        self.instances.lock().expect("lock").push(instance);
        self
    }

    pub fn fail(&self, operation: &'static str, region: &str, error: AwsError) {
        self.failures
            .lock()
            .expect("lock")
            .insert((operation, region.to_owned()), error);
    }

    /// The profile (by name) `id` runs with now.
    pub fn profile_of(&self, id: &str) -> Option<String> {
        let instances = self.instances.lock().expect("lock");
        instances.iter().find(|i| i.id == id).and_then(|i| i.profile.clone())
    }

    fn check(&self, operation: &'static str, region: &str) -> AwsResult<()> {
        tally::record("ec2", operation);
        let failures = self.failures.lock().expect("lock");
        match failures
            .get(&(operation, region.to_owned()))
            .or_else(|| failures.get(&(operation, "*".to_owned())))
        {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl Ec2Read for FakeEc2 {
    async fn instances(&self, region: &str) -> AwsResult<Vec<Instance>> {
        self.check("DescribeInstances", region)?;
        let instances = self.instances.lock().expect("lock");
        Ok(instances
            .iter()
            .filter(|i| i.region == region)
            .map(|i| Instance {
                id: i.id.clone(),
                tags: i.tags.clone(),
                profile_arn: i.profile.as_deref().map(profile_arn),
                association_id: None,
            })
            .collect())
    }

    async fn profile_associations(&self, region: &str) -> AwsResult<Vec<ProfileAssociation>> {
        self.check("DescribeIamInstanceProfileAssociations", region)?;
        let instances = self.instances.lock().expect("lock");
        Ok(instances
            .iter()
            .filter(|i| i.region == region)
            .filter_map(|i| {
                Some(ProfileAssociation {
                    instance_id: i.id.clone(),
                    association_id: i.association_id(),
                    profile_arn: profile_arn(i.profile.as_deref()?),
                })
            })
            .collect())
    }
}

impl Ec2 for FakeEc2 {
    async fn replace_profile(&self, region: &str, association_id: &str, profile: &str) -> AwsResult<Change> {
        self.check("ReplaceIamInstanceProfileAssociation", region)?;
        self.writes
            .lock()
            .expect("lock")
            .push(format!("replace {association_id} {profile}"));
        let mut instances = self.instances.lock().expect("lock");
        let instance = instances
            .iter_mut()
            .find(|i| i.region == region && i.association_id() == association_id)
            .ok_or_else(|| {
                error(
                    "ec2:ReplaceIamInstanceProfileAssociation",
                    ErrorKind::Rejected,
                    "InvalidAssociationID.NotFound",
                )
            })?;
        let name = crate::types::arn::profile_name_from_arn(profile).to_owned();
        if instance.profile.as_deref() == Some(name.as_str()) {
            return Ok(Change::AlreadyDone);
        }
        instance.profile = Some(name);
        Ok(Change::Done)
    }
}
