//! The health record each optional port's decorator keeps: successes,
//! failures, the last error class and the circuit state. The decorators (in
//! `adapters/resilience.rs`) write it; the health use case reads it.

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
    /// Whether a circuit breaker guards this port (its state is then reported).
    has_circuit: bool,
}

impl PortHealth {
    /// The record of a port whose decorator runs a circuit breaker.
    pub fn with_circuit() -> Self {
        Self {
            has_circuit: true,
            ..Self::default()
        }
    }

    /// "open" or "closed" for a port behind a circuit breaker, else `None`.
    pub fn circuit_state(&self) -> Option<&'static str> {
        self.has_circuit.then(|| {
            if self.circuit_open() {
                "open"
            } else {
                "closed"
            }
        })
    }

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

    /// Latency of the last observed call, if any call was made.
    pub fn last_latency(&self) -> Option<Duration> {
        (self.calls.load(Ordering::Relaxed) > 0)
            .then(|| Duration::from_micros(self.last_latency_us.load(Ordering::Relaxed)))
    }
}
