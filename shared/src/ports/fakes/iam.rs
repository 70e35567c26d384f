//! IAM in memory: roles with their policies, instance profiles with their role, failures
//! injectable per `(operation, target)`, writes recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{error, role_arn};
use crate::invocation::tally;
use crate::ports::{Iam, IamRead};
use crate::types::{AttachedPolicy, AwsError, AwsResult, Change, ErrorKind, InstanceProfile, Role};

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
            id: Some(fake_role_id(name)),
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

    async fn instance_profile(&self, name: &str) -> AwsResult<Option<InstanceProfile>> {
        self.check("GetInstanceProfile", name)?;
        let profiles = self.profiles.lock().expect("lock");
        Ok(profiles.get(name).map(|roles| profile(name, roles)))
    }

    async fn policy_roles(&self, policy_arn: &str) -> AwsResult<Vec<String>> {
        self.check("ListEntitiesForPolicy", policy_arn)?;
        let roles = self.roles.lock().expect("lock");
        let mut names: Vec<String> = roles
            .iter()
            .filter(|(_, r)| r.attached.iter().any(|a| a == policy_arn))
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// The unique id the fake gives role `name`.
pub fn fake_role_id(name: &str) -> String {
    let letters: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("AROA{}", letters.to_ascii_uppercase())
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
    async fn update_trust(&self, role: &str, document: &str) -> AwsResult<Change> {
        self.check("UpdateAssumeRolePolicy", role)?;
        self.writes.lock().expect("lock").push(format!("update-trust {role}"));
        let mut roles = self.roles.lock().expect("lock");
        let Some(r) = roles.get_mut(role) else {
            return Ok(Change::AlreadyDone);
        };
        if r.trust == document {
            return Ok(Change::AlreadyDone);
        }
        r.trust = document.to_owned();
        Ok(Change::Done)
    }

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
