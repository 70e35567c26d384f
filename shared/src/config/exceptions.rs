//! `EXCEPTIONS`: a JSON list of `{"role", "policy", "until", "reason"}`, every field required.
//! A malformed entry is refused with its position and what is wrong with it; an expired entry
//! is valid (it simply no longer applies), so the function keeps starting after the date.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::ConfigError;
use super::parse::{invalid, is_role_name_or_arn};
use crate::types::Exception;

const EXPECTED: &str = "a JSON list of {\"role\": NAME or ARN, \"policy\": managed policy ARN or inline policy \
     name, \"until\": \"YYYY-MM-DD\", \"reason\": TEXT}, every field required";
const FIELDS: [&str; 4] = ["role", "policy", "until", "reason"];

/// The entries of `EXCEPTIONS`; unset, none.
pub(super) fn exceptions(value: Option<String>) -> Result<Vec<Exception>, ConfigError> {
    let Some(text) = value else {
        return Ok(Vec::new());
    };
    let refuse = |shown: &str, problem: String| invalid("EXCEPTIONS", shown, &problem, EXPECTED);
    let entries = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(entries)) => entries,
        Ok(_) => return Err(refuse(&text, "not a JSON list".to_owned())),
        Err(e) => return Err(refuse(&text, format!("not JSON ({e})"))),
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let Value::Object(fields) = entry else {
                return Err(refuse(&entry.to_string(), format!("entry {} is not an object", i + 1)));
            };
            self::entry(fields).map_err(|problem| refuse(&entry.to_string(), format!("entry {}: {problem}", i + 1)))
        })
        .collect()
}

fn entry(fields: &Map<String, Value>) -> Result<Exception, String> {
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown key {unknown:?}"));
    }
    let text = |key: &str| match fields.get(key) {
        None => Err(format!("{key:?} is missing")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(_) => Err(format!("{key:?} must be a non-empty string")),
    };
    let role = text("role")?;
    if !is_role_name_or_arn(&role) {
        return Err(format!("role {role:?} is neither a role name nor a role ARN"));
    }
    let policy = text("policy")?;
    if !is_policy(&policy) {
        return Err(format!(
            "policy {policy:?} is neither a managed policy ARN (arn:aws:iam::aws:policy/NAME, \
             arn:aws:iam::ACCOUNT:policy/NAME) nor an inline policy name"
        ));
    }
    let until = text("until")?;
    let until = NaiveDate::parse_from_str(&until, "%Y-%m-%d")
        .ok()
        .filter(|_| until.len() == 10)
        .ok_or_else(|| format!("until {until:?} is not a date YYYY-MM-DD"))?;
    Ok(Exception {
        role,
        policy,
        until,
        reason: text("reason")?,
    })
}

/// A managed policy ARN, or an inline policy name (1 to 128 of IAM's name characters).
fn is_policy(policy: &str) -> bool {
    let name_chars = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    match policy.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(), [partition, "iam", "", account, resource]
            if !partition.is_empty()
                && (*account == "aws" || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
                && resource.strip_prefix("policy/").is_some_and(|path| {
                    path.split('/').all(|segment| !segment.is_empty() && name_chars(segment))
                }))
        }
        None => policy.len() <= 128 && name_chars(policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Exception>, ConfigError> {
        exceptions(Some(text.to_owned()))
    }

    #[test]
    fn entries_parse_and_an_expired_one_is_still_valid() {
        let got = parse(
            r#"[{"role":"eks-node-app","policy":"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
                 "until":"2027-03-31","reason":"Session Manager until the bastion moves"},
                {"role":"arn:aws:iam::111122223333:role/nodes/eks-node-app","policy":"cluster-autoscaler",
                 "until":"2020-01-01","reason":"long gone"}]"#,
        )
        .expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].until.to_string(), "2027-03-31");
        assert_eq!(got[1].policy, "cluster-autoscaler");
        assert_eq!(exceptions(None).expect("unset"), []);
        assert_eq!(parse("[]").expect("empty list"), []);
    }

    #[test]
    fn the_documented_example_is_valid_and_its_error_is_the_one_printed() {
        let doc = include_str!("../../../docs/configuration.md");
        let section = doc.split("## Exceptions").nth(1).expect("an Exceptions section");
        let example = section
            .split("```json\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a JSON example");
        let parsed = parse(example).expect("the documented example parses");
        assert_eq!(parsed.len(), 2);
        let error = parse(r#"[{"role":"eks-node-app","policy":"cluster-autoscaler","until":"soon","reason":"x"}]"#)
            .expect_err("a bad date")
            .to_string();
        let shown = section
            .split("```text\n")
            .nth(1)
            .and_then(|rest| rest.split(" ...").next())
            .expect("an error example");
        assert!(
            error.starts_with(shown),
            "the docs show {shown:?}, the code says {error:?}"
        );
    }

    #[test]
    fn a_malformed_entry_is_refused_by_its_position_and_problem() {
        let ok = r#"{"role":"r","policy":"p","until":"2027-01-01","reason":"x"}"#;
        let cases = [
            (
                r#"{"role":"r","policy":"p","until":"2027-01-01"}"#.to_owned(),
                "\"reason\" is missing",
            ),
            (
                r#"{"role":"r","policy":"p","until":"2027-01-01","reason":""}"#.to_owned(),
                "non-empty",
            ),
            (
                r#"{"role":"r","policy":"p","until":"2027-02-30","reason":"x"}"#.to_owned(),
                "not a date",
            ),
            (
                r#"{"role":"r","policy":"p","until":"2027-1-1","reason":"x"}"#.to_owned(),
                "not a date",
            ),
            (
                r#"{"role":"r","policy":"p","until":"31/01/2027","reason":"x"}"#.to_owned(),
                "not a date",
            ),
            (
                r#"{"role":"r","policy":"p","until":"2027-01-01","reason":"x","ticket":"SEC-1"}"#.to_owned(),
                "unknown key \"ticket\"",
            ),
            (
                r#"{"role":"r r","policy":"p","until":"2027-01-01","reason":"x"}"#.to_owned(),
                "neither a role name",
            ),
            (
                r#"{"role":"r","policy":"arn:aws:s3:::bucket","until":"2027-01-01","reason":"x"}"#.to_owned(),
                "neither a managed policy ARN",
            ),
            (
                r#"{"role":"r","policy":"a policy","until":"2027-01-01","reason":"x"}"#.to_owned(),
                "neither a managed policy ARN",
            ),
            (
                r#"{"role":"r","policy":"p","until":20270101,"reason":"x"}"#.to_owned(),
                "non-empty string",
            ),
            (r#""r""#.to_owned(), "entry 2 is not an object"),
        ];
        for (bad, problem) in cases {
            let text = format!("[{ok},{bad}]");
            let error = parse(&text).expect_err(&bad).to_string();
            assert!(error.starts_with("EXCEPTIONS="), "{error}");
            assert!(error.contains("entry 2"), "names the entry: {error}");
            assert!(error.contains(problem), "{problem}: {error}");
        }
        for (text, problem) in [("{}", "not a JSON list"), ("[{", "not JSON")] {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains(problem), "{error}");
        }
    }
}
