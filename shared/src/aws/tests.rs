//! Adapter tests with `aws-smithy-mocks`, for the EKS APIs the emulator lacks (access entries,
//! add-ons, Pod Identity) and for error classification.

use std::collections::HashMap;

use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_addon::{DescribeAddonError, DescribeAddonOutput};
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_pod_identity_associations::ListPodIdentityAssociationsOutput;
use aws_sdk_eks::types::{AccessEntry as SdkAccessEntry, Addon, PodIdentityAssociationSummary};
use aws_sdk_iam::operation::detach_role_policy::{DetachRolePolicyError, DetachRolePolicyOutput};
use aws_sdk_iam::types::error::NoSuchEntityException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::{EksClients, IamClient};
use crate::ports::{Eks, Iam};
use crate::types::{AccessEntry, AddonCredentials, Change, ErrorKind, KNOWN_ADDONS, VPC_CNI};

fn eks(client: aws_sdk_eks::Client) -> EksClients {
    EksClients::from_clients(HashMap::from([("us-east-1".to_owned(), client)]))
}

#[tokio::test]
async fn access_entries_are_listed_across_pages_and_described() {
    let page1 = mock!(aws_sdk_eks::Client::list_access_entries)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            ListAccessEntriesOutput::builder()
                .access_entries("arn:aws:iam::123456789012:role/karpenter-node")
                .next_token("t")
                .build()
        });
    let page2 = mock!(aws_sdk_eks::Client::list_access_entries)
        .match_requests(|r| r.next_token() == Some("t"))
        .then_output(|| {
            ListAccessEntriesOutput::builder()
                .access_entries("arn:aws:iam::123456789012:role/admins")
                .build()
        });
    let describe = mock!(aws_sdk_eks::Client::describe_access_entry)
        .match_requests(|r| r.principal_arn() == Some("arn:aws:iam::123456789012:role/karpenter-node"))
        .then_output(|| {
            DescribeAccessEntryOutput::builder()
                .access_entry(
                    SdkAccessEntry::builder()
                        .principal_arn("arn:aws:iam::123456789012:role/karpenter-node")
                        .r#type("EC2_LINUX")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&page1, &page2, &describe]);
    let eks = eks(client);

    let principals = eks.access_entry_principals("us-east-1", "prod").await.expect("listed");
    assert_eq!(principals.len(), 2, "both pages read");
    let entry = eks
        .access_entry("us-east-1", "prod", &principals[0])
        .await
        .expect("described")
        .expect("exists");
    assert_eq!(
        entry,
        AccessEntry {
            principal_arn: "arn:aws:iam::123456789012:role/karpenter-node".into(),
            kind: "EC2_LINUX".into()
        }
    );
    assert!(entry.is_node_entry());
}

#[tokio::test]
async fn cni_with_an_addon_service_account_role_needs_no_node_role() {
    let addon = mock!(aws_sdk_eks::Client::describe_addon).then_output(|| {
        DescribeAddonOutput::builder()
            .addon(
                Addon::builder()
                    .addon_name("vpc-cni")
                    .service_account_role_arn("arn:aws:iam::123456789012:role/vpc-cni-irsa")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_eks, [&addon]);
    let found = eks(client)
        .addon_credentials("us-east-1", "prod", &VPC_CNI)
        .await
        .expect("checked");
    assert_eq!(found, AddonCredentials::AddonServiceAccountRole);
}

#[tokio::test]
async fn cni_falls_back_to_pod_identity_then_to_the_node_role() {
    for (associations, expected) in [(1, AddonCredentials::PodIdentity), (0, AddonCredentials::NodeRole)] {
        // the add-on is installed without a role of its own
        let addon = mock!(aws_sdk_eks::Client::describe_addon).then_output(|| {
            DescribeAddonOutput::builder()
                .addon(Addon::builder().addon_name("vpc-cni").build())
                .build()
        });
        let pod_identity = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
            .match_requests(|r| r.namespace() == Some("kube-system") && r.service_account() == Some("aws-node"))
            .then_output(move || {
                let mut out = ListPodIdentityAssociationsOutput::builder();
                for _ in 0..associations {
                    out = out.associations(
                        PodIdentityAssociationSummary::builder()
                            .namespace("kube-system")
                            .service_account("aws-node")
                            .build(),
                    );
                }
                out.build()
            });
        let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&addon, &pod_identity]);
        let found = eks(client)
            .addon_credentials("us-east-1", "prod", &VPC_CNI)
            .await
            .expect("checked");
        assert_eq!(found, expected);
        assert_eq!(pod_identity.num_calls(), 1);
    }
}

#[tokio::test]
async fn cni_without_the_addon_checks_pod_identity() {
    let addon = mock!(aws_sdk_eks::Client::describe_addon).then_error(|| {
        DescribeAddonError::ResourceNotFoundException(
            aws_sdk_eks::types::error::ResourceNotFoundException::builder().build(),
        )
    });
    let pod_identity = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
        .then_output(|| ListPodIdentityAssociationsOutput::builder().build());
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&addon, &pod_identity]);
    assert_eq!(
        eks(client)
            .addon_credentials("us-east-1", "prod", &VPC_CNI)
            .await
            .expect("checked"),
        AddonCredentials::NodeRole
    );
}

/// How a mocked cluster answers for one add-on.
#[derive(Debug, Clone, Copy)]
enum Installed {
    No,
    WithIrsa,
    /// Installed without a role of its own; this many of its service accounts have a Pod
    /// Identity association.
    WithAssociations(usize),
    Denied,
}

#[tokio::test]
async fn every_known_add_on_is_judged_by_its_own_credentials() {
    for addon in KNOWN_ADDONS {
        let accounts = addon.service_accounts.len();
        let mut cases = vec![
            (Installed::WithIrsa, Ok(AddonCredentials::AddonServiceAccountRole)),
            (Installed::WithAssociations(0), Ok(AddonCredentials::NodeRole)),
            (Installed::WithAssociations(accounts), Ok(AddonCredentials::PodIdentity)),
            (Installed::Denied, Err(ErrorKind::Denied)),
        ];
        if accounts > 1 {
            // one service account still on the node role keeps the policy needed
            cases.push((
                Installed::WithAssociations(accounts - 1),
                Ok(AddonCredentials::NodeRole),
            ));
        }
        // self-managed aws-node runs without the add-on; the others are simply not there
        cases.push((
            Installed::No,
            Ok(if addon.always_runs {
                AddonCredentials::NodeRole
            } else {
                AddonCredentials::NotInstalled
            }),
        ));
        for (installed, expected) in cases {
            let name = addon.name;
            let describe = mock!(aws_sdk_eks::Client::describe_addon)
                .match_requests(move |r| r.addon_name() == Some(name) && r.cluster_name() == Some("prod"));
            let describe = match installed {
                Installed::No => describe.then_error(|| {
                    DescribeAddonError::ResourceNotFoundException(
                        aws_sdk_eks::types::error::ResourceNotFoundException::builder().build(),
                    )
                }),
                Installed::Denied => describe.then_http_response(|| {
                    aws_smithy_runtime_api::http::Response::new(
                        StatusCode::try_from(403).expect("status"),
                        SdkBody::from(r#"{"__type":"AccessDeniedException","message":"denied"}"#),
                    )
                }),
                Installed::WithIrsa => describe.then_output(move || {
                    let addon = Addon::builder()
                        .addon_name(name)
                        .service_account_role_arn("arn:aws:iam::123456789012:role/irsa");
                    DescribeAddonOutput::builder().addon(addon.build()).build()
                }),
                Installed::WithAssociations(_) => describe.then_output(move || {
                    DescribeAddonOutput::builder()
                        .addon(Addon::builder().addon_name(name).build())
                        .build()
                }),
            };
            let associated: Vec<&'static str> = match installed {
                Installed::WithAssociations(n) => addon.service_accounts[..n].to_vec(),
                _ => Vec::new(),
            };
            let namespace = addon.namespace;
            let pod_identity = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
                .match_requests(move |r| r.namespace() == Some(namespace))
                .then_compute_output(move |r| {
                    let mut out = ListPodIdentityAssociationsOutput::builder();
                    let account = r.service_account().unwrap_or_default();
                    if associated.contains(&account) {
                        out = out.associations(
                            PodIdentityAssociationSummary::builder()
                                .namespace(namespace)
                                .service_account(account)
                                .build(),
                        );
                    }
                    out.build()
                });
            let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&describe, &pod_identity]);
            let found = eks(client).addon_credentials("us-east-1", "prod", addon).await;
            assert_eq!(
                found.as_ref().map_err(|e| e.kind),
                expected.as_ref().map_err(|k| *k),
                "{name} {installed:?}: {found:?}"
            );
        }
    }
}

#[tokio::test]
async fn access_denied_is_classified_as_denied() {
    let denied = mock!(aws_sdk_eks::Client::describe_addon).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            StatusCode::try_from(403).expect("status"),
            SdkBody::from(r#"{"__type":"AccessDeniedException","message":"explicit deny in an SCP"}"#),
        )
    });
    let client = mock_client!(aws_sdk_eks, [&denied]);
    let err = eks(client)
        .addon_credentials("us-east-1", "prod", &VPC_CNI)
        .await
        .expect_err("denied");
    assert_eq!(err.kind, ErrorKind::Denied);
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert!(err.to_string().contains("explicit deny in an SCP"), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_then_classified_as_transient() {
    let throttled = mock!(aws_sdk_eks::Client::list_clusters)
        .sequence()
        .http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                StatusCode::try_from(429).expect("status"),
                SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            )
        })
        .times(10)
        .build();
    let client = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&throttled], |c| c
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3)));
    let err = eks(client).clusters("us-east-1").await.expect_err("throttled");
    assert_eq!(err.kind, ErrorKind::Transient);
    assert_eq!(throttled.num_calls(), 3, "the SDK retried before giving up");
}

#[tokio::test]
async fn detach_of_a_policy_already_gone_is_already_done() {
    let gone = mock!(aws_sdk_iam::Client::detach_role_policy)
        .then_error(|| DetachRolePolicyError::NoSuchEntityException(NoSuchEntityException::builder().build()));
    let iam = IamClient::from_client(mock_client!(aws_sdk_iam, [&gone]));
    assert_eq!(
        iam.detach("r", "arn:aws:iam::aws:policy/AdministratorAccess").await,
        Ok(Change::AlreadyDone)
    );
    let ok = mock!(aws_sdk_iam::Client::detach_role_policy).then_output(|| DetachRolePolicyOutput::builder().build());
    let iam = IamClient::from_client(mock_client!(aws_sdk_iam, [&ok]));
    assert_eq!(
        iam.detach("r", "arn:aws:iam::aws:policy/AdministratorAccess").await,
        Ok(Change::Done)
    );
}

#[tokio::test]
async fn adding_the_role_a_profile_already_holds_is_already_done_and_another_role_is_refused() {
    use aws_sdk_iam::operation::add_role_to_instance_profile::AddRoleToInstanceProfileError;
    use aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileOutput;
    use aws_sdk_iam::types::error::LimitExceededException;
    use aws_sdk_iam::types::{InstanceProfile, Role};

    let now = aws_smithy_types::DateTime::from_secs(0);
    let holding = move |role: &str| {
        let role = Role::builder()
            .path("/")
            .role_name(role)
            .role_id("AROAEXAMPLE")
            .arn(format!("arn:aws:iam::123456789012:role/{role}"))
            .create_date(now)
            .build()
            .expect("role");
        let profile = InstanceProfile::builder()
            .path("/")
            .instance_profile_name("eks-ng")
            .instance_profile_id("AIPAEXAMPLE")
            .arn("arn:aws:iam::123456789012:instance-profile/eks-ng")
            .create_date(now)
            .roles(role)
            .build()
            .expect("profile");
        GetInstanceProfileOutput::builder().instance_profile(profile).build()
    };
    let refusal = Err(("iam:AddRoleToInstanceProfile", ErrorKind::Rejected));
    for (held, expected) in [("Node-Role", Ok(Change::AlreadyDone)), ("admin", refusal)] {
        let refused = mock!(aws_sdk_iam::Client::add_role_to_instance_profile).then_error(|| {
            AddRoleToInstanceProfileError::LimitExceededException(
                LimitExceededException::builder()
                    .message("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
                    .build(),
            )
        });
        let output = holding(held);
        let read = mock!(aws_sdk_iam::Client::get_instance_profile).then_output(move || output.clone());
        let iam = IamClient::from_client(mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&refused, &read]));
        let added = iam.add_role_to_profile("eks-ng", "node-role").await;
        assert_eq!(added.map_err(|e| (e.operation, e.kind)), expected, "{held}");
    }
}

#[tokio::test]
async fn security_hub_refusals_and_a_disabled_hub_are_read_not_raised() {
    use aws_sdk_securityhub::operation::batch_import_findings::BatchImportFindingsOutput;
    use aws_sdk_securityhub::types::ImportFindingsError;

    use crate::ports::Findings;
    use crate::telling::findings::Scope;
    use crate::types::Finding;

    let scope = Scope::new("123456789012", "us-east-1", "aws", std::time::SystemTime::UNIX_EPOCH);
    let finding = |n: usize| Finding {
        id: format!("f{n}"),
        product_arn: scope.product_arn(),
        account: scope.account.clone(),
        region: scope.region.clone(),
        partition: scope.partition.clone(),
        role_arn: "arn:aws:iam::123456789012:role/node".into(),
        title: "t".into(),
        description: "d".into(),
        severity: "HIGH".into(),
        open: true,
        created_at: scope.now.clone(),
        updated_at: scope.now.clone(),
        remediation: "r".into(),
        remediation_url: "https://example.com".into(),
        related_requirements: vec![],
        types: vec!["Software and Configuration Checks/AWS Security Best Practices".into()],
        product_fields: Default::default(),
    };
    // 150 findings: two calls of at most 100, one finding refused in the second
    let import = mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(|request| {
        let sent = request.findings().len();
        assert!(sent <= 100, "at most 100 findings per call, sent {sent}");
        let mut out = BatchImportFindingsOutput::builder()
            .success_count(i32::try_from(sent).unwrap_or_default())
            .failed_count(0);
        if let Some(refused) = request.findings().iter().find(|f| f.id() == Some("f120")) {
            out = out.failed_findings(
                ImportFindingsError::builder()
                    .id(refused.id().unwrap_or_default())
                    .error_code("InvalidInput")
                    .error_message("bad")
                    .build(),
            );
        }
        out.build()
    });
    let client = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&import]);
    let hub = super::SecurityHub::from_client(client, "us-east-1");
    let findings: Vec<Finding> = (0..150).map(finding).collect();
    let outcome = hub.import(&findings).await.expect("imported");
    assert_eq!(import.num_calls(), 2);
    assert_eq!(
        outcome.failed,
        vec![("f120".to_owned(), "InvalidInput".to_owned(), "bad".to_owned())]
    );

    // Security Hub not enabled: a rejected call whose code the core turns into a warning
    let disabled = mock!(aws_sdk_securityhub::Client::get_findings).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            StatusCode::try_from(403).expect("status"),
            SdkBody::from(
                r#"{"__type":"InvalidAccessException","Message":"Account is not subscribed to AWS Security Hub"}"#,
            ),
        )
    });
    let client = mock_client!(aws_sdk_securityhub, [&disabled]);
    let hub = super::SecurityHub::from_client(client, "us-east-1");
    let err = hub
        .open_findings(&scope.product_arn(), None)
        .await
        .expect_err("not enabled");
    assert_eq!(err.code.as_deref(), Some("InvalidAccessException"));
    assert!(!err.is_transient());
}

#[test]
fn an_error_chain_is_one_line_without_the_debug_dump() {
    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<Wrap>>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }
    let root = Wrap("tcp connect error:\n  Connection refused", None);
    let err = Wrap(
        "dispatch failure",
        Some(Box::new(Wrap("io error", Some(Box::new(root))))),
    );
    assert_eq!(
        super::error_chain(&err),
        "dispatch failure: io error: tcp connect error: Connection refused"
    );
}
