//! The `virlife` binary itself: configuration errors, `check`, `healthcheck`, shutdown.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn virlife() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_virlife"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    // No .env from the repository must leak in, and the default SQLite
    // file (data/virlife.db) is each run's own.
    let folder =
        std::env::temp_dir().join(format!("virlife-binary-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).unwrap();
    command.current_dir(folder);
    // The test machine's own disk is not under test.
    command.env("DISK_ALERT_PERCENT", "100");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn production_without_database_and_master_key_exits_naming_both() {
    let output = virlife().env("ENVIRONMENT", "production").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("MASTER_API_KEY"), "{stderr}");
}

#[test]
fn check_passes_on_defaults_and_never_prints_secrets() {
    let output = virlife()
        .arg("check")
        .env(
            "MASTER_API_KEY",
            "a-very-secret-master-key-of-enough-length",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("all fine"));
    assert!(stdout.contains("***"));
    assert!(!stdout.contains("a-very-secret"));
}

#[test]
fn check_names_a_misspelt_variable_and_honours_the_seeds_ones() {
    let output = virlife()
        .arg("check")
        .env("REDIS_URLL", "redis://127.0.0.1:1")
        .env("MAX_WORKERS", "2")
        // Redis switched off: the URL (to nothing) is not tried.
        .env("REDIS_ENABLED", "false")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("warn    warning")
            && stdout.contains("REDIS_URLL is not a VirLife variable (did you mean REDIS_URL?)"),
        "{stdout}"
    );
    let cache = stdout.lines().find(|l| l.contains("cache ")).unwrap();
    assert!(cache.contains("in-memory"), "{stdout}");
}

#[cfg(feature = "qdrant")]
#[test]
fn check_prints_the_health_report_and_fails_on_an_unreachable_qdrant() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = virlife()
        .arg("check")
        .env("QDRANT_URL", format!("http://127.0.0.1:{closed}"))
        .env("QDRANT_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} line in {stdout}"))
            .to_owned()
    };
    assert!(line("vector memory").starts_with("FAIL"), "{stdout}");
    assert!(
        line("vector memory").contains("qdrant: degraded"),
        "{stdout}"
    );
    // The same report /health builds: the cache's breaker state is in it.
    assert!(line("cache").starts_with("ok"), "{stdout}");
    assert!(line("cache").contains("circuit closed"), "{stdout}");
    // The default store: the SQLite file, created and migrated by `check`.
    let database = if cfg!(feature = "sqlite") {
        "sqlite: connected"
    } else {
        "in-memory"
    };
    assert!(line("database").contains(database), "{stdout}");
}

#[test]
fn an_open_admin_on_a_reachable_address_is_refused_by_serve_and_check() {
    for command in [None, Some("check")] {
        let mut run = virlife();
        if let Some(command) = command {
            run.arg(command);
        }
        let output = run
            .env("API_HOST", "0.0.0.0")
            .env("PORT", free_port().to_string())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{command:?}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(said.contains("API_HOST"), "{command:?}: {said}");
        assert!(said.contains("MASTER_API_KEY"), "{command:?}: {said}");
    }
}

#[test]
fn check_fails_on_bad_configuration() {
    let output = virlife()
        .arg("check")
        .env("PORT", "not-a-port")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("PORT"));
}

#[test]
fn openapi_prints_the_document() {
    let output = virlife().arg("openapi").output().unwrap();
    assert!(output.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(spec["info"]["title"], "VirLife API");
}

#[test]
fn the_service_serves_answers_healthcheck_and_stops_cleanly_on_sigterm() {
    let port = free_port().to_string();
    let mut server = virlife()
        .env("PORT", &port)
        .env("API_HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = virlife()
            .arg("healthcheck")
            .env("PORT", &port)
            .output()
            .unwrap();
        if probe.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "never became healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    terminate(server.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = virlife()
        .arg("healthcheck")
        .env("PORT", &port)
        .output()
        .unwrap();
    assert!(!after.status.success());
}

/// The release-like binary in production mode against PostgreSQL and a mock
/// provider: JSON lines only, no key ever logged; SIGTERM during 100 open
/// streams lets every stream finish and exits 0.
#[cfg(all(feature = "postgres", feature = "openai"))]
mod production {
    use super::{free_port, virlife};
    use crate::llm::mock_provider;
    use futures_util::StreamExt;
    use mock_provider::{Reply, completion, sse_delta, with_embeddings};
    use serde_json::{Value, json};
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    const MASTER: &str = "production-master-key-0123456789abcdefghij";

    struct Server {
        child: Child,
        base: String,
    }

    async fn start(provider: &str, extra: &[(&str, &str)]) -> Server {
        crate::helpers::install_crypto_provider();
        let port = free_port();
        let database = crate::helpers::fresh_database().await;
        let mut command = virlife();
        command
            .env("ENVIRONMENT", "production")
            .env("PORT", port.to_string())
            .env("API_HOST", "127.0.0.1")
            .env("DATABASE_URL", database)
            .env("MASTER_API_KEY", MASTER)
            .env(
                "VENICE_API_KEY",
                "sk-provider-secret-should-never-be-logged",
            )
            .env("VENICE_BASE_URL", format!("{provider}/v1"))
            .env("EMBEDDING_DIMENSIONS", "64")
            .env("ALLOWED_ORIGINS", "https://game.example")
            .env("RATE_LIMIT_ENABLED", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Ok(path) = std::env::var("VIRLIFE_TEST_SERVER_LOG") {
            command.stdout(std::fs::File::create(path).unwrap());
        }
        for (key, value) in extra {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, base }
    }

    async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
        let response = client
            .post(url)
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    }

    #[tokio::test]
    async fn production_logs_are_json_lines_without_keys() {
        let provider = mock_provider::start(with_embeddings(64, |_, _| {
            Reply::Json(completion("Ahoy.", "m"))
        }))
        .await;
        let server = start(&provider.base_url, &[]).await;
        let client = reqwest::Client::new();
        let created = post(
            &client,
            format!("{}/v1/admin/api-keys", server.base),
            MASTER,
            json!({"tenant": "acme", "name": "logs"}),
        )
        .await;
        let key = created["key"].as_str().unwrap().to_owned();
        let character = post(
            &client,
            format!("{}/v1/characters", server.base),
            &key,
            json!({"name": "Ada", "persona": "p"}),
        )
        .await;
        let id = character["id"].as_str().unwrap();
        let session = post(
            &client,
            format!("{}/v1/characters/{id}/sessions", server.base),
            &key,
            json!({}),
        )
        .await;
        let sid = session["id"].as_str().unwrap();
        post(
            &client,
            format!("{}/v1/sessions/{sid}/messages", server.base),
            &key,
            json!({"content": "Hello"}),
        )
        .await;
        let _ = client
            .get(format!("{}/v1/characters", server.base))
            .header("X-API-Key", "vl_wrong")
            .send()
            .await;
        super::terminate(server.child.id());
        let output = server.child.wait_with_output().unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(lines.len() > 5);
        let mut request_lines = 0;
        for line in &lines {
            let parsed: Value =
                serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            if parsed["message"] == "request finished" {
                request_lines += 1;
                for field in ["request_id", "route", "status", "latency_ms"] {
                    let present = !parsed[field].is_null() || !parsed["span"][field].is_null();
                    assert!(present, "{field} missing in {line}");
                }
            }
        }
        assert!(request_lines >= 5);
        for secret in [MASTER, key.as_str(), "sk-provider-secret", "vl_wrong"] {
            assert!(!stdout.contains(secret), "a key reached the logs");
        }
        assert!(!String::from_utf8_lossy(&output.stderr).contains(MASTER));
    }

    #[tokio::test]
    async fn sigterm_during_100_open_streams_lets_every_stream_finish() {
        let provider = mock_provider::start(with_embeddings(64, |body: &Value, _| {
            if body["stream"] != true {
                return Reply::Json(completion(r#"{"facts": []}"#, "m"));
            }
            Reply::Stream(vec![
                (Duration::ZERO, sse_delta("Steady ")),
                (Duration::from_millis(1500), sse_delta("as she goes.")),
                (Duration::ZERO, "data: [DONE]\n\n".to_owned()),
            ])
        }))
        .await;
        let mut server = start(
            &provider.base_url,
            &[
                ("SHUTDOWN_GRACE_SECONDS", "10"),
                ("DATABASE_MAX_CONNECTIONS", "20"),
            ],
        )
        .await;
        // Nobody reads its logs here: drain them, or a full pipe would
        // block the service's writes (and with them the service).
        for mut output in [
            server
                .child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            server
                .child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let created = post(
            &client,
            format!("{}/v1/admin/api-keys", server.base),
            MASTER,
            json!({"tenant": "acme", "name": "streams"}),
        )
        .await;
        let key = created["key"].as_str().unwrap().to_owned();
        let character = post(
            &client,
            format!("{}/v1/characters", server.base),
            &key,
            json!({"name": "Ada", "persona": "p"}),
        )
        .await;
        let id = character["id"].as_str().unwrap().to_owned();
        let session = post(
            &client,
            format!("{}/v1/characters/{id}/sessions", server.base),
            &key,
            json!({}),
        )
        .await;
        let sid = session["id"].as_str().unwrap().to_owned();

        let mut streams = Vec::new();
        for i in 0..100 {
            let client = client.clone();
            let url = format!("{}/v1/sessions/{sid}/messages/stream", server.base);
            let key = key.clone();
            streams.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"content": format!("stream {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let mut body = response.bytes_stream();
                let mut text = String::new();
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
                        Err(err) => return Err(format!("cut mid-write: {err} after {text:?}")),
                    }
                }
                Ok(text)
            }));
        }
        // Let every stream start, then ask the service to stop.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let stopping = Instant::now();
        super::terminate(server.child.id());
        let mut finished = 0;
        for stream in streams {
            let text = stream.await.unwrap().unwrap();
            assert!(
                text.contains("event: done"),
                "a stream ended without done: {text}"
            );
            assert!(text.contains("as she goes."));
            finished += 1;
        }
        assert_eq!(finished, 100);
        let mut child = server.child;
        let deadline = Instant::now() + Duration::from_secs(12);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit within the grace period"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status}");
        assert!(
            stopping.elapsed() < Duration::from_secs(11),
            "took {:?}",
            stopping.elapsed()
        );
    }

    /// The PostgreSQL pool's gauges and its wait histogram, from the
    /// binary (the histogram comes from sqlx's acquire events, through
    /// the telemetry layer only `serve` installs).
    #[tokio::test]
    async fn metrics_show_the_postgres_pool_and_the_waits_for_it() {
        let provider = mock_provider::start(with_embeddings(64, |_, _| {
            Reply::Json(completion("Ahoy.", "m"))
        }))
        .await;
        let server = start(&provider.base_url, &[("DATABASE_MAX_CONNECTIONS", "3")]).await;
        let client = reqwest::Client::new();
        let created = post(
            &client,
            format!("{}/v1/admin/api-keys", server.base),
            MASTER,
            json!({"tenant": "acme", "name": "metrics"}),
        )
        .await;
        let key = created["key"].as_str().unwrap().to_owned();
        post(
            &client,
            format!("{}/v1/characters", server.base),
            &key,
            json!({"name": "Ada", "persona": "p"}),
        )
        .await;
        let text = client
            .get(format!("{}/metrics", server.base))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let value = |name: &str| crate::helpers::series(&text, name);
        assert_eq!(
            value("virlife_db_pool_max_connections"),
            Some(3.0),
            "{text}"
        );
        assert!(
            value(r#"virlife_db_pool_connections{state="idle"}"#).is_some_and(|n| n >= 1.0),
            "{text}"
        );
        assert!(
            value("virlife_db_pool_wait_seconds_count").is_some_and(|n| n > 0.0),
            "{text}"
        );
        let mut child = server.child;
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

fn terminate(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `check` asks the provider itself: the models it lists and one embedding
/// of the configured size; a wrong size or a refused key fails the check.
#[cfg(feature = "openai")]
#[tokio::test]
async fn check_asks_the_provider_for_its_models_and_one_embedding() {
    use crate::llm::mock_provider::{self, Reply};
    use serde_json::{Value, json};
    let provider = mock_provider::start(std::sync::Arc::new(|path: &str, _: &Value, _| {
        if path.ends_with("/models") {
            Reply::Json(json!({"data": [{"id": "mock-renderer"}, {"id": "mock-embedder"}]}))
        } else if path.ends_with("/embeddings") {
            Reply::Json(json!({"data": [{"index": 0, "embedding": vec![0.1f32; 64]}]}))
        } else {
            Reply::Status(500, vec![])
        }
    }))
    .await;
    let refusing = mock_provider::start(std::sync::Arc::new(|_: &str, _: &Value, _| {
        Reply::Status(401, vec![])
    }))
    .await;
    let check = |base: String, dimensions: &'static str| {
        tokio::task::spawn_blocking(move || {
            let output = virlife()
                .arg("check")
                .env("VENICE_API_KEY", "sk-mock")
                .env("VENICE_BASE_URL", format!("{base}/v1"))
                .env("RENDERER_MODEL_ID", "mock-renderer")
                .env("COGNITION_MODEL_ID", "mock-cognition")
                .env("EMBEDDING_MODEL_ID", "mock-embedder")
                .env("EMBEDDING_DIMENSIONS", dimensions)
                .env("LLM_MAX_RETRIES", "0")
                .output()
                .unwrap();
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
            )
        })
    };
    let (ok, stdout) = check(provider.base_url.clone(), "64").await.unwrap();
    assert!(ok, "{stdout}");
    let provider_line = stdout.lines().find(|l| l.contains("provider ")).unwrap();
    assert!(
        provider_line.starts_with("ok") && provider_line.contains("answered: 2 models listed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("COGNITION_MODEL_ID mock-cognition is not among the provider's models"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mock-embedder answers 64 dimensions"),
        "{stdout}"
    );

    let (ok, stdout) = check(provider.base_url.clone(), "32").await.unwrap();
    assert!(!ok, "{stdout}");
    let embeddings = stdout.lines().find(|l| l.contains("embeddings")).unwrap();
    assert!(
        embeddings.starts_with("FAIL") && embeddings.contains("EMBEDDING_DIMENSIONS is 32"),
        "{stdout}"
    );

    let (ok, stdout) = check(refusing.base_url.clone(), "64").await.unwrap();
    assert!(!ok, "{stdout}");
    let provider_line = stdout.lines().find(|l| l.contains("provider ")).unwrap();
    assert!(provider_line.starts_with("FAIL"), "{stdout}");
    assert!(!stdout.contains("sk-mock"), "{stdout}");
}
