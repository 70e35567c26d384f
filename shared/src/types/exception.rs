//! Exceptions (`EXCEPTIONS`): one policy kept on one role until a date, for a stated reason.

use chrono::NaiveDate;
use serde::Serialize;

use super::Violation;

/// One entry of `EXCEPTIONS`: `policy` may stay on `role` until the end of `until` (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// A role name (any path, any account) or a role ARN.
    pub role: String,
    /// A managed policy's ARN, or an inline policy's name.
    pub policy: String,
    /// The last day (UTC) the exception applies.
    pub until: NaiveDate,
    pub reason: String,
}

impl Exception {
    /// Whether it applies on `today` (UTC): up to and including `until`.
    pub fn applies_on(&self, today: NaiveDate) -> bool {
        today <= self.until
    }

    /// Whether `today` is the first day it no longer applies.
    pub fn expired_on(&self, today: NaiveDate) -> bool {
        self.until.succ_opt() == Some(today)
    }

    /// `excepted until 2027-03-31: moving to Pod Identity`, as every format shows it.
    pub fn note(&self) -> String {
        format!("excepted until {}: {}", self.until, self.reason)
    }
}

/// A violation an exception keeps for now: it is still a violation, and every format says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excepted {
    pub violation: Violation,
    pub until: NaiveDate,
    pub reason: String,
}

impl Excepted {
    /// `excepted until DATE: REASON`.
    pub fn note(&self) -> String {
        format!("excepted until {}: {}", self.until, self.reason)
    }
}
