//! The `virlife` command: serve (default), migrate, reindex, openapi,
//! check, healthcheck, and SQLite's backup and restore.

use crate::composition::{self, Application};
use crate::config::Settings;
use crate::core::use_cases::{ServiceReport, UseCases};
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "virlife",
    version,
    about = "Backend of a virtual world whose characters remember"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and exit (Railway's preDeployCommand).
    Migrate,
    /// Rebuild the vector index from PostgreSQL (re-embedding memories of another model).
    Reindex,
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Validate the configuration and try each configured service; exit 0 only if all is fine.
    Check,
    /// GET /health/live on this machine's port; exit 0 if it answers 200 (for Docker HEALTHCHECK).
    Healthcheck,
    /// Write a tenant's data (or every tenant's) as JSON lines: to move a
    /// world to another store (`virlife import` there).
    Export {
        /// Only this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// The file to write (default: stdout).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Read a dump of `virlife export` into the configured store (records it
    /// already has are skipped, so it can be run again).
    Import {
        /// The dump to read (default: stdin).
        path: Option<std::path::PathBuf>,
    },
    /// SQLite: write a consistent copy of the database, also while it serves
    /// (default: a new file in BACKUP_DIR).
    Backup {
        /// Where to write the copy (must not exist yet).
        path: Option<std::path::PathBuf>,
    },
    /// SQLite: replace the database with a backup; the service must be
    /// stopped, and the current file is kept beside it.
    Restore {
        /// The backup to restore.
        path: std::path::PathBuf,
    },
}

pub fn run() -> ExitCode {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Openapi => {
            println!("{}", crate::http::openapi_json());
            ExitCode::SUCCESS
        }
        Command::Check => check(),
        Command::Migrate => migrate(),
        Command::Reindex => reindex(),
        Command::Healthcheck => healthcheck(),
        Command::Export { tenant, output } => export(tenant, output),
        Command::Import { path } => import(path),
        Command::Backup { path } => backup(path),
        Command::Restore { path } => restore(path),
    }
}

/// JSON lines, one record each, through a buffer.
struct JsonLines<W: Write + Send>(W);

impl<W: Write + Send> crate::core::use_cases::DumpSink for JsonLines<W> {
    fn write(&mut self, record: &crate::core::domain::DumpRecord) -> Result<(), String> {
        serde_json::to_writer(&mut self.0, record).map_err(|e| e.to_string())?;
        self.0.write_all(b"\n").map_err(|e| e.to_string())
    }
}

fn export(tenant: Option<String>, output: Option<std::path::PathBuf>) -> ExitCode {
    let tenant = match tenant
        .as_deref()
        .map(crate::core::domain::TenantId::parse)
        .transpose()
    {
        Ok(tenant) => tenant,
        Err(err) => {
            eprintln!("--tenant: {err}");
            return ExitCode::from(2);
        }
    };
    with_use_cases(|use_cases| async move {
        let writer: Box<dyn Write + Send> = match &output {
            Some(path) => match std::fs::File::create(path) {
                Ok(file) => Box::new(file),
                Err(err) => {
                    eprintln!("cannot write {}: {err}", path.display());
                    return ExitCode::FAILURE;
                }
            },
            None => Box::new(std::io::stdout()),
        };
        let mut sink = JsonLines(std::io::BufWriter::new(writer));
        let counts = use_cases.dumps.export(tenant.as_ref(), &mut sink).await;
        let flushed = sink.0.flush();
        match (counts, flushed) {
            (Ok(c), Ok(())) => {
                eprintln!(
                    "exported {} API keys, {} characters, {} sessions, {} messages, {} memories",
                    c.api_keys, c.characters, c.sessions, c.messages, c.memories
                );
                eprintln!(
                    "exported the world: {} places, {} events, {} relationships, {} inner states",
                    c.places, c.events, c.relationships, c.states
                );
                ExitCode::SUCCESS
            }
            (Err(err), _) => {
                eprintln!("export failed: {err}");
                ExitCode::FAILURE
            }
            (_, Err(err)) => {
                eprintln!("export failed: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

fn import(path: Option<std::path::PathBuf>) -> ExitCode {
    use std::io::BufRead;
    let input: Box<dyn BufRead + Send> = match &path {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => Box::new(std::io::BufReader::new(file)),
            Err(err) => {
                eprintln!("cannot read {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    with_use_cases(|use_cases| async move {
        let store = &use_cases.ports.store;
        if store.kind() == "in-memory" {
            eprintln!(
                "import needs a DATABASE_URL (postgres:// or sqlite:); memory: keeps nothing"
            );
            return ExitCode::FAILURE;
        }
        if let Err(err) = store.migrate().await {
            eprintln!("the database is not ready: {err}");
            return ExitCode::FAILURE;
        }
        let mut import = use_cases.dumps.importer();
        for (number, line) in input.lines().enumerate() {
            let line = match line {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => line,
                Err(err) => {
                    eprintln!("cannot read line {}: {err}", number + 1);
                    return ExitCode::FAILURE;
                }
            };
            let record = match serde_json::from_str(&line) {
                Ok(record) => record,
                Err(err) => {
                    eprintln!("line {}: not a dump record: {err}", number + 1);
                    return ExitCode::FAILURE;
                }
            };
            if let Err(err) = import.add(record).await {
                eprintln!("line {}: {err}", number + 1);
                return ExitCode::FAILURE;
            }
        }
        match import.finish().await {
            Ok(outcome) => {
                let (i, s) = (outcome.imported, outcome.skipped);
                println!(
                    "imported {} API keys, {} characters, {} sessions, {} messages, {} memories",
                    i.api_keys, i.characters, i.sessions, i.messages, i.memories
                );
                println!(
                    "skipped (already there) {} API keys, {} characters, {} sessions, {} messages, {} memories",
                    s.api_keys, s.characters, s.sessions, s.messages, s.memories
                );
                println!(
                    "imported the world: {} places, {} events, {} relationships, {} inner states",
                    i.places, i.events, i.relationships, i.states
                );
                if outcome.other_model > 0 {
                    println!(
                        "{} memories were embedded by another model: run `virlife reindex` to search them",
                        outcome.other_model
                    );
                }
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("import failed: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Loads the settings and runs one async task on a runtime.
#[cfg(feature = "sqlite")]
fn with_settings<F, Fut>(task: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = ExitCode>,
{
    let settings = match load_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    crate::telemetry::init_for_command(&settings);
    match runtime(&settings) {
        Ok(runtime) => runtime.block_on(task(settings)),
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "sqlite")]
fn backup(path: Option<std::path::PathBuf>) -> ExitCode {
    with_settings(|settings| async move {
        match composition::backup_sqlite(&settings, path).await {
            Ok((path, bytes)) => {
                println!("backup written: {} ({bytes} bytes)", path.display());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("backup failed: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(feature = "sqlite")]
fn restore(path: std::path::PathBuf) -> ExitCode {
    with_settings(|settings| async move {
        match composition::restore_sqlite(&settings, &path).await {
            Ok(kept) => {
                println!("restored from {}", path.display());
                if let Some(kept) = kept {
                    println!("the database it replaced is kept as {}", kept.display());
                }
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("restore failed: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(not(feature = "sqlite"))]
fn backup(_path: Option<std::path::PathBuf>) -> ExitCode {
    eprintln!("this binary was built without the `sqlite` feature");
    ExitCode::FAILURE
}

#[cfg(not(feature = "sqlite"))]
fn restore(_path: std::path::PathBuf) -> ExitCode {
    backup(None)
}

fn load_settings() -> Result<Settings, ExitCode> {
    Settings::from_process_env().map_err(|err| {
        eprintln!("{err}");
        ExitCode::from(2)
    })
}

fn runtime(settings: &Settings) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if settings.workers > 0 {
        builder.worker_threads(settings.workers);
    }
    builder.enable_all().build()
}

fn serve() -> ExitCode {
    let settings = match load_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let runtime = match runtime(&settings) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Inside the runtime: the gRPC trace exporter needs it. Dropped before
    // it, so what is still buffered is sent on the way out.
    let _telemetry = {
        let _entered = runtime.enter();
        crate::telemetry::init(&settings)
    };
    for unknown in crate::config::unknown_variables(&std::env::vars().collect()) {
        tracing::warn!(variable = %unknown.name, closest = unknown.closest, "{unknown}");
    }
    runtime.block_on(async {
        let application = match Application::build(&settings).await {
            Ok(application) => application,
            Err(err) => {
                tracing::error!(error = %err, "startup failed");
                eprintln!("{err}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(
            environment = settings.environment.as_str(),
            version = env!("CARGO_PKG_VERSION"),
            docs = settings.enable_api_docs,
            "VirLife started"
        );
        match application
            .run_until_stopped(composition::shutdown_signal())
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = %err, "server error");
                ExitCode::FAILURE
            }
        }
    })
}

/// Loads the settings, starts logging and a runtime, composes the use cases,
/// and runs one maintenance task with it.
fn with_use_cases<F, Fut>(task: F) -> ExitCode
where
    F: FnOnce(UseCases) -> Fut,
    Fut: Future<Output = ExitCode>,
{
    let settings = match load_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    crate::telemetry::init_for_command(&settings);
    let runtime = match runtime(&settings) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match composition::compose(&settings) {
            Ok(use_cases) => task(use_cases).await,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        }
    })
}

fn migrate() -> ExitCode {
    with_use_cases(|use_cases| async move {
        let store = &use_cases.ports.store;
        if store.kind() == "in-memory" {
            eprintln!("DATABASE_URL is memory:, and the in-memory store has no schema to migrate");
            return ExitCode::FAILURE;
        }
        match store.migrate().await {
            Ok(()) => {
                println!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("migrations failed: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

fn reindex() -> ExitCode {
    with_use_cases(|use_cases| async move {
        if let Err(err) = use_cases.ports.store.migrate().await {
            eprintln!("the database is not ready: {err}");
            return ExitCode::FAILURE;
        }
        match use_cases.vector_index.reindex().await {
            Ok(outcome) => {
                println!(
                    "memories {}, indexed {}, re-embedded {}, failed {}",
                    outcome.memories, outcome.indexed, outcome.reembedded, outcome.failed
                );
                if outcome.failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(err) => {
                eprintln!("reindex failed: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

fn check() -> ExitCode {
    let mut rows: Vec<(String, bool, String)> = Vec::new();
    let settings = match Settings::from_process_env() {
        Ok(settings) => {
            rows.push(("configuration".into(), true, "valid".into()));
            Some(settings)
        }
        Err(err) => {
            for problem in err.problems {
                rows.push(("configuration".into(), false, problem));
            }
            None
        }
    };
    for unknown in crate::config::unknown_variables(&std::env::vars().collect()) {
        rows.push(("  warning".into(), true, unknown.to_string()));
    }
    if let Some(settings) = &settings {
        for (name, value) in settings.redacted_summary() {
            rows.push((format!("  {name}"), true, value));
        }
        for missing in crate::telemetry::missing_features(settings) {
            rows.push(("  warning".into(), true, missing.to_owned()));
        }
        match runtime(settings) {
            Ok(runtime) => runtime.block_on(async {
                match composition::compose(settings) {
                    Ok(use_cases) => {
                        // A SQLite file gets its schema from whoever opens it
                        // first; `serve` would do the same.
                        if use_cases.ports.store.kind() == "sqlite"
                            && let Err(err) = use_cases.ports.store.migrate().await
                        {
                            rows.push(("  schema".into(), false, err.to_string()));
                        }
                        let report = use_cases.health.report().await;
                        let services = [
                            ("database", &report.database),
                            ("cache", &report.cache),
                            ("vector memory", &report.vector_memory),
                            ("llm", &report.llm),
                        ];
                        for (name, service) in services {
                            rows.push((name.into(), service_ok(service), describe(service)));
                        }
                        if let Some(storage) = &report.storage {
                            let used = storage.disk.used_fraction() * 100.0;
                            let free_gib =
                                storage.disk.available_bytes as f64 / (1u64 << 30) as f64;
                            let volume = match storage.disk.on_volume {
                                Some(true) => ", on a mounted volume",
                                Some(false) => ", not on a mounted volume",
                                None => "",
                            };
                            rows.push((
                                "  disk".into(),
                                !storage.nearly_full,
                                format!("{used:.0} % used, {free_gib:.1} GiB free{volume}"),
                            ));
                            for warning in &storage.warnings {
                                rows.push(("  warning".into(), true, warning.clone()));
                            }
                        }
                        let llm = use_cases.ports.llm.describe();
                        if llm.kind != "offline" {
                            rows.extend(provider_rows(&use_cases, settings).await);
                        }
                        rows.push((
                            "  models".into(),
                            true,
                            format!(
                                "renderer {}, cognition {}, embeddings {} × {}",
                                llm.renderer_model,
                                llm.cognition_model,
                                llm.embedding_model,
                                llm.dimensions
                            ),
                        ));
                    }
                    Err(err) => rows.push(("services".into(), false, err.to_string())),
                }
            }),
            Err(err) => rows.push(("runtime".into(), false, err.to_string())),
        }
    }
    let width = rows
        .iter()
        .map(|(name, _, _)| name.len())
        .max()
        .unwrap_or(0);
    let all_fine = rows.iter().all(|(_, ok, _)| *ok);
    for (name, ok, detail) in &rows {
        let mark = match (ok, name.trim()) {
            (false, _) => "FAIL",
            (true, "warning") => "warn",
            (true, _) => "ok  ",
        };
        println!("{mark}  {name:width$}  {detail}");
    }
    println!(
        "{}",
        if all_fine {
            "all fine"
        } else {
            "fix the FAIL lines above"
        }
    );
    if all_fine {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `check` asks the provider itself: its model list (the key and base URL
/// work; each configured model is listed) and one embedding (the model
/// answers, with `EMBEDDING_DIMENSIONS` values). Each call is bounded.
async fn provider_rows(use_cases: &UseCases, settings: &Settings) -> Vec<(String, bool, String)> {
    let llm = &use_cases.ports.llm;
    let described = llm.describe();
    let bound = Duration::from_secs(settings.llm_timeout_seconds.clamp(1, 20));
    let mut rows = Vec::new();
    match tokio::time::timeout(bound, llm.list_models()).await {
        Ok(Ok(models)) => {
            rows.push((
                "  provider".into(),
                true,
                format!("answered: {} models listed", models.len()),
            ));
            for (variable, model) in [
                ("RENDERER_MODEL_ID", &described.renderer_model),
                ("COGNITION_MODEL_ID", &described.cognition_model),
                ("EMBEDDING_MODEL_ID", &described.embedding_model),
            ] {
                // Some providers list only part of what they serve: a warning.
                if !models.is_empty() && !models.contains(model) {
                    rows.push((
                        "  warning".into(),
                        true,
                        format!("{variable} {model} is not among the provider's models"),
                    ));
                }
            }
        }
        Ok(Err(err)) => rows.push(("  provider".into(), false, err.to_string())),
        Err(_) => rows.push((
            "  provider".into(),
            false,
            format!("no answer within {} s", bound.as_secs()),
        )),
    }
    match tokio::time::timeout(bound, llm.embed(&["virlife check".to_owned()])).await {
        Ok(Ok(vectors)) => {
            let dimensions = vectors.first().map_or(0, Vec::len);
            rows.push((
                "  embeddings".into(),
                dimensions == settings.embedding_dimensions,
                format!(
                    "{} answers {dimensions} dimensions (EMBEDDING_DIMENSIONS {})",
                    described.embedding_model, settings.embedding_dimensions
                ),
            ));
        }
        Ok(Err(err)) => rows.push(("  embeddings".into(), false, err.to_string())),
        Err(_) => rows.push((
            "  embeddings".into(),
            false,
            format!("no answer within {} s", bound.as_secs()),
        )),
    }
    rows
}

/// A service is fine for `check` unless the health report says it is down,
/// degraded or built for another model.
fn service_ok(service: &ServiceReport) -> bool {
    !matches!(
        service.status.as_str(),
        "unavailable" | "degraded" | "model-mismatch"
    )
}

/// One line of `check`: what the health report says of a service.
fn describe(service: &ServiceReport) -> String {
    let mut line = format!("{}: {}", service.backend, service.status);
    if let Some(circuit) = service.circuit {
        line.push_str(&format!(", circuit {circuit}"));
    }
    if let Some(ms) = service.latency_ms {
        line.push_str(&format!(", {ms:.1} ms"));
    }
    if let Some(error) = &service.last_error {
        line.push_str(&format!(" ({error})"));
    }
    line
}

/// A plain TCP GET, so the runtime image needs no curl.
fn healthcheck() -> ExitCode {
    let port = std::env::var("PORT")
        .or_else(|_| std::env::var("API_PORT"))
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8000);
    let probe = || -> std::io::Result<bool> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        stream.write_all(
            b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("unhealthy: /health/live did not answer 200");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("unhealthy: {err}");
            ExitCode::FAILURE
        }
    }
}
