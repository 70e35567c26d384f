//! Just enough HTTP/1.1 for a proxy between an AWS client and an emulator: read one request,
//! name it, forward it on a fresh connection, and answer with the protocol's own errors.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};

/// One HTTP/1.1 request: its head lines (the request line first) and its body.
pub(crate) struct Request {
    pub head: Vec<String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn method(&self) -> &str {
        self.head
            .first()
            .and_then(|line| line.split(' ').next())
            .unwrap_or_default()
    }

    /// The path without its query.
    pub fn path(&self) -> &str {
        let target = self
            .head
            .first()
            .and_then(|line| line.split(' ').nth(1))
            .unwrap_or_default();
        target.split('?').next().unwrap_or_default()
    }

    /// The service a SigV4 request is signed for (`Credential=AK/date/region/SERVICE/aws4_request`),
    /// or `None` for a request that is not signed (the Lambda runtime API, a health check).
    pub fn service(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|auth| auth.split("Credential=").nth(1))
            .and_then(|cred| cred.split('/').nth(3))
    }

    /// The operation of a signed request: `Action=` of a query request, `X-Amz-Target` of a JSON
    /// one, else the method and path of a REST one.
    pub fn operation(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        if let Some(action) = body.split('&').find_map(|pair| pair.strip_prefix("Action=")) {
            return action.to_owned();
        }
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        format!("{} {}", self.method(), self.path())
    }

    /// The client asked to close the connection after this answer.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// The next request on a connection, or `None` when the client closed it.
pub(crate) fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if head.is_empty() {
                continue; // a stray line break between requests
            }
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

/// How often a pending upstream answer checks whether the client is still there.
const CLIENT_CHECK: Duration = Duration::from_millis(100);

/// Sends the request upstream on a fresh connection and returns its whole response, framed so
/// the client's connection to the proxy can stay open. No time limit: a long poll (the Lambda
/// runtime API's `GET .../invocation/next`) waits as long as the upstream holds it. If the
/// `client` hangs up meanwhile, the upstream connection is closed at once, so the upstream
/// does not hand its answer to a poll nobody reads.
pub(crate) fn forward(upstream: &str, request: &Request, client: &TcpStream) -> Result<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).with_context(|| format!("connecting to {upstream}"))?;
    let mut head = String::new();
    for (i, line) in request.head.iter().enumerate() {
        if i > 0 && is_header(line, "connection") {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&request.body)?;
    conn.set_read_timeout(Some(CLIENT_CHECK))?;
    let mut response = Vec::new();
    let mut chunk = [0; 64 * 1024];
    loop {
        match conn.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if hung_up(client) {
                    let _ = conn.shutdown(Shutdown::Both);
                    return Err(HungUp.into());
                }
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).with_context(|| format!("reading from {upstream}")),
        }
    }
    Ok(keep_alive(response))
}

/// The client hung up while the upstream was answering: there is no one to answer.
#[derive(Debug)]
pub(crate) struct HungUp;

impl std::fmt::Display for HungUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client hung up before the upstream answered")
    }
}

impl std::error::Error for HungUp {}

/// The client closed its end (a peek finds the end of the stream, or the connection is reset).
fn hung_up(client: &TcpStream) -> bool {
    if client.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0; 1];
    let gone = match client.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false, // the client sent its next request already
        Err(err) => !matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
    };
    let _ = client.set_nonblocking(false);
    gone
}

fn is_header(line: &str, name: &str) -> bool {
    line.split_once(':')
        .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(name))
}

/// The upstream closes after answering (`Connection: close` was asked); the client's connection
/// to the proxy stays open, so that header must not reach it, and a body that ran to the close
/// gets a length.
pub(crate) fn keep_alive(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response;
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|line| !is_header(line, "connection"))
        .collect();
    let framed = kept
        .iter()
        .any(|line| is_header(line, "content-length") || is_header(line, "transfer-encoding"));
    let mut out = kept.join("\r\n").into_bytes();
    if !framed {
        out.extend_from_slice(format!("\r\nContent-Length: {}", response.len() - end - 4).as_bytes());
    }
    out.extend_from_slice(&response[end..]);
    out
}

/// What the proxy answers instead of the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Throttled,
    Denied,
}

/// The protocol's own error. Throttling: HTTP 400 with an XML `<Code>Throttling</Code>` for the
/// query APIs (IAM, STS, SNS), HTTP 400 `{"__type": "ThrottlingException"}` for JSON 1.x
/// (CloudTrail, SQS), HTTP 429 with `x-amzn-ErrorType: ThrottlingException` for REST JSON (EKS,
/// Security Hub). Access denied: the same shapes with `AccessDenied`, HTTP 403 where the
/// protocol uses a status.
pub(crate) fn refusal(request: &Request, refusal: Refusal) -> Vec<u8> {
    let content_type = request.header("content-type").unwrap_or_default();
    let (query_status, query_code, json_type, rest_status, message) = match refusal {
        Refusal::Throttled => (
            "400 Bad Request",
            "Throttling",
            "ThrottlingException",
            "429 Too Many Requests",
            "Rate exceeded",
        ),
        Refusal::Denied => (
            "403 Forbidden",
            "AccessDenied",
            "AccessDeniedException",
            "403 Forbidden",
            "denied by the test proxy",
        ),
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
    respond(
        status,
        &format!("{extra}x-amzn-RequestId: refused-by-test-proxy\r\n"),
        &body,
    )
}

/// A complete response with a body of known length.
pub(crate) fn respond(status: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
