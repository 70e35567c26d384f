//! JSON: the sweep Report itself, its keys as the function logs them, and the run beside them.

use anyhow::Result;
use noderole::Report;
use serde::Serialize;

use super::RunInfo;

/// The Report's keys, then `run`.
#[derive(Serialize)]
struct WithRun<'a> {
    #[serde(flatten)]
    report: &'a Report,
    run: &'a RunInfo,
}

/// The sweep Report, as the function would log it in dry-run, with a `run` object added.
pub fn json(report: &Report, run: &RunInfo) -> Result<String> {
    Ok(serde_json::to_string_pretty(&WithRun { report, run })? + "\n")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn the_report_as_the_function_logs_it_and_the_run() {
        let report = fixture::organization();
        let text = json(&report, &fixture::organization_run()).expect("serialises");
        assert!(text.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(value["mode"], "dry-run");
        assert_eq!(value["outcome"], "sweep_completed");
        // the sweep's order, not the printers' (the Report is data)
        assert_eq!(value["roles"][0]["role"]["name"], "eks-node-batch");
        assert_eq!(
            value["roles"][1]["violations"][0]["policy_arn"],
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert_eq!(
            value["accounts"][2]["reason"],
            "sts:AssumeRole on NodeRoleGuardMember: AccessDenied"
        );
        // the Report is there as it was, key for key, and `run` beside it
        let mut without_run = value.clone();
        let run = without_run.as_object_mut().expect("an object").remove("run");
        assert_eq!(without_run, serde_json::to_value(&report).expect("the Report"));
        assert!(run.is_some());
        let run = &value["run"];
        assert_eq!(run["generated_at"], "2026-12-02T09:30:00Z");
        assert_eq!(
            run["caller"],
            "arn:aws:sts::111122223333:assumed-role/SecurityAudit/jane.doe"
        );
        assert_eq!(run["accounts"][2], fixture::DENIED);
        assert_eq!(run["regions"][1], "us-west-2");
        assert_eq!(run["configuration"]["mode"], "dry-run");
        assert_eq!(run["configuration"]["exempt_roles"][0], "eks-node-staging");
        assert_eq!(run["configuration"]["exceptions"][0]["until"], "2027-03-31");
        assert_eq!(run["configuration"]["cni_policy"], "keep-if-needed");
        assert_eq!(run["configuration"]["member_accounts"], "organization");
    }

    #[test]
    fn exceptions_are_in_each_role_s_report() {
        let value: serde_json::Value =
            serde_json::from_str(&json(&fixture::single(), &fixture::run()).expect("serialises")).expect("JSON");
        let logs = value["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["role"]["name"] == "eks-node-logs")
            .expect("eks-node-logs");
        assert_eq!(logs["excepted"][0]["until"], "2027-03-31");
        assert_eq!(logs["excepted"][0]["violation"]["policy_name"], "AmazonS3FullAccess");
        let prod = value["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["role"]["name"] == "eks-node-prod")
            .expect("eks-node-prod");
        assert_eq!(prod["expired_exceptions"][0]["until"], "2026-12-01");
        assert_eq!(prod["migrations"][0]["component"], "Cluster Autoscaler");
    }
}
