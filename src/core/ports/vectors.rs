//! The vector index port: rebuildable from the Store.

use crate::core::domain::{IndexHits, TenantId, VectorPoint, VectorQuery};
use async_trait::async_trait;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    #[error("vector memory unavailable: {0}")]
    Unavailable(String),
}

/// The search index over memories: embeddings and the words of each
/// memory. Never authoritative: the Store keeps every embedding and text,
/// so this can be rebuilt.
///
/// Contract: `search` fills the lists the query's mode asks for (vector:
/// cosine; lexical: BM25 with `domain::lexical`'s analyser and formula),
/// each with only points of the query's tenant and character (and kind, if
/// given) that its scope admits, best first, at most `k`. Fusion happens
/// in the core, the same for every implementation.
///
/// # Errors
/// `VectorError::Unavailable` on any failure; callers fall back to the Store.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VectorMemory: Send + Sync + 'static {
    /// "in-memory" or "qdrant", for `/health`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), VectorError>;
    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError>;
    async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError>;
    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError>;
    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError>;
    /// How the index differs from the embedding model in use (another model
    /// or size), if it does; a reindex resets it.
    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError>;
    /// Drops every point and prepares the index for `model` / `dimensions`.
    async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError>;
}
