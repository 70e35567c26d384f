//! The sweep's "is the guard blind?" check against the emulator's CloudTrail over real HTTP:
//! no trail and a stopped trail are blind, a logging multi-region trail is not. Each case has
//! a server of its own.

use std::io::{Read, Write};
use std::net::TcpStream;

use noderole_integration::*;

/// A bucket for the trail's logs (the emulator checks it exists), made with one plain HTTP PUT.
fn bucket(moto: &Moto, name: &str) {
    let address = moto.endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "PUT /{name} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

async fn sweep_with(trail: Option<bool>) -> serde_json::Value {
    // Given an account with a node role and, per case, a multi-region trail (logging or stopped)
    let moto = Moto::start().unwrap();
    let account = Account::new(&moto).await;
    node_role_named_in_cluster(&account, &unique("node"), &[]).await;
    if let Some(logging) = trail {
        bucket(&moto, "trail-logs");
        let cloudtrail = aws_sdk_cloudtrail::Client::new(&account.sdk);
        cloudtrail
            .create_trail()
            .name("management")
            .s3_bucket_name("trail-logs")
            .is_multi_region_trail(true)
            .send()
            .await
            .unwrap();
        if logging {
            cloudtrail.start_logging().name("management").send().await.unwrap();
        }
    }
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[])).await;

    // When the sweep runs
    let report = json_of(&guard.handle(&event_file("scheduled-sweep.json")).await.unwrap());

    // Then its summary notification agrees with the Report
    let notes = inbox.drain(std::time::Duration::from_secs(10)).await.unwrap();
    let summary = notes
        .iter()
        .find(|n| n.report["outcome"] == "sweep_completed")
        .expect("summary");
    assert_eq!(
        summary.subject.contains("BLIND"),
        report.get("blind").is_some(),
        "{}",
        summary.subject
    );
    report
}

#[tokio::test]
async fn no_trail_is_blind() {
    let report = sweep_with(None).await;
    let blind = report["blind"].as_str().expect("blind");
    assert!(blind.contains("no CloudTrail trail"), "{blind}");
}

#[tokio::test]
async fn a_stopped_trail_is_blind() {
    let report = sweep_with(Some(false)).await;
    let blind = report["blind"].as_str().expect("blind");
    assert!(blind.contains("trail management is not logging"), "{blind}");
}

#[tokio::test]
async fn a_logging_multi_region_trail_is_not() {
    let report = sweep_with(Some(true)).await;
    assert!(report.get("blind").is_none(), "{report}");
    assert_eq!(report["api_calls"]["cloudtrail:GetTrailStatus"], 1);
}
