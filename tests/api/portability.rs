//! Characters travel: export, import (round trip, into another tenant), and
//! TavernCard V2 cards.

use crate::helpers::{TestApp, assert_problem, json_of, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn search(
    app: &TestApp,
    key: &str,
    character: &str,
    query: &str,
    user: Option<&str>,
) -> Vec<String> {
    let mut body = json!({"query": query, "k": 10});
    if let Some(user) = user {
        body["user_id"] = json!(user);
    }
    let found = json_of(
        app.post(
            &format!("/v1/characters/{character}/memories/search"),
            key,
            body,
        )
        .await,
    )
    .await;
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["memory"]["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_exported_character_imports_with_its_memories_people_and_sessions() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let ada = json_of(
        app.post(
            "/v1/characters",
            &key,
            json!({"name": "Ada", "persona": "A retired sea captain.", "traits": {"brave": true}}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let memories = format!("/v1/characters/{ada}/memories");
    for body in [
        json!({"kind": "episodic", "content": "A storm wrecked the old lighthouse.", "importance": 0.9}),
        json!({"kind": "biographical", "content": "Sam is afraid of deep water.", "user_id": "sam"}),
    ] {
        assert_eq!(
            app.post(&memories, &key, body).await.status(),
            StatusCode::CREATED
        );
    }
    let session = json_of(
        app.post(
            &format!("/v1/characters/{ada}/sessions"),
            &key,
            json!({"user_id": "sam", "user_name": "Sam"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.say(&key, &session, "My boat is called the Petrel.")
        .await;

    let response = app
        .get(&format!("/v1/characters/{ada}/export?sessions=true"), &key)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let archive = json_of(response).await;
    assert_eq!(archive["format"], "virlife.character.v1");
    assert_eq!(archive["character"]["traits"]["brave"], true);
    assert_eq!(
        archive["memories"].as_array().unwrap().len(),
        3,
        "{archive}"
    );
    assert_eq!(archive["sessions"][0]["user_id"], "sam");
    assert_eq!(
        archive["sessions"][0]["messages"].as_array().unwrap().len(),
        2
    );
    let without = json_of(app.get(&format!("/v1/characters/{ada}/export"), &key).await).await;
    assert!(
        without.get("sessions").is_none_or(Value::is_null),
        "{without}"
    );

    // Into another tenant: a new character, the same memory and people.
    let other = app.tenant_key("globex").await;
    let imported = app
        .post("/v1/characters/import", &other, archive.clone())
        .await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let copy = json_of(imported).await;
    let copy_id = copy["id"].as_str().unwrap().to_owned();
    assert_ne!(copy_id, ada);
    assert_eq!(copy["persona"], "A retired sea captain.");
    let again = json_of(
        app.get(
            &format!("/v1/characters/{copy_id}/export?sessions=true"),
            &other,
        )
        .await,
    )
    .await;
    let strip = |archive: &Value| {
        let mut archive = archive.clone();
        for session in archive["sessions"].as_array_mut().unwrap() {
            session.as_object_mut().unwrap().remove("metadata");
        }
        archive
    };
    assert_eq!(
        strip(&again),
        strip(&archive),
        "the round trip keeps everything"
    );
    for (query, user) in [
        ("storm lighthouse", None),
        ("deep water", Some("sam")),
        ("my boat", Some("alex")),
    ] {
        assert_eq!(
            search(&app, &other, &copy_id, query, user).await,
            search(&app, &key, &ada, query, user).await,
            "{query} as {user:?}"
        );
    }
    // The original tenant cannot see the copy.
    assert_problem(
        app.get(&format!("/v1/characters/{copy_id}/export"), &key)
            .await,
        404,
    )
    .await;

    let mut wrong = archive;
    wrong["format"] = json!("something.else");
    let problem = assert_problem(app.post("/v1/characters/import", &key, wrong).await, 400).await;
    assert_eq!(problem["field"], "format");
}

#[tokio::test]
async fn a_tavern_card_becomes_a_persona_and_memories() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let card = json!({
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Mira",
            "description": "{{char}} is a lighthouse keeper on a windy island.",
            "personality": "Gruff, kind, superstitious.",
            "scenario": "{{user}} washes ashore after a storm.",
            "first_mes": "*{{char}} squints at you.* Another one the sea spat out.",
            "mes_example": "<START>\n{{user}}: Hello?\n{{char}}: Mind the rocks.",
            "creator_notes": "Works best with slow burns.",
            "tags": ["fantasy", "sea"],
            "alternate_greetings": ["Ignored field"],
            "extensions": {}
        }
    });
    let response = app
        .post("/v1/characters/import/tavern-card", &key, card.clone())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let mira = json_of(response).await;
    let persona = mira["persona"].as_str().unwrap();
    assert!(
        persona.starts_with("Mira is a lighthouse keeper"),
        "{persona}"
    );
    assert!(persona.contains("Personality: Gruff"), "{persona}");
    assert!(
        persona.contains("Scenario: the user washes ashore"),
        "{persona}"
    );
    assert_eq!(mira["traits"]["tags"], json!(["fantasy", "sea"]));
    let id = mira["id"].as_str().unwrap();
    let listed = json_of(
        app.get(&format!("/v1/characters/{id}/memories"), &key)
            .await,
    )
    .await;
    let contents: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.len(), 2, "{contents:?}");
    assert!(contents[0].contains("Mira squints at you"), "{contents:?}");
    assert!(contents[1].contains("Mind the rocks"), "{contents:?}");
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["scope"] == "world")
    );

    let mut v1 = card;
    v1["spec"] = json!("chara_card_v1");
    let problem = assert_problem(
        app.post("/v1/characters/import/tavern-card", &key, v1)
            .await,
        400,
    )
    .await;
    assert_eq!(problem["field"], "spec");
}
