//! What one invocation carries through every call, adapters included: its [`deadline`], the
//! [`tally`] of API calls it made, and the day (UTC) it judges exceptions on ([`today`]).

pub mod deadline;
pub mod tally;

/// Today in UTC: the day `EXCEPTIONS` are judged on.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}
