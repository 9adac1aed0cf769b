//! `virlife_port_seconds{port,call}`: the time each call to a port took
//! (store, cache, vector_memory, llm; `call` the method, e.g. `search`),
//! from the `port` spans `adapters::traced` and the resilience decorators
//! open. What a turn spends where, at scrape time
//! (`bench/run` reports it per turn).

use super::BoxedLayer;
use std::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

const TARGET: &str = "virlife::port";

pub fn layer() -> BoxedLayer {
    PortTime
        .with_filter(Targets::new().with_target(TARGET, Level::DEBUG))
        .boxed()
}

struct PortTime;

/// Kept in the span's extensions from its creation to its close.
struct Started {
    port: &'static str,
    call: String,
    at: Instant,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for PortTime {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut names = PortName(None, String::new());
        attrs.record(&mut names);
        if let (Some(port), Some(span)) = (names.0, ctx.span(id)) {
            span.extensions_mut().insert(Started {
                port,
                call: names.1,
                at: Instant::now(),
            });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(started) = span.extensions().get::<Started>()
        {
            metrics::histogram!(
                "virlife_port_seconds",
                "port" => started.port,
                "call" => started.call.clone()
            )
            .record(started.at.elapsed().as_secs_f64());
        }
    }
}

/// The `port` field, one of the known names, and the `call` field (a
/// method name from the code, never input: both bounded labels).
struct PortName(Option<&'static str>, String);

impl Visit for PortName {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "port" => {
                self.0 = ["store", "cache", "vector_memory", "llm"]
                    .into_iter()
                    .find(|known| *known == value);
            }
            "call" => self.1 = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}
