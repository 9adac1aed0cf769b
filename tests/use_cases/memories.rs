//! Memory search when the vector index fails.

use crate::Parts;
use std::sync::Arc;
use virlife::core::domain::{
    CharacterName, Importance, MemoryContent, MemoryKind, MemorySource, Persona, TenantId,
};
use virlife::core::ports::{MockVectorMemory, VectorError};
use virlife::core::use_cases::{NewMemory, RecallQuery};
#[tokio::test]
async fn search_falls_back_to_the_store_when_the_index_fails() {
    let mut vectors = MockVectorMemory::new();
    vectors.expect_upsert().returning(|_| Ok(()));
    vectors
        .expect_search()
        .returning(|_| Err(VectorError::Unavailable("down".into())));
    let uc = Parts {
        vectors: Arc::new(vectors),
        ..Parts::default()
    }
    .use_cases();
    let tenant = TenantId::parse("t").unwrap();
    let character = uc
        .characters
        .create(
            tenant.clone(),
            CharacterName::parse("Ada").unwrap(),
            Persona::parse("A sailor").unwrap(),
            None,
        )
        .await
        .unwrap();
    for text in ["Sam loves sailing boats", "Taxes are due in April"] {
        uc.memories
            .add(
                &tenant,
                character.id,
                NewMemory {
                    kind: MemoryKind::Episodic,
                    source: MemorySource::Manual,
                    content: MemoryContent::parse("content", text).unwrap(),
                    importance: Importance::DEFAULT,
                    user_id: None,
                    occurred_at: None,
                },
            )
            .await
            .unwrap();
    }
    let outcome = uc
        .memories
        .search(
            &tenant,
            character.id,
            "sailing",
            &RecallQuery {
                k: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(outcome.degraded);
    assert_eq!(outcome.hits[0].memory.content, "Sam loves sailing boats");
    assert_eq!(uc.ports.vector_health.fallbacks(), 1);
}
