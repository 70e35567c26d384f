//! The parsers of single variables: each takes a variable's value (trimmed, `None` when unset
//! or empty) and returns the typed setting or a [`ConfigError`] that names the variable and
//! what it accepts.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{AddonPolicy, ConfigError, DEFAULT_ALLOWED_POLICIES};
use crate::types::Mode;

const DEFAULT_INDEX_TTL: Duration = Duration::from_secs(300);
const DEFAULT_DISCOVERY_CONCURRENCY: usize = 16;
/// The template's `Timeout`.
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(120);

/// The variables, read through a lookup closure (variable name -> value).
pub(super) struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars { lookup }
    }

    /// The trimmed value; `None` when unset or empty (CloudFormation passes empty strings for
    /// parameters left blank).
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Whether the variable is set at all, even to nothing.
    pub(super) fn is_set(&self, name: &str) -> bool {
        (self.lookup)(name).is_some()
    }
}

/// `MODE`: `dry-run` (the default) or `enforce`.
pub(super) fn mode(value: Option<String>) -> Result<Mode, ConfigError> {
    match value {
        None => Ok(Mode::DryRun),
        Some(v) => v
            .parse()
            .map_err(|()| invalid("MODE", &v, "unknown mode", "`dry-run` or `enforce`")),
    }
}

/// `SNS_TOPIC_ARN`: required, an SNS topic ARN.
pub(super) fn sns_topic_arn(value: Option<String>) -> Result<String, ConfigError> {
    const TOPIC_EXPECTED: &str = "an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:eks-node-role-guard";
    let topic = value.ok_or(ConfigError::Missing {
        variable: "SNS_TOPIC_ARN",
        expected: TOPIC_EXPECTED,
    })?;
    if !is_sns_topic_arn(&topic) {
        return Err(invalid("SNS_TOPIC_ARN", &topic, "not an SNS topic ARN", TOPIC_EXPECTED));
    }
    Ok(topic)
}

/// `SCAN_REGIONS`, deduplicated in order; unset, the function's own region (`AWS_REGION`, else
/// `AWS_DEFAULT_REGION`).
pub(super) fn scan_regions(vars: &Vars<'_>) -> Result<Vec<String>, ConfigError> {
    const REGIONS_EXPECTED: &str = "a comma-separated list of region codes such as us-east-1,eu-west-1";
    match vars.get("SCAN_REGIONS") {
        Some(v) => {
            let regions = split_list(&v);
            if let Some(bad) = regions.iter().find(|r| !is_region_code(r)) {
                return Err(invalid(
                    "SCAN_REGIONS",
                    &v,
                    &format!("{bad:?} is not a region code"),
                    REGIONS_EXPECTED,
                ));
            }
            Ok(dedup(regions))
        }
        None => match vars.get("AWS_REGION").or_else(|| vars.get("AWS_DEFAULT_REGION")) {
            Some(region) if is_region_code(&region) => Ok(vec![region]),
            _ => Err(ConfigError::Missing {
                variable: "SCAN_REGIONS",
                expected: "a comma-separated list of region codes (defaults to AWS_REGION, which is unset)",
            }),
        },
    }
}

/// `ALLOWED_POLICIES`: AWS-managed policies a node role may keep; unset, the default allowlist.
pub(super) fn allowed_policies(value: Option<String>) -> Result<BTreeSet<String>, ConfigError> {
    const POLICIES_EXPECTED: &str = "a comma-separated list of AWS-managed policies: names such as \
         AmazonEKSWorkerNodePolicy (any path), names with their path such as \
         service-role/AmazonEBSCSIDriverPolicy, or AWS-managed policy ARNs \
         (arn:aws:iam::aws:policy/...); customer-managed policies cannot be allowlisted";
    let Some(v) = value else {
        return Ok(DEFAULT_ALLOWED_POLICIES.iter().map(|s| (*s).to_owned()).collect());
    };
    let mut names = BTreeSet::new();
    for entry in split_list(&v) {
        let Some(name) = allowlist_entry(&entry) else {
            return Err(invalid(
                "ALLOWED_POLICIES",
                &v,
                &format!("{entry:?} is not an AWS-managed policy name or ARN"),
                POLICIES_EXPECTED,
            ));
        };
        names.insert(name);
    }
    Ok(names)
}

/// `EXEMPT_ROLES`: role names or role ARNs that are never touched; unset, none.
pub(super) fn exempt_roles(value: Option<String>) -> Result<BTreeSet<String>, ConfigError> {
    const EXEMPT_EXPECTED: &str = "a comma-separated list of role names or role ARNs";
    let Some(v) = value else {
        return Ok(BTreeSet::new());
    };
    let roles = split_list(&v);
    if let Some(bad) = roles.iter().find(|r| !is_role_name_or_arn(r)) {
        return Err(invalid(
            "EXEMPT_ROLES",
            &v,
            &format!("{bad:?} is neither a role name nor a role ARN"),
            EXEMPT_EXPECTED,
        ));
    }
    Ok(roles.into_iter().collect())
}

/// `CNI_POLICY` or `ADDON_POLICIES`: unset, `keep-if-needed`.
pub(super) fn addon_policy(variable: &'static str, value: Option<String>) -> Result<AddonPolicy, ConfigError> {
    const ADDON_EXPECTED: &str = "`keep`, `keep-if-needed` or `deny`";
    match value {
        None => Ok(AddonPolicy::KeepIfNeeded),
        Some(v) => v
            .parse()
            .map_err(|()| invalid(variable, &v, "unknown value", ADDON_EXPECTED)),
    }
}

/// `INDEX_TTL_SECONDS`: whole seconds, 0 disables the node-role index cache.
pub(super) fn index_ttl(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(v) = value else {
        return Ok(DEFAULT_INDEX_TTL);
    };
    let seconds = v.parse::<u64>().map_err(|e| {
        invalid(
            "INDEX_TTL_SECONDS",
            &v,
            &e.to_string(),
            "a whole number of seconds (0 disables the cache)",
        )
    })?;
    Ok(Duration::from_secs(seconds))
}

/// `DISCOVERY_CONCURRENCY`: 1 to 256 concurrent EKS calls.
pub(super) fn discovery_concurrency(value: Option<String>) -> Result<usize, ConfigError> {
    const EXPECTED: &str = "a number from 1 to 256";
    let Some(v) = value else {
        return Ok(DEFAULT_DISCOVERY_CONCURRENCY);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        Ok(_) => Err(invalid("DISCOVERY_CONCURRENCY", &v, "out of range", EXPECTED)),
        Err(e) => Err(invalid("DISCOVERY_CONCURRENCY", &v, &e.to_string(), EXPECTED)),
    }
}

/// `SHARED_ROLES`: `leave` (the default) or `remediate`.
pub(super) fn shared_roles(value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None | Some("leave") => Ok(false),
        Some("remediate") => Ok(true),
        Some(v) => Err(invalid("SHARED_ROLES", v, "unknown value", "`leave` or `remediate`")),
    }
}

/// An `off` (the default) / `on` setting.
pub(super) fn switch(variable: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None | Some("off") => Ok(false),
        Some("on") => Ok(true),
        Some(v) => Err(invalid(variable, v, "unknown value", "`off` or `on`")),
    }
}

/// `FUNCTION_TIMEOUT_SECONDS`: 1 to 900 seconds, as Lambda allows.
pub(super) fn function_timeout(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(v) = value else {
        return Ok(DEFAULT_FUNCTION_TIMEOUT);
    };
    match v.parse::<u64>() {
        Ok(n) if (1..=900).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(invalid(
            "FUNCTION_TIMEOUT_SECONDS",
            &v,
            "not a timeout Lambda allows",
            "a whole number of seconds from 1 to 900 (the function's Timeout)",
        )),
    }
}

pub(super) fn invalid(variable: &'static str, value: &str, problem: &str, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        problem: problem.to_owned(),
        expected,
    }
}

/// A comma-separated list, each entry trimmed, empty entries dropped.
pub(super) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.into_iter().filter(|i| seen.insert(i.clone())).collect()
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`...
fn is_region_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn is_sns_topic_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty()
}

/// An allowlist entry as stored: a policy name (`AmazonEBSCSIDriverPolicy`, matched under any
/// AWS-managed path) or a name with its path (`service-role/AmazonEBSCSIDriverPolicy`). An
/// AWS-managed ARN becomes its path and name; a customer-managed ARN is refused.
fn allowlist_entry(entry: &str) -> Option<String> {
    let name = match entry.strip_prefix("arn:") {
        Some(rest) => {
            let (_partition, resource) = rest.split_once(":iam::aws:policy/")?;
            resource
        }
        None => entry,
    };
    let valid = !name.is_empty()
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    valid.then(|| name.to_owned())
}

pub(super) fn is_role_name_or_arn(s: &str) -> bool {
    if s.starts_with("arn:") {
        crate::types::arn::role_name_from_arn(s).is_some()
    } else {
        s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    }
}
