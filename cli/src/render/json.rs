//! JSON: the sweep Report itself.

use anyhow::Result;
use noderole::Report;

/// The sweep Report, as the function would log it in dry-run.
pub fn json(report: &Report) -> Result<String> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn the_report_as_the_function_logs_it() {
        let text = json(&fixture::organization()).expect("serialises");
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
    }
}
