//! The `eks-node-role-guard` command, run against the emulator.

use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::binaries::cli_binary;
use crate::emulator::REGION;

/// What one run of the command printed, and its exit code.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the command against `endpoint` with static test credentials and no other AWS
/// configuration (no profile files, no instance metadata: nothing leaves loopback).
pub fn run_cli(endpoint: &str, args: &[&str]) -> Result<CliRun> {
    run_cli_env(
        args,
        &[
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
}

/// [`run_cli`] with exactly `env` on top of an empty AWS configuration.
pub fn run_cli_env(args: &[&str], env: &[(&str, &str)]) -> Result<CliRun> {
    let mut command = Command::new(cli_binary()?);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().context("running eks-node-role-guard")?;
    Ok(CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
