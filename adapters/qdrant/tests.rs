//! Unit tests of the Qdrant adapter: the filters and ids it sends.

use super::*;
use qdrant_client::qdrant::condition::ConditionOneOf;
use qdrant_client::qdrant::r#match::MatchValue;

fn keyword(condition: &Condition) -> (String, String) {
    match &condition.condition_one_of {
        Some(ConditionOneOf::Field(field)) => {
            match field.r#match.as_ref().and_then(|m| m.match_value.clone()) {
                Some(MatchValue::Keyword(value)) => (field.key.clone(), value),
                Some(MatchValue::Keywords(any)) => (field.key.clone(), any.strings.join("|")),
                other => panic!("unexpected match {other:?}"),
            }
        }
        other => panic!("unexpected condition {other:?}"),
    }
}

#[test]
fn the_rest_port_is_mapped_to_grpc() {
    assert_eq!(
        grpc_url("http://qdrant:6333"),
        ("http://qdrant:6334".into(), true)
    );
    assert_eq!(
        grpc_url("http://qdrant:6334/"),
        ("http://qdrant:6334".into(), false)
    );
}

#[test]
fn every_search_is_scoped_to_tenant_and_character() {
    let character = Uuid::now_v7();
    let query = VectorQuery {
        tenant: TenantId::parse("acme").unwrap(),
        character_id: character,
        kind: Some(MemoryKind::Biographical),
        scope: ScopeFilter::Person("sam".into()),
        embedding: vec![0.1, 0.2],
        k: 7,
    };
    let request = search_request("memories", &query);
    assert_eq!(request.collection_name, "memories");
    assert_eq!(request.limit, Some(7));
    let filter = request.filter.unwrap();
    let conditions: Vec<(String, String)> = filter.must.iter().map(keyword).collect();
    assert_eq!(
        conditions,
        [
            ("tenant".to_owned(), "acme".to_owned()),
            ("character_id".to_owned(), character.to_string()),
            ("kind".to_owned(), "biographical".to_owned()),
            ("scope".to_owned(), "world|user:sam".to_owned())
        ]
    );
    // The tenant's own view names no person.
    let any = search_request(
        "memories",
        &VectorQuery {
            scope: ScopeFilter::Any,
            ..query
        },
    );
    assert_eq!(any.filter.unwrap().must.len(), 3);
}

#[test]
fn points_carry_their_id_vector_and_scope_payload() {
    let memory = Uuid::now_v7();
    let request = upsert_request(
        "memories",
        &[VectorPoint {
            memory_id: memory,
            tenant: TenantId::parse("acme").unwrap(),
            character_id: Uuid::nil(),
            kind: MemoryKind::Episodic,
            user_id: Some("sam".into()),
            embedding: vec![1.0, 0.0],
        }],
    );
    assert_eq!(request.wait, Some(true));
    let point = &request.points[0];
    assert_eq!(
        point.id.clone().unwrap().point_id_options,
        Some(PointIdOptions::Uuid(memory.to_string()))
    );
    assert_eq!(
        point.payload["tenant"].clone().into_json(),
        serde_json::json!("acme")
    );
    assert_eq!(
        point.payload["kind"].clone().into_json(),
        serde_json::json!("episodic")
    );
    assert_eq!(
        point.payload["scope"].clone().into_json(),
        serde_json::json!("user:sam")
    );
    assert_eq!(scope_value(None), "world");
}

#[test]
fn collections_record_their_model_and_deletes_are_scoped() {
    let create = create_collection_request("memories", "bge-m3", 1024);
    assert_eq!(
        create.metadata["embedding_model"].clone().into_json(),
        serde_json::json!("bge-m3")
    );
    assert_eq!(
        create.metadata["payload_layout"].clone().into_json(),
        serde_json::json!(2)
    );
    let delete =
        delete_character_request("memories", &TenantId::parse("acme").unwrap(), Uuid::nil());
    assert!(format!("{delete:?}").contains("acme"));
    let by_id = delete_request("memories", &[Uuid::nil()]);
    assert!(format!("{by_id:?}").contains(&Uuid::nil().to_string()));
}
