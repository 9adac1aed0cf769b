//! The Qdrant adapter against a real Qdrant server. Qdrant has no Debian,
//! PyPI or npm server package, so these tests are `#[ignore]`d unless a
//! server is given: `QDRANT_URL=http://127.0.0.1:6334 cargo test --test
//! qdrant_adapter -- --include-ignored` (tests/run does this when
//! QDRANT_URL is set, and says SKIPPED otherwise).
#![cfg(feature = "qdrant")]

use std::time::Duration;
use uuid::Uuid;
use virlife::adapters::qdrant::{QdrantOptions, QdrantVectors};
use virlife::core::domain::{MemoryKind, TenantId, VectorPoint, VectorQuery};
use virlife::core::ports::VectorMemory;

fn vectors(collection: &str) -> QdrantVectors {
    let url = std::env::var("QDRANT_URL").expect("these tests need QDRANT_URL");
    QdrantVectors::new(&QdrantOptions {
        url,
        api_key: std::env::var("QDRANT_API_KEY").ok().map(Into::into),
        collection: collection.to_owned(),
        embedding_model: "test-model".into(),
        dimensions: 4,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn collection() -> String {
    format!("virlife_test_{}", Uuid::new_v4().simple())
}

fn point(tenant: &str, character: Uuid, kind: MemoryKind, embedding: [f32; 4]) -> VectorPoint {
    VectorPoint {
        memory_id: Uuid::now_v7(),
        tenant: TenantId::parse(tenant).unwrap(),
        character_id: character,
        kind,
        embedding: embedding.to_vec(),
    }
}

#[tokio::test]
#[ignore = "needs a Qdrant server: set QDRANT_URL"]
async fn search_is_scoped_to_tenant_character_and_kind() {
    let qdrant = vectors(&collection());
    qdrant.ping().await.unwrap();
    let character = Uuid::now_v7();
    let mine = point("a", character, MemoryKind::Episodic, [1.0, 0.0, 0.0, 0.0]);
    let fact = point(
        "a",
        character,
        MemoryKind::Biographical,
        [0.9, 0.1, 0.0, 0.0],
    );
    let foreign = point("b", character, MemoryKind::Episodic, [1.0, 0.0, 0.0, 0.0]);
    qdrant
        .upsert(&[mine.clone(), fact.clone(), foreign.clone()])
        .await
        .unwrap();
    let query = |tenant: &str, kind| VectorQuery {
        tenant: TenantId::parse(tenant).unwrap(),
        character_id: character,
        kind,
        embedding: vec![1.0, 0.0, 0.0, 0.0],
        k: 10,
    };
    let hits = qdrant.search(&query("a", None)).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
        [mine.memory_id, fact.memory_id]
    );
    let facts = qdrant
        .search(&query("a", Some(MemoryKind::Biographical)))
        .await
        .unwrap();
    assert_eq!(
        facts.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
        [fact.memory_id]
    );
    let theirs = qdrant.search(&query("b", None)).await.unwrap();
    assert_eq!(
        theirs.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
        [foreign.memory_id]
    );

    qdrant.delete(&[mine.memory_id]).await.unwrap();
    qdrant
        .delete_character(&TenantId::parse("b").unwrap(), character)
        .await
        .unwrap();
    assert_eq!(qdrant.search(&query("a", None)).await.unwrap().len(), 1);
    assert!(qdrant.search(&query("b", None)).await.unwrap().is_empty());
}

#[tokio::test]
#[ignore = "needs a Qdrant server: set QDRANT_URL"]
async fn the_collection_records_its_model_and_a_reset_rebuilds_it() {
    let name = collection();
    let qdrant = vectors(&name);
    qdrant.ping().await.unwrap();
    assert_eq!(qdrant.model_mismatch("test-model", 4).await.unwrap(), None);
    assert!(
        qdrant
            .model_mismatch("another-model", 4)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        qdrant
            .model_mismatch("test-model", 8)
            .await
            .unwrap()
            .is_some()
    );
    qdrant
        .upsert(&[point(
            "a",
            Uuid::now_v7(),
            MemoryKind::Episodic,
            [0.0, 1.0, 0.0, 0.0],
        )])
        .await
        .unwrap();
    qdrant.reset("test-model", 4).await.unwrap();
    let empty = qdrant
        .search(&VectorQuery {
            tenant: TenantId::parse("a").unwrap(),
            character_id: Uuid::nil(),
            kind: None,
            embedding: vec![0.0, 1.0, 0.0, 0.0],
            k: 5,
        })
        .await
        .unwrap();
    assert!(empty.is_empty());
}
