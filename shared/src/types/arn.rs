//! Small, total helpers for IAM ARNs (`arn:<partition>:iam::<account>:role/<path/>name`).

/// The partition of any ARN (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub fn partition(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(p)) if !p.is_empty() => Some(p),
        _ => None,
    }
}

/// The role name of a role ARN: the last segment after `role/` (paths are dropped).
pub fn role_name_from_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" {
        return None;
    }
    let resource = parts[5].strip_prefix("role/")?;
    let name = resource.rsplit('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// The ARN of an AWS-managed policy in `partition` (`name` may carry a path).
pub fn aws_managed_policy_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{name}")
}

/// The name of a policy ARN (last path segment).
pub fn policy_name_from_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The name of an instance profile ARN (`...:instance-profile/<path/>name`): its last segment.
pub fn profile_name_from_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// IAM role names are unique case-insensitively; compare them that way.
pub fn same_role_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Role ARNs compare equal when partition, account, path and (case-insensitive) name agree.
pub fn same_role_arn(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_drop_paths_and_reject_non_roles() {
        let cases = [
            ("arn:aws:iam::123456789012:role/eks-node", Some("eks-node")),
            (
                "arn:aws:iam::123456789012:role/eks/nodes/my-node-role",
                Some("my-node-role"),
            ),
            ("arn:aws-cn:iam::123456789012:role/n", Some("n")),
            ("arn:aws:iam::123456789012:user/alice", None),
            ("arn:aws:iam::123456789012:role/", None),
            ("arn:aws:sts::123456789012:assumed-role/r/s", None),
            ("eks-node", None),
            ("", None),
        ];
        for (arn, want) in cases {
            assert_eq!(role_name_from_arn(arn), want, "{arn}");
        }
    }

    #[test]
    fn partitions_and_managed_arns() {
        assert_eq!(partition("arn:aws-us-gov:iam::1:role/x"), Some("aws-us-gov"));
        assert_eq!(partition("not-an-arn"), None);
        assert_eq!(
            aws_managed_policy_arn("aws-cn", "AmazonEKSWorkerNodePolicy"),
            "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy"
        );
        assert_eq!(policy_name_from_arn("arn:aws:iam::aws:policy/service-role/X"), "X");
    }
}
