//! How many EKS calls discovery keeps in flight: additive increase, multiplicative decrease.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::invocation::{deadline, tally};
use crate::types::AwsResult;

/// How many EKS calls discovery keeps in flight: additive increase, multiplicative decrease.
/// Halved (down to 1) whenever AWS throttled this invocation during a call, one more after as
/// many unthrottled calls as are allowed in flight, up to the configured maximum. So a throttled
/// API sees fewer concurrent calls, not the same 16 retrying.
pub(super) struct Limit {
    permits: Semaphore,
    max: usize,
    current: AtomicUsize,
    /// Permits to retire as they come back, after a decrease.
    debt: AtomicUsize,
    unthrottled: AtomicUsize,
}

impl Limit {
    pub(super) fn new(max: usize) -> Limit {
        let max = max.max(1);
        Limit {
            permits: Semaphore::new(max),
            max,
            current: AtomicUsize::new(max),
            debt: AtomicUsize::new(0),
            unthrottled: AtomicUsize::new(0),
        }
    }

    fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Adjusts the limit after a call, and returns (or retires) its permit.
    fn settle(&self, permit: Option<SemaphorePermit<'_>>, throttled: bool) {
        let current = self.current();
        if throttled {
            let lower = (current / 2).max(1);
            if lower < current
                && self
                    .current
                    .compare_exchange(current, lower, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.debt.fetch_add(current - lower, Ordering::Relaxed);
                self.unthrottled.store(0, Ordering::Relaxed);
            }
        } else if self.unthrottled.fetch_add(1, Ordering::Relaxed) + 1 >= current && current < self.max {
            self.unthrottled.store(0, Ordering::Relaxed);
            if self
                .current
                .compare_exchange(current, current + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                // repay a retired permit first, else add one
                let repaid = self
                    .debt
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
                    .is_ok();
                if !repaid {
                    self.permits.add_permits(1);
                }
            }
        }
        if let Some(permit) = permit {
            let retire = self
                .debt
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
                .is_ok();
            if retire {
                permit.forget();
            }
        }
    }
}

/// Rounds of the SDK's own retries a discovery call gets: a scan makes hundreds of reads and
/// one that fails fails the scan, so a transient failure is tried again (while the invocation's
/// budget lasts) rather than costing the whole invocation.
const CALL_ROUNDS: usize = 3;

pub(super) async fn limited<T, F: Future<Output = AwsResult<T>>>(limit: &Limit, call: impl Fn() -> F) -> AwsResult<T> {
    let mut round = 1;
    loop {
        // The semaphore is never closed, so acquire cannot fail; a closed one would only lift the bound.
        let permit = limit.permits.acquire().await.ok();
        let before = tally::throttled_so_far();
        let result = call().await;
        limit.settle(permit, tally::throttled_so_far() > before);
        match result {
            Err(e) if e.is_transient() && round < CALL_ROUNDS && !deadline::exhausted() => round += 1,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn throttling_halves_the_calls_in_flight_and_success_wins_them_back_one_by_one() {
        let limit = Limit::new(16);
        assert_eq!(limit.current(), 16);

        // a throttled call halves the limit, down to one
        for expected in [8, 4, 2, 1, 1] {
            let permit = limit.permits.try_acquire().ok();
            limit.settle(permit, true);
            assert_eq!(limit.current(), expected);
        }
        // and the semaphore follows: retired permits are not handed out again
        let held: Vec<_> = std::iter::from_fn(|| limit.permits.try_acquire().ok())
            .take(16)
            .collect();
        let available = held.len();
        for permit in held {
            limit.settle(Some(permit), false);
        }
        assert!((1..16).contains(&available), "{available} permits after halving to 1");

        // unthrottled calls add one at a time, never beyond the maximum
        for _ in 0..2_000 {
            let permit = limit.permits.try_acquire().ok();
            limit.settle(permit, false);
        }
        assert_eq!(limit.current(), 16);
        let all: Vec<_> = std::iter::from_fn(|| limit.permits.try_acquire().ok())
            .take(32)
            .collect();
        assert_eq!(all.len(), 16, "exactly the maximum in flight once recovered");
    }
}
