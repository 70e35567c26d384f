//! A message ready for the security team's topic.

/// A message ready for the security team's topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub subject: String,
    /// The `MessageStructure=json` body.
    pub message: String,
    pub attributes: Vec<(String, String)>,
}
