//! The command's credential errors, as a person sees them: the real binary with a temporary
//! home, its own AWS files, instance metadata off and no AWS variable from the test's own
//! environment. Each failure is exit 2 and one `error:` line with a hint; none leaks the SDK's
//! error dump. Every endpoint is on 127.0.0.1: nothing leaves the machine.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use noderole_integration::*;

/// A home directory with its own `~/.aws`, removed when dropped.
struct Home {
    dir: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = std::env::temp_dir().join(unique("cli-home"));
        std::fs::create_dir_all(dir.join(".aws/sso/cache")).expect("home");
        Home { dir }
    }

    fn write(&self, relative: &str, content: &str) {
        std::fs::write(self.dir.join(relative), content).expect("write");
    }

    fn path(&self, relative: &str) -> String {
        self.dir.join(relative).display().to_string()
    }

    /// The command run from this home, `extra` variables on top.
    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> CliRun {
        let (home, config, credentials) = (self.path(""), self.path(".aws/config"), self.path(".aws/credentials"));
        let mut env = vec![
            ("HOME", home.as_str()),
            ("AWS_CONFIG_FILE", config.as_str()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.as_str()),
        ];
        env.extend_from_slice(extra);
        run_cli_env(args, &env).expect("ran")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Exit 2, one `error:` line and nothing else on stderr, no SDK internals; returns the line.
fn one_error(run: &CliRun) -> String {
    assert_eq!(run.code, 2, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(lines[0].starts_with("error: "), "{run:?}");
    for internal in [
        "ConnectorError",
        "dispatch failure",
        "DispatchFailure",
        "ProviderError",
        "Attempted:",
    ] {
        assert!(!run.stderr.contains(internal), "{internal} in {run:?}");
    }
    assert!(run.stdout.is_empty(), "{run:?}");
    lines[0].to_owned()
}

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A profile signed in through an SSO session, its portal and SSO API on 127.0.0.1.
fn sso_profile(home: &Home, token_expires: &str) {
    home.write(
        ".aws/config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = http://127.0.0.1:9/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    );
    // aws-config reads the session's token from ~/.aws/sso/cache/<sha1 of the session name>.json
    // (`printf corp | sha1sum`)
    home.write(
        ".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
        &format!(
            r#"{{"startUrl":"http://127.0.0.1:9/start","region":"us-east-1","accessToken":"token","expiresAt":"{token_expires}"}}"#
        ),
    );
}

#[test]
fn no_credentials_at_all_is_one_sentence_with_a_hint() {
    // Given no environment credentials, no AWS files and no instance metadata
    let home = Home::new();

    // When the audit runs
    let run = home.run(&["audit"], &[]);

    // Then it says so in one sentence and says how to sign in
    let line = one_error(&run);
    assert!(line.contains("no AWS credentials found"), "{line}");
    assert!(line.contains("aws sso login"), "{line}");
    assert!(line.contains("--profile"), "{line}");
}

#[test]
fn an_unknown_profile_is_named_with_the_profiles_that_exist() {
    // Given AWS files that define `dev` and `ops`
    let home = Home::new();
    home.write(".aws/config", "[profile dev]\nregion = us-east-1\n");
    home.write(
        ".aws/credentials",
        "[ops]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n",
    );

    // When the audit names `nope`, by flag and by AWS_PROFILE
    for run in [
        home.run(&["audit", "--profile", "nope"], &[]),
        home.run(&["audit"], &[("AWS_PROFILE", "nope")]),
    ] {
        // Then the one sentence names the profile, the files read, and the profiles there are
        let line = one_error(&run);
        assert!(line.contains("profile `nope`"), "{line}");
        assert!(line.contains("is not defined in"), "{line}");
        assert!(line.contains(&home.path(".aws/config")), "{line}");
        assert!(line.contains("pick one of dev, ops"), "{line}");
        assert!(!line.contains("no AWS credentials"), "{line}");
    }
    assert!(
        home.run(&["audit", "--profile", "nope"], &[])
            .stderr
            .contains("(from --profile)")
    );
    assert!(
        home.run(&["audit"], &[("AWS_PROFILE", "nope")])
            .stderr
            .contains("(from AWS_PROFILE)")
    );
}

#[test]
fn an_unknown_profile_without_any_aws_files_says_how_to_create_it() {
    let home = Home::new();
    let line = one_error(&home.run(&["audit", "--profile", "nope"], &[]));
    assert!(
        line.contains("profile `nope` (from --profile) is not defined"),
        "{line}"
    );
    assert!(line.contains("aws configure sso --profile nope"), "{line}");
}

#[test]
fn an_expired_sso_session_asks_for_aws_sso_login() {
    // Given a profile whose SSO session token expired (no refresh token to renew it with)
    let home = Home::new();
    sso_profile(&home, "2020-01-01T00:00:00Z");

    // When the audit runs with it
    let unreachable = closed_port();
    let run = home.run(&["audit", "--profile", "dev"], &[("AWS_ENDPOINT_URL", &unreachable)]);

    // Then it asks for a new sign-in to that very profile
    let line = one_error(&run);
    assert!(line.contains("SSO session of profile `dev` has expired"), "{line}");
    assert!(line.contains("aws sso login --profile dev"), "{line}");
}

#[test]
fn a_token_sso_no_longer_accepts_is_an_ended_session_too() {
    // Given a cached token that has not expired by its date, which SSO refuses
    // (GetRoleCredentials answers UnauthorizedException, as for a revoked session)
    let home = Home::new();
    sso_profile(&home, "2099-01-01T00:00:00Z");
    let (sso, requests) = refusing_sso();

    // When the audit runs with it
    let run = home.run(&["audit", "--profile", "dev"], &[("AWS_ENDPOINT_URL", &sso)]);

    // Then SSO was asked, and the answer is the same sentence
    assert!(
        requests
            .lock()
            .expect("requests")
            .iter()
            .any(|r| r.contains("/federation/credentials")),
        "{:?}",
        requests.lock().expect("requests")
    );
    let line = one_error(&run);
    assert!(
        line.contains("SSO session of profile `dev` has expired or was never started"),
        "{line}"
    );
}

#[test]
fn an_unreachable_sts_is_one_line_with_its_root_cause() {
    // Given credentials, and an endpoint nothing listens on
    let home = Home::new();
    let unreachable = closed_port();
    let run = home.run(
        &["audit"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", &unreachable),
        ],
    );
    let line = one_error(&run);
    assert!(line.contains("AWS STS could not be reached"), "{line}");
    assert!(line.contains("refused"), "{line}");
}

/// An HTTP server on 127.0.0.1 answering every request as SSO answers a token it does not
/// accept; returns its endpoint and the request lines it saw.
fn refusing_sso() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            requests.lock().expect("requests").push(first.trim_end().to_owned());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = r#"{"message":"Session token not found or invalid"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nx-amzn-ErrorType: UnauthorizedException\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (endpoint, seen)
}
