//! Copies of the database taken while it serves: `VACUUM INTO` reads one
//! consistent snapshot (WAL lets writes go on meanwhile) into a compact new
//! file. Scheduled copies are named by their time and pruned by age.

use super::{SqliteStore, Within, map_err};
use crate::core::ports::StoreError;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where and how often scheduled backups go, and how long they are kept.
#[derive(Debug, Clone)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: chrono::Duration,
}

const PREFIX: &str = "virlife-";
const SUFFIX: &str = ".db";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// A scheduled backup's file name: `virlife-<UTC time>.db`.
pub fn backup_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// Removes the scheduled backups in `dir` taken before `now - keep`; other
/// files are left alone. Returns what it removed.
pub fn prune_backups(
    dir: &Path,
    keep: chrono::Duration,
    now: DateTime<Utc>,
) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(at) = name.to_str().and_then(taken_at) else {
            continue;
        };
        if at < now - keep {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}

/// When the newest scheduled backup in `dir` was taken, if there is one.
pub fn latest_backup(dir: &Path) -> Option<DateTime<Utc>> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str().and_then(taken_at))
        .max()
}

/// Checks that `path` is a VirLife SQLite database in one piece (SQLite's
/// integrity check, and the tables a restore needs).
pub async fn verify_backup(path: &Path) -> Result<(), StoreError> {
    if !path.is_file() {
        return Err(StoreError::Conflict(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(map_err)?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .map_err(|_| {
            StoreError::Conflict(format!("{} is not a SQLite database", path.display()))
        })?;
    if integrity != "ok" {
        return Err(StoreError::Conflict(format!(
            "{} is damaged: {integrity}",
            path.display()
        )));
    }
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'
           AND name IN ('_sqlx_migrations', 'characters', 'sessions', 'messages', 'memories')",
    )
    .fetch_one(&mut connection)
    .await
    .map_err(map_err)?;
    let _ = connection.close().await;
    if tables != 5 {
        return Err(StoreError::Conflict(format!(
            "{} is not a VirLife database",
            path.display()
        )));
    }
    Ok(())
}

/// Puts `backup` in place of `database` (whose owner must be stopped): the
/// copy is made beside it and renamed in, and the current file with its
/// write-ahead log is kept as `<database>.before-restore-<time>[-wal]`.
/// Returns the name the current file was kept under, if there was one.
pub fn restore_file(backup: &Path, database: &Path) -> Result<Option<PathBuf>, StoreError> {
    let io = |what: &str, path: &Path, err: std::io::Error| {
        StoreError::Unavailable(format!("cannot {what} {}: {err}", path.display()))
    };
    let incoming = PathBuf::from(format!("{}.restoring", database.display()));
    std::fs::copy(backup, &incoming).map_err(|err| io("copy the backup to", &incoming, err))?;
    let stamp = Utc::now().format(STAMP);
    let mut kept = None;
    for suffix in ["", "-wal", "-shm"] {
        let current = PathBuf::from(format!("{}{suffix}", database.display()));
        if current.exists() {
            let aside = PathBuf::from(format!(
                "{}.before-restore-{stamp}{suffix}",
                database.display()
            ));
            std::fs::rename(&current, &aside).map_err(|err| io("move aside", &current, err))?;
            if suffix.is_empty() {
                kept = Some(aside);
            }
        }
    }
    std::fs::rename(&incoming, database).map_err(|err| io("put in place", database, err))?;
    Ok(kept)
}

impl SqliteStore {
    /// Writes a consistent copy of the database to `target` while it
    /// serves. The copy is written beside `target` and renamed, so a copy
    /// cut short never carries the name. Refuses to overwrite a file.
    pub async fn backup_to(&self, target: &Path) -> Result<u64, StoreError> {
        if target.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists",
                target.display()
            )));
        }
        if let Some(folder) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|err| {
                StoreError::Unavailable(format!("cannot create {}: {err}", folder.display()))
            })?;
        }
        let partial = target.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let partial_name = partial.to_string_lossy().into_owned();
        // A backup reads the whole file: give it more than one statement's time.
        sqlx::query("VACUUM INTO $1")
            .bind(&partial_name)
            .execute(&self.reader)
            .within(self.query_timeout.max(Duration::from_secs(600)))
            .await?;
        std::fs::rename(&partial, target).map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot name the backup {}: {err}",
                target.display()
            ))
        })?;
        Ok(std::fs::metadata(target).map(|m| m.len()).unwrap_or(0))
    }

    /// One scheduled backup into `schedule.dir`, then the pruning of those
    /// older than `schedule.keep`. Returns the new file.
    pub async fn scheduled_backup(&self, schedule: &BackupSchedule) -> Result<PathBuf, StoreError> {
        let now = Utc::now();
        let target = schedule.dir.join(backup_name(now));
        let bytes = self.backup_to(&target).await?;
        match prune_backups(&schedule.dir, schedule.keep, now) {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(removed = removed.len(), "old backups pruned")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not prune old backups"),
        }
        tracing::info!(path = %target.display(), bytes, "backup written");
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_carry_their_time() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T18:30:05Z")
            .unwrap()
            .to_utc();
        assert_eq!(backup_name(at), "virlife-20261202T183005Z.db");
        assert_eq!(taken_at("virlife-20261202T183005Z.db"), Some(at));
        assert_eq!(taken_at("virlife.db"), None);
        assert_eq!(taken_at("notes-20261202T183005Z.db"), None);
    }

    #[test]
    fn pruning_removes_only_old_backups() {
        let dir = std::env::temp_dir().join(format!("virlife-prune-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let now = Utc::now();
        for days in [0, 3, 8, 30] {
            std::fs::write(
                dir.join(backup_name(now - chrono::Duration::days(days))),
                b"x",
            )
            .unwrap();
        }
        std::fs::write(dir.join("keep-me.db"), b"x").unwrap();
        let removed = prune_backups(&dir, chrono::Duration::days(7), now).unwrap();
        assert_eq!(removed.len(), 2);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left.len(), 3);
        assert!(left.contains(&"keep-me.db".to_owned()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
