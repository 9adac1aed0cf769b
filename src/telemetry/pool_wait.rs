//! `virlife_db_pool_wait_seconds`: how long each query waited for a
//! database connection. sqlx times every acquisition and, as the SQL stores
//! ask it to, emits the time as a trace event; this layer records it.

use super::BoxedLayer;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;

const TARGET: &str = "sqlx::pool::acquire";

pub fn layer() -> BoxedLayer {
    PoolWait
        .with_filter(Targets::new().with_target(TARGET, Level::TRACE))
        .boxed()
}

struct PoolWait;

impl<S: Subscriber> Layer<S> for PoolWait {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut waited = Waited(None);
        event.record(&mut waited);
        if let Some(seconds) = waited.0 {
            metrics::histogram!("virlife_db_pool_wait_seconds").record(seconds);
        }
    }
}

struct Waited(Option<f64>);

impl Visit for Waited {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "acquired_after_secs" {
            self.0 = Some(value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}
