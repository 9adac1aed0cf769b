use super::ApiTags;
use crate::core::use_cases::{OverallStatus, ServiceReport, StorageHealth};
use crate::http::AppState;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;

#[derive(Debug, Object)]
pub struct ServiceHealth {
    /// connected, in-memory, offline, configured, degraded, unavailable or disabled.
    pub status: String,
    pub backend: String,
    #[oai(skip_serializing_if_is_none)]
    pub latency_ms: Option<f64>,
    /// Cache only: share of lookups that hit.
    #[oai(skip_serializing_if_is_none)]
    pub hit_rate: Option<f64>,
    /// Cache only: whether renderer-context caching is on.
    #[oai(skip_serializing_if_is_none)]
    pub enabled: Option<bool>,
    /// Class of the last failure seen (never its text).
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    /// Ports behind a circuit breaker (cache, Qdrant): open or closed.
    #[oai(skip_serializing_if_is_none)]
    pub circuit: Option<String>,
}

impl From<ServiceReport> for ServiceHealth {
    fn from(r: ServiceReport) -> Self {
        Self {
            status: r.status,
            backend: r.backend.to_owned(),
            latency_ms: r.latency_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            hit_rate: r.hit_rate,
            enabled: None,
            last_error: r.last_error,
            circuit: r.circuit.map(str::to_owned),
        }
    }
}

#[derive(Debug, Object)]
pub struct ServicesHealth {
    pub database: ServiceHealth,
    pub cache: ServiceHealth,
    pub vector_memory: ServiceHealth,
    pub llm: ServiceHealth,
}

/// The disk under the SQLite database.
#[derive(Debug, Object)]
pub struct DiskHealth {
    pub total_bytes: u64,
    pub available_bytes: u64,
    /// Share of the disk in use, in percent; over `DISK_ALERT_PERCENT` (80) the service is degraded.
    pub used_percent: f64,
    /// Whether the database is on a mounted volume (absent where that cannot be told).
    #[oai(skip_serializing_if_is_none)]
    pub on_volume: Option<bool>,
    /// What needs attention: a nearly full disk, or (in production) no volume.
    pub warnings: Vec<String>,
}

impl From<StorageHealth> for DiskHealth {
    fn from(storage: StorageHealth) -> Self {
        Self {
            total_bytes: storage.disk.total_bytes,
            available_bytes: storage.disk.available_bytes,
            used_percent: (storage.disk.used_fraction() * 1000.0).round() / 10.0,
            on_volume: storage.disk.on_volume,
            warnings: storage.warnings,
        }
    }
}

#[derive(Debug, Object)]
pub struct Health {
    /// ok, degraded (an optional service is down, or the data disk nearly full) or
    /// unavailable (the database is down).
    pub status: String,
    pub app_name: String,
    pub environment: String,
    pub version: String,
    pub uptime_seconds: u64,
    pub timestamp: DateTime<Utc>,
    /// enabled, or disabled (development without `MASTER_API_KEY`).
    pub authentication: String,
    pub services: ServicesHealth,
    /// SQLite only: the data volume's disk.
    #[oai(skip_serializing_if_is_none)]
    pub disk: Option<DiskHealth>,
}

#[derive(Debug, Object)]
pub struct Probe {
    pub status: String,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The database answers (other services may be degraded).
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

#[derive(ApiResponse)]
pub enum ProbeResponse {
    #[oai(status = 200)]
    Ok(Json<Probe>),
    #[oai(status = 503)]
    Unavailable(Json<Probe>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Service health
    ///
    /// 200 while the database answers (`degraded` if Redis or Qdrant do not, or the SQLite
    /// data volume is over 80 % full), 503 when it does not.
    #[oai(path = "/health", method = "get", operation_id = "getHealth")]
    async fn health(&self, state: Data<&Arc<AppState>>) -> HealthResponse {
        let report = state.health.report().await;
        let mut cache: ServiceHealth = report.cache.into();
        cache.enabled = Some(state.settings.cache_enabled);
        let body = Health {
            status: report.status.as_str().to_owned(),
            app_name: state.app_name.clone(),
            environment: state.settings.environment.to_owned(),
            version: state.settings.version.to_owned(),
            uptime_seconds: state.health.uptime().as_secs(),
            timestamp: Utc::now(),
            authentication: if state.master_key.is_some() {
                "enabled"
            } else {
                "disabled"
            }
            .to_owned(),
            services: ServicesHealth {
                database: report.database.into(),
                cache,
                vector_memory: report.vector_memory.into(),
                llm: report.llm.into(),
            },
            disk: report.storage.map(DiskHealth::from),
        };
        match report.status {
            OverallStatus::Unavailable => HealthResponse::Unavailable(Json(body)),
            OverallStatus::Ok | OverallStatus::Degraded => HealthResponse::Ok(Json(body)),
        }
    }

    /// Liveness: 200 while the process runs
    #[oai(path = "/health/live", method = "get", operation_id = "getLiveness")]
    async fn live(&self) -> ProbeResponse {
        ProbeResponse::Ok(Json(Probe {
            status: "alive".into(),
        }))
    }

    /// Readiness: 200 when the store answers
    #[oai(path = "/health/ready", method = "get", operation_id = "getReadiness")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> ProbeResponse {
        if state.health.ready().await {
            ProbeResponse::Ok(Json(Probe {
                status: "ready".into(),
            }))
        } else {
            ProbeResponse::Unavailable(Json(Probe {
                status: "unavailable".into(),
            }))
        }
    }
}
