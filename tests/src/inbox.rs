//! The security team's inbox: an SQS queue subscribed to the guard's topic, and the
//! notifications it receives.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::account::Account;
use crate::emulator::{ACCOUNT, REGION, unique};

impl Account {
    /// A topic with an SQS queue subscribed to it (raw delivery off: the body is the SNS envelope).
    pub async fn inbox(&self) -> Result<Inbox> {
        let name = unique("guard");
        let topic_arn = self
            .sns
            .create_topic()
            .name(&name)
            .send()
            .await?
            .topic_arn
            .context("topic arn")?;
        let queue_url = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await?
            .queue_url
            .context("queue url")?;
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
        self.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await?;
        Ok(Inbox {
            topic_arn,
            queue_url,
            sqs: self.sqs.clone(),
        })
    }
}

/// Notifications delivered to the security team's queue.
pub struct Inbox {
    pub topic_arn: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// One SNS notification as an SQS subscriber receives it.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: String,
    /// The `sqs` member of the `MessageStructure=json` message: the JSON Report.
    pub report: Value,
    pub attributes: HashMap<String, String>,
}

impl Received {
    /// The backup an inline policy gets in the topic before it is deleted (not a Report).
    pub fn is_backup(&self) -> bool {
        self.report["outcome"] == "inline_policy_backup"
    }
}

/// The notifications that are Reports, without the backups published before deletes.
pub fn reports(notes: &[Received]) -> Vec<&Received> {
    notes.iter().filter(|n| !n.is_backup()).collect()
}

impl Inbox {
    /// Waits up to `wait` for notifications, returning all that arrived (deleted from the queue).
    pub async fn drain(&self, wait: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + wait;
        let mut received = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            for message in out.messages() {
                let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())?;
                received.push(parse_envelope(&envelope)?);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
            if Instant::now() > deadline {
                return Ok(received);
            }
            if out.messages().is_empty() && !received.is_empty() {
                return Ok(received);
            }
        }
    }
}

fn parse_envelope(envelope: &Value) -> Result<Received> {
    let message = envelope["Message"].as_str().context("SNS envelope without Message")?;
    let attributes = envelope["MessageAttributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["Value"].as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Received {
        subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
        report: serde_json::from_str(message).with_context(|| format!("sqs message is not JSON: {message}"))?,
        attributes,
    })
}
