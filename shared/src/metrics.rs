//! Per-invocation count of AWS API calls by `service:Operation`.
//!
//! The SDK interceptor in `aws::calls` records every call into the counter of the invocation
//! it runs in (a task-local), so concurrent invocations in one process keep separate counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static CALLS: Arc<Mutex<BTreeMap<String, u64>>>;
}

/// Runs `work`, returning its output and the API calls it made.
pub async fn counted<T>(work: impl Future<Output = T>) -> (T, BTreeMap<String, u64>) {
    let calls = Arc::new(Mutex::new(BTreeMap::new()));
    let output = CALLS.scope(Arc::clone(&calls), work).await;
    let counts = calls.lock().map(|c| c.clone()).unwrap_or_default();
    (output, counts)
}

/// Records one call; a call outside [`counted`] is not counted.
pub fn record(service: &str, operation: &str) {
    let _ = CALLS.try_with(|calls| {
        if let Ok(mut calls) = calls.lock() {
            *calls
                .entry(format!("{}:{operation}", service.to_ascii_lowercase()))
                .or_default() += 1;
        }
    });
}

/// Calls made to discover node roles (EKS), as opposed to reading and fixing a role.
pub fn discovery_calls(calls: &BTreeMap<String, u64>) -> u64 {
    calls
        .iter()
        .filter(|(op, _)| op.starts_with("eks:"))
        .map(|(_, n)| n)
        .sum()
}
