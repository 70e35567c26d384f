//! A fault-injecting HTTP proxy in front of an AWS emulator (or any HTTP/1.1 server): it can add
//! latency to every request, answer a seeded fraction of AWS requests with the protocol's own
//! throttling error, and refuse chosen operations with the protocol's access-denied error, as a
//! policy scoped to some resources would, or answer chosen operations with a canned body, for a
//! state the emulator cannot be put in. Everything else is forwarded unchanged; the upstream
//! itself is not touched.
//!
//! AWS requests are recognised by their SigV4 signature and named `service:Operation` (query and
//! JSON protocols) or `service:METHOD /path` (REST protocols). Unsigned requests, such as the
//! Lambda runtime API when the proxy sits in front of `cargo lambda watch`, are forwarded, never
//! throttled, and named `http:METHOD /path`.
//!
//! The proxy answers two requests itself: `GET /__proxy/seen` (what it has seen, as JSON) and
//! `POST /__proxy/reset` (forget it).

mod http;

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use http::{Refusal, Request};

/// The service name of unsigned requests.
pub const UNSIGNED: &str = "http";

/// Requests the proxy saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Requests sent upstream, by service (from the SigV4 credential scope, or [`UNSIGNED`]).
    pub forwarded: BTreeMap<String, u64>,
    /// Requests answered with a throttling error, by service.
    pub throttled: BTreeMap<String, u64>,
    /// Requests answered with an access-denied error, by service.
    pub denied: BTreeMap<String, u64>,
    /// Requests answered with a canned body ([`Proxy::answer`]), by service.
    pub answered: BTreeMap<String, u64>,
    /// Every request, however answered, by name (`service:Operation`, `service:METHOD /path`,
    /// `http:METHOD /path`).
    pub operations: BTreeMap<String, u64>,
    /// When each name was first seen, in milliseconds since the Unix epoch.
    pub first_seen_ms: BTreeMap<String, u64>,
}

impl Seen {
    pub fn total_throttled(&self) -> u64 {
        self.throttled.values().sum()
    }

    pub fn total_forwarded(&self) -> u64 {
        self.forwarded.values().sum()
    }

    /// As `GET /__proxy/seen` answers it.
    pub fn to_json(&self) -> Value {
        json!({
            "forwarded": self.forwarded,
            "throttled": self.throttled,
            "denied": self.denied,
            "answered": self.answered,
            "operations": self.operations,
            "first_seen_ms": self.first_seen_ms,
        })
    }
}

/// How the proxy treats requests from the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Fraction (0 to 1) of AWS requests answered with a throttling error.
    pub fraction: f64,
    /// Seed of the choice of requests to throttle, so a run is repeatable.
    pub seed: u64,
    /// Added before every request is forwarded or refused.
    pub latency: Duration,
    /// Name prefixes (`eks:`, `iam:DetachRolePolicy`) answered with access denied.
    pub deny: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fraction: 0.0,
            seed: 1,
            latency: Duration::ZERO,
            deny: Vec::new(),
        }
    }
}

struct Shared {
    upstream: String,
    /// Parts per million of requests to throttle.
    fraction_ppm: AtomicU64,
    latency_ms: AtomicU64,
    rng: Mutex<u64>,
    denied: Mutex<Vec<String>>,
    /// Name prefixes answered with `200 OK` and a body, instead of being forwarded.
    canned: Mutex<Vec<(String, String)>>,
    seen: Mutex<Seen>,
    stopped: AtomicBool,
}

/// The proxy on a free loopback port; it stops accepting when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    shared: Arc<Shared>,
    port: u16,
}

impl Proxy {
    /// A proxy to `upstream` (`http://127.0.0.1:port`) throttling `fraction` of AWS requests,
    /// chosen with a fixed `seed`.
    pub fn start(upstream: &str, fraction: f64, seed: u64) -> Result<Proxy> {
        Proxy::with_options(
            upstream,
            Options {
                fraction,
                seed,
                ..Options::default()
            },
        )
    }

    /// A proxy to `upstream` (`http://127.0.0.1:port`) that starts with `options`.
    pub fn with_options(upstream: &str, options: Options) -> Result<Proxy> {
        let upstream = upstream
            .trim_end_matches('/')
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("upstream must be http://host:port, got {upstream}"))?
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream,
            fraction_ppm: AtomicU64::new(ppm(options.fraction)),
            latency_ms: AtomicU64::new(options.latency.as_millis().try_into().unwrap_or(u64::MAX)),
            rng: Mutex::new(options.seed.max(1)),
            denied: Mutex::new(options.deny),
            canned: Mutex::new(Vec::new()),
            seen: Mutex::new(Seen::default()),
            stopped: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = Arc::clone(&accepting);
                thread::spawn(move || {
                    let _ = serve(&conn, stream);
                });
            }
        });
        Ok(Proxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            shared,
            port,
        })
    }

    /// Changes the fraction of AWS requests throttled from now on.
    pub fn set_fraction(&self, fraction: f64) {
        self.shared.fraction_ppm.store(ppm(fraction), Ordering::Relaxed);
    }

    /// Changes the latency added to each request from now on.
    pub fn set_latency(&self, latency: Duration) {
        let ms = latency.as_millis().try_into().unwrap_or(u64::MAX);
        self.shared.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// From now on, answers every request whose name (as [`Seen::operations`] has it) starts
    /// with `prefix` with the protocol's access-denied error.
    pub fn deny(&self, prefix: &str) {
        lock(&self.shared.denied).push(prefix.to_owned());
    }

    /// From now on, answers every request whose name starts with `prefix` with `200 OK` and
    /// `body` (in the protocol's own encoding, such as `{"Accounts":[]}` for a JSON protocol),
    /// without forwarding it: a state the emulator cannot be put in.
    pub fn answer(&self, prefix: &str, body: &str) {
        lock(&self.shared.canned).push((prefix.to_owned(), body.to_owned()));
    }

    /// What the proxy has seen so far.
    pub fn seen(&self) -> Seen {
        lock(&self.shared.seen).clone()
    }

    /// Forgets what the proxy has seen.
    pub fn reset(&self) {
        *lock(&self.shared.seen) = Seen::default();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A poisoned lock only means another connection's thread panicked; the counts are still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ppm(fraction: f64) -> u64 {
    (fraction.clamp(0.0, 1.0) * 1_000_000.0).round() as u64
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().try_into().unwrap_or(u64::MAX))
        .unwrap_or_default()
}

impl Shared {
    /// xorshift64: deterministic for a seed, good enough to pick requests.
    fn throttle_next(&self) -> bool {
        let threshold = self.fraction_ppm.load(Ordering::Relaxed);
        let mut state = lock(&self.rng);
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x % 1_000_000 < threshold
    }

    fn is_denied(&self, name: &str) -> bool {
        lock(&self.denied)
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
    }

    fn canned_for(&self, name: &str) -> Option<String> {
        lock(&self.canned)
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix.as_str()))
            .map(|(_, body)| body.clone())
    }

    fn count(&self, service: &str, name: String, answer: Option<Refusal>, canned: bool) {
        let mut seen = lock(&self.seen);
        seen.first_seen_ms.entry(name.clone()).or_insert_with(unix_ms);
        *seen.operations.entry(name).or_default() += 1;
        let by_service = match answer {
            None if canned => &mut seen.answered,
            None => &mut seen.forwarded,
            Some(Refusal::Throttled) => &mut seen.throttled,
            Some(Refusal::Denied) => &mut seen.denied,
        };
        *by_service.entry(service.to_owned()).or_default() += 1;
    }

    /// The proxy's answer to one request.
    fn answer(&self, request: &Request, client: &TcpStream) -> Result<Vec<u8>> {
        if let Some(control) = request.path().strip_prefix("/__proxy/") {
            return Ok(self.control(request.method(), control));
        }
        let (service, name) = match request.service() {
            Some(service) => (service.to_owned(), format!("{service}:{}", request.operation())),
            None => (
                UNSIGNED.to_owned(),
                format!("{UNSIGNED}:{} {}", request.method(), request.path()),
            ),
        };
        let canned = self.canned_for(&name);
        let refusal = if canned.is_some() {
            None
        } else if self.is_denied(&name) {
            Some(Refusal::Denied)
        } else if service != UNSIGNED && self.throttle_next() {
            Some(Refusal::Throttled)
        } else {
            None
        };
        self.count(&service, name, refusal, canned.is_some());
        let latency = self.latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            thread::sleep(Duration::from_millis(latency));
        }
        match (refusal, canned) {
            (Some(refusal), _) => Ok(http::refusal(request, refusal)),
            (None, Some(body)) => {
                let content_type = request.header("content-type").unwrap_or("application/json");
                Ok(http::respond(
                    "200 OK",
                    &format!("Content-Type: {content_type}\r\n"),
                    &body,
                ))
            }
            (None, None) => http::forward(&self.upstream, request, client),
        }
    }

    fn control(&self, method: &str, what: &str) -> Vec<u8> {
        let json = "Content-Type: application/json\r\n";
        match (method, what) {
            ("GET", "seen") => http::respond("200 OK", json, &lock(&self.seen).to_json().to_string()),
            ("POST", "reset") => {
                *lock(&self.seen) = Seen::default();
                http::respond("200 OK", json, "{}")
            }
            _ => http::respond(
                "404 Not Found",
                json,
                r#"{"message":"the proxy answers GET /__proxy/seen and POST /__proxy/reset"}"#,
            ),
        }
    }
}

fn serve(shared: &Shared, client: TcpStream) -> Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    while let Some(request) = http::read_request(&mut reader)? {
        let response = match shared.answer(&request, &client) {
            Ok(response) => response,
            Err(err) if err.is::<http::HungUp>() => break,
            Err(err) => http::respond(
                "502 Bad Gateway",
                "Content-Type: text/plain\r\n",
                &format!("aws-proxy: {err:#}"),
            ),
        };
        client.write_all(&response)?;
        client.flush()?;
        if request.closes() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}
