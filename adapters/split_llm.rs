//! An `Llm` that takes chat from one model and embeddings from another: for
//! providers without an embeddings endpoint (Groq, llm-katan...), chat goes
//! to the provider and embeddings are computed locally
//! (`EMBEDDING_MODEL_ID=local`).

use crate::core::ports::{
    ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest, RenderRequest,
};
use async_trait::async_trait;
use std::sync::Arc;

pub struct SplitLlm {
    chat: Arc<dyn Llm>,
    embeddings: Arc<dyn Llm>,
}

impl SplitLlm {
    pub fn new(chat: Arc<dyn Llm>, embeddings: Arc<dyn Llm>) -> Self {
        Self { chat, embeddings }
    }
}

#[async_trait]
impl Llm for SplitLlm {
    fn describe(&self) -> LlmDescription {
        let embeddings = self.embeddings.describe();
        LlmDescription {
            embedding_model: embeddings.embedding_model,
            dimensions: embeddings.dimensions,
            ..self.chat.describe()
        }
    }

    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        self.chat.render(request).await
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        self.chat.render_stream(request).await
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        self.chat.reflect(request).await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.embeddings.embed(texts).await
    }

    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        self.chat.list_models().await
    }
}
