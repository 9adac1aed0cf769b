//! Traces over OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT`): each request is a
//! trace, with a span per use case and per port call (store, cache, vector
//! index, language model) beneath it. HTTP/protobuf by default (port 4318,
//! what hosted backends take, TLS included); `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`
//! for a collector on port 4317 in the same private network (no TLS). The
//! SDK's own variables (`OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_RESOURCE_ATTRIBUTES`, …) apply as usual.

use super::BoxedLayer;
use crate::config::Settings;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;

/// The exporter; dropping it sends the spans still batched.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Drop for Traces {
    fn drop(&mut self) {
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
    }
}

pub fn start(endpoint: &str, settings: &Settings) -> Result<(Traces, BoxedLayer), String> {
    let endpoint = endpoint.trim_end_matches('/');
    // The blocking HTTP client is rustls on ring, as every client here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = match settings.otel_exporter_otlp_protocol.as_str() {
        "http/protobuf" => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .with_timeout(Duration::from_secs(10))
            .build(),
        "grpc" => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(10))
            .build(),
        other => {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL {other} is not supported (http/protobuf or grpc)"
            ));
        }
    }
    .map_err(|e| e.to_string())?;
    let mut resource = Resource::builder().with_attributes([
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("deployment.environment.name", settings.environment.as_str()),
    ]);
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("virlife");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("virlife");
    // Requests, use cases and port calls; other crates' spans from info.
    let spans = Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("virlife::port", tracing::Level::DEBUG);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(spans)
        .boxed();
    Ok((Traces { provider }, layer))
}
