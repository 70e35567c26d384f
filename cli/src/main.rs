//! `eks-node-role-guard`: see what enforce would do, from a laptop, before deploying anything.
//! A thin edge over `noderole` like the function: arguments and output formats here, every
//! verdict from the same core, over IAM clients that cannot write.
//!
//! `args` (the command line) -> `connect` (SDK, `credentials`, identity, configuration, read-only adapters)
//! -> the core's audit or explain, with `progress` -> `render` (one printer per format) ->
//! `output` (stdout or a file replaced whole) -> `exit` (the exit-code policy).

mod args;
mod commands;
mod connect;
mod credentials;
mod exit;
mod output;
mod progress;
mod regions;
mod render;

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Security Hub's model types nest deeply; the function's threads have the same stack.
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return exit::fail(anyhow!(e)),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Audit(args) => commands::audit(args).await,
            Command::Explain(args) => commands::explain(args).await,
        }
    });
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => exit::fail(e),
    }
}
