//! What the cognition model may answer, and the validation every answer
//! passes before anything in it is stored: facts, the relationship with the
//! person of the transcript, relationships with other characters and the
//! character's inner state. A part that breaks the schema (a wrong type, a
//! value out of range) is named in `problems` and left out; the caller asks
//! the model to repair the answer once and logs what still fails.

use super::inner_state::StateUpdate;
use super::relationship::{Bipolar, RelationshipUpdate};
use super::{Importance, MemoryContent};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The JSON Schema the cognition prompt shows the model; `Appraisal::parse`
/// enforces the same rules.
pub const APPRAISAL_SCHEMA: &str = r#"{"type":"object","properties":{
"facts":{"type":"array","items":{"type":"object","required":["content"],"properties":{"content":{"type":"string","minLength":1},"importance":{"type":"number","minimum":0,"maximum":1},"supersedes":{"type":"string","format":"uuid"}}}},
"relationship":{"type":"object","properties":{"affinity":{"type":"number","minimum":-1,"maximum":1},"trust":{"type":"number","minimum":-1,"maximum":1},"note":{"type":"string","maxLength":500}}},
"characters":{"type":"array","items":{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"affinity":{"type":"number","minimum":-1,"maximum":1},"trust":{"type":"number","minimum":-1,"maximum":1},"note":{"type":"string","maxLength":500}}}},
"state":{"type":"object","properties":{"mood":{"type":"string","maxLength":200},"goals":{"type":"array","maxItems":10,"items":{"type":"string","maxLength":200}}}}}}"#;

#[derive(Debug, Clone, PartialEq)]
pub struct FactDraft {
    pub content: String,
    pub importance: Importance,
    /// A known fact this one updates.
    pub supersedes: Option<Uuid>,
}

/// A validated cognition answer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Appraisal {
    pub facts: Vec<FactDraft>,
    /// With the person whose transcript was read.
    pub relationship: Option<RelationshipUpdate>,
    /// With other characters, by name.
    pub characters: Vec<(String, RelationshipUpdate)>,
    pub state: Option<StateUpdate>,
    /// What broke the schema, one line each; empty when the answer is valid.
    pub problems: Vec<String>,
}

impl Appraisal {
    /// `None` when the text holds no JSON object at all (alone, in a code
    /// fence or inside prose); otherwise the valid parts and the problems.
    pub fn parse(text: &str) -> Option<Self> {
        let object = json_object(text)?;
        let mut out = Self::default();
        match object.get("facts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(facts)) => {
                for (i, fact) in facts.iter().enumerate() {
                    match fact_of(fact) {
                        Ok(fact) => out.facts.push(fact),
                        Err(problem) => out.problems.push(format!("facts[{i}]: {problem}")),
                    }
                }
            }
            Some(_) => out.problems.push("facts: must be an array".into()),
        }
        match object.get("relationship") {
            None | Some(Value::Null) => {}
            Some(value) => match relationship_of(value) {
                Ok(update) if !update.is_empty() => out.relationship = Some(update),
                Ok(_) => {}
                Err(problem) => out.problems.push(format!("relationship: {problem}")),
            },
        }
        match object.get("characters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let name = item.get("name").and_then(Value::as_str).map(str::trim);
                    match (name, relationship_of(item)) {
                        (Some(name), Ok(update)) if !name.is_empty() => {
                            if !update.is_empty() {
                                out.characters.push((name.to_owned(), update));
                            }
                        }
                        (_, Err(problem)) => {
                            out.problems.push(format!("characters[{i}]: {problem}"))
                        }
                        _ => out
                            .problems
                            .push(format!("characters[{i}].name: must be a non-empty string")),
                    }
                }
            }
            Some(_) => out.problems.push("characters: must be an array".into()),
        }
        match object.get("state") {
            None | Some(Value::Null) => {}
            Some(value) => match state_of(value) {
                Ok(update) if !update.is_empty() => out.state = Some(update),
                Ok(_) => {}
                Err(problem) => out.problems.push(format!("state: {problem}")),
            },
        }
        Some(out)
    }
}

fn json_object(text: &str) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(map)) = serde_json::from_str(text.trim()) {
        return Some(map);
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    match serde_json::from_str(text.get(start..=end)?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn fact_of(value: &Value) -> Result<FactDraft, String> {
    let object = value.as_object().ok_or("must be an object")?;
    let content = object
        .get("content")
        .and_then(Value::as_str)
        .ok_or("content: must be a string")?;
    let content = MemoryContent::parse("content", content)
        .map_err(|e| e.to_string())?
        .into_inner();
    let importance = match object.get("importance") {
        None | Some(Value::Null) => Importance::DEFAULT,
        Some(value) => value
            .as_f64()
            .ok_or_else(|| "importance: must be a number".to_owned())
            .and_then(|i| Importance::parse(i).map_err(|e| e.to_string()))?,
    };
    let supersedes = match object.get("supersedes") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.trim().is_empty() => None,
        Some(Value::String(id)) => {
            Some(Uuid::parse_str(id.trim()).map_err(|_| "supersedes: must be a known fact's id")?)
        }
        Some(_) => return Err("supersedes: must be a string".into()),
    };
    Ok(FactDraft {
        content,
        importance,
        supersedes,
    })
}

fn number(object: &Map<String, Value>, field: &'static str) -> Result<Option<Bipolar>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let n = value
                .as_f64()
                .ok_or_else(|| format!("{field}: must be a number"))?;
            Bipolar::parse(field, n)
                .map(Some)
                .map_err(|e| e.to_string())
        }
    }
}

fn relationship_of(value: &Value) -> Result<RelationshipUpdate, String> {
    let object = value.as_object().ok_or("must be an object")?;
    let note = match object.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(note)) => {
            Some(RelationshipUpdate::note(note).map_err(|e| e.to_string())?)
        }
        Some(_) => return Err("note: must be a string".into()),
    };
    Ok(RelationshipUpdate {
        affinity: number(object, "affinity")?,
        trust: number(object, "trust")?,
        note,
    })
}

fn state_of(value: &Value) -> Result<StateUpdate, String> {
    let object = value.as_object().ok_or("must be an object")?;
    let mood = match object.get("mood") {
        None | Some(Value::Null) => None,
        Some(Value::String(mood)) => Some(StateUpdate::mood(mood).map_err(|e| e.to_string())?),
        Some(_) => return Err("mood: must be a string".into()),
    };
    let goals = match object.get("goals") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let texts: Vec<String> = items
                .iter()
                .map(|g| g.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or("goals: must be an array of strings")?;
            Some(StateUpdate::goals(&texts).map_err(|e| e.to_string())?)
        }
        Some(_) => return Err("goals: must be an array of strings".into()),
    };
    Ok(StateUpdate { mood, goals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_answer_keeps_every_part() {
        let a = Appraisal::parse(
            r#"Sure: {"facts":[{"content":"Likes tea","importance":0.8}],
               "relationship":{"affinity":-0.5,"trust":-0.2,"note":"threatened me"},
               "characters":[{"name":"Bram","affinity":0.3}],
               "state":{"mood":"wary","goals":["guard the bar"]}}"#,
        )
        .unwrap();
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert_eq!(a.facts.len(), 1);
        assert_eq!(a.relationship.unwrap().affinity.unwrap().value(), -0.5);
        assert_eq!(a.characters[0].0, "Bram");
        assert_eq!(a.state.unwrap().mood.as_deref(), Some("wary"));
    }

    #[test]
    fn out_of_range_or_mistyped_parts_are_named_and_left_out() {
        let a = Appraisal::parse(
            r#"{"facts":[{"content":""},{"content":"ok","importance":3}],
               "relationship":{"affinity":-7},
               "state":{"goals":"not a list"}}"#,
        )
        .unwrap();
        assert!(a.facts.is_empty());
        assert!(a.relationship.is_none());
        assert!(a.state.is_none());
        assert_eq!(a.problems.len(), 4, "{:?}", a.problems);
        assert!(
            a.problems
                .iter()
                .any(|p| p.starts_with("relationship: affinity"))
        );
        assert!(Appraisal::parse("no json here").is_none());
    }
}
