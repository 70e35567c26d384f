//! A fault-injecting HTTP proxy in front of the emulator: it answers a chosen fraction of AWS
//! requests with the protocol's own throttling error and forwards the rest unchanged. The
//! emulator itself is not touched.
//!
//! It can also refuse chosen operations with the protocol's access-denied error (`deny`), as a
//! policy scoped to some resources would.
//!
//! Throttling as each protocol says it: HTTP 400 with an XML `<Code>Throttling</Code>` for the
//! query APIs (IAM, STS, SNS), HTTP 400 `{"__type": "ThrottlingException"}` for JSON 1.1
//! (CloudTrail), HTTP 429 with `x-amzn-ErrorType: ThrottlingException` for REST JSON (EKS,
//! Security Hub).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{Context, Result, anyhow};

/// Requests the proxy saw, by service (from the SigV4 credential scope).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    pub forwarded: BTreeMap<String, u64>,
    pub throttled: BTreeMap<String, u64>,
    /// Every request by `service:Operation` (query and JSON protocols) or `service:METHOD
    /// /path` (REST protocols).
    pub operations: BTreeMap<String, u64>,
}

impl Seen {
    pub fn total_throttled(&self) -> u64 {
        self.throttled.values().sum()
    }
    pub fn total_forwarded(&self) -> u64 {
        self.forwarded.values().sum()
    }
}

struct Shared {
    upstream: String,
    /// Parts per million of requests to throttle.
    fraction_ppm: AtomicU64,
    rng: Mutex<u64>,
    /// `service:operation` prefixes answered with access denied.
    denied: Mutex<Vec<String>>,
    seen: Mutex<Seen>,
    stopped: AtomicBool,
}

/// The proxy on a free loopback port; it stops accepting when dropped.
pub struct ThrottlingProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
    port: u16,
}

impl ThrottlingProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:port`), throttling `fraction` of requests, with
    /// a fixed `seed` so a run is repeatable.
    pub fn start(upstream: &str, fraction: f64, seed: u64) -> Result<ThrottlingProxy> {
        let upstream = upstream
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("upstream must be http://host:port, got {upstream}"))?
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream,
            fraction_ppm: AtomicU64::new(ppm(fraction)),
            rng: Mutex::new(seed.max(1)),
            denied: Mutex::new(Vec::new()),
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
        Ok(ThrottlingProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            shared,
            port,
        })
    }

    /// Changes the fraction of requests throttled from now on.
    pub fn set_fraction(&self, fraction: f64) {
        self.shared.fraction_ppm.store(ppm(fraction), Ordering::Relaxed);
    }

    /// From now on, answers every request whose `service:operation` (as [`Seen::operations`]
    /// names it) starts with `prefix` with the protocol's access-denied error.
    pub fn deny(&self, prefix: &str) {
        if let Ok(mut denied) = self.shared.denied.lock() {
            denied.push(prefix.to_owned());
        }
    }

    /// What the proxy has seen so far.
    pub fn seen(&self) -> Seen {
        self.shared.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for ThrottlingProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn ppm(fraction: f64) -> u64 {
    (fraction.clamp(0.0, 1.0) * 1_000_000.0).round() as u64
}

impl Shared {
    /// xorshift64: deterministic for a seed, good enough to pick requests.
    fn throttle_next(&self) -> bool {
        let threshold = self.fraction_ppm.load(Ordering::Relaxed);
        let Ok(mut state) = self.rng.lock() else { return false };
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x % 1_000_000 < threshold
    }

    fn count(&self, service: &str, operation: String, throttled: bool) {
        if let Ok(mut seen) = self.seen.lock() {
            *seen.operations.entry(format!("{service}:{operation}")).or_default() += 1;
            let map = if throttled {
                &mut seen.throttled
            } else {
                &mut seen.forwarded
            };
            *map.entry(service.to_owned()).or_default() += 1;
        }
    }
}

/// One HTTP/1.1 request: its head lines and body.
struct Request {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The operation: `Action=` of a query request, `X-Amz-Target` of a JSON one, else the
    /// method and path of a REST one.
    fn operation(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        if let Some(action) = body.split('&').find_map(|pair| pair.strip_prefix("Action=")) {
            return action.to_owned();
        }
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        let line = self.head.first().map(String::as_str).unwrap_or_default();
        let mut parts = line.split(' ');
        let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        format!("{method} {}", path.split('?').next().unwrap_or_default())
    }

    /// The service a SigV4 request is signed for: `Credential=AK/date/region/SERVICE/aws4_request`.
    fn service(&self) -> String {
        self.header("authorization")
            .and_then(|auth| auth.split("Credential=").nth(1))
            .and_then(|cred| cred.split('/').nth(3))
            .unwrap_or("unknown")
            .to_owned()
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut request = Request { head, body: Vec::new() };
    let length: usize = request
        .header("content-length")
        .map(str::parse)
        .transpose()
        .context("content-length")?
        .unwrap_or(0);
    request.body = vec![0; length];
    reader.read_exact(&mut request.body)?;
    Ok(Some(request))
}

fn serve(shared: &Shared, client: TcpStream) -> Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    while let Some(request) = read_request(&mut reader)? {
        let service = request.service();
        let operation = request.operation();
        let named = format!("{service}:{operation}");
        let denied = shared
            .denied
            .lock()
            .is_ok_and(|denied| denied.iter().any(|prefix| named.starts_with(prefix.as_str())));
        let throttled = !denied && shared.throttle_next();
        shared.count(&service, operation, throttled);
        let response = if denied {
            refusal(&request, Refusal::Denied)
        } else if throttled {
            refusal(&request, Refusal::Throttled)
        } else {
            forward(&shared.upstream, &request)?
        };
        client.write_all(&response)?;
        client.flush()?;
    }
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

#[derive(Clone, Copy)]
enum Refusal {
    Throttled,
    Denied,
}

/// The protocol's own error: throttling, or access denied.
fn refusal(request: &Request, refusal: Refusal) -> Vec<u8> {
    let content_type = request.header("content-type").unwrap_or_default();
    let (query_code, json_type, rest_status, message) = match refusal {
        Refusal::Throttled => (
            "Throttling",
            "ThrottlingException",
            "429 Too Many Requests",
            "Rate exceeded",
        ),
        Refusal::Denied => (
            "AccessDenied",
            "AccessDeniedException",
            "403 Forbidden",
            "denied by the test proxy",
        ),
    };
    let query_status = match refusal {
        Refusal::Throttled => "400 Bad Request",
        Refusal::Denied => "403 Forbidden",
    };
    let (status, extra, body) = if content_type.starts_with("application/x-www-form-urlencoded") {
        (
            query_status,
            "Content-Type: text/xml\r\n".to_owned(),
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message></Error>\
                 <RequestId>refused-by-test-proxy</RequestId></ErrorResponse>"
            ),
        )
    } else if content_type.starts_with("application/x-amz-json") {
        (
            "400 Bad Request",
            "Content-Type: application/x-amz-json-1.1\r\n".to_owned(),
            format!(r#"{{"__type":"{json_type}","message":"{message}"}}"#),
        )
    } else {
        (
            rest_status,
            format!("Content-Type: application/json\r\nx-amzn-ErrorType: {json_type}\r\n"),
            format!(r#"{{"message":"{message}"}}"#),
        )
    };
    format!(
        "HTTP/1.1 {status}\r\n{extra}x-amzn-RequestId: refused-by-test-proxy\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends the request to the emulator on a fresh connection and returns its whole response.
fn forward(upstream: &str, request: &Request) -> Result<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).with_context(|| format!("connecting to {upstream}"))?;
    let mut head = String::new();
    for (i, line) in request.head.iter().enumerate() {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"));
        if i > 0 && is_connection {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&request.body)?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    Ok(keep_alive(response))
}

/// The emulator closes after answering (`Connection: close` was asked); the SDK's connection
/// to the proxy stays open, so that header must not reach it.
fn keep_alive(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response;
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    let framed = kept.iter().any(|line| {
        line.split_once(':').is_some_and(|(k, _)| {
            k.trim().eq_ignore_ascii_case("content-length") || k.trim().eq_ignore_ascii_case("transfer-encoding")
        })
    });
    let mut out = kept.join("\r\n").into_bytes();
    if !framed {
        // the body ran to the close: say how long it is
        out.extend_from_slice(format!("\r\nContent-Length: {}", response.len() - end - 4).as_bytes());
    }
    out.extend_from_slice(&response[end..]);
    out
}
