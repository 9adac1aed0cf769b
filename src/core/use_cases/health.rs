//! What `/health` reports: each service's state and latency, and overall
//! status (PostgreSQL decides between ok and unavailable; the rest can only
//! degrade).

use super::{CoreSettings, Ports};
use crate::core::ports::{
    Cache, Llm, PortHealth, StorageReport, StoreAdmin, StoreError, VectorMemory,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverallStatus {
    Ok,
    Degraded,
    Unavailable,
}

impl OverallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceReport {
    /// "connected", "in-memory", "offline", "configured", "degraded", "unavailable", "disabled".
    pub status: String,
    pub backend: &'static str,
    pub latency_ms: Option<f64>,
    pub hit_rate: Option<f64>,
    /// Class of the last failure seen (never its text).
    pub last_error: Option<String>,
    /// "open" or "closed" for a port behind a circuit breaker.
    pub circuit: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub status: OverallStatus,
    pub database: ServiceReport,
    pub cache: ServiceReport,
    pub vector_memory: ServiceReport,
    pub llm: ServiceReport,
    /// The disk under a file-backed store (SQLite); `None` otherwise.
    pub storage: Option<StorageHealth>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageHealth {
    pub disk: StorageReport,
    /// Why it needs attention: a disk fuller than `DISK_ALERT_PERCENT`, or
    /// (in production) a database that is not on a mounted volume.
    pub warnings: Vec<String>,
    /// Whether the disk is fuller than allowed (the service is then degraded).
    pub nearly_full: bool,
}

impl StorageHealth {
    fn of(disk: StorageReport, settings: &CoreSettings) -> Self {
        let mut warnings = Vec::new();
        let used = disk.used_fraction();
        let nearly_full = used > settings.disk_alert_fraction;
        if nearly_full {
            warnings.push(format!(
                "the data volume is {:.0} % full (over {:.0} %)",
                used * 100.0,
                settings.disk_alert_fraction * 100.0
            ));
        }
        if settings.environment == "production" && disk.on_volume == Some(false) {
            warnings.push(
                "the SQLite database is not on a mounted volume: a redeploy loses it \
                 (mount a volume and point DATABASE_URL into it)"
                    .to_owned(),
            );
        }
        Self {
            disk,
            warnings,
            nearly_full,
        }
    }
}

/// A store failure's class, without connection strings or hosts.
fn store_error_class(err: &StoreError) -> &'static str {
    match err {
        StoreError::Unavailable(reason) if reason.contains("migrations pending") => {
            "migrations pending (run `virlife migrate`)"
        }
        _ => "unreachable",
    }
}

fn healthy_status(backend: &str) -> String {
    if backend == "in-memory" {
        "in-memory".into()
    } else {
        "connected".into()
    }
}

/// Health of every port: what `/health`, the readiness probe and
/// `virlife check` report.
#[derive(Clone)]
pub struct Health {
    store: Arc<dyn StoreAdmin>,
    cache: Arc<dyn Cache>,
    vectors: Arc<dyn VectorMemory>,
    llm: Arc<dyn Llm>,
    cache_health: Arc<PortHealth>,
    vector_health: Arc<PortHealth>,
    llm_health: Arc<PortHealth>,
    settings: CoreSettings,
    started: Instant,
    last_probes: Arc<tokio::sync::Mutex<Option<(Instant, Probes)>>>,
    last_ready: Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
}

/// How long one round of backend probes answers `/health`.
const PROBE_TTL: Duration = Duration::from_secs(1);

/// What the backends answered to one round of probes.
#[derive(Clone)]
struct Probes {
    store_error: Option<&'static str>,
    store_ms: f64,
    cache_ok: bool,
    cache_ms: f64,
    vector_ok: bool,
    vector_ms: f64,
    mismatch: Option<String>,
}

impl Health {
    pub(crate) fn new(ports: &Ports, settings: CoreSettings) -> Self {
        Self {
            store: ports.store.clone(),
            cache: ports.cache.clone(),
            vectors: ports.vectors.clone(),
            llm: ports.llm.clone(),
            cache_health: ports.cache_health.clone(),
            vector_health: ports.vector_health.clone(),
            llm_health: ports.llm_health.clone(),
            settings,
            started: Instant::now(),
            last_probes: Arc::default(),
            last_ready: Arc::default(),
        }
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The backends' answers to a probe, at most `PROBE_TTL` old: a flood
    /// of `/health` costs each backend one probe per interval (concurrent
    /// callers wait for the one probe in flight).
    async fn probes(&self) -> Probes {
        let mut last = self.last_probes.lock().await;
        if let Some((at, probes)) = last.as_ref()
            && at.elapsed() < PROBE_TTL
        {
            return probes.clone();
        }
        let started = Instant::now();
        let store = self.store.ping().await;
        let store_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        let cache_ok = self.cache.ping().await.is_ok();
        let cache_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        let vector_ping = self.vectors.ping().await;
        let vector_ms = started.elapsed().as_secs_f64() * 1000.0;
        let model = self.llm.describe();
        // An index built for another embedding model answers nonsense: say so.
        let mismatch = match &vector_ping {
            Ok(()) => self
                .vectors
                .model_mismatch(&model.embedding_model, model.dimensions)
                .await
                .ok()
                .flatten(),
            Err(_) => None,
        };
        let probes = Probes {
            store_error: store.err().map(|err| store_error_class(&err)),
            store_ms,
            cache_ok,
            cache_ms,
            vector_ok: vector_ping.is_ok(),
            vector_ms,
            mismatch,
        };
        *last = Some((Instant::now(), probes.clone()));
        probes
    }

    /// Probes every port (bounded by each decorator's timeout, cached for
    /// `PROBE_TTL`) and reads what the decorators saw.
    pub async fn report(&self) -> HealthReport {
        let probes = self.probes().await;
        let database = ServiceReport {
            status: match probes.store_error {
                None => healthy_status(self.store.kind()),
                Some(_) => "unavailable".into(),
            },
            backend: self.store.kind(),
            latency_ms: Some(probes.store_ms),
            hit_rate: None,
            last_error: probes.store_error.map(str::to_owned),
            circuit: None,
        };

        let cache_down = !probes.cache_ok || self.cache_health.circuit_open();
        let cache = ServiceReport {
            status: if !self.settings.cache_enabled {
                "disabled".into()
            } else if cache_down {
                "degraded".into()
            } else {
                healthy_status(self.cache.kind())
            },
            backend: self.cache.kind(),
            latency_ms: Some(probes.cache_ms),
            hit_rate: Some(self.cache_health.hit_rate().unwrap_or(0.0)),
            last_error: self.cache_health.last_error(),
            circuit: self.cache_health.circuit_state(),
        };

        let mismatch = probes.mismatch;
        let vector_down = !probes.vector_ok || self.vector_health.circuit_open();
        let vector_memory = ServiceReport {
            status: if vector_down {
                "degraded".into()
            } else if mismatch.is_some() {
                "model-mismatch".into()
            } else {
                healthy_status(self.vectors.kind())
            },
            backend: self.vectors.kind(),
            latency_ms: Some(probes.vector_ms),
            hit_rate: None,
            last_error: mismatch
                .map(|m| format!("{m}; run a reindex"))
                .or_else(|| self.vector_health.last_error()),
            circuit: self.vector_health.circuit_state(),
        };

        let description = self.llm.describe();
        let llm = ServiceReport {
            status: if description.kind == "offline" {
                "offline".into()
            } else {
                "configured".into()
            },
            backend: description.kind,
            // The last real call's, so health never costs a provider call.
            latency_ms: self
                .llm_health
                .last_latency()
                .map(|d| d.as_secs_f64() * 1000.0),
            hit_rate: None,
            last_error: self.llm_health.last_error(),
            circuit: self.llm_health.circuit_state(),
        };

        let storage = self
            .store
            .storage()
            .map(|disk| StorageHealth::of(disk, &self.settings));
        let disk_full = storage.as_ref().is_some_and(|s| s.nearly_full);
        let status = if database.status == "unavailable" {
            OverallStatus::Unavailable
        } else if cache_down || vector_down || vector_memory.status == "model-mismatch" || disk_full
        {
            OverallStatus::Degraded
        } else {
            OverallStatus::Ok
        };
        HealthReport {
            status,
            database,
            cache,
            vector_memory,
            llm,
            storage,
        }
    }

    /// Ready when the store answers (migrations are checked by the Store
    /// adapter). The answer is reused for a second (a quarter of one while
    /// not ready), so a flood of probes costs the store a few pings.
    pub async fn ready(&self) -> bool {
        let mut last = self.last_ready.lock().await;
        if let Some((at, ready)) = *last {
            let fresh_for = if ready { PROBE_TTL } else { PROBE_TTL / 4 };
            if at.elapsed() < fresh_for {
                return ready;
            }
        }
        let ready = self.store.ping().await.is_ok();
        *last = Some((Instant::now(), ready));
        ready
    }
}
