//! Names the field at fault when poem-openapi rejects a body without saying
//! which field it was (a missing required field, or a value of the wrong
//! type): the body is compared with the schema in our own OpenAPI document.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

struct Schema {
    required: Vec<String>,
    types: HashMap<String, String>,
}

fn schemas() -> &'static HashMap<String, Schema> {
    static SCHEMAS: OnceLock<HashMap<String, Schema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let spec: Value = serde_json::from_str(&super::openapi_json()).unwrap_or_default();
        let mut map = HashMap::new();
        if let Some(components) = spec["components"]["schemas"].as_object() {
            for (name, schema) in components {
                let required = schema["required"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let types = schema["properties"]
                    .as_object()
                    .map(|props| {
                        props
                            .iter()
                            .filter_map(|(field, p)| {
                                p["type"].as_str().map(|t| (field.clone(), t.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                map.insert(name.clone(), Schema { required, types });
            }
        }
        map
    })
}

fn matches(expected: &str, value: &Value) -> bool {
    match expected {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// The first field of the body that is missing (if required) or of the
/// wrong type, according to the schema poem-openapi named in `reason`.
pub fn locate(reason: &str, body: &[u8]) -> Option<String> {
    let marker = "occurred while parsing \"";
    let start = reason.rfind(marker)? + marker.len();
    let type_name = &reason[start..start + reason[start..].find('"')?];
    let schema = schemas().get(type_name)?;
    let body: Value = serde_json::from_slice(body).ok()?;
    let object = body.as_object()?;
    for field in &schema.required {
        if object.get(field).is_none_or(Value::is_null) {
            return Some(field.clone());
        }
    }
    let mut fields: Vec<_> = schema.types.iter().collect();
    fields.sort();
    fields
        .into_iter()
        .find(|(field, expected)| {
            object
                .get(*field)
                .is_some_and(|v| !v.is_null() && !matches(expected, v))
        })
        .map(|(field, _)| field.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let reason = "Expected input type \"string\", found null. (occurred while parsing \"CreateCharacterRequest\")";
        assert_eq!(
            locate(reason, br#"{"persona":"p"}"#).as_deref(),
            Some("name")
        );
        assert_eq!(
            locate(reason, br#"{"name":"n","persona":["p"]}"#).as_deref(),
            Some("persona")
        );
        assert_eq!(locate("something else", b"{}"), None);
    }
}
