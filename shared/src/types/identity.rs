//! Who the guard is: the account, partition and role its credentials act as.

use super::arn;

/// Who the function is: its account, partition and, when it runs as an assumed role, that role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub partition: String,
    /// The function's own execution role: never acted on.
    pub own_role: Option<String>,
    /// The caller's ARN as STS gives it (reports say who ran them).
    pub arn: String,
}

impl Identity {
    /// From `sts:GetCallerIdentity`'s ARN (`arn:aws:sts::123:assumed-role/Role/session`).
    pub fn from_caller_arn(account: &str, arn: &str) -> Self {
        let own_role = arn
            .split_once(":assumed-role/")
            .and_then(|(_, rest)| rest.split('/').next())
            .or_else(|| arn::role_name_from_arn(arn))
            .map(str::to_owned);
        Identity {
            account: account.to_owned(),
            partition: arn::partition(arn).unwrap_or("aws").to_owned(),
            own_role,
            arn: arn.to_owned(),
        }
    }
}
