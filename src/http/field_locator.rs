//! Names the field at fault when poem-openapi rejects a body without saying
//! which field it was (a missing required field, or a value of the wrong
//! type): the body is compared with the schema in our own OpenAPI document.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Our own OpenAPI document, generated and parsed once.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(&super::openapi_json()).unwrap_or_default())
}

/// Route templates of the document, split into segments, with their methods.
fn routes() -> &'static Vec<(Vec<String>, Vec<String>)> {
    static ROUTES: OnceLock<Vec<(Vec<String>, Vec<String>)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let spec = spec();
        spec["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .map(|(path, operations)| {
                        let methods = operations
                            .as_object()
                            .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                            .unwrap_or_default();
                        (path.split('/').map(str::to_owned).collect(), methods)
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// The request-body schema of each (route template, method).
fn request_schemas() -> &'static Vec<(Vec<String>, String, String)> {
    static BODIES: OnceLock<Vec<(Vec<String>, String, String)>> = OnceLock::new();
    BODIES.get_or_init(|| {
        let spec = spec();
        let mut bodies = Vec::new();
        for (path, operations) in spec["paths"].as_object().into_iter().flatten() {
            for (method, operation) in operations.as_object().into_iter().flatten() {
                let reference = operation["requestBody"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"]
                    .as_str()
                    .or_else(|| operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str());
                if let Some(name) = reference.and_then(|r| r.rsplit('/').next()) {
                    bodies.push((
                        path.split('/').map(str::to_owned).collect(),
                        method.to_ascii_uppercase(),
                        name.to_owned(),
                    ));
                }
            }
        }
        bodies
    })
}

/// A JSON body whose fields have the wrong JSON type (poem-openapi would
/// quietly turn `1` or `true` into `"1"` / `"true"`): the first such field.
pub fn mistyped_field(method: &str, path: &str, body: &[u8]) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let (_, _, schema_name) = request_schemas()
        .iter()
        .find(|(template, m, _)| m == method && fits(template, &segments))?;
    let schema = schemas().get(schema_name)?;
    let body: Value = serde_json::from_slice(body).ok()?;
    let object = body.as_object()?;
    let mut fields: Vec<_> = schema.types.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields
        .into_iter()
        .find(|(field, expected)| {
            object
                .get(*field)
                .is_some_and(|v| !v.is_null() && !matches(expected, v))
        })
        .map(|(field, _)| field.clone())
}

fn templates() -> impl Iterator<Item = &'static Vec<String>> {
    routes().iter().map(|(template, _)| template)
}

fn fits(template: &[String], segments: &[&str]) -> bool {
    template.len() == segments.len()
        && template
            .iter()
            .zip(segments)
            .all(|(t, s)| t.starts_with('{') || t == s)
}

/// The documented route template a path matches (`/v1/sessions/{id}`), for
/// metric labels: a closed set, whatever paths clients send.
pub fn route_template(path: &str) -> Option<&'static str> {
    static JOINED: OnceLock<Vec<String>> = OnceLock::new();
    let joined = JOINED.get_or_init(|| templates().map(|t| t.join("/")).collect());
    let segments: Vec<&str> = path.split('/').collect();
    templates()
        .position(|template| fits(template, &segments))
        .map(|index| joined[index].as_str())
}

/// The methods a path accepts, for the `Allow` header of a 405.
pub fn allowed_methods(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    routes()
        .iter()
        .find(|(template, _)| fits(template, &segments))
        .map(|(_, methods)| methods.join(", "))
}

/// The path parameter (by its documented name) that is not a valid id.
pub fn locate_path_parameter(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    templates()
        .filter(|template| fits(template, &segments))
        .find_map(|template| {
            template.iter().zip(&segments).find_map(|(t, s)| {
                let name = t.strip_prefix('{')?.strip_suffix('}')?;
                uuid::Uuid::parse_str(s).is_err().then(|| name.to_owned())
            })
        })
}

/// What a property accepts: a JSON type, and for enums the allowed values.
struct Expected {
    json_type: Option<String>,
    allowed: Option<Vec<Value>>,
}

struct Schema {
    required: Vec<String>,
    types: HashMap<String, Expected>,
}

fn schemas() -> &'static HashMap<String, Schema> {
    static SCHEMAS: OnceLock<HashMap<String, Schema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let spec = spec();
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
                            .map(|(field, property)| {
                                // Enums are `$ref`s to a schema listing their
                                // values (wrapped in `allOf` when documented).
                                let target = property["$ref"]
                                    .as_str()
                                    .or_else(|| property["allOf"][0]["$ref"].as_str())
                                    .and_then(|r| r.rsplit('/').next())
                                    .map(|name| &components[name])
                                    .unwrap_or(property);
                                let expected = Expected {
                                    json_type: target["type"].as_str().map(str::to_owned),
                                    allowed: target["enum"].as_array().cloned(),
                                };
                                (field.clone(), expected)
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

fn matches(expected: &Expected, value: &Value) -> bool {
    if let Some(allowed) = &expected.allowed
        && !allowed.contains(value)
    {
        return false;
    }
    match expected.json_type.as_deref().unwrap_or("") {
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
    fields.sort_by(|a, b| a.0.cmp(b.0));
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
        let reason = "Expected input type \"MemoryKind\", found \"dream\". (occurred while parsing \"CreateMemoryRequest\")";
        assert_eq!(
            locate(reason, br#"{"kind":"dream","content":"c"}"#).as_deref(),
            Some("kind")
        );
        assert_eq!(locate("something else", b"{}"), None);
    }

    #[test]
    fn numbers_or_booleans_for_strings_are_caught() {
        let id = uuid::Uuid::now_v7();
        let path = format!("/v1/characters/{id}");
        assert_eq!(
            mistyped_field("PATCH", &path, br#"{"name": -50}"#).as_deref(),
            Some("name")
        );
        assert_eq!(mistyped_field("PATCH", &path, br#"{"name": "Ada"}"#), None);
        assert_eq!(
            mistyped_field(
                "POST",
                "/v1/characters",
                br#"{"name": "Ada", "persona": true}"#
            )
            .as_deref(),
            Some("persona")
        );
    }

    #[test]
    fn bad_path_parameters_are_named_as_documented() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(
            locate_path_parameter("/v1/characters/nope").as_deref(),
            Some("id")
        );
        assert_eq!(
            locate_path_parameter(&format!("/v1/characters/{id}/memories/nope")).as_deref(),
            Some("memory_id")
        );
        assert_eq!(locate_path_parameter(&format!("/v1/characters/{id}")), None);
    }
}
