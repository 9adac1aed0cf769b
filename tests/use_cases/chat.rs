//! Chat turns when a port fails: the turn still answers or names what it kept.

use crate::Parts;
use futures_util::StreamExt;
use std::sync::Arc;
use virlife::core::domain::{CharacterName, MessageContent, Persona, Role, Session, TenantId};
use virlife::core::error::Error;
use virlife::core::ports::{
    CacheError, Llm as _, LlmError, MockCache, MockLlm, MockVectorMemory, StreamChunk, VectorError,
};
use virlife::core::use_cases::{TurnEvent, TurnInput, UseCases};
async fn session(uc: &UseCases) -> (TenantId, Session) {
    let tenant = TenantId::parse("acme").unwrap();
    let character = uc
        .characters
        .create(
            tenant.clone(),
            CharacterName::parse("Ada").unwrap(),
            Persona::parse("A retired sea captain.").unwrap(),
            None,
        )
        .await
        .unwrap();
    let session = uc
        .sessions
        .create(tenant.clone(), character.id, None, None, Default::default())
        .await
        .unwrap();
    (tenant, session)
}

fn say(tenant: &TenantId, session: &Session, text: &str) -> TurnInput {
    TurnInput {
        tenant: tenant.clone(),
        session_id: session.id,
        content: MessageContent::parse(text).unwrap(),
        idempotency_key: None,
    }
}

#[tokio::test]
async fn a_failing_cache_does_not_fail_a_turn() {
    let mut cache = MockCache::new();
    let down = || CacheError::Unavailable("connection refused".into());
    cache.expect_get().returning(move |_| Err(down()));
    cache.expect_get_many().returning(move |_| Err(down()));
    cache.expect_set().returning(move |_, _, _| Err(down()));
    cache.expect_delete().returning(move |_| Err(down()));
    cache
        .expect_set_if_absent()
        .returning(move |_, _, _| Err(down()));
    let uc = Parts {
        cache: Arc::new(cache),
        ..Parts::default()
    }
    .use_cases();
    let (tenant, session) = session(&uc).await;
    let first = uc
        .chat
        .send(say(&tenant, &session, "I love sailing"))
        .await
        .unwrap();
    let second = uc
        .chat
        .send(say(&tenant, &session, "Sailing again?"))
        .await
        .unwrap();
    assert!(!first.reply.content.is_empty());
    assert_eq!(second.memories_used[0].memory.session_id, Some(session.id));
}

#[tokio::test]
async fn a_failing_vector_memory_does_not_fail_a_turn() {
    let mut vectors = MockVectorMemory::new();
    vectors
        .expect_search()
        .returning(|_| Err(VectorError::Unavailable("timeout".into())));
    vectors
        .expect_upsert()
        .returning(|_| Err(VectorError::Unavailable("timeout".into())));
    let uc = Parts {
        vectors: Arc::new(vectors),
        ..Parts::default()
    }
    .use_cases();
    let (tenant, session) = session(&uc).await;
    uc.chat
        .send(say(&tenant, &session, "I love sailing"))
        .await
        .unwrap();
    let second = uc
        .chat
        .send(say(&tenant, &session, "Sailing again?"))
        .await
        .unwrap();
    // Answered from the store's embeddings instead.
    assert!(
        second.memories_used[0]
            .memory
            .content
            .contains("I love sailing")
    );
}

#[tokio::test]
async fn a_failing_llm_keeps_the_user_message_and_names_it() {
    let mut llm = MockLlm::new();
    llm.expect_describe()
        .returning(|| virlife::adapters::offline_llm::OfflineLlm::new(8).describe());
    llm.expect_embed()
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0; 64]).collect()));
    llm.expect_render()
        .returning(|_| Err(LlmError::Unavailable("connection reset".into())));
    let parts = Parts {
        llm: Arc::new(llm),
        ..Parts::default()
    };
    let store = parts.store.clone();
    let uc = parts.use_cases();
    let (tenant, session) = session(&uc).await;
    let err = uc
        .chat
        .send(say(&tenant, &session, "Are you there?"))
        .await
        .unwrap_err();
    let Error::Llm {
        message_id: Some(id),
        ..
    } = err
    else {
        panic!("expected an LLM error naming the message, got {err:?}");
    };
    let stored = store.get_message(&tenant, id).await.unwrap().unwrap();
    assert_eq!(stored.content, "Are you there?");
    assert_eq!(stored.role, Role::User);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_result() {
    let parts = Parts::default();
    let store = parts.store.clone();
    let uc = parts.use_cases();
    let (tenant, session) = session(&uc).await;
    let keyed = |text: &str| TurnInput {
        idempotency_key: Some("retry-1".into()),
        ..say(&tenant, &session, text)
    };
    let first = uc.chat.send(keyed("Hello")).await.unwrap();
    let again = uc.chat.send(keyed("Hello")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(first.reply.id, again.reply.id);
    assert_eq!(
        store
            .count_messages(&tenant, session.id, Role::User)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_stream_that_breaks_stores_the_partial_reply_as_incomplete() {
    let mut llm = MockLlm::new();
    llm.expect_describe()
        .returning(|| virlife::adapters::offline_llm::OfflineLlm::new(8).describe());
    llm.expect_embed()
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0; 8]).collect()));
    llm.expect_render_stream().returning(|_| {
        Ok(futures_util::stream::iter(vec![
            Ok(StreamChunk::Delta("Half a ".into())),
            Err(LlmError::Unavailable("reset".into())),
        ])
        .boxed())
    });
    let parts = Parts {
        llm: Arc::new(llm),
        ..Parts::default()
    };
    let store = parts.store.clone();
    let uc = parts.use_cases();
    let (tenant, session) = session(&uc).await;
    let mut events = uc
        .chat
        .stream(say(&tenant, &session, "Tell me a story"))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(event) = events.recv().await {
        seen.push(event);
    }
    assert!(matches!(
        seen.last(),
        Some(TurnEvent::Failed(Error::Llm { .. }))
    ));
    let messages = store
        .recent_messages(&tenant, session.id, 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].content, "Half a ");
    assert!(messages[1].incomplete);
}
