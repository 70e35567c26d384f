//! The use cases over the stages: [`handler`] is the event path (payload in, Report out),
//! [`sweep`] the one sweep of every node role in every guarded account (the function's and the
//! audit's), [`audit`] its read-only edge and `explain`; [`accounts`] holds the guarded accounts.

pub mod accounts;
pub mod audit;
pub mod handler;
pub mod sweep;
