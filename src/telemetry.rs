//! Logging: console lines in development, JSON lines elsewhere.

use crate::config::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The service's logs, on stdout.
pub fn init(settings: &Settings) {
    init_with(settings, std::io::stdout);
}

/// A command's logs, on stderr: its stdout is its output (an export, a table).
pub fn init_for_command(settings: &Settings) {
    init_with(settings, std::io::stderr);
}

fn init_with<W>(settings: &Settings, writer: W)
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Console => builder.compact().try_init(),
    };
}
