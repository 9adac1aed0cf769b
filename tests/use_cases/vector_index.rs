//! Keeping the vector index in step: repair after an outage, reindex.

use crate::Parts;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;
use virlife::adapters::exact_vectors::ExactVectorMemory;
use virlife::core::domain::{
    CharacterName, Importance, IndexHits, MemoryContent, MemoryKind, MemorySource, Persona,
    SearchMode, TenantId, Terms, VectorPoint, VectorQuery,
};
use virlife::core::ports::{VectorError, VectorMemory};
use virlife::core::use_cases::{NewMemory, RecallQuery, SearchOutcome, UseCases};
/// An index that can go down and come back.
#[derive(Default)]
struct Flaky {
    index: ExactVectorMemory,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> std::result::Result<(), VectorError> {
        if self.down.load(Ordering::SeqCst) {
            Err(VectorError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl VectorMemory for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    async fn ping(&self) -> std::result::Result<(), VectorError> {
        self.check()
    }
    async fn upsert(&self, points: &[VectorPoint]) -> std::result::Result<(), VectorError> {
        self.check()?;
        self.index.upsert(points).await
    }
    async fn search(&self, query: &VectorQuery) -> std::result::Result<IndexHits, VectorError> {
        self.check()?;
        self.index.search(query).await
    }
    async fn delete(&self, ids: &[Uuid]) -> std::result::Result<(), VectorError> {
        self.check()?;
        self.index.delete(ids).await
    }
    async fn delete_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> std::result::Result<(), VectorError> {
        self.check()?;
        self.index.delete_character(tenant, id).await
    }
    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> std::result::Result<Option<String>, VectorError> {
        self.check()?;
        self.index.model_mismatch(model, dimensions).await
    }
    async fn reset(&self, model: &str, dimensions: usize) -> std::result::Result<(), VectorError> {
        self.check()?;
        self.index.reset(model, dimensions).await
    }
}

async fn remember(uc: &UseCases, tenant: &TenantId, character: Uuid, text: &str) -> Uuid {
    uc.memories
        .add(
            tenant,
            character,
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
        .unwrap()
        .id
}

async fn character(uc: &UseCases, tenant: &TenantId, name: &str) -> Uuid {
    uc.characters
        .create(
            tenant.clone(),
            CharacterName::parse(name).unwrap(),
            Persona::parse("p").unwrap(),
            None,
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn writes_missed_while_the_index_was_down_are_repaired_with_nothing_orphaned() {
    let flaky = Arc::new(Flaky::default());
    let uc = Parts {
        vectors: flaky.clone(),
        ..Parts::default()
    }
    .use_cases();
    let tenant = TenantId::parse("acme").unwrap();
    let ada = character(&uc, &tenant, "Ada").await;
    let bo = character(&uc, &tenant, "Bo").await;
    let kept = remember(&uc, &tenant, ada, "before the outage").await;
    let doomed = remember(&uc, &tenant, ada, "deleted later").await;
    remember(&uc, &tenant, bo, "Bo's memory").await;

    flaky.down.store(true, Ordering::SeqCst);
    let during = remember(&uc, &tenant, ada, "written during the outage").await;
    uc.memories.delete(&tenant, ada, doomed).await.unwrap();
    uc.characters.delete(&tenant, bo).await.unwrap();
    // Searches still answer, from the store.
    let found = uc
        .memories
        .search(
            &tenant,
            ada,
            "outage",
            &RecallQuery {
                k: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(found.degraded);
    assert_eq!(uc.ports.store.pending_vectors(100).await.unwrap().len(), 3);
    assert_eq!(
        uc.vector_index.repair().await.unwrap(),
        0,
        "nothing applies while down"
    );

    flaky.down.store(false, Ordering::SeqCst);
    assert_eq!(uc.vector_index.repair().await.unwrap(), 3);
    assert!(
        uc.ports
            .store
            .pending_vectors(100)
            .await
            .unwrap()
            .is_empty()
    );
    // The index now holds exactly the stored memories: none missing, none orphaned.
    let stored: Vec<Uuid> = uc
        .ports
        .store
        .memories_after(None, 100)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(stored.len(), 2);
    assert_eq!(flaky.index.len(), 2);
    for id in [kept, during] {
        assert!(stored.contains(&id));
    }
    let found = uc
        .memories
        .search(
            &tenant,
            ada,
            "written during the outage",
            &RecallQuery {
                k: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!found.degraded);
    assert_eq!(found.hits[0].memory.id, during);
}

#[tokio::test]
async fn reindex_rebuilds_a_wiped_index_and_reembeds_memories_of_another_model() {
    let flaky = Arc::new(Flaky::default());
    let uc = Parts {
        vectors: flaky.clone(),
        ..Parts::default()
    }
    .use_cases();
    let tenant = TenantId::parse("acme").unwrap();
    let ada = character(&uc, &tenant, "Ada").await;
    let first = remember(&uc, &tenant, ada, "sailing at dawn").await;
    remember(&uc, &tenant, ada, "storms at dusk").await;
    let before = uc
        .memories
        .search(
            &tenant,
            ada,
            "sailing",
            &RecallQuery {
                k: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // An older model wrote this one.
    uc.ports
        .store
        .update_embedding(first, &[1.0, 0.0], "old-model")
        .await
        .unwrap();
    flaky.index.reset("x", 0).await.unwrap();
    assert!(flaky.index.is_empty());

    let outcome = uc.vector_index.reindex().await.unwrap();
    assert_eq!(
        (
            outcome.memories,
            outcome.indexed,
            outcome.reembedded,
            outcome.failed
        ),
        (2, 2, 1, 0)
    );
    assert_eq!(flaky.index.len(), 2);
    let after = uc
        .memories
        .search(
            &tenant,
            ada,
            "sailing",
            &RecallQuery {
                k: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids = |o: &SearchOutcome| o.hits.iter().map(|h| h.memory.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&before),
        ids(&after),
        "the same results before and after"
    );
    // Idempotent: a second run changes nothing.
    let again = uc.vector_index.reindex().await.unwrap();
    assert_eq!((again.indexed, again.reembedded), (2, 0));
}

#[tokio::test]
async fn a_reindex_carries_each_memorys_person_into_the_index() {
    use virlife::core::domain::{ScopeFilter, UserId};
    let flaky = Arc::new(Flaky::default());
    let uc = Parts {
        vectors: flaky.clone(),
        ..Parts::default()
    }
    .use_cases();
    let tenant = TenantId::parse("acme").unwrap();
    let ada = character(&uc, &tenant, "Ada").await;
    for (user, text) in [
        ("sam", "Sam's sailing secret"),
        ("alex", "Alex's sailing plan"),
    ] {
        uc.memories
            .add(
                &tenant,
                ada,
                NewMemory {
                    kind: MemoryKind::Episodic,
                    source: MemorySource::Manual,
                    content: MemoryContent::parse("content", text).unwrap(),
                    importance: Importance::DEFAULT,
                    user_id: Some(UserId::parse("user_id", user).unwrap()),
                    occurred_at: None,
                },
            )
            .await
            .unwrap();
    }
    // The index loses everything; a reindex rebuilds it from the Store.
    flaky.index.reset("any", 256).await.unwrap();
    uc.vector_index.reindex().await.unwrap();
    let as_alex = uc
        .memories
        .search(
            &tenant,
            ada,
            "sailing",
            &RecallQuery {
                k: 5,
                scope: ScopeFilter::Person("alex".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!as_alex.degraded);
    let found: Vec<&str> = as_alex
        .hits
        .iter()
        .map(|h| h.memory.content.as_str())
        .collect();
    assert_eq!(found, ["Alex's sailing plan"]);
    // And the index itself filters: asked directly, as Alex, no Sam.
    let direct = flaky
        .index
        .search(&VectorQuery {
            tenant: tenant.clone(),
            character_id: ada,
            kind: None,
            scope: ScopeFilter::Person("alex".into()),
            mode: SearchMode::Hybrid,
            embedding: as_alex.hits[0].memory.embedding.clone(),
            terms: Terms::of("sailing plan"),
            k: 10,
        })
        .await
        .unwrap();
    assert_eq!(direct.vector.len(), 1);
    assert_eq!(direct.lexical.len(), 1);
}
