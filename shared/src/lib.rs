//! `noderole`: everything that decides and acts for eks-node-role-guard.
//!
//! The modules are floors; each imports only from its own floor and those below
//! (`docs/architecture.md`, held by the test in [`layers`]):
//!
//! - [`types`]: the data the stages pass on (bindings, verdicts, the Report, findings, ...).
//! - [`ports`] (traits over the types, in the product's verbs), [`config`], [`invocation`]
//!   (the deadline and the API-call tally).
//! - The stages, in the order data flows: [`event`] (the EventBridge payload, typed),
//!   [`discovery`] (find node roles), [`verdict`] (judge a role), [`action`] (act per mode),
//!   [`telling`] (notifications, findings, metrics).
//! - [`running`]: the use cases: the event path, the sweep, the audit, the guarded accounts.
//! - [`aws`]: the adapters at the rim, implementing the ports over the SDK clients.
//!
//! The function's `main` and the CLI wire adapters to the use cases.

pub mod action;
pub mod aws;
pub mod config;
pub mod discovery;
pub mod event;
pub mod invocation;
#[cfg(test)]
mod layers;
pub mod ports;
pub mod running;
pub mod telling;
pub mod types;
pub mod verdict;

pub use config::{AccountSet, Central, Config, ConfigError};
pub use running::handler::{HandlerError, Remediator};
pub use types::{Identity, Mode, Outcome, Report};
