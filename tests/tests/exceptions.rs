//! `EXCEPTIONS` against the emulator, through the function and the audit: the excepted policy
//! stays on the role in dry-run and in enforce, everything else is judged as before, an expired
//! entry keeps nothing, and a malformed entry stops the function before it serves an event.

use std::process::Command;
use std::time::Duration;

use noderole_integration::*;
use serde_json::{Value, json};

const DELIVERY: Duration = Duration::from_secs(10);
const SSM: &str = "AmazonSSMManagedInstanceCore";
const AUTOSCALING: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["autoscaling:SetDesiredCapacity","autoscaling:TerminateInstanceInAutoScalingGroup"],"Resource":"*"}]}"#;

/// A node role carrying AdministratorAccess, Session Manager's policy and the autoscaler's
/// inline policy; returns its name.
async fn node_role_with_three_violations(account: &Account) -> String {
    let (role, _) = node_role_in_cluster(account, &[ADMIN, SSM]).await;
    account
        .put_inline(&role, "cluster-autoscaler", AUTOSCALING)
        .await
        .expect("inline");
    role
}

/// Session Manager's policy by ARN and the autoscaler's inline policy by name, until a day far
/// ahead; AdministratorAccess by an entry that expired long ago.
fn exceptions(role: &str) -> String {
    json!([
        {"role": role, "policy": aws_managed(SSM), "until": "2099-12-31", "reason": "bastion moves to SSM-less access in Q1"},
        {"role": role, "policy": "cluster-autoscaler", "until": "2099-12-31", "reason": "autoscaler moving to Pod Identity"},
        {"role": role, "policy": aws_managed(ADMIN), "until": "2020-01-31", "reason": "launch week"},
    ])
    .to_string()
}

fn excepted_policies(report: &Value) -> Vec<String> {
    let mut names: Vec<String> = report["excepted"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|e| e["violation"]["policy_name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn in_dry_run_the_excepted_policies_are_reported_as_excepted_and_the_rest_as_violations() {
    let account = Account::new(Moto::shared()).await;
    let role = node_role_with_three_violations(&account).await;
    let inbox = account.inbox().await.expect("inbox");
    let entries = exceptions(&role);
    let guard = remediator(&account, config(&inbox.topic_arn, &[("EXCEPTIONS", &entries)])).await;

    let report = json_of(
        &guard
            .handle(&attach_event(&role, &aws_managed(ADMIN)))
            .await
            .expect("handled"),
    );

    assert_eq!(report["outcome"], "violations_found");
    let violations: Vec<&str> = report["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["policy_name"].as_str())
        .collect();
    assert_eq!(violations, [ADMIN], "the expired entry keeps nothing");
    assert_eq!(excepted_policies(&report), [SSM, "cluster-autoscaler"]);
    let autoscaler = report["excepted"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["violation"]["kind"] == "inline_policy"))
        .expect("the autoscaler's exception");
    assert_eq!(autoscaler["until"], "2099-12-31");
    assert_eq!(autoscaler["reason"], "autoscaler moving to Pod Identity");
    let planned: Vec<String> = actions(&report).into_iter().map(|(_, policy, _)| policy).collect();
    assert_eq!(planned, [ADMIN], "only the violation is planned");

    let notes = inbox.drain(DELIVERY).await.expect("delivered");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].report["excepted"], report["excepted"]);
}

#[tokio::test]
async fn in_enforce_the_excepted_policies_stay_and_everything_else_goes() {
    let account = Account::new(Moto::shared()).await;
    let role = node_role_with_three_violations(&account).await;
    let inbox = account.inbox().await.expect("inbox");
    let entries = exceptions(&role);
    let guard = remediator(
        &account,
        config(&inbox.topic_arn, &[("MODE", "enforce"), ("EXCEPTIONS", &entries)]),
    )
    .await;

    let report = json_of(
        &guard
            .handle(&attach_event(&role, &aws_managed(ADMIN)))
            .await
            .expect("handled"),
    );

    assert_eq!(report["outcome"], "remediated");
    assert_eq!(
        actions(&report),
        [("detach_managed_policy".to_owned(), ADMIN.to_owned(), "done".to_owned())]
    );
    let attached = account.attached(&role).await.expect("attached");
    assert!(attached.contains(&aws_managed(SSM)), "{attached:?}");
    assert!(!attached.contains(&aws_managed(ADMIN)), "{attached:?}");
    assert_eq!(account.inline(&role).await.expect("inline"), ["cluster-autoscaler"]);
    assert_eq!(excepted_policies(&report), [SSM, "cluster-autoscaler"]);

    // and the next event changes nothing more: excepted policies are never acted on
    let again = json_of(
        &guard
            .handle(&attach_event(&role, &aws_managed(SSM)))
            .await
            .expect("handled"),
    );
    assert_eq!(again["outcome"], "compliant", "{again}");
    assert_eq!(excepted_policies(&again), [SSM, "cluster-autoscaler"]);
    assert_eq!(account.inline(&role).await.expect("inline"), ["cluster-autoscaler"]);
}

#[tokio::test]
async fn an_exception_for_one_role_keeps_nothing_on_another() {
    let account = Account::new(Moto::shared()).await;
    let excepted = node_role_with_three_violations(&account).await;
    let other = node_role_with_three_violations(&account).await;
    let inbox = account.inbox().await.expect("inbox");
    let entries = exceptions(&excepted);
    let guard = remediator(
        &account,
        config(&inbox.topic_arn, &[("MODE", "enforce"), ("EXCEPTIONS", &entries)]),
    )
    .await;

    let report = json_of(
        &guard
            .handle(&attach_event(&other, &aws_managed(ADMIN)))
            .await
            .expect("handled"),
    );

    assert_eq!(report["outcome"], "remediated");
    assert!(report.get("excepted").is_none(), "{report}");
    assert_eq!(account.inline(&other).await.expect("inline"), Vec::<String>::new());
    assert!(
        !account
            .attached(&other)
            .await
            .expect("attached")
            .contains(&aws_managed(SSM))
    );
}

#[tokio::test]
async fn the_sweep_keeps_what_is_excepted_in_enforce() {
    // a server of its own: an enforce sweep acts on every node role it finds
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let role = node_role_with_three_violations(&account).await;
    let inbox = account.inbox().await.expect("inbox");
    let entries = exceptions(&role);
    let guard = remediator(
        &account,
        config(&inbox.topic_arn, &[("MODE", "enforce"), ("EXCEPTIONS", &entries)]),
    )
    .await;

    let report = json_of(&guard.handle(&event_file("scheduled-sweep.json")).await.expect("swept"));

    assert_eq!(report["outcome"], "sweep_completed");
    let checked = report["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["role"]["name"] == role.as_str()))
        .expect("the role was swept");
    assert_eq!(checked["outcome"], "remediated");
    assert_eq!(excepted_policies(checked), [SSM, "cluster-autoscaler"]);
    assert!(
        account
            .attached(&role)
            .await
            .expect("attached")
            .contains(&aws_managed(SSM))
    );
    assert_eq!(account.inline(&role).await.expect("inline"), ["cluster-autoscaler"]);
}

#[test]
fn a_malformed_exception_stops_the_function_before_it_serves_anything() {
    let bad = r#"[{"role":"eks-node-app","policy":"cluster-autoscaler","until":"2027-02-30","reason":"x"}]"#;
    let output = Command::new(function_binary().expect("the function is built"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:guard")
        .env("AWS_REGION", REGION)
        .env("EXCEPTIONS", bad)
        // no runtime API: were the configuration accepted, the function would fail later, on that
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .expect("ran");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{printed}");
    assert!(printed.contains("invalid configuration"), "{printed}");
    assert!(
        printed.contains("entry 1: until \\\"2027-02-30\\\" is not a date"),
        "{printed}"
    );
}

#[tokio::test]
async fn the_audit_shows_the_exception_and_the_severity_in_every_format_and_json_says_what_ran() {
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let role = node_role_with_three_violations(&account).await;
    let file = TempFile::new(
        "exceptions.json",
        &json!([{"role": role, "policy": "cluster-autoscaler", "until": "2099-12-31", "reason": "SEC-142"}])
            .to_string(),
    )
    .expect("exceptions file");
    let path = file.path.to_str().expect("utf-8 path");
    let audit = |format: &str| {
        run_cli(
            &moto.endpoint,
            &["audit", "--regions", REGION, "--exceptions", path, "--format", format],
        )
        .expect("ran")
    };

    for format in ["table", "markdown", "html"] {
        let run = audit(format);
        assert_eq!(run.code, 0, "{format}: {run:?}");
        assert!(
            run.stdout.contains("excepted until 2099-12-31: SEC-142"),
            "{format}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("CRITICAL"),
            "{format}: the severity of AdministratorAccess"
        );
    }

    let run = audit("json");
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let checked = report["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["role"]["name"] == role.as_str()))
        .expect("the role");
    assert_eq!(excepted_policies(checked), ["cluster-autoscaler"]);
    let ran = &report["run"];
    assert_eq!(ran["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(ran["regions"], json!([REGION]));
    assert_eq!(ran["accounts"], json!([ACCOUNT]));
    assert!(
        ran["caller"].as_str().is_some_and(|arn| arn.starts_with("arn:aws:")),
        "{ran}"
    );
    assert!(
        ran["generated_at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{ran}"
    );
    assert_eq!(ran["configuration"]["exceptions"][0]["reason"], "SEC-142");
    assert_eq!(ran["configuration"]["mode"], "dry-run");

    // a malformed file is refused with exit 2, naming the flag and the entry
    let bad = TempFile::new("bad.json", r#"[{"role":"r","policy":"p","until":"2099-12-31"}]"#).expect("file");
    let run = run_cli(
        &moto.endpoint,
        &[
            "audit",
            "--regions",
            REGION,
            "--exceptions",
            bad.path.to_str().expect("utf-8"),
        ],
    )
    .expect("ran");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("--exceptions") && run.stderr.contains("entry 1: \"reason\" is missing"),
        "{}",
        run.stderr
    );
}
