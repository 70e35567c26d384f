//! The `aws-proxy` command as scripts run it: one line with the endpoint, then the proxy until
//! killed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{Client, plain, query, rest, upstream};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prints_its_endpoint_and_proxies_with_the_options_given() {
    // Given the command started with a denial list and throttling off
    let mut child = Command::new(env!("CARGO_BIN_EXE_aws-proxy"))
        .args([
            "--upstream",
            &upstream(),
            "--deny",
            "eks:,iam:DetachRolePolicy",
            "--throttle",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);

    // When it prints its one line
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let endpoint = line.trim_end();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{line:?}");

    // Then it refuses what it was told to and forwards the rest
    let mut client = Client::connect(endpoint);
    assert_eq!(client.send(&rest("eks", "GET", "/clusters")).status, 403);
    assert_eq!(client.send(&query("iam", "DetachRolePolicy")).status, 403);
    assert_eq!(client.send(&query("iam", "GetRole")).status, 200);

    // and reports it at /__proxy/seen
    let seen: serde_json::Value = serde_json::from_str(&client.send(&plain("GET", "/__proxy/seen")).body).unwrap();
    assert_eq!(seen["operations"]["eks:GET /clusters"], 1);
    assert_eq!(seen["forwarded"], serde_json::json!({"iam": 1}));
    drop(running);
}

#[test]
fn refuses_bad_arguments_with_exit_code_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_aws-proxy"))
        .args(["--throttle", "0.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--upstream is required"));
    assert!(output.stdout.is_empty());
}
