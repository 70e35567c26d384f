//! Security Hub (ASFF) findings: built by the core, imported by the adapter, read back open.

use std::collections::BTreeMap;

use serde::Serialize;

/// A finding this product imported earlier and that is still open (`RecordState` ACTIVE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFinding {
    pub id: String,
    pub created_at: String,
    pub role_arn: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub product_fields: std::collections::BTreeMap<String, String>,
}

/// What a batch import did: findings Security Hub refused, with its error code and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub imported: usize,
    pub failed: Vec<(String, String, String)>,
}

/// The `GeneratorId` of every finding this product imports.
pub const GENERATOR_ID: &str = "eks-node-role-guard/node-role-policy";
pub const PRODUCT_NAME: &str = "eks-node-role-guard";

/// A finding ready to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub product_arn: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub role_arn: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    /// ACTIVE / FAILED when true, ARCHIVED / PASSED when false.
    pub open: bool,
    pub created_at: String,
    pub updated_at: String,
    pub remediation: String,
    pub remediation_url: String,
    pub related_requirements: Vec<String>,
    pub types: Vec<String>,
    pub product_fields: BTreeMap<String, String>,
}

impl Finding {
    /// The finding in ASFF JSON, as `aws securityhub batch-import-findings --findings` takes it:
    /// the same fields the function's Security Hub adapter imports (a test holds them equal).
    pub fn to_asff_json(&self) -> serde_json::Value {
        let (record_state, status) = if self.open {
            ("ACTIVE", "FAILED")
        } else {
            ("ARCHIVED", "PASSED")
        };
        serde_json::json!({
            "SchemaVersion": "2018-10-08",
            "Id": self.id,
            "ProductArn": self.product_arn,
            "ProductName": PRODUCT_NAME,
            "CompanyName": "Personal",
            "GeneratorId": GENERATOR_ID,
            "AwsAccountId": self.account,
            "Region": self.region,
            "Types": self.types,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "Severity": {"Label": self.severity},
            "Title": self.title,
            "Description": self.description,
            "Remediation": {"Recommendation": {"Text": self.remediation, "Url": self.remediation_url}},
            "ProductFields": self.product_fields,
            "Resources": [{
                "Type": "AwsIamRole",
                "Id": self.role_arn,
                "Partition": self.partition,
                "Region": self.region,
                "Details": {"AwsIamRole": {"RoleName": super::arn::role_name_from_arn(&self.role_arn).unwrap_or_default()}},
            }],
            "Compliance": {"Status": status, "RelatedRequirements": self.related_requirements},
            "RecordState": record_state,
        })
    }
}

/// What happened to the findings of one invocation: in the Report and the notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingsStatus {
    /// Findings imported open (ACTIVE / FAILED).
    pub open: usize,
    /// Findings imported closed (ARCHIVED / PASSED).
    pub archived: usize,
    /// Findings Security Hub refused after a retry: `Id: code message`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// Why nothing could be imported (Security Hub not enabled, access denied, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl FindingsStatus {
    /// Two accounts' statuses as one (organization-mode sweeps).
    pub fn merge(mut self, other: FindingsStatus) -> FindingsStatus {
        self.open += other.open;
        self.archived += other.archived;
        self.failed.extend(other.failed);
        self.warning = match (self.warning, other.warning) {
            (Some(a), Some(b)) if a != b => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        self
    }
}
