//! One text in, one embedding out, with the model's name beside it.

use crate::core::error::{Error, Result};
use crate::core::ports::{Llm, LlmDescription, LlmError};
use std::sync::Arc;

#[derive(Clone)]
pub struct Embedder {
    llm: Arc<dyn Llm>,
}

impl Embedder {
    pub fn new(llm: Arc<dyn Llm>) -> Self {
        Self { llm }
    }

    pub fn model(&self) -> String {
        self.llm.describe().embedding_model
    }

    pub fn describe(&self) -> LlmDescription {
        self.llm.describe()
    }

    pub async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut vectors =
            self.llm
                .embed(&[text.to_owned()])
                .await
                .map_err(|source| Error::Llm {
                    source,
                    message_id: None,
                })?;
        vectors.pop().ok_or_else(|| Error::Llm {
            source: LlmError::BadResponse("no embedding returned".into()),
            message_id: None,
        })
    }
}
