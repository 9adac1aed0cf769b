use crate::helpers::{MASTER_KEY, assert_problem, json_of, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn the_master_key_creates_keys_whose_secret_is_shown_once() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/admin/api-keys",
            MASTER_KEY,
            json!({"tenant": "acme", "name": "web"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = json_of(response).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vl_"));
    assert_eq!(created["tenant"], "acme");

    let listed = json_of(app.get("/v1/admin/api-keys", MASTER_KEY).await).await;
    let text = listed.to_string();
    assert!(text.contains(created["id"].as_str().unwrap()));
    assert!(!text.contains(&secret), "the secret must never be listed");

    // The key works with either header.
    let bearer = app.get("/v1/characters", &secret).await;
    assert_eq!(bearer.status(), StatusCode::OK);
    let header = app
        .client
        .get(format!("{}/v1/characters", app.address))
        .header("X-API-Key", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/admin/api-keys",
            MASTER_KEY,
            json!({"tenant": "acme", "name": "web"}),
        )
        .await;
    let created = json_of(response).await;
    let secret = created["key"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/characters", secret).await.status(),
        StatusCode::OK
    );
    let revoke = app
        .delete(
            &format!("/v1/admin/api-keys/{}", created["id"].as_str().unwrap()),
            MASTER_KEY,
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/v1/characters", secret).await, 401).await;
    // Revoking twice, or an unknown id, is a 404.
    let again = app
        .delete(
            &format!("/v1/admin/api-keys/{}", created["id"].as_str().unwrap()),
            MASTER_KEY,
        )
        .await;
    assert_problem(again, 404).await;
}

#[tokio::test]
async fn admin_routes_refuse_tenant_keys_and_tenant_routes_refuse_the_master_key() {
    let app = spawn_app().await;
    let tenant = app.tenant_key("acme").await;
    assert_problem(app.get("/v1/admin/api-keys", &tenant).await, 403).await;
    assert_problem(app.get("/v1/characters", MASTER_KEY).await, 403).await;
    let missing = app
        .request(Method::GET, "/v1/admin/api-keys", None, None)
        .await;
    assert_problem(missing, 401).await;
}

#[tokio::test]
async fn invalid_tenant_names_are_rejected_naming_the_field() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/admin/api-keys",
            MASTER_KEY,
            json!({"tenant": "Not Valid!", "name": "x"}),
        )
        .await;
    let problem = assert_problem(response, 400).await;
    assert_eq!(problem["field"], "tenant");
}

#[tokio::test]
async fn reindex_rebuilds_the_index_and_reports_counts() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    for content in ["first", "second"] {
        let response = app
            .post(
                &format!("/v1/characters/{character}/memories"),
                &key,
                json!({"kind": "episodic", "content": content}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let response = app.post("/v1/admin/reindex", MASTER_KEY, json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let report = json_of(response).await;
    assert_eq!(report["memories"], 2);
    assert_eq!(report["indexed"], 2);
}
