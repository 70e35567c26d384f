use aws_config::SdkConfig;
use aws_sdk_iam::Client;

use super::{CountCalls, classify};
use crate::ports::{Iam, IamRead};
use crate::types::{AttachedPolicy, AwsResult, Change, InstanceProfile, Role, arn, decode_document};

/// IAM through the SDK, read-only: it has no method that changes anything, and does not
/// implement [`Iam`]. What the audit command holds.
#[derive(Debug, Clone)]
pub struct IamReader {
    client: Client,
}

/// IAM through the SDK, reads and the remediating writes (policies, and a swapped instance
/// profile's role): what the function holds.
#[derive(Debug, Clone)]
pub struct IamClient {
    reader: IamReader,
}

impl IamReader {
    pub fn new(sdk: &SdkConfig) -> Self {
        let conf = aws_sdk_iam::config::Builder::from(sdk)
            .retry_partition(super::retry_partition("iam".to_owned()))
            .interceptor(CountCalls)
            .build();
        IamReader {
            client: Client::from_conf(conf),
        }
    }
}

impl IamClient {
    pub fn new(sdk: &SdkConfig) -> Self {
        IamClient {
            reader: IamReader::new(sdk),
        }
    }

    /// Wraps an existing client (for example a mocked one).
    pub fn from_client(client: Client) -> Self {
        IamClient {
            reader: IamReader { client },
        }
    }

    fn client(&self) -> &Client {
        &self.reader.client
    }
}

impl IamRead for IamClient {
    async fn role(&self, name: &str) -> AwsResult<Option<Role>> {
        self.reader.role(name).await
    }

    async fn attached_policies(&self, role: &str) -> AwsResult<Vec<AttachedPolicy>> {
        self.reader.attached_policies(role).await
    }

    async fn inline_policy_names(&self, role: &str) -> AwsResult<Vec<String>> {
        self.reader.inline_policy_names(role).await
    }

    async fn inline_policy(&self, role: &str, policy: &str) -> AwsResult<Option<String>> {
        self.reader.inline_policy(role, policy).await
    }

    async fn instance_profiles(&self) -> AwsResult<Vec<InstanceProfile>> {
        self.reader.instance_profiles().await
    }

    async fn instance_profiles_for_role(&self, role: &str) -> AwsResult<Vec<InstanceProfile>> {
        self.reader.instance_profiles_for_role(role).await
    }

    async fn instance_profile(&self, name: &str) -> AwsResult<Option<InstanceProfile>> {
        self.reader.instance_profile(name).await
    }

    async fn policy_roles(&self, policy_arn: &str) -> AwsResult<Vec<String>> {
        self.reader.policy_roles(policy_arn).await
    }
}

fn profile(p: aws_sdk_iam::types::InstanceProfile) -> InstanceProfile {
    InstanceProfile {
        roles: p.roles.into_iter().map(|r| r.arn).collect(),
        name: p.instance_profile_name,
        arn: p.arn,
    }
}

impl IamRead for IamReader {
    async fn role(&self, name: &str) -> AwsResult<Option<Role>> {
        match self.client.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role.map(|role| Role {
                trust_policy: role
                    .assume_role_policy_document()
                    .map(decode_document)
                    .unwrap_or_default(),
                id: Some(role.role_id),
                name: role.role_name,
                arn: role.arn,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(None),
            Err(e) => Err(classify("iam:GetRole", &e)),
        }
    }

    async fn attached_policies(&self, role: &str) -> AwsResult<Vec<AttachedPolicy>> {
        let mut pages = self
            .client
            .list_attached_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send();
        let mut policies = Vec::new();
        while let Some(item) = pages.next().await {
            let policy = item.map_err(|e| classify("iam:ListAttachedRolePolicies", &e))?;
            if let (Some(name), Some(arn)) = (policy.policy_name, policy.policy_arn) {
                policies.push(AttachedPolicy { name, arn });
            }
        }
        Ok(policies)
    }

    async fn inline_policy_names(&self, role: &str) -> AwsResult<Vec<String>> {
        let mut pages = self
            .client
            .list_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send();
        let mut names = Vec::new();
        while let Some(item) = pages.next().await {
            names.push(item.map_err(|e| classify("iam:ListRolePolicies", &e))?);
        }
        Ok(names)
    }

    async fn inline_policy(&self, role: &str, policy: &str) -> AwsResult<Option<String>> {
        match self
            .client
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(out) => Ok(Some(decode_document(&out.policy_document))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(None),
            Err(e) => Err(classify("iam:GetRolePolicy", &e)),
        }
    }

    async fn instance_profiles(&self) -> AwsResult<Vec<InstanceProfile>> {
        // the most a page holds: one call per thousand profiles
        let mut pages = self
            .client
            .list_instance_profiles()
            .max_items(1000)
            .into_paginator()
            .items()
            .send();
        let mut profiles = Vec::new();
        while let Some(item) = pages.next().await {
            profiles.push(profile(item.map_err(|e| classify("iam:ListInstanceProfiles", &e))?));
        }
        Ok(profiles)
    }

    async fn instance_profiles_for_role(&self, role: &str) -> AwsResult<Vec<InstanceProfile>> {
        let mut pages = self
            .client
            .list_instance_profiles_for_role()
            .role_name(role)
            .into_paginator()
            .items()
            .send();
        let mut profiles = Vec::new();
        while let Some(item) = pages.next().await {
            match item {
                Ok(p) => profiles.push(profile(p)),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(classify("iam:ListInstanceProfilesForRole", &e)),
            }
        }
        Ok(profiles)
    }

    async fn instance_profile(&self, name: &str) -> AwsResult<Option<InstanceProfile>> {
        match self
            .client
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.instance_profile.map(profile)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(None),
            Err(e) => Err(classify("iam:GetInstanceProfile", &e)),
        }
    }

    async fn policy_roles(&self, policy_arn: &str) -> AwsResult<Vec<String>> {
        let mut pages = self
            .client
            .list_entities_for_policy()
            .policy_arn(policy_arn)
            .entity_filter(aws_sdk_iam::types::EntityType::Role)
            .into_paginator()
            .send();
        let mut roles = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => roles.extend(
                    page.policy_roles
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|r| r.role_name),
                ),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(classify("iam:ListEntitiesForPolicy", &e)),
            }
        }
        Ok(roles)
    }
}

impl Iam for IamClient {
    async fn update_trust(&self, role: &str, document: &str) -> AwsResult<Change> {
        match self
            .client()
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(document)
            .customize()
            .config_override(aws_sdk_iam::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(Change::AlreadyDone),
            Err(e) => Err(classify("iam:UpdateAssumeRolePolicy", &e)),
        }
    }

    async fn detach(&self, role: &str, policy_arn: &str) -> AwsResult<Change> {
        match self
            .client()
            .detach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .customize()
            .config_override(aws_sdk_iam::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(Change::AlreadyDone),
            Err(e) => Err(classify("iam:DetachRolePolicy", &e)),
        }
    }

    async fn remove_role_from_profile(&self, profile: &str, role: &str) -> AwsResult<Change> {
        match self
            .client()
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .customize()
            .config_override(aws_sdk_iam::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(Change::AlreadyDone),
            Err(e) => Err(classify("iam:RemoveRoleFromInstanceProfile", &e)),
        }
    }

    async fn add_role_to_profile(&self, profile: &str, role: &str) -> AwsResult<Change> {
        match self
            .client()
            .add_role_to_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .customize()
            .config_override(aws_sdk_iam::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_already_exists_exception()) =>
            {
                Ok(Change::AlreadyDone)
            }
            // a profile holds one role: IAM refuses adding the role it already holds as over
            // that quota, so an undo another invocation made first reads as this refusal
            Err(e) if e.as_service_error().is_some_and(|s| s.is_limit_exceeded_exception()) => {
                let holds = self.reader.instance_profile(profile).await?.is_some_and(|p| {
                    p.roles
                        .iter()
                        .any(|r| arn::same_role_name(arn::role_name_from_arn(r).unwrap_or(r), role))
                });
                if holds {
                    Ok(Change::AlreadyDone)
                } else {
                    Err(classify("iam:AddRoleToInstanceProfile", &e))
                }
            }
            Err(e) => Err(classify("iam:AddRoleToInstanceProfile", &e)),
        }
    }

    async fn delete_inline(&self, role: &str, policy: &str) -> AwsResult<Change> {
        match self
            .client()
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .customize()
            .config_override(aws_sdk_iam::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(Change::AlreadyDone),
            Err(e) => Err(classify("iam:DeleteRolePolicy", &e)),
        }
    }
}
