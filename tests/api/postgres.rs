//! PostgreSQL as king: durability across instances, concurrent migrations,
//! and outages (through a TCP proxy this test controls, so the shared test
//! server stays up for the other tests).

use crate::helpers::{fresh_database, json_of, spawn_with};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[tokio::test]
async fn data_written_by_one_instance_is_there_for_the_next() {
    let database = fresh_database().await;
    let first = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let key = first.tenant_key("acme").await;
    let character = first.character(&key).await;
    let session = first.session(&key, &character).await;
    first.say(&key, &session, "Remember the lighthouse.").await;

    let second = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let messages = json_of(
        second
            .get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 2);
    let memories = json_of(
        second
            .get(&format!("/v1/characters/{character}/memories"), &key)
            .await,
    )
    .await;
    assert_eq!(memories["items"].as_array().unwrap().len(), 1);
    // The vector index of a new instance starts empty; search still finds
    // the memory (reindex or the store fallback), and the key still works.
    let report = json_of(
        second
            .post("/v1/admin/reindex", crate::helpers::MASTER_KEY, json!({}))
            .await,
    )
    .await;
    assert_eq!(report["indexed"], 1);
    let found = json_of(
        second
            .post(
                &format!("/v1/characters/{character}/memories/search"),
                &key,
                json!({"query": "lighthouse"}),
            )
            .await,
    )
    .await;
    assert_eq!(found["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn instances_started_together_on_an_empty_database_all_become_ready() {
    let database = fresh_database().await;
    let variables = [("DATABASE_URL", database.as_str())];
    let (a, b, c) = tokio::join!(
        spawn_with(&variables, None),
        spawn_with(&variables, None),
        spawn_with(&variables, None),
    );
    for app in [&a, &b, &c] {
        let ready = app
            .client
            .get(format!("{}/health/ready", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
    }
    let key = a.tenant_key("acme").await;
    assert_eq!(c.get("/v1/characters", &key).await.status(), StatusCode::OK);
}

/// A TCP proxy in front of PostgreSQL that can drop everything (as a dead
/// server does) and come back.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Frozen: connections stay open but nothing flows (a SIGSTOPped server).
    frozen: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let frozen = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accept_up = up.clone();
        let accept_frozen = frozen.clone();
        let accept_generation = generation.subscribe();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !accept_up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let frozen = accept_frozen.clone();
                let mut cut = accept_generation.clone();
                // Only cuts after this connection was made count.
                cut.borrow_and_update();
                tokio::spawn(async move {
                    if frozen.load(Ordering::SeqCst) {
                        let _ = cut.changed().await;
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {
                            if frozen.load(Ordering::SeqCst) {
                                // Hold both sockets open, silently, until the next change.
                                let _ = cut.changed().await;
                            }
                        }
                    }
                    drop((client, server));
                });
            }
        });
        Self {
            port,
            up,
            frozen,
            generation,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.frozen.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
        self.frozen.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

#[tokio::test]
async fn a_dead_database_is_a_quick_503_and_the_service_recovers_by_itself() {
    outage_drill(Proxy::down).await;
}

#[tokio::test]
async fn a_frozen_database_is_a_503_within_the_timeouts_and_the_service_recovers() {
    outage_drill(Proxy::freeze).await;
}

async fn outage_drill(fail: fn(&Proxy)) {
    let database = fresh_database().await;
    let url = reqwest::Url::parse(&database).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    let mut through_proxy = url.clone();
    through_proxy.set_port(Some(proxy.port)).unwrap();
    let app = spawn_with(
        &[
            ("DATABASE_URL", through_proxy.as_str()),
            ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1"),
            ("DATABASE_QUERY_TIMEOUT_SECONDS", "1"),
        ],
        None,
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;

    let mut stored = Vec::new();
    let say = |text: String| {
        app.client
            .post(format!("{}/v1/sessions/{session}/messages", app.address))
            .bearer_auth(&key)
            .json(&json!({ "content": text }))
            .send()
    };
    for i in 0..3 {
        let response = say(format!("before {i}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        stored.push(
            json_of(response).await["user_message"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    fail(&proxy);
    for i in 0..5 {
        let started = Instant::now();
        let response = say(format!("during {i}")).await.unwrap();
        let status = response.status();
        // Auth reads the database too, so the failure may come from there: either way a 503.
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.text().await.unwrap()
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
    }
    let health = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(health).await["status"], "unavailable");

    proxy.up();
    let back = Instant::now();
    loop {
        let response = say("after".to_owned()).await.unwrap();
        if response.status() == StatusCode::CREATED {
            stored.push(
                json_of(response).await["user_message"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            break;
        }
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "no recovery within 5 s: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every message that got a 2xx is in the database.
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages?limit=100"), &key)
            .await,
    )
    .await;
    let ids: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for id in &stored {
        assert!(
            ids.contains(&id.as_str()),
            "message {id} was acknowledged but is missing"
        );
    }
}

#[tokio::test]
async fn with_an_encryption_key_text_is_ciphertext_in_postgres_and_plaintext_through_the_api() {
    use sqlx::Connection;
    let database = fresh_database().await;
    let key_a = "11".repeat(32);
    let app = spawn_with(
        &[("DATABASE_URL", &database), ("ENCRYPTION_KEY", &key_a)],
        None,
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let secret = "The treasure is buried under the lighthouse";
    let turn = app
        .client
        .post(format!("{}/v1/sessions/{session}/messages", app.address))
        .bearer_auth(&key)
        .header("Idempotency-Key", "enc-1")
        .json(&json!({ "content": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(turn.status(), StatusCode::CREATED);
    app.post(
        &format!("/v1/characters/{character}/memories"),
        &key,
        json!({"kind": "biographical", "content": secret}),
    )
    .await;

    // What psql would show: no plaintext anywhere.
    let mut db = sqlx::PgConnection::connect(&database).await.unwrap();
    for table in ["messages", "memories"] {
        let contents: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT content FROM {table}")))
                .fetch_all(&mut db)
                .await
                .unwrap();
        assert!(!contents.is_empty());
        for content in contents {
            assert!(content.starts_with("vl1:"), "{table}: {content}");
            assert!(!content.contains("treasure"));
        }
    }
    let stored_turns: Vec<String> =
        sqlx::query_scalar("SELECT response::text FROM idempotency_keys")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert!(stored_turns.iter().all(|t| !t.contains("treasure")));
    // Words are indexed as keyed hashes, never as themselves.
    let search_in_postgres = !app.variables.contains_key("QDRANT_URL");
    if search_in_postgres {
        let indexed: Vec<(String, String)> =
            sqlx::query_as("SELECT lexemes::text, term_key FROM memory_words")
                .fetch_all(&mut db)
                .await
                .unwrap();
        assert!(!indexed.is_empty());
        for (lexemes, term_key) in &indexed {
            assert!(term_key.starts_with("hmac:"), "{term_key}");
            assert!(!lexemes.contains("treasure") && !lexemes.contains("lighthouse"));
        }
    }
    // ... and still found by them.
    let search_path = format!("/v1/characters/{character}/memories/search");
    let by_words = async |app: &crate::helpers::TestApp| {
        json_of(
            app.post(
                &search_path,
                &key,
                json!({"query": "where is the treasure?", "mode": "lexical", "kind": "biographical"}),
            )
            .await,
        )
        .await
    };
    let found = by_words(&app).await;
    assert_eq!(found["results"][0]["memory"]["content"], secret, "{found}");

    // The API reads it back, including an idempotent replay.
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"][0]["content"], secret);
    let replay = app
        .client
        .post(format!("{}/v1/sessions/{session}/messages", app.address))
        .bearer_auth(&key)
        .header("Idempotency-Key", "enc-1")
        .json(&json!({ "content": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(replay).await["user_message"]["content"], secret);

    // Without the key: a clear refusal, never ciphertext.
    let keyless = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let refused = keyless
        .get(&format!("/v1/sessions/{session}/messages"), &key)
        .await;
    let problem = crate::helpers::assert_problem(refused, 500).await;
    assert_eq!(problem["type"], "/problems/undecryptable");
    assert!(!problem.to_string().contains("vl1:"));

    // After a rotation, old rows still read and new rows use the new key.
    let key_b = "22".repeat(32);
    // The same search index as before the rotation, wherever it is.
    let collection = app.variables.get("QDRANT_COLLECTION").cloned();
    let mut rotated_variables = vec![
        ("DATABASE_URL", database.as_str()),
        ("ENCRYPTION_KEY", key_b.as_str()),
        ("ENCRYPTION_PREVIOUS_KEYS", key_a.as_str()),
    ];
    if let Some(collection) = &collection {
        rotated_variables.push(("QDRANT_COLLECTION", collection));
    }
    let rotated = spawn_with(&rotated_variables, None).await;
    let messages = json_of(
        rotated
            .get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"][0]["content"], secret);
    // The words are written again under the new key: by PostgreSQL in the
    // background at start; Qdrant reports the change (health) and a
    // reindex rewrites them. Found by them again, and no row keeps the
    // old key.
    if !search_in_postgres {
        let health = json_of(rotated.get("/health", crate::helpers::MASTER_KEY).await).await;
        assert!(health.to_string().contains("ENCRYPTION_KEY"), "{health}");
        let reindexed = rotated
            .post("/v1/admin/reindex", crate::helpers::MASTER_KEY, json!({}))
            .await;
        assert!(reindexed.status().is_success(), "{}", reindexed.status());
    }
    let mut found = by_words(&rotated).await;
    for _ in 0..50 {
        if found["results"][0]["memory"]["content"] == secret {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        found = by_words(&rotated).await;
    }
    assert_eq!(found["results"][0]["memory"]["content"], secret, "{found}");
    if search_in_postgres {
        let keys: Vec<String> = sqlx::query_scalar("SELECT DISTINCT term_key FROM memory_words")
            .fetch_all(&mut db)
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
    }
    rotated
        .say(&key, &session, "A new message after the rotation")
        .await;
    let messages = json_of(
        rotated
            .get(&format!("/v1/sessions/{session}/messages?limit=100"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_keyed_turn_whose_result_cannot_be_stored_does_not_report_success() {
    use sqlx::{Connection, Executor};
    let database = fresh_database().await;
    let app = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    // Recording a turn's result fails from now on (as a full disk would).
    let mut db = sqlx::PgConnection::connect(&database).await.unwrap();
    db.execute(
        "CREATE FUNCTION refuse_results() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.response IS NOT NULL THEN RAISE EXCEPTION 'no space left'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_results BEFORE UPDATE ON idempotency_keys
             FOR EACH ROW EXECUTE FUNCTION refuse_results();",
    )
    .await
    .unwrap();
    let keyed = || {
        app.client
            .post(format!("{}/v1/sessions/{session}/messages", app.address))
            .bearer_auth(&key)
            .header("Idempotency-Key", "exact-1")
            .json(&json!({ "content": "Remember the lighthouse" }))
            .send()
    };
    let first = keyed().await.unwrap();
    assert!(
        first.status().is_server_error(),
        "a result a retry cannot replay is not a success: {}",
        first.status()
    );
    let body = first.text().await.unwrap();
    assert!(!body.contains("no space left"), "{body}");
    // Without the key the same turn succeeds: only the replay record failed.
    let plain = app
        .post(
            &format!("/v1/sessions/{session}/messages"),
            &key,
            json!({"content": "Remember the harbour"}),
        )
        .await;
    assert_eq!(plain.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn rows_from_before_the_sealed_marker_still_read_and_lookalike_text_is_kept() {
    use sqlx::{Connection, Executor};
    let database = fresh_database().await;
    let key_a = "22".repeat(32);
    let app = spawn_with(
        &[("DATABASE_URL", &database), ("ENCRYPTION_KEY", &key_a)],
        None,
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let path = format!("/v1/characters/{character}/memories");
    for content in ["The lighthouse keeper's secret", "vl1:deadbeef:AAAA"] {
        let created = app
            .post(&path, &key, json!({"kind": "episodic", "content": content}))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    // As a database written by the previous release: no marker at all.
    let mut db = sqlx::PgConnection::connect(&database).await.unwrap();
    db.execute("UPDATE memories SET sealed = NULL")
        .await
        .unwrap();
    let listed = json_of(app.get(&path, &key).await).await;
    let contents: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["The lighthouse keeper's secret", "vl1:deadbeef:AAAA"],
        "old rows decrypt by their envelope; the lookalike was sealed, so it reads back too"
    );
}

/// Searches through `app` until `content` is found, for up to ten seconds.
async fn eventually_found(
    app: &crate::helpers::TestApp,
    key: &str,
    character: &str,
    content: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = json_of(
            app.post(
                &format!("/v1/characters/{character}/memories/search"),
                key,
                json!({"query": content, "k": 10}),
            )
            .await,
        )
        .await;
        assert_eq!(found["degraded"], false, "{found}");
        let hits: Vec<&str> = found["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["memory"]["content"].as_str().unwrap())
            .collect();
        if hits.contains(&content) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{content:?} never found; found {hits:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// On the shape under test (PostgreSQL alone: exact or pgvector; or with
/// Qdrant, in the suite's Qdrant run): two instances over one database.
#[tokio::test]
async fn recall_survives_a_restart_and_crosses_replicas() {
    let database = fresh_database().await;
    let collection = format!("virlife_test_{}", uuid::Uuid::new_v4().simple());
    let mut variables = vec![
        ("DATABASE_URL", database.as_str()),
        ("VECTOR_REPAIR_INTERVAL_SECONDS", "1"),
    ];
    if std::env::var("VIRLIFE_TEST_QDRANT").is_ok() {
        // Both instances on one collection, as replicas are.
        variables.push(("QDRANT_COLLECTION", collection.as_str()));
    }
    let first = spawn_with(&variables, None).await;
    let key = first.tenant_key("acme").await;
    let character = first.character(&key).await;
    let path = format!("/v1/characters/{character}/memories");
    let before = "The harbour flooded the week before";
    first
        .post(&path, &key, json!({"kind": "episodic", "content": before}))
        .await;

    // A new instance (a restart, or another replica) searches the same
    // index: no reindex, no warm-up.
    let second = spawn_with(&variables, None).await;
    eventually_found(&second, &key, &character, before).await;
    // What the first instance stores later reaches the second one too.
    let after = "The lighthouse keeper moved to Oslo";
    first
        .post(&path, &key, json!({"kind": "episodic", "content": after}))
        .await;
    eventually_found(&second, &key, &character, after).await;
    // And a turn through the second recalls it.
    let session = second.session(&key, &character).await;
    let turn = second
        .say(&key, &session, "Where did the lighthouse keeper go?")
        .await;
    let recalled: Vec<&str> = turn["memories_used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["memory"]["content"].as_str().unwrap())
        .collect();
    assert!(recalled.contains(&after), "{recalled:?}");
}

#[tokio::test]
async fn a_database_from_before_people_migrates_forward_with_scopes() {
    use sqlx::Executor;
    let database = fresh_database().await;
    // The schema as the previous release left it: every migration but the
    // ones from people on.
    let folder = std::env::temp_dir().join(format!("virlife-migrations-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir(&folder).unwrap();
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres")).unwrap()
    {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "20261202000002" {
            std::fs::copy(&path, folder.join(name)).unwrap();
        }
    }
    let pool = sqlx::PgPool::connect(&database).await.unwrap();
    sqlx::migrate::Migrator::new(folder.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    let (character, session) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let (chat, event) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    // A memory the service's own model embedded, to be found by search.
    use virlife::core::ports::Llm as _;
    let offline = virlife::adapters::offline_llm::OfflineLlm::new(256);
    let remembered = "The harbour flooded the week before the festival";
    let embedding = offline
        .embed(&[remembered.to_owned()])
        .await
        .unwrap()
        .remove(0);
    let model = offline.describe().embedding_model;
    pool.execute(sqlx::AssertSqlSafe(format!(
        "INSERT INTO characters (id, tenant, name, persona, created_at, updated_at)
             VALUES ('{character}', 'acme', 'Ada', 'A captain.', now(), now());
         INSERT INTO sessions (id, tenant, character_id, user_name, created_at, last_active_at)
             VALUES ('{session}', 'acme', '{character}', 'Sam', now(), now());
         INSERT INTO memories (id, tenant, character_id, session_id, kind, source, content, importance,
                               embedding, embedding_model, embedding_dimensions, created_at)
             VALUES ('{chat}', 'acme', '{character}', '{session}', 'episodic', 'chat', 'Sam said hello',
                     0.3, '{{1,0}}', 'old-model', 2, now()),
                    ('{event}', 'acme', '{character}', NULL, 'episodic', 'event', 'A storm came',
                     0.5, '{{0,1}}', 'old-model', 2, now());"
    )))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO memories (id, tenant, character_id, kind, source, content, importance,
                               embedding, embedding_model, embedding_dimensions, created_at)
         VALUES ($1, 'acme', $2, 'episodic', 'manual', $3, 0.5, $4, $5, 256, now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(character)
    .bind(remembered)
    .bind(&embedding)
    .bind(&model)
    .execute(&pool)
    .await
    .unwrap();

    let app = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let key = app.tenant_key("acme").await;
    let old_session = json_of(app.get(&format!("/v1/sessions/{session}"), &key).await).await;
    assert_eq!(
        old_session["user_id"],
        session.to_string(),
        "a session that named no one is a person of its own"
    );
    let memories = json_of(
        app.get(&format!("/v1/characters/{character}/memories"), &key)
            .await,
    )
    .await;
    let scope_of = |id: uuid::Uuid| {
        memories["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id.to_string())
            .map(|m| (m["scope"].clone(), m["user_id"].clone()))
            .unwrap()
    };
    assert_eq!(scope_of(chat), (json!("user"), json!(session.to_string())));
    assert_eq!(scope_of(event), (json!("world"), serde_json::Value::Null));
    // Memories from before PostgreSQL answered search itself are found
    // (with Qdrant, an upgrade runs `virlife reindex` instead).
    if std::env::var("VIRLIFE_TEST_QDRANT").is_err() {
        eventually_found(&app, &key, &character.to_string(), remembered).await;
    }
}

/// `/metrics` shows the PostgreSQL pool, read when scraped.
#[tokio::test]
async fn metrics_show_the_postgres_pool() {
    let database = fresh_database().await;
    let app = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let key = app.tenant_key("acme").await;
    assert_eq!(
        app.get("/v1/characters", &key).await.status(),
        StatusCode::OK
    );
    let text = app.metrics().await;
    let value = |name: &str| crate::helpers::series(&text, name);
    // (Other apps in this process scrape too: the gauges are shared, so
    // only their presence and sense are asserted.)
    assert!(
        value("virlife_db_pool_max_connections").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    for state in ["in_use", "idle"] {
        assert!(
            value(&format!(
                r#"virlife_db_pool_connections{{state="{state}"}}"#
            ))
            .is_some_and(|n| n >= 0.0),
            "{text}"
        );
    }
    assert!(
        value(r#"virlife_jobs{status="queued"}"#).is_some(),
        "{text}"
    );
}
