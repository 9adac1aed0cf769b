//! The running service: the bound listener, the HTTP server with its
//! graceful shutdown, and the supervised background loops (migrations,
//! retention sweep, vector repair, the job worker).

#[cfg(feature = "sqlite")]
use super::local::{self, OwnedDatabase};
use super::{StartupError, compose, http_app};
use crate::config::Settings;
use crate::core::ports::Store;
use crate::core::use_cases::{Retention, UseCases, VectorIndex};
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// Accepts with TCP_NODELAY: a streamed token goes out at once instead of
/// waiting for the previous segment's ACK (Nagle plus delayed ACK = 40 ms).
pub struct NoDelay(pub TcpAcceptor);

impl Acceptor for NoDelay {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<poem::web::LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> std::io::Result<(
        Self::Io,
        poem::web::LocalAddr,
        poem::web::RemoteAddr,
        poem::http::uri::Scheme,
    )> {
        let accepted = self.0.accept().await?;
        let _ = accepted.0.set_nodelay(true);
        Ok(accepted)
    }
}

/// A bound, ready-to-run service (zero2prod's `Application`): tests bind
/// port 0 and read the real port back.
pub struct Application {
    acceptor: TcpAcceptor,
    port: u16,
    app: BoxEndpoint<'static>,
    use_cases: UseCases,
    grace: Duration,
    sweep_every: Duration,
    repair_every: Duration,
    /// The vector index lives in this process but the store outlives it
    /// (and other replicas share it): the index must be filled from it.
    in_process_index_over_shared_store: bool,
    /// The SQLite file this process serves: locked, and backed up.
    #[cfg(feature = "sqlite")]
    owned: Option<OwnedDatabase>,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        #[cfg(feature = "sqlite")]
        if let crate::config::Database::Sqlite(path) = settings.database() {
            // The lock first: a second `serve` stops here, before touching the file.
            let fail = |problem| StartupError::Composition(vec![problem]);
            let lock = local::lock_database(&path).map_err(fail)?;
            let store = super::sqlite_store(&path, settings).map_err(fail)?;
            let use_cases = super::compose_with_store(settings, Some(store.clone()))?;
            let mut application = Self::with_use_cases(settings, use_cases).await?;
            application.owned = Some(OwnedDatabase::new(store, lock, settings));
            return Ok(application);
        }
        let use_cases = compose(settings)?;
        Self::with_use_cases(settings, use_cases).await
    }

    /// Serves given use cases (tests inject adapters this way).
    pub async fn with_use_cases(
        settings: &Settings,
        use_cases: UseCases,
    ) -> Result<Self, StartupError> {
        crate::http::install_metrics();
        let acceptor = bind(&settings.api_host, settings.port).await?;
        let port = acceptor
            .local_addr()
            .iter()
            .find_map(|addr| addr.as_socket_addr().map(|a| a.port()))
            .unwrap_or(settings.port);
        // A store this process owns alone (SQLite): its schema and the
        // in-process index are brought up to date before the first request,
        // and nothing else writes to it afterwards.
        let owns_store = use_cases.ports.store.kind() == "sqlite";
        if owns_store {
            use_cases.ports.store.migrate().await.map_err(|err| {
                StartupError::Composition(vec![format!("DATABASE_URL: cannot migrate: {err}")])
            })?;
            if use_cases.ports.vectors.kind() == "in-memory" {
                use_cases.vector_index.catch_up(None).await.map_err(|err| {
                    StartupError::Composition(vec![format!(
                        "DATABASE_URL: cannot load memories for search: {err}"
                    )])
                })?;
            }
        }
        let in_process_index_over_shared_store = use_cases.ports.vectors.kind() == "in-memory"
            && use_cases.ports.store.kind() != "in-memory"
            && !owns_store;
        Ok(Self {
            acceptor,
            port,
            app: http_app(use_cases.clone(), settings),
            use_cases,
            grace: Duration::from_secs(settings.shutdown_grace_seconds),
            sweep_every: Duration::from_secs(settings.retention_sweep_interval_seconds),
            repair_every: Duration::from_secs(settings.vector_repair_interval_seconds.max(1)),
            in_process_index_over_shared_store,
            #[cfg(feature = "sqlite")]
            owned: None,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then lets in-flight requests and
    /// streams finish for up to the grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_background, stopped) = tokio::sync::watch::channel(false);
        let use_cases = &self.use_cases;
        let mut background = vec![
            supervised("migrations", stopped.clone(), {
                let (store, stopped) = (use_cases.ports.store.clone(), stopped.clone());
                move || migrate_until_done(store.clone(), stopped.clone())
            }),
            supervised("retention sweep", stopped.clone(), {
                let (retention, every, stopped) = (
                    use_cases.retention.clone(),
                    self.sweep_every,
                    stopped.clone(),
                );
                move || sweep_periodically(retention.clone(), every, stopped.clone())
            }),
            supervised("vector repair", stopped.clone(), {
                let (index, every, stopped) = (
                    use_cases.vector_index.clone(),
                    self.repair_every,
                    stopped.clone(),
                );
                move || repair_periodically(index.clone(), every, stopped.clone())
            }),
            supervised("job worker", stopped.clone(), {
                let (jobs, stopped) = (use_cases.jobs.clone(), stopped.clone());
                move || {
                    let (jobs, stopped) = (jobs.clone(), stopped.clone());
                    async move { jobs.work(stopped).await }
                }
            }),
        ];
        if self.in_process_index_over_shared_store {
            background.push(supervised("vector catch-up", stopped.clone(), {
                let (index, every, stopped) = (
                    use_cases.vector_index.clone(),
                    self.repair_every,
                    stopped.clone(),
                );
                move || catch_up_periodically(index.clone(), every, stopped.clone())
            }));
        }
        #[cfg(feature = "sqlite")]
        let owned = self.owned;
        #[cfg(feature = "sqlite")]
        if let Some(owned) = &owned
            && let Some(schedule) = &owned.schedule
        {
            tracing::info!(
                dir = %schedule.dir.display(),
                every_hours = schedule.every.as_secs() / 3600,
                keep_days = schedule.keep.num_days(),
                "SQLite backups scheduled"
            );
            background.push(supervised("backups", stopped.clone(), {
                let (store, schedule, stopped) =
                    (owned.store.clone(), schedule.clone(), stopped.clone());
                move || local::back_up_on_schedule(store.clone(), schedule.clone(), stopped.clone())
            }));
        }
        tracing::info!(port = self.port, "listening");
        // Remember when the signal came: the grace period counts from there.
        let signalled = Arc::new(std::sync::OnceLock::new());
        let shutdown = {
            let signalled = signalled.clone();
            async move {
                shutdown.await;
                let _ = signalled.set(tokio::time::Instant::now());
            }
        };
        let result = poem::Server::new_with_acceptor(NoDelay(self.acceptor))
            .run_with_graceful_shutdown(self.app, shutdown, Some(self.grace))
            .await;
        // Background work stops at a safe point (between jobs and sweeps);
        // whatever still runs when the grace period ends is dropped, and a
        // job cut short is taken again once its lease expires.
        let _ = stop_background.send(true);
        let deadline = signalled
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now)
            + self.grace;
        for task in background {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!(
                    "background work still running at the end of the grace period; stopping it"
                );
                abort.abort();
            }
        }
        tracing::info!("stopped");
        // The database lock goes last, once nothing writes any more.
        #[cfg(feature = "sqlite")]
        drop(owned);
        result
    }
}

/// Runs a background loop in its own task and starts it again if it
/// panics, until `stop` turns true: one bad input never ends the job worker
/// or the sweeps of a replica.
fn supervised<F, Fut>(
    name: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
    start: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let task = tokio::spawn(start());
            // Aborting the supervisor (end of the grace period) aborts the task.
            let _abort = AbortOnDrop(task.abort_handle());
            match task.await {
                Err(err) if err.is_panic() && !*stop.borrow() => {
                    tracing::error!(task = name, "background task panicked; restarting it");
                    metrics::counter!("virlife_background_restarts_total", "task" => name)
                        .increment(1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ => return,
            }
        }
    })
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Applies migrations, retrying while the database is unreachable, so a
/// database that is down at boot does not stop the service from starting.
async fn migrate_until_done(store: Arc<dyn Store>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match store.migrate().await {
            Ok(()) => {
                tracing::info!("schema up to date");
                return;
            }
            Err(err) => tracing::warn!(error = %err, "migrations not applied yet; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Replays vector-index writes missed while the index was down.
async fn repair_periodically(
    index: VectorIndex,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match index.repair().await {
            Ok(0) => {}
            Ok(applied) => tracing::info!(applied, "vector index caught up"),
            Err(err) => tracing::warn!(error = %err, "vector repair could not read the store"),
        }
    }
}

/// Fills an in-process vector index from a shared store: everything at
/// start-up, then, every `every`, what arrived since (other replicas'
/// writes), re-reading a short window so a write that committed late is not
/// missed. Runs only where the index is in process and the store is not.
async fn catch_up_periodically(
    index: VectorIndex,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut newest: Option<uuid::Uuid> = None;
    let mut loaded = false;
    loop {
        let from = if loaded {
            newest.map(|id| window_before(id, CATCH_UP_WINDOW))
        } else {
            None
        };
        match index.catch_up(from).await {
            Ok(seen) => {
                loaded = true;
                newest = newest.max(seen);
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not fill the vector index from the store; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How far back each catch-up re-reads (ids are UUIDv7: time-ordered; a
/// write commits within the query timeout of its id being made).
const CATCH_UP_WINDOW: Duration = Duration::from_secs(10);

/// The smallest UUIDv7 of the moment `window` before `id` was made.
fn window_before(id: uuid::Uuid, window: Duration) -> uuid::Uuid {
    let millis = id
        .get_timestamp()
        .map(|t| {
            let (secs, nanos) = t.to_unix();
            secs * 1000 + u64::from(nanos) / 1_000_000
        })
        .unwrap_or(0);
    let start = millis.saturating_sub(window.as_millis() as u64);
    uuid::Builder::from_unix_timestamp_millis(start, &[0; 10]).into_uuid()
}

async fn sweep_periodically(
    retention: Retention,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if let Err(err) = retention.sweep(chrono::Utc::now()).await {
            tracing::warn!(error = %err, "retention sweep failed; will retry");
        }
    }
}

/// Binds dual-stack `::` by default (Railway's private network may be
/// IPv6-only), falling back to 0.0.0.0 where IPv6 is unavailable.
async fn bind(host: &str, port: u16) -> Result<TcpAcceptor, StartupError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match TcpListener::bind(address.clone()).into_acceptor().await {
        Ok(acceptor) => Ok(acceptor),
        Err(err) if host == "::" => {
            tracing::warn!(error = %err, "IPv6 unavailable; listening on 0.0.0.0");
            TcpListener::bind(format!("0.0.0.0:{port}"))
                .into_acceptor()
                .await
                .map_err(|source| StartupError::Bind { address, source })
        }
        Err(source) => Err(StartupError::Bind { address, source }),
    }
}

/// Resolves on Ctrl-C or SIGTERM (what Railway and Docker send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
