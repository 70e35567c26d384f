//! In-memory fakes of the ports, for core tests. They count calls like the SDK interceptor
//! does, and can be told to fail chosen operations.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::invocation::tally;
use crate::ports::{Eks, Iam, IamRead, Notifier};
use crate::types::{
    AccessEntry, AddonCredentials, AttachedPolicy, AwsError, AwsResult, Change, ErrorKind, InstanceProfile, KnownAddon,
    Nodegroup, Notification, Role, VPC_CNI,
};

mod ec2;
pub use ec2::{FakeEc2, FakeInstance};

pub const EC2_TRUST: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}]}"#;
pub const SSM_TRUST: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"}}]}"#;

pub fn error(operation: &'static str, kind: ErrorKind, code: &str) -> AwsError {
    AwsError {
        operation,
        kind,
        code: Some(code.to_owned()),
        message: format!("{code} injected by the test"),
    }
}

#[derive(Debug, Clone, Default)]
pub struct FakeRole {
    pub arn: String,
    pub trust: String,
    pub attached: Vec<String>,
    pub inline: BTreeMap<String, String>,
}

/// IAM with failures injectable per `(operation, target)`; target `*` matches any.
/// Clones share their state (a member account's clients and the test's view of them).
#[derive(Default, Clone)]
pub struct FakeIam {
    pub roles: Arc<Mutex<HashMap<String, FakeRole>>>,
    /// Instance profile name -> the role names it holds.
    pub profiles: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
    pub failures: Arc<Mutex<HashMap<(&'static str, String), AwsError>>>,
    pub writes: Arc<Mutex<Vec<String>>>,
}

impl FakeIam {
    pub fn with_role(self, name: &str, trust: &str, attached: &[&str], inline: &[(&str, &str)]) -> Self {
        let role = FakeRole {
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
            trust: trust.to_owned(),
            attached: attached
                .iter()
                .map(|p| format!("arn:aws:iam::aws:policy/{p}"))
                .collect(),
            inline: inline.iter().map(|(n, d)| ((*n).to_owned(), (*d).to_owned())).collect(),
        };
        self.roles.lock().expect("lock").insert(name.to_owned(), role);
        self
    }

    pub fn fail(&self, operation: &'static str, target: &str, error: AwsError) {
        self.failures
            .lock()
            .expect("lock")
            .insert((operation, target.to_owned()), error);
    }

    fn check(&self, operation: &'static str, target: &str) -> AwsResult<()> {
        tally::record("iam", operation);
        let failures = self.failures.lock().expect("lock");
        match failures
            .get(&(operation, target.to_owned()))
            .or_else(|| failures.get(&(operation, "*".to_owned())))
        {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub fn attached(&self, role: &str) -> Vec<String> {
        self.roles
            .lock()
            .expect("lock")
            .get(role)
            .map(|r| r.attached.clone())
            .unwrap_or_default()
    }

    pub fn inline_names(&self, role: &str) -> Vec<String> {
        self.roles
            .lock()
            .expect("lock")
            .get(role)
            .map(|r| r.inline.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn no_such_entity(operation: &'static str) -> AwsError {
        error(operation, ErrorKind::Rejected, "NoSuchEntity")
    }
}

impl IamRead for FakeIam {
    async fn role(&self, name: &str) -> AwsResult<Option<Role>> {
        self.check("GetRole", name)?;
        Ok(self.roles.lock().expect("lock").get(name).map(|r| Role {
            name: name.to_owned(),
            arn: r.arn.clone(),
            trust_policy: r.trust.clone(),
        }))
    }

    async fn attached_policies(&self, role: &str) -> AwsResult<Vec<AttachedPolicy>> {
        self.check("ListAttachedRolePolicies", role)?;
        let roles = self.roles.lock().expect("lock");
        let r = roles
            .get(role)
            .ok_or_else(|| Self::no_such_entity("iam:ListAttachedRolePolicies"))?;
        Ok(r.attached
            .iter()
            .map(|arn| AttachedPolicy {
                name: crate::types::arn::policy_name_from_arn(arn).to_owned(),
                arn: arn.clone(),
            })
            .collect())
    }

    async fn inline_policy_names(&self, role: &str) -> AwsResult<Vec<String>> {
        self.check("ListRolePolicies", role)?;
        let roles = self.roles.lock().expect("lock");
        let r = roles
            .get(role)
            .ok_or_else(|| Self::no_such_entity("iam:ListRolePolicies"))?;
        Ok(r.inline.keys().cloned().collect())
    }

    async fn inline_policy(&self, role: &str, policy: &str) -> AwsResult<Option<String>> {
        self.check("GetRolePolicy", policy)?;
        Ok(self
            .roles
            .lock()
            .expect("lock")
            .get(role)
            .and_then(|r| r.inline.get(policy).cloned()))
    }

    async fn instance_profiles(&self) -> AwsResult<Vec<InstanceProfile>> {
        self.check("ListInstanceProfiles", "*")?;
        let profiles = self.profiles.lock().expect("lock");
        Ok(profiles.iter().map(|(name, roles)| profile(name, roles)).collect())
    }

    async fn instance_profiles_for_role(&self, role: &str) -> AwsResult<Vec<InstanceProfile>> {
        self.check("ListInstanceProfilesForRole", role)?;
        let profiles = self.profiles.lock().expect("lock");
        Ok(profiles
            .iter()
            .filter(|(_, roles)| roles.iter().any(|r| r == role))
            .map(|(name, roles)| profile(name, roles))
            .collect())
    }
}

/// The ARN of the fake account's instance profile `name`.
pub fn profile_arn(name: &str) -> String {
    format!("arn:aws:iam::123456789012:instance-profile/{name}")
}

fn profile(name: &str, roles: &[String]) -> InstanceProfile {
    InstanceProfile {
        name: name.to_owned(),
        arn: profile_arn(name),
        roles: roles.iter().map(|r| role_arn(r)).collect(),
    }
}

impl FakeIam {
    /// An instance profile holding `role` (none when `None`).
    pub fn with_profile(self, name: &str, role: Option<&str>) -> Self {
        self.profiles
            .lock()
            .expect("lock")
            .insert(name.to_owned(), role.map(str::to_owned).into_iter().collect());
        self
    }

    /// The role names `profile` holds now.
    pub fn profile_roles(&self, profile: &str) -> Vec<String> {
        self.profiles
            .lock()
            .expect("lock")
            .get(profile)
            .cloned()
            .unwrap_or_default()
    }
}

impl Iam for FakeIam {
    async fn detach(&self, role: &str, policy_arn: &str) -> AwsResult<Change> {
        self.check("DetachRolePolicy", policy_arn)?;
        self.writes
            .lock()
            .expect("lock")
            .push(format!("detach {role} {policy_arn}"));
        let mut roles = self.roles.lock().expect("lock");
        let Some(r) = roles.get_mut(role) else {
            return Ok(Change::AlreadyDone);
        };
        let before = r.attached.len();
        r.attached.retain(|a| a != policy_arn);
        Ok(if r.attached.len() < before {
            Change::Done
        } else {
            Change::AlreadyDone
        })
    }

    async fn remove_role_from_profile(&self, profile: &str, role: &str) -> AwsResult<Change> {
        self.check("RemoveRoleFromInstanceProfile", profile)?;
        self.writes
            .lock()
            .expect("lock")
            .push(format!("remove-role {profile} {role}"));
        let mut profiles = self.profiles.lock().expect("lock");
        let roles = profiles
            .get_mut(profile)
            .ok_or_else(|| Self::no_such_entity("iam:RemoveRoleFromInstanceProfile"))?;
        let before = roles.len();
        roles.retain(|r| r != role);
        Ok(if roles.len() < before {
            Change::Done
        } else {
            Change::AlreadyDone
        })
    }

    async fn add_role_to_profile(&self, profile: &str, role: &str) -> AwsResult<Change> {
        self.check("AddRoleToInstanceProfile", profile)?;
        self.writes
            .lock()
            .expect("lock")
            .push(format!("add-role {profile} {role}"));
        let mut profiles = self.profiles.lock().expect("lock");
        let roles = profiles
            .get_mut(profile)
            .ok_or_else(|| Self::no_such_entity("iam:AddRoleToInstanceProfile"))?;
        if roles.iter().any(|r| r == role) {
            return Ok(Change::AlreadyDone);
        }
        if !roles.is_empty() {
            return Err(error(
                "iam:AddRoleToInstanceProfile",
                ErrorKind::Rejected,
                "LimitExceeded",
            ));
        }
        roles.push(role.to_owned());
        Ok(Change::Done)
    }

    async fn delete_inline(&self, role: &str, policy: &str) -> AwsResult<Change> {
        self.check("DeleteRolePolicy", policy)?;
        self.writes
            .lock()
            .expect("lock")
            .push(format!("delete {role} {policy}"));
        let mut roles = self.roles.lock().expect("lock");
        Ok(match roles.get_mut(role).and_then(|r| r.inline.remove(policy)) {
            Some(_) => Change::Done,
            None => Change::AlreadyDone,
        })
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
