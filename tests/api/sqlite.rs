//! The embedded default: the `virlife` binary on a SQLite file, killed and
//! started again. What was acknowledged survives `kill -9`; a second
//! `serve` on the same file refuses; jobs outlive a crash; a backup taken
//! under write load holds every turn acknowledged before it, and restores.

use crate::helpers::{MASTER_KEY, TestApp, json_of, series};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A folder of its own for one test's database, backups and lock.
fn folder() -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("virlife-sqlite-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary, run in `folder` with a clean environment: the default
/// `DATABASE_URL` (data/virlife.db, relative to it) unless `extra` sets one.
fn virlife(folder: &Path, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_virlife"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MASTER_API_KEY", MASTER_KEY)
        .env("API_HOST", "127.0.0.1")
        .env("EMBEDDING_DIMENSIONS", "64")
        // The test machine's own disk is not under test here.
        .env("DISK_ALERT_PERCENT", "100")
        .current_dir(folder);
    for (name, value) in extra {
        command.env(name, value);
    }
    command
}

struct Server {
    child: Child,
    app: TestApp,
}

impl Server {
    /// Starts `virlife serve` and waits until it is ready.
    async fn start(folder: &Path, extra: &[(&str, &str)]) -> Self {
        crate::helpers::install_crypto_provider();
        let port = free_port();
        let child = virlife(folder, extra)
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let app = TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            variables: HashMap::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = app
                .client
                .get(format!("{}/health/ready", app.address))
                .send()
                .await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, app }
    }

    /// `kill -9`: no shutdown, no flush, no checkpoint.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and wait for a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every item of a listing, page by page.
async fn items(app: &TestApp, path: &str, key: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page_path = match &cursor {
            Some(cursor) => format!("{path}{separator}limit=100&cursor={cursor}"),
            None => format!("{path}{separator}limit=100"),
        };
        let response = app.get(&page_path, key).await;
        assert_eq!(response.status(), StatusCode::OK, "{page_path}");
        let page = json_of(response).await;
        all.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

/// Another handle on the same running service.
fn handle(app: &TestApp) -> TestApp {
    TestApp {
        address: app.address.clone(),
        client: app.client.clone(),
        variables: HashMap::new(),
    }
}

#[tokio::test]
async fn what_was_acknowledged_survives_kill_9_and_the_next_start_finds_it() {
    let folder = folder();
    let first = Server::start(&folder, &[]).await;
    let app = &first.app;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let mut said = Vec::new();
    for text in [
        "My name is Sam and I love sailing.",
        "Maya started her pottery class on Tuesday.",
        "The lighthouse keeper owes me three silver coins.",
    ] {
        let turn = app.say(&key, &session, text).await;
        said.push(turn["user_message"]["id"].as_str().unwrap().to_owned());
        said.push(turn["reply"]["id"].as_str().unwrap().to_owned());
    }
    let manual = app
        .post(
            &format!("/v1/characters/{character}/memories"),
            &key,
            json!({"content": "Ada once sailed around the Cape of Storms.", "kind": "biographical"}),
        )
        .await;
    assert_eq!(manual.status(), StatusCode::CREATED);
    // The default path, relative to where the service was started.
    assert!(folder.join("data/virlife.db").is_file());
    first.kill();

    let second = Server::start(&folder, &[]).await;
    let app = &second.app;
    // The key, the character, the session and every acknowledged message.
    let characters = items(app, "/v1/characters", &key).await;
    assert_eq!(characters.len(), 1);
    assert_eq!(characters[0]["id"], character.as_str());
    let messages = items(app, &format!("/v1/sessions/{session}/messages"), &key).await;
    let ids: Vec<&str> = messages.iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, said.iter().map(String::as_str).collect::<Vec<_>>());
    let memories = items(app, &format!("/v1/characters/{character}/memories"), &key).await;
    assert!(
        memories
            .iter()
            .any(|m| m["content"] == "Ada once sailed around the Cape of Storms."),
        "{memories:?}"
    );
    // Search answers from the index loaded at start-up, by words and by meaning.
    let found = json_of(
        app.post(
            &format!("/v1/characters/{character}/memories/search"),
            &key,
            json!({"query": "pottery class", "k": 3, "user_id": null}),
        )
        .await,
    )
    .await;
    let first_hit = found["results"][0]["memory"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(first_hit.contains("pottery class"), "{found}");
    let sailed = json_of(
        app.post(
            &format!("/v1/characters/{character}/memories/search"),
            &key,
            json!({"query": "Cape of Storms", "k": 1, "mode": "vector"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        sailed["results"][0]["memory"]["content"],
        "Ada once sailed around the Cape of Storms."
    );
    second.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn a_second_serve_on_the_same_file_refuses_to_start_and_says_why() {
    let folder = folder();
    let first = Server::start(&folder, &[]).await;
    let port = free_port().to_string();
    let output: Output = virlife(&folder, &[("PORT", &port)]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another virlife process is serving data/virlife.db"),
        "{stderr}"
    );
    // The first one is unharmed.
    let key = first.app.tenant_key("acme").await;
    first.app.character(&key).await;
    // A restore is refused while it serves, too.
    let backup = folder.join("copy.db");
    let output = virlife(&folder, &[])
        .arg("backup")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let output = virlife(&folder, &[])
        .arg("restore")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stop the service before restoring"),
        "{stderr}"
    );
    first.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn a_path_that_cannot_be_written_is_refused_at_start_up() {
    let folder = folder();
    // A file where the database folder should be.
    std::fs::write(folder.join("data"), b"not a folder").unwrap();
    let output = virlife(&folder, &[]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("data"), "{stderr}");
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn check_reports_the_disk_and_warns_in_production_off_a_volume() {
    let folder = folder();
    let url = format!("sqlite://{}", folder.join("virlife.db").display());
    let output = virlife(
        &folder,
        &[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", &url),
            ("VENICE_API_KEY", "sk-not-called-by-check"),
            ("ALLOWED_ORIGINS", "https://game.example"),
            // A volume mounted elsewhere: this file is not on it.
            ("RAILWAY_VOLUME_MOUNT_PATH", "/"),
        ],
    )
    .arg("check")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ok    database") && l.contains("sqlite: connected")),
        "{stdout}"
    );
    assert!(stdout.contains("disk"), "{stdout}");
    assert!(
        !stdout.contains("not on a mounted volume"),
        "under / is on that volume: {stdout}"
    );

    let output = virlife(
        &folder,
        &[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", &url),
            ("VENICE_API_KEY", "sk-not-called-by-check"),
            ("ALLOWED_ORIGINS", "https://game.example"),
            ("RAILWAY_VOLUME_MOUNT_PATH", "/nonexistent-volume"),
        ],
    )
    .arg("check")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("warn    warning") && stdout.contains("not on a mounted volume"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&folder);
}

/// Every message id in a SQLite file, read directly.
async fn message_ids_in(file: &Path) -> Vec<String> {
    let url = format!("sqlite://{}?mode=ro", file.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM messages")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    ids.into_iter().map(|id| id.to_string()).collect()
}

#[tokio::test]
async fn a_backup_under_write_load_holds_every_turn_acknowledged_before_it_and_restores() {
    let folder = folder();
    let server = Server::start(&folder, &[("BACKUP_INTERVAL_HOURS", "0")]).await;
    let app = handle(&server.app);
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;

    // Writers keep chatting while the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Instant, String)>::new()));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (app, key, session, stop, acknowledged) = (
            handle(&app),
            key.clone(),
            session.clone(),
            stop.clone(),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let turn = app
                    .say(&key, &session, &format!("writer {writer} turn {n}"))
                    .await;
                let at = Instant::now();
                let mut acknowledged = acknowledged.lock().unwrap();
                for part in ["user_message", "reply"] {
                    acknowledged.push((at, turn[part]["id"].as_str().unwrap().to_owned()));
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backup = folder.join("backups/under-load.db");
    let started = Instant::now();
    let output = tokio::task::spawn_blocking({
        let (folder, backup) = (folder.clone(), backup.clone());
        move || {
            virlife(&folder, &[])
                .arg("backup")
                .arg(&backup)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    let before: Vec<String> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at < started)
        .map(|(_, id)| id.clone())
        .collect();
    let total = acknowledged.lock().unwrap().len();
    assert!(
        before.len() >= 8,
        "the writers were writing: {}",
        before.len()
    );
    assert!(total > before.len(), "and went on during the backup");
    let in_backup = message_ids_in(&backup).await;
    let missing: Vec<&String> = before.iter().filter(|id| !in_backup.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, missing: {missing:?}"
    );

    // Restore it: the service stopped, the later turns give way to the copy.
    server.stop();
    let output = virlife(&folder, &[])
        .arg("restore")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let restored = Server::start(&folder, &[("BACKUP_INTERVAL_HOURS", "0")]).await;
    let messages = items(
        &restored.app,
        &format!("/v1/sessions/{session}/messages"),
        &key,
    )
    .await;
    let mut listed: Vec<String> = messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = in_backup.clone();
    listed.sort();
    expected.sort();
    assert_eq!(
        listed, expected,
        "the API serves exactly the backup's turns"
    );
    // The file it replaced is kept beside it.
    let kept = std::fs::read_dir(folder.join("data"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .any(|name| name.starts_with("virlife.db.before-restore-"));
    assert!(kept);
    restored.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn scheduled_backups_are_written_at_start_and_old_ones_pruned() {
    let folder = folder();
    let backups = folder.join("data/backups");
    std::fs::create_dir_all(&backups).unwrap();
    // One from long ago, which the retention removes, and a stranger it keeps.
    std::fs::write(backups.join("virlife-20200101T000000Z.db"), b"old").unwrap();
    std::fs::write(backups.join("notes.txt"), b"mine").unwrap();
    let server = Server::start(&folder, &[("BACKUP_RETENTION_DAYS", "7")]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let names = loop {
        let names: Vec<String> = std::fs::read_dir(&backups)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        if !names.iter().any(|n| n == "virlife-20200101T000000Z.db") {
            break names;
        }
        assert!(Instant::now() < deadline, "no scheduled backup: {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(names.iter().any(|n| n == "notes.txt"), "{names:?}");
    let fresh: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("virlife-2") && n.ends_with(".db"))
        .collect();
    assert_eq!(fresh.len(), 1, "{names:?}");
    assert!(message_ids_in(&backups.join(fresh[0])).await.is_empty());
    server.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn a_reflection_requested_before_a_crash_runs_after_the_restart() {
    use crate::llm::mock_provider::{self, Reply, completion, with_embeddings};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    // Cognition fails while the first process runs, so its job waits for a retry.
    let cognition_down = Arc::new(AtomicBool::new(true));
    let provider = mock_provider::start(with_embeddings(64, {
        let cognition_down = cognition_down.clone();
        move |body: &Value, _| {
            if body["model"] != "mock-cognition" {
                Reply::Json(completion("Ahoy!", "mock-renderer"))
            } else if cognition_down.load(Ordering::SeqCst) {
                Reply::Status(500, vec![])
            } else {
                Reply::Json(completion(
                    r#"{"facts": [{"content": "Sam loves sailing", "importance": 0.8}]}"#,
                    "mock-cognition",
                ))
            }
        }
    }))
    .await;
    let base = format!("{}/v1", provider.base_url);
    let variables = [
        ("VENICE_API_KEY", "sk-mock"),
        ("VENICE_BASE_URL", base.as_str()),
        ("RENDERER_MODEL_ID", "mock-renderer"),
        ("COGNITION_MODEL_ID", "mock-cognition"),
        ("EMBEDDING_MODEL_ID", "mock-embedder"),
        ("LLM_MAX_RETRIES", "0"),
        ("JOB_RETRY_BACKOFF_MS", "2000"),
    ];
    let folder = folder();
    let first = Server::start(&folder, &variables).await;
    let app = &first.app;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "I love sailing.").await;
    let job = app.reflect(&key, &character).await;
    // Wait for the failed first attempt: queued again, for later.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = json_of(app.get(&format!("/v1/jobs/{job}"), &key).await).await;
        if state["status"] == "queued" && state["attempts"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();

    cognition_down.store(false, Ordering::SeqCst);
    let second = Server::start(&folder, &variables).await;
    let done = second.app.wait_for_job(&key, &job).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    let facts = items(
        &second.app,
        &format!("/v1/characters/{character}/memories?kind=biographical"),
        &key,
    )
    .await;
    assert!(
        facts.iter().any(|m| m["content"] == "Sam loves sailing"),
        "{facts:?}"
    );
    second.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

/// What a client sees of a world: its places and events (with who
/// perceived them), its characters, each session's messages, each
/// character's memories, relationships and state, and the ids two searches
/// return in order.
async fn world_seen_by(app: &TestApp, key: &str) -> Value {
    let mut seen = serde_json::Map::new();
    seen.insert(
        "places".into(),
        Value::Array(items(app, "/v1/places", key).await),
    );
    let mut events = Vec::new();
    for event in items(app, "/v1/events", key).await {
        let id = event["id"].as_str().unwrap();
        events.push(json_of(app.get(&format!("/v1/events/{id}"), key).await).await);
    }
    seen.insert("events".into(), Value::Array(events));
    let characters = items(app, "/v1/characters", key).await;
    for character in &characters {
        let id = character["id"].as_str().unwrap();
        let relationships = json_of(
            app.get(&format!("/v1/characters/{id}/relationships"), key)
                .await,
        )
        .await;
        let state = json_of(app.get(&format!("/v1/characters/{id}/state"), key).await).await;
        seen.insert(
            format!("{id}/world"),
            json!({"relationships": relationships, "state": state}),
        );
        let mut sessions_seen = Vec::new();
        for session in items(app, &format!("/v1/characters/{id}/sessions"), key).await {
            let sid = session["id"].as_str().unwrap();
            let messages = items(app, &format!("/v1/sessions/{sid}/messages"), key).await;
            sessions_seen.push(json!({"session": session, "messages": messages}));
        }
        let memories = items(app, &format!("/v1/characters/{id}/memories"), key).await;
        let mut searches = Vec::new();
        for query in ["pottery class", "what does Sam love"] {
            let found = json_of(
                app.post(
                    &format!("/v1/characters/{id}/memories/search"),
                    key,
                    json!({"query": query, "k": 3}),
                )
                .await,
            )
            .await;
            let ids: Vec<Value> = found["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["memory"]["id"].clone())
                .collect();
            searches.push(json!({"query": query, "ids": ids}));
        }
        seen.insert(
            id.to_owned(),
            json!({"character": character, "sessions": sessions_seen, "memories": memories, "searches": searches}),
        );
    }
    Value::Object(seen)
}

/// A small world on the default SQLite file: a key, a character, a
/// session with three turns and a memory. Returns the key.
async fn small_world(app: &TestApp) -> String {
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    for text in [
        "My name is Sam and I love sailing.",
        "Maya started her pottery class on Tuesday.",
        "The lighthouse keeper owes me three silver coins.",
    ] {
        app.say(&key, &session, text).await;
    }
    let manual = app
        .post(
            &format!("/v1/characters/{character}/memories"),
            &key,
            json!({"content": "Ada once sailed around the Cape of Storms.", "kind": "biographical"}),
        )
        .await;
    assert_eq!(manual.status(), StatusCode::CREATED);
    // The world: a cellar later moved into a place made after it, a tavern
    // with Ada in it, a second character, an event, feelings and a mood.
    let mut places = Vec::new();
    for body in [
        json!({"name": "Cellar"}),
        json!({"name": "Tavern", "description": "Low beams"}),
    ] {
        places.push(crate::helpers::id_of(app.post("/v1/places", &key, body).await).await);
    }
    let (cellar, tavern) = (&places[0], &places[1]);
    let moved = app
        .patch(
            &format!("/v1/places/{cellar}"),
            &key,
            json!({"parent_id": tavern}),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved = app
        .post(
            &format!("/v1/characters/{character}/move"),
            &key,
            json!({"place_id": tavern}),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let bram = crate::helpers::id_of(
        app.post(
            "/v1/characters",
            &key,
            json!({"name": "Bram", "persona": "A sailor."}),
        )
        .await,
    )
    .await;
    let event = app
        .post(
            "/v1/events",
            &key,
            json!({"description": "A brawl in the tavern", "witnesses": [character, bram],
                   "occurred_at": "2026-05-01T21:30:00Z", "importance": 0.3}),
        )
        .await;
    assert_eq!(event.status(), StatusCode::CREATED);
    for body in [
        json!({"character_id": bram, "trust": 0.8, "note": "old shipmate"}),
        json!({"user_id": "sam", "affinity": -0.25}),
    ] {
        let set = app
            .patch(
                &format!("/v1/characters/{character}/relationships"),
                &key,
                body,
            )
            .await;
        assert_eq!(set.status(), StatusCode::OK);
    }
    let state = app
        .patch(
            &format!("/v1/characters/{character}/state"),
            &key,
            json!({"mood": "wary"}),
        )
        .await;
    assert_eq!(state.status(), StatusCode::OK);
    key
}

#[tokio::test]
async fn an_export_imported_twice_into_another_sqlite_file_adds_nothing_the_second_time() {
    let folder = folder();
    let server = Server::start(&folder, &[]).await;
    let key = small_world(&server.app).await;
    let before = world_seen_by(&server.app, &key).await;
    server.stop();
    let dump = folder.join("world.jsonl");
    let output = virlife(&folder, &[])
        .args(["export", "--output"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines = std::fs::read_to_string(&dump).unwrap();
    assert!(
        lines.lines().next().unwrap().contains("\"virlife-dump\""),
        "{lines}"
    );

    let target = format!("sqlite://{}", folder.join("moved/virlife.db").display());
    let moved = [("DATABASE_URL", target.as_str())];
    for run in ["first", "second"] {
        let output = virlife(&folder, &moved)
            .arg("import")
            .arg(&dump)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{run}: {output:?}");
        let expected = if run == "first" {
            "imported 1 API keys, 2 characters, 1 sessions, 6 messages"
        } else {
            "skipped (already there) 1 API keys, 2 characters, 1 sessions, 6 messages"
        };
        assert!(stdout.contains(expected), "{run}: {stdout}");
        if run == "first" {
            let world = "imported the world: 2 places, 1 events, 2 relationships, 1 inner states";
            assert!(stdout.contains(world), "{stdout}");
        }
    }
    let server = Server::start(&folder, &moved).await;
    assert_eq!(world_seen_by(&server.app, &key).await, before);
    server.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_world_exported_from_sqlite_and_imported_into_postgres_answers_the_same() {
    let folder = folder();
    let server = Server::start(&folder, &[]).await;
    let key = small_world(&server.app).await;
    let before = world_seen_by(&server.app, &key).await;
    server.stop();
    let dump = folder.join("world.jsonl");
    let output = virlife(&folder, &[])
        .args(["export", "--output"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    let database = crate::helpers::fresh_database().await;
    let postgres = [("DATABASE_URL", database.as_str())];
    let output = virlife(&folder, &postgres)
        .arg("import")
        .arg(&dump)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let server = Server::start(&folder, &postgres).await;
    // The same key works, and the world reads the same: ids, times,
    // messages, memories, and what search finds, in order.
    assert_eq!(world_seen_by(&server.app, &key).await, before);
    server.stop();
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn a_data_disk_fuller_than_the_alert_level_makes_the_service_degraded_and_says_why() {
    let database = crate::helpers::fresh_sqlite_url();
    // Any real disk is fuller than 1 %.
    let app = crate::helpers::spawn_with(
        &[("DATABASE_URL", &database), ("DISK_ALERT_PERCENT", "1")],
        None,
    )
    .await;
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["services"]["database"]["status"], "connected");
    let warnings = body["disk"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("% full (over 1 %)")),
        "{body}"
    );
    assert!(body["disk"]["available_bytes"].as_u64().unwrap() > 0);
}

/// `/metrics` reads the pools and the job queue when scraped: the database
/// pool's connections and the waits for them, and the jobs by status.
#[tokio::test]
async fn metrics_show_the_database_pool_its_waits_and_the_jobs_by_status() {
    let folder = folder();
    let server = Server::start(&folder, &[("DATABASE_MAX_CONNECTIONS", "4")]).await;
    let app = &server.app;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let job = app.reflect(&key, &character).await;
    let done = app.wait_for_job(&key, &job).await;
    assert_eq!(done["status"], "done", "{done}");
    let text = app.metrics().await;
    // The writer's one connection and four readers.
    assert_eq!(
        series(&text, "virlife_db_pool_max_connections"),
        Some(5.0),
        "{text}"
    );
    let in_use = series(&text, r#"virlife_db_pool_connections{state="in_use"}"#);
    let idle = series(&text, r#"virlife_db_pool_connections{state="idle"}"#);
    assert!(
        in_use.is_some_and(|n| n <= 5.0) && idle.is_some_and(|n| (1.0..=5.0).contains(&n)),
        "{text}"
    );
    assert!(
        series(&text, "virlife_db_pool_wait_seconds_count").is_some_and(|n| n > 0.0),
        "{text}"
    );
    assert_eq!(
        series(&text, r#"virlife_jobs{status="done"}"#),
        Some(1.0),
        "{text}"
    );
    // Where the time went, by port (the reflection called the store).
    let store_calls = text
        .lines()
        .filter(|l| l.starts_with("virlife_port_seconds_count{") && l.contains(r#"port="store""#))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>();
    assert!(store_calls > 0.0, "{text}");
    assert!(
        text.contains(r#"call="insert_character""#),
        "each call is named: {text}"
    );
    for status in ["queued", "running", "failed"] {
        assert_eq!(
            series(&text, &format!(r#"virlife_jobs{{status="{status}"}}"#)),
            Some(0.0),
            "{text}"
        );
    }
    server.stop();
}
