//! Organization (central) mode: which member accounts a central deployment guards, the role it
//! assumes in each, and how many it sweeps at once (`MEMBER_ROLE_NAME`, `ACCOUNTS`,
//! `ACCOUNT_CONCURRENCY`).

use std::collections::BTreeSet;
use std::fmt;

use super::ConfigError;
use super::parse::{Vars, invalid, split_list};

const DEFAULT_ACCOUNT_CONCURRENCY: usize = 4;

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

/// `MEMBER_ROLE_NAME`, `ACCOUNTS` and `ACCOUNT_CONCURRENCY`: organization mode, or `None` when
/// `MEMBER_ROLE_NAME` is unset (and then the other two must be unset as well).
pub(super) fn central(vars: &Vars<'_>) -> Result<Option<Central>, ConfigError> {
    let Some(role) = vars.get("MEMBER_ROLE_NAME") else {
        for variable in ["ACCOUNTS", "ACCOUNT_CONCURRENCY"] {
            if let Some(v) = vars.get(variable) {
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
    Ok(Some(Central {
        member_role: member_role(&role)?,
        accounts: accounts(vars)?,
        account_concurrency: account_concurrency(vars.get("ACCOUNT_CONCURRENCY"))?,
    }))
}

/// `MEMBER_ROLE_NAME`: a role name, maybe under a path; surrounding slashes are dropped.
fn member_role(role: &str) -> Result<String, ConfigError> {
    const ROLE_EXPECTED: &str = "a role name, optionally under a path, such as eks-node-role-guard-member or \
         security/eks-node-role-guard-member";
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
        return Err(invalid("MEMBER_ROLE_NAME", role, "not a role name", ROLE_EXPECTED));
    }
    Ok(member_role)
}

/// `ACCOUNTS`: unset or `organization` for the whole organization, else account ids. Set to
/// nothing at all is an error rather than the widest set.
fn accounts(vars: &Vars<'_>) -> Result<AccountSet, ConfigError> {
    const ACCOUNTS_EXPECTED: &str = "`organization` or a comma-separated list of 12-digit account ids";
    match vars.get("ACCOUNTS") {
        None if vars.is_set("ACCOUNTS") => Err(invalid("ACCOUNTS", "", "empty", ACCOUNTS_EXPECTED)),
        None => Ok(AccountSet::Organization),
        Some(v) if v == "organization" => Ok(AccountSet::Organization),
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
            Ok(AccountSet::Listed(ids.into_iter().collect()))
        }
    }
}

/// `ACCOUNT_CONCURRENCY`: 1 to 64 member accounts at once.
fn account_concurrency(value: Option<String>) -> Result<usize, ConfigError> {
    const CONCURRENCY_EXPECTED: &str = "a number from 1 to 64";
    let Some(v) = value else {
        return Ok(DEFAULT_ACCOUNT_CONCURRENCY);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(invalid("ACCOUNT_CONCURRENCY", &v, "out of range", CONCURRENCY_EXPECTED)),
    }
}
