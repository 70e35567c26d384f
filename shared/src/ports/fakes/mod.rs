//! In-memory fakes of the ports, for core tests. They count calls like the SDK interceptor
//! does, and can be told to fail chosen operations.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::invocation::tally;
use crate::ports::{Eks, Notifier};
use crate::types::{
    AccessEntry, AddonCredentials, AwsError, AwsResult, ErrorKind, KnownAddon, Nodegroup, Notification, VPC_CNI,
};

mod ec2;
mod iam;
pub use ec2::{FakeEc2, FakeInstance};
pub use iam::{FakeIam, fake_role_id, profile_arn};

pub const EC2_TRUST: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}]}"#;
pub const SSM_TRUST: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"}}]}"#;

/// The launch template id the fake gives node group `nodegroup` of `cluster`.
pub fn fake_launch_template(cluster: &str, nodegroup: &str) -> String {
    format!("lt-{cluster}-{nodegroup}")
}

pub fn error(operation: &'static str, kind: ErrorKind, code: &str) -> AwsError {
    AwsError {
        operation,
        kind,
        code: Some(code.to_owned()),
        message: format!("{code} injected by the test"),
    }
}

#[derive(Debug, Clone)]
pub struct FakeCluster {
    pub region: String,
    pub name: String,
    pub nodegroups: Vec<(String, String)>,
    pub access_entries: Vec<(String, String)>,
    /// By add-on name; absent: `aws-node` on the node role, any other add-on not installed.
    pub addons: HashMap<&'static str, AwsResult<AddonCredentials>>,
    /// `ListNodegroups` answers this error (a policy that denies some clusters).
    pub nodegroups_error: Option<AwsError>,
}

impl FakeCluster {
    pub fn new(region: &str, name: &str) -> Self {
        FakeCluster {
            region: region.to_owned(),
            name: name.to_owned(),
            nodegroups: Vec::new(),
            access_entries: Vec::new(),
            addons: HashMap::new(),
            nodegroups_error: None,
        }
    }

    pub fn nodegroups_fail(mut self, error: AwsError) -> Self {
        self.nodegroups_error = Some(error);
        self
    }

    pub fn nodegroup(mut self, name: &str, role: &str) -> Self {
        self.nodegroups.push((name.to_owned(), role_arn(role)));
        self
    }

    pub fn access_entry(mut self, role: &str, kind: &str) -> Self {
        self.access_entries.push((role_arn(role), kind.to_owned()));
        self
    }

    pub fn cni(self, cni: AwsResult<AddonCredentials>) -> Self {
        self.addon(VPC_CNI.name, cni)
    }

    pub fn addon(mut self, name: &'static str, credentials: AwsResult<AddonCredentials>) -> Self {
        self.addons.insert(name, credentials);
        self
    }
}

/// The Auto Scaling group a fake node group's instances run in.
pub fn fake_asg(cluster: &str, nodegroup: &str) -> String {
    format!("eks-{cluster}-{nodegroup}")
}

pub fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::123456789012:role/{name}")
}

#[derive(Default, Clone)]
pub struct FakeEks {
    pub clusters: Vec<FakeCluster>,
    /// Regions whose cluster list EKS refuses with this error (an SCP, a changed boundary).
    pub refused: Vec<(String, AwsError)>,
}

impl FakeEks {
    pub fn new(clusters: Vec<FakeCluster>) -> Self {
        FakeEks {
            clusters,
            refused: Vec::new(),
        }
    }

    /// The same clusters, with `ListClusters` refused in each of `regions`.
    pub fn refusing(mut self, regions: &[&str], error: AwsError) -> Self {
        self.refused
            .extend(regions.iter().map(|region| ((*region).to_owned(), error.clone())));
        self
    }

    fn cluster(&self, region: &str, name: &str) -> Option<&FakeCluster> {
        self.clusters.iter().find(|c| c.region == region && c.name == name)
    }
}

impl Eks for FakeEks {
    async fn clusters(&self, region: &str) -> AwsResult<Vec<String>> {
        tally::record("eks", "ListClusters");
        if let Some((_, e)) = self.refused.iter().find(|(r, _)| r == region) {
            return Err(e.clone());
        }
        Ok(self
            .clusters
            .iter()
            .filter(|c| c.region == region)
            .map(|c| c.name.clone())
            .collect())
    }

    async fn nodegroup_names(&self, region: &str, cluster: &str) -> AwsResult<Vec<String>> {
        tally::record("eks", "ListNodegroups");
        if let Some(e) = self.cluster(region, cluster).and_then(|c| c.nodegroups_error.clone()) {
            return Err(e);
        }
        Ok(self
            .cluster(region, cluster)
            .map(|c| c.nodegroups.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default())
    }

    async fn nodegroup(&self, region: &str, cluster: &str, nodegroup: &str) -> AwsResult<Option<Nodegroup>> {
        tally::record("eks", "DescribeNodegroup");
        Ok(self.cluster(region, cluster).and_then(|c| {
            c.nodegroups
                .iter()
                .find(|(n, _)| n == nodegroup)
                .map(|(n, role)| Nodegroup {
                    region: region.to_owned(),
                    cluster: cluster.to_owned(),
                    name: n.clone(),
                    node_role_arn: role.clone(),
                    status: "ACTIVE".to_owned(),
                    autoscaling_groups: vec![fake_asg(cluster, n)],
                    launch_template: Some((Some(fake_launch_template(cluster, n)), None)),
                })
        }))
    }

    async fn access_entry_principals(&self, region: &str, cluster: &str) -> AwsResult<Vec<String>> {
        tally::record("eks", "ListAccessEntries");
        Ok(self
            .cluster(region, cluster)
            .map(|c| c.access_entries.iter().map(|(p, _)| p.clone()).collect())
            .unwrap_or_default())
    }

    async fn access_entry(&self, region: &str, cluster: &str, principal_arn: &str) -> AwsResult<Option<AccessEntry>> {
        tally::record("eks", "DescribeAccessEntry");
        Ok(self.cluster(region, cluster).and_then(|c| {
            c.access_entries
                .iter()
                .find(|(p, _)| p == principal_arn)
                .map(|(p, k)| AccessEntry {
                    principal_arn: p.clone(),
                    kind: k.clone(),
                })
        }))
    }

    async fn addon_credentials(&self, region: &str, cluster: &str, addon: &KnownAddon) -> AwsResult<AddonCredentials> {
        tally::record("eks", "DescribeAddon");
        let default = if addon.always_runs {
            AddonCredentials::NodeRole
        } else {
            AddonCredentials::NotInstalled
        };
        self.cluster(region, cluster)
            .and_then(|c| c.addons.get(addon.name).cloned())
            .unwrap_or(Ok(default))
    }
}

#[derive(Default)]
pub struct FakeNotifier {
    pub published: Mutex<Vec<Notification>>,
    pub failure: Mutex<Option<AwsError>>,
}

impl Notifier for FakeNotifier {
    async fn publish(&self, notification: &Notification) -> AwsResult<String> {
        tally::record("sns", "Publish");
        if let Some(e) = self.failure.lock().expect("lock").clone() {
            return Err(e);
        }
        let mut published = self.published.lock().expect("lock");
        published.push(notification.clone());
        Ok(format!("message-{}", published.len()))
    }
}

/// Security Hub: keeps the last import of each finding by `Id`; can refuse imports.
#[derive(Default)]
pub struct FakeFindings {
    pub imported: Mutex<BTreeMap<String, crate::types::Finding>>,
    /// Returned by every call, when set (e.g. `InvalidAccessException`).
    pub failure: Mutex<Option<AwsError>>,
    /// `Id` → error code, refused once each.
    pub refuse_once: Mutex<HashMap<String, String>>,
}

impl crate::ports::Findings for FakeFindings {
    async fn import(&self, findings: &[crate::types::Finding]) -> AwsResult<crate::types::ImportOutcome> {
        tally::record("securityhub", "BatchImportFindings");
        if let Some(e) = self.failure.lock().expect("lock").clone() {
            return Err(e);
        }
        let mut outcome = crate::types::ImportOutcome::default();
        for finding in findings {
            if let Some(code) = self.refuse_once.lock().expect("lock").remove(&finding.id) {
                outcome
                    .failed
                    .push((finding.id.clone(), code, "refused by the test".into()));
                continue;
            }
            outcome.imported += 1;
            self.imported
                .lock()
                .expect("lock")
                .insert(finding.id.clone(), finding.clone());
        }
        Ok(outcome)
    }

    async fn open_findings(
        &self,
        _product_arn: &str,
        role_arn: Option<&str>,
    ) -> AwsResult<Vec<crate::types::OpenFinding>> {
        tally::record("securityhub", "GetFindings");
        if let Some(e) = self.failure.lock().expect("lock").clone() {
            return Err(e);
        }
        Ok(self
            .imported
            .lock()
            .expect("lock")
            .values()
            .filter(|f| f.open && role_arn.is_none_or(|arn| f.role_arn == arn))
            .map(|f| crate::types::OpenFinding {
                id: f.id.clone(),
                created_at: f.created_at.clone(),
                role_arn: f.role_arn.clone(),
                title: f.title.clone(),
                description: f.description.clone(),
                severity: f.severity.clone(),
                product_fields: f.product_fields.clone(),
            })
            .collect())
    }

    fn region(&self) -> &str {
        "us-east-1"
    }
}

/// CloudTrail answering with the given trails (or error).
pub struct FakeTrails(pub AwsResult<Option<Vec<crate::types::TrailState>>>);

/// No trail check, like a deployment without one.
impl Default for FakeTrails {
    fn default() -> Self {
        FakeTrails(Ok(None))
    }
}

impl crate::ports::Trails for FakeTrails {
    async fn trails(&self) -> AwsResult<Option<Vec<crate::types::TrailState>>> {
        tally::record("cloudtrail", "DescribeTrails");
        self.0.clone()
    }
}

/// Member accounts: each connects to its own fake IAM and EKS, or fails as configured.
#[derive(Default)]
pub struct FakeMembers {
    pub accounts: HashMap<String, Result<(FakeIam, FakeEks), AwsError>>,
    /// `organization_accounts` answer.
    pub organization: Vec<String>,
    /// Every `connect`, by account.
    pub connects: Arc<Mutex<Vec<String>>>,
}

impl crate::ports::Members<Fakes> for FakeMembers {
    async fn organization_accounts(&self) -> AwsResult<Vec<String>> {
        tally::record("organizations", "ListAccounts");
        Ok(self.organization.clone())
    }

    async fn connect(&self, account: &str, role_arn: &str) -> AwsResult<crate::ports::Connection<Fakes>> {
        tally::record("sts", "AssumeRole");
        self.connects.lock().expect("lock").push(account.to_owned());
        assert!(
            role_arn.starts_with(&format!("arn:aws:iam::{account}:role/")),
            "{role_arn}"
        );
        match self.accounts.get(account) {
            Some(Ok((iam, eks))) => Ok(crate::ports::Connection {
                iam: iam.clone(),
                eks: eks.clone(),
                ec2: FakeEc2::default(),
                findings: FakeFindings::default(),
                expires: std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
            }),
            Some(Err(e)) => Err(e.clone()),
            None => Err(error("sts:AssumeRole", ErrorKind::Denied, "AccessDenied")),
        }
    }
}

/// The fake set of ports: every port in memory.
pub struct Fakes;

impl crate::ports::Ports for Fakes {
    type Iam = FakeIam;
    type Eks = FakeEks;
    type Ec2 = FakeEc2;
    type Findings = FakeFindings;
    type Notifier = FakeNotifier;
    type Trails = FakeTrails;
    type Members = FakeMembers;
}
