//! Tests of the allowlist: defaults, paths and partitions, customer look-alikes, the add-on
//! policies, the last worker-node and ECR policies kept.

use super::*;
use crate::config::{CNI_POLICY_NAME, DEFAULT_ALLOWED_POLICIES};
use crate::types::VPC_CNI;
use crate::types::{AttachedPolicy, InlinePolicy};

fn managed(partition: &str, name: &str) -> AttachedPolicy {
    AttachedPolicy {
        name: name.to_owned(),
        arn: arn::aws_managed_policy_arn(partition, name),
    }
}

fn customer(name: &str) -> AttachedPolicy {
    AttachedPolicy {
        name: name.to_owned(),
        arn: format!("arn:aws:iam::123456789012:policy/{name}"),
    }
}

fn role(partition: &str, attached: Vec<AttachedPolicy>, inline: &[&str]) -> RoleState {
    RoleState {
        name: "node".into(),
        arn: format!("arn:{partition}:iam::123456789012:role/eks/node"),
        attached,
        inline: inline
            .iter()
            .map(|n| InlinePolicy {
                name: (*n).into(),
                document: Some("{}".into()),
            })
            .collect(),
    }
}

fn cni(need: AddonNeed) -> AddonNeeds {
    let mut needs = AddonNeeds::default();
    needs.insert(&VPC_CNI, need);
    needs
}

fn not_needed() -> AddonNeeds {
    cni(AddonNeed::NotNeeded { clusters: vec![] })
}

fn rules(allowed: &BTreeSet<String>, cni: AddonPolicy) -> Allowlist<'_> {
    Allowlist {
        allowed,
        cni,
        addons: AddonPolicy::KeepIfNeeded,
        exceptions: &[],
        today: chrono::NaiveDate::MIN,
    }
}

fn defaults() -> BTreeSet<String> {
    DEFAULT_ALLOWED_POLICIES.iter().map(|s| (*s).to_owned()).collect()
}

fn violating(e: &Evaluation) -> Vec<&str> {
    e.violations.iter().map(Violation::policy_name).collect()
}

fn kept_names(e: &Evaluation) -> Vec<&str> {
    e.kept.iter().map(|k| k.policy_name.as_str()).collect()
}

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const ECR: &str = "AmazonEC2ContainerRegistryReadOnly";

#[test]
fn verdicts_table() {
    let allowed = defaults();
    let needed = cni(AddonNeed::Needed {
        clusters: vec!["prod".into()],
    });
    struct Case {
        name: &'static str,
        partition: &'static str,
        attached: Vec<AttachedPolicy>,
        inline: &'static [&'static str],
        cni: AddonPolicy,
        need: AddonNeeds,
        violations: &'static [&'static str],
    }
    let cases = vec![
        Case {
            name: "compliant role",
            partition: "aws",
            attached: vec![
                managed("aws", WORKER),
                managed("aws", ECR),
                managed("aws", CNI_POLICY_NAME),
            ],
            inline: &[],
            cni: AddonPolicy::KeepIfNeeded,
            need: needed.clone(),
            violations: &[],
        },
        Case {
            name: "admin attached",
            partition: "aws",
            attached: vec![
                managed("aws", WORKER),
                managed("aws", ECR),
                managed("aws", "AdministratorAccess"),
            ],
            inline: &[],
            cni: AddonPolicy::Keep,
            need: needed.clone(),
            violations: &["AdministratorAccess"],
        },
        Case {
            name: "every inline policy is a violation",
            partition: "aws",
            attached: vec![managed("aws", WORKER), managed("aws", ECR)],
            inline: &["a", "b"],
            cni: AddonPolicy::Keep,
            need: needed.clone(),
            violations: &["a", "b"],
        },
        Case {
            name: "customer look-alike of an allowlisted name",
            partition: "aws",
            attached: vec![managed("aws", WORKER), managed("aws", ECR), customer(WORKER)],
            inline: &[],
            cni: AddonPolicy::Keep,
            need: needed.clone(),
            violations: &[WORKER],
        },
        Case {
            name: "partition-aware: aws-cn role with aws-cn policies",
            partition: "aws-cn",
            attached: vec![
                managed("aws-cn", WORKER),
                managed("aws-cn", ECR),
                managed("aws-cn", "AmazonS3FullAccess"),
            ],
            inline: &[],
            cni: AddonPolicy::Keep,
            need: needed.clone(),
            violations: &["AmazonS3FullAccess"],
        },
        Case {
            name: "partition-aware: aws ARN on a gov role is not the allowlisted policy",
            partition: "aws-us-gov",
            attached: vec![
                managed("aws-us-gov", WORKER),
                managed("aws-us-gov", ECR),
                managed("aws", "AmazonEKSWorkerNodeMinimalPolicy"),
            ],
            inline: &[],
            cni: AddonPolicy::Keep,
            need: needed.clone(),
            violations: &["AmazonEKSWorkerNodeMinimalPolicy"],
        },
        Case {
            name: "CNI denied",
            partition: "aws",
            attached: vec![
                managed("aws", WORKER),
                managed("aws", ECR),
                managed("aws", CNI_POLICY_NAME),
            ],
            inline: &[],
            cni: AddonPolicy::Deny,
            need: needed.clone(),
            violations: &[CNI_POLICY_NAME],
        },
        Case {
            name: "CNI no longer needed",
            partition: "aws",
            attached: vec![
                managed("aws", WORKER),
                managed("aws", ECR),
                managed("aws", CNI_POLICY_NAME),
            ],
            inline: &[],
            cni: AddonPolicy::KeepIfNeeded,
            need: not_needed(),
            violations: &[CNI_POLICY_NAME],
        },
        Case {
            name: "CNI need unknown is kept",
            partition: "aws",
            attached: vec![
                managed("aws", WORKER),
                managed("aws", ECR),
                managed("aws", CNI_POLICY_NAME),
            ],
            inline: &[],
            cni: AddonPolicy::KeepIfNeeded,
            need: cni(AddonNeed::Unknown {
                reason: "denied".into(),
            }),
            violations: &[],
        },
    ];
    for case in cases {
        let evaluation =
            rules(&allowed, case.cni).evaluate(&role(case.partition, case.attached, case.inline), &case.need);
        assert_eq!(violating(&evaluation), case.violations, "{}", case.name);
    }
}

#[test]
fn allowlisted_names_match_aws_managed_policies_under_any_path_but_never_customer_ones() {
    let allowed: BTreeSet<String> = [
        "AmazonEBSCSIDriverPolicy",
        "job-function/ViewOnlyAccess",
        "AmazonEKSWorkerNodePolicy",
    ]
    .map(str::to_owned)
    .into();
    let rules = rules(&allowed, AddonPolicy::Keep);
    let cases = [
        (
            "aws",
            "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            true,
        ),
        ("aws", "arn:aws:iam::aws:policy/AmazonEBSCSIDriverPolicy", true),
        ("aws", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", true),
        // a path in the entry must match exactly
        ("aws", "arn:aws:iam::aws:policy/ViewOnlyAccess", false),
        (
            "aws",
            "arn:aws:iam::123456789012:policy/service-role/AmazonEBSCSIDriverPolicy",
            false,
        ),
        (
            "aws",
            "arn:aws:iam::123456789012:policy/AmazonEKSWorkerNodePolicy",
            false,
        ),
        (
            "aws-cn",
            "arn:aws-cn:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            true,
        ),
        (
            "aws-cn",
            "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            false,
        ),
        (
            "aws",
            "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicyV2",
            false,
        ),
    ];
    for (partition, arn, allowed) in cases {
        assert_eq!(rules.allows(partition, arn), allowed, "{arn} in {partition}");
    }
}

#[test]
fn each_add_on_on_the_role_is_checked_once_unless_allowlisted_or_decided_by_setting() {
    let state = role(
        "aws",
        vec![
            managed("aws", "CloudWatchAgentServerPolicy"),
            managed("aws", CNI_POLICY_NAME),
            managed("aws", "AWSXrayWriteOnlyAccess"),
            managed("aws", "service-role/AmazonEBSCSIDriverPolicy"),
            customer("AmazonEFSCSIDriverPolicy"),
        ],
        &[],
    );
    let names = |rules: Allowlist<'_>| -> Vec<&str> { rules.addons_to_check(&state).iter().map(|a| a.name).collect() };
    let allowed = defaults();
    assert_eq!(
        names(rules(&allowed, AddonPolicy::KeepIfNeeded)),
        vec!["amazon-cloudwatch-observability", "vpc-cni", "aws-ebs-csi-driver"]
    );
    // the CNI policy follows CNI_POLICY even when allowlisted; the others follow the allowlist
    let allowed: BTreeSet<String> = ["AmazonEBSCSIDriverPolicy".to_owned(), CNI_POLICY_NAME.to_owned()].into();
    assert_eq!(
        names(rules(&allowed, AddonPolicy::KeepIfNeeded)),
        vec!["amazon-cloudwatch-observability", "vpc-cni"]
    );
    let mut deny = rules(&allowed, AddonPolicy::Deny);
    deny.addons = AddonPolicy::Deny;
    assert!(names(deny).is_empty());
}

#[test]
fn never_removes_the_last_worker_or_ecr_policy() {
    // Given an allowlist that forgot the worker and ECR policies
    let allowed: BTreeSet<String> = ["AmazonEKS_CNI_Policy".to_owned()].into();
    let rules = rules(&allowed, AddonPolicy::Keep);
    let state = role(
        "aws",
        vec![
            managed("aws", WORKER),
            managed("aws", "AmazonEC2ContainerRegistryPowerUser"),
            managed("aws", ECR),
            managed("aws", "AdministratorAccess"),
        ],
        &[],
    );
    // When evaluated
    let evaluation = rules.evaluate(&state, &not_needed());
    // Then one worker policy and the least privileged ECR policy stay, with a reason
    assert_eq!(
        violating(&evaluation),
        vec!["AmazonEC2ContainerRegistryPowerUser", "AdministratorAccess"]
    );
    assert_eq!(kept_names(&evaluation), vec![WORKER, ECR]);
    assert!(evaluation.kept.iter().all(|k| k.reason.starts_with("last ")));
}

#[test]
fn the_only_ecr_policy_stays_even_when_broad() {
    let allowed = defaults();
    let rules = rules(&allowed, AddonPolicy::Keep);
    let state = role(
        "aws",
        vec![
            managed("aws", WORKER),
            managed("aws", "AmazonEC2ContainerRegistryPowerUser"),
        ],
        &[],
    );
    let evaluation = rules.evaluate(&state, &not_needed());
    assert!(evaluation.violations.is_empty());
    assert!(kept_names(&evaluation).contains(&"AmazonEC2ContainerRegistryPowerUser"));
}
