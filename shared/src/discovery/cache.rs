//! The node-role index, reused across warm invocations for its TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::scan::{Scan, Sources, scan};
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{AwsResult, IndexSource, NodeBinding};

/// The node-role index, reused across warm invocations for `ttl`.
pub struct IndexCache {
    ttl: Duration,
    slot: Mutex<Option<Cached>>,
}

struct Cached {
    built: Instant,
    scan: Arc<Scan>,
}

impl IndexCache {
    pub fn new(ttl: Duration) -> Self {
        IndexCache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached scan if fresh, else a new one. Concurrent callers wait for one scan.
    pub async fn get<I: IamRead, E: Eks, C: Ec2Read>(
        &self,
        sources: &Sources<'_, I, E, C>,
        regions: &[String],
        concurrency: usize,
    ) -> AwsResult<(Arc<Scan>, IndexSource)> {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref().filter(|c| c.built.elapsed() < self.ttl) {
            return Ok((Arc::clone(&cached.scan), IndexSource::Cached));
        }
        let fresh = Arc::new(scan(sources, regions, concurrency).await?);
        if !self.ttl.is_zero() {
            *slot = Some(Cached {
                built: Instant::now(),
                scan: Arc::clone(&fresh),
            });
        }
        Ok((fresh, IndexSource::Scanned))
    }

    /// The cached scan if fresh; never scans.
    pub async fn fresh(&self) -> Option<Arc<Scan>> {
        let slot = self.slot.lock().await;
        slot.as_ref()
            .filter(|c| c.built.elapsed() < self.ttl)
            .map(|c| Arc::clone(&c.scan))
    }

    /// Records a binding learnt from an event (a node group just created) in a cached index.
    pub async fn learn(&self, role_arn: &str, binding: NodeBinding) {
        if let Some(cached) = self.slot.lock().await.as_mut() {
            Arc::make_mut(&mut cached.scan).index.insert(role_arn, binding);
        }
    }

    /// Drops the cached index: an event changed which role instances run with, so the next
    /// check reads them again.
    pub async fn forget(&self) {
        *self.slot.lock().await = None;
    }

    /// Stores a scan made elsewhere (the sweep's) for later events.
    pub async fn store(&self, scan: Arc<Scan>) {
        if !self.ttl.is_zero() {
            *self.slot.lock().await = Some(Cached {
                built: Instant::now(),
                scan,
            });
        }
    }
}
