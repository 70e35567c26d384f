use aws_config::SdkConfig;
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::types::{
    AwsIamRoleDetails, AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Recommendation,
    RecordState, Remediation, Resource, ResourceDetails, Severity, SeverityLabel, StringFilter, StringFilterComparison,
};

use super::{CountCalls, classify};
use crate::ports::Findings;
use crate::types::{AwsResult, Finding, GENERATOR_ID, ImportOutcome, OpenFinding, PRODUCT_NAME, arn};

/// At most 100 findings per `BatchImportFindings` call.
const BATCH: usize = 100;

/// Security Hub in the function's own account and region.
#[derive(Debug, Clone)]
pub struct SecurityHub {
    client: Client,
    region: String,
}

impl SecurityHub {
    pub fn new(sdk: &SdkConfig) -> Self {
        let conf = aws_sdk_securityhub::config::Builder::from(sdk)
            .retry_partition(super::retry_partition("securityhub".to_owned()))
            .interceptor(CountCalls)
            .build();
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        Self::from_client(Client::from_conf(conf), &region)
    }

    pub fn from_client(client: Client, region: &str) -> Self {
        SecurityHub {
            client,
            region: region.to_owned(),
        }
    }
}

fn equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .value(value)
        .comparison(StringFilterComparison::Equals)
        .build()
}

fn asff(finding: &Finding) -> AwsSecurityFinding {
    let label = SeverityLabel::from(finding.severity.as_str());
    let role = AwsIamRoleDetails::builder()
        .role_name(arn::role_name_from_arn(&finding.role_arn).unwrap_or_default())
        .build();
    let resource = Resource::builder()
        .r#type("AwsIamRole")
        .id(&finding.role_arn)
        .partition(finding.partition.as_str().into())
        .region(&finding.region)
        .details(ResourceDetails::builder().aws_iam_role(role).build())
        .build();
    let (state, status) = if finding.open {
        (RecordState::Active, ComplianceStatus::Failed)
    } else {
        (RecordState::Archived, ComplianceStatus::Passed)
    };
    let mut compliance = Compliance::builder().status(status);
    for requirement in &finding.related_requirements {
        compliance = compliance.related_requirements(requirement);
    }
    let mut builder = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&finding.id)
        .product_arn(&finding.product_arn)
        .product_name(PRODUCT_NAME)
        .company_name("Personal")
        .generator_id(GENERATOR_ID)
        .aws_account_id(&finding.account)
        .region(&finding.region)
        .created_at(&finding.created_at)
        .updated_at(&finding.updated_at)
        .severity(Severity::builder().label(label).build())
        .title(&finding.title)
        .description(&finding.description)
        .resources(resource)
        .compliance(compliance.build())
        .record_state(state)
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&finding.remediation)
                        .url(&finding.remediation_url)
                        .build(),
                )
                .build(),
        );
    for kind in &finding.types {
        builder = builder.types(kind);
    }
    for (key, value) in &finding.product_fields {
        builder = builder.product_fields(key, value);
    }
    builder.build()
}

impl Findings for SecurityHub {
    async fn import(&self, findings: &[Finding]) -> AwsResult<ImportOutcome> {
        let mut outcome = ImportOutcome::default();
        for batch in findings.chunks(BATCH) {
            let request = self
                .client
                .batch_import_findings()
                .set_findings(Some(batch.iter().map(asff).collect()));
            let out = request
                .send()
                .await
                .map_err(|e| classify("securityhub:BatchImportFindings", &e))?;
            outcome.imported += usize::try_from(out.success_count.unwrap_or_default()).unwrap_or_default();
            outcome
                .failed
                .extend(out.failed_findings.unwrap_or_default().into_iter().map(|f| {
                    (
                        f.id.unwrap_or_default(),
                        f.error_code.unwrap_or_default(),
                        f.error_message.unwrap_or_default(),
                    )
                }));
        }
        Ok(outcome)
    }

    fn region(&self) -> &str {
        &self.region
    }

    async fn open_findings(&self, product_arn: &str, role_arn: Option<&str>) -> AwsResult<Vec<OpenFinding>> {
        let mut filters = AwsSecurityFindingFilters::builder()
            .product_arn(equals(product_arn))
            .generator_id(equals(GENERATOR_ID))
            .record_state(equals(RecordState::Active.as_str()));
        if let Some(arn) = role_arn {
            filters = filters.resource_id(equals(arn));
        }
        let mut pages = self
            .client
            .get_findings()
            .filters(filters.build())
            .max_results(100)
            .into_paginator()
            .items()
            .send();
        let mut open = Vec::new();
        while let Some(item) = pages.next().await {
            let finding = item.map_err(|e| classify("securityhub:GetFindings", &e))?;
            let role = finding.resources().first().and_then(|r| r.id()).unwrap_or_default();
            // the filters again, for endpoints that ignore them
            let ours = finding.generator_id() == Some(GENERATOR_ID)
                && finding.product_arn() == Some(product_arn)
                && finding.record_state() == Some(&RecordState::Active)
                && role_arn.is_none_or(|arn| role.eq_ignore_ascii_case(arn));
            if !ours {
                continue;
            }
            open.push(OpenFinding {
                id: finding.id().unwrap_or_default().to_owned(),
                created_at: finding.created_at().unwrap_or_default().to_owned(),
                role_arn: role.to_owned(),
                title: finding.title().unwrap_or_default().to_owned(),
                description: finding.description().unwrap_or_default().to_owned(),
                severity: finding
                    .severity()
                    .and_then(|s| s.label())
                    .map(|l| l.as_str().to_owned())
                    .unwrap_or_else(|| "MEDIUM".to_owned()),
                product_fields: finding
                    .product_fields()
                    .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            });
        }
        Ok(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON the audit command writes and the findings this adapter imports must not drift.
    #[test]
    fn the_asff_json_holds_what_the_adapter_imports() {
        let finding = Finding {
            id: "eks-node-role-guard/111122223333/node/inline/debug".into(),
            product_arn: "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            role_arn: "arn:aws:iam::111122223333:role/eks/node".into(),
            title: "title".into(),
            description: "description".into(),
            severity: "HIGH".into(),
            open: true,
            created_at: "2026-11-24T00:00:00Z".into(),
            updated_at: "2026-11-24T01:00:00Z".into(),
            remediation: "aws iam ...".into(),
            remediation_url: "https://example.com/runbook".into(),
            related_requirements: vec!["CIS Amazon EKS Benchmark 5.1.3".into()],
            types: vec!["Software and Configuration Checks/AWS Security Best Practices".into()],
            product_fields: [("mode".to_owned(), "dry-run".to_owned())].into(),
        };
        let sdk = asff(&finding);
        let json = finding.to_asff_json();
        assert_eq!(json["Id"], sdk.id().unwrap_or_default());
        assert_eq!(json["ProductArn"], sdk.product_arn().unwrap_or_default());
        assert_eq!(json["GeneratorId"], sdk.generator_id().unwrap_or_default());
        assert_eq!(json["AwsAccountId"], sdk.aws_account_id().unwrap_or_default());
        assert_eq!(json["Title"], sdk.title().unwrap_or_default());
        assert_eq!(json["Description"], sdk.description().unwrap_or_default());
        assert_eq!(json["CreatedAt"], sdk.created_at().unwrap_or_default());
        assert_eq!(json["UpdatedAt"], sdk.updated_at().unwrap_or_default());
        assert_eq!(json["Types"][0], sdk.types()[0].as_str());
        assert_eq!(
            json["Severity"]["Label"],
            sdk.severity()
                .and_then(|s| s.label())
                .map(|l| l.as_str())
                .unwrap_or_default()
        );
        assert_eq!(
            json["RecordState"],
            sdk.record_state().map(|s| s.as_str()).unwrap_or_default()
        );
        let compliance = sdk.compliance().expect("compliance");
        assert_eq!(
            json["Compliance"]["Status"],
            compliance.status().map(|s| s.as_str()).unwrap_or_default()
        );
        assert_eq!(
            json["Compliance"]["RelatedRequirements"][0],
            compliance.related_requirements()[0].as_str()
        );
        let resource = &sdk.resources()[0];
        assert_eq!(json["Resources"][0]["Id"], resource.id().unwrap_or_default());
        assert_eq!(json["Resources"][0]["Type"], resource.r#type().unwrap_or_default());
        assert_eq!(
            json["Resources"][0]["Details"]["AwsIamRole"]["RoleName"],
            resource
                .details()
                .and_then(|d| d.aws_iam_role())
                .and_then(|r| r.role_name())
                .unwrap_or_default()
        );
        let recommendation = sdk
            .remediation()
            .and_then(|r| r.recommendation())
            .expect("recommendation");
        assert_eq!(
            json["Remediation"]["Recommendation"]["Text"],
            recommendation.text().unwrap_or_default()
        );
        assert_eq!(
            json["Remediation"]["Recommendation"]["Url"],
            recommendation.url().unwrap_or_default()
        );
        assert_eq!(
            json["ProductFields"]["mode"],
            sdk.product_fields()
                .and_then(|f| f.get("mode"))
                .map(String::as_str)
                .unwrap_or_default()
        );
    }
}
