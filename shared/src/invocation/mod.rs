//! What one invocation carries through every call, adapters included: its [`deadline`] and the
//! [`tally`] of API calls it made.

pub mod deadline;
pub mod tally;
