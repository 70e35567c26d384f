//! Inspecting and changing what a role's trust, boundary and policy versions say in the
//! emulated account: the writes a door event records, made before the event is delivered.

use anyhow::{Context, Result};
use serde_json::Value;

use crate::account::Account;

impl Account {
    /// `role`'s trust policy as `GetRole` returns it, decoded.
    pub async fn trust(&self, role: &str) -> Result<Value> {
        let out = self.iam.get_role().role_name(role).send().await?;
        let text = out
            .role
            .and_then(|r| r.assume_role_policy_document)
            .context("trust policy")?;
        Ok(serde_json::from_str(&noderole::types::decode_document(&text))?)
    }

    /// Puts `document` on `role` as its trust policy (`UpdateAssumeRolePolicy`).
    pub async fn set_trust(&self, role: &str, document: &str) -> Result<()> {
        self.iam
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(document)
            .send()
            .await?;
        Ok(())
    }

    /// A new default version of `policy_arn` (`CreatePolicyVersion` with `setAsDefault`).
    pub async fn new_default_version(&self, policy_arn: &str, document: &str) -> Result<()> {
        self.iam
            .create_policy_version()
            .policy_arn(policy_arn)
            .policy_document(document)
            .set_as_default(true)
            .send()
            .await?;
        Ok(())
    }

    /// Puts permissions boundary `policy_arn` on `role`, then deletes it (what
    /// `DeleteRolePermissionsBoundary` records).
    pub async fn drop_boundary(&self, role: &str, policy_arn: &str) -> Result<()> {
        self.iam
            .put_role_permissions_boundary()
            .role_name(role)
            .permissions_boundary(policy_arn)
            .send()
            .await?;
        self.iam
            .delete_role_permissions_boundary()
            .role_name(role)
            .send()
            .await?;
        Ok(())
    }
}

/// Whether a trust policy names `principal` as an `AWS` principal.
pub fn trust_names(trust: &Value, principal: &str) -> bool {
    let statements = match &trust["Statement"] {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    };
    statements.iter().any(|s| match &s["Principal"]["AWS"] {
        Value::String(one) => one == principal,
        Value::Array(many) => many.iter().any(|p| p == principal),
        _ => false,
    })
}
