//! The round trips of a warm chat turn on PostgreSQL + Redis with a model
//! provider behind, counted and printed: SQL statements (sqlx's statement
//! events inside the turn's request span), Redis commands (the server's own
//! INFO commandstats, on a Redis of the test's own) and provider calls (the
//! mock provider's log). Bounds keep a regression from slipping in unseen.

use crate::helpers::spawn_with;
use crate::llm::mock_provider::{self, Reply, completion, with_embeddings};
use crate::redis::{RedisServer, command_calls};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// Statement summaries (`select … from messages`) by request id.
type Statements = Arc<Mutex<HashMap<String, Vec<String>>>>;

struct RequestId(String);

/// Counts sqlx's statement events under each request span.
struct StatementCounter(Statements);

#[derive(Default)]
struct Field1 {
    name: &'static str,
    value: Option<String>,
}

impl Visit for Field1 {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == self.name {
            self.value = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == self.name {
            self.value = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StatementCounter {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attributes.metadata().name() != "request" {
            return;
        }
        let mut request_id = Field1 {
            name: "request_id",
            value: None,
        };
        attributes.record(&mut request_id);
        if let (Some(value), Some(span)) = (request_id.value, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(value));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope.from_root() {
            if let Some(RequestId(id)) = span.extensions().get::<RequestId>() {
                let mut summary = Field1 {
                    name: "summary",
                    value: None,
                };
                event.record(&mut summary);
                let summary = summary.value.unwrap_or_default();
                let words: Vec<&str> = summary.split_whitespace().take(4).collect();
                self.0
                    .lock()
                    .unwrap()
                    .entry(id.clone())
                    .or_default()
                    .push(words.join(" "));
                return;
            }
        }
    }
}

/// The process-wide counter (one subscriber per process).
fn statements() -> Statements {
    static STATEMENTS: OnceLock<Statements> = OnceLock::new();
    STATEMENTS
        .get_or_init(|| {
            let statements = Statements::default();
            let filter = Targets::new()
                .with_target("sqlx::query", Level::DEBUG)
                .with_target("virlife", Level::INFO);
            let subscriber =
                Registry::default().with(StatementCounter(statements.clone()).with_filter(filter));
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other test sets a global subscriber");
            statements
        })
        .clone()
}

#[tokio::test]
async fn a_warm_turn_costs_few_round_trips_and_they_are_printed() {
    let statements = statements();
    let redis = RedisServer::start();
    let provider = mock_provider::start(with_embeddings(64, |_: &Value, _| {
        Reply::Json(completion("Aye, the Petrel.", "mock-renderer"))
    }))
    .await;
    let database = crate::helpers::fresh_database().await;
    let base = format!("{}/v1", provider.base_url);
    let redis_url = redis.url();
    let app = spawn_with(
        &[
            ("DATABASE_URL", database.as_str()),
            ("REDIS_URL", redis_url.as_str()),
            ("VENICE_API_KEY", "sk-mock"),
            ("VENICE_BASE_URL", base.as_str()),
            ("RENDERER_MODEL_ID", "mock-renderer"),
            ("COGNITION_MODEL_ID", "mock-cognition"),
            ("EMBEDDING_MODEL_ID", "mock-embedder"),
            ("EMBEDDING_DIMENSIONS", "64"),
            // Reflection is background work, not the turn's.
            ("COGNITION_EVERY_N_TURNS", "1000"),
            // Search in PostgreSQL, whichever suite runs this.
            ("QDRANT_URL", ""),
        ],
        None,
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    // Cold: the first turn fills the caches.
    app.say(&key, &session, "My boat is called the Petrel.")
        .await;

    let redis_before = command_calls(&redis);
    let provider_before = provider.recorded().len();
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages"),
            &key,
            serde_json::json!({"content": "What is my boat called?"}),
        )
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let redis_after = command_calls(&redis);
    let provider_calls: Vec<String> = provider.recorded()[provider_before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();

    let sql = statements
        .lock()
        .unwrap()
        .get(&request_id)
        .cloned()
        .unwrap_or_default();
    let mut by_statement = BTreeMap::<String, usize>::new();
    for statement in &sql {
        *by_statement.entry(statement.clone()).or_default() += 1;
    }
    let mut redis_commands = BTreeMap::<String, u64>::new();
    for (command, calls) in &redis_after {
        let before = redis_before.get(command).copied().unwrap_or(0);
        // INFO itself is the counting, not the turn.
        if *calls > before && command != "info" {
            redis_commands.insert(command.clone(), calls - before);
        }
    }
    // pgvector's HNSW search runs in a transaction that sets ef_search:
    // three statements more than the exact path.
    let (path, statement_bound) = if std::env::var("VIRLIFE_TEST_PGVECTOR").is_ok() {
        ("pgvector", 15)
    } else {
        ("exact", 12)
    };
    println!("a warm turn (PostgreSQL, {path} search, + Redis, provider behind):");
    println!("  SQL statements: {} {by_statement:?}", sql.len());
    println!(
        "  Redis commands: {} {redis_commands:?}",
        redis_commands.values().sum::<u64>()
    );
    println!(
        "  provider calls: {} {provider_calls:?}",
        provider_calls.len()
    );

    assert!(
        !sql.is_empty(),
        "no statement was seen: the counter is not counting"
    );
    // What a warm turn costs today (2026-12-07): 12 statements (15 with
    // pgvector; one of them the character's mood and its relationship with
    // the person, read together), 3 Redis commands (the key's lookup, the
    // persona and history in one MGET, the history written back), 3
    // provider calls.
    // More is a regression to look at; fewer, a bound to lower.
    assert!(
        sql.len() <= statement_bound,
        "{} statements: {by_statement:?}",
        sql.len()
    );
    assert!(
        redis_commands.values().sum::<u64>() <= 3,
        "{redis_commands:?}"
    );
    for extra in ["ping", "unwatch"] {
        assert!(!redis_commands.contains_key(extra), "{redis_commands:?}");
    }
    // The message embedded for recall, the completion, and the turn's own
    // memory embedded (still in the request path).
    assert!(provider_calls.len() <= 3, "{provider_calls:?}");
    assert!(
        provider_calls
            .iter()
            .any(|p| p.ends_with("/chat/completions"))
    );
}
