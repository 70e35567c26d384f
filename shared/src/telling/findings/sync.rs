//! Importing a role's or a sweep's findings through the [`Findings`] port: stale findings
//! closed, refusals worth it tried once more, and Security Hub being off or unreachable told as a
//! warning of the Report rather than a failure.

use std::collections::{BTreeMap, BTreeSet};

use tracing::warn;

use super::{Scope, closed, door, for_role, is_door_finding};
use crate::ports::Findings;
use crate::types::{AwsError, DoorKind, Finding, FindingsStatus, Report};

/// `FailedFindings` error codes worth one more try.
const RETRYABLE: &[&str] = &[
    "InternalException",
    "InternalFailure",
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
];

/// Imports the findings of one checked role (and closes the role's stale ones).
pub async fn sync_role<F: Findings>(port: &F, report: &Report, scope: &Scope) -> FindingsStatus {
    let Some(role_arn) = report.role.as_ref().and_then(|r| r.arn.as_deref()) else {
        return FindingsStatus::default();
    };
    let open = match port.open_findings(&scope.product_arn(), Some(role_arn)).await {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    import(port, for_role(report, scope, &open)).await
}

/// Imports the finding of the door a report opened (`door_opened` without a role check).
pub async fn sync_door<F: Findings>(port: &F, report: &Report, scope: &Scope) -> FindingsStatus {
    let Some(role_arn) = report.door.as_ref().and_then(|d| d.role_arn.as_deref()) else {
        return FindingsStatus::default();
    };
    let open = match port.open_findings(&scope.product_arn(), Some(role_arn)).await {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    import(port, door::door_finding(report, scope, &open).into_iter().collect()).await
}

/// Closes the open findings of the doors `kinds` on `role_arn`: a door event found them shut.
pub async fn sync_doors_shut<F: Findings>(
    port: &F,
    role_arn: &str,
    kinds: &[DoorKind],
    scope: &Scope,
    why: &str,
) -> FindingsStatus {
    let open = match port.open_findings(&scope.product_arn(), Some(role_arn)).await {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    import(port, door::shut(&open, kinds, scope, why)).await
}

/// After a sweep: every checked role's findings, and every open finding whose violation no
/// longer exists anywhere (a deleted role, a role that no longer backs nodes) closed. Open
/// findings are re-imported with a new `UpdatedAt`, so Security Hub keeps them past 90 days.
pub async fn sync_sweep<F: Findings>(port: &F, roles: &[Report], scope: &Scope) -> FindingsStatus {
    let open = match port.open_findings(&scope.product_arn(), None).await {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    let mut findings: Vec<Finding> = roles.iter().flat_map(|r| for_role(r, scope, &open)).collect();
    let seen: BTreeSet<String> = findings.iter().map(|f| f.id.clone()).collect();
    let checked: BTreeSet<String> = roles
        .iter()
        .filter_map(|r| r.role.as_ref()?.arn.as_deref().map(str::to_ascii_lowercase))
        .collect();
    // the sweep does not re-read doors: their findings are left as the door events set them
    let stale = open.iter().filter(|f| !seen.contains(&f.id) && !is_door_finding(&f.id));
    findings.extend(stale.map(|f| {
        let why = if checked.contains(&f.role_arn.to_ascii_lowercase()) {
            "the policy is no longer on the role"
        } else {
            "the role no longer exists or no longer backs EKS nodes"
        };
        closed(f, scope, why)
    }));
    import(port, findings).await
}

async fn import<F: Findings>(port: &F, findings: Vec<Finding>) -> FindingsStatus {
    let mut status = FindingsStatus::default();
    if findings.is_empty() {
        return status;
    }
    let mut pending = findings;
    for attempt in 0..2 {
        let outcome = match port.import(&pending).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let mut status = unavailable(&e);
                status.failed = pending.iter().map(|f| f.id.clone()).collect();
                return status;
            }
        };
        let refused: BTreeMap<&str, (&str, &str)> = outcome
            .failed
            .iter()
            .map(|(id, code, message)| (id.as_str(), (code.as_str(), message.as_str())))
            .collect();
        let (accepted, rejected): (Vec<&Finding>, Vec<&Finding>) =
            pending.iter().partition(|f| !refused.contains_key(f.id.as_str()));
        status.open += accepted.iter().filter(|f| f.open).count();
        status.archived += accepted.iter().filter(|f| !f.open).count();
        let mut retry = Vec::new();
        for finding in rejected {
            let (code, message) = refused.get(finding.id.as_str()).copied().unwrap_or_default();
            if attempt == 0 && RETRYABLE.contains(&code) {
                retry.push(finding.clone());
            } else {
                warn!(id = %finding.id, code, message, "Security Hub refused a finding");
                status.failed.push(format!("{}: {code} {message}", finding.id));
            }
        }
        if retry.is_empty() {
            break;
        }
        pending = retry;
    }
    status
}

fn unavailable(e: &AwsError) -> FindingsStatus {
    let warning = match e.code.as_deref() {
        Some("InvalidAccessException") => format!(
            "Security Hub is not enabled in this account and region, so no finding was imported \
             (SECURITY_HUB=on; the SNS notification is the record): {e}"
        ),
        _ => format!("Security Hub findings could not be imported: {e}"),
    };
    warn!(error = %e, "Security Hub unavailable");
    FindingsStatus {
        warning: Some(warning),
        ..FindingsStatus::default()
    }
}
