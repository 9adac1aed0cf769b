//! Degrade-gracefully decorators for the optional ports, applied once in the
//! composition root, and the shared health they report to `/health`.

use crate::domain::{ScoredId, TenantId, VectorPoint, VectorQuery};
use crate::ports::{
    Cache, CacheError, ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest,
    RenderRequest, Throttle, VectorError, VectorMemory,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a decorator has seen of its port: successes, failures, the last
/// error class, and whether its circuit is open.
#[derive(Default)]
pub struct PortHealth {
    hits: AtomicU64,
    misses: AtomicU64,
    failures: AtomicU64,
    fallbacks: AtomicU64,
    consecutive_failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
    last_error: Mutex<Option<String>>,
    calls: AtomicU64,
    last_latency_us: AtomicU64,
}

impl PortHealth {
    pub fn record_hit(&self, hit: bool) {
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("virlife_cache_hits_total").increment(1);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("virlife_cache_misses_total").increment(1);
        }
    }

    pub fn record_fallback(&self, port: &'static str) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("virlife_fallbacks_total", "port" => port).increment(1);
    }

    pub fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Counts a failure; after `threshold` in a row the circuit opens for `open_for`.
    pub fn record_failure(&self, class: &str, threshold: u32, open_for: Duration) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(class.to_owned());
        let streak = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= threshold {
            *self.open_until.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Instant::now() + open_for);
        }
    }

    pub fn circuit_open(&self) -> bool {
        let open_until = *self.open_until.lock().unwrap_or_else(|e| e.into_inner());
        open_until.is_some_and(|until| Instant::now() < until)
    }

    pub fn degraded(&self) -> bool {
        self.circuit_open() || self.last_error().is_some()
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn hit_rate(&self) -> Option<f64> {
        let hits = self.hits.load(Ordering::Relaxed);
        let total = hits + self.misses.load(Ordering::Relaxed);
        (total > 0).then(|| hits as f64 / total as f64)
    }

    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    pub fn record_latency(&self, latency: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.last_latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Runs one call to an optional port: skipped while the circuit is open,
    /// bounded by `timeout`, its failure logged and counted (the error is
    /// the failure's reason).
    pub async fn guard<T>(
        &self,
        port: &'static str,
        operation: &'static str,
        timeout: Duration,
        call: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        if self.circuit_open() {
            return Err("circuit open".into());
        }
        let reason = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => {
                self.record_success();
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
        self.record_failure(class, FAILURE_THRESHOLD, OPEN_FOR);
        Err(reason)
    }

    /// A health probe: bypasses the circuit (so recovery is noticed) but is
    /// still bounded; success closes the circuit.
    pub async fn probe<E>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<(), E>>,
        timed_out: E,
    ) -> Result<(), E> {
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(())) => {
                self.record_success();
                Ok(())
            }
            Ok(Err(err)) => Err(err),
            Err(_) => Err(timed_out),
        }
    }

    /// Latency of the last observed call, if any call was made.
    pub fn last_latency(&self) -> Option<Duration> {
        (self.calls.load(Ordering::Relaxed) > 0)
            .then(|| Duration::from_micros(self.last_latency_us.load(Ordering::Relaxed)))
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
        self.health
            .guard("vector_memory", operation, self.timeout, call)
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
        self.health
            .probe(
                self.timeout,
                self.inner.ping(),
                VectorError::Unavailable("timeout".into()),
            )
            .await
    }

    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
        self.guarded("upsert", self.inner.upsert(points)).await
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
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
        let started = Instant::now();
        let result = self.inner.render(request).await;
        self.observe("render", started, &result);
        result
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        let started = Instant::now();
        let result = self.inner.render_stream(request).await;
        self.observe("render_stream", started, &result);
        result
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let result = self.inner.reflect(request).await;
        self.observe("reflect", started, &result);
        result
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let started = Instant::now();
        let result = self.inner.embed(texts).await;
        self.observe("embed", started, &result);
        result
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
        self.health
            .guard("cache", operation, self.timeout, call)
            .await
            .map_err(CacheError::Unavailable)
    }
}

#[async_trait]
impl Cache for ResilientCache {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.health
            .probe(
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
    use crate::ports::MockCache;

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
