use crate::helpers::{ScriptedLlm, assert_problem, json_of, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use virlife::core::ports::LlmError;

#[tokio::test]
async fn memories_are_added_listed_by_kind_searched_by_meaning_and_deleted() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let base = format!("/v1/characters/{character}");
    let sailing = app
        .post(&format!("{base}/memories"), &key, json!({"kind": "biographical", "content": "Sam loves sailing boats", "importance": 0.9}))
        .await;
    assert_eq!(sailing.status(), StatusCode::CREATED);
    let sailing = json_of(sailing).await;
    assert_eq!(sailing["importance"], 0.9);
    let event = app
        .post(
            &format!("{base}/events"),
            &key,
            json!({"description": "A storm flooded the harbour"}),
        )
        .await;
    assert_eq!(event.status(), StatusCode::CREATED);
    let event = json_of(event).await;
    assert_eq!(event["kind"], "episodic");
    assert_eq!(event["source"], "event");

    let biographical = json_of(
        app.get(&format!("{base}/memories?kind=biographical"), &key)
            .await,
    )
    .await;
    assert_eq!(biographical["items"].as_array().unwrap().len(), 1);
    let all = json_of(app.get(&format!("{base}/memories"), &key).await).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    let found = json_of(
        app.post(
            &format!("{base}/memories/search"),
            &key,
            json!({"query": "the harbour storm", "k": 5}),
        )
        .await,
    )
    .await;
    assert_eq!(found["degraded"], false);
    let results = found["results"].as_array().unwrap();
    assert_eq!(results[0]["memory"]["id"], event["id"]);
    assert!(
        results
            .windows(2)
            .all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64())
    );

    let only_bio = json_of(
        app.post(
            &format!("{base}/memories/search"),
            &key,
            json!({"query": "storm sailing", "kind": "biographical"}),
        )
        .await,
    )
    .await;
    assert!(
        only_bio["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["memory"]["kind"] == "biographical")
    );

    let id = sailing["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("{base}/memories/{id}"), &key)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.delete(&format!("{base}/memories/{id}"), &key).await,
        404,
    )
    .await;
    let after = json_of(
        app.post(
            &format!("{base}/memories/search"),
            &key,
            json!({"query": "sailing boats"}),
        )
        .await,
    )
    .await;
    assert!(
        after["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["memory"]["id"] != sailing["id"])
    );
}

#[tokio::test]
async fn reflection_runs_as_a_job_that_writes_biographical_facts_then_cools_down() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "My favourite colour is green.")
        .await;
    let response = app
        .post(
            &format!("/v1/characters/{character}/reflect"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued = json_of(response).await;
    assert_eq!(queued["kind"], "reflect");
    let job = app.wait_for_job(&key, queued["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["attempts"], 1);
    let created = job["result"]["created"].as_array().unwrap();
    assert_eq!(created.len(), 1);
    let facts = json_of(
        app.get(
            &format!("/v1/characters/{character}/memories?kind=biographical"),
            &key,
        )
        .await,
    )
    .await;
    assert_eq!(facts["items"][0]["id"], created[0]);
    assert_eq!(facts["items"][0]["source"], "reflection");
    assert!(
        facts["items"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Sam said: \"My favourite colour is green\"")
    );

    let again = app
        .post(
            &format!("/v1/characters/{character}/reflect"),
            &key,
            json!({}),
        )
        .await;
    let retry_after: u64 = again.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 300);
    assert_problem(again, 429).await;
    // Another tenant cannot read the job.
    let other = app.tenant_key("globex").await;
    assert_problem(
        app.get(
            &format!("/v1/jobs/{}", queued["id"].as_str().unwrap()),
            &other,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn reflection_does_not_repeat_facts_it_already_knows() {
    let app = spawn_with(&[("COGNITION_COOLDOWN_SECONDS", "1")], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "My favourite colour is green.")
        .await;
    let reflect = || async {
        let response = app
            .post(
                &format!("/v1/characters/{character}/reflect"),
                &key,
                json!({}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let queued = json_of(response).await;
        app.wait_for_job(&key, queued["id"].as_str().unwrap()).await
    };
    let first = reflect().await;
    assert_eq!(first["result"]["created"].as_array().unwrap().len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = reflect().await;
    assert!(second["result"]["created"].as_array().unwrap().is_empty());
    assert_eq!(second["result"]["duplicates"], 1);
    let facts = json_of(
        app.get(
            &format!("/v1/characters/{character}/memories?kind=biographical"),
            &key,
        )
        .await,
    )
    .await;
    assert_eq!(facts["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_nth_turn_reflects_in_the_background() {
    let app = spawn_with(&[("COGNITION_EVERY_N_TURNS", "2")], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "My boat is called Petrel.").await;
    app.say(&key, &session, "Nice weather today.").await;
    let path = format!("/v1/characters/{character}/memories?kind=biographical");
    for _ in 0..50 {
        let facts = json_of(app.get(&path, &key).await).await;
        if !facts["items"].as_array().unwrap().is_empty() {
            assert!(
                facts["items"][0]["content"]
                    .as_str()
                    .unwrap()
                    .contains("Petrel")
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no background reflection after the second turn");
}

#[tokio::test]
async fn a_reflection_whose_model_keeps_failing_is_retried_then_stays_failed() {
    let llm = ScriptedLlm::failing_cognition(LlmError::Unavailable(
        "upstream 500 with secret body".into(),
    ));
    let app = spawn_with(&[("JOB_RETRY_BACKOFF_MS", "10")], Some(llm)).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "My boat is called the Petrel.")
        .await;
    let job = app.reflect(&key, &character).await;
    let job = app.wait_for_job(&key, &job).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["attempts"], 3);
    let error = job["last_error"].as_str().unwrap();
    assert!(error.contains("language model is unavailable"), "{error}");
    assert!(!error.contains("secret"), "{error}");
}

#[tokio::test]
async fn a_changed_fact_supersedes_the_old_one_which_search_then_skips() {
    let app = spawn_with(&[("COGNITION_COOLDOWN_SECONDS", "1")], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let reflect = || async {
        let queued = json_of(
            app.post(
                &format!("/v1/characters/{character}/reflect"),
                &key,
                json!({}),
            )
            .await,
        )
        .await;
        app.wait_for_job(&key, queued["id"].as_str().unwrap()).await
    };
    app.say(&key, &session, "My favourite colour is green.")
        .await;
    assert_eq!(
        reflect().await["result"]["created"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.say(&key, &session, "My favourite colour is now blue.")
        .await;
    let second = reflect().await;
    assert_eq!(second["result"]["superseded"], 1, "{second}");

    let facts = json_of(
        app.get(
            &format!("/v1/characters/{character}/memories?kind=biographical"),
            &key,
        )
        .await,
    )
    .await;
    let items = facts["items"].as_array().unwrap();
    let green = items
        .iter()
        .find(|m| m["content"].as_str().unwrap().contains("green"))
        .unwrap();
    let blue = items
        .iter()
        .find(|m| m["content"].as_str().unwrap().contains("blue"))
        .unwrap();
    assert_eq!(green["superseded_by"], blue["id"]);

    let search_path = format!("/v1/characters/{character}/memories/search");
    // Every mode leaves the superseded fact out unless asked for it.
    for mode in ["hybrid", "vector", "lexical"] {
        let search = |include: bool| {
            app.post(
                &search_path,
                &key,
                json!({"query": "favourite colour", "kind": "biographical", "include_superseded": include, "mode": mode}),
            )
        };
        let current = json_of(search(false).await).await;
        let ids: Vec<&Value> = current["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["memory"]["id"])
            .collect();
        assert!(
            ids.contains(&&blue["id"]) && !ids.contains(&&green["id"]),
            "{mode}: {current}"
        );
        let all = json_of(search(true).await).await;
        assert_eq!(all["results"].as_array().unwrap().len(), 2, "{mode}");
    }
    // The new fact names the turns it was drawn from.
    let evidence = blue["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty(), "{blue}");
    let turns = json_of(
        app.get(
            &format!("/v1/characters/{character}/memories?kind=episodic"),
            &key,
        )
        .await,
    )
    .await;
    let first_evidence = turns["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == evidence[0])
        .expect("evidence names a turn memory");
    assert!(
        first_evidence["content"].as_str().unwrap().contains("blue"),
        "{first_evidence}"
    );
}
