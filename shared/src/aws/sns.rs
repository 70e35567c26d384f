use aws_config::SdkConfig;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::{CountCalls, classify};
use crate::ports::Notifier;
use crate::types::{AwsError, AwsResult, ErrorKind, Notification};

/// The security team's topic.
#[derive(Debug, Clone)]
pub struct SnsTopic {
    client: Client,
    topic_arn: String,
}

impl SnsTopic {
    pub fn new(sdk: &SdkConfig, topic_arn: &str) -> Self {
        let conf = aws_sdk_sns::config::Builder::from(sdk)
            .retry_partition(super::retry_partition("sns".to_owned()))
            .interceptor(CountCalls)
            .build();
        SnsTopic {
            client: Client::from_conf(conf),
            topic_arn: topic_arn.to_owned(),
        }
    }
}

impl Notifier for SnsTopic {
    async fn publish(&self, notification: &Notification) -> AwsResult<String> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&notification.subject)
            .message_structure("json")
            .message(&notification.message);
        for (name, value) in &notification.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError {
                    operation: "sns:Publish",
                    kind: ErrorKind::Rejected,
                    code: None,
                    message: e.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        let out = request
            .customize()
            .config_override(aws_sdk_sns::config::Builder::default().retry_config(super::write_retry_config()))
            .send()
            .await
            .map_err(|e| classify("sns:Publish", &e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
