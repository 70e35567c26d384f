//! Adapters from the ports to the AWS SDK clients. Errors are classified here, where they happen.

mod cloudtrail;
mod eks;
mod iam;
mod securityhub;
mod sns;
mod sts;
#[cfg(test)]
mod tests;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use cloudtrail::CloudTrail;
pub use eks::EksClients;
pub use iam::IamClient;
pub use securityhub::SecurityHub;
pub use sns::SnsTopic;
pub use sts::caller_identity;

use crate::config::Config;
use crate::handler::Remediator;
use crate::ports::{AwsError, ErrorKind};

/// The remediator wired to real AWS clients.
pub type AwsRemediator = Remediator<IamClient, EksClients, SnsTopic, SecurityHub, CloudTrail>;

/// Attempts per call, counting the first: throttling, 5xx and timeouts are retried with
/// exponential backoff and jitter by the SDK's standard retry strategy.
const MAX_ATTEMPTS: u32 = 5;

/// The shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the
/// environment, plus retries and timeouts suited to a function with a 2-minute budget.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The loader behind [`load_sdk_config`], for callers (tests, tools) that add settings.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(100)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(40))
                .build(),
        )
}

/// Builds the remediator from `sdk`, asking STS once who the function is.
pub async fn remediator(sdk: &SdkConfig, config: Config) -> Result<AwsRemediator, AwsError> {
    let identity = caller_identity(sdk).await?;
    let iam = IamClient::new(sdk);
    let eks = EksClients::new(sdk, &config.scan_regions);
    let sns = SnsTopic::new(sdk, &config.sns_topic_arn);
    Ok(Remediator::new(config, identity, iam, eks, sns)
        .with_findings(SecurityHub::new(sdk))
        .with_trails(CloudTrail::new(sdk)))
}

/// Counts every API call into the running invocation's tally (see [`crate::metrics`]).
#[derive(Debug, Clone, Copy)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    // Not `read_before_execution`: client-level interceptors run that hook before the
    // operation's `Metadata` is in the bag. Serialization happens once per call, before retries.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            crate::metrics::record(metadata.service(), metadata.name());
        }
        Ok(())
    }
}

const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "InternalFailure",
    "InternalError",
    "ServerException",
    "EntityTemporarilyUnmodifiable",
    "ConcurrentModification",
];

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "KMSAccessDenied",
];

/// Classifies an SDK error as transient, denied or rejected.
pub(crate) fn classify<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let kind = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
        SdkError::ConstructionFailure(_) => ErrorKind::Rejected,
        _ => match (code.as_deref(), status) {
            (Some(c), _) if TRANSIENT_CODES.contains(&c) => ErrorKind::Transient,
            (Some(c), _) if DENIED_CODES.contains(&c) => ErrorKind::Denied,
            (_, Some(s)) if s >= 500 || s == 429 => ErrorKind::Transient,
            (_, Some(403)) => ErrorKind::Denied,
            _ => ErrorKind::Rejected,
        },
    };
    let message = match (err.message(), err) {
        (Some(m), _) => m.to_owned(),
        // an error body the SDK could not read (an API the endpoint does not have, a proxy page)
        (None, SdkError::ServiceError(_)) => format!("HTTP {} with an unrecognised error body", status.unwrap_or(0)),
        (None, _) => aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    };
    AwsError {
        operation,
        kind,
        code,
        message,
    }
}
