//! Test harness, one concern per module: the emulator and SDK configuration (`emulator`), the
//! account seeder (`account`), the notification inbox (`inbox`), event builders (`events`),
//! shared fixtures (`fixtures`), instances and instance profiles (`instances`), trust policies,
//! boundaries and policy versions (`roles`), the function under `cargo lambda watch` (`watch`), the CLI
//! (`cli`) and the built binaries (`binaries`). Everything is re-exported at the top, so tests
//! `use noderole_integration::*`.

pub mod account;
pub mod binaries;
pub mod cli;
pub mod emulator;
pub mod events;
pub mod fixtures;
pub mod inbox;
pub mod instances;
pub mod roles;
pub mod watch;

pub use account::*;
pub use aws_proxy::{Options as ProxyOptions, Proxy, Seen};
pub use binaries::*;
pub use cli::*;
pub use emulator::*;
pub use events::*;
pub use fixtures::*;
pub use inbox::*;
pub use instances::*;
pub use roles::*;
pub use watch::*;
