//! Tests of the configuration: defaults, lists, every error naming its variable, the audit
//! without a topic, organization mode.

use super::*;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:guard";

#[test]
fn organization_mode_needs_a_member_role_and_valid_accounts() {
    let base = [("SNS_TOPIC_ARN", TOPIC), ("AWS_REGION", "us-east-1")];
    let with = |extra: &[(&str, &str)]| {
        let mut vars = base.to_vec();
        vars.extend_from_slice(extra);
        config(&vars)
    };
    // off unless MEMBER_ROLE_NAME is set
    assert_eq!(with(&[]).expect("valid").central, None);
    let c = with(&[("MEMBER_ROLE_NAME", "/security/guard-member/")]).expect("valid");
    let central = c.central.expect("central mode");
    assert_eq!(central.member_role, "security/guard-member");
    assert_eq!(central.member_role_name(), "guard-member");
    assert_eq!(
        central.member_role_arn("aws-us-gov", "111122223333"),
        "arn:aws-us-gov:iam::111122223333:role/security/guard-member"
    );
    assert_eq!(central.accounts, AccountSet::Organization);
    assert_eq!(central.account_concurrency, 4);
    let c = with(&[
        ("MEMBER_ROLE_NAME", "guard-member"),
        ("ACCOUNTS", " 111122223333, 444455556666,111122223333"),
        ("ACCOUNT_CONCURRENCY", "8"),
    ])
    .expect("valid");
    let central = c.central.expect("central mode");
    assert_eq!(central.accounts.to_string(), "111122223333,444455556666");
    assert_eq!(central.account_concurrency, 8);
    // each bad value names its variable
    for (vars, variable) in [
        (vec![("ACCOUNTS", "111122223333")], "ACCOUNTS"),
        (vec![("ACCOUNT_CONCURRENCY", "2")], "ACCOUNT_CONCURRENCY"),
        (vec![("MEMBER_ROLE_NAME", "bad role")], "MEMBER_ROLE_NAME"),
        (vec![("MEMBER_ROLE_NAME", "a//b")], "MEMBER_ROLE_NAME"),
        (vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNTS", "1234")], "ACCOUNTS"),
        (vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNTS", " ")], "ACCOUNTS"),
        (
            vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNTS", "arn:aws:organizations")],
            "ACCOUNTS",
        ),
        (
            vec![("MEMBER_ROLE_NAME", "r"), ("ACCOUNT_CONCURRENCY", "0")],
            "ACCOUNT_CONCURRENCY",
        ),
    ] {
        match with(&vars) {
            Err(ConfigError::Invalid { variable: v, .. }) => assert_eq!(v, variable, "{vars:?}"),
            other => panic!("{vars:?}: expected an error naming {variable}, got {other:?}"),
        }
    }
}

#[test]
fn an_audit_is_always_dry_run_and_needs_no_topic() {
    let map: HashMap<&str, &str> = HashMap::from([("MODE", "enforce"), ("AWS_REGION", "eu-west-1")]);
    let c = Config::for_audit(|n| map.get(n).map(|v| (*v).to_owned())).expect("valid");
    assert_eq!(c.mode, Mode::DryRun);
    assert_eq!(c.sns_topic_arn, None);
    assert_eq!(c.scan_regions, vec!["eu-west-1"]);
    // a topic or mode left in the environment is not read, even when it would be invalid
    let stray: HashMap<&str, &str> = HashMap::from([
        ("MODE", "on"),
        ("SNS_TOPIC_ARN", "not-a-topic"),
        ("AWS_REGION", "eu-west-1"),
    ]);
    let c = Config::for_audit(|n| stray.get(n).map(|v| (*v).to_owned())).expect("valid");
    assert_eq!((c.mode, c.sns_topic_arn), (Mode::DryRun, None));
    let bad: HashMap<&str, &str> = HashMap::from([("CNI_POLICY", "maybe"), ("AWS_REGION", "eu-west-1")]);
    assert!(matches!(
        Config::for_audit(|n| bad.get(n).map(|v| (*v).to_owned())),
        Err(ConfigError::Invalid {
            variable: "CNI_POLICY",
            ..
        })
    ));
}

#[test]
fn defaults_are_safe() {
    // Given only the required topic and the Lambda-provided region
    let c = config(&[("SNS_TOPIC_ARN", TOPIC), ("AWS_REGION", "eu-west-1")]).expect("valid");
    // Then the dangerous behaviour is off and the defaults apply
    assert_eq!(c.mode, Mode::DryRun);
    assert_eq!(c.sns_topic_arn.as_deref(), Some(TOPIC));
    assert_eq!(c.scan_regions, vec!["eu-west-1"]);
    assert_eq!(c.allowed_policies.len(), DEFAULT_ALLOWED_POLICIES.len());
    assert!(c.allowed_policies.contains("AmazonEKSWorkerNodePolicy"));
    assert!(c.exempt_roles.is_empty());
    assert_eq!(c.cni_policy, AddonPolicy::KeepIfNeeded);
    assert_eq!(c.addon_policies, AddonPolicy::KeepIfNeeded);
    assert!(!c.security_hub);
    assert_eq!(c.index_ttl, Duration::from_secs(300));
}

#[test]
fn lists_are_trimmed_deduplicated_and_replace_defaults() {
    let c = config(&[
        ("SNS_TOPIC_ARN", TOPIC),
        ("MODE", "enforce"),
        ("SCAN_REGIONS", " us-east-1, us-west-2 ,us-east-1,"),
        ("ALLOWED_POLICIES", "AmazonEKSWorkerNodePolicy"),
        (
            "EXEMPT_ROLES",
            "legacy-nodes,arn:aws:iam::123456789012:role/eks/break-glass",
        ),
        ("CNI_POLICY", "deny"),
        ("INDEX_TTL_SECONDS", "0"),
    ])
    .expect("valid");
    assert_eq!(c.mode, Mode::Enforce);
    assert_eq!(c.scan_regions, vec!["us-east-1", "us-west-2"]);
    assert_eq!(
        c.allowed_policies.iter().collect::<Vec<_>>(),
        vec!["AmazonEKSWorkerNodePolicy"]
    );
    assert_eq!(c.exempt_roles.len(), 2);
    assert_eq!(c.cni_policy, AddonPolicy::Deny);
    assert_eq!(c.index_ttl, Duration::ZERO);
}

#[test]
fn empty_values_mean_unset() {
    let c = config(&[
        ("SNS_TOPIC_ARN", TOPIC),
        ("AWS_REGION", "us-east-1"),
        ("MODE", ""),
        ("ALLOWED_POLICIES", " "),
        ("SCAN_REGIONS", ""),
    ])
    .expect("valid");
    assert_eq!(c.mode, Mode::DryRun);
    assert_eq!(c.allowed_policies.len(), DEFAULT_ALLOWED_POLICIES.len());
    assert_eq!(c.scan_regions, vec!["us-east-1"]);
}

#[test]
fn every_error_names_the_variable_and_what_it_accepts() {
    let base = [("SNS_TOPIC_ARN", TOPIC), ("AWS_REGION", "us-east-1")];
    let cases: &[(&str, &str, &str)] = &[
        ("MODE", "Enforce", "dry-run"),
        ("MODE", "on", "enforce"),
        ("SNS_TOPIC_ARN", "guard-topic", "SNS topic ARN"),
        ("SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q", "SNS topic ARN"),
        ("SCAN_REGIONS", "us-east-1,Europe", "region codes"),
        ("SCAN_REGIONS", "us_east_1", "region codes"),
        (
            "ALLOWED_POLICIES",
            "arn:aws:iam::123456789012:policy/AmazonEKSWorkerNodePolicy",
            "customer-managed policies cannot be allowlisted",
        ),
        ("ALLOWED_POLICIES", "Amazon EKS", "AWS-managed policies"),
        ("ALLOWED_POLICIES", "service-role//X", "AWS-managed policies"),
        ("ADDON_POLICIES", "remove", "keep-if-needed"),
        ("EXEMPT_ROLES", "role with spaces", "role names or role ARNs"),
        (
            "EXEMPT_ROLES",
            "arn:aws:iam::123456789012:user/alice",
            "role names or role ARNs",
        ),
        ("CNI_POLICY", "maybe", "keep-if-needed"),
        ("INDEX_TTL_SECONDS", "five", "seconds"),
        ("DISCOVERY_CONCURRENCY", "0", "1 to 256"),
        ("SECURITY_HUB", "yes", "`off` or `on`"),
        ("SHARED_ROLES", "fix", "`leave` or `remediate`"),
        ("FUNCTION_TIMEOUT_SECONDS", "0", "1 to 900"),
        ("FUNCTION_TIMEOUT_SECONDS", "2m", "1 to 900"),
    ];
    for (variable, value, expected) in cases {
        let mut vars = base.to_vec();
        vars.retain(|(k, _)| k != variable);
        vars.push((variable, value));
        let err = config(&vars).expect_err(&format!("{variable}={value} must be rejected"));
        let message = err.to_string();
        assert!(message.starts_with(variable), "{message:?} must name {variable}");
        assert!(
            message.contains(expected),
            "{message:?} must say it accepts {expected:?}"
        );
    }
}

#[test]
fn allowlist_entries_are_names_paths_or_aws_managed_arns() {
    // Given a name, a name with its path and AWS-managed ARNs (any partition)
    let c = config(&[
        ("SNS_TOPIC_ARN", TOPIC),
        ("AWS_REGION", "us-east-1"),
        (
            "ALLOWED_POLICIES",
            "AmazonEKSWorkerNodePolicy, service-role/AmazonEFSCSIDriverPolicy,\
             arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy,\
             arn:aws-cn:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ),
        ("ADDON_POLICIES", "deny"),
    ])
    .expect("valid");
    // Then ARNs are stored as their path and name
    assert_eq!(
        c.allowed_policies.iter().map(String::as_str).collect::<Vec<_>>(),
        vec![
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKSWorkerNodePolicy",
            "service-role/AmazonEBSCSIDriverPolicy",
            "service-role/AmazonEFSCSIDriverPolicy",
        ]
    );
    assert_eq!(c.addon_policies, AddonPolicy::Deny);
    assert_eq!(c.cni_policy, AddonPolicy::KeepIfNeeded);
}

#[test]
fn missing_topic_and_region_are_reported_by_name() {
    let err = config(&[("AWS_REGION", "us-east-1")]).expect_err("topic required");
    assert!(err.to_string().starts_with("SNS_TOPIC_ARN is required"));
    let err = config(&[("SNS_TOPIC_ARN", TOPIC)]).expect_err("region required");
    assert!(err.to_string().starts_with("SCAN_REGIONS is required"));
}

#[test]
fn shared_roles_are_left_alone_unless_remediate_is_asked_for() {
    let base = [("SNS_TOPIC_ARN", TOPIC), ("SCAN_REGIONS", "us-east-1")];
    assert!(!config(&base).expect("default").remediate_shared_roles);
    let leave = [base[0], base[1], ("SHARED_ROLES", "leave")];
    assert!(!config(&leave).expect("leave").remediate_shared_roles);
    let remediate = [base[0], base[1], ("SHARED_ROLES", "remediate")];
    assert!(config(&remediate).expect("remediate").remediate_shared_roles);
}

#[test]
fn node_trust_is_only_notified_unless_removal_is_asked_for() {
    let base = [("SNS_TOPIC_ARN", TOPIC), ("SCAN_REGIONS", "us-east-1")];
    assert!(!config(&base).expect("default").remove_node_trust);
    let on = [base[0], base[1], ("REMOVE_NODE_TRUST", "on")];
    assert!(config(&on).expect("on").remove_node_trust);
    let bad = [base[0], base[1], ("REMOVE_NODE_TRUST", "yes")];
    let err = config(&bad).expect_err("yes is refused").to_string();
    assert_eq!(
        err,
        "REMOVE_NODE_TRUST=\"yes\" is invalid: unknown value; expected `off` or `on`"
    );
}
