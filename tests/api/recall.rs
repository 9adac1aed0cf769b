//! Hybrid recall through the API: the three modes, the scores that made
//! each rank, recency and importance, and what a turn recalls. The API
//! suite runs on every store and search path (tests/run), so this holds
//! for the in-process index, PostgreSQL (exact and pgvector) and Qdrant.

use crate::helpers::{RecordingLlm, assert_problem, json_of, spawn_app, spawn_with};
use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use virlife::adapters::offline_llm::OfflineLlm;
use virlife::core::ports::{
    ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest, RenderRequest,
};

async fn search(app: &crate::helpers::TestApp, key: &str, character: &str, body: Value) -> Value {
    let response = app
        .post(
            &format!("/v1/characters/{character}/memories/search"),
            key,
            body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

fn contents(found: &Value) -> Vec<String> {
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["memory"]["content"].as_str().unwrap().to_owned())
        .collect()
}

async fn remember(app: &crate::helpers::TestApp, key: &str, character: &str, body: Value) -> Value {
    let response = app
        .post(&format!("/v1/characters/{character}/memories"), key, body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await
}

#[tokio::test]
async fn each_mode_ranks_by_its_lists_and_says_which_scores_made_each_rank() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    for text in [
        "Maya started her pottery class with Mrs Okonkwo in March",
        "Maya went to a class about painting",
        "We talked about the weather at the harbour",
    ] {
        remember(
            &app,
            &key,
            &character,
            json!({"kind": "episodic", "content": text}),
        )
        .await;
    }

    let lexical = search(
        &app,
        &key,
        &character,
        json!({"query": "Okonkwo", "mode": "lexical"}),
    )
    .await;
    assert_eq!(lexical["mode"], "lexical");
    assert_eq!(lexical["degraded"], false);
    let hits = lexical["results"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "only memories holding the word: {lexical}");
    assert!(contents(&lexical)[0].contains("Okonkwo"));
    let scores = &hits[0]["scores"];
    assert_eq!(scores["lexical"]["rank"], 1);
    assert!(scores["lexical"]["score"].as_f64().unwrap() > 0.0);
    assert!(scores.get("vector").is_none(), "{scores}");
    assert!(scores["relevance"].as_f64().unwrap() > 0.99);

    let vector = search(
        &app,
        &key,
        &character,
        json!({"query": "pottery class", "mode": "vector"}),
    )
    .await;
    assert_eq!(vector["mode"], "vector");
    for hit in vector["results"].as_array().unwrap() {
        assert!(hit["scores"].get("lexical").is_none(), "{hit}");
        assert!(hit["scores"]["vector"]["rank"].as_u64().unwrap() >= 1);
    }

    // Hybrid is the default: both lists, fused; agreement ranks first.
    let hybrid = search(
        &app,
        &key,
        &character,
        json!({"query": "Maya's pottery class"}),
    )
    .await;
    assert_eq!(hybrid["mode"], "hybrid");
    let first = &hybrid["results"][0];
    assert!(contents(&hybrid)[0].contains("pottery"), "{hybrid}");
    assert_eq!(first["scores"]["lexical"]["rank"], 1, "{first}");
    assert!(
        first["scores"]["vector"]["rank"].as_u64().is_some(),
        "{first}"
    );
    let results = hybrid["results"].as_array().unwrap();
    for pair in results.windows(2) {
        assert!(pair[0]["score"].as_f64() >= pair[1]["score"].as_f64());
    }
    // The order follows the documented sum.
    for hit in results {
        let s = &hit["scores"];
        let total = s["relevance"].as_f64().unwrap()
            + 0.1 * s["recency"].as_f64().unwrap()
            + 0.1 * s["importance"].as_f64().unwrap();
        assert!(
            (total - hit["score"].as_f64().unwrap()).abs() < 1e-3,
            "{hit}"
        );
    }

    // A mode that is none of the three is the caller's mistake, named.
    let problem = assert_problem(
        app.post(
            &format!("/v1/characters/{character}/memories/search"),
            &key,
            json!({"query": "pottery", "mode": "fuzzy"}),
        )
        .await,
        400,
    )
    .await;
    assert!(problem.to_string().contains("mode"), "{problem}");
}

#[tokio::test]
async fn importance_and_recency_break_ties_of_relevance() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    // Three memories alike in words; one important, one from long ago
    // (imported with the time it happened).
    let archive = json!({
        "format": "virlife.character.v1",
        "character": {"name": "Ada", "persona": "A retired sea captain."},
        "memories": [
            {"kind": "episodic", "content": "the lighthouse keeper waved", "importance": 0.5,
             "created_at": "2019-06-01T12:00:00Z"},
            {"kind": "episodic", "content": "the lighthouse keeper waved", "importance": 0.5},
            {"kind": "episodic", "content": "the lighthouse keeper waved", "importance": 1.0},
        ]
    });
    let imported = app.post("/v1/characters/import", &key, archive).await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let character = json_of(imported).await["id"].as_str().unwrap().to_owned();
    let found = search(
        &app,
        &key,
        &character,
        json!({"query": "lighthouse keeper", "mode": "lexical"}),
    )
    .await;
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["memory"]["importance"], 1.0, "{found}");
    let old = &results[2];
    assert!(
        old["memory"]["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2019"),
        "{found}"
    );
    assert!(old["scores"]["recency"].as_f64().unwrap() < 0.01, "{old}");
    assert!(results[1]["scores"]["recency"].as_f64().unwrap() > 0.99);
}

/// Embeds until told to stop (the provider's embedding endpoint fails).
struct EmbedderGoesDown {
    offline: OfflineLlm,
    down: AtomicBool,
}

#[async_trait]
impl Llm for EmbedderGoesDown {
    fn describe(&self) -> LlmDescription {
        self.offline.describe()
    }
    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        self.offline.render(request).await
    }
    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        self.offline.render_stream(request).await
    }
    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        self.offline.reflect(request).await
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if self.down.load(Ordering::Acquire) {
            return Err(LlmError::Unavailable("embeddings down".into()));
        }
        self.offline.embed(texts).await
    }
}

#[tokio::test]
async fn without_embeddings_hybrid_recalls_by_words_and_says_so() {
    let llm = Arc::new(EmbedderGoesDown {
        offline: OfflineLlm::new(256),
        down: AtomicBool::new(false),
    });
    let app = spawn_with(&[], Some(llm.clone())).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    remember(
        &app,
        &key,
        &character,
        json!({"kind": "episodic", "content": "Bartholomew the ferret chewed the router cable"}),
    )
    .await;
    llm.down.store(true, Ordering::Release);

    let found = search(
        &app,
        &key,
        &character,
        json!({"query": "what did Bartholomew chew?"}),
    )
    .await;
    assert_eq!(found["mode"], "lexical");
    assert_eq!(found["degraded"], true);
    assert!(contents(&found)[0].contains("Bartholomew"));
    // Vector mode has nothing to fall back on: the embedder's failure shows.
    let response = app
        .post(
            &format!("/v1/characters/{character}/memories/search"),
            &key,
            json!({"query": "Bartholomew", "mode": "vector"}),
        )
        .await;
    assert!(response.status().is_server_error(), "{}", response.status());
    // A turn still recalls by words.
    let session = app.session(&key, &character).await;
    let turn = app.say(&key, &session, "Remember Bartholomew?").await;
    let used = turn["memories_used"].as_array().unwrap();
    assert!(
        used.iter()
            .any(|m| m["memory"]["content"].as_str().unwrap().contains("ferret")),
        "{turn}"
    );
}

#[tokio::test]
async fn a_turn_recalls_as_many_memories_as_its_context_budget_holds() {
    let texts: Vec<String> = (0..30)
        .map(|i| format!("Sam's sailing trip number {i} went past the lighthouse"))
        .collect();
    let mut used = Vec::new();
    for budget in ["8000", "700"] {
        let llm = RecordingLlm::new();
        let app = spawn_with(&[("LLM_CONTEXT_TOKENS", budget)], Some(llm)).await;
        let key = app.tenant_key("acme").await;
        let character = app.character(&key).await;
        for text in &texts {
            remember(
                &app,
                &key,
                &character,
                json!({"kind": "episodic", "content": text}),
            )
            .await;
        }
        let session = app.session(&key, &character).await;
        let turn = app
            .say(
                &key,
                &session,
                "Tell me about the sailing trips past the lighthouse",
            )
            .await;
        used.push(turn["memories_used"].as_array().unwrap().len());
    }
    // Not a fixed five: a roomy prompt takes many, a tight one few.
    assert!(used[0] > 5, "{used:?}");
    assert!(used[1] < used[0], "{used:?}");
    assert!(used[1] >= 1, "{used:?}");
}
