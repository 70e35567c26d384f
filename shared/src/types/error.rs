//! Failed AWS calls, already classified by the adapter that made them.

use serde::Serialize;

/// An AWS call that failed, already classified by the adapter that made it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{operation} failed ({}): {message}", kind.as_str())]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The AWS error code, when the service sent one (`AccessDenied`, `Throttling`, ...).
    pub code: Option<String>,
    pub message: String,
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Throttling, 5xx, timeouts, connection failures: a later retry could succeed.
    Transient,
    /// AccessDenied (IAM policy, SCP, permissions boundary): retrying will not help.
    Denied,
    /// Anything else the service rejected.
    Rejected,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Denied => "access denied",
            ErrorKind::Rejected => "rejected",
        }
    }
}

impl AwsError {
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

pub type AwsResult<T> = Result<T, AwsError>;
