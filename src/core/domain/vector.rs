use super::{MemoryKind, ScopeFilter, SearchMode, TenantId, Terms};
use uuid::Uuid;

/// One memory's vector with the payload every search filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorPoint {
    pub memory_id: Uuid,
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub kind: MemoryKind,
    /// The memory's owner; `None` for the world's.
    pub user_id: Option<String>,
    pub embedding: Vec<f32>,
    /// The memory's analysed words, for the lexical side of search.
    pub terms: Terms,
}

impl VectorPoint {
    /// The point that indexes a memory.
    pub fn of(memory: &super::Memory) -> Self {
        Self {
            memory_id: memory.id,
            tenant: memory.tenant.clone(),
            character_id: memory.character_id,
            kind: memory.kind,
            user_id: memory.user_id.clone(),
            embedding: memory.embedding.clone(),
            terms: Terms::of(&memory.content),
        }
    }
}

/// A search is always scoped to one tenant's character, and to whose
/// memories the reader may see.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery {
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub kind: Option<MemoryKind>,
    pub scope: ScopeFilter,
    /// Which lists to fill: the vector one, the lexical one, or both.
    pub mode: SearchMode,
    /// Empty when the mode has no vector side.
    pub embedding: Vec<f32>,
    /// The query's analysed words; empty when the mode has no lexical side.
    pub terms: Terms,
    /// How deep each list goes.
    pub k: usize,
}

/// A change the vector index missed (it was down): kept in the Store and
/// replayed by the repair loop, so the index never stays behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingVector {
    Upsert {
        tenant: TenantId,
        memory_id: Uuid,
    },
    Delete {
        memory_id: Uuid,
    },
    DeleteCharacter {
        tenant: TenantId,
        character_id: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVectorRow {
    pub id: Uuid,
    pub change: PendingVector,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredId {
    pub memory_id: Uuid,
    pub score: f32,
}

/// Dot product in eight independent lanes, which the compiler turns into
/// SIMD; exact search spends nearly all its time here.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The signs of a vector, one bit per dimension: how many two vectors
/// share (`hamming`) tracks the angle between them, for a first scan that
/// reads 1/32 of the bytes.
pub fn sign_bits(vector: &[f32]) -> Vec<u64> {
    vector
        .chunks(64)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u64, |bits, (i, x)| bits | (u64::from(*x > 0.0) << i))
        })
        .collect()
}

/// How many sign bits differ.
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The vector scaled to length 1 (zero stays zero), so cosine is a dot.
pub fn unit(vector: &[f32]) -> Vec<f32> {
    let norm = dot(vector, vector).sqrt();
    if norm == 0.0 {
        return vector.to_vec();
    }
    vector.iter().map(|x| x / norm).collect()
}

pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (norm_a, norm_b) = (dot(a, a), dot(b, b));
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot(a, b) / (norm_a.sqrt() * norm_b.sqrt())
}

/// Keeps the best `k` of `scored` (positive scores only), best first, ties
/// by id; a partial selection, so large candidate sets stay cheap.
pub fn best_k(mut scored: Vec<ScoredId>, k: usize) -> Vec<ScoredId> {
    scored.retain(|hit| hit.score > 0.0);
    let order = |a: &ScoredId, b: &ScoredId| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.memory_id.cmp(&b.memory_id))
    };
    if k == 0 {
        return Vec::new();
    }
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_by(order);
    scored
}

/// Exact search: scores every candidate, keeps the best `k` with a positive
/// score, best first (ties broken by id so results are deterministic).
pub fn rank_exact<'a>(
    query: &[f32],
    candidates: impl IntoIterator<Item = (Uuid, &'a [f32])>,
    k: usize,
) -> Vec<ScoredId> {
    let query = unit(query);
    let scored: Vec<ScoredId> = candidates
        .into_iter()
        .map(|(memory_id, embedding)| {
            let norm = dot(embedding, embedding).sqrt();
            let score = if norm == 0.0 || embedding.len() != query.len() {
                0.0
            } else {
                dot(&query, embedding) / norm
            };
            ScoredId { memory_id, score }
        })
        .collect();
    best_k(scored, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_ranking_orders_by_cosine_and_drops_unrelated() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let vectors = [
            (a, vec![1.0, 0.0]),
            (b, vec![0.7, 0.7]),
            (c, vec![0.0, 1.0]),
        ];
        let hits = rank_exact(
            &[1.0, 0.1],
            vectors.iter().map(|(id, v)| (*id, v.as_slice())),
            5,
        );
        assert_eq!(
            hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
            [a, b, c]
        );
        let orthogonal = rank_exact(
            &[-1.0, 0.0],
            vectors.iter().map(|(id, v)| (*id, v.as_slice())),
            5,
        );
        assert!(orthogonal.iter().all(|h| h.memory_id != a));
        assert_eq!(cosine_similarity(&[1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn sign_bits_count_the_disagreeing_signs() {
        let a = sign_bits(&[1.0, -1.0, 0.5, -0.5]);
        assert_eq!(a, [0b0101]);
        assert_eq!(hamming(&a, &sign_bits(&[1.0, 1.0, 0.5, 0.5])), 2);
        assert_eq!(sign_bits(&vec![1.0; 130]).len(), 3);
    }

    #[test]
    fn the_lane_dot_product_matches_the_plain_one() {
        let a: Vec<f32> = (0..1027).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..1027).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
        assert!((dot(&unit(&a), &unit(&a)) - 1.0).abs() < 1e-5);
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let hits = best_k(
            ids.iter()
                .enumerate()
                .map(|(i, id)| ScoredId {
                    memory_id: *id,
                    score: i as f32,
                })
                .collect(),
            2,
        );
        assert_eq!(
            hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
            [ids[4], ids[3]]
        );
    }
}
