//! The emulator: a moto server started by `scripts/emulator.py`, SDK configuration pointed at
//! it (or at a proxy in front of it), free ports and names unique in a test run.

use std::io::BufRead;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::{Region, SdkConfig};
use aws_sdk_iam::config::Credentials;

/// The emulated account (moto's default).
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const SECOND_REGION: &str = "us-west-2";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A moto server on a free loopback port, started by `scripts/emulator.py` (the one start-up
/// the demos, the bench and the tests share). It stops when dropped, and when the test process
/// exits however it exits: the emulator stops when its stdin, a pipe held here, closes.
pub struct Moto {
    pub endpoint: String,
    /// The emulator's log (moto's requests and errors), for post-mortems.
    pub log: PathBuf,
    child: Child,
    /// Closing it stops the emulator (and moto with it).
    stdin: Option<ChildStdin>,
}

impl Moto {
    /// The server shared by the tests of this binary (started on first use).
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().expect("start moto server"))
    }

    pub fn start() -> Result<Moto> {
        let python = venv_python()?;
        let script = repo_root().join("scripts/emulator.py");
        let log = std::env::temp_dir().join(format!("{}.log", unique("moto")));
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log.with_extension("stderr"))?)
            .spawn()
            .with_context(|| format!("spawning {} {}", python.display(), script.display()))?;
        let stdin = child.stdin.take().context("emulator stdin")?;
        let stdout = child.stdout.take().context("emulator stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let endpoint = line.trim_end().to_owned();
        if !endpoint.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            let reason = std::fs::read_to_string(log.with_extension("stderr")).unwrap_or_default();
            bail!(
                "{} did not start moto: {reason} (log {})",
                script.display(),
                log.display()
            );
        }
        Ok(Moto {
            endpoint,
            log,
            child,
            stdin: Some(stdin),
        })
    }

    /// SDK configuration for this server, with the product's retry and timeout settings.
    pub async fn sdk(&self) -> SdkConfig {
        sdk_for(&self.endpoint).await
    }
}

impl Drop for Moto {
    /// Closes the emulator's stdin so it stops moto itself; kills it if it has not within 10 s.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SDK configuration for an emulator (or a proxy in front of one) at `endpoint`, with the
/// product's retry and timeout settings.
pub async fn sdk_for(endpoint: &str) -> SdkConfig {
    noderole::aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// The project's Python (the virtualenv made by `make tools`), or `MOTO_PYTHON`.
pub fn venv_python() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("MOTO_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let python = repo_root().join(".venv/bin/python");
    if python.exists() {
        Ok(python)
    } else {
        Err(anyhow!(
            "{} is missing: run `make tools` (or `make test`)",
            python.display()
        ))
    }
}

/// Waits up to 30 s for `what` to accept connections on 127.0.0.1:`port`.
pub(crate) fn wait_for_port(port: u16, what: &str) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not open port {port} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A name unique in this test process run.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An account id unique in this test process run (for member accounts of the emulator).
pub fn unique_account() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:06}{:06}",
        std::process::id() % 1_000_000,
        N.fetch_add(1, Ordering::Relaxed) + 1
    )
}
