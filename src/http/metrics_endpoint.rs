//! `GET /metrics`: Prometheus text, for the master key only (or anyone in
//! development without a master key). The gauges are read from the ports
//! at each scrape.

use super::auth::{Principal, principal_of};
use super::problem::ApiError;
use crate::core::error::Error;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poem::{Request, handler};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once; later calls reuse it.
pub fn install_recorder() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

#[handler]
pub async fn prometheus_text(request: &Request) -> poem::Result<String> {
    match principal_of(request).await.map_err(ApiError)? {
        Principal::Admin | Principal::Developer => {}
        Principal::Tenant { .. } => {
            return Err(ApiError(Error::Forbidden("metrics need the master key")).into());
        }
    }
    if let Some(state) = request.data::<std::sync::Arc<super::AppState>>() {
        state.gauges.record().await;
    }
    Ok(install_recorder()
        .map(PrometheusHandle::render)
        .unwrap_or_default())
}
