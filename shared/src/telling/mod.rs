//! Stage 5, tell: [`notify`] builds the SNS message from a Report (its readable text in
//! `readable`), [`findings`] the Security Hub findings (and syncs them), [`emf`] the CloudWatch
//! metrics line, [`trail_health`] whether the guard is blind. `text` shortens what goes into
//! length-limited fields (SNS subjects, finding fields).

pub mod emf;
pub mod findings;
pub mod notify;
mod readable;
mod text;
pub mod trail_health;
