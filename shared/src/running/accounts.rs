//! The accounts the guard acts in. A per-account deployment has one: its own. A central
//! deployment (`MEMBER_ROLE_NAME`, see [`crate::config::Central`]) also guards the member
//! accounts of its organization, each through a role it assumes there.
//!
//! [`Guarded`] is one account as the core sees it: IAM, EKS and Security Hub acting in that
//! account, the role those act as (never modified), and the node-role index and add-on facts
//! of that account. [`Members`] is the port that lists the organization's accounts and connects
//! to one; [`Accounts`] keeps a connection per member across warm invocations and renews it
//! before its credentials expire.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{AccountSet, Central};
use crate::discovery::IndexCache;
use crate::discovery::addons::AddonFacts;
use crate::ports::{Members, Ports};
use crate::types::{AwsError, Outcome};
use crate::verdict::check::{InAccount, Stop};

/// A connection is renewed when its credentials have less than this left: Lambda's longest
/// timeout, so an invocation that starts with them finishes before they expire.
pub const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(15 * 60);

/// One account the guard acts in.
pub struct Guarded<P: Ports> {
    pub id: String,
    pub iam: P::Iam,
    pub eks: P::Eks,
    pub ec2: P::Ec2,
    pub findings: P::Findings,
    /// The role these clients act as: the function's own role at home, the member role in a
    /// member account. Never modified.
    pub own_role: Option<String>,
    pub index: IndexCache,
    /// How each cluster's add-ons get credentials, reused across warm invocations.
    pub addon_facts: AddonFacts,
    /// When the credentials must be renewed; `None` for the function's own.
    renew_at: Option<SystemTime>,
}

impl<P: Ports> Guarded<P> {
    /// The function's own account, with its own credentials.
    pub fn home(
        id: &str,
        own_role: Option<String>,
        iam: P::Iam,
        eks: P::Eks,
        ec2: P::Ec2,
        findings: P::Findings,
        ttl: Duration,
    ) -> Self {
        Guarded {
            id: id.to_owned(),
            iam,
            eks,
            ec2,
            findings,
            own_role,
            index: IndexCache::new(ttl),
            addon_facts: AddonFacts::new(ttl),
            renew_at: None,
        }
    }

    /// This account as a check sees it.
    pub fn in_account(&self) -> InAccount<'_, P::Iam, P::Eks, P::Ec2> {
        InAccount {
            id: &self.id,
            own_role: self.own_role.as_deref(),
            iam: &self.iam,
            eks: &self.eks,
            ec2: &self.ec2,
            index: &self.index,
        }
    }

    fn fresh(&self, now: SystemTime) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }
}

/// Why an account could not be entered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnterError {
    /// Not among the guarded accounts: nothing to do there.
    #[error("account {account} is not among the accounts this deployment guards (ACCOUNTS={set})")]
    NotGuarded { account: String, set: String },
    /// The member's credentials could not be had.
    #[error("{context}: {source}")]
    Aws {
        context: String,
        #[source]
        source: AwsError,
    },
    /// Organizations could not be asked for the account list.
    #[error("the organization's account list could not be read: {source}; {ORGANIZATION_HINT}")]
    Unlisted {
        #[source]
        source: AwsError,
    },
    /// Organizations listed no active account: nothing was guarded, which is never "clean".
    #[error(
        "the organization's account list is empty: organizations:ListAccounts returned no ACTIVE account; {ORGANIZATION_HINT}"
    )]
    EmptyOrganization,
}

/// Where `ListAccounts` answers with the whole organization.
const ORGANIZATION_HINT: &str =
    "run from the organization's management account or a delegated administrator for AWS Organizations";

impl EnterError {
    /// An account outside the guarded set is ignored; one that cannot be entered failed, and so
    /// did every account when the organization's list is unreadable or empty.
    pub fn stop(self) -> Stop {
        match self {
            EnterError::NotGuarded { .. } => Stop::Outcome(Outcome::Ignored, self.to_string()),
            EnterError::Aws { context, source } => Stop::from_aws(&context, source),
            EnterError::Unlisted { source } if source.is_transient() => {
                Stop::Transient("listing the organization's accounts".to_owned(), source)
            }
            EnterError::Unlisted { .. } | EnterError::EmptyOrganization => {
                Stop::Outcome(Outcome::Failed, self.to_string())
            }
        }
    }
}

/// How old the account list must be before an unknown account makes it be asked again.
const RELIST_AFTER: Duration = Duration::from_secs(60);

/// The member accounts of a central deployment, with one connection per account.
pub struct Accounts<P: Ports> {
    members: P::Members,
    central: Central,
    partition: String,
    home: String,
    ttl: Duration,
    listed: Mutex<Option<(Instant, Arc<BTreeSet<String>>)>>,
    /// An account missing from a list at least this old makes it be asked again, so an
    /// account that just joined is not ignored until the TTL runs out.
    relist_after: Duration,
    /// One slot per account, so connecting to one does not wait for another.
    connected: Mutex<HashMap<String, Slot<P>>>,
}

/// One member's connection, filled on first use; held while connecting.
type Slot<P> = Arc<tokio::sync::Mutex<Option<Arc<Guarded<P>>>>>;

impl<P: Ports> Accounts<P> {
    /// `home` is the function's own account; `ttl` bounds how long the account list and each
    /// member's index are reused (`INDEX_TTL_SECONDS`).
    pub fn new(members: P::Members, central: Central, partition: &str, home: &str, ttl: Duration) -> Self {
        Accounts {
            members,
            central,
            partition: partition.to_owned(),
            home: home.to_owned(),
            ttl,
            listed: Mutex::new(None),
            relist_after: RELIST_AFTER,
            connected: Mutex::new(HashMap::new()),
        }
    }

    pub fn central(&self) -> &Central {
        &self.central
    }

    /// The guarded accounts, sorted: `ACCOUNTS`, or the organization's active accounts (asked
    /// again after the index TTL).
    pub async fn guarded(&self) -> Result<Arc<BTreeSet<String>>, EnterError> {
        if let AccountSet::Listed(ids) = &self.central.accounts {
            return Ok(Arc::new(ids.clone()));
        }
        if let Ok(listed) = self.listed.lock()
            && let Some((at, ids)) = listed.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(ids));
        }
        self.list().await
    }

    /// Asks Organizations for the active accounts and caches the answer. The one place the
    /// sweep, the audit and the event path learn the organization: an empty list is an error
    /// here (and is not cached), so none of them reads it as "nothing to guard".
    async fn list(&self) -> Result<Arc<BTreeSet<String>>, EnterError> {
        let ids: Arc<BTreeSet<String>> = Arc::new(
            self.members
                .organization_accounts()
                .await
                .map_err(|source| EnterError::Unlisted { source })?
                .into_iter()
                .collect(),
        );
        if ids.is_empty() {
            return Err(EnterError::EmptyOrganization);
        }
        if let Ok(mut listed) = self.listed.lock() {
            *listed = Some((Instant::now(), Arc::clone(&ids)));
        }
        Ok(ids)
    }

    /// Whether `account` is guarded, as an error that says why not.
    pub async fn check_guarded(&self, account: &str) -> Result<(), EnterError> {
        if self.guarded().await?.contains(account) || self.relisted_with(account).await? {
            Ok(())
        } else {
            Err(EnterError::NotGuarded {
                account: account.to_owned(),
                set: self.central.accounts.to_string(),
            })
        }
    }

    /// Whether `account` is in a fresh list of the organization, asked only when the cached one
    /// is older than `relist_after` (an unguarded account's events cost at most one
    /// `ListAccounts` per that interval).
    async fn relisted_with(&self, account: &str) -> Result<bool, EnterError> {
        if !matches!(self.central.accounts, AccountSet::Organization) {
            return Ok(false);
        }
        let stale = match self.listed.lock() {
            Ok(listed) => listed.as_ref().is_none_or(|(at, _)| at.elapsed() >= self.relist_after),
            Err(_) => true,
        };
        Ok(stale && self.list().await?.contains(account))
    }

    /// A member account (not the home account), connected or renewed as needed.
    pub async fn enter(&self, account: &str) -> Result<Arc<Guarded<P>>, EnterError> {
        debug_assert_ne!(
            account, self.home,
            "the home account uses the function's own credentials"
        );
        let slot = match self.connected.lock() {
            Ok(mut connected) => Arc::clone(connected.entry(account.to_owned()).or_default()),
            // a poisoned lock only costs the cache
            Err(_) => Arc::default(),
        };
        let mut slot = slot.lock().await;
        if let Some(guarded) = slot.as_ref().filter(|g| g.fresh(SystemTime::now())) {
            return Ok(Arc::clone(guarded));
        }
        let role_arn = self.central.member_role_arn(&self.partition, account);
        let connection = self
            .members
            .connect(account, &role_arn)
            .await
            .map_err(|source| EnterError::Aws {
                context: format!("assuming {role_arn}"),
                source,
            })?;
        let renew_at = connection
            .expires
            .checked_sub(RENEW_BEFORE_EXPIRY)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let guarded = Arc::new(Guarded {
            id: account.to_owned(),
            iam: connection.iam,
            eks: connection.eks,
            ec2: connection.ec2,
            findings: connection.findings,
            own_role: Some(self.central.member_role_name().to_owned()),
            index: IndexCache::new(self.ttl),
            addon_facts: AddonFacts::new(self.ttl),
            renew_at: Some(renew_at),
        });
        *slot = Some(Arc::clone(&guarded));
        Ok(guarded)
    }
}

#[cfg(test)]
mod tests;
