//! Typed configuration, parsed once at start-up from environment variables.
//!
//! [`Config::from_lookup`] takes a lookup closure so tests pass a map and never touch the
//! process environment. An empty variable counts as unset (CloudFormation passes empty strings
//! for parameters left blank), so an empty `ALLOWED_POLICIES` means "the default allowlist",
//! never "allow nothing".

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::types::Mode;
use serde::Serialize;

/// AWS-managed policies a node role may keep by default (names under `arn:<partition>:iam::aws:policy/`).
pub const DEFAULT_ALLOWED_POLICIES: &[&str] = &[
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKSWorkerNodeMinimalPolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPullOnly",
];

/// The VPC CNI policy, governed by `CNI_POLICY` ([`AddonPolicy`]) rather than by the allowlist.
pub const CNI_POLICY_NAME: &str = "AmazonEKS_CNI_Policy";

const DEFAULT_INDEX_TTL: Duration = Duration::from_secs(300);
const DEFAULT_DISCOVERY_CONCURRENCY: usize = 16;
/// The template's `Timeout`.
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(120);

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
    pub sns_topic_arn: String,
    pub scan_regions: Vec<String>,
    pub allowed_policies: BTreeSet<String>,
    /// Role names or role ARNs that are never touched.
    pub exempt_roles: BTreeSet<String>,
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
    /// The function's timeout (`FUNCTION_TIMEOUT_SECONDS`), the budget of an invocation whose
    /// runtime gives no usable deadline (the local runtime emulator).
    pub function_timeout: Duration,
    /// Organization (central) mode, on when `MEMBER_ROLE_NAME` is set.
    pub central: Option<Central>,
}

/// How a central deployment reaches and bounds the member accounts it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Central {
    /// The role assumed in each member account (`MEMBER_ROLE_NAME`): a name, maybe under a path.
    pub member_role: String,
    /// Which accounts are guarded (`ACCOUNTS`).
    pub accounts: AccountSet,
    /// Member accounts swept at once (`ACCOUNT_CONCURRENCY`).
    pub account_concurrency: usize,
}

impl Central {
    /// `arn:<partition>:iam::<account>:role/<path/name>`.
    pub fn member_role_arn(&self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.member_role)
    }

    /// The member role's name without its path: what the role's sessions act as.
    pub fn member_role_name(&self) -> &str {
        self.member_role.rsplit('/').next().unwrap_or(&self.member_role)
    }
}

/// The accounts a central deployment guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSet {
    /// Every ACTIVE account of the organization (Organizations `ListAccounts`).
    Organization,
    /// These account ids.
    Listed(BTreeSet<String>),
}

impl fmt::Display for AccountSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSet::Organization => f.write_str("organization"),
            AccountSet::Listed(ids) => f.write_str(&ids.iter().cloned().collect::<Vec<_>>().join(",")),
        }
    }
}

const DEFAULT_ACCOUNT_CONCURRENCY: usize = 4;

/// Who reads the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Function,
    Audit,
}

/// Satisfies the topic check of an audit's configuration, then is cleared.
const AUDIT_TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:audit";

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

    /// Reads the configuration through `lookup` (variable name → value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::parse(&lookup, Purpose::Function)
    }

    /// The configuration of a read-only audit: the same variables, always `dry-run`, and no
    /// topic (nothing is notified).
    pub fn for_audit(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::parse(&lookup, Purpose::Audit)
    }

    fn parse(lookup: &dyn Fn(&str) -> Option<String>, purpose: Purpose) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if purpose == Purpose::Audit {
            let audit = |name: &str| match name {
                "MODE" => Some("dry-run".to_owned()),
                "SNS_TOPIC_ARN" => Some(AUDIT_TOPIC.to_owned()),
                _ => lookup(name),
            };
            let mut config = Self::parse(&audit, Purpose::Function)?;
            config.sns_topic_arn.clear();
            return Ok(config);
        }

        let mode = match get("MODE") {
            None => Mode::DryRun,
            Some(v) => v
                .parse()
                .map_err(|()| invalid("MODE", &v, "unknown mode", "`dry-run` or `enforce`"))?,
        };

        const TOPIC_EXPECTED: &str = "an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:eks-node-role-guard";
        let sns_topic_arn = get("SNS_TOPIC_ARN").ok_or(ConfigError::Missing {
            variable: "SNS_TOPIC_ARN",
            expected: TOPIC_EXPECTED,
        })?;
        if !is_sns_topic_arn(&sns_topic_arn) {
            return Err(invalid(
                "SNS_TOPIC_ARN",
                &sns_topic_arn,
                "not an SNS topic ARN",
                TOPIC_EXPECTED,
            ));
        }

        const REGIONS_EXPECTED: &str = "a comma-separated list of region codes such as us-east-1,eu-west-1";
        let scan_regions = match get("SCAN_REGIONS") {
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
                dedup(regions)
            }
            None => match get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
                Some(region) if is_region_code(&region) => vec![region],
                _ => {
                    return Err(ConfigError::Missing {
                        variable: "SCAN_REGIONS",
                        expected: "a comma-separated list of region codes (defaults to AWS_REGION, which is unset)",
                    });
                }
            },
        };

        const POLICIES_EXPECTED: &str = "a comma-separated list of AWS-managed policies: names such as \
             AmazonEKSWorkerNodePolicy (any path), names with their path such as \
             service-role/AmazonEBSCSIDriverPolicy, or AWS-managed policy ARNs \
             (arn:aws:iam::aws:policy/...); customer-managed policies cannot be allowlisted";
        let allowed_policies: BTreeSet<String> = match get("ALLOWED_POLICIES") {
            Some(v) => {
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
                names
            }
            None => DEFAULT_ALLOWED_POLICIES.iter().map(|s| (*s).to_owned()).collect(),
        };

        const EXEMPT_EXPECTED: &str = "a comma-separated list of role names or role ARNs";
        let exempt_roles: BTreeSet<String> = match get("EXEMPT_ROLES") {
            Some(v) => {
                let roles = split_list(&v);
                if let Some(bad) = roles.iter().find(|r| !is_role_name_or_arn(r)) {
                    return Err(invalid(
                        "EXEMPT_ROLES",
                        &v,
                        &format!("{bad:?} is neither a role name nor a role ARN"),
                        EXEMPT_EXPECTED,
                    ));
                }
                roles.into_iter().collect()
            }
            None => BTreeSet::new(),
        };

        const ADDON_EXPECTED: &str = "`keep`, `keep-if-needed` or `deny`";
        let addon_policy = |variable: &'static str, value: Option<String>| match value {
            None => Ok(AddonPolicy::KeepIfNeeded),
            Some(v) => v
                .parse()
                .map_err(|()| invalid(variable, &v, "unknown value", ADDON_EXPECTED)),
        };
        let cni_policy = addon_policy("CNI_POLICY", get("CNI_POLICY"))?;
        let addon_policies = addon_policy("ADDON_POLICIES", get("ADDON_POLICIES"))?;

        let index_ttl = match get("INDEX_TTL_SECONDS") {
            None => DEFAULT_INDEX_TTL,
            Some(v) => Duration::from_secs(v.parse::<u64>().map_err(|e| {
                invalid(
                    "INDEX_TTL_SECONDS",
                    &v,
                    &e.to_string(),
                    "a whole number of seconds (0 disables the cache)",
                )
            })?),
        };

        let discovery_concurrency = match get("DISCOVERY_CONCURRENCY") {
            None => DEFAULT_DISCOVERY_CONCURRENCY,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => n,
                Ok(_) => {
                    return Err(invalid(
                        "DISCOVERY_CONCURRENCY",
                        &v,
                        "out of range",
                        "a number from 1 to 256",
                    ));
                }
                Err(e) => {
                    return Err(invalid(
                        "DISCOVERY_CONCURRENCY",
                        &v,
                        &e.to_string(),
                        "a number from 1 to 256",
                    ));
                }
            },
        };

        let security_hub = match get("SECURITY_HUB").as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(v) => return Err(invalid("SECURITY_HUB", v, "unknown value", "`off` or `on`")),
        };

        let function_timeout = match get("FUNCTION_TIMEOUT_SECONDS") {
            None => DEFAULT_FUNCTION_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=900).contains(&n) => Duration::from_secs(n),
                _ => {
                    return Err(invalid(
                        "FUNCTION_TIMEOUT_SECONDS",
                        &v,
                        "not a timeout Lambda allows",
                        "a whole number of seconds from 1 to 900 (the function's Timeout)",
                    ));
                }
            },
        };

        let central = central(&get, lookup)?;

        Ok(Config {
            central,
            function_timeout,
            mode,
            sns_topic_arn,
            scan_regions,
            allowed_policies,
            exempt_roles,
            cni_policy,
            addon_policies,
            index_ttl,
            discovery_concurrency,
            security_hub,
        })
    }
}

/// `MEMBER_ROLE_NAME`, `ACCOUNTS` and `ACCOUNT_CONCURRENCY`: organization mode, or `None`.
/// `get` reads trimmed, non-empty values; `raw` the variables as set, so that `ACCOUNTS` set to
/// nothing is an error rather than the widest set.
fn central(
    get: &impl Fn(&str) -> Option<String>,
    raw: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Central>, ConfigError> {
    const ROLE_EXPECTED: &str = "a role name, optionally under a path, such as eks-node-role-guard-member or \
         security/eks-node-role-guard-member";
    const ACCOUNTS_EXPECTED: &str = "`organization` or a comma-separated list of 12-digit account ids";
    const CONCURRENCY_EXPECTED: &str = "a number from 1 to 64";
    let Some(role) = get("MEMBER_ROLE_NAME") else {
        for variable in ["ACCOUNTS", "ACCOUNT_CONCURRENCY"] {
            if let Some(v) = get(variable) {
                return Err(ConfigError::Invalid {
                    variable,
                    value: v,
                    problem: "organization mode is off because MEMBER_ROLE_NAME is unset".to_owned(),
                    expected: "MEMBER_ROLE_NAME set as well, or this variable unset",
                });
            }
        }
        return Ok(None);
    };
    let member_role = role.trim_matches('/').to_owned();
    let name = member_role.rsplit('/').next().unwrap_or_default();
    let valid = !name.is_empty()
        && name.len() <= 64
        && member_role.len() <= 512
        && !member_role.contains("//")
        && member_role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if !valid {
        return Err(invalid("MEMBER_ROLE_NAME", &role, "not a role name", ROLE_EXPECTED));
    }
    let accounts = match get("ACCOUNTS") {
        None if raw("ACCOUNTS").is_some() => {
            return Err(invalid("ACCOUNTS", "", "empty", ACCOUNTS_EXPECTED));
        }
        None => AccountSet::Organization,
        Some(v) if v == "organization" => AccountSet::Organization,
        Some(v) => {
            let ids = split_list(&v);
            if let Some(bad) = ids
                .iter()
                .find(|id| id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(invalid(
                    "ACCOUNTS",
                    &v,
                    &format!("{bad:?} is not an account id"),
                    ACCOUNTS_EXPECTED,
                ));
            }
            if ids.is_empty() {
                return Err(invalid("ACCOUNTS", &v, "no account id", ACCOUNTS_EXPECTED));
            }
            AccountSet::Listed(ids.into_iter().collect())
        }
    };
    let account_concurrency = match get("ACCOUNT_CONCURRENCY") {
        None => DEFAULT_ACCOUNT_CONCURRENCY,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => n,
            _ => return Err(invalid("ACCOUNT_CONCURRENCY", &v, "out of range", CONCURRENCY_EXPECTED)),
        },
    };
    Ok(Some(Central {
        member_role,
        accounts,
        account_concurrency,
    }))
}

fn invalid(variable: &'static str, value: &str, problem: &str, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        problem: problem.to_owned(),
        expected,
    }
}

fn split_list(value: &str) -> Vec<String> {
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

fn is_role_name_or_arn(s: &str) -> bool {
    if s.starts_with("arn:") {
        crate::types::arn::role_name_from_arn(s).is_some()
    } else {
        s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:guard";

    #[test]
    fn organization_mode_needs_a_member_role_and_valid_accounts() {
        let base = [("SNS_TOPIC_ARN", TOPIC), ("AWS_REGION", "us-east-1")];
        let with = |extra: &[(&str, &str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            config(&vars)
        };
        // off unless MEMBER_ROLE_NAME is set
        assert_eq!(with(&[]).expect("valid").central, None);
        let c = with(&[("MEMBER_ROLE_NAME", "/security/guard-member/")]).expect("valid");
        let central = c.central.expect("central mode");
        assert_eq!(central.member_role, "security/guard-member");
        assert_eq!(central.member_role_name(), "guard-member");
        assert_eq!(
            central.member_role_arn("aws-us-gov", "111122223333"),
            "arn:aws-us-gov:iam::111122223333:role/security/guard-member"
        );
        assert_eq!(central.accounts, AccountSet::Organization);
        assert_eq!(central.account_concurrency, 4);
        let c = with(&[
            ("MEMBER_ROLE_NAME", "guard-member"),
            ("ACCOUNTS", " 111122223333, 444455556666,111122223333"),
            ("ACCOUNT_CONCURRENCY", "8"),
        ])
        .expect("valid");
        let central = c.central.expect("central mode");
        assert_eq!(central.accounts.to_string(), "111122223333,444455556666");
        assert_eq!(central.account_concurrency, 8);
        // each bad value names its variable
        for (vars, variable) in [
            (vec![("ACCOUNTS", "111122223333")], "ACCOUNTS"),
            (vec![("ACCOUNT_CONCURRENCY", "2")], "ACCOUNT_CONCURRENCY"),
            (vec![("MEMBER_ROLE_NAME", "bad role")], "MEMBER_ROLE_NAME"),
            (vec![("MEMBER_ROLE_NAME", "a//b")], "MEMBER_ROLE_NAME"),
            (vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNTS", "1234")], "ACCOUNTS"),
            (vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNTS", " ")], "ACCOUNTS"),
            (
                vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNTS", "arn:aws:organizations")],
                "ACCOUNTS",
            ),
            (
                vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNT_CONCURRENCY", "0")],
                "ACCOUNT_CONCURRENCY",
            ),
        ] {
            match with(&vars) {
                Err(ConfigError::Invalid { variable: v, .. }) => assert_eq!(v, variable, "{vars:?}"),
                other => panic!("{vars:?}: expected an error naming {variable}, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_audit_is_always_dry_run_and_needs_no_topic() {
        let map: HashMap<&str, &str> = HashMap::from([("MODE", "enforce"), ("AWS_REGION", "eu-west-1")]);
        let c = Config::for_audit(|n| map.get(n).map(|v| (*v).to_owned())).expect("valid");
        assert_eq!(c.mode, Mode::DryRun);
        assert!(c.sns_topic_arn.is_empty());
        assert_eq!(c.scan_regions, vec!["eu-west-1"]);
        let bad: HashMap<&str, &str> = HashMap::from([("CNI_POLICY", "maybe"), ("AWS_REGION", "eu-west-1")]);
        assert!(matches!(
            Config::for_audit(|n| bad.get(n).map(|v| (*v).to_owned())),
            Err(ConfigError::Invalid {
                variable: "CNI_POLICY",
                ..
            })
        ));
    }

    #[test]
    fn defaults_are_safe() {
        // Given only the required topic and the Lambda-provided region
        let c = config(&[("SNS_TOPIC_ARN", TOPIC), ("AWS_REGION", "eu-west-1")]).expect("valid");
        // Then the dangerous behaviour is off and the defaults apply
        assert_eq!(c.mode, Mode::DryRun);
        assert_eq!(c.scan_regions, vec!["eu-west-1"]);
        assert_eq!(c.allowed_policies.len(), DEFAULT_ALLOWED_POLICIES.len());
        assert!(c.allowed_policies.contains("AmazonEKSWorkerNodePolicy"));
        assert!(c.exempt_roles.is_empty());
        assert_eq!(c.cni_policy, AddonPolicy::KeepIfNeeded);
        assert_eq!(c.addon_policies, AddonPolicy::KeepIfNeeded);
        assert!(!c.security_hub);
        assert_eq!(c.index_ttl, Duration::from_secs(300));
    }

    #[test]
    fn lists_are_trimmed_deduplicated_and_replace_defaults() {
        let c = config(&[
            ("SNS_TOPIC_ARN", TOPIC),
            ("MODE", "enforce"),
            ("SCAN_REGIONS", " us-east-1, us-west-2 ,us-east-1,"),
            ("ALLOWED_POLICIES", "AmazonEKSWorkerNodePolicy"),
            (
                "EXEMPT_ROLES",
                "legacy-nodes,arn:aws:iam::123456789012:role/eks/break-glass",
            ),
            ("CNI_POLICY", "deny"),
            ("INDEX_TTL_SECONDS", "0"),
        ])
        .expect("valid");
        assert_eq!(c.mode, Mode::Enforce);
        assert_eq!(c.scan_regions, vec!["us-east-1", "us-west-2"]);
        assert_eq!(
            c.allowed_policies.iter().collect::<Vec<_>>(),
            vec!["AmazonEKSWorkerNodePolicy"]
        );
        assert_eq!(c.exempt_roles.len(), 2);
        assert_eq!(c.cni_policy, AddonPolicy::Deny);
        assert_eq!(c.index_ttl, Duration::ZERO);
    }

    #[test]
    fn empty_values_mean_unset() {
        let c = config(&[
            ("SNS_TOPIC_ARN", TOPIC),
            ("AWS_REGION", "us-east-1"),
            ("MODE", ""),
            ("ALLOWED_POLICIES", " "),
            ("SCAN_REGIONS", ""),
        ])
        .expect("valid");
        assert_eq!(c.mode, Mode::DryRun);
        assert_eq!(c.allowed_policies.len(), DEFAULT_ALLOWED_POLICIES.len());
        assert_eq!(c.scan_regions, vec!["us-east-1"]);
    }

    #[test]
    fn every_error_names_the_variable_and_what_it_accepts() {
        let base = [("SNS_TOPIC_ARN", TOPIC), ("AWS_REGION", "us-east-1")];
        let cases: &[(&str, &str, &str)] = &[
            ("MODE", "Enforce", "dry-run"),
            ("MODE", "on", "enforce"),
            ("SNS_TOPIC_ARN", "guard-topic", "SNS topic ARN"),
            ("SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q", "SNS topic ARN"),
            ("SCAN_REGIONS", "us-east-1,Europe", "region codes"),
            ("SCAN_REGIONS", "us_east_1", "region codes"),
            (
                "ALLOWED_POLICIES",
                "arn:aws:iam::123456789012:policy/AmazonEKSWorkerNodePolicy",
                "customer-managed policies cannot be allowlisted",
            ),
            ("ALLOWED_POLICIES", "Amazon EKS", "AWS-managed policies"),
            ("ALLOWED_POLICIES", "service-role//X", "AWS-managed policies"),
            ("ADDON_POLICIES", "remove", "keep-if-needed"),
            ("EXEMPT_ROLES", "role with spaces", "role names or role ARNs"),
            (
                "EXEMPT_ROLES",
                "arn:aws:iam::123456789012:user/alice",
                "role names or role ARNs",
            ),
            ("CNI_POLICY", "maybe", "keep-if-needed"),
            ("INDEX_TTL_SECONDS", "five", "seconds"),
            ("DISCOVERY_CONCURRENCY", "0", "1 to 256"),
            ("SECURITY_HUB", "yes", "`off` or `on`"),
            ("FUNCTION_TIMEOUT_SECONDS", "0", "1 to 900"),
            ("FUNCTION_TIMEOUT_SECONDS", "2m", "1 to 900"),
        ];
        for (variable, value, expected) in cases {
            let mut vars = base.to_vec();
            vars.retain(|(k, _)| k != variable);
            vars.push((variable, value));
            let err = config(&vars).expect_err(&format!("{variable}={value} must be rejected"));
            let message = err.to_string();
            assert!(message.starts_with(variable), "{message:?} must name {variable}");
            assert!(
                message.contains(expected),
                "{message:?} must say it accepts {expected:?}"
            );
        }
    }

    #[test]
    fn allowlist_entries_are_names_paths_or_aws_managed_arns() {
        // Given a name, a name with its path and AWS-managed ARNs (any partition)
        let c = config(&[
            ("SNS_TOPIC_ARN", TOPIC),
            ("AWS_REGION", "us-east-1"),
            (
                "ALLOWED_POLICIES",
                "AmazonEKSWorkerNodePolicy, service-role/AmazonEFSCSIDriverPolicy,\
                 arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy,\
                 arn:aws-cn:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            ),
            ("ADDON_POLICIES", "deny"),
        ])
        .expect("valid");
        // Then ARNs are stored as their path and name
        assert_eq!(
            c.allowed_policies.iter().map(String::as_str).collect::<Vec<_>>(),
            vec![
                "AmazonEC2ContainerRegistryReadOnly",
                "AmazonEKSWorkerNodePolicy",
                "service-role/AmazonEBSCSIDriverPolicy",
                "service-role/AmazonEFSCSIDriverPolicy",
            ]
        );
        assert_eq!(c.addon_policies, AddonPolicy::Deny);
        assert_eq!(c.cni_policy, AddonPolicy::KeepIfNeeded);
    }

    #[test]
    fn missing_topic_and_region_are_reported_by_name() {
        let err = config(&[("AWS_REGION", "us-east-1")]).expect_err("topic required");
        assert!(err.to_string().starts_with("SNS_TOPIC_ARN is required"));
        let err = config(&[("SNS_TOPIC_ARN", TOPIC)]).expect_err("region required");
        assert!(err.to_string().starts_with("SCAN_REGIONS is required"));
    }
}
