use aws_config::SdkConfig;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::ReadWriteType;
use futures::future::try_join_all;

use super::{CountCalls, classify};
use crate::ports::Trails;
use crate::types::{AwsResult, FieldSelector, Selector, TrailState};

/// CloudTrail in the function's region: its trails and the multi-region and organization
/// trails that record it (shadow trails).
#[derive(Debug, Clone)]
pub struct CloudTrail {
    client: Client,
}

impl CloudTrail {
    pub fn new(sdk: &SdkConfig) -> Self {
        let conf = aws_sdk_cloudtrail::config::Builder::from(sdk)
            .retry_partition(super::retry_partition("cloudtrail".to_owned()))
            .interceptor(CountCalls)
            .build();
        CloudTrail {
            client: Client::from_conf(conf),
        }
    }

    async fn state(&self, trail: &aws_sdk_cloudtrail::types::Trail) -> AwsResult<TrailState> {
        let id = trail.trail_arn().or(trail.name()).unwrap_or_default();
        let status = self.client.get_trail_status().name(id);
        let selectors = self.client.get_event_selectors().trail_name(id);
        let (status, selectors) = futures::try_join!(
            async {
                status
                    .send()
                    .await
                    .map_err(|e| classify("cloudtrail:GetTrailStatus", &e))
            },
            async {
                selectors
                    .send()
                    .await
                    .map_err(|e| classify("cloudtrail:GetEventSelectors", &e))
            },
        )?;
        let basic = selectors.event_selectors().iter().map(|s| Selector::Basic {
            read_write: s.read_write_type().unwrap_or(&ReadWriteType::All).as_str().to_owned(),
            include_management: s.include_management_events().unwrap_or(true),
            excluded_sources: s.exclude_management_event_sources().to_vec(),
        });
        let advanced = selectors.advanced_event_selectors().iter().map(|s| {
            Selector::Advanced(
                s.field_selectors()
                    .iter()
                    .map(|f| FieldSelector {
                        field: f.field().to_owned(),
                        equals: f.equals().to_vec(),
                        not_equals: f.not_equals().to_vec(),
                    })
                    .collect(),
            )
        });
        Ok(TrailState {
            name: trail.name().unwrap_or(id).to_owned(),
            home_region: trail.home_region().unwrap_or_default().to_owned(),
            multi_region: trail.is_multi_region_trail().unwrap_or(false),
            logging: status.is_logging().unwrap_or(false),
            selectors: basic.chain(advanced).collect(),
        })
    }
}

impl Trails for CloudTrail {
    async fn trails(&self) -> AwsResult<Option<Vec<TrailState>>> {
        let described = self
            .client
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|e| classify("cloudtrail:DescribeTrails", &e))?;
        let states = try_join_all(described.trail_list().iter().map(|t| self.state(t))).await?;
        Ok(Some(states))
    }
}
