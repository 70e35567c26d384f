//! ASFF: the findings the function imports into Security Hub.

use anyhow::Result;
use noderole::Report;
use noderole::telling::findings;
use noderole::telling::findings::Scope;

use super::FindingsScope;

/// The findings the function would import into Security Hub, as `batch-import-findings` takes
/// them: same Ids, same fields.
pub fn asff(report: &Report, scope: &FindingsScope) -> Result<String> {
    let now = std::time::SystemTime::now();
    let findings: Vec<serde_json::Value> = report
        .roles
        .iter()
        .flat_map(|role| {
            let account = role.account.as_deref().unwrap_or_default();
            let scope = Scope::new(account, &scope.region, &scope.partition, now);
            findings::for_role(role, &scope, &[])
        })
        .map(|f| f.to_asff_json())
        .collect();
    Ok(serde_json::to_string_pretty(&findings)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn scope() -> FindingsScope {
        FindingsScope {
            region: "eu-central-1".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn one_open_finding_per_violation_in_the_profiles_region() {
        let text = asff(&fixture::organization(), &scope()).expect("serialises");
        let findings: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
        // two violations on eks-node-prod; compliant, exempt and failed roles carry none
        assert_eq!(findings.len(), 2, "{text}");
        for f in &findings {
            assert_eq!(f["AwsAccountId"], fixture::HOME);
            assert_eq!(f["Region"], "eu-central-1");
            assert_eq!(f["RecordState"], "ACTIVE");
            assert!(f["Id"].as_str().is_some_and(|id| id.contains("eks-node-prod")), "{f}");
        }
        let descriptions: Vec<&str> = findings.iter().filter_map(|f| f["Description"].as_str()).collect();
        assert!(
            descriptions[0].contains("arn:aws:iam::aws:policy/AdministratorAccess"),
            "{descriptions:?}"
        );
        assert!(descriptions[1].contains("debug-s3"), "{descriptions:?}");
    }

    #[test]
    fn no_violation_is_an_empty_array() {
        let mut report = fixture::single();
        report.roles = vec![fixture::clean(), fixture::staging()];
        assert_eq!(asff(&report, &scope()).expect("serialises"), "[]\n");
    }
}
