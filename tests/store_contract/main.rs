//! The Store contract: one suite, run against every Store implementation,
//! so the in-memory fake and SQLite cannot drift from PostgreSQL's behaviour.

mod suite;

#[cfg(feature = "postgres")]
#[path = "../common/postgres.rs"]
mod support;

/// Runs each suite test against each Store.
macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $test() {
                    let store = std::sync::Arc::new(virlife::adapters::memory_store::InMemoryStore::new());
                    crate::suite::$test(store).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            async fn store() -> std::sync::Arc<dyn virlife::core::ports::Store> {
                store_with(None).await
            }

            pub async fn store_with(
                cipher: Option<std::sync::Arc<virlife::adapters::cipher::Cipher>>,
            ) -> std::sync::Arc<dyn virlife::core::ports::Store> {
                use virlife::adapters::postgres::{PostgresOptions, PostgresStore};
                use virlife::core::ports::StoreAdmin;
                let store = PostgresStore::connect_lazy(&PostgresOptions {
                    url: crate::support::fresh_database().await,
                    cipher,
                    max_connections: 4,
                    acquire_timeout: std::time::Duration::from_secs(5),
                    query_timeout: std::time::Duration::from_secs(10),
                })
                .unwrap();
                store.migrate().await.expect("migrations apply to an empty database");
                store.ping().await.expect("ready after migrating");
                std::sync::Arc::new(store)
            }

            $(
                #[tokio::test]
                async fn $test() {
                    crate::suite::$test(store().await).await;
                }
            )*
        }

        #[cfg(feature = "sqlite")]
        mod sqlite {
            /// A fresh database file, migrated, in a folder of its own.
            pub async fn store_with(
                cipher: Option<std::sync::Arc<virlife::adapters::cipher::Cipher>>,
            ) -> std::sync::Arc<dyn virlife::core::ports::Store> {
                use virlife::adapters::sqlite::{SqliteOptions, SqliteStore};
                use virlife::core::ports::StoreAdmin;
                let folder = std::env::temp_dir()
                    .join(format!("virlife-contract-{}", uuid::Uuid::new_v4().simple()));
                let store = SqliteStore::open(&SqliteOptions {
                    path: folder.join("virlife.db"),
                    cipher,
                    readers: 4,
                    acquire_timeout: std::time::Duration::from_secs(5),
                    query_timeout: std::time::Duration::from_secs(10),
                    volume: None,
                })
                .unwrap();
                store.migrate().await.expect("migrations apply to an empty file");
                store.ping().await.expect("ready after migrating");
                std::sync::Arc::new(store)
            }

            $(
                #[tokio::test]
                async fn $test() {
                    crate::suite::$test(store_with(None).await).await;
                }
            )*
        }

        /// SQLite with text encrypted at rest.
        #[cfg(feature = "sqlite")]
        mod sqlite_encrypted {
            $(
                #[tokio::test]
                async fn $test() {
                    let cipher = virlife::adapters::cipher::Cipher::new(&[42u8; 32], &[]);
                    let store = crate::sqlite::store_with(Some(std::sync::Arc::new(cipher))).await;
                    crate::suite::$test(store).await;
                }
            )*
        }

        /// The same contract with text encrypted at rest.
        #[cfg(feature = "postgres")]
        mod postgres_encrypted {
            $(
                #[tokio::test]
                async fn $test() {
                    let cipher = virlife::adapters::cipher::Cipher::new(&[42u8; 32], &[]);
                    let store = crate::postgres::store_with(Some(std::sync::Arc::new(cipher))).await;
                    crate::suite::$test(store).await;
                }
            )*
        }
    };
}

contract!(
    characters_are_scoped_by_tenant_and_paged_in_creation_order,
    characters_of_every_tenant_come_back_in_order_for_an_export,
    updates_and_deletes_respect_the_tenant,
    deleting_a_character_cascades_to_everything_it_owns,
    deleting_a_session_removes_messages_and_detaches_memories,
    messages_move_the_session_and_come_back_in_order,
    writes_under_missing_or_foreign_parents_are_conflicts,
    api_keys_are_found_by_hash_unique_and_revoked_once,
    memories_keep_their_embeddings_and_filter_by_tenant_and_kind,
    idempotency_keys_are_claimed_once_and_remember_the_response,
    jobs_are_claimed_once_retried_later_and_failures_stay_visible,
    an_expired_lease_lets_another_worker_take_the_job,
    only_the_current_lease_holder_finishes_a_job,
    a_lease_that_expires_on_the_last_attempt_fails_the_job_with_a_reason,
    finished_jobs_older_than_a_cutoff_are_deleted_in_batches,
    text_that_looks_like_ciphertext_reads_back_verbatim,
    a_person_reads_the_worlds_memories_and_their_own,
    erasing_a_person_removes_their_sessions_messages_and_memories,
    idle_sessions_are_swept_in_batches,
    a_superseded_fact_points_at_its_successor,
    embeddings_can_be_replaced_after_a_model_change,
    pending_vector_changes_come_back_in_order_until_cleared,
    places_nest_hold_characters_and_let_go_when_deleted,
    a_world_event_and_its_witnesses_memories_are_stored_together,
    relationships_and_states_go_with_their_character_or_person,
);
