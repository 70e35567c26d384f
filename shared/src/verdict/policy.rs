//! Policy documents: URL decoding, trust-policy inspection, restore commands.

use crate::types::decode_document;
/// Commands quote every value (the one implementation is on the floor).
pub use crate::types::shell_quote;
use serde_json::Value;

/// Who can assume a role that backs nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTrust {
    /// `ec2.amazonaws.com`: managed node groups, self-managed, Karpenter, Auto Mode.
    Ec2,
    /// `ssm.amazonaws.com` or IAM Roles Anywhere: EKS hybrid nodes.
    Hybrid,
}

/// Which node-style trust, if any, a trust policy grants (`sts:AssumeRole*` to a service).
pub fn node_trust(trust_policy: &str) -> Option<NodeTrust> {
    let doc: Value = serde_json::from_str(&decode_document(trust_policy)).ok()?;
    let mut found = None;
    for statement in allow_statements(&doc) {
        for service in strings(statement.pointer("/Principal/Service")) {
            match service {
                // China regions use ec2.amazonaws.com.cn
                "ec2.amazonaws.com" | "ec2.amazonaws.com.cn" => return Some(NodeTrust::Ec2),
                "ssm.amazonaws.com" | "rolesanywhere.amazonaws.com" => found = Some(NodeTrust::Hybrid),
                _ => {}
            }
        }
    }
    found
}

/// The `Effect: Allow` statements of a policy document (`Statement` may be one object or a list).
pub fn allow_statements(doc: &Value) -> Vec<&Value> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    statements
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .collect()
}

/// A policy element that may be one string or a list of strings (`Action`, `Principal.Service`).
pub fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The AWS CLI command that puts an inline policy back exactly as it was.
pub fn restore_command(role_name: &str, policy_name: &str, document: &str) -> String {
    // Compact, but only if the document is JSON; otherwise keep its text verbatim.
    let compact = serde_json::from_str::<Value>(document)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| document.to_owned());
    format!(
        "aws iam put-role-policy --role-name {} --policy-name {} --policy-document {}",
        shell_quote(role_name),
        shell_quote(policy_name),
        shell_quote(&compact)
    )
}

/// The AWS CLI command that re-attaches a managed policy.
pub fn reattach_command(role_name: &str, policy_arn: &str) -> String {
    format!(
        "aws iam attach-role-policy --role-name {} --policy-arn {}",
        shell_quote(role_name),
        shell_quote(policy_arn)
    )
}

/// The AWS CLI command that detaches a managed policy (what enforce does).
pub fn detach_command(role_name: &str, policy_arn: &str) -> String {
    format!(
        "aws iam detach-role-policy --role-name {} --policy-arn {}",
        shell_quote(role_name),
        shell_quote(policy_arn)
    )
}

/// The AWS CLI command that deletes an inline policy (what enforce does, after its backup).
pub fn delete_inline_command(role_name: &str, policy_name: &str) -> String {
    format!(
        "aws iam delete-role-policy --role-name {} --policy-name {}",
        shell_quote(role_name),
        shell_quote(policy_name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_documents_only() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(decode_document(encoded), r#"{"Version":"2012-10-17","Statement":[]}"#);
        // a plain document containing a literal %41 is not decoded
        let plain = r#"{"Resource":"arn:aws:s3:::b/%41"}"#;
        assert_eq!(decode_document(plain), plain);
    }

    #[test]
    fn trust_policies() {
        let cases = [
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                Some(NodeTrust::Ec2),
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]}}}"#,
                Some(NodeTrust::Ec2),
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"}}]}"#,
                Some(NodeTrust::Hybrid),
            ),
            (
                r#"{"Statement":[{"Effect":"Deny","Principal":{"Service":"ec2.amazonaws.com"}}]}"#,
                None,
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"}}]}"#,
                None,
            ),
            (r#"{"Statement":[{"Effect":"Allow","Principal":"*"}]}"#, None),
            ("not json", None),
            (
                "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%7D%5D%7D",
                Some(NodeTrust::Ec2),
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(node_trust(doc), want, "{doc}");
        }
    }

    #[test]
    fn restore_command_quotes_everything() {
        let cmd = restore_command("r", "it's", r#"{ "Sid": "O'Brien" }"#);
        assert_eq!(
            cmd,
            r#"aws iam put-role-policy --role-name 'r' --policy-name 'it'\''s' --policy-document '{"Sid":"O'\''Brien"}'"#
        );
    }
}
