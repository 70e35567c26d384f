//! The proxy's library against a fake upstream: forwarding, naming, throttling, denial,
//! latency and the control endpoints.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_proxy::{Options, Proxy};
use common::{Client, json, plain, query, rest, upstream};

#[test]
fn forwards_every_protocol_and_names_each_request() {
    // Given a proxy that throttles nothing
    let proxy = Proxy::start(&upstream(), 0.0, 1).unwrap();
    let mut client = Client::connect(&proxy.endpoint);
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;

    // When a query, a JSON, a REST and an unsigned request pass on one connection
    let answers = [
        client.send(&query("iam", "ListRoles")),
        client.send(&json("cloudtrail", "CloudTrail_20131101.GetEventSelectors")),
        client.send(&rest("eks", "GET", "/clusters?maxResults=100")),
        client.send(&plain("GET", "/2018-06-01/runtime/invocation/next?wait=1")),
        client.send(&plain("GET", "/2018-06-01/runtime/invocation/next")),
    ];

    // Then each reached the upstream unchanged, and the client's connection stayed open
    let bodies: Vec<&str> = answers.iter().map(|a| a.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "saw POST /",
            "saw POST /",
            "saw GET /clusters?maxResults=100",
            "saw GET /2018-06-01/runtime/invocation/next?wait=1",
            "saw GET /2018-06-01/runtime/invocation/next",
        ]
    );
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 && a.header("connection").is_none()),
        "{answers:?}"
    );

    // and the proxy counted them by service and by name, unsigned ones as `http:METHOD /path`
    let seen = proxy.seen();
    let names: Vec<(&str, u64)> = seen.operations.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        names,
        [
            ("cloudtrail:GetEventSelectors", 1),
            ("eks:GET /clusters", 1),
            ("http:GET /2018-06-01/runtime/invocation/next", 2),
            ("iam:ListRoles", 1),
        ]
    );
    assert_eq!(seen.forwarded.get("http"), Some(&2));
    assert_eq!(seen.total_forwarded(), 5);
    assert_eq!(seen.total_throttled(), 0);
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert_eq!(seen.first_seen_ms.len(), 4);
    assert!(
        seen.first_seen_ms.values().all(|ms| (before..=after).contains(ms)),
        "{seen:?}"
    );
}

#[test]
fn a_body_that_runs_to_the_close_gets_a_length() {
    // Given an upstream answer without Content-Length
    let proxy = Proxy::start(&upstream(), 0.0, 1).unwrap();
    let mut client = Client::connect(&proxy.endpoint);

    // When it passes the proxy, then the client can read it and the next one on the same connection
    assert_eq!(client.send(&plain("GET", "/unframed")).body, "saw GET /unframed");
    assert_eq!(
        client.send(&plain("GET", "/unframed")).header("content-length"),
        Some("17")
    );
}

#[test]
fn throttles_aws_requests_in_each_protocols_own_words() {
    // Given a proxy that throttles every AWS request
    let proxy = Proxy::start(&upstream(), 1.0, 1).unwrap();
    let mut client = Client::connect(&proxy.endpoint);

    // When a query, a JSON and a REST request arrive
    let q = client.send(&query("sts", "GetCallerIdentity"));
    let j = client.send(&json("sqs", "AmazonSQS.ReceiveMessage"));
    let r = client.send(&rest("eks", "GET", "/clusters"));

    // Then each gets its protocol's throttling error
    assert_eq!(q.status, 400);
    assert!(q.body.contains("<Code>Throttling</Code>"), "{q:?}");
    assert_eq!(j.status, 400);
    assert!(j.body.contains(r#""__type":"ThrottlingException""#), "{j:?}");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("x-amzn-errortype"), Some("ThrottlingException"));

    // and unsigned requests (the Lambda runtime API) are never throttled
    assert_eq!(
        client
            .send(&plain("POST", "/2018-06-01/runtime/invocation/1/response"))
            .status,
        200
    );
    let seen = proxy.seen();
    assert_eq!(seen.total_throttled(), 3);
    assert_eq!(seen.forwarded.get("http"), Some(&1));
    assert_eq!(seen.total_forwarded(), 1);
}

/// The sequence of throttled (true) and forwarded requests for a seed.
fn pattern(proxy: &Proxy, n: usize) -> Vec<bool> {
    let mut client = Client::connect(&proxy.endpoint);
    (0..n)
        .map(|_| client.send(&query("iam", "GetRole")).status == 400)
        .collect()
}

#[test]
fn the_throttled_fraction_is_about_right_and_repeatable_for_a_seed() {
    // Given two proxies with the same seed and a third with another, each throttling 30%
    let up = upstream();
    let first = pattern(&Proxy::start(&up, 0.3, 42).unwrap(), 200);
    let again = pattern(&Proxy::start(&up, 0.3, 42).unwrap(), 200);
    let other = pattern(&Proxy::start(&up, 0.3, 43).unwrap(), 200);

    // Then the same seed throttles the same requests, about 30% of them, and another seed others
    assert_eq!(first, again);
    assert_ne!(first, other);
    let throttled = first.iter().filter(|t| **t).count();
    assert!((40..=80).contains(&throttled), "{throttled} of 200 throttled");
}

#[test]
fn set_fraction_takes_effect_for_the_next_request() {
    let proxy = Proxy::start(&upstream(), 0.0, 1).unwrap();
    let mut client = Client::connect(&proxy.endpoint);
    assert_eq!(client.send(&query("iam", "GetRole")).status, 200);
    proxy.set_fraction(1.0);
    assert_eq!(client.send(&query("iam", "GetRole")).status, 400);
    proxy.set_fraction(0.0);
    assert_eq!(client.send(&query("iam", "GetRole")).status, 200);
}

#[test]
fn denied_operations_get_access_denied_and_the_rest_pass() {
    // Given a proxy that refuses every EKS request and one IAM operation
    let proxy = Proxy::with_options(
        &upstream(),
        Options {
            deny: vec!["eks:".to_owned()],
            ..Options::default()
        },
    )
    .unwrap();
    proxy.deny("iam:DetachRolePolicy");
    let mut client = Client::connect(&proxy.endpoint);

    // When EKS, the refused IAM operation and another IAM operation are asked
    let eks = client.send(&rest("eks", "GET", "/clusters"));
    let detach = client.send(&query("iam", "DetachRolePolicy"));
    let get = client.send(&query("iam", "GetRole"));

    // Then the first two are refused as each protocol refuses, the third passes
    assert_eq!(eks.status, 403);
    assert_eq!(eks.header("x-amzn-errortype"), Some("AccessDeniedException"));
    assert_eq!(detach.status, 403);
    assert!(detach.body.contains("<Code>AccessDenied</Code>"), "{detach:?}");
    assert_eq!(get.body, "saw POST /");
    let seen = proxy.seen();
    assert_eq!(seen.denied.get("eks"), Some(&1));
    assert_eq!(seen.denied.get("iam"), Some(&1));
    assert_eq!(seen.forwarded.get("iam"), Some(&1));
    assert_eq!(seen.forwarded.get("eks"), None);
}

#[test]
fn canned_operations_get_the_body_and_are_not_forwarded() {
    // Given a proxy that answers Organizations' ListAccounts itself
    let proxy = Proxy::start(&upstream(), 0.0, 1).unwrap();
    proxy.answer("organizations:ListAccounts", r#"{"Accounts":[]}"#);
    let mut client = Client::connect(&proxy.endpoint);

    // When it and another operation are asked
    let listed = client.send(&json("organizations", "AWSOrganizationsV20161128.ListAccounts"));
    let described = client.send(&json("organizations", "AWSOrganizationsV20161128.DescribeOrganization"));

    // Then the first gets the canned body in its own content type, the second is forwarded
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, r#"{"Accounts":[]}"#);
    assert_eq!(listed.header("content-type"), Some("application/x-amz-json-1.1"));
    assert_eq!(described.body, "saw POST /");
    let seen = proxy.seen();
    assert_eq!(seen.answered.get("organizations"), Some(&1));
    assert_eq!(seen.forwarded.get("organizations"), Some(&1));
    assert_eq!(seen.operations.get("organizations:ListAccounts"), Some(&1));
}

#[test]
fn latency_is_added_to_every_request() {
    // Given a proxy adding 150 ms
    let proxy = Proxy::with_options(
        &upstream(),
        Options {
            latency: Duration::from_millis(150),
            ..Options::default()
        },
    )
    .unwrap();
    let mut client = Client::connect(&proxy.endpoint);

    // When two requests pass, then each took at least that long
    let started = Instant::now();
    client.send(&query("iam", "GetRole"));
    client.send(&plain("GET", "/health"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    // and without it, they are quick again
    proxy.set_latency(Duration::ZERO);
    let started = Instant::now();
    client.send(&query("iam", "GetRole"));
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_control_endpoints_report_and_reset_what_was_seen() {
    // Given a proxy that has forwarded one request and throttled another
    let proxy = Proxy::start(&upstream(), 0.0, 1).unwrap();
    let mut client = Client::connect(&proxy.endpoint);
    client.send(&rest("eks", "GET", "/clusters"));
    proxy.set_fraction(1.0);
    client.send(&query("iam", "ListRoles"));

    // When asked over HTTP what it saw
    let seen = client.send(&plain("GET", "/__proxy/seen"));

    // Then it answers JSON with the counts, and does not count the question itself
    assert_eq!(seen.status, 200);
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["forwarded"], serde_json::json!({"eks": 1}));
    assert_eq!(body["throttled"], serde_json::json!({"iam": 1}));
    assert_eq!(
        body["operations"],
        serde_json::json!({"eks:GET /clusters": 1, "iam:ListRoles": 1})
    );
    assert!(body["first_seen_ms"]["iam:ListRoles"].as_u64().unwrap() > 0, "{body}");
    assert_eq!(body, proxy.seen().to_json());

    // When reset, then it has seen nothing
    assert_eq!(client.send(&plain("POST", "/__proxy/reset")).status, 200);
    assert_eq!(proxy.seen(), aws_proxy::Seen::default());
    assert_eq!(client.send(&plain("GET", "/__proxy/nothing")).status, 404);
}

#[test]
fn an_upstream_that_is_gone_is_a_bad_gateway() {
    // Given an upstream port with nothing listening
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = Proxy::start(&format!("http://127.0.0.1:{port}"), 0.0, 1).unwrap();

    // Then the client gets a 502 that names the upstream, not a dropped connection
    let answer = Client::connect(&proxy.endpoint).send(&query("iam", "GetRole"));
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains(&port.to_string()), "{answer:?}");
}

#[test]
fn an_upstream_that_is_not_http_is_refused() {
    assert!(Proxy::start("127.0.0.1:5000", 0.0, 1).is_err());
}

#[test]
fn a_client_that_hangs_up_during_a_long_poll_closes_the_upstream_connection() {
    // Given an upstream that holds every request without answering, as the Lambda runtime API
    // holds `GET .../invocation/next` until the next invoke
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream);
        common::read_message(&mut reader).expect("the poll arrives");
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut reader, &mut rest); // returns when the proxy closes
        closed_tx.send(Instant::now()).unwrap();
    });
    let proxy = Proxy::start(&upstream, 0.0, 1).unwrap();
    let mut client = std::net::TcpStream::connect(proxy.endpoint.strip_prefix("http://").unwrap()).unwrap();
    std::io::Write::write_all(
        &mut client,
        plain("GET", "/.rt/2018-06-01/runtime/invocation/next").as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // When the client goes away before the answer
    let hung_up = Instant::now();
    drop(client);

    // Then the proxy closes its upstream connection promptly
    let closed = closed_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("upstream connection closed");
    assert!(closed.duration_since(hung_up) < Duration::from_secs(1));
    assert_eq!(
        proxy
            .seen()
            .operations
            .get("http:GET /.rt/2018-06-01/runtime/invocation/next"),
        Some(&1)
    );
}

#[test]
fn a_request_is_counted_when_it_arrives_not_when_it_is_answered() {
    // Given 200 ms of latency
    let proxy = Proxy::with_options(
        &upstream(),
        Options {
            latency: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .unwrap();
    let sent = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    Client::connect(&proxy.endpoint).send(&plain("GET", "/2018-06-01/runtime/invocation/next"));

    // Then it was first seen before the latency, not after
    let first = proxy.seen().first_seen_ms["http:GET /2018-06-01/runtime/invocation/next"];
    assert!(first < sent + 150, "first seen {} ms after it was sent", first - sent);
}
