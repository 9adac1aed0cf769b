//! Degrade-gracefully decorators for the optional ports, applied once in the
//! composition root, and the circuit breaker they share. What they see goes
//! into each port's `PortHealth`, which `/health` shows.

use super::traced::port_span;
use crate::core::domain::{IndexHits, TenantId, VectorPoint, VectorQuery};
use crate::core::ports::{
    Cache, CacheError, ChunkStream, Completion, Llm, LlmDescription, LlmError, PoolReport,
    PortHealth, ReflectRequest, RenderRequest, Throttle, VectorError, VectorMemory,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

// The circuit breaker the decorators share: calls go through `guard`, health
// checks through `probe`; both report into the port's `PortHealth`.

/// Runs one call to an optional port: skipped while the circuit is open,
/// bounded by `timeout`, its failure logged and counted (the error is
/// the failure's reason).
async fn guard<T>(
    health: &PortHealth,
    port: &'static str,
    operation: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    if health.circuit_open() {
        return Err("circuit open".into());
    }
    let call = call.instrument(port_span(port, operation));
    let reason = match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => {
            health.record_success();
            return Ok(value);
        }
        Ok(Err(reason)) => reason,
        Err(_) => "timeout".to_owned(),
    };
    tracing::warn!(port, operation, %reason, "call failed; degrading");
    let class = if reason == "timeout" {
        "timeout"
    } else {
        "unavailable"
    };
    health.record_failure(class, FAILURE_THRESHOLD, OPEN_FOR);
    Err(reason)
}

/// A health probe: bypasses the circuit (so recovery is noticed) but is
/// still bounded; success closes the circuit.
async fn probe<E>(
    health: &PortHealth,
    timeout: Duration,
    call: impl Future<Output = Result<(), E>>,
    timed_out: E,
) -> Result<(), E> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(())) => {
            health.record_success();
            Ok(())
        }
        Ok(Err(err)) => Err(err),
        Err(_) => Err(timed_out),
    }
}

/// Wraps a VectorMemory (Qdrant): each call bounded by `timeout`; failures
/// are returned (search falls back to the Store, writes are deferred) and
/// counted; repeated failures open a circuit so an outage costs nothing.
pub struct ResilientVectors {
    inner: Arc<dyn VectorMemory>,
    health: Arc<PortHealth>,
    timeout: Duration,
}

impl ResilientVectors {
    pub fn new(inner: Arc<dyn VectorMemory>, health: Arc<PortHealth>, timeout: Duration) -> Self {
        Self {
            inner,
            health,
            timeout,
        }
    }

    async fn guarded<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, VectorError>>,
    ) -> Result<T, VectorError> {
        let call = async {
            call.await
                .map_err(|VectorError::Unavailable(reason)| reason)
        };
        guard(&self.health, "vector_memory", operation, self.timeout, call)
            .await
            .map_err(VectorError::Unavailable)
    }
}

#[async_trait]
impl VectorMemory for ResilientVectors {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn ping(&self) -> Result<(), VectorError> {
        probe(
            &self.health,
            self.timeout,
            self.inner.ping(),
            VectorError::Unavailable("timeout".into()),
        )
        .await
    }

    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
        self.guarded("upsert", self.inner.upsert(points)).await
    }

    async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError> {
        self.guarded("search", self.inner.search(query)).await
    }

    async fn delete(&self, memory_ids: &[uuid::Uuid]) -> Result<(), VectorError> {
        self.guarded("delete", self.inner.delete(memory_ids)).await
    }

    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: uuid::Uuid,
    ) -> Result<(), VectorError> {
        self.guarded(
            "delete_character",
            self.inner.delete_character(tenant, character_id),
        )
        .await
    }

    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        self.guarded(
            "model_mismatch",
            self.inner.model_mismatch(model, dimensions),
        )
        .await
    }

    async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError> {
        // Slow by nature (drops and recreates a collection): no short timeout.
        self.inner.reset(model, dimensions).await
    }
}

/// Wraps the Llm: records each call's latency, outcome and tokens (metrics
/// and `/health`), so health never has to call the provider.
pub struct ObservedLlm {
    inner: Arc<dyn Llm>,
    health: Arc<PortHealth>,
}

impl ObservedLlm {
    pub fn new(inner: Arc<dyn Llm>, health: Arc<PortHealth>) -> Self {
        Self { inner, health }
    }

    /// Runs one call in its span and records how it went.
    async fn observed<T>(
        &self,
        call: &'static str,
        work: impl Future<Output = Result<T, LlmError>>,
    ) -> Result<T, LlmError> {
        let started = Instant::now();
        let result = work.instrument(port_span("llm", call)).await;
        self.observe(call, started, &result);
        result
    }

    fn observe<T>(&self, call: &'static str, started: Instant, result: &Result<T, LlmError>) {
        let elapsed = started.elapsed();
        self.health.record_latency(elapsed);
        metrics::histogram!("virlife_llm_call_seconds", "call" => call)
            .record(elapsed.as_secs_f64());
        match result {
            Ok(_) => self.health.record_success(),
            Err(err) => {
                let class = match err {
                    LlmError::Timeout => "timeout",
                    LlmError::RateLimited { .. } => "rate_limited",
                    LlmError::Unavailable(_) => "unavailable",
                    LlmError::BadResponse(_) => "bad_response",
                };
                metrics::counter!("virlife_llm_errors_total", "call" => call, "error" => class)
                    .increment(1);
                // Never opens a circuit: the LLM has no fallback to take.
                self.health.record_failure(class, u32::MAX, Duration::ZERO);
            }
        }
    }
}

#[async_trait]
impl Llm for ObservedLlm {
    fn describe(&self) -> LlmDescription {
        self.inner.describe()
    }

    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        self.observed("render", self.inner.render(request)).await
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        self.observed("render_stream", self.inner.render_stream(request))
            .await
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        self.observed("reflect", self.inner.reflect(request)).await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.observed("embed", self.inner.embed(texts)).await
    }

    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        self.inner.list_models().await
    }
}

/// Wraps any Cache: each call is bounded by `timeout`; failures become
/// misses / no-ops (logged and counted); repeated failures open a circuit so
/// an outage costs nothing per request until it is retried.
pub struct ResilientCache {
    inner: Arc<dyn Cache>,
    health: Arc<PortHealth>,
    timeout: Duration,
}

const FAILURE_THRESHOLD: u32 = 3;
const OPEN_FOR: Duration = Duration::from_secs(5);

impl ResilientCache {
    pub fn new(inner: Arc<dyn Cache>, health: Arc<PortHealth>, timeout: Duration) -> Self {
        Self {
            inner,
            health,
            timeout,
        }
    }

    async fn guarded<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, CacheError>>,
    ) -> Result<T, CacheError> {
        let call = async { call.await.map_err(|CacheError::Unavailable(reason)| reason) };
        guard(&self.health, "cache", operation, self.timeout, call)
            .await
            .map_err(CacheError::Unavailable)
    }
}

#[async_trait]
impl Cache for ResilientCache {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn connection_pool(&self) -> Option<PoolReport> {
        self.inner.connection_pool()
    }

    async fn ping(&self) -> Result<(), CacheError> {
        probe(
            &self.health,
            self.timeout,
            self.inner.ping(),
            CacheError::Unavailable("timeout".into()),
        )
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let value = self
            .guarded("get", self.inner.get(key))
            .await
            .unwrap_or(None);
        self.health.record_hit(value.is_some());
        Ok(value)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        let values = self
            .guarded("get_many", self.inner.get_many(keys))
            .await
            .ok()
            .filter(|values| values.len() == keys.len())
            .unwrap_or_else(|| vec![None; keys.len()]);
        for value in &values {
            self.health.record_hit(value.is_some());
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let _ = self.guarded("set", self.inner.set(key, value, ttl)).await;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        // Callers decide whether to fail open, so the error is passed on.
        self.guarded("set_if_absent", self.inner.set_if_absent(key, value, ttl))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.guarded("delete", self.inner.delete(key)).await
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        self.guarded("increment", self.inner.increment(key, ttl))
            .await
    }

    async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<Throttle, CacheError> {
        // The rate limiter falls back to an in-process limiter on error.
        self.guarded("throttle", self.inner.throttle(key, limit, period))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::MockCache;

    #[tokio::test]
    async fn failures_become_misses_and_open_the_circuit() {
        let mut inner = MockCache::new();
        inner
            .expect_get()
            .times(FAILURE_THRESHOLD as usize)
            .returning(|_| Err(CacheError::Unavailable("connection refused".into())));
        let health = Arc::new(PortHealth::default());
        let cache = ResilientCache::new(Arc::new(inner), health.clone(), Duration::from_millis(50));
        for _ in 0..FAILURE_THRESHOLD + 2 {
            // The last two calls never reach the inner cache: the circuit is open.
            assert_eq!(cache.get("k").await.unwrap(), None);
        }
        assert!(health.circuit_open());
        assert!(health.degraded());
        assert_eq!(health.last_error().as_deref(), Some("unavailable"));
        assert_eq!(health.hit_rate(), Some(0.0));
    }
}
