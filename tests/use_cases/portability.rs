//! Export reads whole listings, page after page: nothing may fall between
//! two pages.

use crate::Parts;
use virlife::core::domain::{CharacterName, Message, Persona, Role, TenantId, new_id};

#[tokio::test]
async fn an_export_holds_every_session_and_message_across_many_pages() {
    let uc = Parts::default().use_cases();
    let tenant = TenantId::parse("acme").unwrap();
    let character = uc
        .characters
        .create(
            tenant.clone(),
            CharacterName::parse("Ada").unwrap(),
            Persona::parse("p").unwrap(),
            None,
        )
        .await
        .unwrap();
    let mut first = None;
    for _ in 0..250 {
        let session = uc
            .sessions
            .create(tenant.clone(), character.id, None, None, Default::default())
            .await
            .unwrap();
        first.get_or_insert(session.id);
    }
    let first = first.unwrap();
    for i in 0..250 {
        uc.ports
            .store
            .append_message(&Message {
                id: new_id(),
                tenant: tenant.clone(),
                session_id: first,
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Character
                },
                content: format!("line {i}"),
                usage: None,
                incomplete: false,
                latency_ms: None,
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let export = uc
        .portability
        .export(&tenant, character.id, true)
        .await
        .unwrap();
    let sessions = export.sessions.unwrap();
    assert_eq!(sessions.len(), 250);
    let (session, messages) = &sessions[0];
    assert_eq!(session.id, first);
    let lines: Vec<String> = messages.iter().map(|m| m.content.clone()).collect();
    let expected: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected);
}
