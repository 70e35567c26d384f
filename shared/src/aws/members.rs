use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;

use super::organizations::Organization;
use super::{Aws, Ec2Clients, Ec2Reader, EksClients, IamClient, IamReader, ReadOnly, SecurityHub, sts};
use crate::ports::{Connection, Members, NoFindings};
use crate::types::AwsResult;

/// Member accounts through STS and Organizations, with the function's own credentials.
#[derive(Debug, Clone)]
pub struct OrgMembers {
    sdk: SdkConfig,
    sts: aws_sdk_sts::Client,
    organization: Organization,
    regions: Vec<String>,
}

impl OrgMembers {
    /// `regions`: where the member EKS clients are built up front (`SCAN_REGIONS`).
    pub fn new(sdk: &SdkConfig, regions: &[String]) -> Self {
        OrgMembers {
            sdk: sdk.clone(),
            sts: sts::client(sdk),
            organization: Organization::new(sdk),
            regions: regions.to_vec(),
        }
    }
}

impl Members<Aws> for OrgMembers {
    async fn organization_accounts(&self) -> AwsResult<Vec<String>> {
        self.organization.active_accounts().await
    }

    async fn connect(&self, _account: &str, role_arn: &str) -> AwsResult<Connection<Aws>> {
        let (member, expires) = self.assume(role_arn).await?;
        Ok(Connection {
            iam: IamClient::new(&member),
            eks: EksClients::new(&member, &self.regions),
            ec2: Ec2Clients::new(&member, &self.regions),
            findings: SecurityHub::new(&member),
            expires,
        })
    }
}

impl OrgMembers {
    /// The SDK configuration of `role_arn`'s session: the same endpoints, region, retries and
    /// timeouts; only the credentials differ.
    async fn assume(&self, role_arn: &str) -> AwsResult<(SdkConfig, std::time::SystemTime)> {
        let credentials = sts::assume_role(&self.sts, role_arn).await?;
        let expires = credentials.expiry().unwrap_or_else(std::time::SystemTime::now);
        let member = self
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok((member, expires))
    }
}

/// Member accounts for the audit command: read-only IAM, no Security Hub.
#[derive(Debug, Clone)]
pub struct ReadOnlyMembers(pub OrgMembers);

impl Members<ReadOnly> for ReadOnlyMembers {
    async fn organization_accounts(&self) -> AwsResult<Vec<String>> {
        self.0.organization.active_accounts().await
    }

    async fn connect(&self, _account: &str, role_arn: &str) -> AwsResult<Connection<ReadOnly>> {
        let (member, expires) = self.0.assume(role_arn).await?;
        Ok(Connection {
            iam: IamReader::new(&member),
            eks: EksClients::new(&member, &self.0.regions),
            ec2: Ec2Reader::new(&member, &self.0.regions),
            findings: NoFindings,
            expires,
        })
    }
}
