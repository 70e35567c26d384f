//! Heavy throttling, injected at the HTTP layer between the real SDK clients and the emulator
//! (`Proxy`): at 30% and 50% of all requests throttled, every violation is removed
//! within an invocation and Lambda's two retries, no deleted inline policy is missing from the
//! notifications, and decoys are untouched; at 95%, every invocation answers before its deadline
//! with its partial Report logged, and the account converges once throttling stops.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use noderole::Remediator;

use noderole::invocation::deadline::Budget;
use noderole_integration::Proxy;
use noderole_integration::*;
use serde_json::Value;

/// The invocation and Lambda's two asynchronous retries.
const ATTEMPTS: usize = 3;
const DEBUG_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
const DELIVERY: Duration = Duration::from_secs(10);

struct Scenario {
    account: Account,
    proxy: Proxy,
    guard: AwsRemediator,
    inbox: Inbox,
    node_roles: Vec<String>,
    decoy: String,
    /// Every EMF line the guard wrote: one per finished invocation, written after its Report
    /// was logged.
    emf: Arc<Mutex<Vec<Value>>>,
}

/// Three node roles with `AdministratorAccess` and an inline `debug` policy, and a decoy role
/// (EC2 trust, no node group) with the same; the guard in enforce mode behind the proxy.
async fn scenario(fraction: f64, seed: u64) -> Scenario {
    let moto = Moto::shared();
    let account = Account::new(moto).await;
    let mut node_roles = Vec::new();
    for _ in 0..3 {
        let role = unique("throttled-node");
        node_role_named_in_cluster(&account, &role, &[]).await;
        account.attach(&role, &aws_managed(ADMIN)).await.unwrap();
        account.put_inline(&role, "debug", DEBUG_POLICY).await.unwrap();
        node_roles.push(role);
    }
    let decoy = unique("throttled-decoy");
    account.role(&decoy, "/", EC2_TRUST, &[ADMIN]).await.unwrap();
    account.put_inline(&decoy, "debug", DEBUG_POLICY).await.unwrap();
    let inbox = account.inbox().await.unwrap();

    // The guard is built (one STS call) before throttling starts.
    let proxy = Proxy::start(&moto.endpoint, 0.0, seed).unwrap();
    let sdk = sdk_for(&proxy.endpoint).await;
    let emf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&emf);
    let config = config(&inbox.topic_arn, &[("MODE", "enforce"), ("SCAN_REGIONS", REGION)]);
    let (identity, adapters) = noderole::aws::adapters(&sdk, &config).await.unwrap();
    let guard = Remediator::new(config, identity, adapters)
        .with_metrics(move |line| sink.lock().unwrap().push(serde_json::from_str(line).unwrap()));
    proxy.set_fraction(fraction);
    Scenario {
        account,
        proxy,
        guard,
        inbox,
        node_roles,
        decoy,
        emf,
    }
}

/// No node role keeps `AdministratorAccess` or its inline policy, the decoy keeps both, and
/// every deleted inline policy's backup, with its restore command, reached the topic.
async fn assert_converged(s: &Scenario) {
    for role in &s.node_roles {
        let attached = s.account.attached(role).await.unwrap();
        assert!(!attached.contains(&aws_managed(ADMIN)), "{role}: {attached:?}");
        assert!(s.account.inline(role).await.unwrap().is_empty(), "{role}");
    }
    assert_eq!(s.account.attached(&s.decoy).await.unwrap(), vec![aws_managed(ADMIN)]);
    assert_eq!(s.account.inline(&s.decoy).await.unwrap(), vec!["debug".to_owned()]);
    let notes = s.inbox.drain(DELIVERY).await.unwrap();
    let backed_up: BTreeSet<String> = notes
        .iter()
        .flat_map(|n| {
            n.report["deleted_inline_policies"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|b| {
            b["restore_command"]
                .as_str()
                .is_some_and(|c| c.contains("put-role-policy"))
        })
        .filter_map(|b| b["role_name"].as_str().map(str::to_owned))
        .collect();
    let deleted: BTreeSet<String> = s.node_roles.iter().cloned().collect();
    assert_eq!(backed_up, deleted, "{notes:#?}");
}

/// Delivers `event` as Lambda would: again after a retryable error, at most [`ATTEMPTS`] times.
/// Returns how many attempts it took (`None` if all failed) and the Reports returned.
async fn deliver(guard: &AwsRemediator, event: &Value, budget: Duration) -> (Option<usize>, Vec<Value>) {
    let mut reports = Vec::new();
    for attempt in 1..=ATTEMPTS {
        match guard.handle_within(event, Budget::lasting(budget)).await {
            Ok(report) => {
                reports.push(json_of(&report));
                return (Some(attempt), reports);
            }
            Err(e) => assert_eq!(e.error_type(), "TransientAwsError", "{e}"),
        }
    }
    (None, reports)
}

async fn converges_within_lambda_retries(fraction: f64, seed: u64) {
    // Given node roles with violations and a decoy, and `fraction` of all requests throttled
    let s = scenario(fraction, seed).await;

    // When each role's AttachRolePolicy and PutRolePolicy events are delivered
    let mut attempts = Vec::new();
    for role in &s.node_roles {
        for event in [
            attach_event(role, &aws_managed(ADMIN)),
            put_event(role, "debug", DEBUG_POLICY),
        ] {
            let (took, _) = deliver(&s.guard, &event, Duration::from_secs(120)).await;
            attempts.push(took);
        }
    }
    let decoy_event = attach_event(&s.decoy, &aws_managed(ADMIN));
    let (decoy_took, _) = deliver(&s.guard, &decoy_event, Duration::from_secs(120)).await;

    // Then every event converged within Lambda's retries, and the throttling was real
    assert!(attempts.iter().all(Option::is_some), "attempts per event: {attempts:?}");
    let attempts_per_event: Vec<usize> = attempts.iter().flatten().copied().collect();
    assert!(decoy_took.is_some());
    let seen = s.proxy.seen();
    assert!(seen.total_throttled() > 0, "{seen:?}");
    let measured = seen.total_throttled() as f64 / (seen.total_throttled() + seen.total_forwarded()) as f64;
    assert!(
        (measured - fraction).abs() < 0.15,
        "throttled {measured:.2} of requests, wanted {fraction}"
    );

    // and every violation is gone, the decoy untouched, every deleted inline policy backed up
    assert_converged(&s).await;

    // and the metrics counted the throttled attempts and the SDK's retries
    let emf = s.emf.lock().unwrap().clone();
    let throttled: u64 = emf.iter().map(|d| d["Throttled"].as_u64().unwrap()).sum();
    let attempts: u64 = emf.iter().map(|d| d["ApiAttempts"].as_u64().unwrap()).sum();
    let calls: u64 = emf.iter().map(|d| d["ApiCalls"].as_u64().unwrap()).sum();
    assert!(
        throttled > 0 && attempts > calls,
        "throttled {throttled}, attempts {attempts}, calls {calls}"
    );
    let mut durations: Vec<u64> = emf.iter().map(|d| d["DurationMs"].as_u64().unwrap()).collect();
    durations.sort_unstable();
    eprintln!(
        "throttled {fraction}: invocations {}, attempts per event {attempts_per_event:?}, API calls {calls}, \
         HTTP attempts {attempts}, throttled {throttled}, invocation ms p50 {} max {}",
        emf.len(),
        durations[durations.len() / 2],
        durations[durations.len() - 1],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_percent_throttled_converges_within_lambda_retries() {
    converges_within_lambda_retries(0.30, 30).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn half_throttled_converges_within_lambda_retries() {
    converges_within_lambda_retries(0.50, 50).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn near_total_throttling_answers_before_the_deadline_and_converges_after() {
    // Given 95% of all requests throttled and an invocation budget of 6 s
    let s = scenario(0.95, 95).await;
    let budget = Duration::from_secs(6);

    // When each role's event is delivered (each attempt within its own budget)
    let events: Vec<Value> = s
        .node_roles
        .iter()
        .map(|role| attach_event(role, &aws_managed(ADMIN)))
        .collect();
    let mut invocations = 0;
    for event in &events {
        for _ in 0..ATTEMPTS {
            let started = Instant::now();
            let result = s.guard.handle_within(event, Budget::lasting(budget)).await;
            invocations += 1;
            // Then each answers before its deadline
            assert!(started.elapsed() < budget, "took {:?}", started.elapsed());
            match result {
                Ok(_) => break,
                Err(e) => assert_eq!(e.error_type(), "TransientAwsError", "{e}"),
            }
        }
    }
    // with its (partial) Report logged: one EMF line per invocation, written after the log line
    let emf = s.emf.lock().unwrap().clone();
    assert_eq!(emf.len(), invocations, "{emf:#?}");
    assert!(emf.iter().any(|d| d["Throttled"].as_u64().unwrap() > 0));
    assert!(
        emf.iter().any(|d| d["DeadlineReached"] == 1),
        "at 95% some invocation must have run into its budget: {emf:#?}"
    );

    // When throttling stops and Lambda's retries and the next sweep run
    s.proxy.set_fraction(0.0);
    for event in &events {
        let (took, _) = deliver(&s.guard, event, Duration::from_secs(120)).await;
        assert_eq!(took, Some(1), "without throttling every event succeeds at once");
    }

    // Then the account has converged: no violation left, the decoy untouched, and every inline
    // policy deleted along the way backed up in a notification
    assert_converged(&s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_the_budget_is_refused_before_it_is_sent_but_the_notification_goes_out() {
    use noderole::invocation::deadline;
    use noderole::ports::{Iam, Notifier};
    use noderole::types::Notification;

    let moto = Moto::shared();
    let account = Account::new(moto).await;
    let role = unique("budget-node");
    account.node_role(&role, &[ADMIN]).await.unwrap();
    let inbox = account.inbox().await.unwrap();
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1).unwrap();
    let sdk = sdk_for(&proxy.endpoint).await;
    let iam = noderole::aws::IamClient::new(&sdk);
    let sns = noderole::aws::SnsTopic::new(&sdk, &inbox.topic_arn);

    // Past the point where work stops, an IAM write is refused before anything is sent, as a
    // transient error named for the deadline (so the invocation is retried)
    let spent = Budget::lasting(Duration::ZERO);
    let refused = deadline::within(spent, iam.detach(&role, &aws_managed(ADMIN)))
        .await
        .expect_err("refused");
    assert_eq!(refused.code.as_deref(), Some(deadline::CODE), "{refused}");
    assert!(refused.is_transient());
    assert_eq!(proxy.seen().total_forwarded(), 0, "nothing reached AWS");
    assert!(account.attached(&role).await.unwrap().contains(&aws_managed(ADMIN)));

    // but the notification, which the reserve is for, still goes out
    let note = Notification {
        subject: "budget test".to_owned(),
        message: serde_json::json!({"default": "x", "sqs": "{}"}).to_string(),
        attributes: vec![],
    };
    deadline::within(spent, sns.publish(&note)).await.expect("published");
    assert_eq!(proxy.seen().forwarded.get("sns"), Some(&1));
}
