//! Adapters from the ports to the AWS SDK clients. Errors are classified here, where they happen.

mod cloudtrail;
#[cfg(test)]
mod door_tests;
mod ec2;
mod eks;
mod iam;
mod members;
mod organizations;
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
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use cloudtrail::CloudTrail;
pub use ec2::{Ec2Clients, Ec2Reader};
pub use eks::EksClients;
pub use iam::{IamClient, IamReader};
pub use members::{OrgMembers, ReadOnlyMembers};
pub use organizations::Organization;
pub use securityhub::SecurityHub;
pub use sns::SnsTopic;
pub use sts::caller_identity;

use crate::config::Config;
use crate::ports::{Adapters, NoFindings, NoTrails, Ports, Silent};
use crate::types::{AwsError, ErrorKind, Identity};

/// The function's port set: every port over an SDK client, IAM with its writes.
pub struct Aws;

impl Ports for Aws {
    type Iam = IamClient;
    type Eks = EksClients;
    type Ec2 = Ec2Clients;
    type Findings = SecurityHub;
    type Notifier = SnsTopic;
    type Trails = CloudTrail;
    type Members = OrgMembers;
}

/// The audit's port set: read-only IAM, no Security Hub, no topic, no trail check.
pub struct ReadOnly;

impl Ports for ReadOnly {
    type Iam = IamReader;
    type Eks = EksClients;
    type Ec2 = Ec2Reader;
    type Findings = NoFindings;
    type Notifier = Silent;
    type Trails = NoTrails;
    type Members = ReadOnlyMembers;
}

/// Attempts per read, counting the first: throttling, 5xx and timeouts are retried with
/// exponential backoff and full jitter. Eight, because with half of all requests throttled a
/// read then fails once in 256, and discovery makes hundreds of reads.
const MAX_ATTEMPTS: u32 = 8;
/// Attempts per remediating write (`DetachRolePolicy`, `DeleteRolePolicy`) and per notification:
/// worth more patience than a read.
const WRITE_ATTEMPTS: u32 = 10;
/// The longest wait between two attempts; the invocation's budget bounds the rest.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The SDK's standard retry mode, which AWS recommends for all workloads. Adaptive mode (a
/// client-side rate limiter) is meant for single-resource, latency-tolerant clients: it can
/// delay first attempts, and measured here with half of all requests throttled it made
/// invocations take 27 s (p50) and up to 76 s where standard mode took 0.5 s and 3.4 s (docs/safety.md). The
/// back-off this function needs is discovery's own (`discovery::Limit`) and the deadline.
fn retry_config(max_attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(MAX_BACKOFF)
}

/// The retry configuration of one call that remediates or notifies.
pub(crate) fn write_retry_config() -> RetryConfig {
    retry_config(WRITE_ATTEMPTS)
}

/// A client's retry partition, with its own retry quota (token bucket of 500) in which a retry
/// after throttling costs 1 token instead of the standard 5 (5xx and timeouts keep 5 and 10).
/// The quota exists to stop retry storms against a failing service; drained by a burst of
/// throttles, it would make every later call of a warm process fail at its first throttle.
pub(crate) fn retry_partition(name: String) -> aws_sdk_iam::config::retry::RetryPartition {
    use aws_sdk_iam::config::retry::{RetryPartition, TokenBucket};
    RetryPartition::custom(name)
        .token_bucket(
            TokenBucket::builder()
                .retry_cost(5)
                .timeout_retry_cost(10)
                .throttling_retry_cost(1)
                .build(),
        )
        .build()
}

/// The shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the
/// environment, plus retries and timeouts suited to a function with a 2-minute budget.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The loader behind [`load_sdk_config`], for callers (tests, tools) that add settings.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(40))
                .build(),
        )
}

/// The function's adapters over `sdk`, and who the function is (asked of STS once). With
/// `MEMBER_ROLE_NAME` the member accounts are reached through the same SDK configuration.
/// A configuration without a topic (an audit's) is refused before any call.
pub async fn adapters(sdk: &SdkConfig, config: &Config) -> Result<(Identity, Adapters<Aws>), AwsError> {
    let topic = config.sns_topic_arn.as_deref().ok_or_else(|| AwsError {
        operation: "sns:Publish",
        kind: ErrorKind::Rejected,
        code: None,
        message: "no topic to notify: the configuration has no SNS_TOPIC_ARN".to_owned(),
    })?;
    let identity = caller_identity(sdk).await?;
    let adapters = Adapters {
        iam: IamClient::new(sdk),
        eks: EksClients::new(sdk, &config.scan_regions),
        ec2: Ec2Clients::new(sdk, &config.scan_regions),
        findings: SecurityHub::new(sdk),
        notifier: SnsTopic::new(sdk, topic),
        trails: CloudTrail::new(sdk),
        members: OrgMembers::new(sdk, &config.scan_regions),
    };
    Ok((identity, adapters))
}

/// Counts every API call, attempt and throttled attempt into the running invocation's tally (see
/// [`crate::invocation::tally`]), and refuses to start an attempt once the invocation's budget is spent
/// (see [`crate::invocation::deadline`]), except the notification's publish, which the reserve is for.
#[derive(Debug, Clone, Copy)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    // Per attempt, so an SDK retry that would start after the budget is refused too.
    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let publish = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.service().eq_ignore_ascii_case("sns") && m.name() == "Publish");
        if !publish && crate::invocation::deadline::exhausted() {
            return Err(Box::new(crate::invocation::deadline::Exhausted));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        crate::invocation::tally::record_attempt(is_throttling(context.response()));
        Ok(())
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
            crate::invocation::tally::record(metadata.service(), metadata.name());
        }
        Ok(())
    }
}

/// Whether AWS answered with throttling, in any of the protocols the clients speak: HTTP 429
/// (REST JSON: EKS, Security Hub), an `x-amzn-ErrorType` header, or a 400 whose error body
/// (query XML: IAM, STS, SNS; JSON 1.1: CloudTrail) names a throttling code.
fn is_throttling(response: &HttpResponse) -> bool {
    let status = response.status().as_u16();
    if status == 429 {
        return true;
    }
    let header = response.headers().get("x-amzn-ErrorType").unwrap_or_default();
    if THROTTLING_CODES.iter().any(|code| header.starts_with(code)) {
        return true;
    }
    status == 400
        && response.body().bytes().is_some_and(|body| {
            let body = String::from_utf8_lossy(body);
            THROTTLING_CODES
                .iter()
                .any(|code| body.contains(&format!(">{code}<")) || body.contains(&format!("\"{code}\"")))
        })
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// Codes a later retry could get past: throttling, and these.
const TRANSIENT_CODES: &[&str] = &[
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
    if refused_for_deadline(err) {
        return AwsError {
            operation,
            kind: ErrorKind::Transient,
            code: Some(crate::invocation::deadline::CODE.to_owned()),
            message: crate::invocation::deadline::Exhausted.to_string(),
        };
    }
    let code = err.code().map(str::to_owned);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let kind = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
        SdkError::ConstructionFailure(_) => ErrorKind::Rejected,
        _ => match (code.as_deref(), status) {
            (Some(c), _) if THROTTLING_CODES.contains(&c) || TRANSIENT_CODES.contains(&c) => ErrorKind::Transient,
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
        (None, _) => error_chain(err),
    };
    AwsError {
        operation,
        kind,
        code,
        message,
    }
}

/// An error and its sources, `: `-joined on one line: what `DisplayErrorContext` says, without
/// its trailing `Debug` dump (`DispatchFailure(ConnectorError { kind: ... })`), which no reader
/// of a report or a terminal can act on.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        // wrappers often repeat their source's message
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Whether the call was refused by [`CountCalls`] because the invocation's budget is spent.
fn refused_for_deadline(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<crate::invocation::deadline::Exhausted>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}
