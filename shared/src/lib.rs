//! `noderole`: everything that decides and acts for eks-node-role-guard.
//!
//! Data flow: [`trigger`] parses the EventBridge event, [`discovery`] finds whether the role
//! backs EKS nodes, [`rules`] judges its policies, [`remediate`] acts per mode, [`notify`]
//! builds the SNS message and [`report`] is what the handler returns. [`handler`] ties them
//! together over the [`ports`]; [`aws`] implements the ports with the SDK.

pub mod aws;
pub mod config;
pub mod discovery;
#[cfg(test)]
mod fakes;
pub mod handler;
pub mod iam_arn;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod ports;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod trigger;

pub use config::{Config, ConfigError, Mode};
pub use handler::{HandlerError, Identity, Remediator};
pub use report::{Outcome, Report};
