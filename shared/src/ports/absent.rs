//! The ports a deployment may leave out: no Security Hub, no trail check, no member accounts,
//! no topic (the audit publishes nothing).

use super::{Connection, Findings, Members, Notifier, Ports, Trails};
use crate::types::{AwsError, AwsResult, ErrorKind, Finding, ImportOutcome, Notification, OpenFinding, TrailState};

/// For deployments with `SECURITY_HUB=off`: imports nothing, asks nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFindings;

impl Findings for NoFindings {
    async fn import(&self, _findings: &[Finding]) -> AwsResult<ImportOutcome> {
        Ok(ImportOutcome::default())
    }

    async fn open_findings(&self, _product_arn: &str, _role: Option<&str>) -> AwsResult<Vec<OpenFinding>> {
        Ok(Vec::new())
    }

    fn region(&self) -> &str {
        ""
    }
}

/// A deployment that does not check its trails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTrails;

impl Trails for NoTrails {
    async fn trails(&self) -> AwsResult<Option<Vec<TrailState>>> {
        Ok(None)
    }
}

/// For per-account deployments: there are no members.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMembers;

impl<P: Ports> Members<P> for NoMembers {
    async fn organization_accounts(&self) -> AwsResult<Vec<String>> {
        Ok(Vec::new())
    }

    async fn connect(&self, account: &str, _role_arn: &str) -> AwsResult<Connection<P>> {
        Err(AwsError {
            operation: "sts:AssumeRole",
            kind: ErrorKind::Rejected,
            code: None,
            message: format!("account {account} is not guarded by this deployment"),
        })
    }
}

/// A topic that takes nothing: the read-only audit never publishes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Notifier for Silent {
    async fn publish(&self, notification: &Notification) -> AwsResult<String> {
        Err(AwsError {
            operation: "sns:Publish",
            kind: ErrorKind::Rejected,
            code: None,
            message: format!("this run publishes nothing ({:?} not sent)", notification.subject),
        })
    }
}
