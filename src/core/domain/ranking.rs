//! How recall ranks: the vector list and the lexical list are fused by
//! reciprocal rank (RRF), then recency and importance adjust the order.
//! Done here, once, for every search path, so PostgreSQL, Qdrant and the
//! in-process index rank the same candidates the same way, and every hit
//! can say which scores made its rank.
//!
//! `score = rrf / rrf_max + recency_weight · 0.5^(age / half_life) +
//! importance_weight · importance`, where `rrf = Σ 1 / (60 + rank)` over
//! the lists the mode uses (ranks from 1) and `rrf_max` is that sum for a
//! memory first in every list, so the relevance part lies in (0, 1]
//! whatever the mode.

use super::ScoredId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The RRF constant of Cormack et al.; it damps the head of each list.
pub const RRF_K: f32 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// Both lists, fused.
    #[default]
    Hybrid,
    /// Embedding similarity alone.
    Vector,
    /// BM25 alone (no embedding call).
    Lexical,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Vector => "vector",
            Self::Lexical => "lexical",
        }
    }
    pub fn uses_vector(self) -> bool {
        self != Self::Lexical
    }
    pub fn uses_lexical(self) -> bool {
        self != Self::Vector
    }
}

/// The recency and importance part of the ranking (configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankWeights {
    pub recency: f32,
    pub importance: f32,
    /// Age (by when the memory happened) at which recency halves.
    pub half_life_days: f32,
}

impl Default for RankWeights {
    fn default() -> Self {
        Self {
            recency: 0.1,
            importance: 0.1,
            half_life_days: 30.0,
        }
    }
}

/// What a search path returns: each list best first (score: cosine for
/// the vector list, BM25 for the lexical one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexHits {
    pub vector: Vec<ScoredId>,
    pub lexical: Vec<ScoredId>,
}

/// A memory's place in one list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ListRank {
    /// From 1.
    pub rank: u32,
    pub score: f32,
}

/// Every score that made a memory's rank.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RankScores {
    pub vector: Option<ListRank>,
    pub lexical: Option<ListRank>,
    /// Normalised RRF, in (0, 1].
    pub relevance: f32,
    /// 0.5^(age / half-life), in (0, 1].
    pub recency: f32,
    pub importance: f32,
    /// The final score the order follows.
    pub score: f32,
}

/// Where a list's rank is written in a memory's scores.
type Place = fn(&mut RankScores) -> &mut Option<ListRank>;

/// Fuses the lists the mode uses: each memory's relevance, keyed by id.
pub fn fuse(hits: &IndexHits, mode: SearchMode) -> HashMap<Uuid, RankScores> {
    let mut fused: HashMap<Uuid, RankScores> = HashMap::new();
    let lists = u8::from(mode.uses_vector()) + u8::from(mode.uses_lexical());
    let best = f32::from(lists) / (RRF_K + 1.0);
    let lists: [(bool, &[ScoredId], Place); 2] = [
        (mode.uses_vector(), &hits.vector, |s| &mut s.vector),
        (mode.uses_lexical(), &hits.lexical, |s| &mut s.lexical),
    ];
    for (used, list, place) in lists {
        if !used {
            continue;
        }
        for (i, hit) in list.iter().enumerate() {
            let entry = fused.entry(hit.memory_id).or_default();
            *place(entry) = Some(ListRank {
                rank: i as u32 + 1,
                score: hit.score,
            });
            entry.relevance += 1.0 / (RRF_K + i as f32 + 1.0) / best;
        }
    }
    fused
}

/// Adds recency and importance to a fused relevance.
pub fn finish(
    mut scores: RankScores,
    happened: DateTime<Utc>,
    importance: f32,
    now: DateTime<Utc>,
    weights: &RankWeights,
) -> RankScores {
    let age_days = (now - happened).num_seconds().max(0) as f32 / 86_400.0;
    scores.recency = if weights.half_life_days > 0.0 {
        0.5f32.powf(age_days / weights.half_life_days)
    } else {
        1.0
    };
    scores.importance = importance.clamp(0.0, 1.0);
    scores.score = scores.relevance
        + weights.recency * scores.recency
        + weights.importance * scores.importance;
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[Uuid]) -> Vec<ScoredId> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| ScoredId {
                memory_id: *id,
                score: 1.0 - i as f32 * 0.1,
            })
            .collect()
    }

    #[test]
    fn fusion_rewards_agreement_and_says_where_each_rank_came_from() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let hits = IndexHits {
            vector: list(&[a, b]),
            lexical: list(&[c, b]),
        };
        let fused = fuse(&hits, SearchMode::Hybrid);
        assert!(fused[&b].relevance > fused[&a].relevance);
        assert_eq!(fused[&b].vector.unwrap().rank, 2);
        assert_eq!(fused[&c].vector, None);
        assert_eq!(fused[&c].lexical.unwrap().rank, 1);
        let vector_only = fuse(&hits, SearchMode::Vector);
        assert!(!vector_only.contains_key(&c));
        assert!((vector_only[&a].relevance - 1.0).abs() < 1e-6);
    }

    #[test]
    fn recency_halves_each_half_life_and_importance_adds() {
        let now = Utc::now();
        let weights = RankWeights::default();
        let base = RankScores {
            relevance: 0.5,
            ..RankScores::default()
        };
        let fresh = finish(base, now, 0.5, now, &weights);
        let month_old = finish(base, now - chrono::Duration::days(30), 0.5, now, &weights);
        assert!((fresh.recency - 1.0).abs() < 1e-6);
        assert!((month_old.recency - 0.5).abs() < 1e-3);
        assert!(fresh.score > month_old.score);
        let important = finish(base, now, 1.0, now, &weights);
        assert!(important.score > fresh.score);
    }
}
