//! [`Accounts`] over counting fakes: connections reused and renewed, the guarded set listed
//! or asked of the organization, and an empty or unreadable organization refused.

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::ports::fakes::{FakeEc2, FakeEks, FakeIam, FakeNotifier};
use crate::ports::{Connection, NoFindings, NoTrails};
use crate::types::{AwsResult, ErrorKind};

/// A port set whose members are [`Counting`].
struct CountingSet;
impl Ports for CountingSet {
    type Iam = FakeIam;
    type Eks = FakeEks;
    type Ec2 = FakeEc2;
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
            ec2: FakeEc2::default(),
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
