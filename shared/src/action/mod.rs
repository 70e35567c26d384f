//! Stage 4, act: [`remediate`] turns violations into actions per mode (backups first,
//! idempotent), or the plan of what enforce would do.

pub mod remediate;
