//! The job worker: retries, then a failure that says why.

use crate::Parts;
use std::sync::Arc;
use std::time::Duration;
use virlife::core::domain::{CharacterName, JobStatus, Persona, TenantId};
use virlife::core::ports::{Llm as _, LlmError, MockLlm};
use virlife::core::use_cases::{CoreSettings, MAX_ATTEMPTS};
#[tokio::test]
async fn a_job_whose_model_fails_is_retried_then_ends_failed_with_its_error() {
    let mut llm = MockLlm::new();
    llm.expect_describe()
        .returning(|| virlife::adapters::offline_llm::OfflineLlm::new(8).describe());
    llm.expect_embed()
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0; 8]).collect()));
    llm.expect_reflect()
        .times(MAX_ATTEMPTS as usize)
        .returning(|_| Err(LlmError::Unavailable("boom".into())));
    let uc = Parts {
        llm: Arc::new(llm),
        settings: CoreSettings {
            job_retry_backoff: Duration::ZERO,
            ..CoreSettings::default()
        },
        ..Parts::default()
    }
    .use_cases();
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
    let job = uc.reflection.request(&tenant, character.id).await.unwrap();
    while uc.jobs.run_next().await.unwrap() {}
    let job = uc.jobs.get(&tenant, job.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, MAX_ATTEMPTS);
    assert!(job.last_error.unwrap().contains("language model"));
}
