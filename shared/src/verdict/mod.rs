//! Stage 3, judge: [`check`] decides for one role whether it is a node role, what it backs, what
//! it carries and which of that is allowed, over read-only IAM; [`rules`] is the allowlist as pure
//! functions; [`usage`] says what a policy is probably for; [`migration`] writes the commands that
//! move that workload off the node role; [`policy`] reads policy documents; [`exceptions`] matches
//! `EXCEPTIONS` entries; [`severity`] says how serious a violation is (for ASFF and for people);
//! [`doors`] decides whether an event opened a door into a node's credentials.

pub mod check;
pub mod doors;
pub mod exceptions;
pub mod migration;
pub mod policy;
pub mod rules;
pub mod severity;
pub mod usage;
