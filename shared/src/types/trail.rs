//! CloudTrail trails as the sweep sees them, for the "is the guard blind?" check.

use serde::Serialize;

/// Where IAM's CloudTrail events are delivered.
pub const IAM_EVENTS_REGION: &str = "us-east-1";

/// A trail as the sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailState {
    pub name: String,
    pub home_region: String,
    pub multi_region: bool,
    pub logging: bool,
    /// Empty: none reported, which is a trail created without selectors (all management events).
    pub selectors: Vec<Selector>,
}

/// What a trail records (`GetEventSelectors`): basic or advanced selectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Selector {
    Basic {
        /// `All`, `ReadOnly` or `WriteOnly`.
        read_write: String,
        include_management: bool,
        excluded_sources: Vec<String>,
    },
    Advanced(Vec<FieldSelector>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub not_equals: Vec<String>,
}
