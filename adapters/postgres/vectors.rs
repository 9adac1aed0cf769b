//! `VectorMemory` in PostgreSQL itself, for deployments without Qdrant:
//! recall then survives restarts and crosses replicas with nothing else to
//! run. Two paths over the `memory_vectors` table:
//!
//! - **pgvector** (where the `vector` extension could be created): an HNSW
//!   index (cosine) over `embedding::vector(N)` for this service's size,
//!   searched with the tenant, character, kind and scope filters; a
//!   filtered search the index under-fills is answered exactly instead.
//! - **exact** (elsewhere): reads only the ids and 8-bit copies of the
//!   candidates' unit vectors (never content), ranks every candidate, then
//!   re-ranks the best few by their full embeddings, so the order is the
//!   exact cosine order.
//!
//! The lexical list on both: full-text search over a `tsvector` of each
//! memory's words as `domain::lexical` analyses them (our analyser, not a
//! text-search configuration, so every path indexes the same words), in
//! the narrow `memory_words` table under a GIN index; ranked by the same
//! BM25 as the other paths, computed here from the matching rows' words
//! (term frequency is the number of positions). With `ENCRYPTION_KEY` the
//! words are keyed hashes (`TermKey`), never plaintext.

use super::{PostgresStore, Within};
use crate::adapters::cipher::Cipher;
use crate::adapters::sql::open_marked_text;
use crate::adapters::term_key::TermKey;
use crate::core::domain::{
    IndexHits, MemoryKind, ScoredId, TenantId, Terms, VectorPoint, VectorQuery, best_k, dot, idf,
    term_weight, unit,
};
use crate::core::ports::{StoreError, VectorError, VectorMemory};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a character's BM25 statistics (count and average length) are
/// reused: they move slowly, and counting a large character costs more
/// than the rest of a search. Writes through this instance clear those of
/// small characters, where one memory matters.
const STATS_TTL: Duration = Duration::from_secs(30);

/// When counted, how many memories, and their average length in words.
type Stats = (Instant, f64, f64);

/// A memory holding some of the query's words: its id, its length, and
/// each such word (its index among the query's) with how often it occurs.
type Holding = (Uuid, u32, Vec<(usize, u32)>);

/// Below this many memories, a write counts the statistics again.
const SMALL_CHARACTER: f64 = 1000.0;

/// Tenant, character, kind, person: the memories one search may see.
type StatsKey = (String, Uuid, Option<MemoryKind>, Option<String>);

/// How many more candidates than asked the exact path re-ranks by full
/// embeddings (the 8-bit ranking is within a fraction of a percent).
const RERANK_FACTOR: usize = 4;
const RERANK_MIN: usize = 32;
/// Candidates the HNSW search considers per result asked for. pgvector's
/// own default is 40 in all; 4 per result (at least 100) keeps the list
/// near exact on real embeddings, and its cost grows with it: at 100,000
/// memories a depth-30 list took 4.2 ms at 8 per result, 0.7–1.4 ms at 4.
const EF_PER_RESULT: usize = 4;
const EF_MIN: usize = 100;

const UNKNOWN: u8 = 0;
const EXACT: u8 = 1;
const PGVECTOR: u8 = 2;

pub struct PostgresVectors {
    pool: PgPool,
    query_timeout: Duration,
    model: String,
    dimensions: usize,
    /// Which path, once the migrated schema was looked at.
    path: AtomicU8,
    /// One look at a time: many first requests at once must not each
    /// build the index and start a backfill.
    detecting: Arc<tokio::sync::Mutex<()>>,
    /// Opens memory text for the backfill.
    cipher: Option<Arc<Cipher>>,
    term_key: TermKey,
    /// Count and average length of the memories a search may see.
    stats: Arc<Mutex<HashMap<StatsKey, Stats>>>,
}

/// The memories a word query matched, as one `bytea`: per memory its id
/// (16 bytes), its length in words (4 bytes) and its tsvector as PostgreSQL
/// sends it in binary (`tsvectorsend`: a count, then per word its bytes, a
/// NUL, a 16-bit number of positions and the positions); big-endian. Each
/// comes back with the query's `words` it holds (their index) and how
/// often each occurs (its number of positions). One value rather than a
/// row per match: a common word matches thousands of memories, and both
/// PostgreSQL and the driver pay per row and per array element.
fn holdings(mut blob: &[u8], words: &[String]) -> Option<Vec<Holding>> {
    let mut found = Vec::new();
    while !blob.is_empty() {
        let id = Uuid::from_slice(blob.get(..16)?).ok()?;
        let length = i32::from_be_bytes(blob.get(16..20)?.try_into().ok()?);
        let (counts, used) = word_counts(&blob[20..], words)?;
        found.push((id, length.max(0) as u32, counts));
        blob = &blob[20 + used..];
    }
    Some(found)
}

/// One binary tsvector at the start of `sent`: the query's words in it
/// with their counts, and how many bytes it took.
fn word_counts(sent: &[u8], words: &[String]) -> Option<(Vec<(usize, u32)>, usize)> {
    let count = u32::from_be_bytes(sent.get(..4)?.try_into().ok()?);
    let mut at = 4;
    let mut found = Vec::new();
    for _ in 0..count {
        let end = at + sent.get(at..)?.iter().position(|b| *b == 0)?;
        let positions = u16::from_be_bytes(sent.get(end + 1..end + 3)?.try_into().ok()?);
        if let Some(index) = words.iter().position(|w| w.as_bytes() == &sent[at..end]) {
            found.push((index, u32::from(positions)));
        }
        at = end + 3 + 2 * usize::from(positions);
    }
    (at <= sent.len()).then_some((found, at))
}

/// A tsvector in PostgreSQL's input form: each word (as the index holds
/// it) with one position per occurrence, so BM25 reads the term frequency
/// back as the number of positions (at most 256, PostgreSQL's limit).
fn tsvector_literal(terms: &Terms, key: &TermKey) -> String {
    let mut position = 1u32;
    let mut parts = Vec::with_capacity(terms.counts.len());
    for (term, count) in &terms.counts {
        let count = (*count).min(256);
        let positions: Vec<String> = (position..position + count)
            .map(|p| p.min(16_383).to_string())
            .collect();
        position += count;
        parts.push(format!("'{}':{}", key.tag(term), positions.join(",")));
    }
    parts.join(" ")
}

/// A unit vector as 8-bit integers and the scale that restores it.
pub fn compact(embedding: &[f32]) -> (f32, Vec<u8>) {
    let unit = unit(embedding);
    let largest = unit.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 {
        return (0.0, vec![0; unit.len()]);
    }
    let bytes = unit
        .iter()
        .map(|x| ((x / largest) * 127.0).round() as i8 as u8)
        .collect();
    (largest, bytes)
}

/// The approximate cosine of a unit query and a compact vector.
fn compact_score(query: &[f32], scale: f32, bytes: &[u8]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (q, b) = (query.chunks_exact(8), bytes.chunks_exact(8));
    let tail: f32 = q
        .remainder()
        .iter()
        .zip(b.remainder())
        .map(|(x, y)| x * f32::from(*y as i8))
        .sum();
    for (x, y) in q.zip(b) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * f32::from(y[lane] as i8);
        }
    }
    (lanes.iter().sum::<f32>() + tail) * scale / 127.0
}

fn unavailable(err: StoreError) -> VectorError {
    VectorError::Unavailable(err.to_string())
}

impl PostgresStore {
    /// Memory search in this database, for vectors of `model` /
    /// `dimensions`, its words written under `term_key`.
    pub fn vectors(&self, model: &str, dimensions: usize, term_key: TermKey) -> PostgresVectors {
        PostgresVectors {
            pool: self.pool.clone(),
            query_timeout: self.query_timeout,
            model: model.to_owned(),
            dimensions,
            path: AtomicU8::new(UNKNOWN),
            detecting: Arc::default(),
            cipher: self.sealer.cipher().cloned(),
            term_key,
            stats: Arc::default(),
        }
    }
}

impl PostgresVectors {
    /// Always the exact path, even where pgvector is available (tests of
    /// that path, and a way out if an index misbehaves).
    pub fn exact_only(self) -> Self {
        self.path.store(EXACT, Ordering::Release);
        self
    }

    /// Looks once at the migrated schema: pgvector's column, and its index
    /// for this size (built here, since its size is this service's setting).
    async fn path(&self) -> Result<u8, VectorError> {
        let known = self.path.load(Ordering::Acquire);
        if known != UNKNOWN {
            return Ok(known);
        }
        let _detecting = self.detecting.lock().await;
        let known = self.path.load(Ordering::Acquire);
        if known != UNKNOWN {
            return Ok(known);
        }
        let (migrated, has_column): (bool, bool) = sqlx::query_as(
            "SELECT to_regclass('memory_vectors') IS NOT NULL,
                    EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema() AND table_name = 'memory_vectors'
                          AND column_name = 'embedding')",
        )
        .fetch_one(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        if !migrated {
            // Asked again once the migrations (running in the background) are in.
            return Err(VectorError::Unavailable(
                "the schema is not migrated yet".into(),
            ));
        }
        let path = if has_column { PGVECTOR } else { EXACT };
        if path == PGVECTOR {
            let n = self.dimensions;
            // Not CONCURRENTLY: replicas starting together then wait for
            // one build instead of racing to make invalid indexes.
            let built = sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE INDEX IF NOT EXISTS memory_vectors_hnsw_{n} ON memory_vectors
                     USING hnsw ((embedding::vector({n})) vector_cosine_ops) WHERE dimensions = {n}"
            )))
            .execute(&self.pool)
            .await;
            if let Err(err) = built {
                tracing::warn!(error = %err, "could not build the pgvector index; searching exactly");
            }
        }
        self.path.store(path, Ordering::Release);
        // Memories stored before this table (an upgrade) are added in the
        // background; searches find them as they arrive.
        let backfill = self.detached(path);
        tokio::spawn(async move {
            if let Err(err) = backfill.backfill().await {
                tracing::warn!(error = %err, "memory vectors not filled in; a reindex will");
            }
        });
        tracing::info!(
            path = if path == PGVECTOR {
                "pgvector (HNSW, cosine)"
            } else {
                "exact scan"
            },
            "memory search in PostgreSQL"
        );
        Ok(path)
    }

    fn detached(&self, path: u8) -> Self {
        Self {
            pool: self.pool.clone(),
            query_timeout: self.query_timeout,
            model: self.model.clone(),
            dimensions: self.dimensions,
            path: AtomicU8::new(path),
            detecting: self.detecting.clone(),
            cipher: self.cipher.clone(),
            term_key: self.term_key.clone(),
            stats: self.stats.clone(),
        }
    }

    /// Writes the vectors and words of memories that have none, or whose
    /// words another key wrote (a rotated `ENCRYPTION_KEY`, or an upgrade
    /// from before lexical search), in batches.
    async fn backfill(&self) -> Result<(), VectorError> {
        type Row = (
            Uuid,
            String,
            Uuid,
            String,
            Option<String>,
            String,
            Vec<f32>,
            String,
            Option<bool>,
        );
        let mut filled = 0usize;
        let mut after = Uuid::nil();
        loop {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT m.id, m.tenant, m.character_id, m.kind, m.user_id, m.embedding_model,
                        m.embedding, m.content, m.sealed
                 FROM memories m LEFT JOIN memory_vectors v ON v.memory_id = m.id
                      LEFT JOIN memory_words w ON w.memory_id = m.id
                 WHERE m.id > $1
                   AND (v.memory_id IS NULL OR w.term_key IS DISTINCT FROM $2)
                 ORDER BY m.id LIMIT 500",
            )
            .bind(after)
            .bind(self.term_key.id())
            .fetch_all(&self.pool)
            .within(self.query_timeout)
            .await
            .map_err(unavailable)?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.0;
            let mut points = Vec::with_capacity(rows.len());
            let mut models = Vec::with_capacity(rows.len());
            for (
                memory_id,
                tenant,
                character_id,
                kind,
                user_id,
                model,
                embedding,
                content,
                sealed,
            ) in rows
            {
                let (Ok(tenant), Some(kind)) = (TenantId::parse(&tenant), MemoryKind::parse(&kind))
                else {
                    continue;
                };
                // Text this instance cannot open keeps its vector; its
                // words wait for the key (a reindex with it writes them).
                let terms = open_marked_text(
                    self.cipher.as_deref(),
                    &content,
                    memory_id.as_bytes(),
                    sealed,
                )
                .map(|text| Terms::of(&text))
                .unwrap_or_default();
                points.push(VectorPoint {
                    memory_id,
                    tenant,
                    character_id,
                    kind,
                    user_id,
                    embedding,
                    terms,
                });
                models.push(model);
            }
            if points.is_empty() {
                continue;
            }
            let pgvector = self.path.load(Ordering::Acquire) == PGVECTOR;
            self.write(&points, &models, pgvector).await?;
            filled += points.len();
        }
        if filled > 0 {
            tracing::info!(filled, "memory vectors filled in for earlier memories");
        }
        Ok(())
    }

    /// Writes vectors (and their filters) of memories that still exist;
    /// `models[i]` made `points[i]`.
    async fn write(
        &self,
        points: &[VectorPoint],
        models: &[String],
        pgvector: bool,
    ) -> Result<(), VectorError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(points.len());
        let (mut tenants, mut characters, mut kinds, mut users) = (vec![], vec![], vec![], vec![]);
        let (mut dimensions, mut scales, mut compacts) = (vec![], vec![], vec![]);
        let (mut texts, mut lexemes, mut lengths) = (Vec::new(), Vec::new(), Vec::new());
        for point in points {
            lexemes.push(tsvector_literal(&point.terms, &self.term_key));
            lengths.push(point.terms.length as i32);
            let (scale, bytes) = compact(&point.embedding);
            ids.push(point.memory_id);
            tenants.push(point.tenant.as_str().to_owned());
            characters.push(point.character_id);
            kinds.push(point.kind.as_str());
            users.push(point.user_id.clone());
            dimensions.push(point.embedding.len() as i32);
            scales.push(scale);
            compacts.push(bytes);
            // pgvector's text form; arrays of arrays of floats do not bind.
            texts.push(if pgvector {
                format!(
                    "[{}]",
                    point
                        .embedding
                        .iter()
                        .map(f32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            } else {
                String::new()
            });
        }
        let embedding = if pgvector {
            ", embedding = EXCLUDED.embedding"
        } else {
            ""
        };
        let (column, value) = if pgvector {
            (", embedding", ", v.embedding::vector")
        } else {
            ("", "")
        };
        // Only memories that still exist (one deleted meanwhile is skipped);
        // the vectors and the words in one statement.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH v AS (
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::real[], $8::bytea[], $9::text[], $10::text[], $11::text[], $12::int[])
                      AS v(memory_id, tenant, character_id, kind, user_id, dimensions, scale, compact, model, embedding, lexemes, terms)
                 WHERE EXISTS (SELECT 1 FROM memories m WHERE m.id = v.memory_id)
             ), vectors AS (
                 INSERT INTO memory_vectors (memory_id, tenant, character_id, kind, user_id, model, dimensions, scale, compact{column})
                 SELECT v.memory_id, v.tenant, v.character_id, v.kind, v.user_id, v.model, v.dimensions, v.scale, v.compact{value}
                 FROM v
                 ON CONFLICT (memory_id) DO UPDATE SET tenant = EXCLUDED.tenant,
                     character_id = EXCLUDED.character_id, kind = EXCLUDED.kind,
                     user_id = EXCLUDED.user_id, model = EXCLUDED.model,
                     dimensions = EXCLUDED.dimensions, scale = EXCLUDED.scale,
                     compact = EXCLUDED.compact{embedding}
             )
             INSERT INTO memory_words (memory_id, tenant, character_id, kind, user_id, term_key, terms, lexemes)
             SELECT v.memory_id, v.tenant, v.character_id, v.kind, v.user_id, $13, v.terms, v.lexemes::tsvector
             FROM v
             ON CONFLICT (memory_id) DO UPDATE SET tenant = EXCLUDED.tenant,
                 character_id = EXCLUDED.character_id, kind = EXCLUDED.kind,
                 user_id = EXCLUDED.user_id, term_key = EXCLUDED.term_key,
                 terms = EXCLUDED.terms, lexemes = EXCLUDED.lexemes"
        )))
        .bind(&ids)
        .bind(&tenants)
        .bind(&characters)
        .bind(&kinds)
        .bind(&users)
        .bind(&dimensions)
        .bind(&scales)
        .bind(&compacts)
        .bind(models)
        .bind(&texts)
        .bind(&lexemes)
        .bind(&lengths)
        .bind(self.term_key.id())
        .execute(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        // A few memories more barely move the statistics of many; of few
        // they do, so those are counted again.
        self.forget_stats(|(tenant, character, _, _), n| {
            n < SMALL_CHARACTER
                && points
                    .iter()
                    .any(|p| p.character_id == *character && p.tenant.as_str() == tenant)
        });
        Ok(())
    }

    fn forget_stats(&self, matching: impl Fn(&StatsKey, f64) -> bool) {
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, (_, n, _)| !matching(key, *n));
    }

    /// How many memories the query may see and their average length in
    /// words (BM25's N and avgdl), reused for `STATS_TTL`.
    async fn stats(&self, query: &VectorQuery) -> Result<(f64, f64), VectorError> {
        let key: StatsKey = (
            query.tenant.as_str().to_owned(),
            query.character_id,
            query.kind,
            query.scope.person().map(str::to_owned),
        );
        if let Some((at, n, average)) = self
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && at.elapsed() < STATS_TTL
        {
            return Ok((*n, *average));
        }
        let (n, average): (f64, f64) = sqlx::query_as(
            "SELECT count(*)::float8, coalesce(avg(terms), 0)::float8 FROM memory_words
             WHERE tenant = $1 AND character_id = $2
               AND ($3::text IS NULL OR kind = $3)
               AND ($4::text IS NULL OR user_id IS NULL OR user_id = $4)
               AND term_key = $5",
        )
        .bind(query.tenant.as_str())
        .bind(query.character_id)
        .bind(query.kind.map(MemoryKind::as_str))
        .bind(query.scope.person())
        .bind(self.term_key.id())
        .fetch_one(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        // Nothing yet is not remembered: the first memories (or a
        // backfill) must be found at once.
        if n > 0.0 {
            self.stats
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (Instant::now(), n, average));
        }
        Ok((n, average))
    }

    /// BM25 over the memories holding any of the query's words: the GIN
    /// index finds them in `memory_words`, PostgreSQL sends their tsvectors
    /// as they are (binary), and term and document frequencies and the
    /// score are counted here, with the same formula as every other path.
    async fn lexical(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
        if query.terms.is_empty() || query.k == 0 {
            return Ok(Vec::new());
        }
        let (n, average) = self.stats(query).await?;
        if n == 0.0 {
            return Ok(Vec::new());
        }
        let words: Vec<String> = query
            .terms
            .counts
            .keys()
            .map(|t| self.term_key.tag(t))
            .collect();
        let any_word = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" | ");
        let blob: Option<Vec<u8>> = sqlx::query_scalar(
            // `IS TRUE` keeps the tenant and character out of the btree's
            // reach, so the planner takes the GIN index: without statistics
            // (right after a bulk load) it would walk the character's btree
            // entries and test every row (91 ms against 13 ms at 100,000).
            "SELECT string_agg(uuid_send(memory_id) || int4send(terms) || tsvectorsend(lexemes), ''::bytea)
             FROM memory_words
             WHERE (tenant = $1) IS TRUE AND (character_id = $2) IS TRUE
               AND ($3::text IS NULL OR kind = $3)
               AND ($4::text IS NULL OR user_id IS NULL OR user_id = $4)
               AND term_key = $5
               AND lexemes @@ $6::tsquery",
        )
        .bind(query.tenant.as_str())
        .bind(query.character_id)
        .bind(query.kind.map(MemoryKind::as_str))
        .bind(query.scope.person())
        .bind(self.term_key.id())
        .bind(any_word)
        .fetch_one(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        let holding = holdings(blob.as_deref().unwrap_or_default(), &words).ok_or_else(|| {
            VectorError::Unavailable("PostgreSQL sent words this service cannot read".into())
        })?;
        let mut containing = vec![0u64; words.len()];
        for (_, _, counts) in &holding {
            for (word, _) in counts {
                containing[*word] += 1;
            }
        }
        let documents = (n as u64).max(holding.len() as u64);
        let average = if average > 0.0 { average as f32 } else { 1.0 };
        let scored = holding
            .iter()
            .map(|(memory_id, length, counts)| ScoredId {
                memory_id: *memory_id,
                score: counts
                    .iter()
                    .map(|(word, tf)| {
                        idf(documents, containing[*word]) * term_weight(*tf, *length, average)
                    })
                    .sum(),
            })
            .collect();
        Ok(best_k(scored, query.k))
    }

    /// The vector list: pgvector's index where there is one, exact otherwise.
    async fn nearest(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
        if query.k == 0 || query.embedding.is_empty() {
            return Ok(Vec::new());
        }
        if self.path().await? == PGVECTOR && query.embedding.len() == self.dimensions {
            let hits = self.pgvector(query).await?;
            // The index filters after it searches: a rare character among
            // many may come back short. Short answers are checked exactly.
            if hits.len() == query.k {
                return Ok(hits);
            }
        }
        self.exact(query).await
    }

    async fn exact(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
        let wanted = unit(&query.embedding);
        let pool_size = (query.k * RERANK_FACTOR).max(RERANK_MIN);
        let scan = async {
            let mut rows = sqlx::query_as::<_, (Uuid, f32, Vec<u8>)>(
                "SELECT memory_id, scale, compact FROM memory_vectors
                 WHERE tenant = $1 AND character_id = $2 AND dimensions = $3
                   AND ($4::text IS NULL OR kind = $4)
                   AND ($5::text IS NULL OR user_id IS NULL OR user_id = $5)",
            )
            .bind(query.tenant.as_str())
            .bind(query.character_id)
            .bind(wanted.len() as i32)
            .bind(query.kind.map(MemoryKind::as_str))
            .bind(query.scope.person())
            .fetch(&self.pool);
            let mut scored = Vec::new();
            while let Some((memory_id, scale, bytes)) = rows.try_next().await? {
                if bytes.len() == wanted.len() {
                    scored.push(ScoredId {
                        memory_id,
                        score: compact_score(&wanted, scale, &bytes),
                    });
                }
            }
            Ok::<_, sqlx::Error>(scored)
        };
        let scored = scan.within(self.query_timeout).await.map_err(unavailable)?;
        let candidates = best_k(scored, pool_size);
        if candidates.is_empty() {
            return Ok(candidates);
        }
        // Exact order: the full embeddings of the few best.
        let ids: Vec<Uuid> = candidates.iter().map(|c| c.memory_id).collect();
        let full: Vec<(Uuid, Vec<f32>)> =
            sqlx::query_as("SELECT id, embedding FROM memories WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .within(self.query_timeout)
                .await
                .map_err(unavailable)?;
        let exact = full
            .into_iter()
            .filter(|(_, embedding)| embedding.len() == wanted.len())
            .map(|(memory_id, embedding)| ScoredId {
                memory_id,
                score: dot(&wanted, &unit(&embedding)),
            })
            .filter(|hit| hit.score > 0.0)
            .collect();
        Ok(best_k(exact, query.k))
    }

    async fn pgvector(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
        let n = self.dimensions;
        if query.embedding.len() != n {
            return Ok(Vec::new());
        }
        let ef = (query.k * EF_PER_RESULT).clamp(EF_MIN, 1000);
        let search = async {
            let mut tx = self.pool.begin().await?;
            // The planner prefers an exact sort over a few thousand rows,
            // which is slower here than the index; short answers are
            // completed exactly anyway (below), so the index always goes first.
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "SET LOCAL hnsw.ef_search = {ef}; SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off"
            )))
            .execute(&mut *tx)
            .await?;
            let rows: Vec<(Uuid, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT memory_id, 1 - (embedding::vector({n}) <=> $3::real[]::vector({n}))
                 FROM memory_vectors
                 WHERE dimensions = {n} AND tenant = $1 AND character_id = $2
                   AND ($4::text IS NULL OR kind = $4)
                   AND ($5::text IS NULL OR user_id IS NULL OR user_id = $5)
                 ORDER BY embedding::vector({n}) <=> $3::real[]::vector({n})
                 LIMIT $6"
            )))
            .bind(query.tenant.as_str())
            .bind(query.character_id)
            .bind(&query.embedding)
            .bind(query.kind.map(MemoryKind::as_str))
            .bind(query.scope.person())
            .bind(query.k as i64)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(rows)
        };
        let rows = search
            .within(self.query_timeout)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(memory_id, score)| ScoredId {
                memory_id,
                score: score as f32,
            })
            .filter(|hit| hit.score > 0.0)
            .collect())
    }
}

#[async_trait]
impl VectorMemory for PostgresVectors {
    fn kind(&self) -> &'static str {
        match self.path.load(Ordering::Acquire) {
            PGVECTOR => "postgres-pgvector",
            EXACT => "postgres-exact",
            _ => "postgres",
        }
    }

    async fn ping(&self) -> Result<(), VectorError> {
        self.path().await.map(drop)
    }

    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
        if points.is_empty() {
            return Ok(());
        }
        let pgvector = self.path().await? == PGVECTOR;
        let models = vec![self.model.clone(); points.len()];
        self.write(points, &models, pgvector).await
    }
    async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError> {
        self.path().await?;
        let (vector, lexical) = tokio::try_join!(
            async {
                if query.mode.uses_vector() {
                    self.nearest(query).await
                } else {
                    Ok(Vec::new())
                }
            },
            async {
                if query.mode.uses_lexical() {
                    self.lexical(query).await
                } else {
                    Ok(Vec::new())
                }
            }
        )?;
        Ok(IndexHits { vector, lexical })
    }

    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError> {
        // Rows go with their memory (ON DELETE CASCADE); this covers a
        // vector whose memory was deleted by another path.
        sqlx::query(
            "WITH words AS (DELETE FROM memory_words WHERE memory_id = ANY($1))
             DELETE FROM memory_vectors WHERE memory_id = ANY($1)",
        )
        .bind(memory_ids)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        self.forget_stats(|_, _| true);
        Ok(())
    }

    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError> {
        sqlx::query(
            "WITH words AS (DELETE FROM memory_words WHERE tenant = $1 AND character_id = $2)
             DELETE FROM memory_vectors WHERE tenant = $1 AND character_id = $2",
        )
        .bind(tenant.as_str())
        .bind(character_id)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        self.forget_stats(|(t, c, _, _), _| *c == character_id && t == tenant.as_str());
        Ok(())
    }

    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        let other: Option<(String, i32)> = sqlx::query_as(
            "SELECT model, dimensions FROM memory_vectors
             WHERE model <> $1 OR dimensions <> $2 LIMIT 1",
        )
        .bind(model)
        .bind(dimensions as i32)
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await
        .map_err(unavailable)?;
        Ok(other.map(|(recorded, size)| {
            format!(
                "memory vectors were made by {recorded} ({size} dimensions); the embedding model is now {model} ({dimensions})"
            )
        }))
    }

    async fn reset(&self, _model: &str, _dimensions: usize) -> Result<(), VectorError> {
        sqlx::query("WITH words AS (DELETE FROM memory_words) DELETE FROM memory_vectors")
            .execute(&self.pool)
            .within(self.query_timeout)
            .await
            .map_err(unavailable)?;
        self.forget_stats(|_, _| true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_vectors_keep_the_cosine_within_a_percent() {
        let a: Vec<f32> = (0..384).map(|i| ((i * 7919) % 97) as f32 - 48.0).collect();
        let b: Vec<f32> = (0..384)
            .map(|i| ((i * 104_729) % 89) as f32 - 44.0)
            .collect();
        let exact = dot(&unit(&a), &unit(&b));
        let (scale, bytes) = compact(&b);
        let approximate = compact_score(&unit(&a), scale, &bytes);
        assert!(
            (exact - approximate).abs() < 0.01,
            "{exact} vs {approximate}"
        );
        assert_eq!(compact(&[0.0, 0.0]), (0.0, vec![0, 0]));
    }

    #[test]
    fn a_tsvector_holds_one_position_per_occurrence() {
        let terms = Terms::of("pottery pottery class");
        assert_eq!(
            tsvector_literal(&terms, &TermKey::plain()),
            "'class':1 'pottery':2,3"
        );
        // A memory as the word query sends it: id, length, then
        // tsvectorsend of 'class':1 'pottery':2,3.
        let id = Uuid::now_v7();
        let sent = [
            &id.as_bytes()[..],
            &[0, 0, 0, 3],
            &[0, 0, 0, 2],
            b"class\0",
            &[0, 1, 0, 1],
            b"pottery\0",
            &[0, 2, 0, 2, 0, 3],
        ]
        .concat();
        let words = ["pottery".to_owned(), "kiln".to_owned(), "class".to_owned()];
        let two = [sent.clone(), sent.clone()].concat();
        assert_eq!(
            holdings(&two, &words).unwrap(),
            [(id, 3, vec![(2, 1), (0, 2)]), (id, 3, vec![(2, 1), (0, 2)])]
        );
        assert_eq!(holdings(&[], &words), Some(vec![]));
        assert_eq!(holdings(&sent[..30], &words), None, "cut short");
        let hidden = tsvector_literal(&terms, &TermKey::keyed(&[1; 32]));
        assert!(!hidden.contains("pottery") && hidden.contains(":2,3"));
        assert_eq!(tsvector_literal(&Terms::default(), &TermKey::plain()), "");
    }
}
