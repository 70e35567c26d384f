//! Stage 2, find: which roles back EKS nodes. [`scan`] reads managed node groups and node
//! access entries across regions (with an adaptive bound on calls in flight, [`limit`]) and
//! decides whether anything could be searched at all; [`cache`] keeps the index across warm
//! invocations; [`addons`] asks how each cluster's add-ons get their credentials.

pub mod addons;
mod cache;
mod limit;
mod scan;

pub use cache::IndexCache;
pub use scan::{NodeRoleIndex, Scan, scan};
