//! Stage 4, act: [`remediate`] turns violations into actions per mode (backups first,
//! idempotent), or the plan of what enforce would do; [`swap`] puts swapped credentials back.

pub mod remediate;
pub mod swap;
