use crate::helpers::{assert_problem, id_of, json_of, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_character_can_be_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let response = app
        .post(
            "/v1/characters",
            &key,
            json!({"name": " Ada ", "persona": "A sea captain.", "traits": {"brave": true}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = json_of(response).await;
    assert_eq!(created["name"], "Ada");
    assert_eq!(created["traits"]["brave"], true);
    let id = created["id"].as_str().unwrap();

    let fetched = json_of(app.get(&format!("/v1/characters/{id}"), &key).await).await;
    assert_eq!(fetched["persona"], "A sea captain.");

    let patched = app
        .patch(
            &format!("/v1/characters/{id}"),
            &key,
            json!({"persona": "A lighthouse keeper."}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched = json_of(patched).await;
    assert_eq!(patched["persona"], "A lighthouse keeper.");
    assert_eq!(patched["name"], "Ada");

    assert_eq!(
        app.delete(&format!("/v1/characters/{id}"), &key)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(&format!("/v1/characters/{id}"), &key).await, 404).await;
    assert_problem(app.delete(&format!("/v1/characters/{id}"), &key).await, 404).await;
}

#[tokio::test]
async fn listing_pages_through_every_character_once_in_creation_order() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let response = app
            .post(
                "/v1/characters",
                &key,
                json!({"name": format!("C{i}"), "persona": "p"}),
            )
            .await;
        created.push(id_of(response).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/characters?limit=2&cursor={c}"),
            None => "/v1/characters?limit=2".to_owned(),
        };
        let page = json_of(app.get(&path, &key).await).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

#[tokio::test]
async fn deleting_a_character_removes_its_sessions_messages_and_memories() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "I love sailing").await;
    assert_eq!(
        app.delete(&format!("/v1/characters/{character}"), &key)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(&format!("/v1/sessions/{session}"), &key).await, 404).await;
    assert_problem(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/characters/{character}/memories"), &key)
            .await,
        404,
    )
    .await;
    // A new character with the same name starts with no memory.
    let fresh = app.character(&key).await;
    let memories = json_of(
        app.get(&format!("/v1/characters/{fresh}/memories"), &key)
            .await,
    )
    .await;
    assert!(memories["items"].as_array().unwrap().is_empty());
}
