//! A SQLite database this process owns: the lock that keeps a second
//! `virlife serve` (or a restore) off the file while it serves, and the
//! scheduled backups.

use crate::adapters::sqlite::{
    BackupSchedule, SqliteStore, latest_backup, restore_file, verify_backup,
};
use crate::config::{Database, Settings};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Held for as long as the process serves the file; the OS releases it
/// when the process ends, however it ends.
pub struct DatabaseLock {
    _file: File,
}

/// Takes the lock beside `database` (`<file>.lock`), or says who holds it.
pub fn lock_database(database: &Path) -> Result<DatabaseLock, String> {
    let path = PathBuf::from(format!("{}.lock", database.display()));
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|err| format!("DATABASE_URL: cannot create {}: {err}", folder.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|err| format!("DATABASE_URL: cannot open {}: {err}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(format!(
            "DATABASE_URL: another virlife process is serving {} (one process owns a SQLite \
             database; stop the other one, or use PostgreSQL for several replicas)",
            database.display()
        )),
        Err(TryLockError::Error(err)) => Err(format!(
            "DATABASE_URL: cannot lock {}: {err}",
            path.display()
        )),
    }
}

/// The database this process serves, locked, with its backup schedule.
pub struct OwnedDatabase {
    pub store: Arc<SqliteStore>,
    pub schedule: Option<BackupSchedule>,
    _lock: DatabaseLock,
}

impl OwnedDatabase {
    pub fn new(store: Arc<SqliteStore>, lock: DatabaseLock, settings: &Settings) -> Self {
        let schedule = (settings.backup_interval_hours > 0).then(|| BackupSchedule {
            dir: settings.backup_dir_for(store.path()),
            every: Duration::from_secs(settings.backup_interval_hours.saturating_mul(3600)),
            keep: chrono::Duration::days(settings.backup_retention_days.min(36_500) as i64),
        });
        Self {
            store,
            schedule,
            _lock: lock,
        }
    }
}

/// Takes a backup whenever one is due (the newest in the folder is older
/// than the interval, so restarts neither skip nor repeat one), until
/// `stop` turns true.
pub async fn back_up_on_schedule(
    store: Arc<SqliteStore>,
    schedule: BackupSchedule,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let now = chrono::Utc::now();
        let due = latest_backup(&schedule.dir)
            .map(|at| {
                at + chrono::Duration::from_std(schedule.every).unwrap_or(chrono::Duration::MAX)
            })
            .unwrap_or(now);
        let wait = (due - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if let Err(err) = store.scheduled_backup(&schedule).await {
            tracing::error!(error = %err, dir = %schedule.dir.display(), "scheduled backup failed; retrying in a minute");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The SQLite file the settings name, or why there is none.
fn sqlite_path(settings: &Settings, command: &str) -> Result<PathBuf, String> {
    match settings.database() {
        Database::Sqlite(path) => Ok(path),
        Database::Postgres(_) => Err(format!(
            "`virlife {command}` is for SQLite; back up PostgreSQL with your provider's backups \
             or pg_dump (README, Backups)"
        )),
        Database::Memory => Err(format!(
            "`virlife {command}` needs a SQLite DATABASE_URL; memory: keeps nothing to back up"
        )),
    }
}

/// `virlife backup [PATH]`: a consistent copy while the service runs,
/// into `PATH` or a new file in the backup folder. Returns the file and
/// its size.
pub async fn backup(
    settings: &Settings,
    target: Option<PathBuf>,
) -> Result<(PathBuf, u64), String> {
    let path = sqlite_path(settings, "backup")?;
    if !path.is_file() {
        return Err(format!("no database at {} to back up", path.display()));
    }
    let store = super::sqlite_store(&path, settings)?;
    let target = match target {
        Some(target) => target,
        None => settings
            .backup_dir_for(&path)
            .join(crate::adapters::sqlite::backup_name(chrono::Utc::now())),
    };
    let bytes = store
        .backup_to(&target)
        .await
        .map_err(|err| err.to_string())?;
    Ok((target, bytes))
}

/// `virlife restore PATH`: refuses while a service holds the database,
/// checks the backup, then puts it in place (keeping the current file).
pub async fn restore(settings: &Settings, backup: &Path) -> Result<Option<PathBuf>, String> {
    let path = sqlite_path(settings, "restore")?;
    let _lock = lock_database(&path)
        .map_err(|problem| format!("{problem}; stop the service before restoring"))?;
    verify_backup(backup).await.map_err(|err| err.to_string())?;
    restore_file(backup, &path).map_err(|err| err.to_string())
}
