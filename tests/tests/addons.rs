//! Add-on and controller policies on node roles, against the emulator over real HTTP: the
//! allowlist by name whatever the policy's path, an eksctl-built node role in dry-run with what
//! each policy is for and the commands that move it, and those commands' IAM part replayed.
//!
//! The emulator has no EKS add-on or Pod Identity API (it answers HTML 404), so add-on policies
//! are kept here because their need cannot be checked; the need itself is tested with fakes and
//! `aws-smithy-mocks` in `shared/`.

use std::time::Duration;

use noderole_integration::*;
use serde_json::Value;

const DELIVERY: Duration = Duration::from_secs(10);
const EBS: &str = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy";

#[tokio::test]
async fn an_allowlisted_policy_under_a_path_stays_and_a_customer_look_alike_goes() {
    for allowed in [
        "AmazonEKSWorkerNodePolicy,AmazonEC2ContainerRegistryReadOnly,AmazonEBSCSIDriverPolicy",
        "AmazonEKSWorkerNodePolicy,AmazonEC2ContainerRegistryReadOnly,service-role/AmazonEBSCSIDriverPolicy",
        "AmazonEKSWorkerNodePolicy,AmazonEC2ContainerRegistryReadOnly,arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    ] {
        // Given a node role with the EBS CSI driver's AWS-managed policy (path service-role/) and
        // a customer-managed policy that borrows its name
        let account = Account::new(Moto::shared()).await;
        let role = unique("node-ebs");
        let arn = account.node_role(&role, &[]).await.unwrap();
        account.attach(&role, EBS).await.unwrap();
        let look_alike = account
            .customer_policy(
                "AmazonEBSCSIDriverPolicy",
                &format!("/{role}/"),
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
            )
            .await
            .unwrap();
        account.attach(&role, &look_alike).await.unwrap();
        account.cluster(REGION, &unique("c"), &[("ng", &arn)]).await.unwrap();
        let inbox = account.inbox().await.unwrap();
        let guard = remediator(
            &account,
            config(&inbox.topic_arn, &[("MODE", "enforce"), ("ALLOWED_POLICIES", allowed)]),
        )
        .await;

        // When an attach event arrives
        let report = json_of(&guard.handle(&attach_event(&role, EBS)).await.unwrap());

        // Then the allowlisted AWS-managed policy stays, the look-alike is detached
        let attached = account.attached(&role).await.unwrap();
        assert!(attached.contains(&EBS.to_owned()), "{allowed}: {report}");
        assert!(!attached.contains(&look_alike), "{allowed}: {report}");
        let kept = report["kept"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["policy_arn"] == EBS)
            .expect("kept");
        assert_eq!(kept["reason"], "allowlisted");
        assert_eq!(
            actions(&report),
            vec![(
                "detach_managed_policy".to_owned(),
                "AmazonEBSCSIDriverPolicy".to_owned(),
                "done".to_owned()
            )]
        );
    }
}

/// An eksctl-built node role: `eksctl-<cluster>-nodegroup-<ng>-NodeInstanceRole-<suffix>` with
/// the policies eksctl attaches for `iam.withAddonPolicies` (imageBuilder, ebs, cloudWatch) and
/// the inline policies it creates (autoScaler, externalDNS), named `<stack name>-<suffix>` (see
/// `shared/src/usage.rs` for the source).
struct Eksctl {
    role: String,
    arn: String,
    stack: String,
}

const AUTOSCALING: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["autoscaling:DescribeAutoScalingGroups","autoscaling:DescribeAutoScalingInstances","autoscaling:DescribeLaunchConfigurations","autoscaling:DescribeTags","autoscaling:SetDesiredCapacity","autoscaling:TerminateInstanceInAutoScalingGroup","ec2:DescribeLaunchTemplateVersions"],"Resource":"*"}]}"#;
const DNS_CHANGES: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["route53:ChangeResourceRecordSets"],"Resource":"arn:aws:route53:::hostedzone/*"}]}"#;
const DNS_ZONES: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["route53:ListHostedZones","route53:ListResourceRecordSets","route53:ListTagsForResource"],"Resource":"*"}]}"#;

impl Eksctl {
    async fn create(account: &Account) -> Eksctl {
        let cluster = unique("prod");
        let stack = format!("eksctl-{cluster}-nodegroup-ng-1");
        let role = format!("{stack}-NodeInstanceRole-1X2Y3Z");
        let arn = account
            .role(
                &role,
                "/",
                EC2_TRUST,
                &[
                    // what eksctl attaches to a managed node group's role by default
                    "AmazonEKSWorkerNodePolicy",
                    "AmazonEC2ContainerRegistryPullOnly",
                    "AmazonEKS_CNI_Policy",
                    "AmazonSSMManagedInstanceCore",
                    // and for withAddonPolicies imageBuilder, ebs, cloudWatch
                    "AmazonEC2ContainerRegistryPowerUser",
                    "service-role/AmazonEBSCSIDriverPolicy",
                    "CloudWatchAgentServerPolicy",
                ],
            )
            .await
            .unwrap();
        for (suffix, document) in [
            ("PolicyAutoScaling", AUTOSCALING),
            ("PolicyExternalDNSChangeSet", DNS_CHANGES),
            ("PolicyExternalDNSHostedZones", DNS_ZONES),
        ] {
            account
                .put_inline(&role, &format!("{stack}-{suffix}"), document)
                .await
                .unwrap();
        }
        account.cluster(REGION, &cluster, &[("ng-1", &arn)]).await.unwrap();
        Eksctl { role, arn, stack }
    }
}

fn find<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|i| i[field] == value))
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
}

#[tokio::test]
async fn an_eksctl_node_role_in_dry_run_says_what_each_policy_is_for_and_how_to_move_it() {
    // Given an eksctl-built node role with autoScaler, externalDNS, ebs, cloudWatch and
    // imageBuilder add-on policies
    let account = Account::new(Moto::shared()).await;
    let node = Eksctl::create(&account).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "dry-run")])).await;
    let before = (
        account.attached(&node.role).await.unwrap(),
        account.inline(&node.role).await.unwrap(),
    );

    // When the sweep-equivalent event for the role arrives in dry-run
    let report = json_of(
        &guard
            .handle(&attach_event(
                &node.role,
                &aws_managed("AmazonEC2ContainerRegistryPowerUser"),
            ))
            .await
            .unwrap(),
    );

    // Then nothing changed
    assert_eq!(report["outcome"], "violations_found");
    let after = (
        account.attached(&node.role).await.unwrap(),
        account.inline(&node.role).await.unwrap(),
    );
    assert_eq!(before, after);

    // and each attributable policy says what it is probably for
    let violations = &report["violations"];
    let autoscaling = find(violations, "policy_name", &format!("{}-PolicyAutoScaling", node.stack));
    assert_eq!(autoscaling["used_by"]["component"], "Cluster Autoscaler");
    assert!(
        autoscaling["used_by"]["evidence"]
            .as_str()
            .unwrap()
            .contains("withAddonPolicies.autoScaler")
    );
    for suffix in ["PolicyExternalDNSChangeSet", "PolicyExternalDNSHostedZones"] {
        let dns = find(violations, "policy_name", &format!("{}-{suffix}", node.stack));
        assert_eq!(dns["used_by"]["component"], "ExternalDNS");
    }
    let power_user = find(violations, "policy_name", "AmazonEC2ContainerRegistryPowerUser");
    assert!(
        power_user["used_by"]["evidence"]
            .as_str()
            .unwrap()
            .contains("imageBuilder")
    );
    let ssm = find(violations, "policy_name", "AmazonSSMManagedInstanceCore");
    assert!(
        ssm["used_by"]["note"]
            .as_str()
            .unwrap()
            .contains("cannot move to Pod Identity")
    );
    // add-on policies are kept (the emulator cannot say whether the add-ons run on the node
    // role), with what they are for
    let kept = &report["kept"];
    let ebs = find(kept, "policy_name", "AmazonEBSCSIDriverPolicy");
    assert!(
        ebs["reason"].as_str().unwrap().contains("could not be checked"),
        "{ebs}"
    );
    assert_eq!(ebs["used_by"]["addon"], "aws-ebs-csi-driver");
    assert_eq!(
        find(kept, "policy_name", "CloudWatchAgentServerPolicy")["used_by"]["addon"],
        "amazon-cloudwatch-observability"
    );

    // and one migration per movable workload, with Pod Identity commands for this cluster
    let migrations = report["migrations"].as_array().expect("migrations");
    let components: Vec<&str> = migrations.iter().filter_map(|m| m["component"].as_str()).collect();
    assert_eq!(components, vec!["Cluster Autoscaler", "ExternalDNS"], "{report}");
    let cluster = report["nodegroups"][0]["cluster"].as_str().unwrap();
    for m in migrations {
        let commands: Vec<&str> = m["commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(commands[0].starts_with("aws iam create-role"), "{commands:?}");
        let association = commands.last().unwrap();
        assert!(
            association.starts_with("aws eks create-pod-identity-association"),
            "{association}"
        );
        assert!(
            association.contains(&format!("--cluster-name '{cluster}'")),
            "{association}"
        );
        assert!(association.contains(&format!(
            "--service-account '{}'",
            m["service_accounts"][0].as_str().unwrap()
        )));
    }

    // and the notification a person reads carries the same
    let notes = inbox.drain(DELIVERY).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].report["migrations"], report["migrations"]);
    let _ = &node.arn;
}

#[tokio::test]
async fn the_migration_commands_create_a_pod_identity_role_with_the_same_permissions() {
    // Given the migrations of an eksctl node role
    let account = Account::new(Moto::shared()).await;
    let node = Eksctl::create(&account).await;
    let inbox = account.inbox().await.unwrap();
    let guard = remediator(&account, config(&inbox.topic_arn, &[("MODE", "dry-run")])).await;
    let report = json_of(&guard.handle(&attach_event(&node.role, EBS)).await.unwrap());
    let autoscaler = find(&report["migrations"], "component", "Cluster Autoscaler");

    // When its IAM commands are run (the emulator has no Pod Identity API: the
    // `aws eks create-pod-identity-association` text is checked by unit tests)
    for command in autoscaler["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
    {
        if command.starts_with("aws iam ") {
            account.run_iam_command(command).await.unwrap();
        }
    }

    // Then the new role trusts EKS Pod Identity only and carries the identical document
    let role_name = autoscaler["role_name"].as_str().unwrap();
    let role = account
        .iam
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust: Value = serde_json::from_str(&noderole::types::decode_document(
        role.assume_role_policy_document().unwrap(),
    ))
    .unwrap();
    assert_eq!(trust["Statement"][0]["Principal"]["Service"], "pods.eks.amazonaws.com");
    assert_eq!(
        trust["Statement"][0]["Action"],
        serde_json::json!(["sts:AssumeRole", "sts:TagSession"])
    );
    let policy_name = format!("{}-PolicyAutoScaling", node.stack);
    let moved = account
        .iam
        .get_role_policy()
        .role_name(role_name)
        .policy_name(&policy_name)
        .send()
        .await
        .unwrap();
    let moved: Value = serde_json::from_str(&noderole::types::decode_document(moved.policy_document())).unwrap();
    assert_eq!(moved, serde_json::from_str::<Value>(AUTOSCALING).unwrap());
    // and the node role itself was not touched (dry-run)
    assert!(account.inline(&node.role).await.unwrap().contains(&policy_name));
}
