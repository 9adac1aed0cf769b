//! Redis is a cache that may vanish: a private redis-server per test is
//! killed, frozen and restarted under traffic (loopback only, bounded).

use crate::helpers::{TestApp, json_of, spawn_with};
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct RedisServer {
    pub(crate) port: u16,
    child: Child,
}

impl RedisServer {
    fn start_on(port: u16) -> Self {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}); run `tests/run`, which installs it")
            });
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    pub(crate) fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn health(app: &TestApp) -> (StatusCode, serde_json::Value) {
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    (response.status(), json_of(response).await)
}

/// Sends `count` chat turns; every one must succeed within a second.
async fn turns_all_succeed_quickly(app: &TestApp, key: &str, session: &str, count: usize) {
    for i in 0..count {
        let started = Instant::now();
        let response = app
            .post(
                &format!("/v1/sessions/{session}/messages"),
                key,
                json!({"content": format!("turn {i} about sailing")}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "turn {i} took {took:?}");
    }
}

async fn outage_drill(freeze: bool) {
    let mut redis = RedisServer::start();
    let app = spawn_with(&[("REDIS_URL", &redis.url())], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    turns_all_succeed_quickly(&app, &key, &session, 3).await;
    let (_, before) = health(&app).await;
    assert_eq!(before["services"]["cache"]["status"], "connected");

    if freeze {
        redis.signal("-STOP");
    } else {
        redis.kill();
    }
    turns_all_succeed_quickly(&app, &key, &session, 10).await;
    let (status, during) = health(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(during["status"], "degraded");
    assert_eq!(during["services"]["cache"]["status"], "degraded");
    assert!(during["services"]["cache"]["last_error"].is_string());
    let ready = app
        .client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let _restarted;
    if freeze {
        redis.signal("-CONT");
    } else {
        _restarted = RedisServer::start_on(redis.port);
    }
    // Hits resume without restarting the service (after the circuit's pause).
    let back = Instant::now();
    loop {
        turns_all_succeed_quickly(&app, &key, &session, 1).await;
        let (_, after) = health(&app).await;
        if after["services"]["cache"]["status"] == "connected"
            && after["services"]["cache"]["last_error"].is_null()
        {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "cache never recovered: {after}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let hits_before = health(&app).await.1["services"]["cache"]["hit_rate"]
        .as_f64()
        .unwrap();
    turns_all_succeed_quickly(&app, &key, &session, 5).await;
    let hits_after = health(&app).await.1["services"]["cache"]["hit_rate"]
        .as_f64()
        .unwrap();
    assert!(
        hits_after > hits_before,
        "hit rate did not rise: {hits_before} -> {hits_after}"
    );
}

#[tokio::test]
async fn a_killed_redis_costs_nothing_but_cache_hits_and_comes_back() {
    outage_drill(false).await;
}

#[tokio::test]
async fn a_frozen_redis_is_treated_like_a_dead_one() {
    outage_drill(true).await;
}

#[tokio::test]
async fn replicas_sharing_redis_share_one_rate_limit() {
    let redis = RedisServer::start();
    let variables = [
        ("REDIS_URL", redis.url()),
        ("RATE_LIMIT_ENABLED", "true".into()),
        ("RATE_LIMIT_PER_MINUTE", "5".into()),
        ("DATABASE_URL", crate::helpers::fresh_database().await),
        ("CACHE_NAMESPACE", "shared-replicas".to_owned()),
    ];
    let variables: Vec<(&str, &str)> = variables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (a, b) = tokio::join!(spawn_with(&variables, None), spawn_with(&variables, None));
    // Both replicas share PostgreSQL too, so the key works on either.
    let key = a.tenant_key("acme").await;
    let mut admitted = 0;
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        let response = app.get("/v1/characters", &key).await;
        match response.status() {
            StatusCode::OK => {
                admitted += 1;
                assert!(response.headers().contains_key("ratelimit-remaining"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("retry-after"))
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(admitted, 5, "two replicas must share one budget of 5");
}

/// `/metrics` shows the Redis pool, read when scraped, and the waits for it.
#[tokio::test]
async fn metrics_show_the_redis_pool_and_its_waits() {
    let redis = RedisServer::start();
    let app = spawn_with(&[("REDIS_URL", &redis.url())], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    assert_eq!(
        app.get(&format!("/v1/characters/{character}"), &key)
            .await
            .status(),
        StatusCode::OK
    );
    let text = app.metrics().await;
    let value = |name: &str| crate::helpers::series(&text, name);
    // (Other apps in this process may scrape too: the gauges are shared.)
    assert!(
        value("virlife_redis_pool_max_connections").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value(r#"virlife_redis_pool_connections{state="idle"}"#).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(value("virlife_redis_pool_waiting").is_some(), "{text}");
    assert!(
        value("virlife_redis_pool_wait_seconds_count").is_some_and(|n| n > 0.0),
        "{text}"
    );
}

/// How many times the server ran each command, from INFO commandstats.
pub(crate) fn command_calls(redis: &RedisServer) -> std::collections::HashMap<String, u64> {
    let output = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "INFO", "commandstats"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

/// One cache operation is one command: no PING or UNWATCH before each use
/// of a pooled connection; and after Redis restarts, the broken pooled
/// connections cost one failed call, then the cache works again.
#[tokio::test]
async fn a_cache_operation_is_one_command_and_broken_connections_are_replaced() {
    use virlife::adapters::redis_cache::{RedisCache, RedisOptions};
    use virlife::core::ports::Cache;
    let mut redis = RedisServer::start();
    let cache = RedisCache::new(&RedisOptions {
        url: redis.url(),
        pool_size: 4,
        command_timeout: Duration::from_secs(2),
    })
    .unwrap();
    let ttl = Duration::from_secs(60);
    for i in 0..20 {
        cache.set(&format!("k{i}"), "v", ttl).await.unwrap();
        assert_eq!(
            cache.get(&format!("k{i}")).await.unwrap().as_deref(),
            Some("v")
        );
    }
    let calls = command_calls(&redis);
    assert_eq!(calls.get("set"), Some(&20), "{calls:?}");
    assert_eq!(calls.get("get"), Some(&20), "{calls:?}");
    for extra in ["ping", "unwatch"] {
        assert_eq!(calls.get(extra), None, "{extra} sent: {calls:?}");
    }

    let port = redis.port;
    redis.kill();
    let restarted = RedisServer::start_on(port);
    // The first call may meet a dead connection; the next ones connect anew.
    let _ = cache.get("k1").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if cache.set("after", "v", ttl).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the cache never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.get("after").await.unwrap().as_deref(), Some("v"));
    drop(restarted);
}
