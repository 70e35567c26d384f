use super::{Sources, scan};
use crate::ports::fakes::{FakeCluster, FakeEc2, FakeEks, FakeIam, error, role_arn};
use crate::types::ErrorKind;

fn eks(failing: crate::types::AwsError) -> FakeEks {
    FakeEks::new(vec![
        FakeCluster::new("us-east-1", "open").nodegroup("ng", "node-open"),
        FakeCluster::new("us-east-1", "closed")
            .nodegroup("ng", "node-closed")
            .nodegroups_fail(failing),
    ])
}

#[tokio::test]
async fn a_cluster_that_denies_its_node_groups_is_skipped_and_the_region_is_still_read() {
    let regions = vec!["us-east-1".to_owned()];
    let denied = error("eks:ListNodegroups", ErrorKind::Denied, "AccessDeniedException");
    let found = scan(&sources(&eks(denied)), &regions, 4).await.expect("scanned");

    assert_eq!(found.regions_searched, 1);
    assert!(!found.index.bindings(&role_arn("node-open")).is_empty());
    assert!(found.index.bindings(&role_arn("node-closed")).is_empty());
    assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
    assert!(
        found.skipped[0].starts_with("node groups of us-east-1/closed: "),
        "{:?}",
        found.skipped
    );
}

#[tokio::test]
async fn a_scan_that_can_search_no_region_fails_instead_of_finding_nothing() {
    // Given EKS refusing ListClusters in every region, one of them with a node role
    let regions = vec!["us-east-1".to_owned(), "eu-west-1".to_owned()];
    let denied = error("eks:ListClusters", ErrorKind::Denied, "AccessDeniedException");
    let eks = eks(error("eks:ListNodegroups", ErrorKind::Denied, "AccessDeniedException"))
        .refusing(&["us-east-1", "eu-west-1"], denied.clone());

    // When it scans
    let e = scan(&sources(&eks), &regions, 4)
        .await
        .expect_err("nothing searched is no answer");

    // Then the error says so, names each region, and keeps the refusal's kind and code
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));
    assert!(e.message.starts_with("no region could be searched ("), "{e}");
    assert!(
        e.message.contains("region us-east-1: ") && e.message.contains("region eu-west-1: "),
        "{e}"
    );

    // and one region left is an answer, with the other region's refusal as a warning
    let eks = eks_only_refusing("eu-west-1", denied);
    let found = scan(&sources(&eks), &regions, 4).await.expect("one region searched");
    assert_eq!(found.regions_searched, 1);
    assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
}

fn eks_only_refusing(region: &str, denied: crate::types::AwsError) -> FakeEks {
    FakeEks::new(vec![FakeCluster::new("us-east-1", "open").nodegroup("ng", "node-open")]).refusing(&[region], denied)
}

#[tokio::test]
async fn a_transient_failure_still_fails_the_scan() {
    let regions = vec!["us-east-1".to_owned()];
    let throttled = error("eks:ListNodegroups", ErrorKind::Transient, "ThrottlingException");
    assert!(scan(&sources(&eks(throttled)), &regions, 4).await.is_err());
}

/// The EKS of a test, with no instance profile and no instance.
fn sources(eks: &FakeEks) -> Sources<'_, FakeIam, FakeEks, FakeEc2> {
    static IAM: std::sync::LazyLock<FakeIam> = std::sync::LazyLock::new(FakeIam::default);
    static EC2: std::sync::LazyLock<FakeEc2> = std::sync::LazyLock::new(FakeEc2::default);
    Sources {
        iam: &IAM,
        eks,
        ec2: &EC2,
    }
}

#[tokio::test]
async fn ec2_refusing_a_region_leaves_a_warning_and_what_eks_declares() {
    let regions = vec!["us-east-1".to_owned()];
    let eks = FakeEks::new(vec![FakeCluster::new("us-east-1", "open").nodegroup("ng", "node-open")]);
    let ec2 = FakeEc2::default();
    let denied = error("ec2:DescribeInstances", ErrorKind::Denied, "UnauthorizedOperation");
    ec2.fail("DescribeInstances", "us-east-1", denied);
    let iam = FakeIam::default();
    let sources = Sources {
        iam: &iam,
        eks: &eks,
        ec2: &ec2,
    };

    let found = scan(&sources, &regions, 4).await.expect("scanned");

    assert!(!found.index.bindings(&role_arn("node-open")).is_empty());
    assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
    assert!(
        found.skipped[0].starts_with("instances of us-east-1: "),
        "{:?}",
        found.skipped
    );
}
