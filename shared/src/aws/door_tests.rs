//! A node access entry's door through the EKS adapter with `aws-smithy-mocks` (the emulator has
//! no access entries): the event is confirmed with `DescribeAccessEntry`, and only an entry of
//! a node type makes its role one to judge.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::types::AccessEntry as SdkAccessEntry;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::EksClients;
use crate::discovery::IndexCache;
use crate::event::DoorEvent;
use crate::ports::fakes::{FakeEc2, FakeIam};
use crate::types::{DoorKind, NodeBinding};
use crate::verdict::check::InAccount;
use crate::verdict::doors::{Decision, Scope, decide};

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/ci-deployer";

/// EKS whose `DescribeAccessEntry` of [`PRINCIPAL`] answers an entry of `kind`.
fn eks_with_entry(kind: &'static str) -> EksClients {
    let describe = mock!(aws_sdk_eks::Client::describe_access_entry)
        .match_requests(|r| r.principal_arn() == Some(PRINCIPAL) && r.cluster_name() == Some("prod"))
        .then_output(move || {
            DescribeAccessEntryOutput::builder()
                .access_entry(SdkAccessEntry::builder().principal_arn(PRINCIPAL).r#type(kind).build())
                .build()
        });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&describe]);
    EksClients::from_clients(HashMap::from([("us-east-1".to_owned(), client)]))
}

async fn decided(eks: &EksClients, event_type: &str) -> Decision {
    let (iam, ec2, index) = (FakeIam::default(), FakeEc2::default(), IndexCache::new(Duration::ZERO));
    let acct = InAccount {
        id: "123456789012",
        own_role: None,
        iam: &iam,
        eks,
        ec2: &ec2,
        index: &index,
    };
    let regions = ["us-east-1".to_owned()];
    let scope = Scope {
        acct: &acct,
        regions: &regions,
        concurrency: 4,
        event: "CreateAccessEntry",
    };
    let door = DoorEvent::AccessEntryCreated {
        region: "us-east-1".into(),
        cluster: "prod".into(),
        principal_arn: PRINCIPAL.into(),
        entry_type: event_type.into(),
    };
    decide(&scope, &door).await.expect("decided")
}

#[tokio::test]
async fn a_node_access_entry_confirmed_by_eks_makes_its_role_one_to_judge() {
    let Decision::Judge(judge) = decided(&eks_with_entry("EC2_LINUX"), "EC2_LINUX").await else {
        panic!("a node entry is judged");
    };
    assert_eq!(judge.roles, vec!["ci-deployer"]);
    assert_eq!(judge.door.kind, DoorKind::NodeAccessEntry);
    assert_eq!(
        judge.confirmed,
        Some(NodeBinding::AccessEntry {
            region: "us-east-1".into(),
            cluster: "prod".into(),
            entry_type: "EC2_LINUX".into(),
        })
    );
}

#[tokio::test]
async fn an_entry_that_eks_says_is_not_a_nodes_is_unrelated_whatever_the_event_claimed() {
    let decision = decided(&eks_with_entry("STANDARD"), "EC2_LINUX").await;
    let Decision::Unrelated(reason) = decision else {
        panic!("{decision:?}");
    };
    assert!(reason.contains("is of type STANDARD"), "{reason}");
}
