//! End to end: the real function binary under `cargo lambda watch`, driven by the `events/`
//! files through `cargo lambda invoke`, against the emulator.

use std::time::Duration;

use noderole_integration::*;
use serde_json::json;

#[tokio::test]
async fn events_files_through_the_lambda_runtime_emulator() {
    // Given the account the events/ files describe (the part they need)
    let moto = Moto::start().expect("moto");
    let account = Account::new(&moto).await;
    let prod = account
        .role(
            "eks-node-prod",
            "/eks/nodes/",
            EC2_TRUST,
            &[
                "AmazonEKSWorkerNodePolicy",
                "AmazonEC2ContainerRegistryReadOnly",
                "AmazonEKS_CNI_Policy",
                "AdministratorAccess",
            ],
        )
        .await
        .unwrap();
    account.cluster(REGION, "prod", &[("general", &prod)]).await.unwrap();
    let batch = account.node_role("eks-node-batch", &[]).await.unwrap();
    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Debug","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    account
        .put_inline("eks-node-batch", "debug-s3-everything", document)
        .await
        .unwrap();
    account
        .cluster(SECOND_REGION, "analytics", &[("batch", &batch)])
        .await
        .unwrap();
    account
        .role("ci-deployer", "/", ACCOUNT_TRUST, &["AdministratorAccess"])
        .await
        .unwrap();
    let inbox = account.inbox().await.unwrap();

    // When the function runs in enforce mode under cargo lambda watch
    let watch = LambdaWatch::start(&[
        ("MODE", "enforce"),
        ("SECURITY_HUB", "on"),
        ("SNS_TOPIC_ARN", &inbox.topic_arn),
        ("SCAN_REGIONS", "us-east-1,us-west-2"),
        ("AWS_ENDPOINT_URL", &moto.endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ])
    .expect("cargo lambda watch");

    let attach = watch
        .invoke(&event_file("attach-admin-to-node-role.json"))
        .unwrap()
        .expect("report");
    let put = watch
        .invoke(&event_file("put-inline-on-node-role.json"))
        .unwrap()
        .expect("report");
    let unrelated = watch
        .invoke(&event_file("attach-admin-to-unrelated-role.json"))
        .unwrap()
        .expect("report");
    let denied = watch
        .invoke(&event_file("attach-denied.json"))
        .unwrap()
        .expect("report");
    let not_an_event = watch.invoke(&json!({"hello": "world"})).unwrap();

    // Then the Reports, IAM and the notifications agree
    assert_eq!(attach["outcome"], "remediated", "{attach:#}");
    // the finding of the removed policy went to Security Hub, closed
    assert_eq!(attach["security_hub"]["archived"], 1, "{attach:#}");
    assert_eq!(put["outcome"], "remediated", "{put:#}");
    assert_eq!(unrelated["outcome"], "not_node_role");
    assert_eq!(denied["outcome"], "ignored");
    let err = not_an_event.expect_err("a payload that is not an event is an error");
    assert!(
        err.contains("InvalidEvent") || err.contains("not an EventBridge event"),
        "{err}"
    );

    assert!(
        !account
            .attached("eks-node-prod")
            .await
            .unwrap()
            .contains(&aws_managed("AdministratorAccess"))
    );
    assert!(account.inline("eks-node-batch").await.unwrap().is_empty());
    assert_eq!(
        account.attached("ci-deployer").await.unwrap(),
        vec![aws_managed("AdministratorAccess")]
    );

    let mut notes = inbox.drain(Duration::from_secs(10)).await.unwrap();
    notes.sort_by(|a, b| a.subject.cmp(&b.subject));
    assert_eq!(reports(&notes).len(), 2, "{notes:?}");
    assert_eq!(notes.iter().filter(|n| n.is_backup()).count(), 1, "{notes:?}");
    let restore = notes
        .iter()
        .find_map(|n| n.report["deleted_inline_policies"][0]["restore_command"].as_str())
        .expect("restore command in a notification");
    assert!(restore.contains("--role-name 'eks-node-batch' --policy-name 'debug-s3-everything'"));

    // When the schedule then sweeps (this account has no trail: the guard is blind)
    let sweep = watch
        .invoke(&event_file("scheduled-sweep.json"))
        .unwrap()
        .expect("report");
    assert_eq!(sweep["outcome"], "sweep_completed", "{sweep:#}");

    // Then every invocation wrote exactly one CloudWatch EMF line to stdout, unwrapped by the
    // log formatter, with the values of its Report
    let emf = watch.emf_lines().unwrap();
    let outcomes: Vec<&str> = emf.iter().filter_map(|d| d["Outcome"].as_str()).collect();
    assert_eq!(
        outcomes,
        vec![
            "remediated",
            "remediated",
            "not_node_role",
            "ignored",
            "invalid_event",
            "sweep_completed"
        ],
        "{emf:#?}"
    );
    for doc in &emf {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "EKSNodeRoleGuard");
        assert!(doc["_aws"]["Timestamp"].is_u64());
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(doc[metric["Name"].as_str().unwrap()].is_u64(), "{doc}");
        }
        assert_eq!(doc["Mode"], "enforce");
        assert_eq!(doc["Invocations"], 1);
    }
    assert_eq!(emf[0]["PoliciesDetached"], 1);
    assert_eq!(
        emf[0]["ApiCalls"],
        attach["api_calls"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    );
    assert_eq!(emf[0]["FindingsImported"], 1, "the removed policy's finding, archived");
    assert_eq!(emf[1]["InlinePoliciesDeleted"], 1);
    assert_eq!(emf[2]["Violations"], 0);
    // the sweep's line carries what the heartbeat alarm counts, under the Mode dimension
    assert_eq!(emf[5]["SweepsCompleted"], 1);
    assert_eq!(emf[5]["GuardBlind"], 1, "{sweep:#}");
    assert!(sweep["blind"].is_string(), "{sweep:#}");
}
