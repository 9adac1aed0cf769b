//! People are first-class: what one person tells a character is recalled in
//! that person's sessions only (turns, search, reflection, prompts), and
//! erasing the person removes it from every store. Runs on each store shape
//! the suite is run on (in memory; PostgreSQL + Redis; + Qdrant), and then
//! looks into those stores directly.

use crate::helpers::{RecordingLlm, TestApp, assert_problem, json_of, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "treasure lies under the old lighthouse";

async fn session_for(app: &TestApp, key: &str, character: &str, user: &str, name: &str) -> String {
    let response = app
        .post(
            &format!("/v1/characters/{character}/sessions"),
            key,
            json!({"user_id": user, "user_name": name}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session = json_of(response).await;
    assert_eq!(session["user_id"], user);
    session["id"].as_str().unwrap().to_owned()
}

async fn search(app: &TestApp, key: &str, character: &str, body: Value) -> Vec<Value> {
    let response = app
        .post(
            &format!("/v1/characters/{character}/memories/search"),
            key,
            body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["memory"].clone())
        .collect()
}

fn mentions_secret(memories: &[Value]) -> bool {
    memories
        .iter()
        .any(|m| m["content"].as_str().unwrap().contains(SECRET))
}

async fn all_memories(app: &TestApp, key: &str, character: &str) -> Vec<Value> {
    let page = json_of(
        app.get(
            &format!("/v1/characters/{character}/memories?limit=100"),
            key,
        )
        .await,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn what_sam_tells_ada_never_reaches_alex_and_is_gone_once_erased() {
    let llm = RecordingLlm::new();
    let app = spawn_with(&[], Some(llm.clone())).await;
    let key = app.tenant_key("acme").await;
    let ada = app.character(&key).await;
    let sam = session_for(&app, &key, &ada, "sam-1", "Sam").await;
    let alex = session_for(&app, &key, &ada, "alex-2", "Alex").await;

    app.say(&key, &sam, &format!("My secret is that the {SECRET}."))
        .await;
    let event = app
        .post(
            &format!("/v1/characters/{ada}/events"),
            &key,
            json!({"description": "A storm wrecked the old lighthouse."}),
        )
        .await;
    assert_eq!(event.status(), StatusCode::CREATED);
    assert_eq!(json_of(event).await["scope"], "world");

    // Alex asks about the very thing: the world's memory comes back, Sam's never.
    let alex_says = "I love the old lighthouse. Where does the treasure lie?";
    let turn = app.say(&key, &alex, alex_says).await;
    let recalled: Vec<Value> = turn["memories_used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["memory"].clone())
        .collect();
    assert!(
        recalled
            .iter()
            .any(|m| m["content"].as_str().unwrap().contains("storm")),
        "the world's memory is recalled for Alex: {recalled:?}"
    );
    assert!(!mentions_secret(&recalled), "{recalled:?}");
    let alex_prompts: Vec<String> = llm
        .prompts()
        .into_iter()
        .filter(|p| p.contains("Where does the treasure lie"))
        .collect();
    assert!(!alex_prompts.is_empty());
    for prompt in &alex_prompts {
        assert!(!prompt.contains(SECRET), "Alex's prompt: {prompt}");
    }

    // Search as Alex: never Sam's; as Sam, or as the tenant, it is there.
    let query = "the treasure under the old lighthouse";
    let as_alex = search(
        &app,
        &key,
        &ada,
        json!({"query": query, "k": 50, "user_id": "alex-2"}),
    )
    .await;
    assert!(!mentions_secret(&as_alex), "{as_alex:?}");
    let as_sam = search(
        &app,
        &key,
        &ada,
        json!({"query": query, "k": 50, "user_id": "sam-1"}),
    )
    .await;
    assert!(mentions_secret(&as_sam), "{as_sam:?}");
    assert!(as_sam.iter().all(|m| m["user_id"] != "alex-2"));
    let as_tenant = search(&app, &key, &ada, json!({"query": query, "k": 50})).await;
    assert!(mentions_secret(&as_tenant));

    // Reflection reads each person on their own and files facts under them.
    let queued = json_of(
        app.post(&format!("/v1/characters/{ada}/reflect"), &key, json!({}))
            .await,
    )
    .await;
    let job = app.wait_for_job(&key, queued["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "done", "{job}");
    let reflections: Vec<String> = llm
        .prompts()
        .into_iter()
        // The world's events, read on their own, are not a person's.
        .filter(|p| p.starts_with("reflect") && !p.contains("transcript: []"))
        .collect();
    assert_eq!(reflections.len(), 2, "one cognition call per person");
    for prompt in &reflections {
        assert!(
            !(prompt.contains(SECRET) && prompt.contains("Where does the treasure lie")),
            "two people merged in one reflection: {prompt}"
        );
    }
    let facts: Vec<Value> = all_memories(&app, &key, &ada)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "biographical")
        .collect();
    let sams_fact = facts
        .iter()
        .find(|m| m["content"].as_str().unwrap().contains(SECRET))
        .expect("a fact from Sam's session");
    assert_eq!(sams_fact["user_id"], "sam-1");
    assert_eq!(sams_fact["scope"], "user");
    let alexs_fact = facts
        .iter()
        .find(|m| {
            m["content"]
                .as_str()
                .unwrap()
                .contains("I love the old lighthouse")
        })
        .expect("a fact from Alex's session");
    assert_eq!(alexs_fact["user_id"], "alex-2");
    let turn = app
        .say(&key, &alex, "Tell me the secret of the treasure.")
        .await;
    let recalled: Vec<Value> = turn["memories_used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["memory"].clone())
        .collect();
    assert!(!mentions_secret(&recalled), "{recalled:?}");

    // Erasure: everything of Sam's goes, from every store; Alex stays.
    let erased = app.delete("/v1/users/sam-1", &key).await;
    assert_eq!(erased.status(), StatusCode::OK);
    let erased = json_of(erased).await;
    assert_eq!(erased["sessions"], 1, "{erased}");
    assert_eq!(erased["messages"], 2, "{erased}");
    assert!(erased["memories"].as_u64().unwrap() >= 2, "{erased}");
    assert_eq!(
        app.get(&format!("/v1/sessions/{sam}"), &key).await.status(),
        StatusCode::NOT_FOUND
    );
    let left = all_memories(&app, &key, &ada).await;
    assert!(!mentions_secret(&left), "{left:?}");
    assert!(left.iter().all(|m| m["user_id"] != "sam-1"));
    assert!(left.iter().any(|m| m["user_id"] == "alex-2"));
    let as_tenant = search(&app, &key, &ada, json!({"query": query, "k": 50})).await;
    assert!(!mentions_secret(&as_tenant), "{as_tenant:?}");
    assert_eq!(
        app.get(&format!("/v1/sessions/{alex}"), &key)
            .await
            .status(),
        StatusCode::OK
    );
    assert_nothing_of_sams_is_stored(&app, &sam).await;

    // Again: nothing left to erase.
    let again = json_of(app.delete("/v1/users/sam-1", &key).await).await;
    assert_eq!(again, json!({"sessions": 0, "messages": 0, "memories": 0}));
}

#[tokio::test]
async fn erasing_from_one_character_leaves_the_others_and_bad_ids_are_problems() {
    let app = spawn_with(&[], None).await;
    let key = app.tenant_key("acme").await;
    let ada = app.character(&key).await;
    let bo = app.character(&key).await;
    let at_ada = session_for(&app, &key, &ada, "sam", "Sam").await;
    let at_bo = session_for(&app, &key, &bo, "sam", "Sam").await;
    app.say(&key, &at_ada, "My boat is the Petrel.").await;
    app.say(&key, &at_bo, "My dog is called Rex.").await;
    let manual = app
        .post(
            &format!("/v1/characters/{ada}/memories"),
            &key,
            json!({"kind": "biographical", "content": "Sam fears the sea.", "user_id": "sam"}),
        )
        .await;
    assert_eq!(manual.status(), StatusCode::CREATED);
    assert_eq!(json_of(manual).await["scope"], "user");

    let erased = json_of(
        app.delete(&format!("/v1/characters/{ada}/users/sam"), &key)
            .await,
    )
    .await;
    assert_eq!(erased["sessions"], 1, "{erased}");
    assert_eq!(erased["messages"], 2, "{erased}");
    assert_eq!(
        erased["memories"], 2,
        "the turn's memory and the manual one: {erased}"
    );
    assert!(all_memories(&app, &key, &ada).await.is_empty());
    assert_eq!(all_memories(&app, &key, &bo).await.len(), 1);
    assert_eq!(
        app.get(&format!("/v1/sessions/{at_bo}"), &key)
            .await
            .status(),
        StatusCode::OK
    );

    // Another tenant cannot erase (or learn about) this tenant's people.
    let other = app.tenant_key("globex").await;
    let foreign = app
        .delete(&format!("/v1/characters/{bo}/users/sam"), &other)
        .await;
    assert_problem(foreign, 404).await;
    let nothing = json_of(app.delete("/v1/users/sam", &other).await).await;
    assert_eq!(nothing["sessions"], 0);
    assert_eq!(all_memories(&app, &key, &bo).await.len(), 1);

    let problem = assert_problem(app.delete("/v1/users/%20sam", &key).await, 400).await;
    assert!(problem.to_string().contains("user_id"), "{problem}");
    let problem = assert_problem(
        app.post(
            &format!("/v1/characters/{ada}/sessions"),
            &key,
            json!({"user_id": "x".repeat(129)}),
        )
        .await,
        400,
    )
    .await;
    assert!(problem.to_string().contains("user_id"), "{problem}");

    // A session that names no one is a person of its own.
    let anonymous = app.session(&key, &ada).await;
    let session = json_of(app.get(&format!("/v1/sessions/{anonymous}"), &key).await).await;
    assert_eq!(session["user_id"], anonymous.as_str());
}

/// What no database may hold of Sam's once erased.
#[allow(dead_code)]
const SAM_GONE: [&str; 4] = [
    "SELECT count(*) FROM memories WHERE user_id = 'sam-1'",
    "SELECT count(*) FROM sessions WHERE user_id = 'sam-1'",
    "SELECT count(*) FROM messages WHERE content LIKE '%treasure lies under%'",
    "SELECT count(*) FROM memories WHERE content LIKE '%treasure lies under%'",
];
/// What it must still hold of Alex's, so the checks above can fail.
#[allow(dead_code)]
const ALEX_KEPT: &str = "SELECT count(*) FROM memories WHERE user_id = 'alex-2'";

/// Looks into each configured store itself: no row, cached history or
/// vector of Sam's is left. Each check also finds Alex's, so it can fail.
// Without the adapters' features there is nothing to look into.
#[allow(unused_mut, unused_variables)]
async fn assert_nothing_of_sams_is_stored(app: &TestApp, sam_session: &str) {
    let mut checked: Vec<&str> = Vec::new();
    let database = app
        .variables
        .get("DATABASE_URL")
        .cloned()
        .unwrap_or_default();
    #[cfg(feature = "postgres")]
    if database.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&database).await.unwrap();
        for sql in SAM_GONE {
            let count: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            assert_eq!(count, 0, "{sql}");
        }
        let alex: i64 = sqlx::query_scalar(ALEX_KEPT)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(alex > 0);
        checked.push("postgres");
    }
    #[cfg(feature = "sqlite")]
    if database.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
        for sql in SAM_GONE {
            let count: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            assert_eq!(count, 0, "{sql}");
        }
        let alex: i64 = sqlx::query_scalar(ALEX_KEPT)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(alex > 0);
        checked.push("sqlite");
    }
    #[cfg(feature = "redis")]
    if let Some(url) = app.variables.get("REDIS_URL") {
        use deadpool_redis::redis::AsyncCommands;
        let client = deadpool_redis::redis::Client::open(url.as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let namespace = &app.variables["CACHE_NAMESPACE"];
        let keys: Vec<String> = connection
            .keys(format!("{namespace}:history:*"))
            .await
            .unwrap();
        assert!(!keys.is_empty(), "Alex's history is cached");
        assert!(
            keys.iter().all(|k| !k.contains(sam_session)),
            "Sam's cached history is gone: {keys:?}"
        );
        checked.push("redis");
    }
    #[cfg(feature = "qdrant")]
    if let (Some(url), Some(collection)) = (
        app.variables.get("QDRANT_URL"),
        app.variables.get("QDRANT_COLLECTION"),
    ) {
        use qdrant_client::qdrant::{Condition, CountPointsBuilder, Filter};
        let (url, _) = virlife::adapters::qdrant::grpc_url(url);
        let client = qdrant_client::Qdrant::from_url(&url)
            .skip_compatibility_check()
            .build()
            .unwrap();
        let count = |scope: &str| {
            let request = CountPointsBuilder::new(collection)
                .filter(Filter::must([Condition::matches(
                    "scope",
                    scope.to_owned(),
                )]))
                .exact(true);
            let client = &client;
            async move { client.count(request).await.unwrap().result.unwrap().count }
        };
        assert_eq!(count("user:sam-1").await, 0);
        assert!(count("user:alex-2").await > 0);
        checked.push("qdrant");
    }
    let mut configured: Vec<&str> = Vec::new();
    if database.starts_with("postgres") {
        configured.push("postgres");
    } else if database.starts_with("sqlite:") {
        configured.push("sqlite");
    }
    configured.extend(
        [("REDIS_URL", "redis"), ("QDRANT_URL", "qdrant")]
            .into_iter()
            .filter(|(variable, _)| app.variables.contains_key(*variable))
            .map(|(_, store)| store),
    );
    assert_eq!(
        checked, configured,
        "every configured store was looked into"
    );
    eprintln!("stores looked into directly: {checked:?}");
}
