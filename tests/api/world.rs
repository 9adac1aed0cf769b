//! The World Engine over HTTP: places and who is there, world events that
//! only witnesses remember, world time, relationships and inner state that
//! cognition changes (validated) and the next prompt carries, and tenant
//! isolation on every route of it.

use crate::helpers::{TestApp, assert_problem, id_of, json_of, spawn_app, spawn_with};
use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use virlife::adapters::offline_llm::OfflineLlm;
use virlife::core::ports::{
    ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest, RenderRequest,
};

type Answer = dyn Fn(&ReflectRequest) -> String + Send + Sync;

/// The offline renderer and embeddings, with a scripted cognition model;
/// remembers every render request and every cognition request.
struct WorldLlm {
    offline: OfflineLlm,
    answer: Box<Answer>,
    renders: Mutex<Vec<String>>,
    reflections: Mutex<Vec<ReflectRequest>>,
}

impl WorldLlm {
    fn new(answer: impl Fn(&ReflectRequest) -> String + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            offline: OfflineLlm::new(256),
            answer: Box::new(answer),
            renders: Mutex::default(),
            reflections: Mutex::default(),
        })
    }
    fn last_render(&self) -> String {
        self.renders.lock().unwrap().last().cloned().unwrap()
    }
}

#[async_trait]
impl Llm for WorldLlm {
    fn describe(&self) -> LlmDescription {
        self.offline.describe()
    }
    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        self.renders.lock().unwrap().push(format!("{request:?}"));
        self.offline.render(request).await
    }
    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        self.renders.lock().unwrap().push(format!("{request:?}"));
        self.offline.render_stream(request).await
    }
    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        self.reflections.lock().unwrap().push(request.clone());
        let mut completion = self.offline.reflect(request).await?;
        completion.text = (self.answer)(request);
        Ok(completion)
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.offline.embed(texts).await
    }
}

fn same_time(value: &Value, expected: &str) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    parse(value.as_str().unwrap()) == parse(expected)
}

async fn created(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await
}

async fn place(app: &TestApp, key: &str, name: &str, parent: Option<&str>) -> String {
    created(
        app.post(
            "/v1/places",
            key,
            json!({"name": name, "description": format!("{name}, as you see it"), "parent_id": parent}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn named_character(app: &TestApp, key: &str, name: &str) -> String {
    let response = app
        .post(
            "/v1/characters",
            key,
            json!({"name": name, "persona": format!("{name}, who lives in the port town.")}),
        )
        .await;
    id_of(created_ok(response).await).await
}

async fn created_ok(response: reqwest::Response) -> reqwest::Response {
    assert_eq!(response.status(), StatusCode::CREATED);
    response
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn session_with(app: &TestApp, key: &str, character: &str, user: &str) -> String {
    id_of(
        created_ok(
            app.post(
                &format!("/v1/characters/{character}/sessions"),
                key,
                json!({"user_id": user, "user_name": user}),
            )
            .await,
        )
        .await,
    )
    .await
}

/// A town with a tavern (with a back room) and a harbour; the barkeep in
/// the tavern, the sailor at the harbour.
struct Town {
    key: String,
    town: String,
    tavern: String,
    back_room: String,
    harbour: String,
    barkeep: String,
    sailor: String,
}

async fn town(app: &TestApp) -> Town {
    let key = app.tenant_key("acme").await;
    let town = place(app, &key, "Port Vell", None).await;
    let tavern = place(app, &key, "The Salty Dog", Some(&town)).await;
    let back_room = place(app, &key, "The back room", Some(&tavern)).await;
    let harbour = place(app, &key, "The harbour", Some(&town)).await;
    let barkeep = named_character(app, &key, "Mira").await;
    let sailor = named_character(app, &key, "Bram").await;
    let moved = app
        .post(
            &format!("/v1/characters/{barkeep}/move"),
            &key,
            json!({"place_id": tavern}),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved = json_of(moved).await;
    assert_eq!(moved["character"]["place_id"], tavern.as_str());
    assert_eq!(moved["memory"]["content"], "I went to The Salty Dog.");
    assert_eq!(moved["memory"]["scope"], "world");
    let patched = app
        .patch(
            &format!("/v1/characters/{sailor}"),
            &key,
            json!({"place_id": harbour}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    Town {
        key,
        town,
        tavern,
        back_room,
        harbour,
        barkeep,
        sailor,
    }
}

#[tokio::test]
async fn places_nest_and_say_who_is_there() {
    let app = spawn_app().await;
    let t = town(&app).await;
    let key = &t.key;
    let at = |place: &str, nested: bool| {
        format!("/v1/places/{place}/characters?include_nested={nested}")
    };
    let tavern = json_of(app.get(&at(&t.tavern, false), key).await).await;
    assert_eq!(ids(&tavern), vec![t.barkeep.clone()]);
    let town_only = json_of(app.get(&at(&t.town, false), key).await).await;
    assert!(ids(&town_only).is_empty());
    let whole_town = json_of(app.get(&at(&t.town, true), key).await).await;
    let mut expected = vec![t.barkeep.clone(), t.sailor.clone()];
    expected.sort();
    assert_eq!(ids(&whole_town), expected);
    let inside = json_of(
        app.get(&format!("/v1/places?parent_id={}", t.town), key)
            .await,
    )
    .await;
    assert_eq!(ids(&inside), vec![t.tavern.clone(), t.harbour.clone()]);

    // A place cannot go inside itself or a place nested in it.
    let cycle = app
        .patch(
            &format!("/v1/places/{}", t.tavern),
            key,
            json!({"parent_id": t.back_room}),
        )
        .await;
    assert_eq!(assert_problem(cycle, 400).await["field"], "parent_id");
    let unknown_parent = app
        .post(
            "/v1/places",
            key,
            json!({"name": "Nowhere", "parent_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(
        assert_problem(unknown_parent, 400).await["field"],
        "parent_id"
    );
    let renamed = json_of(
        app.patch(
            &format!("/v1/places/{}", t.back_room),
            key,
            json!({"name": "The cellar", "parent_id": null}),
        )
        .await,
    )
    .await;
    assert_eq!(renamed["name"], "The cellar");
    assert!(renamed.get("parent_id").is_none());

    // Moving out of every place is remembered too; staying put is refused
    // only when there is nowhere to leave.
    let left = json_of(
        app.post(
            &format!("/v1/characters/{}/move", t.sailor),
            key,
            json!({"place_id": null}),
        )
        .await,
    )
    .await;
    assert_eq!(left["memory"]["content"], "I left The harbour.");
    let nowhere = app
        .post(
            &format!("/v1/characters/{}/move", t.sailor),
            key,
            json!({"place_id": null}),
        )
        .await;
    assert_eq!(assert_problem(nowhere, 400).await["field"], "place_id");

    // Deleting a place lets go of the characters in it.
    assert_eq!(
        app.delete(&format!("/v1/places/{}", t.tavern), key)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let barkeep = json_of(app.get(&format!("/v1/characters/{}", t.barkeep), key).await).await;
    assert!(barkeep.get("place_id").is_none(), "{barkeep}");
    assert_problem(app.get(&format!("/v1/places/{}", t.tavern), key).await, 404).await;
}

#[tokio::test]
async fn a_tavern_brawl_is_remembered_in_the_tavern_not_at_the_harbour() {
    let llm = WorldLlm::new(|_| r#"{"facts": []}"#.to_owned());
    let app = spawn_with(&[], Some(llm.clone())).await;
    let t = town(&app).await;
    let key = &t.key;
    let brawl = created(
        app.post(
            "/v1/events",
            key,
            json!({
                "description": "A brawl broke out over a card game; a chair went through the window.",
                "place_id": t.tavern,
                "importance": 0.3,
                "occurred_at": "2026-05-01T21:30:00Z"
            }),
        )
        .await,
    )
    .await;
    let witnesses = brawl["witnesses"].as_array().unwrap();
    assert_eq!(witnesses.len(), 1, "{brawl}");
    assert_eq!(witnesses[0]["character_id"], t.barkeep.as_str());
    assert!(same_time(&brawl["occurred_at"], "2026-05-01T21:30:00Z"));

    // The event shows who perceived it; the barkeep's memory links to it.
    let shown = json_of(
        app.get(
            &format!("/v1/events/{}", brawl["id"].as_str().unwrap()),
            key,
        )
        .await,
    )
    .await;
    assert_eq!(shown["witnesses"], brawl["witnesses"]);
    let memories = json_of(
        app.get(&format!("/v1/characters/{}/memories", t.barkeep), key)
            .await,
    )
    .await;
    let remembered: Vec<&Value> = memories["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["event_id"] == brawl["id"])
        .collect();
    assert_eq!(remembered.len(), 1);
    assert_eq!(remembered[0]["id"], witnesses[0]["memory_id"]);
    assert_eq!(remembered[0]["scope"], "world");
    assert_eq!(remembered[0]["kind"], "episodic");
    assert!(same_time(
        &remembered[0]["occurred_at"],
        "2026-05-01T21:30:00Z"
    ));
    let sailor_memories = json_of(
        app.get(&format!("/v1/characters/{}/memories", t.sailor), key)
            .await,
    )
    .await;
    assert!(
        !sailor_memories.to_string().contains("brawl"),
        "{sailor_memories}"
    );

    // Asked about it, the barkeep recalls it; the sailor has nothing to recall.
    let question = "Tell me about the brawl over the card game";
    let barkeep_session = session_with(&app, key, &t.barkeep, "sam").await;
    app.say(key, &barkeep_session, question).await;
    assert!(llm.last_render().contains("chair went through the window"));
    assert!(
        llm.last_render().contains("2026-05-01"),
        "the world date is in the prompt"
    );
    let sailor_session = session_with(&app, key, &t.sailor, "sam").await;
    app.say(key, &sailor_session, question).await;
    assert!(!llm.last_render().contains("chair went through the window"));

    // Nested places when asked; explicit witnesses anywhere.
    let cellar = created(
        app.post(
            "/v1/events",
            key,
            json!({"description": "Rats in the cellar", "place_id": t.town, "include_nested": true, "importance": 0.2}),
        )
        .await,
    )
    .await;
    assert_eq!(cellar["witnesses"].as_array().unwrap().len(), 2);
    let told = created(
        app.post(
            "/v1/events",
            key,
            json!({"description": "A letter arrived for Bram", "witnesses": [t.sailor], "importance": 0.2,
                   "occurred_at": "2026-04-01T09:00:00Z"}),
        )
        .await,
    )
    .await;
    assert_eq!(told["witnesses"][0]["character_id"], t.sailor.as_str());
    let nobody = app
        .post("/v1/events", key, json!({"description": "Thunder"}))
        .await;
    assert_eq!(assert_problem(nobody, 400).await["field"], "witnesses");
    let too_early = app
        .post(
            "/v1/events",
            key,
            json!({"description": "Thunder", "witnesses": [t.sailor], "occurred_at": "1900-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(assert_problem(too_early, 400).await["field"], "occurred_at");

    // Lists follow world time: the April letter before the May brawl,
    // though it was recorded after it.
    let all = json_of(app.get("/v1/events", key).await).await;
    let order = ids(&all);
    let letter = order
        .iter()
        .position(|id| id == told["id"].as_str().unwrap());
    let fight = order
        .iter()
        .position(|id| id == brawl["id"].as_str().unwrap());
    assert!(letter < fight, "{all}");
    let in_tavern = json_of(
        app.get(&format!("/v1/events?place_id={}", t.tavern), key)
            .await,
    )
    .await;
    assert_eq!(
        ids(&in_tavern),
        vec![brawl["id"].as_str().unwrap().to_owned()]
    );
    assert!(in_tavern["items"][0].get("witnesses").is_none());
}

#[tokio::test]
async fn a_hostile_turn_lowers_affinity_and_the_next_prompt_carries_it() {
    // The cognition model reads the transcript; a threat sours the relationship.
    let llm = WorldLlm::new(|request| {
        let said = format!("{:?}", request.transcript);
        if said.contains("burn your tavern") {
            json!({
                "facts": [],
                "relationship": {"affinity": -0.6, "trust": -0.4, "note": "threatened to burn the tavern"},
                "state": {"mood": "wary", "goals": ["keep Sam out of the tavern"]}
            })
            .to_string()
        } else {
            r#"{"facts": []}"#.to_owned()
        }
    });
    let app = spawn_with(&[], Some(llm.clone())).await;
    let t = town(&app).await;
    let key = &t.key;
    let sam = session_with(&app, key, &t.barkeep, "sam").await;
    app.say(
        key,
        &sam,
        "Pour me a drink or I will burn your tavern down.",
    )
    .await;
    assert!(llm.last_render().contains("relationship: None"));

    let job = app.reflect(key, &t.barkeep).await;
    let job = app.wait_for_job(key, &job).await;
    assert_eq!(job["status"], "done", "{job}");
    let asked = llm.reflections.lock().unwrap().last().cloned().unwrap();
    assert_eq!(asked.bearing.relationship, None, "no relationship before");

    let relationships = json_of(
        app.get(&format!("/v1/characters/{}/relationships", t.barkeep), key)
            .await,
    )
    .await;
    let with_sam = &relationships["items"][0];
    assert_eq!(with_sam["user_id"], "sam");
    assert_eq!(with_sam["affinity"], -0.6);
    assert_eq!(with_sam["trust"], -0.4);
    assert_eq!(with_sam["history"][0]["cause"], "cognition");
    let state = json_of(
        app.get(&format!("/v1/characters/{}/state", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(state["mood"], "wary");

    // The next turn with Sam carries it; a turn with someone else does not.
    app.say(key, &sam, "So, about that drink?").await;
    let prompt = llm.last_render();
    assert!(prompt.contains("affinity: -0.6"), "{prompt}");
    assert!(prompt.contains("threatened to burn the tavern"), "{prompt}");
    assert!(prompt.contains("mood: Some(\"wary\")"), "{prompt}");
    let alex = session_with(&app, key, &t.barkeep, "alex").await;
    app.say(key, &alex, "Evening!").await;
    let prompt = llm.last_render();
    assert!(prompt.contains("relationship: None"), "{prompt}");
    assert!(!prompt.contains("threatened"), "{prompt}");

    // Erasing Sam erases what the barkeep feels about Sam.
    let erased = app.delete("/v1/users/sam", key).await;
    assert!(erased.status().is_success(), "{}", erased.status());
    let relationships = json_of(
        app.get(&format!("/v1/characters/{}/relationships", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(relationships["items"], json!([]));
}

#[tokio::test]
async fn cognition_output_is_validated_repaired_once_and_otherwise_rejected() {
    // First answer out of range; the repair (which is told why) fixes it.
    let llm = WorldLlm::new(|request| {
        if request.repair.is_some() {
            assert!(
                request
                    .problems
                    .iter()
                    .any(|p| p.starts_with("relationship: affinity")),
                "{:?}",
                request.problems
            );
            json!({"relationship": {"affinity": -0.9}}).to_string()
        } else {
            json!({"relationship": {"affinity": -9}}).to_string()
        }
    });
    let app = spawn_with(&[], Some(llm.clone())).await;
    let t = town(&app).await;
    let key = &t.key;
    let session = session_with(&app, key, &t.barkeep, "sam").await;
    app.say(key, &session, "Hello there.").await;
    let job = app.reflect(key, &t.barkeep).await;
    assert_eq!(app.wait_for_job(key, &job).await["status"], "done");
    let relationships = json_of(
        app.get(&format!("/v1/characters/{}/relationships", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(relationships["items"][0]["affinity"], -0.9);

    // Still wrong after the repair: nothing of it is stored; the job says why.
    let llm = WorldLlm::new(|_| {
        json!({"relationship": {"affinity": "very low"}, "state": {"goals": "all of them"}})
            .to_string()
    });
    let app = spawn_with(&[], Some(llm.clone())).await;
    let t = town(&app).await;
    let key = &t.key;
    let session = session_with(&app, key, &t.barkeep, "sam").await;
    app.say(key, &session, "Hello there.").await;
    let job = app.reflect(key, &t.barkeep).await;
    let job = app.wait_for_job(key, &job).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(llm.reflections.lock().unwrap().len(), 2, "one repair asked");
    let rejected = job["result"]["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{job}");
    let relationships = json_of(
        app.get(&format!("/v1/characters/{}/relationships", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(relationships["items"], json!([]));
    let state = json_of(
        app.get(&format!("/v1/characters/{}/state", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(state["goals"], json!([]));
}

#[tokio::test]
async fn witnessed_events_are_appraised_into_feelings_toward_other_characters() {
    let llm = WorldLlm::new(|request| {
        if request.events.iter().any(|e| e.contains("Bram stole")) {
            json!({
                "characters": [{"name": "Bram", "affinity": -0.5, "trust": -0.8, "note": "stole from the till"}],
                "state": {"mood": "angry"}
            })
            .to_string()
        } else {
            r#"{"facts": []}"#.to_owned()
        }
    });
    // No cooldown: the second reflection below runs whatever the first did.
    let app = spawn_with(&[("COGNITION_COOLDOWN_SECONDS", "0")], Some(llm.clone())).await;
    let t = town(&app).await;
    let key = &t.key;
    created(
        app.post(
            "/v1/events",
            key,
            json!({"description": "Bram stole coins from the till", "place_id": t.tavern, "importance": 0.8}),
        )
        .await,
    )
    .await;
    // An important event queues the witness's appraisal itself.
    let mut relationships = Value::Null;
    for _ in 0..200 {
        relationships = json_of(
            app.get(&format!("/v1/characters/{}/relationships", t.barkeep), key)
                .await,
        )
        .await;
        if !relationships["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let with_bram = &relationships["items"][0];
    assert_eq!(
        with_bram["character_id"],
        t.sailor.as_str(),
        "{relationships}"
    );
    assert_eq!(with_bram["trust"], -0.8);
    let state = json_of(
        app.get(&format!("/v1/characters/{}/state", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(state["mood"], "angry");
    // The events were read once: a second reflection does not read them again.
    let job = app.reflect(key, &t.barkeep).await;
    let _ = app.wait_for_job(key, &job).await;
    let appraisals = llm
        .reflections
        .lock()
        .unwrap()
        .iter()
        .filter(|r| !r.events.is_empty())
        .count();
    assert_eq!(appraisals, 1);
}

#[tokio::test]
async fn game_logic_sets_relationships_and_state_with_bounded_history() {
    let app = spawn_app().await;
    let t = town(&app).await;
    let key = &t.key;
    let path = format!("/v1/characters/{}/relationships", t.barkeep);
    let set = json_of(
        app.patch(
            &path,
            key,
            json!({"character_id": t.sailor, "trust": 0.9, "note": "old friend"}),
        )
        .await,
    )
    .await;
    assert_eq!(set["character_id"], t.sailor.as_str());
    assert_eq!(set["trust"], 0.9);
    assert_eq!(set["affinity"], 0.0);
    assert_eq!(set["history"][0]["cause"], "api");
    let both = app
        .patch(
            &path,
            key,
            json!({"user_id": "sam", "character_id": t.sailor}),
        )
        .await;
    assert_eq!(assert_problem(both, 400).await["field"], "user_id");
    let out_of_range = app
        .patch(&path, key, json!({"user_id": "sam", "affinity": 2}))
        .await;
    assert_eq!(assert_problem(out_of_range, 400).await["field"], "affinity");
    let stranger = app
        .patch(
            &path,
            key,
            json!({"character_id": uuid::Uuid::now_v7(), "trust": 0.1}),
        )
        .await;
    assert_problem(stranger, 404).await;

    let state_path = format!("/v1/characters/{}/state", t.barkeep);
    let blank = json_of(app.get(&state_path, key).await).await;
    assert_eq!(blank["mood"], "");
    for i in 0..25 {
        let response = app
            .patch(
                &state_path,
                key,
                json!({"mood": format!("mood {i}"), "goals": ["serve drinks"]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let state = json_of(app.get(&state_path, key).await).await;
    assert_eq!(state["mood"], "mood 24");
    assert_eq!(state["goals"], json!(["serve drinks"]));
    assert_eq!(state["history"].as_array().unwrap().len(), 20);
    assert_eq!(state["history"][19]["mood"], "mood 24");
}

#[tokio::test]
async fn another_tenant_sees_none_of_the_world() {
    let app = spawn_app().await;
    let t = town(&app).await;
    let key = &t.key;
    let event = created(
        app.post(
            "/v1/events",
            key,
            json!({"description": "Fog", "place_id": t.harbour}),
        )
        .await,
    )
    .await;
    let event = event["id"].as_str().unwrap();
    let other = app.tenant_key("rival").await;
    let theirs = named_character(&app, &other, "Spy").await;
    let paths = [
        format!("/v1/places/{}", t.tavern),
        format!("/v1/places/{}/characters", t.tavern),
        format!("/v1/events/{event}"),
        format!("/v1/events?place_id={}", t.tavern),
        format!("/v1/places?parent_id={}", t.town),
        format!("/v1/characters/{}/relationships", t.barkeep),
        format!("/v1/characters/{}/state", t.barkeep),
    ];
    for path in &paths {
        assert_problem(app.get(path, &other).await, 404).await;
    }
    assert_eq!(
        json_of(app.get("/v1/places", &other).await).await["items"],
        json!([])
    );
    assert_eq!(
        json_of(app.get("/v1/events", &other).await).await["items"],
        json!([])
    );
    let writes = [
        app.patch(
            &format!("/v1/places/{}", t.tavern),
            &other,
            json!({"name": "Mine"}),
        )
        .await,
        app.delete(&format!("/v1/places/{}", t.tavern), &other)
            .await,
        app.post(
            "/v1/places",
            &other,
            json!({"name": "Annex", "parent_id": t.town}),
        )
        .await,
        app.post(
            "/v1/events",
            &other,
            json!({"description": "Sabotage", "place_id": t.tavern}),
        )
        .await,
        app.post(
            "/v1/events",
            &other,
            json!({"description": "Sabotage", "witnesses": [t.barkeep]}),
        )
        .await,
        app.post(
            &format!("/v1/characters/{}/move", t.barkeep),
            &other,
            json!({"place_id": null}),
        )
        .await,
        app.post(
            &format!("/v1/characters/{theirs}/move"),
            &other,
            json!({"place_id": t.tavern}),
        )
        .await,
        app.patch(
            &format!("/v1/characters/{theirs}"),
            &other,
            json!({"place_id": t.tavern}),
        )
        .await,
        app.patch(
            &format!("/v1/characters/{}/relationships", t.barkeep),
            &other,
            json!({"user_id": "x", "trust": 1}),
        )
        .await,
        app.patch(
            &format!("/v1/characters/{theirs}/relationships"),
            &other,
            json!({"character_id": t.barkeep, "trust": 1}),
        )
        .await,
        app.patch(
            &format!("/v1/characters/{}/state", t.barkeep),
            &other,
            json!({"mood": "owned"}),
        )
        .await,
    ];
    for response in writes {
        let status = response.status().as_u16();
        // A foreign parent place is named as a field (400); everything else is 404.
        assert!(status == 404 || status == 400, "{status}");
        assert_ne!(status, 403);
    }
    // Nothing of theirs changed.
    let tavern = json_of(app.get(&format!("/v1/places/{}", t.tavern), key).await).await;
    assert_eq!(tavern["name"], "The Salty Dog");
    let here = json_of(
        app.get(&format!("/v1/places/{}/characters", t.tavern), key)
            .await,
    )
    .await;
    assert_eq!(ids(&here), vec![t.barkeep.clone()]);
    let state = json_of(
        app.get(&format!("/v1/characters/{}/state", t.barkeep), key)
            .await,
    )
    .await;
    assert_eq!(state["mood"], "");
}
