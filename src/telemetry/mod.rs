//! Telemetry: logs (console lines in development, JSON lines elsewhere),
//! the pool-wait and port-time histograms, and, where configured, error tracking
//! (`SENTRY_DSN`, `error_tracking`) and traces over OTLP
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `traces`). `init` returns a guard that
//! sends what is still buffered when it is dropped.

#[cfg(feature = "sentry")]
mod error_tracking;
mod pool_wait;
mod port_time;
#[cfg(feature = "otel")]
mod traces;

use crate::config::{LogFormat, Settings};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Flushes error reports and spans on drop; keep it until the process ends.
#[derive(Default)]
#[must_use = "dropping the guard stops error tracking and traces"]
pub struct Telemetry {
    #[cfg(feature = "sentry")]
    errors: Option<sentry::ClientInitGuard>,
    #[cfg(feature = "otel")]
    traces: Option<traces::Traces>,
}

/// The service's telemetry: logs on stdout, error tracking and traces when
/// configured. Call it inside the Tokio runtime (the gRPC exporter needs it).
pub fn init(settings: &Settings) -> Telemetry {
    #[allow(unused_mut)] // Without the optional features nothing is added.
    let mut telemetry = Telemetry::default();
    let mut layers = vec![log_layer(settings, std::io::stdout)];
    layers.push(pool_wait::layer());
    layers.push(port_time::layer());
    #[cfg(feature = "sentry")]
    {
        if let Some(dsn) = &settings.sentry_dsn {
            match error_tracking::start(dsn, settings) {
                Ok(guard) => {
                    telemetry.errors = Some(guard);
                    layers.push(error_tracking::layer());
                }
                Err(problem) => eprintln!("SENTRY_DSN: {problem}; errors are not tracked"),
            }
        }
    }
    #[cfg(feature = "otel")]
    {
        if let Some(endpoint) = &settings.otel_exporter_otlp_endpoint {
            match traces::start(endpoint, settings) {
                Ok((traces, layer)) => {
                    telemetry.traces = Some(traces);
                    layers.push(layer);
                }
                Err(problem) => eprintln!("OTEL_EXPORTER_OTLP_ENDPOINT: {problem}; no traces"),
            }
        }
    }
    let _ = tracing_subscriber::registry().with(layers).try_init();
    for missing in missing_features(settings) {
        tracing::warn!("{missing}");
    }
    telemetry
}

/// A command's logs, on stderr: its stdout is its output (an export, a table).
pub fn init_for_command(settings: &Settings) {
    let _ = tracing_subscriber::registry()
        .with(vec![log_layer(settings, std::io::stderr)])
        .try_init();
}

/// Variables that ask for something this build leaves out (`check` and
/// start-up say so rather than ignore them).
pub fn missing_features(settings: &Settings) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if settings.sentry_dsn.is_some() && !cfg!(feature = "sentry") {
        missing.push(
            "SENTRY_DSN is set but this build has no `sentry` feature: errors are not tracked",
        );
    }
    if settings.otel_exporter_otlp_endpoint.is_some() && !cfg!(feature = "otel") {
        missing.push(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but this build has no `otel` feature: no traces",
        );
    }
    missing
}

/// Runs one request with an error-tracking scope of its own, tagged with
/// its request id, so a panic or a 5xx inside it is reported with the id.
/// Without error tracking, just runs it.
pub async fn within_request<F: Future>(request_id: &str, request: F) -> F::Output {
    #[cfg(feature = "sentry")]
    {
        error_tracking::within_request(request_id, request).await
    }
    #[cfg(not(feature = "sentry"))]
    {
        let _ = request_id;
        request.await
    }
}

/// Whether error tracking already has a report from this request (its
/// panic), so the 5xx it became is logged without being reported twice.
pub fn reported_in_this_request() -> bool {
    #[cfg(feature = "sentry")]
    {
        error_tracking::reported_in_this_request()
    }
    #[cfg(not(feature = "sentry"))]
    {
        false
    }
}

fn log_layer<W>(settings: &Settings, writer: W) -> BoxedLayer
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = match settings.log_level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" | "WARNING" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    // RUST_LOG, when set, wins; otherwise our level with noisy crates held at info.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,virlife={level},poem=info")));
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match settings.log_format {
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Console => layer.compact().with_filter(filter).boxed(),
    }
}
