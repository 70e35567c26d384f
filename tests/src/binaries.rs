//! The workspace's binaries, built next to the test binaries, and temporary files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::emulator::unique;

/// The `eks-node-role-guard` command built next to the test binaries.
pub fn cli_binary() -> Result<PathBuf> {
    built_binary("eks-node-role-guard")
}

pub fn function_binary() -> Result<PathBuf> {
    built_binary("node-role-remediator")
}

/// `target/<profile>/<package>`, next to this test's own `deps/` directory.
fn built_binary(package: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target directory")?;
    let binary = profile_dir.join(package);
    if binary.exists() {
        Ok(binary)
    } else {
        Err(anyhow!(
            "{} is missing: build it first (`cargo build -p {package}`; `make test` does)",
            binary.display()
        ))
    }
}

/// A file removed when dropped.
pub struct TempFile {
    pub path: PathBuf,
}

impl TempFile {
    pub fn new(name: &str, content: &str) -> Result<TempFile> {
        let path = std::env::temp_dir().join(unique("noderole")).join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, content)?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
