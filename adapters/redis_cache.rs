//! Redis `Cache` on a deadpool of multiplexed redis-rs connections (the
//! redis crate as deadpool-redis re-exports it). Every call is bounded (pool
//! wait, connect and the command itself), so a dead or stalled Redis costs
//! milliseconds; errors become `CacheError::Unavailable`.
//!
//! One cache operation is one round trip: connections are lent out
//! unchecked (deadpool-redis's own manager sends UNWATCH and PING before
//! every use, doubling each call). A broken connection is found by the
//! command that uses it, which then drops it and every idle one (a Redis
//! that went away took them all), so the next calls connect afresh.

use crate::core::ports::{Cache, CacheError, PoolReport, Throttle};
use async_trait::async_trait;
use deadpool::managed::{self, Metrics, Object, RecycleResult, Timeouts};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, FromRedisValue, RedisError, Script};
use std::time::Duration;

/// GCRA in one atomic step; the same arithmetic as `domain::gcra`. Uses the
/// server's clock, so every replica agrees on time.
const THROTTLE_LUA: &str = r#"
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = math.max(1, math.floor(period / limit))
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period then
  return {0, ahead - period}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, ahead))
return {1, math.floor((period - ahead) / interval)}
"#;

pub struct RedisOptions {
    pub url: String,
    pub pool_size: usize,
    /// Bound on one command, including waiting for a connection.
    pub command_timeout: Duration,
}

/// Opens multiplexed connections; lends them out without a check.
struct Connector {
    client: redis::Client,
}

impl managed::Manager for Connector {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client.get_multiplexed_async_connection().await
    }

    async fn recycle(
        &self,
        _: &mut MultiplexedConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        Ok(())
    }
}

type Pool = managed::Pool<Connector>;
type Connection = Object<Connector>;

pub struct RedisCache {
    pool: Pool,
    command_timeout: Duration,
    throttle: Script,
}

fn unavailable(err: impl std::fmt::Display) -> CacheError {
    CacheError::Unavailable(err.to_string())
}

/// Whether an error says the connection itself is gone (rather than a
/// command the server refused).
fn broken(err: &RedisError) -> bool {
    err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal()
}

impl RedisCache {
    /// Builds the pool without connecting; connections are made on use.
    pub fn new(options: &RedisOptions) -> Result<Self, CacheError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| CacheError::Unavailable(format!("invalid REDIS_URL: {e}")))?;
        let bound = Some(options.command_timeout);
        let pool = Pool::builder(Connector { client })
            .max_size(options.pool_size)
            .timeouts(Timeouts {
                wait: bound,
                create: bound,
                recycle: bound,
            })
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| CacheError::Unavailable(format!("Redis pool: {e}")))?;
        Ok(Self {
            pool,
            command_timeout: options.command_timeout,
            throttle: Script::new(THROTTLE_LUA),
        })
    }

    /// A pooled connection; the wait for it is measured.
    async fn connection(&self) -> Result<Connection, CacheError> {
        let started = std::time::Instant::now();
        let connection = self.pool.get().await.map_err(unavailable);
        metrics::histogram!("virlife_redis_pool_wait_seconds")
            .record(started.elapsed().as_secs_f64());
        connection
    }

    /// A command's result; a connection the error says is broken is
    /// dropped with every idle one, instead of going back to the pool.
    fn settle<T>(
        &self,
        connection: Connection,
        result: Result<T, RedisError>,
    ) -> Result<T, CacheError> {
        match result {
            Ok(value) => Ok(value),
            Err(err) => {
                if broken(&err) {
                    drop(Object::take(connection));
                    self.pool.retain(|_, _| false);
                }
                Err(unavailable(err))
            }
        }
    }

    /// A call, bounded by the command timeout (pool wait included).
    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, CacheError>>,
    ) -> Result<T, CacheError> {
        tokio::time::timeout(self.command_timeout, work)
            .await
            .map_err(|_| CacheError::Unavailable("timeout".into()))?
    }

    async fn run<T: FromRedisValue>(&self, command: redis::Cmd) -> Result<T, CacheError> {
        self.bounded(async {
            let mut connection = self.connection().await?;
            let result = command.query_async::<T>(&mut *connection).await;
            self.settle(connection, result)
        })
        .await
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    ttl.as_millis().max(1) as u64
}

/// The SET command a `set_if_absent` sends (pure, so it is unit-tested).
pub fn set_command(key: &str, value: &str, ttl: Duration, only_if_absent: bool) -> redis::Cmd {
    let mut command = redis::cmd("SET");
    command.arg(key).arg(value).arg("PX").arg(ttl_ms(ttl));
    if only_if_absent {
        command.arg("NX");
    }
    command
}

#[async_trait]
impl Cache for RedisCache {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn connection_pool(&self) -> Option<PoolReport> {
        let status = self.pool.status();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Some(PoolReport {
            open: count(status.size),
            idle: count(status.available),
            max: count(status.max_size),
            waiting: Some(count(status.waiting)),
        })
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let pong: String = self.run(redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(CacheError::Unavailable(format!(
                "unexpected PING reply {pong}"
            )))
        }
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut command = redis::cmd("GET");
        command.arg(key);
        self.run(command).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(key);
        }
        self.run(command).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.run::<()>(set_command(key, value, ttl, false)).await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        // SET NX answers OK when it set the key and nil when the key existed.
        let reply: Option<String> = self.run(set_command(key, value, ttl, true)).await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut command = redis::cmd("DEL");
        command.arg(key);
        self.run::<()>(command).await
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        // INCR and the first expiry in one round trip and one transaction.
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .cmd("INCR")
            .arg(key)
            .cmd("PEXPIRE")
            .arg(key)
            .arg(ttl_ms(ttl))
            .arg("NX")
            .ignore();
        let (count,): (i64,) = self
            .bounded(async {
                let mut connection = self.connection().await?;
                let result = pipeline.query_async(&mut *connection).await;
                self.settle(connection, result)
            })
            .await?;
        Ok(count)
    }

    async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<Throttle, CacheError> {
        let (allowed, value): (i64, i64) = self
            .bounded(async {
                let mut connection = self.connection().await?;
                let result = self
                    .throttle
                    .key(key)
                    .arg(ttl_ms(period))
                    .arg(limit.max(1))
                    .invoke_async(&mut *connection)
                    .await;
                self.settle(connection, result)
            })
            .await?;
        Ok(if allowed == 1 {
            Throttle::Allowed {
                remaining: value.max(0) as u32,
            }
        } else {
            Throttle::Limited {
                retry_after: Duration::from_millis(value.max(1) as u64),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_if_absent_sends_nx_with_a_millisecond_expiry() {
        let packed = set_command("k", "v", Duration::from_secs(2), true).get_packed_command();
        let text = String::from_utf8_lossy(&packed);
        for part in ["SET", "k", "v", "PX", "2000", "NX"] {
            assert!(text.contains(part), "{text}");
        }
        let plain = set_command("k", "v", Duration::from_millis(1), false).get_packed_command();
        assert!(!String::from_utf8_lossy(&plain).contains("NX"));
    }
}
