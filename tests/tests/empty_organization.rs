//! Organization mode when Organizations names no account to guard: the audit exits 2 with one
//! sentence and the function's sweep fails and is notified; neither reads "no account" as
//! "nothing to fix". The empty list comes from moto itself (a caller in no organization: moto
//! lists nothing where AWS refuses) and from the proxy in front of it, answering `ListAccounts`
//! with no account for a caller whose organization moto would list; a refused list comes from
//! the proxy too.

use std::time::Duration;

use noderole_integration::*;

const DELIVERY: Duration = Duration::from_secs(10);

/// A node role with administrator access in a cluster of the caller's account, and a proxy
/// whose `ListAccounts` lists no account.
async fn an_account_whose_organization_lists_nothing(moto: &Moto) -> Proxy {
    let account = Account::new(moto).await;
    node_role_in_cluster(&account, &[ADMIN]).await;
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1).expect("proxy");
    proxy.answer("organizations:ListAccounts", r#"{"Accounts":[]}"#);
    proxy
}

fn organization_audit(endpoint: &str) -> CliRun {
    run_cli(
        endpoint,
        &[
            "audit",
            "--regions",
            REGION,
            "--member-role",
            "security/auditor",
            "--accounts",
            "organization",
            "--exit-code",
        ],
    )
    .expect("ran")
}

/// Exit 2 and one `error:` line on stderr; returns it.
fn one_error(run: &CliRun) -> String {
    assert_eq!(run.code, 2, "{run:?}");
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(!run.stdout.contains("node roles"), "no report of zero roles: {run:?}");
    errors[0].to_owned()
}

#[test]
fn the_audit_of_an_empty_organization_exits_2_and_says_where_to_run_it() {
    // Given an organization whose account list comes back empty
    let moto = Moto::shared();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = runtime.block_on(an_account_whose_organization_lists_nothing(moto));

    // When the organization is audited
    let run = organization_audit(&proxy.endpoint);

    // Then it is an error naming the empty list and where the audit must run
    let line = one_error(&run);
    assert!(line.contains("the organization's account list is empty"), "{line}");
    assert!(
        line.contains("management account or a delegated administrator"),
        "{line}"
    );
    // it was Organizations' answer, and no account was entered
    let seen = proxy.seen();
    assert_eq!(seen.answered.get("organizations"), Some(&1), "{seen:?}");
    assert!(!seen.operations.contains_key("sts:AssumeRole"), "{seen:?}");
}

#[test]
fn the_audit_from_outside_any_organization_exits_2_too() {
    // Given a caller whose account belongs to no organization: moto's own ListAccounts answers
    // with an empty list (AWS refuses with AWSOrganizationsNotInUseException)
    let moto = Moto::shared();

    // When the organization is audited
    let run = organization_audit(&moto.endpoint);

    // Then the empty list is the error, not a clean audit
    let line = one_error(&run);
    assert!(line.contains("the organization's account list is empty"), "{line}");
}

#[test]
fn the_audit_refused_the_account_list_exits_2_with_the_same_hint() {
    // Given a caller Organizations refuses (a member account, or a policy without the action)
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1).expect("proxy");
    proxy.deny("organizations:ListAccounts");

    // When the organization is audited
    let run = organization_audit(&proxy.endpoint);

    // Then the list could not be read, and the hint is the same
    let line = one_error(&run);
    assert!(
        line.contains("the organization's account list could not be read"),
        "{line}"
    );
    assert!(line.contains("access denied"), "{line}");
    assert!(line.contains("delegated administrator"), "{line}");
}

#[tokio::test]
async fn the_sweep_of_an_empty_organization_fails_and_is_notified() {
    // Given a central guard whose organization lists no account
    let moto = Moto::shared();
    let proxy = an_account_whose_organization_lists_nothing(moto).await;
    let inbox = Account::new(moto).await.inbox().await.expect("inbox");
    let central = Account::at(&proxy.endpoint).await;
    let guard = remediator(
        &central,
        config(
            &inbox.topic_arn,
            &[
                ("MEMBER_ROLE_NAME", "security/guard-member"),
                ("ACCOUNTS", "organization"),
            ],
        ),
    )
    .await;

    // When the schedule sweeps
    let report = json_of(
        &guard
            .handle(&event_file("scheduled-sweep.json"))
            .await
            .expect("a report"),
    );

    // Then the sweep failed, not a clean sweep of nothing
    assert_eq!(report["outcome"], "failed", "{report:#}");
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("the organization's account list is empty"),
        "{reason}"
    );
    assert!(report["roles"].as_array().is_none_or(Vec::is_empty), "{report:#}");

    // and the security team hears about it
    let notes = inbox.drain(DELIVERY).await.expect("inbox");
    let failed: Vec<&Received> = notes.iter().filter(|n| n.report["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{notes:?}");
    assert_eq!(failed[0].report["reason"], report["reason"]);
}
