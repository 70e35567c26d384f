//! The invocation's time budget.
//!
//! Lambda stops a function at its deadline without a word: no Report logged, nothing notified.
//! So an invocation stops *starting* AWS calls a reserve before the deadline (the SDK
//! interceptor in `aws` refuses them, except the notification's `sns:Publish`), the partial
//! Report is logged and notified in the reserve, and the invocation returns a retryable error.
//! Every action is idempotent and every inline policy is backed up before its delete, so a
//! retry finishes what this one could not.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The reserve is a fifth of the budget, within these bounds: enough for calls in flight to
/// end (attempt timeout) and for the notification, small enough to leave most of the budget
/// for work.
const MIN_RESERVE: Duration = Duration::from_secs(2);
const MAX_RESERVE: Duration = Duration::from_secs(30);
/// What is kept back from the hard deadline itself, for the runtime to send the response.
const RESPONSE_MARGIN: Duration = Duration::from_millis(500);

tokio::task_local! {
    static BUDGET: Budget;
}

/// When an invocation stops starting work, and when it must have answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    stop_starting: Instant,
    finish_by: Instant,
}

impl Budget {
    /// A budget of `total` from now.
    pub fn lasting(total: Duration) -> Budget {
        let now = Instant::now();
        let reserve = (total / 5).clamp(MIN_RESERVE, MAX_RESERVE).min(total);
        Budget {
            stop_starting: now + total.saturating_sub(reserve),
            finish_by: now + total.saturating_sub(RESPONSE_MARGIN),
        }
    }

    /// From the runtime's deadline (`Lambda-Runtime-Deadline-Ms`, milliseconds since the epoch).
    /// A deadline that is already past or further away than `timeout` is not one Lambda would
    /// give (the local runtime emulator sends a constant): the function's `timeout` applies.
    pub fn from_deadline_ms(deadline_ms: u64, timeout: Duration) -> Budget {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let remaining = u128::from(deadline_ms).checked_sub(now_ms).map(|ms| {
            let ms = u64::try_from(ms).unwrap_or(u64::MAX);
            Duration::from_millis(ms)
        });
        match remaining {
            Some(left) if !left.is_zero() && left <= timeout => Budget::lasting(left),
            _ => Budget::lasting(timeout),
        }
    }

    /// Time left before work stops being started.
    pub fn until_stop(&self) -> Duration {
        self.stop_starting.saturating_duration_since(Instant::now())
    }
}

/// Runs `work` within `budget`: [`exhausted`] and the SDK interceptor consult it.
pub async fn within<T>(budget: Budget, work: impl Future<Output = T>) -> T {
    BUDGET.scope(budget, work).await
}

/// Whether the running invocation is past the point where new work starts. Outside
/// [`within`] there is no budget, and never exhausted.
pub fn exhausted() -> bool {
    BUDGET
        .try_with(|budget| Instant::now() >= budget.stop_starting)
        .unwrap_or(false)
}

/// The running invocation's hard deadline (minus the response margin), if it has a budget.
pub fn finish_by() -> Option<Instant> {
    BUDGET.try_with(|budget| budget.finish_by).ok()
}

/// The error a call refused for the deadline carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not started: the invocation's deadline is near (a retry of the invocation finishes the work)")]
pub struct Exhausted;

/// The error code a refused call is reported with.
pub const CODE: &str = "DeadlineReached";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_a_fifth_of_the_budget_within_bounds() {
        let at = |total: u64| {
            let budget = Budget::lasting(Duration::from_secs(total));
            budget.until_stop().as_secs_f64().round() as u64
        };
        assert_eq!(at(120), 96, "a fifth of 120 s is 24 s");
        assert_eq!(at(900), 870, "at most 30 s");
        assert_eq!(at(5), 3, "at least 2 s");
        assert_eq!(at(1), 0, "a budget shorter than the reserve stops at once");
    }

    #[test]
    fn an_implausible_runtime_deadline_falls_back_to_the_timeout() {
        let timeout = Duration::from_secs(120);
        // the local emulator's constant 600000 ms is 1970
        let local = Budget::from_deadline_ms(600_000, timeout);
        assert!(local.until_stop() > Duration::from_secs(90), "{local:?}");
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let real = Budget::from_deadline_ms(now_ms + 10_000, timeout);
        assert!(real.until_stop() <= Duration::from_secs(8), "{real:?}");
        let far = Budget::from_deadline_ms(now_ms + 3_600_000, timeout);
        assert!(far.until_stop() <= Duration::from_secs(96), "{far:?}");
    }

    #[tokio::test]
    async fn exhausted_only_inside_a_spent_budget() {
        assert!(!exhausted(), "no budget: never exhausted");
        assert!(finish_by().is_none());
        let spent = Budget::lasting(Duration::ZERO);
        assert!(within(spent, async { exhausted() }).await);
        let ample = Budget::lasting(Duration::from_secs(60));
        assert!(!within(ample, async { exhausted() }).await);
    }
}
