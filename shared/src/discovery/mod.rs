//! Stage 2, find: which roles back EKS nodes. [`scan`] reads what EKS declares (managed node
//! groups, node access entries) and what the instances run with ([`nodes`]) across regions,
//! with an adaptive bound on calls in flight ([`limit`]), and decides whether anything could be
//! searched at all; [`quick`] answers for one role from the instances that run with it;
//! [`cache`] keeps the index across warm invocations; [`addons`] asks how each cluster's
//! add-ons get their credentials.

pub mod addons;
mod cache;
mod limit;
pub mod nodes;
pub mod quick;
mod scan;

pub use cache::IndexCache;
pub use scan::{NodeRoleIndex, Scan, Sources, scan};
