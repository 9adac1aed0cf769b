/// The committed document must match the code; regenerate it with
/// `cargo run -- openapi > openapi/openapi.json`.
#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json exists");
    let generated = virlife::http::openapi_json();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_route_of_the_api_is_documented() {
    let spec: serde_json::Value = serde_json::from_str(&virlife::http::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/health", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/v1/admin/api-keys", "post"),
        ("/v1/admin/api-keys", "get"),
        ("/v1/admin/api-keys/{id}", "delete"),
        ("/v1/admin/reindex", "post"),
        ("/v1/characters", "post"),
        ("/v1/characters", "get"),
        ("/v1/characters/{id}", "get"),
        ("/v1/characters/{id}", "patch"),
        ("/v1/characters/{id}", "delete"),
        ("/v1/characters/{id}/memories", "post"),
        ("/v1/characters/{id}/memories", "get"),
        ("/v1/characters/{id}/events", "post"),
        ("/v1/characters/{id}/memories/search", "post"),
        ("/v1/characters/{id}/memories/{memory_id}", "delete"),
        ("/v1/characters/{id}/reflect", "post"),
        ("/v1/characters/{id}/sessions", "post"),
        ("/v1/characters/{id}/sessions", "get"),
        ("/v1/sessions/{id}", "get"),
        ("/v1/sessions/{id}", "delete"),
        ("/v1/sessions/{id}/messages", "get"),
        ("/v1/sessions/{id}/messages", "post"),
        ("/v1/sessions/{id}/messages/stream", "post"),
        ("/v1/jobs/{id}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(spec["components"]["securitySchemes"]["BearerAuth"].is_object());
    assert!(spec["components"]["securitySchemes"]["ApiKeyAuth"].is_object());
}

/// Generated clients name their functions after these: stable, camelCase,
/// one per operation.
#[test]
fn every_operation_has_a_unique_camel_case_operation_id() {
    let spec: serde_json::Value = serde_json::from_str(&virlife::http::openapi_json()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.chars().next().unwrap().is_ascii_lowercase()
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{method} {path}: {id} is not camelCase"
            );
            assert!(seen.insert(id.to_owned()), "{id} is used twice");
        }
    }
    for expected in [
        "createCharacter",
        "sendMessage",
        "streamMessage",
        "searchMemories",
    ] {
        assert!(seen.contains(expected), "{expected}");
    }
}

/// What `/openapi.json` and Swagger UI serve is the committed document,
/// not poem-openapi's unrefined one.
#[tokio::test]
async fn the_served_document_and_swagger_ui_are_the_committed_document() {
    let app = crate::helpers::spawn_with(&[("ENABLE_API_DOCS", "true")], None).await;
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    let served: serde_json::Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, committed);
    let swagger = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        swagger.contains(&virlife::http::openapi_json()),
        "Swagger UI shows another document"
    );
}
