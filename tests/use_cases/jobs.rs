//! The job worker: retries, then a failure that says why.

use crate::Parts;
use std::sync::Arc;
use std::time::Duration;
use virlife::core::domain::{CharacterName, JobStatus, Persona, TenantId};
use virlife::core::ports::{Llm as _, LlmError, MockLlm};
use virlife::core::use_cases::{CoreSettings, MAX_ATTEMPTS, UseCases};

/// Reflection reads conversations: give the character one to read.
async fn with_a_conversation(uc: &UseCases, tenant: &TenantId, character: uuid::Uuid) {
    use virlife::core::domain::{Message, Role, new_id};
    let session = uc
        .sessions
        .create(tenant.clone(), character, None, None, Default::default())
        .await
        .unwrap();
    uc.ports
        .store
        .append_message(&Message {
            id: new_id(),
            tenant: tenant.clone(),
            session_id: session.id,
            role: Role::User,
            content: "My boat is called the Petrel.".into(),
            usage: None,
            incomplete: false,
            latency_ms: None,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
}

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
    with_a_conversation(&uc, &tenant, character.id).await;
    let job = uc.reflection.request(&tenant, character.id).await.unwrap();
    while uc.jobs.run_next().await.unwrap() {}
    let job = uc.jobs.get(&tenant, job.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, MAX_ATTEMPTS);
    assert!(job.last_error.unwrap().contains("language model"));
}

/// The offline model, except that its first reflection panics.
struct PanicsOnce {
    inner: virlife::adapters::offline_llm::OfflineLlm,
    panicked: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl virlife::core::ports::Llm for PanicsOnce {
    fn describe(&self) -> virlife::core::ports::LlmDescription {
        self.inner.describe()
    }
    async fn render(
        &self,
        request: &virlife::core::ports::RenderRequest,
    ) -> Result<virlife::core::ports::Completion, LlmError> {
        self.inner.render(request).await
    }
    async fn render_stream(
        &self,
        request: &virlife::core::ports::RenderRequest,
    ) -> Result<virlife::core::ports::ChunkStream, LlmError> {
        self.inner.render_stream(request).await
    }
    async fn reflect(
        &self,
        request: &virlife::core::ports::ReflectRequest,
    ) -> Result<virlife::core::ports::Completion, LlmError> {
        if !self
            .panicked
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("the provider sent something we did not expect");
        }
        self.inner.reflect(request).await
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.inner.embed(texts).await
    }
}

#[tokio::test]
async fn a_job_that_panics_fails_with_its_reason_and_the_worker_goes_on() {
    let uc = Parts {
        llm: Arc::new(PanicsOnce {
            inner: virlife::adapters::offline_llm::OfflineLlm::new(16),
            panicked: Default::default(),
        }),
        ..Parts::default()
    }
    .use_cases();
    let tenant = TenantId::parse("acme").unwrap();
    let mut jobs = Vec::new();
    for name in ["Ada", "Bo"] {
        let character = uc
            .characters
            .create(
                tenant.clone(),
                CharacterName::parse(name).unwrap(),
                Persona::parse("p").unwrap(),
                None,
            )
            .await
            .unwrap();
        with_a_conversation(&uc, &tenant, character.id).await;
        jobs.push(
            uc.reflection
                .request(&tenant, character.id)
                .await
                .unwrap()
                .id,
        );
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn({
        let jobs = uc.jobs.clone();
        async move { jobs.work(stopped).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let statuses = loop {
        let mut statuses = Vec::new();
        for id in &jobs {
            statuses.push(uc.jobs.get(&tenant, *id).await.unwrap());
        }
        if statuses
            .iter()
            .all(|j| matches!(j.status, JobStatus::Done | JobStatus::Failed))
            || std::time::Instant::now() > deadline
        {
            break statuses;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(statuses[0].status, JobStatus::Failed, "{statuses:?}");
    let reason = statuses[0].last_error.clone().unwrap_or_default();
    assert!(reason.contains("crashed"), "{reason}");
    assert_eq!(statuses[1].status, JobStatus::Done, "the worker went on");
    assert!(!worker.is_finished(), "the worker is still running");
    stop.send(true).unwrap();
    worker.await.unwrap();
}
