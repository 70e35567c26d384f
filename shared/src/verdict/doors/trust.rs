//! Reading a trust policy for the doors: which roles it names (by ARN or unique id), whether it
//! admits the node services, who else it admits, and the same document without some principals.
//! A role in the same account named in another role's trust may assume it with no permission of
//! its own (docs/doors.md), so naming a node role there hands that role to every pod on the node.

use serde_json::{Map, Value};

use crate::verdict::policy;

/// The services nodes assume their role as (`node_trust`'s).
const NODE_SERVICES: &[&str] = &[
    "ec2.amazonaws.com",
    "ec2.amazonaws.com.cn",
    "ssm.amazonaws.com",
    "rolesanywhere.amazonaws.com",
];

/// What a trust policy admits.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// `AWS` principals that name one role: an ARN (`...:role/...`) or a unique id (`AROA...`).
    pub roles: Vec<String>,
    /// Whether a node service may assume it.
    pub node_services: bool,
    /// Every other principal, as `Type: value` (`AWS: arn:aws:iam::210987654321:root`).
    pub others: Vec<String>,
}

/// Reads `document`; `None` when it is not a JSON policy.
pub fn read(document: &str) -> Option<Reading> {
    let doc: Value = serde_json::from_str(&crate::types::decode_document(document)).ok()?;
    let mut reading = Reading::default();
    for statement in policy::allow_statements(&doc) {
        for (kind, value) in principals(statement) {
            if kind == "Service" && NODE_SERVICES.contains(&value) {
                reading.node_services = true;
                continue;
            }
            if kind == "AWS" && names_a_role(value) {
                reading.roles.push(value.to_owned());
            }
            reading.others.push(format!("{kind}: {value}"));
        }
    }
    reading.roles.sort();
    reading.roles.dedup();
    reading.others.sort();
    reading.others.dedup();
    Some(reading)
}

/// Whether `principal` names one role: its ARN, or its unique id.
pub fn names_a_role(principal: &str) -> bool {
    principal.starts_with("AROA") || (principal.starts_with("arn:") && principal.contains(":role/"))
}

/// `(type, value)` of each principal of a statement; `"Principal": "*"` is `("AWS", "*")`.
fn principals(statement: &Value) -> Vec<(&str, &str)> {
    match statement.get("Principal") {
        Some(Value::String(any)) => vec![("AWS", any.as_str())],
        Some(Value::Object(map)) => map
            .iter()
            .flat_map(|(kind, values)| {
                policy::strings(Some(values))
                    .into_iter()
                    .map(move |v| (kind.as_str(), v))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `document` without the principals `drop` says to drop; a statement left with none goes too.
/// `None` when the document is not JSON.
pub fn without(document: &str, drop: impl Fn(&str, &str) -> bool) -> Option<String> {
    let mut doc: Value = serde_json::from_str(&crate::types::decode_document(document)).ok()?;
    let statements = match doc.get_mut("Statement") {
        Some(Value::Array(items)) => std::mem::take(items),
        Some(single) => vec![single.take()],
        None => Vec::new(),
    };
    let kept: Vec<Value> = statements
        .into_iter()
        .filter_map(|mut statement| {
            if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                return Some(statement);
            }
            let principal = statement.get_mut("Principal")?;
            let narrowed = narrow(principal, &drop)?;
            *principal = narrowed;
            Some(statement)
        })
        .collect();
    doc["Statement"] = Value::Array(kept);
    Some(doc.to_string())
}

/// A `Principal` element without the dropped principals; `None` when nothing is left.
fn narrow(principal: &Value, drop: &impl Fn(&str, &str) -> bool) -> Option<Value> {
    match principal {
        Value::String(any) => (!drop("AWS", any)).then(|| principal.clone()),
        Value::Object(map) => {
            let mut left = Map::new();
            for (kind, values) in map {
                let kept: Vec<Value> = policy::strings(Some(values))
                    .into_iter()
                    .filter(|v| !drop(kind, v))
                    .map(|v| Value::String(v.to_owned()))
                    .collect();
                match kept.len() {
                    0 => {}
                    1 => {
                        left.insert(kind.clone(), kept.into_iter().next()?);
                    }
                    _ => {
                        left.insert(kind.clone(), Value::Array(kept));
                    }
                }
            }
            (!left.is_empty()).then_some(Value::Object(left))
        }
        _ => Some(principal.clone()),
    }
}

/// Whether a policy document has no statement left.
pub fn is_empty(document: &str) -> bool {
    serde_json::from_str::<Value>(document).ok().is_some_and(|doc| {
        doc.get("Statement")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    })
}

/// A trust policy that only denies `principals` the role: what is left when every statement
/// admitted only them.
pub fn denying(principals: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}],
    })
    .to_string()
}

/// Whether `(kind, value)` is a node service principal.
pub fn is_node_service(kind: &str, value: &str) -> bool {
    kind == "Service" && NODE_SERVICES.contains(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","AWS":["arn:aws:iam::210987654321:root","arn:aws:iam::123456789012:role/eks-node-prod"]},"Action":"sts:AssumeRole"},
        {"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEID"},"Action":"sts:AssumeRole"},
        {"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn names_roles_by_arn_and_unique_id_and_sees_the_node_services() {
        let reading = read(MIXED).expect("json");
        assert_eq!(
            reading.roles,
            vec!["AROAEXAMPLEID", "arn:aws:iam::123456789012:role/eks-node-prod"]
        );
        assert!(reading.node_services);
        assert!(
            reading
                .others
                .contains(&"AWS: arn:aws:iam::210987654321:root".to_owned())
        );
        assert!(!reading.others.iter().any(|o| o.contains("ec2.amazonaws.com")));
        assert_eq!(read("not json"), None);
    }

    #[test]
    fn a_document_without_some_principals_keeps_the_rest_and_the_denies() {
        let narrowed = without(MIXED, |kind, value| kind == "AWS" && names_a_role(value)).expect("json");
        let reading = read(&narrowed).expect("json");
        assert!(reading.roles.is_empty(), "{narrowed}");
        assert!(reading.node_services);
        assert_eq!(reading.others, vec!["AWS: arn:aws:iam::210987654321:root"]);
        // the statement naming only the unique id is gone; the deny stays
        let doc: Value = serde_json::from_str(&narrowed).expect("json");
        assert_eq!(doc["Statement"].as_array().expect("list").len(), 2);
        let only_roles = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/n"},"Action":"sts:AssumeRole"}]}"#;
        assert!(is_empty(&without(only_roles, |_, _| true).expect("json")));
        assert!(!is_empty(&denying(&["arn:aws:iam::1:role/n"])));
        let node_only = without(MIXED, |kind, value| !is_node_service(kind, value)).expect("json");
        let reading = read(&node_only).expect("json");
        assert!(reading.others.is_empty() && reading.node_services, "{node_only}");
    }
}
