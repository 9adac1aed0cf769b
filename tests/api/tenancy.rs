use crate::helpers::{assert_problem, json_of, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

/// Tenant B walks every tenant route with tenant A's ids: every one is a
/// 404 (never a 403, never A's data), and A's data is untouched afterwards.
#[tokio::test]
async fn a_tenant_never_sees_or_touches_another_tenants_data() {
    let app = spawn_app().await;
    let a = app.tenant_key("tenant-a").await;
    let b = app.tenant_key("tenant-b").await;
    let character = app.character(&a).await;
    let session = app.session(&a, &character).await;
    app.say(
        &a,
        &session,
        "A secret only A knows: the map is under the floor",
    )
    .await;
    let memory = json_of(
        app.post(
            &format!("/v1/characters/{character}/memories"),
            &a,
            json!({"kind": "biographical", "content": "A's private fact"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let c = format!("/v1/characters/{character}");
    let s = format!("/v1/sessions/{session}");
    assert_problem(app.get(&c, &b).await, 404).await;
    assert_problem(app.patch(&c, &b, json!({"name": "Stolen"})).await, 404).await;
    assert_problem(app.get(&format!("{c}/memories"), &b).await, 404).await;
    assert_problem(
        app.post(
            &format!("{c}/memories"),
            &b,
            json!({"kind": "episodic", "content": "x"}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.post(&format!("{c}/events"), &b, json!({"description": "x"}))
            .await,
        404,
    )
    .await;
    assert_problem(
        app.post(
            &format!("{c}/memories/search"),
            &b,
            json!({"query": "map floor"}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(app.delete(&format!("{c}/memories/{memory}"), &b).await, 404).await;
    assert_problem(app.post(&format!("{c}/reflect"), &b, json!({})).await, 404).await;
    assert_problem(app.get(&format!("{c}/sessions"), &b).await, 404).await;
    assert_problem(app.post(&format!("{c}/sessions"), &b, json!({})).await, 404).await;
    assert_problem(app.get(&s, &b).await, 404).await;
    assert_problem(app.get(&format!("{s}/messages"), &b).await, 404).await;
    assert_problem(
        app.post(&format!("{s}/messages"), &b, json!({"content": "hi"}))
            .await,
        404,
    )
    .await;
    assert_problem(
        app.post(
            &format!("{s}/messages/stream"),
            &b,
            json!({"content": "hi"}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(app.delete(&s, &b).await, 404).await;
    assert_problem(app.delete(&c, &b).await, 404).await;

    // B's own listings and searches show nothing of A's.
    let listed = json_of(app.get("/v1/characters", &b).await).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    let own = app.character(&b).await;
    let found = json_of(
        app.post(
            &format!("/v1/characters/{own}/memories/search"),
            &b,
            json!({"query": "secret map floor private fact"}),
        )
        .await,
    )
    .await;
    assert!(found["results"].as_array().unwrap().is_empty());

    // A still has everything.
    assert_eq!(app.get(&c, &a).await.status(), StatusCode::OK);
    let messages = json_of(app.get(&format!("{s}/messages"), &a).await).await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 2);
    let memories = json_of(app.get(&format!("{c}/memories"), &a).await).await;
    assert_eq!(memories["items"].as_array().unwrap().len(), 2);
    assert_eq!(json_of(app.get(&c, &a).await).await["name"], "Ada");
}
