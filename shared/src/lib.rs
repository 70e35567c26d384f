//! `noderole`: everything that decides and acts for eks-node-role-guard.
//!
//! Data flow: [`trigger`] parses the EventBridge event, [`discovery`] finds whether the role
//! backs EKS nodes, [`addons`] whether its clusters' add-ons still run on it, [`rules`] judges
//! its policies (with [`usage`] saying what each is probably for), [`remediate`] acts per mode,
//! [`migration`] writes the commands that move workloads to Pod Identity, [`notify`] builds the
//! SNS message and [`report`] is what the handler returns. [`handler`] ties them
//! together over the [`ports`] within the invocation's [`deadline`]; [`aws`] implements the ports
//! with the SDK.

pub mod accounts;
pub mod addons;
mod assess;
pub mod audit;
pub mod aws;
pub mod config;
pub mod deadline;
pub mod discovery;
pub mod emf;
#[cfg(test)]
mod fakes;
pub mod findings;
pub mod handler;
pub mod iam_arn;
pub mod metrics;
pub mod migration;
pub mod notify;
pub mod policy;
pub mod ports;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod trail_health;
pub mod trigger;
pub mod usage;

pub use config::{AccountSet, Central, Config, ConfigError, Mode};
pub use handler::{HandlerError, Identity, Remediator};
pub use report::{Outcome, Report};
