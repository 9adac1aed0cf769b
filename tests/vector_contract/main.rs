//! The `VectorMemory` contract: one suite, run against every implementation,
//! so the in-process exact index and Qdrant cannot drift apart.
//!
//! The Qdrant cases need a server; Qdrant has no Debian, PyPI or npm server
//! package, so they are `#[ignore]`d and show up as ignored unless run with
//! `QDRANT_URL=http://127.0.0.1:6334 cargo test --test vector_contract --
//! --include-ignored` (tests/run does this when it has a server: it starts
//! one from `QDRANT_BIN`, or uses `QDRANT_URL`; otherwise it says SKIPPED).
//! Each Qdrant case works in a collection of its own, so they run in
//! parallel, and drops it afterwards, passed or failed.

mod suite;

/// Runs each suite test against each `VectorMemory`.
macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod exact {
            $(
                #[tokio::test]
                async fn $test() {
                    let index = virlife::adapters::exact_vectors::ExactVectorMemory::new();
                    crate::suite::$test(std::sync::Arc::new(index)).await;
                }
            )*
        }

        /// PostgreSQL's exact path (any PostgreSQL).
        #[cfg(feature = "postgres")]
        mod postgres_exact {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::postgres_index::run(crate::suite::$test, false).await;
                }
            )*
        }

        /// PostgreSQL with pgvector (HNSW); Debian's PostgreSQL has no
        /// pgvector, so tests/run starts PyPI's pgserver for these.
        #[cfg(feature = "postgres")]
        mod pgvector {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL with pgvector: set PGVECTOR_DATABASE_URL (tests/run starts one from PyPI's pgserver)"]
                async fn $test() {
                    crate::postgres_index::run(crate::suite::$test, true).await;
                }
            )*
        }

        #[cfg(feature = "qdrant")]
        mod qdrant {
            $(
                #[tokio::test]
                #[ignore = "needs a Qdrant server: set QDRANT_URL (tests/run starts one from QDRANT_BIN)"]
                async fn $test() {
                    crate::qdrant_server::in_own_collection(crate::suite::$test).await;
                }
            )*
        }
    };
}

#[cfg(feature = "postgres")]
#[path = "../common/postgres.rs"]
mod support;

#[cfg(feature = "postgres")]
mod postgres_index {
    use async_trait::async_trait;
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;
    use uuid::Uuid;
    use virlife::adapters::postgres::{PostgresOptions, PostgresStore, PostgresVectors};
    use virlife::core::domain::{IndexHits, TenantId, VectorPoint, VectorQuery};
    use virlife::core::ports::{StoreAdmin, VectorError, VectorMemory};

    /// In the service a vector is only ever written for a stored memory
    /// (the table follows `memories`); this stores one first, as the
    /// Store would have.
    struct StoredFirst {
        pool: sqlx::PgPool,
        index: PostgresVectors,
    }

    #[async_trait]
    impl VectorMemory for StoredFirst {
        fn kind(&self) -> &'static str {
            self.index.kind()
        }
        async fn ping(&self) -> Result<(), VectorError> {
            self.index.ping().await
        }
        async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
            for p in points {
                sqlx::query(
                    "INSERT INTO characters (id, tenant, name, persona, created_at, updated_at)
                     VALUES ($1, $2, 'c', 'p', now(), now()) ON CONFLICT (id) DO NOTHING",
                )
                .bind(p.character_id)
                .bind(p.tenant.as_str())
                .execute(&self.pool)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO memories (id, tenant, character_id, kind, source, content, importance,
                                           embedding, embedding_model, embedding_dimensions, created_at, user_id)
                     VALUES ($1, $2, $3, $4, 'manual', 'x', 0.5, $5, $6, $7, now(), $8)
                     ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding,
                         embedding_dimensions = EXCLUDED.embedding_dimensions",
                )
                .bind(p.memory_id)
                .bind(p.tenant.as_str())
                .bind(p.character_id)
                .bind(p.kind.as_str())
                .bind(&p.embedding)
                .bind(crate::suite::MODEL)
                .bind(p.embedding.len() as i32)
                .bind(&p.user_id)
                .execute(&self.pool)
                .await
                .unwrap();
            }
            self.index.upsert(points).await
        }
        async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError> {
            self.index.search(query).await
        }
        async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError> {
            self.index.delete(memory_ids).await
        }
        async fn delete_character(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
        ) -> Result<(), VectorError> {
            self.index.delete_character(tenant, character_id).await
        }
        async fn model_mismatch(
            &self,
            model: &str,
            dimensions: usize,
        ) -> Result<Option<String>, VectorError> {
            self.index.model_mismatch(model, dimensions).await
        }
        async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError> {
            self.index.reset(model, dimensions).await
        }
    }

    /// Runs `test` on a fresh database: the exact path, or pgvector on the
    /// server `PGVECTOR_DATABASE_URL` names (and checks it is pgvector).
    pub async fn run<F, T>(test: F, pgvector: bool)
    where
        F: FnOnce(Arc<dyn VectorMemory>) -> T,
        T: Future<Output = ()>,
    {
        let server = if pgvector {
            std::env::var("PGVECTOR_DATABASE_URL").expect(
                "the pgvector cases need PGVECTOR_DATABASE_URL (tests/run starts one from PyPI's pgserver)",
            )
        } else {
            crate::support::server_url()
        };
        let url = crate::support::fresh_database_on(&server).await;
        let store = PostgresStore::connect_lazy(&PostgresOptions {
            url: url.clone(),
            cipher: None,
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(10),
        })
        .unwrap();
        store.migrate().await.expect("migrations apply");
        let mut index = store.vectors(
            crate::suite::MODEL,
            crate::suite::DIMENSIONS,
            virlife::adapters::term_key::TermKey::plain(),
        );
        if !pgvector {
            index = index.exact_only();
        }
        index.ping().await.unwrap();
        let expected = if pgvector {
            "postgres-pgvector"
        } else {
            "postgres-exact"
        };
        assert_eq!(index.kind(), expected);
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        test(Arc::new(StoredFirst { pool, index })).await;
    }
}

#[cfg(feature = "qdrant")]
mod qdrant_server {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;
    use virlife::adapters::qdrant::{QdrantOptions, QdrantVectors, grpc_url};
    use virlife::core::ports::VectorMemory;

    fn url() -> String {
        std::env::var("QDRANT_URL").expect(
            "the Qdrant contract cases need a server: set QDRANT_URL \
             (tests/run starts one when QDRANT_BIN names a Qdrant executable)",
        )
    }

    /// Runs `test` on an index over a fresh collection, then drops the
    /// collection whatever happened, and fails if the test did.
    pub async fn in_own_collection<F, T>(test: F)
    where
        F: FnOnce(Arc<dyn VectorMemory>) -> T,
        T: Future<Output = ()> + Send + 'static,
    {
        let collection = format!("virlife_contract_{}", uuid::Uuid::new_v4().simple());
        let index = QdrantVectors::new(&QdrantOptions {
            url: url(),
            api_key: std::env::var("QDRANT_API_KEY").ok().map(Into::into),
            collection: collection.clone(),
            embedding_model: crate::suite::MODEL.into(),
            dimensions: crate::suite::DIMENSIONS,
            timeout: Duration::from_secs(10),
            term_key: virlife::adapters::term_key::TermKey::plain(),
        })
        .expect("a Qdrant client");
        // A panic inside the spawned task comes back as an error here.
        let outcome = tokio::spawn(test(Arc::new(index))).await;

        let (url, _) = grpc_url(&url());
        let mut client = qdrant_client::Qdrant::from_url(&url)
            .timeout(Duration::from_secs(10))
            .skip_compatibility_check();
        if let Ok(key) = std::env::var("QDRANT_API_KEY") {
            client = client.api_key(key);
        }
        let client = client.build().expect("a Qdrant client");
        if client.collection_exists(&collection).await.unwrap_or(false) {
            client
                .delete_collection(&collection)
                .await
                .expect("the test's collection can be dropped");
        }
        if let Err(err) = outcome {
            std::panic::resume_unwind(err.into_panic());
        }
        assert!(
            !client.collection_exists(&collection).await.unwrap(),
            "the test's collection is gone"
        );
    }
}

contract!(
    a_live_index_answers_ping,
    an_empty_index_finds_nothing,
    search_is_scoped_to_the_character,
    other_tenants_are_invisible,
    a_person_finds_the_worlds_points_and_their_own,
    a_kind_narrows_the_search,
    hits_come_best_first_scored_by_cosine,
    no_more_than_k_hits_the_best_ones,
    k_zero_finds_nothing,
    unrelated_points_are_not_hits,
    ranking_agrees_with_exact_cosine,
    upserting_the_same_id_replaces_the_point,
    delete_removes_only_the_named_points,
    delete_character_removes_only_that_characters_points,
    the_model_in_use_is_no_mismatch,
    another_model_or_size_is_a_mismatch,
    a_reset_drops_every_point_and_prepares_the_index_again,
    results_do_not_depend_on_batching,
    words_rank_rare_shared_words_first,
    words_are_scoped_like_vectors,
    hybrid_fills_both_lists,
    word_ranking_agrees_with_the_reference_bm25,
);
