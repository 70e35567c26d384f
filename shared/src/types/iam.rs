//! IAM data: roles, their attached and inline policies, and what an idempotent write did.

use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::arn;

/// A role as `GetRole` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The unique id (`AROA...`): a trust policy names a deleted and re-created role by it.
    pub id: Option<String>,
    pub name: String,
    pub arn: String,
    /// URL-decoded trust policy.
    pub trust_policy: String,
}

/// A managed policy attached to a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AttachedPolicy {
    pub name: String,
    pub arn: String,
}

/// Whether an idempotent write changed something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Done,
    /// `NoSuchEntity`: someone (maybe a concurrent invocation) already did it.
    AlreadyDone,
}

/// An inline policy and its (URL-decoded) document, `None` when it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    pub name: String,
    pub document: Option<String>,
}

/// A node role's current policies, as re-read from IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    pub name: String,
    pub arn: String,
    pub attached: Vec<AttachedPolicy>,
    pub inline: Vec<InlinePolicy>,
}

impl RoleState {
    pub fn partition(&self) -> &str {
        arn::partition(&self.arn).unwrap_or("aws")
    }
}

/// IAM returns documents URL-encoded (`%7B%22Version...`); CloudTrail gives plain JSON strings.
/// Decodes when the text is URL-encoded, leaves it as is otherwise.
pub fn decode_document(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return text.to_owned();
    }
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}
