use aws_config::SdkConfig;
use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

use super::{CountCalls, classify};
use crate::types::AwsResult;

/// AWS Organizations, for `ACCOUNTS=organization`: callable from the management account or a
/// delegated administrator.
#[derive(Debug, Clone)]
pub struct Organization {
    client: Client,
}

impl Organization {
    pub fn new(sdk: &SdkConfig) -> Self {
        let conf = aws_sdk_organizations::config::Builder::from(sdk)
            .retry_partition(super::retry_partition("organizations".to_owned()))
            .interceptor(CountCalls)
            .build();
        Organization {
            client: Client::from_conf(conf),
        }
    }

    /// Ids of the ACTIVE accounts, all pages (suspended and closing accounts are left out). An
    /// empty answer is returned as it came: [`crate::running::accounts::Accounts`] decides that
    /// it is an error, for the sweep and the audit alike.
    pub async fn active_accounts(&self) -> AwsResult<Vec<String>> {
        let mut pages = self.client.list_accounts().into_paginator().send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("organizations:ListAccounts", &e))?;
            ids.extend(
                page.accounts
                    .unwrap_or_default()
                    .into_iter()
                    .filter(is_active)
                    .filter_map(|a| a.id),
            );
        }
        Ok(ids)
    }
}

/// `State` ACTIVE; responses without `State` (it replaced the deprecated `Status`) by `Status`.
fn is_active(account: &Account) -> bool {
    match account.state() {
        Some(state) => *state == AccountState::Active,
        None => account.status() == Some(&AccountStatus::Active),
    }
}
