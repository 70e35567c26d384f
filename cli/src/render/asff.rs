//! ASFF: the findings the function imports into Security Hub, built by the core's finding builder
//! (`noderole::telling::findings`): excepted violations are open findings that say until when.

use anyhow::Result;
use noderole::Report;
use noderole::telling::findings;
use noderole::telling::findings::Scope;

use super::{FindingsScope, RunInfo};

/// The findings the function would import into Security Hub, as `batch-import-findings` takes
/// them: same Ids, same fields, `UpdatedAt` the run's time.
pub fn asff(report: &Report, scope: &FindingsScope, run: &RunInfo) -> Result<String> {
    let now = std::time::SystemTime::from(run.generated_at);
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

    fn findings(report: &Report) -> Vec<serde_json::Value> {
        let text = asff(report, &scope(), &fixture::run()).expect("serialises");
        serde_json::from_str(&text).expect("a JSON array")
    }

    #[test]
    fn one_open_finding_per_violation_in_the_profiles_region() {
        let mut report = fixture::organization();
        report.roles.retain(|r| r.excepted.is_empty());
        let findings = findings(&report);
        // two violations on eks-node-prod; compliant, exempt and failed roles carry none
        assert_eq!(findings.len(), 2, "{findings:?}");
        for f in &findings {
            assert_eq!(f["AwsAccountId"], fixture::HOME);
            assert_eq!(f["Region"], "eu-central-1");
            assert_eq!(f["RecordState"], "ACTIVE");
            assert_eq!(
                f["UpdatedAt"], "2026-12-02T09:30:00Z",
                "the run's time, not the clock's"
            );
            assert!(f["Id"].as_str().is_some_and(|id| id.contains("eks-node-prod")), "{f}");
        }
        let descriptions: Vec<&str> = findings.iter().filter_map(|f| f["Description"].as_str()).collect();
        assert!(
            descriptions[0].contains("arn:aws:iam::aws:policy/AdministratorAccess"),
            "{descriptions:?}"
        );
        assert!(descriptions[1].contains("debug-s3"), "{descriptions:?}");
        // the same severity the human formats show
        assert_eq!(findings[0]["Severity"]["Label"], "CRITICAL");
        assert_eq!(findings[1]["Severity"]["Label"], "HIGH");
    }

    #[test]
    fn an_excepted_violation_is_an_open_finding_that_says_until_when() {
        let mut report = fixture::single();
        report.roles = vec![fixture::logs()];
        let findings = findings(&report);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = &findings[0];
        assert_eq!(f["RecordState"], "ACTIVE");
        assert_eq!(f["Compliance"]["Status"], "FAILED");
        assert_eq!(f["Severity"]["Label"], "HIGH");
        assert!(
            f["Title"]
                .as_str()
                .is_some_and(|t| t.ends_with("AmazonS3FullAccess (excepted until 2027-03-31)")),
            "{f}"
        );
        let fields = &f["ProductFields"];
        assert_eq!(fields["eks-node-role-guard/ExceptedUntil"], "2027-03-31");
        assert_eq!(
            fields["eks-node-role-guard/ExceptionReason"],
            "moving the log shipper to Pod Identity"
        );
    }

    #[test]
    fn no_violation_is_an_empty_array() {
        let mut report = fixture::single();
        report.roles = vec![fixture::clean(), fixture::staging()];
        assert!(findings(&report).is_empty());
    }
}
