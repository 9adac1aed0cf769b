//! Qdrant `VectorMemory` on qdrant-client (gRPC). Thin on purpose: one
//! collection, cosine distance, payload indexes for tenant, character, kind
//! and scope (whose memory it is), and every search filtered by tenant and
//! character (and by scope for a person), so no query can return another
//! tenant's or another person's memory even if an id leaks. The embedding
//! model and size are recorded in the collection's metadata, and so is the
//! payload layout: a collection built before scopes or lexical vectors asks
//! for a reindex. Request building is pure and unit-tested without a server.
//!
//! Each point holds two named vectors: `dense` (the embedding, cosine) and
//! `lexical`, a sparse vector of the memory's words (`domain::lexical`'s
//! analyser; indices from `TermKey`, keyed hashes under `ENCRYPTION_KEY`)
//! whose values are BM25's length-normalised term weights, with Qdrant's
//! IDF modifier supplying the inverse document frequency, so a sparse dot
//! product is BM25. A hybrid search is one Query API call (`query_batch`):
//! the dense query and the sparse query, each with the same payload
//! filter. Qdrant's own prefetch-and-fusion would return only fused
//! scores; the core fuses instead (`domain::ranking`), the same way for
//! every search path, so each hit can say which list ranked it where.

use crate::adapters::term_key::TermKey;
use crate::core::domain::{
    IndexHits, MemoryKind, ScopeFilter, ScoredId, TenantId, Terms, VectorPoint, VectorQuery,
    term_weight,
};
use crate::core::ports::{VectorError, VectorMemory};
use async_trait::async_trait;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::vectors_config::Config;
use qdrant_client::qdrant::{
    Condition, CreateCollection, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePoints, DeletePointsBuilder, Distance, FieldType, Filter, Modifier, PointStruct,
    PointsIdsList, QueryBatchPoints, QueryBatchPointsBuilder, QueryPointsBuilder, ScoredPoint,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPoints, UpsertPointsBuilder,
    Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use uuid::Uuid;

const TENANT: &str = "tenant";
const CHARACTER: &str = "character_id";
const KIND: &str = "kind";
/// `world`, or `user:` and the person's id.
const SCOPE: &str = "scope";
const MODEL: &str = "embedding_model";
/// Metadata naming the key the words were indexed under (`TermKey::id`).
const TERM_KEY: &str = "term_key";
/// Metadata naming the payload layout; collections without it predate
/// scopes, and their points cannot be filtered by person.
const LAYOUT: &str = "payload_layout";
const LAYOUT_VERSION: u64 = 3;
const WORLD: &str = "world";
/// The named vectors of each point.
const DENSE: &str = "dense";
const LEXICAL: &str = "lexical";
/// The average memory length (in analysed words) BM25's length
/// normalisation assumes here: Qdrant keeps no per-collection average, so
/// a typical conversation turn's stands in (the in-process and PostgreSQL
/// paths use the true average; the contract suite bounds the difference).
pub const ASSUMED_AVERAGE_LENGTH: f32 = 16.0;

/// The scope payload of a memory owned by `user_id` (`None`: the world).
pub fn scope_value(user_id: Option<&str>) -> String {
    match user_id {
        None => WORLD.to_owned(),
        Some(user) => format!("user:{user}"),
    }
}

pub struct QdrantOptions {
    pub url: String,
    pub api_key: Option<SecretString>,
    pub collection: String,
    pub embedding_model: String,
    pub dimensions: usize,
    pub timeout: Duration,
    pub term_key: TermKey,
}

pub struct QdrantVectors {
    client: Qdrant,
    collection: String,
    embedding_model: String,
    dimensions: usize,
    term_key: TermKey,
    /// The collection exists (checked once, then trusted until a reset).
    ready: AtomicBool,
}

/// gRPC listens on 6334; the REST port 6333 is what people copy from
/// dashboards, so it is mapped (and said so).
pub fn grpc_url(url: &str) -> (String, bool) {
    let trimmed = url.trim_end_matches('/');
    match trimmed.strip_suffix(":6333") {
        Some(host) => (format!("{host}:6334"), true),
        None => (trimmed.to_owned(), false),
    }
}

fn unavailable(err: impl std::fmt::Display) -> VectorError {
    VectorError::Unavailable(err.to_string())
}

pub fn create_collection_request(
    name: &str,
    model: &str,
    dimensions: usize,
    key: &TermKey,
) -> CreateCollection {
    let metadata: HashMap<String, serde_json::Value> = HashMap::from([
        (TERM_KEY.to_owned(), serde_json::json!(key.id())),
        (MODEL.to_owned(), serde_json::json!(model)),
        (
            "embedding_dimensions".to_owned(),
            serde_json::json!(dimensions),
        ),
        (LAYOUT.to_owned(), serde_json::json!(LAYOUT_VERSION)),
    ]);
    let mut dense = VectorsConfigBuilder::default();
    dense.add_named_vector_params(
        DENSE,
        VectorParamsBuilder::new(dimensions as u64, Distance::Cosine),
    );
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(
        LEXICAL,
        SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
    );
    CreateCollectionBuilder::new(name)
        .vectors_config(dense)
        .sparse_vectors_config(sparse)
        .metadata(metadata)
        .build()
}

/// Words as a sparse vector: one index per word (colliding words add up).
fn sparse(terms: &Terms, key: &TermKey, weight: impl Fn(u32) -> f32) -> (Vec<u32>, Vec<f32>) {
    let mut by_index: std::collections::BTreeMap<u32, f32> = std::collections::BTreeMap::new();
    for (term, count) in &terms.counts {
        *by_index.entry(key.index(term)).or_insert(0.0) += weight(*count);
    }
    by_index.into_iter().unzip()
}

pub fn point(point: &VectorPoint, key: &TermKey) -> PointStruct {
    let payload: Payload = serde_json::json!({
        TENANT: point.tenant.as_str(),
        CHARACTER: point.character_id.to_string(),
        KIND: point.kind.as_str(),
        SCOPE: scope_value(point.user_id.as_deref()),
    })
    .try_into()
    .unwrap_or_default();
    let mut vectors: HashMap<String, Vector> =
        HashMap::from([(DENSE.to_owned(), Vector::new_dense(point.embedding.clone()))]);
    if !point.terms.is_empty() {
        let length = point.terms.length;
        let (indices, values) = sparse(&point.terms, key, |count| {
            term_weight(count, length, ASSUMED_AVERAGE_LENGTH)
        });
        vectors.insert(LEXICAL.to_owned(), Vector::new_sparse(indices, values));
    }
    PointStruct::new(point.memory_id.to_string(), vectors, payload)
}

pub fn upsert_request(collection: &str, points: &[VectorPoint], key: &TermKey) -> UpsertPoints {
    UpsertPointsBuilder::new(
        collection,
        points.iter().map(|p| point(p, key)).collect::<Vec<_>>(),
    )
    .wait(true)
    .build()
}

/// Tenant and character always; kind when asked; for a person, the
/// world's memories and theirs only.
pub fn scope_filter(
    tenant: &TenantId,
    character_id: Uuid,
    kind: Option<MemoryKind>,
    scope: &ScopeFilter,
) -> Filter {
    let mut conditions = vec![
        Condition::matches(TENANT, tenant.as_str().to_owned()),
        Condition::matches(CHARACTER, character_id.to_string()),
    ];
    if let Some(kind) = kind {
        conditions.push(Condition::matches(KIND, kind.as_str().to_owned()));
    }
    if let Some(person) = scope.person() {
        conditions.push(Condition::matches(
            SCOPE,
            vec![WORLD.to_owned(), scope_value(Some(person))],
        ));
    }
    Filter::must(conditions)
}

/// Which lists a batch asks for, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Vector,
    Lexical,
}

/// One Query API call: the dense query and the sparse one (as the mode
/// asks), each filtered to the tenant, character, kind and scope.
pub fn search_request(
    collection: &str,
    query: &VectorQuery,
    key: &TermKey,
) -> (QueryBatchPoints, Vec<List>) {
    let filter = scope_filter(&query.tenant, query.character_id, query.kind, &query.scope);
    let mut queries = Vec::new();
    let mut lists = Vec::new();
    if query.mode.uses_vector() && !query.embedding.is_empty() {
        queries.push(
            QueryPointsBuilder::new(collection)
                .query(VectorInput::new_dense(query.embedding.clone()))
                .using(DENSE)
                .limit(query.k as u64)
                .filter(filter.clone())
                .with_payload(false)
                .build(),
        );
        lists.push(List::Vector);
    }
    if query.mode.uses_lexical() && !query.terms.is_empty() {
        let (indices, values) = sparse(&query.terms, key, |_| 1.0);
        queries.push(
            QueryPointsBuilder::new(collection)
                .query(VectorInput::new_sparse(indices, values))
                .using(LEXICAL)
                .limit(query.k as u64)
                .filter(filter)
                .with_payload(false)
                .build(),
        );
        lists.push(List::Lexical);
    }
    (
        QueryBatchPointsBuilder::new(collection, queries).build(),
        lists,
    )
}

/// A Qdrant hit as ours; `None` for a hit scoring nothing (like the exact
/// index and the Store's fallback: a memory pointing away from the query,
/// cosine <= 0, is no hit) or an id that is not a memory's.
fn scored(hit: ScoredPoint) -> Option<ScoredId> {
    if hit.score <= 0.0 {
        return None;
    }
    let id = match hit.id?.point_id_options? {
        PointIdOptions::Uuid(text) => Uuid::parse_str(&text).ok()?,
        PointIdOptions::Num(_) => return None,
    };
    Some(ScoredId {
        memory_id: id,
        score: hit.score,
    })
}

pub fn delete_request(collection: &str, ids: &[Uuid]) -> DeletePoints {
    let ids: Vec<_> = ids.iter().map(|id| id.to_string().into()).collect();
    DeletePointsBuilder::new(collection)
        .points(PointsIdsList { ids })
        .wait(true)
        .build()
}

pub fn delete_character_request(
    collection: &str,
    tenant: &TenantId,
    character_id: Uuid,
) -> DeletePoints {
    DeletePointsBuilder::new(collection)
        .points(scope_filter(tenant, character_id, None, &ScopeFilter::Any))
        .wait(true)
        .build()
}

impl QdrantVectors {
    /// Builds the client without contacting the server (no start-up block,
    /// no compatibility check printing to stdout).
    pub fn new(options: &QdrantOptions) -> Result<Self, VectorError> {
        let (url, mapped) = grpc_url(&options.url);
        if mapped {
            tracing::info!("QDRANT_URL uses the REST port 6333; using gRPC on 6334");
        }
        let mut builder = Qdrant::from_url(&url)
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .skip_compatibility_check();
        if let Some(key) = &options.api_key {
            builder = builder.api_key(key.expose_secret().to_owned());
        }
        Ok(Self {
            client: builder.build().map_err(unavailable)?,
            collection: options.collection.clone(),
            embedding_model: options.embedding_model.clone(),
            dimensions: options.dimensions,
            term_key: options.term_key.clone(),
            ready: AtomicBool::new(false),
        })
    }

    /// Creates the collection and its payload indexes if missing.
    async fn ensure_collection(&self) -> Result<(), VectorError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if !self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(unavailable)?
        {
            self.client
                .create_collection(create_collection_request(
                    &self.collection,
                    &self.embedding_model,
                    self.dimensions,
                    &self.term_key,
                ))
                .await
                .map_err(unavailable)?;
            for field in [TENANT, CHARACTER, KIND, SCOPE] {
                self.client
                    .create_field_index(CreateFieldIndexCollectionBuilder::new(
                        &self.collection,
                        field,
                        FieldType::Keyword,
                    ))
                    .await
                    .map_err(unavailable)?;
            }
            tracing::info!(
                collection = self.collection.as_str(),
                "Qdrant collection created"
            );
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }
}

#[async_trait]
impl VectorMemory for QdrantVectors {
    fn kind(&self) -> &'static str {
        "qdrant"
    }

    async fn ping(&self) -> Result<(), VectorError> {
        self.client.health_check().await.map_err(unavailable)?;
        // Look again: the collection may have been wiped behind our back.
        self.ready.store(false, Ordering::Release);
        self.ensure_collection().await
    }

    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
        if points.is_empty() {
            return Ok(());
        }
        self.ensure_collection().await?;
        let written = self
            .client
            .upsert_points(upsert_request(&self.collection, points, &self.term_key))
            .await;
        if written.is_err() {
            // Perhaps the collection is gone: check (and recreate) next time.
            self.ready.store(false, Ordering::Release);
        }
        written.map_err(unavailable)?;
        Ok(())
    }

    async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError> {
        let (request, lists) = search_request(&self.collection, query, &self.term_key);
        // Qdrant refuses a limit of 0; nothing asked, nothing found.
        if query.k == 0 || lists.is_empty() {
            return Ok(IndexHits::default());
        }
        self.ensure_collection().await?;
        let response = self
            .client
            .query_batch(request)
            .await
            .map_err(unavailable)?;
        let mut hits = IndexHits::default();
        for (list, batch) in lists.into_iter().zip(response.result) {
            let found = batch.result.into_iter().filter_map(scored).collect();
            match list {
                List::Vector => hits.vector = found,
                List::Lexical => hits.lexical = found,
            }
        }
        Ok(hits)
    }

    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError> {
        // Qdrant answers an empty delete with "Empty update request".
        if memory_ids.is_empty() {
            return Ok(());
        }
        self.ensure_collection().await?;
        self.client
            .delete_points(delete_request(&self.collection, memory_ids))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError> {
        self.ensure_collection().await?;
        self.client
            .delete_points(delete_character_request(
                &self.collection,
                tenant,
                character_id,
            ))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        if !self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(unavailable)?
        {
            return Ok(None);
        }
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(unavailable)?;
        let config = info.result.and_then(|r| r.config);
        let size = config
            .as_ref()
            .and_then(|c| c.params.as_ref())
            .and_then(|p| p.vectors_config.as_ref())
            .and_then(|v| match &v.config {
                Some(Config::Params(params)) => Some(params.size as usize),
                Some(Config::ParamsMap(map)) => map.map.get(DENSE).map(|p| p.size as usize),
                None => None,
            });
        let recorded = config
            .as_ref()
            .and_then(|c| c.metadata.get(MODEL))
            .map(|v| v.clone().into_json())
            .and_then(|v| v.as_str().map(str::to_owned));
        let layout = config
            .as_ref()
            .and_then(|c| c.metadata.get(LAYOUT))
            .and_then(|v| v.clone().into_json().as_u64());
        if layout != Some(LAYOUT_VERSION) {
            return Ok(Some(
                "the collection predates hybrid search and person scopes (its points have no \
                 word vectors and no owner)"
                    .to_owned(),
            ));
        }
        let term_key = config
            .as_ref()
            .and_then(|c| c.metadata.get(TERM_KEY))
            .map(|v| v.clone().into_json())
            .and_then(|v| v.as_str().map(str::to_owned));
        if term_key.as_deref() != Some(self.term_key.id()) {
            return Ok(Some(
                "the collection's words were indexed under another ENCRYPTION_KEY (or none); \
                 a word search finds nothing there until a reindex"
                    .to_owned(),
            ));
        }
        Ok(match (size, recorded) {
            (Some(size), _) if size != dimensions => Some(format!(
                "the collection holds {size}-dimension vectors; the embedding model makes {dimensions}"
            )),
            (_, Some(recorded)) if recorded != model => Some(format!(
                "the collection was built with {recorded}; the embedding model is now {model}"
            )),
            _ => None,
        })
    }

    async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError> {
        if self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(unavailable)?
        {
            self.client
                .delete_collection(&self.collection)
                .await
                .map_err(unavailable)?;
        }
        self.ready.store(false, Ordering::Release);
        if model != self.embedding_model || dimensions != self.dimensions {
            tracing::warn!(
                "reset asked for another model than this instance's; using this instance's"
            );
        }
        self.ensure_collection().await
    }
}

#[cfg(test)]
mod tests;
