//! Unit tests of the Qdrant adapter: the filters and ids it sends.

use super::*;
use qdrant_client::qdrant::condition::ConditionOneOf;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::vectors::VectorsOptions;

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
        mode: crate::core::domain::SearchMode::Hybrid,
        embedding: vec![0.1, 0.2],
        terms: Terms::of("pottery class"),
        k: 7,
    };
    let (batch, lists) = search_request("memories", &query, &TermKey::plain());
    assert_eq!(batch.collection_name, "memories");
    // One call, both lists, each filtered alike.
    assert_eq!(lists, [List::Vector, List::Lexical]);
    assert_eq!(batch.query_points.len(), 2);
    assert_eq!(batch.query_points[0].using.as_deref(), Some("dense"));
    assert_eq!(batch.query_points[1].using.as_deref(), Some("lexical"));
    assert_eq!(batch.query_points[0].filter, batch.query_points[1].filter);
    let request = batch.query_points[1].clone();
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
    let (any, _) = search_request(
        "memories",
        &VectorQuery {
            scope: ScopeFilter::Any,
            ..query.clone()
        },
        &TermKey::plain(),
    );
    assert_eq!(any.query_points[0].clone().filter.unwrap().must.len(), 3);
    // A mode asks only for its list; words that are all stop words, none.
    let (_, lists) = search_request(
        "memories",
        &VectorQuery {
            mode: crate::core::domain::SearchMode::Lexical,
            ..query.clone()
        },
        &TermKey::plain(),
    );
    assert_eq!(lists, [List::Lexical]);
    let (_, lists) = search_request(
        "memories",
        &VectorQuery {
            terms: Terms::of("what is it"),
            ..query
        },
        &TermKey::plain(),
    );
    assert_eq!(lists, [List::Vector]);
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
            terms: Terms::of("pottery pottery class"),
        }],
        &TermKey::plain(),
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
    let Some(VectorsOptions::Vectors(named)) =
        point.vectors.clone().and_then(|v| v.vectors_options)
    else {
        panic!("named vectors expected");
    };
    assert!(named.vectors.contains_key("dense"));
    // Two words, one sparse entry each; "pottery" (twice) weighs more.
    let lexical = format!("{:?}", named.vectors["lexical"]);
    assert!(lexical.contains("indices"), "{lexical}");
}

#[test]
fn collections_record_their_model_and_deletes_are_scoped() {
    let create = create_collection_request("memories", "bge-m3", 1024, &TermKey::plain());
    assert_eq!(
        create.metadata["term_key"].clone().into_json(),
        serde_json::json!("plain")
    );
    assert_eq!(
        create.metadata["embedding_model"].clone().into_json(),
        serde_json::json!("bge-m3")
    );
    assert_eq!(
        create.metadata["payload_layout"].clone().into_json(),
        serde_json::json!(3)
    );
    let delete =
        delete_character_request("memories", &TenantId::parse("acme").unwrap(), Uuid::nil());
    assert!(format!("{delete:?}").contains("acme"));
    let by_id = delete_request("memories", &[Uuid::nil()]);
    assert!(format!("{by_id:?}").contains(&Uuid::nil().to_string()));
}
