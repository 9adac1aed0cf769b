use chrono::{Duration as Days, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use virlife::core::domain::{
    ApiKey, Character, IdempotencyRecord, Job, JobKind, JobOutcome, JobStatus, KeyHash, Memory,
    MemoryKind, MemorySource, Message, PageRequest, PendingVector, Role, ScopeFilter, Session,
    TenantId, Usage, new_id,
};
use virlife::core::ports::{Store, StoreError};

type S = Arc<dyn Store>;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn page(limit: i64, after: Option<Uuid>) -> PageRequest {
    PageRequest {
        limit: limit as u32,
        after,
    }
}

async fn character(store: &S, tenant: &TenantId, name: &str) -> Character {
    let now = Utc::now();
    let mut traits = serde_json::Map::new();
    traits.insert("brave".into(), serde_json::json!(true));
    let character = Character {
        id: new_id(),
        tenant: tenant.clone(),
        name: name.into(),
        persona: format!("{name}'s persona"),
        traits,
        place_id: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_character(&character).await.unwrap();
    character
}

async fn session(store: &S, character: &Character) -> Session {
    session_with(store, character, "sam").await
}

async fn session_with(store: &S, character: &Character, user: &str) -> Session {
    let now = Utc::now();
    let session = Session {
        id: new_id(),
        tenant: character.tenant.clone(),
        character_id: character.id,
        user_id: user.into(),
        user_name: Some("Sam".into()),
        metadata: Default::default(),
        created_at: now,
        last_active_at: now,
    };
    store.insert_session(&session).await.unwrap();
    session
}

fn message(session: &Session, role: Role, content: &str) -> Message {
    Message {
        id: new_id(),
        tenant: session.tenant.clone(),
        session_id: session.id,
        role,
        content: content.into(),
        usage: (role == Role::Character).then_some(Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
        }),
        incomplete: false,
        latency_ms: (role == Role::Character).then_some(42),
        created_at: Utc::now(),
    }
}

fn memory(character: &Character, kind: MemoryKind, content: &str, session: Option<Uuid>) -> Memory {
    Memory {
        id: new_id(),
        tenant: character.tenant.clone(),
        character_id: character.id,
        kind,
        source: MemorySource::Manual,
        content: content.into(),
        importance: 0.25,
        session_id: session,
        user_id: None,
        embedding: vec![0.5, -0.25, 1.0],
        embedding_model: "test-model".into(),
        superseded_by: None,
        // Round-trips like every other field (tests compare whole memories).
        evidence: vec![uuid::Uuid::from_u128(7)],
        event_id: None,
        occurred_at: Utc::now(),
        created_at: Utc::now(),
    }
}

fn job(character: &Character) -> Job {
    let now = Utc::now();
    Job {
        id: new_id(),
        tenant: character.tenant.clone(),
        kind: JobKind::Reflect,
        character_id: character.id,
        status: JobStatus::Queued,
        attempts: 0,
        max_attempts: 3,
        run_at: now,
        locked_until: None,
        last_error: None,
        result: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn characters_are_scoped_by_tenant_and_paged_in_creation_order(store: S) {
    let (a, b) = (tenant("a"), tenant("b"));
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(character(&store, &a, &format!("A{i}")).await.id);
        character(&store, &b, &format!("B{i}")).await;
    }
    let first = store.list_characters(&a, &page(2, None)).await.unwrap();
    // Adapters return one row more than asked, to signal a next page.
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), mine[..3]);
    let rest = store
        .list_characters(&a, &page(10, Some(mine[1])))
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), mine[2..]);
    let got = store.get_character(&a, mine[0]).await.unwrap().unwrap();
    assert_eq!(got.name, "A0");
    assert_eq!(got.traits["brave"], true);
    assert!(store.get_character(&b, mine[0]).await.unwrap().is_none());
}

/// A whole-store export walks every tenant's characters in id order.
pub async fn characters_of_every_tenant_come_back_in_order_for_an_export(store: S) {
    let (a, b) = (tenant("a"), tenant("b"));
    let mut all = Vec::new();
    for i in 0..3 {
        all.push(character(&store, &a, &format!("A{i}")).await.id);
        all.push(character(&store, &b, &format!("B{i}")).await.id);
    }
    let first = store.characters_after(None, 4).await.unwrap();
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), all[..4]);
    let rest = store.characters_after(Some(all[3]), 4).await.unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), all[4..]);
    assert_eq!(rest[0].tenant, a);
    assert!(
        store
            .characters_after(Some(all[5]), 4)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn updates_and_deletes_respect_the_tenant(store: S) {
    let (a, b) = (tenant("a"), tenant("b"));
    let mut c = character(&store, &a, "Ada").await;
    c.name = "Stolen".into();
    c.tenant = b.clone();
    assert!(!store.update_character(&c).await.unwrap());
    assert!(!store.delete_character(&b, c.id).await.unwrap());
    c.tenant = a.clone();
    c.name = "Ada II".into();
    assert!(store.update_character(&c).await.unwrap());
    assert_eq!(
        store.get_character(&a, c.id).await.unwrap().unwrap().name,
        "Ada II"
    );
    assert!(store.delete_character(&a, c.id).await.unwrap());
    assert!(!store.delete_character(&a, c.id).await.unwrap());
}

pub async fn deleting_a_character_cascades_to_everything_it_owns(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let other = character(&store, &a, "Bo").await;
    let s = session(&store, &c).await;
    let m = message(&s, Role::User, "hello");
    store.append_message(&m).await.unwrap();
    let mem = memory(&c, MemoryKind::Episodic, "a memory", Some(s.id));
    store.insert_memory(&mem).await.unwrap();
    let kept = memory(&other, MemoryKind::Episodic, "kept", None);
    store.insert_memory(&kept).await.unwrap();
    let j = job(&c);
    store.enqueue_job(&j).await.unwrap();

    assert!(store.delete_character(&a, c.id).await.unwrap());
    assert!(store.get_session(&a, s.id).await.unwrap().is_none());
    assert!(store.get_message(&a, m.id).await.unwrap().is_none());
    assert!(
        store
            .get_memories(&a, &[mem.id, kept.id])
            .await
            .unwrap()
            .iter()
            .all(|x| x.id == kept.id)
    );
    assert!(store.get_job(&a, j.id).await.unwrap().is_none());
    assert_eq!(store.memories_after(None, 100).await.unwrap().len(), 1);
}

pub async fn deleting_a_session_removes_messages_and_detaches_memories(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let s = session(&store, &c).await;
    let m = message(&s, Role::User, "hello");
    store.append_message(&m).await.unwrap();
    let mem = memory(&c, MemoryKind::Episodic, "the turn", Some(s.id));
    store.insert_memory(&mem).await.unwrap();
    assert!(!store.delete_session(&tenant("b"), s.id).await.unwrap());
    assert!(store.delete_session(&a, s.id).await.unwrap());
    assert!(store.get_message(&a, m.id).await.unwrap().is_none());
    let kept = store.get_memories(&a, &[mem.id]).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].session_id, None);
}

pub async fn messages_move_the_session_and_come_back_in_order(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let s = session(&store, &c).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Character
        };
        let m = message(&s, role, &format!("m{i}"));
        store.append_message(&m).await.unwrap();
        sent.push(m);
    }
    let last = store.get_session(&a, s.id).await.unwrap().unwrap();
    assert!(last.last_active_at >= sent[4].created_at - Days::milliseconds(1));
    let recent = store.recent_messages(&a, s.id, 2).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["m3", "m4"]
    );
    assert_eq!(store.count_messages(&a, s.id, Role::User).await.unwrap(), 3);
    assert_eq!(
        store
            .count_messages(&a, s.id, Role::Character)
            .await
            .unwrap(),
        2
    );
    let listed = store
        .list_messages(&a, s.id, &page(2, Some(sent[0].id)))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        [sent[1].id, sent[2].id, sent[3].id]
    );
    assert_eq!(listed[0].usage, sent[1].usage);
    let fetched = store.get_message(&a, sent[1].id).await.unwrap().unwrap();
    assert_eq!(
        fetched,
        Message {
            created_at: fetched.created_at,
            ..sent[1].clone()
        }
    );
    assert!(
        store
            .list_messages(&tenant("b"), s.id, &page(10, None))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn writes_under_missing_or_foreign_parents_are_conflicts(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let s = session(&store, &c).await;
    let foreign = Session {
        tenant: tenant("b"),
        ..s.clone()
    };
    let stray = message(&foreign, Role::User, "hi");
    assert!(matches!(
        store.append_message(&stray).await,
        Err(StoreError::Conflict(_))
    ));
    let gone = Session {
        id: new_id(),
        ..s.clone()
    };
    assert!(matches!(
        store
            .append_message(&message(&gone, Role::User, "hi"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let foreign_character = Character {
        tenant: tenant("b"),
        ..c.clone()
    };
    assert!(matches!(
        store
            .insert_memory(&memory(&foreign_character, MemoryKind::Episodic, "x", None))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let orphan = Session {
        id: new_id(),
        character_id: new_id(),
        ..s.clone()
    };
    assert!(matches!(
        store.insert_session(&orphan).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.enqueue_job(&job(&foreign_character)).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn api_keys_are_found_by_hash_unique_and_revoked_once(store: S) {
    let key = ApiKey {
        id: new_id(),
        tenant: tenant("a"),
        name: "web".into(),
        key_hash: KeyHash::of("vl_secret"),
        created_at: Utc::now(),
        revoked_at: None,
    };
    store.insert_api_key(&key).await.unwrap();
    let twin = ApiKey {
        id: new_id(),
        ..key.clone()
    };
    assert!(matches!(
        store.insert_api_key(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    let found = store
        .find_api_key(&KeyHash::of("vl_secret"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, key.id);
    assert!(
        store
            .find_api_key(&KeyHash::of("other"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_api_keys().await.unwrap().len(), 1);
    assert!(store.revoke_api_key(key.id, Utc::now()).await.unwrap());
    assert!(!store.revoke_api_key(key.id, Utc::now()).await.unwrap());
    assert!(
        store
            .find_api_key(&key.key_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

pub async fn memories_keep_their_embeddings_and_filter_by_tenant_and_kind(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let e = memory(&c, MemoryKind::Episodic, "episode", None);
    let b = memory(&c, MemoryKind::Biographical, "fact", None);
    store.insert_memory(&e).await.unwrap();
    store.insert_memory(&b).await.unwrap();
    let all = store
        .all_memories(&a, c.id, None, &ScopeFilter::Any)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let facts = store
        .all_memories(&a, c.id, Some(MemoryKind::Biographical), &ScopeFilter::Any)
        .await
        .unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].embedding, vec![0.5, -0.25, 1.0]);
    assert_eq!(facts[0].embedding_model, "test-model");
    assert_eq!(facts[0].importance, 0.25);
    let listed = store
        .list_memories(&a, c.id, Some(MemoryKind::Episodic), &page(10, None))
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|m| m.id).collect::<Vec<_>>(), [e.id]);
    assert!(
        store
            .get_memories(&tenant("b"), &[e.id, b.id])
            .await
            .unwrap()
            .is_empty()
    );
    // A search's hits: the same memories (their embeddings may be left out).
    let mut whole = store.get_memories(&a, &[e.id, b.id]).await.unwrap();
    let mut for_recall = store
        .get_memories_for_recall(&a, &[e.id, b.id])
        .await
        .unwrap();
    assert_eq!(for_recall.len(), 2);
    for memory in whole.iter_mut().chain(for_recall.iter_mut()) {
        memory.embedding.clear();
    }
    whole.sort_by_key(|m| m.id);
    for_recall.sort_by_key(|m| m.id);
    assert_eq!(whole, for_recall);
    assert!(
        store
            .get_memories_for_recall(&tenant("b"), &[e.id, b.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.delete_memory(&tenant("b"), c.id, e.id).await.unwrap());
    assert!(store.delete_memory(&a, c.id, e.id).await.unwrap());
    let batch = store.memories_after(None, 1).await.unwrap();
    assert_eq!(batch.iter().map(|m| m.id).collect::<Vec<_>>(), [b.id]);
    assert!(
        store
            .memories_after(Some(b.id), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn idempotency_keys_are_claimed_once_and_remember_the_response(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let s = session(&store, &c).await;
    let record = IdempotencyRecord {
        session_id: s.id,
        user_message_id: new_id(),
        claimed_at: Utc::now(),
        response: None,
    };
    assert_eq!(
        store
            .claim_idempotency_key(&a, "k1", &record)
            .await
            .unwrap(),
        None
    );
    let again = IdempotencyRecord {
        user_message_id: new_id(),
        ..record.clone()
    };
    let existing = store
        .claim_idempotency_key(&a, "k1", &again)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(existing.user_message_id, record.user_message_id);
    // Keys are per tenant.
    let b = tenant("b");
    let cb = character(&store, &b, "Bo").await;
    let sb = session(&store, &cb).await;
    let other = IdempotencyRecord {
        session_id: sb.id,
        ..record.clone()
    };
    assert_eq!(
        store.claim_idempotency_key(&b, "k1", &other).await.unwrap(),
        None
    );
    let response = serde_json::json!({"reply": "hi"});
    store
        .complete_idempotency_key(&a, "k1", &response)
        .await
        .unwrap();
    let done = store
        .claim_idempotency_key(&a, "k1", &again)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.response, Some(response));
}

pub async fn jobs_are_claimed_once_retried_later_and_failures_stay_visible(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let j = job(&c);
    store.enqueue_job(&j).await.unwrap();
    let lease = Duration::from_secs(60);
    let claimed = store.claim_job(lease).await.unwrap().unwrap();
    assert_eq!(claimed.id, j.id);
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert!(
        store.claim_job(lease).await.unwrap().is_none(),
        "a running job is not taken twice"
    );

    let later = Utc::now() + Days::seconds(60);
    assert!(
        store
            .finish_job(
                j.id,
                claimed.attempts,
                &JobOutcome::Retry {
                    at: later,
                    error: "model down".into(),
                },
            )
            .await
            .unwrap()
    );
    let queued = store.get_job(&a, j.id).await.unwrap().unwrap();
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(queued.last_error.as_deref(), Some("model down"));
    assert!(
        store.claim_job(lease).await.unwrap().is_none(),
        "not before its retry time"
    );

    assert!(
        !store
            .finish_job(j.id, claimed.attempts, &JobOutcome::Failed("late".into()))
            .await
            .unwrap(),
        "a queued job is nobody's to finish"
    );

    let f = job(&c);
    store.enqueue_job(&f).await.unwrap();
    let running = store.claim_job(lease).await.unwrap().unwrap();
    assert_eq!(running.id, f.id);
    assert!(
        store
            .finish_job(
                f.id,
                running.attempts,
                &JobOutcome::Failed("gave up".into())
            )
            .await
            .unwrap()
    );
    let failed = store.get_job(&a, f.id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("gave up"));
    assert!(store.get_job(&tenant("b"), f.id).await.unwrap().is_none());

    let k = job(&c);
    store.enqueue_job(&k).await.unwrap();
    let running = store.claim_job(lease).await.unwrap().unwrap();
    assert_eq!(running.id, k.id);
    assert!(
        store
            .finish_job(
                k.id,
                running.attempts,
                &JobOutcome::Done(serde_json::json!({"created": []}))
            )
            .await
            .unwrap()
    );
    let done = store.get_job(&a, k.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!(done.result, Some(serde_json::json!({"created": []})));

    // Counted by status across tenants, as /metrics shows them.
    let other = character(&store, &tenant("b"), "Bo").await;
    store.enqueue_job(&job(&other)).await.unwrap();
    let mut counts = store.count_jobs_by_status().await.unwrap();
    counts.retain(|(_, n)| *n > 0);
    counts.sort_by_key(|(status, _)| status.as_str());
    assert_eq!(
        counts,
        vec![
            (JobStatus::Done, 1),
            (JobStatus::Failed, 1),
            (JobStatus::Queued, 2)
        ]
    );
}

pub async fn an_expired_lease_lets_another_worker_take_the_job(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let j = job(&c);
    store.enqueue_job(&j).await.unwrap();
    let first = store.claim_job(Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(first.attempts, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The first worker died without finishing: its lease ran out.
    let second = store
        .claim_job(Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, j.id);
    assert_eq!(second.attempts, 2);
}

pub async fn idle_sessions_are_swept_in_batches(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    for _ in 0..3 {
        session(&store, &c).await;
    }
    let fresh = Utc::now() - Days::days(1);
    assert_eq!(store.delete_idle_sessions(fresh, 10).await.unwrap(), 0);
    let cutoff = Utc::now() + Days::seconds(1);
    assert_eq!(store.delete_idle_sessions(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.delete_idle_sessions(cutoff, 2).await.unwrap(), 1);
    assert!(
        store
            .list_sessions(&a, c.id, &page(10, None))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_superseded_fact_points_at_its_successor(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let old = memory(&c, MemoryKind::Biographical, "Sam lives in Bergen", None);
    let new = memory(&c, MemoryKind::Biographical, "Sam lives in Oslo", None);
    store.insert_memory(&old).await.unwrap();
    store.insert_memory(&new).await.unwrap();
    assert!(
        !store
            .supersede_memory(&tenant("b"), old.id, new.id)
            .await
            .unwrap()
    );
    assert!(!store.supersede_memory(&a, new_id(), new.id).await.unwrap());
    assert!(store.supersede_memory(&a, old.id, new.id).await.unwrap());
    let stored = store.get_memories(&a, &[old.id]).await.unwrap();
    assert_eq!(stored[0].superseded_by, Some(new.id));
    // Deleting the successor un-supersedes the old fact (ON DELETE SET NULL).
    assert!(store.delete_memory(&a, c.id, new.id).await.unwrap());
    assert_eq!(
        store.get_memories(&a, &[old.id]).await.unwrap()[0].superseded_by,
        None
    );
}

pub async fn embeddings_can_be_replaced_after_a_model_change(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let m = memory(&c, MemoryKind::Episodic, "text", None);
    store.insert_memory(&m).await.unwrap();
    assert!(
        store
            .update_embedding(m.id, &[0.0, 1.0], "new-model")
            .await
            .unwrap()
    );
    assert!(!store.update_embedding(new_id(), &[0.0], "x").await.unwrap());
    let stored = &store.get_memories(&a, &[m.id]).await.unwrap()[0];
    assert_eq!(stored.embedding, vec![0.0, 1.0]);
    assert_eq!(stored.embedding_model, "new-model");
}

pub async fn pending_vector_changes_come_back_in_order_until_cleared(store: S) {
    let a = tenant("a");
    let changes = vec![
        PendingVector::Upsert {
            tenant: a.clone(),
            memory_id: new_id(),
        },
        PendingVector::Delete {
            memory_id: new_id(),
        },
        PendingVector::DeleteCharacter {
            tenant: a.clone(),
            character_id: new_id(),
        },
    ];
    for change in &changes {
        store.record_pending_vector(change).await.unwrap();
    }
    let pending = store.pending_vectors(10).await.unwrap();
    assert_eq!(
        pending.iter().map(|p| p.change.clone()).collect::<Vec<_>>(),
        changes
    );
    assert_eq!(store.pending_vectors(2).await.unwrap().len(), 2);
    store
        .clear_pending_vectors(&[pending[0].id, pending[1].id])
        .await
        .unwrap();
    let left = store.pending_vectors(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].change, changes[2]);
}

pub async fn only_the_current_lease_holder_finishes_a_job(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let j = job(&c);
    store.enqueue_job(&j).await.unwrap();
    let first = store.claim_job(Duration::ZERO).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store
        .claim_job(Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.attempts, second.attempts), (1, 2));
    // The first worker comes back late: its result no longer counts.
    let late = JobOutcome::Failed("stale worker".into());
    assert!(!store.finish_job(j.id, first.attempts, &late).await.unwrap());
    let running = store.get_job(&a, j.id).await.unwrap().unwrap();
    assert_eq!(running.status, JobStatus::Running);
    let done = JobOutcome::Done(serde_json::json!({"created": []}));
    assert!(
        store
            .finish_job(j.id, second.attempts, &done)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_job(j.id, second.attempts, &late)
            .await
            .unwrap(),
        "a finished job stays finished"
    );
    let finished = store.get_job(&a, j.id).await.unwrap().unwrap();
    assert_eq!(finished.status, JobStatus::Done);
}

pub async fn a_lease_that_expires_on_the_last_attempt_fails_the_job_with_a_reason(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let j = Job {
        max_attempts: 2,
        ..job(&c)
    };
    store.enqueue_job(&j).await.unwrap();
    for attempt in 1..=2 {
        let claimed = store.claim_job(Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(claimed.attempts, attempt);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        store.claim_job(Duration::ZERO).await.unwrap().is_none(),
        "no third attempt"
    );
    let failed = store.get_job(&a, j.id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    let reason = failed.last_error.unwrap_or_default();
    assert!(
        reason.contains("lease expired") && reason.contains("2 attempts"),
        "{reason}"
    );
}

pub async fn finished_jobs_older_than_a_cutoff_are_deleted_in_batches(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let mut finished = Vec::new();
    for _ in 0..3 {
        let j = job(&c);
        store.enqueue_job(&j).await.unwrap();
        let running = store
            .claim_job(Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let outcome = JobOutcome::Done(serde_json::json!({}));
        assert!(
            store
                .finish_job(running.id, running.attempts, &outcome)
                .await
                .unwrap()
        );
        finished.push(running.id);
    }
    let queued = job(&c);
    store.enqueue_job(&queued).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = Utc::now();
    assert_eq!(
        store
            .delete_finished_jobs(cutoff - Days::hours(1), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.delete_finished_jobs(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.delete_finished_jobs(cutoff, 10).await.unwrap(), 1);
    for id in finished {
        assert!(store.get_job(&a, id).await.unwrap().is_none());
    }
    assert!(
        store.get_job(&a, queued.id).await.unwrap().is_some(),
        "unfinished jobs stay"
    );
}

/// Text that looks like the encryption envelope is still just text.
pub async fn text_that_looks_like_ciphertext_reads_back_verbatim(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let s = session(&store, &c).await;
    let tricky = "vl1:deadbeef:AAAA";
    let said = message(&s, Role::User, tricky);
    store.append_message(&said).await.unwrap();
    let kept = memory(&c, MemoryKind::Episodic, tricky, Some(s.id));
    store.insert_memory(&kept).await.unwrap();

    let got = store.get_message(&a, said.id).await.unwrap().unwrap();
    assert_eq!(got.content, tricky);
    let page = PageRequest::parse(Some(10), None).unwrap();
    let listed = store.list_messages(&a, s.id, &page).await.unwrap();
    assert_eq!(listed[0].content, tricky);
    let recent = store.recent_messages(&a, s.id, 5).await.unwrap();
    assert_eq!(recent[0].content, tricky);
    let found = store.get_memories(&a, &[kept.id]).await.unwrap();
    assert_eq!(found[0].content, tricky);
    let all = store
        .all_memories(&a, c.id, None, &ScopeFilter::Any)
        .await
        .unwrap();
    assert_eq!(all[0].content, tricky);
    let listed = store.list_memories(&a, c.id, None, &page).await.unwrap();
    assert_eq!(listed[0].content, tricky);
}

pub async fn a_person_reads_the_worlds_memories_and_their_own(store: S) {
    let a = tenant("a");
    let c = character(&store, &a, "Ada").await;
    let sam = session_with(&store, &c, "sam").await;
    assert_eq!(
        store
            .get_session(&a, sam.id)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "sam"
    );
    let world = memory(&c, MemoryKind::Episodic, "the tavern burned", None);
    let sams = Memory {
        user_id: Some("sam".into()),
        ..memory(&c, MemoryKind::Episodic, "Sam's secret", Some(sam.id))
    };
    let alexs = Memory {
        user_id: Some("alex".into()),
        ..memory(&c, MemoryKind::Biographical, "Alex sails", None)
    };
    for m in [&world, &sams, &alexs] {
        store.insert_memory(m).await.unwrap();
    }
    let ids = |found: Vec<Memory>| {
        let mut ids: Vec<Uuid> = found.into_iter().map(|m| m.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    let for_alex = ScopeFilter::Person("alex".into());
    assert_eq!(
        ids(store.all_memories(&a, c.id, None, &for_alex).await.unwrap()),
        sorted(vec![world.id, alexs.id])
    );
    assert_eq!(
        ids(store
            .all_memories(&a, c.id, None, &ScopeFilter::Person("sam".into()))
            .await
            .unwrap()),
        sorted(vec![world.id, sams.id])
    );
    assert_eq!(
        store.get_memories(&a, &[sams.id]).await.unwrap()[0]
            .user_id
            .as_deref(),
        Some("sam")
    );
}

pub async fn erasing_a_person_removes_their_sessions_messages_and_memories(store: S) {
    let a = tenant("a");
    let ada = character(&store, &a, "Ada").await;
    let bo = character(&store, &a, "Bo").await;
    let sam_ada = session_with(&store, &ada, "sam").await;
    let sam_bo = session_with(&store, &bo, "sam").await;
    let alex = session_with(&store, &ada, "alex").await;
    for session in [&sam_ada, &sam_bo, &alex] {
        store
            .append_message(&message(session, Role::User, "hello"))
            .await
            .unwrap();
    }
    store
        .append_message(&message(&sam_ada, Role::Character, "hi Sam"))
        .await
        .unwrap();
    let owned = |c: &Character, user: &str, session: Option<Uuid>| Memory {
        user_id: Some(user.into()),
        ..memory(c, MemoryKind::Episodic, "said", session)
    };
    let sam_at_ada = owned(&ada, "sam", Some(sam_ada.id));
    let sam_fact = owned(&ada, "sam", None);
    let sam_at_bo = owned(&bo, "sam", Some(sam_bo.id));
    let alex_at_ada = owned(&ada, "alex", Some(alex.id));
    let world = memory(&ada, MemoryKind::Episodic, "the tavern burned", None);
    for m in [&sam_at_ada, &sam_fact, &sam_at_bo, &alex_at_ada, &world] {
        store.insert_memory(m).await.unwrap();
    }

    // Another tenant's erasure of "sam" touches nothing here.
    let foreign = store.erase_person(&tenant("b"), None, "sam").await.unwrap();
    assert!(foreign.sessions.is_empty() && foreign.memories.is_empty());

    let erased = store.erase_person(&a, Some(ada.id), "sam").await.unwrap();
    assert_eq!(erased.sessions, [sam_ada.id]);
    assert_eq!(erased.messages, 2);
    let mut memories = erased.memories.clone();
    memories.sort();
    let mut expected = vec![sam_at_ada.id, sam_fact.id];
    expected.sort();
    assert_eq!(memories, expected);
    assert!(store.get_session(&a, sam_ada.id).await.unwrap().is_none());
    assert!(store.get_session(&a, sam_bo.id).await.unwrap().is_some());
    assert!(store.get_session(&a, alex.id).await.unwrap().is_some());
    let left: Vec<Uuid> = store
        .all_memories(&a, ada.id, None, &ScopeFilter::Any)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&alex_at_ada.id) && left.contains(&world.id));

    // Tenant-wide: Bo's memories of Sam go too.
    let everywhere = store.erase_person(&a, None, "sam").await.unwrap();
    assert_eq!(everywhere.sessions, [sam_bo.id]);
    assert_eq!(everywhere.messages, 1);
    assert_eq!(everywhere.memories, [sam_at_bo.id]);
    let again = store.erase_person(&a, None, "sam").await.unwrap();
    assert_eq!(again, Default::default());
}

// ---- the world ----

fn place(tenant: &TenantId, name: &str, parent: Option<Uuid>) -> virlife::core::domain::Place {
    let now = Utc::now();
    virlife::core::domain::Place {
        id: new_id(),
        tenant: tenant.clone(),
        name: name.into(),
        description: format!("{name}, described"),
        parent_id: parent,
        created_at: now,
        updated_at: now,
    }
}

pub async fn places_nest_hold_characters_and_let_go_when_deleted(store: S) {
    let acme = tenant("acme");
    let rival = tenant("rival");
    let town = place(&acme, "Town", None);
    store.insert_place(&town).await.unwrap();
    let tavern = place(&acme, "Tavern", Some(town.id));
    store.insert_place(&tavern).await.unwrap();
    let room = place(&acme, "Room", Some(tavern.id));
    store.insert_place(&room).await.unwrap();
    let theirs = place(&rival, "Theirs", Some(town.id));
    assert!(matches!(
        store.insert_place(&theirs).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_place(&acme, tavern.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Tavern"
    );
    assert!(store.get_place(&rival, tavern.id).await.unwrap().is_none());
    let inside: Vec<Uuid> = store
        .list_places(&acme, Some(town.id), &page(10, None))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(inside, vec![tavern.id]);
    assert_eq!(
        store
            .list_places(&acme, None, &page(10, None))
            .await
            .unwrap()
            .len(),
        3
    );
    let mut tree = store.place_tree(&acme, town.id).await.unwrap();
    tree.sort();
    let mut expected = vec![town.id, tavern.id, room.id];
    expected.sort();
    assert_eq!(tree, expected);
    assert!(store.place_tree(&rival, town.id).await.unwrap().is_empty());

    let mut barkeep = character(&store, &acme, "Mira").await;
    barkeep.place_id = Some(tavern.id);
    assert!(store.update_character(&barkeep).await.unwrap());
    let mut spy = character(&store, &rival, "Spy").await;
    spy.place_id = Some(tavern.id);
    assert!(matches!(
        store.update_character(&spy).await,
        Err(StoreError::Conflict(_))
    ));
    let here = store
        .characters_at(&acme, &[tavern.id, room.id], &page(10, None))
        .await
        .unwrap();
    assert_eq!(here.len(), 1);
    assert_eq!(here[0].place_id, Some(tavern.id));
    assert!(
        store
            .characters_at(&rival, &[tavern.id], &page(10, None))
            .await
            .unwrap()
            .is_empty()
    );

    let mut renamed = tavern.clone();
    renamed.name = "The Salty Dog".into();
    renamed.parent_id = None;
    assert!(store.update_place(&renamed).await.unwrap());
    let mut foreign = renamed.clone();
    foreign.tenant = rival.clone();
    assert!(!store.update_place(&foreign).await.unwrap());
    assert!(!store.delete_place(&rival, tavern.id).await.unwrap());
    assert!(store.delete_place(&acme, tavern.id).await.unwrap());
    let barkeep = store
        .get_character(&acme, barkeep.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(barkeep.place_id, None);
    let room = store.get_place(&acme, room.id).await.unwrap().unwrap();
    assert_eq!(room.parent_id, None);
}

fn event_memory(character: &Character, event: &virlife::core::domain::WorldEvent) -> Memory {
    let mut m = memory(character, MemoryKind::Episodic, &event.description, None);
    m.source = MemorySource::Event;
    m.event_id = Some(event.id);
    m.occurred_at = event.occurred_at;
    m
}

pub async fn a_world_event_and_its_witnesses_memories_are_stored_together(store: S) {
    let acme = tenant("acme");
    let tavern = place(&acme, "Tavern", None);
    store.insert_place(&tavern).await.unwrap();
    let mira = character(&store, &acme, "Mira").await;
    let bram = character(&store, &acme, "Bram").await;
    let occurred_at = "2026-05-01T21:30:00Z".parse().unwrap();
    let event = virlife::core::domain::WorldEvent {
        id: virlife::core::domain::id_at(occurred_at),
        tenant: acme.clone(),
        place_id: Some(tavern.id),
        description: "A brawl broke out".into(),
        importance: 0.75,
        occurred_at,
        created_at: "2026-12-07T10:00:00Z".parse().unwrap(),
    };
    let memories = vec![event_memory(&mira, &event), event_memory(&bram, &event)];
    store.record_world_event(&event, &memories).await.unwrap();
    assert_eq!(
        store.get_world_event(&acme, event.id).await.unwrap(),
        Some(event.clone())
    );
    assert!(
        store
            .get_world_event(&tenant("rival"), event.id)
            .await
            .unwrap()
            .is_none()
    );
    let mut witnesses: Vec<(Uuid, Uuid)> = store
        .event_witnesses(&acme, event.id)
        .await
        .unwrap()
        .iter()
        .map(|w| (w.character_id, w.memory_id))
        .collect();
    witnesses.sort();
    let mut expected: Vec<(Uuid, Uuid)> = memories.iter().map(|m| (m.character_id, m.id)).collect();
    expected.sort();
    assert_eq!(witnesses, expected);
    let kept = store.get_memories(&acme, &[memories[0].id]).await.unwrap();
    assert_eq!(kept[0].event_id, Some(event.id));
    assert_eq!(kept[0].occurred_at, occurred_at);
    let at_tavern = store
        .list_world_events(&acme, Some(tavern.id), &page(10, None))
        .await
        .unwrap();
    assert_eq!(at_tavern.len(), 1);
    let unread = store
        .event_memories_since(&acme, mira.id, None, 10)
        .await
        .unwrap();
    assert_eq!(unread.len(), 1);
    assert!(
        store
            .event_memories_since(&acme, mira.id, Some(unread[0].created_at), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A witness that is not there undoes the whole event.
    let gone = virlife::core::domain::WorldEvent {
        id: new_id(),
        ..event.clone()
    };
    let mut ghost = mira.clone();
    ghost.id = new_id();
    let partial = vec![event_memory(&mira, &gone), event_memory(&ghost, &gone)];
    assert!(matches!(
        store.record_world_event(&gone, &partial).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .get_world_event(&acme, gone.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_memories(&acme, &[partial[0].id])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn relationships_and_states_go_with_their_character_or_person(store: S) {
    use virlife::core::domain::{
        Bipolar, ChangeCause, Counterpart, InnerState, Relationship, RelationshipUpdate,
        StateUpdate,
    };
    let acme = tenant("acme");
    let mira = character(&store, &acme, "Mira").await;
    let bram = character(&store, &acme, "Bram").await;
    let session = session_with(&store, &mira, "sam").await;
    let mut with_sam =
        Relationship::neutral(acme.clone(), mira.id, Counterpart::User("sam".into()));
    with_sam.apply(
        RelationshipUpdate {
            affinity: Some(Bipolar::parse("affinity", -0.5).unwrap()),
            trust: None,
            note: Some("threatened the tavern".into()),
        },
        ChangeCause::Cognition,
        Utc::now(),
    );
    store.put_relationship(&with_sam).await.unwrap();
    let mut with_bram =
        Relationship::neutral(acme.clone(), mira.id, Counterpart::Character(bram.id));
    with_bram.apply(RelationshipUpdate::default(), ChangeCause::Api, Utc::now());
    store.put_relationship(&with_bram).await.unwrap();
    let mut foreign = with_sam.clone();
    foreign.tenant = tenant("rival");
    assert!(matches!(
        store.put_relationship(&foreign).await,
        Err(StoreError::Conflict(_))
    ));
    let read = store
        .get_relationship(&acme, mira.id, &Counterpart::User("sam".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.note, "threatened the tavern");
    assert_eq!(read.affinity, -0.5);
    assert_eq!(read.history.len(), 1);
    assert_eq!(
        store
            .list_relationships(&acme, mira.id, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .list_relationships(&tenant("rival"), mira.id, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut state = InnerState::blank(acme.clone(), mira.id);
    state.apply(
        StateUpdate {
            mood: Some("wary".into()),
            goals: Some(vec!["keep the peace".into()]),
        },
        ChangeCause::Cognition,
        Utc::now(),
    );
    store.put_inner_state(&state).await.unwrap();
    let (now, relationship) = store.bearing(&acme, mira.id, "sam").await.unwrap();
    assert_eq!(now.unwrap().mood, "wary");
    assert_eq!(relationship.unwrap().note, "threatened the tavern");
    let (none, nobody) = store.bearing(&acme, mira.id, "alex").await.unwrap();
    assert!(none.is_some() && nobody.is_none());
    assert_eq!(
        store
            .bearing(&tenant("rival"), mira.id, "sam")
            .await
            .unwrap(),
        (None, None)
    );

    // Erasing Sam erases feelings about Sam; deleting Bram, feelings about Bram.
    let _ = session;
    store.erase_person(&acme, None, "sam").await.unwrap();
    assert!(
        store
            .get_relationship(&acme, mira.id, &Counterpart::User("sam".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.delete_character(&acme, bram.id).await.unwrap());
    assert!(
        store
            .list_relationships(&acme, mira.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_character(&acme, mira.id).await.unwrap());
    assert!(
        store
            .get_inner_state(&acme, mira.id)
            .await
            .unwrap()
            .is_none()
    );
}
