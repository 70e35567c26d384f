use aws_config::SdkConfig;
use aws_sdk_sts::Client;

use super::{CountCalls, classify};
use crate::types::{AwsError, AwsResult, ErrorKind, Identity};

/// Who the function runs as (`sts:GetCallerIdentity`, which needs no permission).
pub async fn caller_identity(sdk: &SdkConfig) -> AwsResult<Identity> {
    let conf = aws_sdk_sts::config::Builder::from(sdk).interceptor(CountCalls).build();
    let client = Client::from_conf(conf);
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify("sts:GetCallerIdentity", &e))?;
    match (out.account, out.arn) {
        (Some(account), Some(arn)) => Ok(Identity::from_caller_arn(&account, &arn)),
        _ => Err(AwsError {
            operation: "sts:GetCallerIdentity",
            kind: ErrorKind::Rejected,
            code: None,
            message: "response lacks the account or ARN".to_owned(),
        }),
    }
}

/// The session name member accounts see in CloudTrail for the guard's calls.
const SESSION_NAME: &str = "eks-node-role-guard";
/// Role chaining (the function's own credentials are a role session) caps sessions at an hour.
const SESSION_SECONDS: i32 = 3600;

/// Temporary credentials for `role_arn` (`sts:AssumeRole` through the regional endpoint of the
/// function's region), with their expiry.
pub(crate) async fn assume_role(client: &Client, role_arn: &str) -> AwsResult<aws_credential_types::Credentials> {
    let out = client
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(SESSION_NAME)
        .duration_seconds(SESSION_SECONDS)
        .send()
        .await
        .map_err(|e| classify("sts:AssumeRole", &e))?;
    let Some(c) = out.credentials else {
        return Err(AwsError {
            operation: "sts:AssumeRole",
            kind: ErrorKind::Rejected,
            code: None,
            message: "response lacks credentials".to_owned(),
        });
    };
    let expires = std::time::SystemTime::try_from(c.expiration).map_err(|e| AwsError {
        operation: "sts:AssumeRole",
        kind: ErrorKind::Rejected,
        code: None,
        message: format!("credentials expiry out of range: {e}"),
    })?;
    Ok(aws_credential_types::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        Some(expires),
        "eks-node-role-guard-member",
    ))
}

/// An STS client with the product's interceptor (calls counted, the deadline respected).
pub(crate) fn client(sdk: &SdkConfig) -> Client {
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .retry_partition(super::retry_partition("sts".to_owned()))
        .interceptor(CountCalls)
        .build();
    Client::from_conf(conf)
}
