//! The function under `cargo lambda watch`, invoked with `cargo lambda invoke`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::binaries::{TempFile, function_binary};
use crate::emulator::{free_port, repo_root, wait_for_port};

/// The real function binary under the Lambda runtime emulator: `cargo lambda watch
/// --only-lambda-apis` serves the runtime API and invokes, and the already-built
/// `node-role-remediator` binary runs against it. (Letting `watch` build the function itself
/// would wait forever on the build lock that `cargo test` holds.)
pub struct LambdaWatch {
    pub port: u16,
    /// The function's stdout and stderr.
    pub log: PathBuf,
    watch: Child,
    function: Child,
}

impl LambdaWatch {
    /// Starts the emulator and the function with `env` as its environment.
    pub fn start(env: &[(&str, &str)]) -> Result<LambdaWatch> {
        use std::os::unix::process::CommandExt;
        let binary = function_binary()?;
        let port = free_port()?;
        let watch = Command::new("cargo")
            .current_dir(repo_root())
            .env("PATH", path_with_venv())
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string(), "--timeout", "120"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("spawning cargo lambda watch (run `make tools` for .venv/bin/cargo-lambda)")?;
        wait_for_port(port, "cargo lambda watch")?;
        // the function's log, kept beside the test binary for post-mortems
        let log_path = std::env::temp_dir().join(format!("node-role-remediator-{port}.log"));
        let log = std::fs::File::create(&log_path)?;
        let function = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        Ok(LambdaWatch {
            port,
            log: log_path,
            watch,
            function,
        })
    }

    /// The lines of the function's output that are CloudWatch EMF documents (JSON with `_aws`).
    pub fn emf_lines(&self) -> Result<Vec<Value>> {
        let text = std::fs::read_to_string(&self.log)?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|doc| doc.get("_aws").is_some())
            .collect())
    }

    /// `cargo lambda invoke` with `event`; the Report on success, the error output otherwise.
    pub fn invoke(&self, event: &Value) -> Result<std::result::Result<Value, String>> {
        let data = TempFile::new("event.json", &event.to_string())?;
        let out = Command::new("timeout")
            .arg("120")
            .arg("cargo")
            .current_dir(repo_root())
            .env("PATH", path_with_venv())
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string(), "--output-format", "json"])
            .arg("--data-file")
            .arg(&data.path)
            .stdin(Stdio::null())
            .output()
            .context("running cargo lambda invoke")?;
        if out.status.success() {
            Ok(Ok(serde_json::from_slice(&out.stdout).with_context(|| {
                format!("invoke output is not JSON: {}", String::from_utf8_lossy(&out.stdout))
            })?))
        } else {
            Ok(Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        // each leads its own process group: end the groups, then reap the leaders
        for child in [&mut self.function, &mut self.watch] {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn path_with_venv() -> String {
    let venv_bin = repo_root().join(".venv/bin");
    format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default())
}
