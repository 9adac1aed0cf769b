use super::{MemoryKind, TenantId};
use uuid::Uuid;

/// One memory's vector with the payload every search filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorPoint {
    pub memory_id: Uuid,
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub kind: MemoryKind,
    pub embedding: Vec<f32>,
}

/// A search is always scoped to one tenant's character.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery {
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub kind: Option<MemoryKind>,
    pub embedding: Vec<f32>,
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

pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot / (norm_a.sqrt() * norm_b.sqrt())
}

/// Exact search: scores every candidate, keeps the best `k` with a positive
/// score, best first (ties broken by id so results are deterministic).
pub fn rank_exact<'a>(
    query: &[f32],
    candidates: impl IntoIterator<Item = (Uuid, &'a [f32])>,
    k: usize,
) -> Vec<ScoredId> {
    let mut scored: Vec<ScoredId> = candidates
        .into_iter()
        .map(|(memory_id, embedding)| ScoredId {
            memory_id,
            score: cosine_similarity(query, embedding),
        })
        .filter(|hit| hit.score > 0.0)
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.memory_id.cmp(&b.memory_id))
    });
    scored.truncate(k);
    scored
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
}
