//! A fake upstream and a raw HTTP/1.1 client, so the proxy's tests need no emulator.

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

/// An upstream on a free port that answers every request with `200` and the body `saw METHOD
/// TARGET`, closing each connection after one answer. A request to `/unframed` is answered
/// without a length, the body running to the close.
pub fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let Some((head, _)) = read_message(&mut reader) else {
                    return;
                };
                let line = head.first().cloned().unwrap_or_default();
                let target = line.rsplit_once(' ').map(|(start, _)| start).unwrap_or(&line);
                let body = format!("saw {target}");
                let response = if target.ends_with("/unframed") {
                    format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{body}")
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(response.as_bytes());
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// One message's head lines and body (by its Content-Length), or `None` at the end.
pub fn read_message(reader: &mut impl BufRead) -> Option<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length = header(&head, "content-length").map_or(0, |v| v.parse().expect("length"));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

pub fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// A response as the client got it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: Vec<String>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }
}

/// A client holding one connection to the proxy open across requests, as the SDK does.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(endpoint: &str) -> Client {
        let addr = endpoint.strip_prefix("http://").expect("http endpoint");
        let writer = TcpStream::connect(addr).expect("connect");
        let reader = BufReader::new(writer.try_clone().expect("clone"));
        Client { reader, writer }
    }

    pub fn send(&mut self, request: &str) -> Response {
        self.writer.write_all(request.as_bytes()).expect("write");
        let (head, body) = read_message(&mut self.reader).expect("a response");
        let status = head[0].split(' ').nth(1).expect("status").parse().expect("status code");
        Response {
            status,
            head,
            body: String::from_utf8(body).expect("utf-8"),
        }
    }
}

fn signed(service: &str) -> String {
    format!(
        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0\r\n"
    )
}

/// A query-protocol request (IAM, STS, SNS).
pub fn query(service: &str, action: &str) -> String {
    let body = format!("Action={action}&Version=2010-05-08");
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        signed(service),
        body.len()
    )
}

/// A JSON-protocol request (CloudTrail, SQS).
pub fn json(service: &str, target: &str) -> String {
    let body = "{}";
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\n{}X-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        signed(service),
        body.len()
    )
}

/// A REST-JSON request (EKS, Security Hub).
pub fn rest(service: &str, method: &str, target: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\n{}Content-Length: 0\r\n\r\n",
        signed(service)
    )
}

/// An unsigned request, as the Lambda runtime API gets them.
pub fn plain(method: &str, target: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
}
