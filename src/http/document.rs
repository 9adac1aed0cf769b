//! The OpenAPI document as client authors want it, made once from what
//! poem-openapi generates: each operation lists only the error statuses it
//! can answer with, the main request bodies carry an example, and the turn
//! stream is documented event by event. `/openapi.json`, `/docs` and
//! `virlife openapi` (the committed `openapi/openapi.json`) all serve this.

use serde_json::{Value, json};

/// Every `/v1` operation may meet these: no or an unknown key (401), the
/// wrong kind of key (403), the rate limit (429), an unexpected failure
/// (500) and the database down (503).
const EVERY_OPERATION: &[u16] = &[401, 403, 429, 500, 503];

/// Beyond the rules in `statuses_of`: what particular operations add.
const PARTICULAR: &[(&str, &[u16])] = &[
    // A turn calls the model (502, 504) and honours Idempotency-Key: a key
    // still in flight (409) or reused for another message (422).
    ("sendMessage", &[409, 422, 502, 504]),
    ("streamMessage", &[409, 422, 502, 504]),
    ("createChatCompletion", &[404, 502, 504]),
    // Forming a memory embeds it.
    ("addMemory", &[502, 504]),
    ("recordEvent", &[502, 504]),
    ("importCharacter", &[502, 504]),
    ("importTavernCard", &[502, 504]),
    // A place or witness named in the body or query may not be there;
    // every witness's memory embeds the description; too many characters
    // at a place without a list of witnesses (422).
    ("recordWorldEvent", &[404, 422, 502, 504]),
    ("listWorldEvents", &[404]),
    ("listPlaces", &[404]),
    // The move is remembered (embedded).
    ("moveCharacter", &[502, 504]),
];

/// Request examples: what a first call looks like.
fn example_of(operation: &str) -> Option<Value> {
    Some(match operation {
        "createApiKey" => json!({"tenant": "acme", "name": "game-server"}),
        "createCharacter" => json!({
            "name": "Ada",
            "persona": "A retired sea captain who speaks in short, salty sentences.",
            "traits": {"mood": "wry"}
        }),
        "updateCharacter" => json!({"persona": "A retired sea captain, now the harbour master."}),
        "createSession" => json!({"user_id": "player-42", "user_name": "Sam"}),
        "sendMessage" | "streamMessage" => json!({"content": "Do you remember my boat?"}),
        "addMemory" => json!({
            "kind": "biographical",
            "content": "Sam's boat is called the Petrel.",
            "user_id": "player-42",
            "importance": 0.8
        }),
        "recordEvent" => {
            json!({"description": "A storm tore the harbour flag away at dawn.", "importance": 0.6})
        }
        "createPlace" => json!({
            "name": "The Salty Dog",
            "description": "A low-beamed tavern by the harbour.",
        }),
        "moveCharacter" => json!({"place_id": "0192f5e4-7c1a-7d3e-9b1a-3c5d7e9f1a2b"}),
        "recordWorldEvent" => json!({
            "description": "A brawl broke out over a card game.",
            "place_id": "0192f5e4-7c1a-7d3e-9b1a-3c5d7e9f1a2b",
            "importance": 0.7,
            "occurred_at": "2026-05-01T21:30:00Z"
        }),
        "updateRelationship" => {
            json!({"user_id": "player-42", "affinity": -0.4, "note": "owes the bar money"})
        }
        "updateInnerState" => json!({"mood": "wary", "goals": ["keep the peace tonight"]}),
        "searchMemories" => json!({"query": "Sam's boat", "k": 5, "user_id": "player-42"}),
        "createChatCompletion" => json!({
            "model": "Ada",
            "user": "player-42",
            "messages": [{"role": "user", "content": "What is my boat called?"}]
        }),
        _ => return None,
    })
}

/// The document, pretty-printed (what `virlife openapi` prints).
pub fn document(generated: &str) -> String {
    let mut document: Value = match serde_json::from_str(generated) {
        Ok(value) => value,
        Err(_) => return generated.to_owned(),
    };
    plain_enum_references(&mut document);
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, operations) in paths.iter_mut() {
            let Some(operations) = operations.as_object_mut() else {
                continue;
            };
            for (method, operation) in operations.iter_mut() {
                refine(path, method, operation);
            }
        }
    }
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| generated.to_owned())
}

/// poem-openapi wraps a described field of an enum type as `allOf: [{$ref},
/// {description}]`; client generators (openapi-python-client among them)
/// cannot take `allOf` of a non-object. Such a field becomes the plain
/// reference, its description beside it.
fn plain_enum_references(document: &mut Value) {
    let enums: Vec<String> = document["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .filter(|(_, schema)| schema.get("enum").is_some())
                .map(|(name, _)| format!("#/components/schemas/{name}"))
                .collect()
        })
        .unwrap_or_default();
    fn visit(value: &mut Value, enums: &[String]) {
        match value {
            Value::Object(map) => {
                let reference = map
                    .get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|parts| match parts.as_slice() {
                        [first, rest @ ..]
                            if rest.iter().all(|p| {
                                p.as_object()
                                    .is_some_and(|p| p.keys().all(|k| k == "description"))
                            }) =>
                        {
                            first["$ref"].as_str().map(str::to_owned)
                        }
                        _ => None,
                    })
                    .filter(|reference| enums.contains(reference));
                if let Some(reference) = reference {
                    map.remove("allOf");
                    map.insert("$ref".into(), Value::String(reference));
                }
                map.values_mut().for_each(|v| visit(v, enums));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| visit(v, enums)),
            _ => {}
        }
    }
    visit(document, &enums);
}

fn refine(path: &str, method: &str, operation: &mut Value) {
    let id = operation["operationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if path.starts_with("/v1/") {
        let allowed = statuses_of(path, method, &id, operation);
        if let Some(responses) = operation["responses"].as_object_mut() {
            responses.retain(|status, _| match status.parse::<u16>() {
                Ok(code) if code >= 400 => allowed.contains(&code),
                _ => true,
            });
        }
    }
    if let Some(example) = example_of(&id)
        && let Some(content) = operation["requestBody"]["content"].as_object_mut()
    {
        for media in content.values_mut() {
            media["example"] = example.clone();
        }
    }
    if id == "streamMessage" {
        document_stream(operation);
    }
}

/// The error statuses an operation can answer with.
fn statuses_of(path: &str, method: &str, id: &str, operation: &Value) -> Vec<u16> {
    let mut statuses = EVERY_OPERATION.to_vec();
    let has_body = operation.get("requestBody").is_some();
    let has_parameters = operation["parameters"]
        .as_array()
        .is_some_and(|p| !p.is_empty());
    // A malformed body, parameter or id.
    if has_body || has_parameters {
        statuses.push(400);
    }
    // An id in the path names something that may not be there (or is
    // another tenant's). A person's id is not looked up: erasing one who
    // left nothing erases nothing.
    if path.contains("{id}") || path.contains("{memory_id}") {
        statuses.push(404);
    }
    if has_body {
        statuses.push(415);
    }
    // Any body over MAX_BODY_BYTES, documented or not, is refused first.
    if matches!(method, "post" | "patch" | "put") {
        statuses.push(413);
    }
    if let Some((_, more)) = PARTICULAR.iter().find(|(name, _)| *name == id) {
        statuses.extend(more.iter().copied());
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// The turn stream, event by event: the schema of each server-sent event,
/// read as an object `{event, data}` (what `tests/fuzz_hooks.py` hands
/// schemathesis, which checks every event of every stream against it).
fn document_stream(operation: &mut Value) {
    let event = |name: &str, data: Value| {
        json!({
            "type": "object",
            "required": ["event", "data"],
            "properties": {"event": {"type": "string", "enum": [name]}, "data": data}
        })
    };
    // The schema of one event (how schemathesis reads an event stream's).
    let events = json!({"oneOf": [
        event("memories", json!({
            "type": "object",
            "required": ["memories"],
            "properties": {"memories": {"type": "array", "items": {"$ref": "#/components/schemas/ScoredMemoryDto"}}}
        })),
        event("delta", json!({
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string"}}
        })),
        event("done", json!({"$ref": "#/components/schemas/TurnDto"})),
        event("error", json!({"$ref": "#/components/schemas/Problem"})),
    ]});
    if let Some(content) = operation["responses"]["200"]["content"].as_object_mut() {
        for (media, body) in content.iter_mut() {
            if media.starts_with("text/event-stream") {
                body["schema"] = events.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_lists_only_what_it_can_answer() {
        let doc: Value = serde_json::from_str(&document(&super::super::generated_spec())).unwrap();
        let statuses = |path: &str, method: &str| -> Vec<String> {
            let mut codes: Vec<String> = doc["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            codes.sort();
            codes
        };
        assert_eq!(
            statuses("/v1/characters", "get"),
            ["200", "400", "401", "403", "429", "500", "503"]
        );
        assert_eq!(
            statuses("/v1/models", "get"),
            ["200", "401", "403", "429", "500", "503"]
        );
        let turn = statuses("/v1/sessions/{id}/messages", "post");
        for code in ["404", "409", "413", "422", "502", "504"] {
            assert!(turn.contains(&code.to_owned()), "{turn:?}");
        }
        assert!(!statuses("/v1/characters/{id}", "get").contains(&"502".to_owned()));
        assert_eq!(statuses("/health", "get"), ["200", "503"]);
        let example = &doc["paths"]["/v1/characters"]["post"]["requestBody"]["content"]["application/json; charset=utf-8"]
            ["example"];
        assert_eq!(example["name"], "Ada");
        let stream = &doc["paths"]["/v1/sessions/{id}/messages/stream"]["post"]["responses"]["200"]
            ["content"]["text/event-stream"]["schema"];
        assert_eq!(stream["oneOf"].as_array().unwrap().len(), 4);
    }
}
