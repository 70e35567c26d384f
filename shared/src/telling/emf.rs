//! CloudWatch metrics in the Embedded Metric Format: one JSON object per invocation, printed on
//! its own line to stdout, where Lambda's log agent turns it into metrics without an API call.
//! (Inside another JSON log record it would not be: it is written next to the tracing output,
//! never through it.)
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::types::{ActionKind, ActionResult, Mode, Report};

pub const NAMESPACE: &str = "EKSNodeRoleGuard";

/// Where the metric lines go: stdout in the function, a buffer in tests.
pub type MetricSink = Box<dyn Fn(&str) + Send + Sync>;

/// Prints `line` to stdout as one line (stdout is locked for the write, so concurrent log
/// output cannot split it). A failed write is dropped: metrics never fail an invocation.
pub fn to_stdout(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Counts over a Report and, for a sweep, the Reports of the roles it checked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    violations: u64,
    detached: u64,
    deleted: u64,
    failed: u64,
    kept_for_addons: u64,
}

impl Counts {
    fn of(report: &Report) -> Counts {
        let mut counts = Counts {
            violations: report.violations.len() as u64,
            kept_for_addons: report.kept.iter().filter(|k| k.addon_needs_it).count() as u64,
            ..Counts::default()
        };
        for action in &report.actions {
            match (&action.action, &action.result) {
                (ActionKind::DetachManagedPolicy, ActionResult::Done) => counts.detached += 1,
                (ActionKind::DeleteInlinePolicy, ActionResult::Done) => counts.deleted += 1,
                (_, ActionResult::Failed { .. } | ActionResult::Skipped { .. }) => counts.failed += 1,
                _ => {}
            }
        }
        for role in &report.roles {
            let sub = Counts::of(role);
            counts.violations += sub.violations;
            counts.detached += sub.detached;
            counts.deleted += sub.deleted;
            counts.failed += sub.failed;
            counts.kept_for_addons += sub.kept_for_addons;
        }
        counts
    }
}

/// The EMF document for one handled invocation.
pub fn document(report: &Report, duration: Duration, at: SystemTime) -> Value {
    let counts = Counts::of(report);
    let sweep = report.outcome == crate::types::Outcome::SweepCompleted;
    let mut metrics = vec![
        ("Invocations", 1, "Count"),
        ("Violations", counts.violations, "Count"),
        ("PoliciesDetached", counts.detached, "Count"),
        ("InlinePoliciesDeleted", counts.deleted, "Count"),
        ("ActionsFailed", counts.failed, "Count"),
        ("PoliciesKeptForAddons", counts.kept_for_addons, "Count"),
        ("ApiCalls", report.api_call_total(), "Count"),
        (
            "ApiAttempts",
            report.api_attempts.unwrap_or(report.api_call_total()),
            "Count",
        ),
        ("Throttled", report.throttled, "Count"),
        ("DeadlineReached", u64::from(report.deadline.is_some()), "Count"),
        ("DurationMs", millis(duration), "Milliseconds"),
        ("NotificationsFailed", u64::from(notification_failed(report)), "Count"),
    ];
    if sweep {
        metrics.push(("SweepsCompleted", 1, "Count"));
        metrics.push(("NodeRolesChecked", report.roles.len() as u64, "Count"));
        metrics.push(("GuardBlind", u64::from(report.blind.is_some()), "Count"));
        if !report.accounts.is_empty() {
            let failed = report.accounts.iter().filter(|a| a.reason.is_some()).count() as u64;
            metrics.push(("AccountsSwept", report.accounts.len() as u64 - failed, "Count"));
            metrics.push(("AccountsFailed", failed, "Count"));
        }
    }
    if let Some((imported, failed)) = findings(report) {
        metrics.push(("FindingsImported", imported, "Count"));
        metrics.push(("FindingsFailed", failed, "Count"));
    }
    build(report.mode, report.outcome.as_str(), &metrics, at)
}

/// The EMF document for a payload that was not an event (no Report).
pub fn rejected(mode: Mode, duration: Duration, at: SystemTime) -> Value {
    let metrics = [
        ("Invocations", 1, "Count"),
        ("InvalidEvents", 1, "Count"),
        ("DurationMs", millis(duration), "Milliseconds"),
    ];
    build(mode, "invalid_event", &metrics, at)
}

/// Security Hub findings imported and refused (a warning that stopped every import counts as
/// one failure), when Security Hub is on.
fn findings(report: &Report) -> Option<(u64, u64)> {
    let statuses: Vec<_> = std::iter::once(report)
        .chain(&report.roles)
        .filter_map(|r| r.security_hub.as_ref())
        .collect();
    if statuses.is_empty() {
        return None;
    }
    let imported = statuses.iter().map(|s| (s.open + s.archived) as u64).sum();
    let failed = statuses
        .iter()
        .map(|s| s.failed.len() as u64 + u64::from(s.warning.is_some()))
        .sum();
    Some((imported, failed))
}

fn notification_failed(report: &Report) -> bool {
    std::iter::once(report)
        .chain(&report.roles)
        .any(|r| r.notification.as_ref().is_some_and(|n| !n.published))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn build(mode: Mode, outcome: &str, metrics: &[(&str, u64, &str)], at: SystemTime) -> Value {
    let timestamp = at.duration_since(UNIX_EPOCH).map(millis).unwrap_or_default();
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Mode"], ["Mode", "Outcome"]],
                "Metrics": metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("Mode".to_owned(), json!(mode.as_str()));
    root.insert("Outcome".to_owned(), json!(outcome));
    for (name, value, _) in metrics {
        root.insert((*name).to_owned(), json!(value));
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ActionRecord, EventSummary, Outcome};

    fn report(outcome: Outcome, results: &[(ActionKind, ActionResult)]) -> Report {
        let event = EventSummary {
            id: None,
            name: "AttachRolePolicy".into(),
            region: None,
            actor: None,
        };
        let mut report = Report::new(Mode::Enforce, Some("123456789012".into()), event).finish(outcome, None);
        report.actions = results
            .iter()
            .map(|(action, result)| ActionRecord {
                action: *action,
                policy_name: "p".into(),
                policy_arn: None,
                result: result.clone(),
                undo_command: None,
            })
            .collect();
        report.api_calls.insert("iam:GetRole".into(), 3);
        report
    }

    #[test]
    fn one_document_with_every_metric_declared_and_valued_at_the_root() {
        let failed = ActionResult::Failed {
            error_kind: crate::types::ErrorKind::Denied,
            error_code: None,
            error: "denied".into(),
        };
        let one = report(
            Outcome::PartiallyRemediated,
            &[
                (ActionKind::DetachManagedPolicy, ActionResult::Done),
                (ActionKind::DeleteInlinePolicy, ActionResult::Done),
                (ActionKind::DetachManagedPolicy, failed),
            ],
        );
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let doc = document(&one, Duration::from_millis(250), at);

        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_123u64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "EKSNodeRoleGuard");
        assert_eq!(directive["Dimensions"], json!([["Mode"], ["Mode", "Outcome"]]));
        // every declared metric and dimension has its value at the root (EMF requires it)
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_u64(), "{name} has no value");
        }
        assert_eq!(doc["Mode"], "enforce");
        assert_eq!(doc["Outcome"], "partially_remediated");
        assert_eq!(doc["PoliciesDetached"], 1);
        assert_eq!(doc["InlinePoliciesDeleted"], 1);
        assert_eq!(doc["ActionsFailed"], 1);
        assert_eq!(doc["ApiCalls"], 3);
        assert_eq!(doc["DurationMs"], 250);
        assert!(doc.get("SweepsCompleted").is_none(), "only a sweep completes a sweep");
        assert!(doc.get("FindingsImported").is_none(), "Security Hub is off");
        assert!(!doc.to_string().contains('\n'), "one line");
    }

    #[test]
    fn a_sweep_counts_its_roles() {
        let mut sweep = report(Outcome::SweepCompleted, &[]);
        sweep.roles = vec![
            report(
                Outcome::Remediated,
                &[(ActionKind::DetachManagedPolicy, ActionResult::Done)],
            ),
            report(
                Outcome::Remediated,
                &[(ActionKind::DeleteInlinePolicy, ActionResult::Done)],
            ),
        ];
        sweep.blind = Some("no trail".into());
        sweep.security_hub = Some(crate::types::FindingsStatus {
            open: 2,
            archived: 1,
            failed: vec!["id: LimitExceeded".into()],
            warning: None,
        });
        let doc = document(&sweep, Duration::ZERO, UNIX_EPOCH);
        assert_eq!(doc["SweepsCompleted"], 1);
        assert_eq!(doc["GuardBlind"], 1);
        assert_eq!(doc["FindingsImported"], 3);
        assert_eq!(doc["FindingsFailed"], 1);
        assert_eq!(doc["NodeRolesChecked"], 2);
        assert_eq!(doc["PoliciesDetached"], 1);
        assert_eq!(doc["InlinePoliciesDeleted"], 1);
        let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert!(names.contains(&"SweepsCompleted"));
    }

    #[test]
    fn an_organization_sweep_counts_its_accounts() {
        let mut sweep = report(Outcome::SweepCompleted, &[]);
        let single = document(&sweep, Duration::ZERO, UNIX_EPOCH);
        assert!(
            single.get("AccountsSwept").is_none(),
            "per-account deployments have no account lines"
        );
        sweep.accounts = vec![
            crate::types::AccountLine::checked("111111111111", &[]),
            crate::types::AccountLine::checked("222222222222", &[]),
            crate::types::AccountLine::failed("333333333333", "AccessDenied".into()),
        ];
        let doc = document(&sweep, Duration::ZERO, UNIX_EPOCH);
        assert_eq!(doc["AccountsSwept"], 2);
        assert_eq!(doc["AccountsFailed"], 1);
    }

    #[test]
    fn a_rejected_payload_is_counted_too() {
        let doc = rejected(Mode::DryRun, Duration::from_millis(2), UNIX_EPOCH);
        assert_eq!(doc["Outcome"], "invalid_event");
        assert_eq!(doc["InvalidEvents"], 1);
        assert_eq!(doc["Invocations"], 1);
    }
}
