//! Per-invocation tally of AWS API calls by `service:Operation`, of the attempts they took (a
//! call retried by the SDK is one call and several attempts), and of the attempts AWS answered
//! with throttling.
//!
//! The SDK interceptor in `aws` records into the tally of the invocation it runs in (a
//! task-local), so concurrent invocations in one process keep separate counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What one invocation asked of AWS.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub calls: BTreeMap<String, u64>,
    /// HTTP attempts, retries included.
    pub attempts: u64,
    /// Attempts answered with a throttling error.
    pub throttled: u64,
}

tokio::task_local! {
    static TALLY: Arc<Mutex<Tally>>;
}

/// Runs `work`, returning its output and what it asked of AWS.
pub async fn counted<T>(work: impl Future<Output = T>) -> (T, Tally) {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let output = TALLY.scope(Arc::clone(&tally), work).await;
    let tally = tally.lock().map(|t| t.clone()).unwrap_or_default();
    (output, tally)
}

fn with_tally(update: impl FnOnce(&mut Tally)) {
    let _ = TALLY.try_with(|tally| {
        if let Ok(mut tally) = tally.lock() {
            update(&mut tally);
        }
    });
}

/// Records one call; a call outside [`counted`] is not counted.
pub fn record(service: &str, operation: &str) {
    with_tally(|t| {
        *t.calls
            .entry(format!("{}:{operation}", service.to_ascii_lowercase()))
            .or_default() += 1;
    });
}

/// Records one HTTP attempt, and whether AWS throttled it.
pub fn record_attempt(throttled: bool) {
    with_tally(|t| {
        t.attempts += 1;
        t.throttled += u64::from(throttled);
    });
}

/// Attempts AWS has throttled so far in the running invocation (0 outside [`counted`]).
pub fn throttled_so_far() -> u64 {
    TALLY
        .try_with(|tally| tally.lock().map(|t| t.throttled).unwrap_or_default())
        .unwrap_or_default()
}

/// Calls made to discover node roles (EKS), as opposed to reading and fixing a role.
pub fn discovery_calls(calls: &BTreeMap<String, u64>) -> u64 {
    calls
        .iter()
        .filter(|(op, _)| op.starts_with("eks:"))
        .map(|(_, n)| n)
        .sum()
}
