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
        findings: P::Findings,
        ttl: Duration,
    ) -> Self {
        Guarded {
            id: id.to_owned(),
            iam,
            eks,
            findings,
            own_role,
            index: IndexCache::new(ttl),
            addon_facts: AddonFacts::new(ttl),
            renew_at: None,
        }
    }

    /// This account as a check sees it.
    pub fn in_account(&self) -> InAccount<'_, P::Iam, P::Eks> {
        InAccount {
            id: &self.id,
            own_role: self.own_role.as_deref(),
            iam: &self.iam,
            eks: &self.eks,
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
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ports::fakes::{FakeEks, FakeIam, FakeNotifier};
    use crate::ports::{Connection, NoFindings, NoTrails};
    use crate::types::{AwsResult, ErrorKind};

    /// A port set whose members are [`Counting`].
    struct CountingSet;
    impl Ports for CountingSet {
        type Iam = FakeIam;
        type Eks = FakeEks;
        type Findings = NoFindings;
        type Notifier = FakeNotifier;
        type Trails = NoTrails;
        type Members = Counting;
    }

    /// Connections whose credentials last `lifetime`; counts connects; denies `denied`.
    struct Counting {
        connects: AtomicU32,
        lists: AtomicU32,
        lifetime: Duration,
        denied: &'static str,
        /// What `ListAccounts` answers instead of the organization, when set.
        listing: Option<AwsResult<Vec<String>>>,
    }

    impl Members<CountingSet> for Counting {
        async fn organization_accounts(&self) -> AwsResult<Vec<String>> {
            let earlier = self.lists.fetch_add(1, Ordering::SeqCst);
            if let Some(listing) = &self.listing {
                return listing.clone();
            }
            let mut ids = vec!["111111111111".to_owned(), "222222222222".to_owned()];
            if earlier > 0 {
                // joined the organization after the first listing
                ids.push("444444444444".to_owned());
            }
            Ok(ids)
        }

        async fn connect(&self, account: &str, role_arn: &str) -> AwsResult<Connection<CountingSet>> {
            self.connects.fetch_add(1, Ordering::SeqCst);
            assert_eq!(role_arn, format!("arn:aws:iam::{account}:role/sec/member"));
            if account == self.denied {
                return Err(AwsError {
                    operation: "sts:AssumeRole",
                    kind: ErrorKind::Denied,
                    code: Some("AccessDenied".to_owned()),
                    message: "not authorized".to_owned(),
                });
            }
            Ok(Connection {
                iam: FakeIam::default(),
                eks: FakeEks::default(),
                findings: NoFindings,
                expires: SystemTime::now() + self.lifetime,
            })
        }
    }

    fn accounts(lifetime: Duration, set: AccountSet) -> Accounts<CountingSet> {
        let members = Counting {
            connects: AtomicU32::new(0),
            lists: AtomicU32::new(0),
            lifetime,
            denied: "333333333333",
            listing: None,
        };
        let central = Central {
            member_role: "sec/member".to_owned(),
            accounts: set,
            account_concurrency: 2,
        };
        Accounts::new(members, central, "aws", "999999999999", Duration::from_secs(300))
    }

    #[tokio::test]
    async fn a_connection_is_reused_until_it_nears_expiry() {
        // Given credentials that last an hour: one AssumeRole serves every later invocation
        let long = accounts(Duration::from_secs(3600), AccountSet::Organization);
        let first = long.enter("111111111111").await.expect("connected");
        let again = long.enter("111111111111").await.expect("connected");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(long.members.connects.load(Ordering::SeqCst), 1);
        assert_eq!(
            first.own_role.as_deref(),
            Some("member"),
            "the member role is never acted on"
        );
        // Given credentials with less left than the longest invocation: renewed at each use
        let short = accounts(RENEW_BEFORE_EXPIRY - Duration::from_secs(1), AccountSet::Organization);
        short.enter("111111111111").await.expect("connected");
        short.enter("111111111111").await.expect("connected");
        assert_eq!(short.members.connects.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_denied_member_is_an_error_that_names_the_role_and_is_not_cached() {
        let a = accounts(Duration::from_secs(3600), AccountSet::Organization);
        let err = a.enter("333333333333").await.err().expect("denied");
        assert!(
            err.to_string()
                .contains("assuming arn:aws:iam::333333333333:role/sec/member"),
            "{err}"
        );
        assert!(matches!(err, EnterError::Aws { ref source, .. } if source.kind == ErrorKind::Denied));
        a.enter("333333333333").await.err().expect("still denied");
        assert_eq!(a.members.connects.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_guarded_set_is_the_list_or_the_organization_cached() {
        let org = accounts(Duration::from_secs(3600), AccountSet::Organization);
        org.check_guarded("111111111111").await.expect("in the organization");
        let err = org.check_guarded("444444444444").await.expect_err("outside");
        assert!(err.to_string().contains("ACCOUNTS=organization"), "{err}");
        assert_eq!(
            org.members.lists.load(Ordering::SeqCst),
            1,
            "listed once within the TTL"
        );

        // an account that joined since the list was cached: asked again once the list is old
        // enough, so its events are not ignored until the TTL runs out
        let mut joined = accounts(Duration::from_secs(3600), AccountSet::Organization);
        joined.relist_after = Duration::ZERO;
        joined.check_guarded("111111111111").await.expect("in the organization");
        joined.check_guarded("444444444444").await.expect("joined since");
        assert_eq!(joined.members.lists.load(Ordering::SeqCst), 2);
        joined.check_guarded("444444444444").await.expect("now cached");
        assert_eq!(joined.members.lists.load(Ordering::SeqCst), 2);

        let listed = accounts(
            Duration::from_secs(3600),
            AccountSet::Listed(["222222222222".to_owned()].into()),
        );
        listed.check_guarded("222222222222").await.expect("listed");
        assert!(listed.check_guarded("111111111111").await.is_err());
        assert_eq!(
            listed.members.lists.load(Ordering::SeqCst),
            0,
            "a list needs no Organizations call"
        );
    }

    fn listing(listing: AwsResult<Vec<String>>) -> Accounts<CountingSet> {
        let mut a = accounts(Duration::from_secs(3600), AccountSet::Organization);
        a.members.listing = Some(listing);
        a
    }

    fn organizations_error(kind: ErrorKind, code: &str) -> AwsError {
        AwsError {
            operation: "organizations:ListAccounts",
            kind,
            code: Some(code.to_owned()),
            message: "Your account is not a member of an organization.".to_owned(),
        }
    }

    #[tokio::test]
    async fn an_empty_organization_is_an_error_never_nothing_to_guard() {
        // Given an organization whose ListAccounts lists no active account
        let empty = listing(Ok(Vec::new()));

        // When the sweep or the audit asks for the guarded accounts, twice
        let err = empty.guarded().await.expect_err("empty is an error");
        empty.guarded().await.expect_err("still an error");

        // Then it is the empty list, with the hint, asked again each time (never cached)
        assert!(matches!(err, EnterError::EmptyOrganization), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("the organization's account list is empty: "), "{text}");
        assert!(
            text.contains("management account or a delegated administrator"),
            "{text}"
        );
        assert_eq!(empty.members.lists.load(Ordering::SeqCst), 2);
        // and the run it stops has failed, which the function notifies
        assert!(matches!(err.stop(), Stop::Outcome(Outcome::Failed, ref reason) if reason == &text));
        // and an event from any account fails the same way instead of being ignored
        let event = empty.check_guarded("111111111111").await.expect_err("not ignored");
        assert!(matches!(event, EnterError::EmptyOrganization), "{event:?}");

        // an explicit ACCOUNTS list needs no Organizations answer
        let listed = accounts(
            Duration::from_secs(3600),
            AccountSet::Listed(["222222222222".to_owned()].into()),
        );
        assert_eq!(listed.guarded().await.expect("listed").len(), 1);
    }

    #[tokio::test]
    async fn an_unreadable_organization_fails_with_the_hint_or_is_retried() {
        // Given a caller Organizations refuses (not the management account)
        let denied = listing(Err(organizations_error(
            ErrorKind::Rejected,
            "AWSOrganizationsNotInUseException",
        )));
        let err = denied.guarded().await.expect_err("unreadable");
        let text = err.to_string();
        assert!(
            text.starts_with("the organization's account list could not be read: organizations:ListAccounts"),
            "{text}"
        );
        assert!(text.contains("not a member of an organization"), "{text}");
        assert!(text.contains("delegated administrator"), "{text}");
        assert!(matches!(err.stop(), Stop::Outcome(Outcome::Failed, _)));

        // Given throttling: a retry could fix it
        let throttled = listing(Err(organizations_error(
            ErrorKind::Transient,
            "TooManyRequestsException",
        )));
        let stop = throttled.guarded().await.expect_err("throttled").stop();
        assert!(matches!(stop, Stop::Transient(..)), "a retry could fix it");
    }
}
