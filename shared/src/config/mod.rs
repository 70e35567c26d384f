//! Typed configuration, parsed once at start-up from environment variables.
//!
//! [`Config::from_lookup`] takes a lookup closure so tests pass a map and never touch the
//! process environment. An empty variable counts as unset (CloudFormation passes empty strings
//! for parameters left blank), so an empty `ALLOWED_POLICIES` means "the default allowlist",
//! never "allow nothing". The parsers of single variables are in [`parse`]; organization mode
//! ([`Central`]) in [`central`].

mod central;
mod exceptions;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use crate::types::{Exception, Mode};
use serde::Serialize;

pub use central::{AccountSet, Central};
use parse::Vars;

/// AWS-managed policies a node role may keep by default (names under `arn:<partition>:iam::aws:policy/`).
pub const DEFAULT_ALLOWED_POLICIES: &[&str] = &[
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKSWorkerNodeMinimalPolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPullOnly",
];

/// The VPC CNI policy, governed by `CNI_POLICY` ([`AddonPolicy`]) rather than by the allowlist.
pub const CNI_POLICY_NAME: &str = "AmazonEKS_CNI_Policy";

/// How a known add-on's policy on a node role is judged (`CNI_POLICY` for
/// `AmazonEKS_CNI_Policy`, `ADDON_POLICIES` for the others; see [`crate::discovery::addons`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddonPolicy {
    /// Always allowed.
    Keep,
    /// Allowed while a cluster the role serves runs the add-on without an IRSA / Pod Identity
    /// role of its own.
    KeepIfNeeded,
    /// Always a violation (every cluster gives the add-on its own role).
    Deny,
}

impl AddonPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AddonPolicy::Keep => "keep",
            AddonPolicy::KeepIfNeeded => "keep-if-needed",
            AddonPolicy::Deny => "deny",
        }
    }
}

impl FromStr for AddonPolicy {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "keep" => Ok(AddonPolicy::Keep),
            "keep-if-needed" => Ok(AddonPolicy::KeepIfNeeded),
            "deny" => Ok(AddonPolicy::Deny),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    /// The topic notifications go to (`SNS_TOPIC_ARN`): always set for the function
    /// ([`Config::from_lookup`] requires it), `None` for an audit, which notifies nothing.
    pub sns_topic_arn: Option<String>,
    pub scan_regions: Vec<String>,
    pub allowed_policies: BTreeSet<String>,
    /// Role names or role ARNs that are never touched.
    pub exempt_roles: BTreeSet<String>,
    /// One policy kept on one role until a date (`EXCEPTIONS`).
    pub exceptions: Vec<Exception>,
    /// `AmazonEKS_CNI_Policy` (`CNI_POLICY`).
    pub cni_policy: AddonPolicy,
    /// The other known add-ons' policies (`ADDON_POLICIES`).
    pub addon_policies: AddonPolicy,
    /// How long a discovered node-role index is reused across warm invocations (0 = never).
    pub index_ttl: Duration,
    /// Upper bound on concurrent EKS calls during discovery.
    pub discovery_concurrency: usize,
    /// Import ASFF findings into Security Hub (`SECURITY_HUB=on`).
    pub security_hub: bool,
    /// `SHARED_ROLES=remediate`: enforce also removes policies from a node role that instances
    /// which are not nodes run with. Off (`leave`) by default: those instances may need them.
    pub remediate_shared_roles: bool,
    /// `REMOVE_NODE_TRUST=on`: enforce removes, from another role's trust policy, the principals
    /// that let a node role assume it. Off by default: it edits a role that is not a node role.
    pub remove_node_trust: bool,
    /// The function's timeout (`FUNCTION_TIMEOUT_SECONDS`), the budget of an invocation whose
    /// runtime gives no usable deadline (the local runtime emulator).
    pub function_timeout: Duration,
    /// Organization (central) mode, on when `MEMBER_ROLE_NAME` is set.
    pub central: Option<Central>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{variable} is required: {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    #[error("{variable}={value:?} is invalid: {problem}; expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        problem: String,
        expected: &'static str,
    },
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the function's configuration through `lookup` (variable name → value).
    /// `SNS_TOPIC_ARN` is required.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(&lookup);
        let mode = parse::mode(vars.get("MODE"))?;
        let topic = parse::sns_topic_arn(vars.get("SNS_TOPIC_ARN"))?;
        Self::read(&vars, mode, Some(topic))
    }

    /// The configuration of a read-only audit: the same variables, always `dry-run` (`MODE` is
    /// not read), and no topic (`SNS_TOPIC_ARN` is not read: nothing is notified).
    pub fn for_audit(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Vars::new(&lookup), Mode::DryRun, None)
    }

    /// Every setting but the mode and the topic, which the caller decided.
    fn read(vars: &Vars<'_>, mode: Mode, sns_topic_arn: Option<String>) -> Result<Self, ConfigError> {
        Ok(Config {
            mode,
            sns_topic_arn,
            scan_regions: parse::scan_regions(vars)?,
            allowed_policies: parse::allowed_policies(vars.get("ALLOWED_POLICIES"))?,
            exempt_roles: parse::exempt_roles(vars.get("EXEMPT_ROLES"))?,
            exceptions: exceptions::exceptions(vars.get("EXCEPTIONS"))?,
            cni_policy: parse::addon_policy("CNI_POLICY", vars.get("CNI_POLICY"))?,
            addon_policies: parse::addon_policy("ADDON_POLICIES", vars.get("ADDON_POLICIES"))?,
            index_ttl: parse::index_ttl(vars.get("INDEX_TTL_SECONDS"))?,
            discovery_concurrency: parse::discovery_concurrency(vars.get("DISCOVERY_CONCURRENCY"))?,
            security_hub: parse::switch("SECURITY_HUB", vars.get("SECURITY_HUB"))?,
            remediate_shared_roles: parse::shared_roles(vars.get("SHARED_ROLES"))?,
            remove_node_trust: parse::switch("REMOVE_NODE_TRUST", vars.get("REMOVE_NODE_TRUST"))?,
            function_timeout: parse::function_timeout(vars.get("FUNCTION_TIMEOUT_SECONDS"))?,
            central: central::central(vars)?,
        })
    }
}
