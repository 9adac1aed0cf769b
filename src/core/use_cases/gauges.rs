//! The gauges `/metrics` shows, read from the ports when it is scraped:
//! the store's and the cache's connection pools, and the job queue by
//! status. (Pool wait times are histograms the adapters record as they
//! wait.)

use crate::core::domain::JobStatus;
use crate::core::ports::{Cache, JobStore, PoolReport, StoreAdmin};
use std::sync::Arc;
use std::time::Duration;

/// A scrape waits this long for the job counts, then shows the last ones.
const COUNT_BOUND: Duration = Duration::from_secs(2);

const STATUSES: [JobStatus; 4] = [
    JobStatus::Queued,
    JobStatus::Running,
    JobStatus::Done,
    JobStatus::Failed,
];

#[derive(Clone)]
pub struct Gauges {
    admin: Arc<dyn StoreAdmin>,
    jobs: Arc<dyn JobStore>,
    cache: Arc<dyn Cache>,
}

impl Gauges {
    pub fn new(admin: Arc<dyn StoreAdmin>, jobs: Arc<dyn JobStore>, cache: Arc<dyn Cache>) -> Self {
        Self { admin, jobs, cache }
    }

    /// Sets every gauge from what the ports say now. A store that does not
    /// answer leaves the job gauges as they were (its outage shows in
    /// `/health` and the request metrics).
    #[tracing::instrument(skip_all)]
    pub async fn record(&self) {
        if let Some(pool) = self.admin.connection_pool() {
            pool_gauges(&DATABASE_POOL, &pool);
        }
        if let Some(pool) = self.cache.connection_pool() {
            pool_gauges(&REDIS_POOL, &pool);
        }
        match tokio::time::timeout(COUNT_BOUND, self.jobs.count_jobs_by_status()).await {
            Ok(Ok(counts)) => {
                for status in STATUSES {
                    let count = counts
                        .iter()
                        .find(|(s, _)| *s == status)
                        .map_or(0, |(_, n)| *n);
                    metrics::gauge!("virlife_jobs", "status" => status.as_str()).set(count as f64);
                }
            }
            Ok(Err(err)) => tracing::debug!(error = %err, "job counts unavailable"),
            Err(_) => tracing::debug!("job counts took too long"),
        }
    }
}

/// One pool's gauge names (literal, so they can be found in the code).
struct PoolGauges {
    connections: &'static str,
    max: &'static str,
    /// Where the pool counts its waiting callers (deadpool does, sqlx not).
    waiting: Option<&'static str>,
}

const DATABASE_POOL: PoolGauges = PoolGauges {
    connections: "virlife_db_pool_connections",
    max: "virlife_db_pool_max_connections",
    waiting: None,
};

const REDIS_POOL: PoolGauges = PoolGauges {
    connections: "virlife_redis_pool_connections",
    max: "virlife_redis_pool_max_connections",
    waiting: Some("virlife_redis_pool_waiting"),
};

fn pool_gauges(names: &PoolGauges, pool: &PoolReport) {
    metrics::gauge!(names.connections, "state" => "in_use").set(f64::from(pool.in_use()));
    metrics::gauge!(names.connections, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!(names.max).set(f64::from(pool.max));
    if let (Some(name), Some(waiting)) = (names.waiting, pool.waiting) {
        metrics::gauge!(name).set(f64::from(waiting));
    }
}
