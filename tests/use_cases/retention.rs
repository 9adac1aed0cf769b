//! The retention sweep.

use crate::Parts;
use virlife::core::domain::{CharacterName, Persona, TenantId};
#[tokio::test]
async fn sessions_idle_past_the_retention_period_are_swept() {
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
    let session = uc
        .sessions
        .create(tenant.clone(), character.id, None, None, Default::default())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    assert_eq!(uc.retention.sweep(now).await.unwrap(), 0);
    let later = now + uc.settings.session_retention + chrono::Duration::minutes(1);
    assert_eq!(uc.retention.sweep(later).await.unwrap(), 1);
    assert!(uc.sessions.get(&tenant, session.id).await.is_err());
    // The character and its memories outlive its sessions.
    assert!(uc.characters.get(&tenant, character.id).await.is_ok());
}
