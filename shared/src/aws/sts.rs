use aws_config::SdkConfig;
use aws_sdk_sts::Client;

use super::{CountCalls, classify};
use crate::handler::Identity;
use crate::ports::{AwsError, AwsResult, ErrorKind};

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
