//! What every `VectorMemory` must do. Each function gets a fresh, empty
//! index prepared for `MODEL` / `DIMENSIONS` that no other test shares.

use std::sync::Arc;
use uuid::Uuid;
use virlife::core::domain::{
    MemoryKind, ScopeFilter, ScoredId, SearchMode, TenantId, Terms, VectorPoint, VectorQuery,
    rank_exact, rank_lexical,
};
use virlife::core::ports::VectorMemory;

type V = Arc<dyn VectorMemory>;

/// The embedding model and size every index under test is built for.
pub const MODEL: &str = "contract-model";
pub const DIMENSIONS: usize = 4;

const EPISODIC: MemoryKind = MemoryKind::Episodic;
const FACT: MemoryKind = MemoryKind::Biographical;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn point(tenant_name: &str, character: Uuid, kind: MemoryKind, embedding: [f32; 4]) -> VectorPoint {
    VectorPoint {
        memory_id: Uuid::now_v7(),
        tenant: tenant(tenant_name),
        character_id: character,
        kind,
        user_id: None,
        embedding: embedding.to_vec(),
        terms: Terms::default(),
    }
}

fn query(tenant_name: &str, character: Uuid, kind: Option<MemoryKind>, k: usize) -> VectorQuery {
    VectorQuery {
        tenant: tenant(tenant_name),
        character_id: character,
        kind,
        scope: ScopeFilter::Any,
        mode: SearchMode::Vector,
        embedding: vec![1.0, 0.0, 0.0, 0.0],
        terms: Terms::default(),
        k,
    }
}

/// The vector list.
async fn nearest(index: &V, query: &VectorQuery) -> Vec<ScoredId> {
    index.search(query).await.expect("search answers").vector
}

async fn found(index: &V, query: &VectorQuery) -> Vec<Uuid> {
    nearest(index, query)
        .await
        .iter()
        .map(|hit| hit.memory_id)
        .collect()
}

fn ids(points: &[&VectorPoint]) -> Vec<Uuid> {
    points.iter().map(|p| p.memory_id).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

pub async fn a_live_index_answers_ping(index: V) {
    index.ping().await.expect("a live index answers ping");
    index
        .upsert(&[point("a", Uuid::now_v7(), EPISODIC, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    index
        .ping()
        .await
        .expect("and still answers with points in it");
    assert!(!index.kind().is_empty());
}

pub async fn an_empty_index_finds_nothing(index: V) {
    assert!(
        found(&index, &query("a", Uuid::now_v7(), None, 10))
            .await
            .is_empty()
    );
    assert!(
        found(&index, &query("a", Uuid::now_v7(), Some(FACT), 10))
            .await
            .is_empty()
    );
    // Removing what is not there is no error either.
    index.delete(&[Uuid::now_v7()]).await.unwrap();
    index
        .delete_character(&tenant("a"), Uuid::now_v7())
        .await
        .unwrap();
    index.upsert(&[]).await.unwrap();
    assert!(
        found(&index, &query("a", Uuid::now_v7(), None, 10))
            .await
            .is_empty()
    );
}

pub async fn search_is_scoped_to_the_character(index: V) {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let ada_1 = point("a", ada, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    let ada_2 = point("a", ada, FACT, [0.8, 0.2, 0.0, 0.0]);
    // Bob's memory is the best match, but not Ada's.
    let bob_1 = point("a", bob, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    index
        .upsert(&[ada_1.clone(), ada_2.clone(), bob_1.clone()])
        .await
        .unwrap();
    assert_eq!(
        found(&index, &query("a", ada, None, 10)).await,
        ids(&[&ada_1, &ada_2])
    );
    assert_eq!(
        found(&index, &query("a", bob, None, 10)).await,
        ids(&[&bob_1])
    );
    assert!(
        found(&index, &query("a", Uuid::now_v7(), None, 10))
            .await
            .is_empty()
    );
}

pub async fn other_tenants_are_invisible(index: V) {
    // The same character id under two tenants, and the other tenant holds
    // the better match: still never returned.
    let character = Uuid::now_v7();
    let mine = point("a", character, EPISODIC, [0.7, 0.7, 0.0, 0.0]);
    let theirs = point("b", character, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    index.upsert(&[mine.clone(), theirs.clone()]).await.unwrap();
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&mine])
    );
    assert_eq!(
        found(&index, &query("b", character, None, 10)).await,
        ids(&[&theirs])
    );
    assert!(
        found(&index, &query("c", character, None, 10))
            .await
            .is_empty()
    );
}

pub async fn a_person_finds_the_worlds_points_and_their_own(index: V) {
    // Alex's point is the best match for everyone: Sam must still never
    // see it, and it must not crowd out what Sam may see.
    let character = Uuid::now_v7();
    let owned = |user: &str, embedding| VectorPoint {
        user_id: Some(user.to_owned()),
        ..point("a", character, EPISODIC, embedding)
    };
    let alexs = owned("alex", [1.0, 0.0, 0.0, 0.0]);
    let sams = owned("sam", [0.7, 0.7, 0.0, 0.0]);
    let world = point("a", character, FACT, [0.9, 0.1, 0.0, 0.0]);
    index
        .upsert(&[alexs.clone(), sams.clone(), world.clone()])
        .await
        .unwrap();
    let as_person = |user: &str, k| VectorQuery {
        scope: ScopeFilter::Person(user.to_owned()),
        ..query("a", character, None, k)
    };
    assert_eq!(
        found(&index, &as_person("sam", 10)).await,
        ids(&[&world, &sams])
    );
    assert_eq!(found(&index, &as_person("sam", 1)).await, ids(&[&world]));
    assert_eq!(
        found(&index, &as_person("alex", 10)).await,
        ids(&[&alexs, &world])
    );
    assert_eq!(
        found(&index, &as_person("nobody", 10)).await,
        ids(&[&world])
    );
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&alexs, &world, &sams])
    );
}

pub async fn a_kind_narrows_the_search(index: V) {
    let character = Uuid::now_v7();
    let event = point("a", character, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    let fact = point("a", character, FACT, [0.9, 0.1, 0.0, 0.0]);
    let other_fact = point("a", character, FACT, [0.5, 0.5, 0.0, 0.0]);
    index
        .upsert(&[event.clone(), fact.clone(), other_fact.clone()])
        .await
        .unwrap();
    assert_eq!(
        found(&index, &query("a", character, Some(FACT), 10)).await,
        ids(&[&fact, &other_fact])
    );
    assert_eq!(
        found(&index, &query("a", character, Some(EPISODIC), 10)).await,
        ids(&[&event])
    );
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&event, &fact, &other_fact])
    );
}

pub async fn hits_come_best_first_scored_by_cosine(index: V) {
    let character = Uuid::now_v7();
    // Lengths differ on purpose: only the direction counts.
    let embeddings: [[f32; 4]; 4] = [
        [0.1, 3.0, 0.0, 0.0],
        [2.0, 0.1, 0.0, 0.0],
        [1.0, 1.0, 1.0, 0.0],
        [5.0, 0.0, 2.0, 1.0],
    ];
    let points: Vec<VectorPoint> = embeddings
        .iter()
        .map(|e| point("a", character, EPISODIC, *e))
        .collect();
    index.upsert(&points).await.unwrap();
    let wanted = query("a", character, None, 10);
    let hits = nearest(&index, &wanted).await;
    // Best first: [2.0, 0.1] (0.9988), [5, 0, 2, 1] (0.9129),
    // [1, 1, 1] (0.5774), [0.1, 3.0] (0.0333).
    assert_eq!(
        hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
        ids(&[&points[1], &points[3], &points[2], &points[0]])
    );
    for hit in &hits {
        let point = points
            .iter()
            .find(|p| p.memory_id == hit.memory_id)
            .unwrap();
        let expected = cosine(&wanted.embedding, &point.embedding);
        assert!(
            (hit.score - expected).abs() < 1e-3,
            "score {} is not the cosine similarity {expected}",
            hit.score
        );
    }
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

pub async fn no_more_than_k_hits_the_best_ones(index: V) {
    let character = Uuid::now_v7();
    let points: Vec<VectorPoint> = (0..6)
        .map(|i| point("a", character, EPISODIC, [6.0 - i as f32, 1.0, 0.0, 0.0]))
        .collect();
    index.upsert(&points).await.unwrap();
    let all: Vec<Uuid> = points.iter().map(|p| p.memory_id).collect();
    assert_eq!(
        found(&index, &query("a", character, None, 1)).await,
        all[..1]
    );
    assert_eq!(
        found(&index, &query("a", character, None, 3)).await,
        all[..3]
    );
    assert_eq!(found(&index, &query("a", character, None, 6)).await, all);
    assert_eq!(found(&index, &query("a", character, None, 50)).await, all);
}

pub async fn k_zero_finds_nothing(index: V) {
    let character = Uuid::now_v7();
    index
        .upsert(&[point("a", character, EPISODIC, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    assert!(
        found(&index, &query("a", character, None, 0))
            .await
            .is_empty()
    );
}

/// Like the Store's exact fallback (`rank_exact`): a point pointing away
/// from the query (cosine ≤ 0) is not a hit.
pub async fn unrelated_points_are_not_hits(index: V) {
    let character = Uuid::now_v7();
    let related = point("a", character, EPISODIC, [1.0, 1.0, 0.0, 0.0]);
    let orthogonal = point("a", character, EPISODIC, [0.0, 1.0, 0.0, 0.0]);
    let opposite = point("a", character, EPISODIC, [-1.0, 0.2, 0.0, 0.0]);
    index
        .upsert(&[related.clone(), orthogonal, opposite])
        .await
        .unwrap();
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&related])
    );
}

/// Many points: the same ids, in the same order, with the same scores as
/// the exact ranking the Store falls back to.
pub async fn ranking_agrees_with_exact_cosine(index: V) {
    let character = Uuid::now_v7();
    // A fixed pseudo-random walk, so the test is repeatable.
    let mut state: u32 = 0x2545_f491;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 2001) as f32 / 1000.0 - 1.0
    };
    let points: Vec<VectorPoint> = (0..60)
        .map(|i| {
            let kind = if i % 3 == 0 { FACT } else { EPISODIC };
            point("a", character, kind, [next(), next(), next(), next()])
        })
        .collect();
    index.upsert(&points).await.unwrap();
    for (kind, k) in [(None, 10), (Some(FACT), 5), (None, 60)] {
        let mut wanted = query("a", character, kind, k);
        wanted.embedding = vec![0.3, -0.2, 0.9, 0.1];
        let expected = rank_exact(
            &wanted.embedding,
            points
                .iter()
                .filter(|p| kind.is_none_or(|wanted| wanted == p.kind))
                .map(|p| (p.memory_id, p.embedding.as_slice())),
            k,
        );
        let hits = nearest(&index, &wanted).await;
        assert_eq!(
            hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
            expected.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
            "kind {kind:?}, k {k}"
        );
        for (hit, exact) in hits.iter().zip(&expected) {
            assert!((hit.score - exact.score).abs() < 1e-3);
        }
    }
}

pub async fn upserting_the_same_id_replaces_the_point(index: V) {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut memory = point("a", ada, EPISODIC, [0.2, 1.0, 1.0, 0.0]);
    let other = point("a", ada, EPISODIC, [1.0, 1.0, 0.0, 0.0]);
    index
        .upsert(&[memory.clone(), other.clone()])
        .await
        .unwrap();
    // The same batch again: nothing doubles.
    index
        .upsert(&[memory.clone(), other.clone()])
        .await
        .unwrap();
    assert_eq!(
        found(&index, &query("a", ada, None, 10)).await,
        ids(&[&other, &memory])
    );

    // A new embedding and kind replace the old ones.
    memory.embedding = vec![1.0, 0.0, 0.0, 0.0];
    memory.kind = FACT;
    index.upsert(std::slice::from_ref(&memory)).await.unwrap();
    let hits = nearest(&index, &query("a", ada, None, 10)).await;
    assert_eq!(
        hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
        ids(&[&memory, &other])
    );
    assert!((hits[0].score - 1.0).abs() < 1e-3);
    assert_eq!(
        found(&index, &query("a", ada, Some(EPISODIC), 10)).await,
        ids(&[&other])
    );
    assert_eq!(
        found(&index, &query("a", ada, Some(FACT), 10)).await,
        ids(&[&memory])
    );

    // Upserted under another character, it leaves the first one.
    memory.character_id = bob;
    index.upsert(std::slice::from_ref(&memory)).await.unwrap();
    assert_eq!(
        found(&index, &query("a", ada, None, 10)).await,
        ids(&[&other])
    );
    assert_eq!(
        found(&index, &query("a", bob, None, 10)).await,
        ids(&[&memory])
    );
}

pub async fn delete_removes_only_the_named_points(index: V) {
    let character = Uuid::now_v7();
    let points: Vec<VectorPoint> = (0..4)
        .map(|i| point("a", character, EPISODIC, [4.0 - i as f32, 1.0, 0.0, 0.0]))
        .collect();
    let foreign = point("b", character, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    index.upsert(&points).await.unwrap();
    index.upsert(std::slice::from_ref(&foreign)).await.unwrap();
    index
        .delete(&[points[0].memory_id, points[2].memory_id])
        .await
        .unwrap();
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&points[1], &points[3]])
    );
    assert_eq!(
        found(&index, &query("b", character, None, 10)).await,
        ids(&[&foreign])
    );
    // Deleting again, deleting unknown ids and deleting nothing are no errors.
    index
        .delete(&[points[0].memory_id, Uuid::now_v7()])
        .await
        .unwrap();
    index.delete(&[]).await.unwrap();
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&points[1], &points[3]])
    );
}

pub async fn delete_character_removes_only_that_characters_points(index: V) {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let ada_event = point("a", ada, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    let ada_fact = point("a", ada, FACT, [0.9, 0.1, 0.0, 0.0]);
    let bob_event = point("a", bob, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    // Another tenant's character with the same id stays too.
    let their_ada = point("b", ada, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    index
        .upsert(&[
            ada_event.clone(),
            ada_fact.clone(),
            bob_event.clone(),
            their_ada.clone(),
        ])
        .await
        .unwrap();
    index.delete_character(&tenant("a"), ada).await.unwrap();
    assert!(found(&index, &query("a", ada, None, 10)).await.is_empty());
    assert!(
        found(&index, &query("a", ada, Some(FACT), 10))
            .await
            .is_empty()
    );
    assert_eq!(
        found(&index, &query("a", bob, None, 10)).await,
        ids(&[&bob_event])
    );
    assert_eq!(
        found(&index, &query("b", ada, None, 10)).await,
        ids(&[&their_ada])
    );
    // Twice is fine, and the character can gain memories again.
    index.delete_character(&tenant("a"), ada).await.unwrap();
    index
        .upsert(std::slice::from_ref(&ada_event))
        .await
        .unwrap();
    assert_eq!(
        found(&index, &query("a", ada, None, 10)).await,
        ids(&[&ada_event])
    );
}

pub async fn the_model_in_use_is_no_mismatch(index: V) {
    index.reset(MODEL, DIMENSIONS).await.unwrap();
    assert_eq!(index.model_mismatch(MODEL, DIMENSIONS).await.unwrap(), None);
    index
        .upsert(&[point("a", Uuid::now_v7(), EPISODIC, [0.0, 1.0, 0.0, 0.0])])
        .await
        .unwrap();
    assert_eq!(index.model_mismatch(MODEL, DIMENSIONS).await.unwrap(), None);
}

pub async fn another_model_or_size_is_a_mismatch(index: V) {
    index.reset(MODEL, DIMENSIONS).await.unwrap();
    index
        .upsert(&[point("a", Uuid::now_v7(), EPISODIC, [0.0, 1.0, 0.0, 0.0])])
        .await
        .unwrap();
    let size = index.model_mismatch(MODEL, DIMENSIONS * 2).await.unwrap();
    assert!(size.is_some(), "another size must be reported");
    assert!(!size.unwrap().is_empty());
    let model = index
        .model_mismatch("another-model", DIMENSIONS)
        .await
        .unwrap();
    assert!(model.is_some(), "another model must be reported");
    assert!(!model.unwrap().is_empty());
}

pub async fn a_reset_drops_every_point_and_prepares_the_index_again(index: V) {
    let character = Uuid::now_v7();
    index
        .upsert(&[
            point("a", character, EPISODIC, [0.0, 1.0, 0.0, 0.0]),
            point("a", character, FACT, [1.0, 1.0, 0.0, 0.0]),
            point("b", character, EPISODIC, [1.0, 0.0, 0.0, 0.0]),
        ])
        .await
        .unwrap();
    index.reset(MODEL, DIMENSIONS).await.unwrap();
    for tenant_name in ["a", "b"] {
        assert!(
            found(&index, &query(tenant_name, character, None, 10))
                .await
                .is_empty()
        );
    }
    assert_eq!(index.model_mismatch(MODEL, DIMENSIONS).await.unwrap(), None);
    index.ping().await.unwrap();
    // Ready for writes straight away.
    let fresh = point("a", character, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    index.upsert(std::slice::from_ref(&fresh)).await.unwrap();
    assert_eq!(
        found(&index, &query("a", character, None, 10)).await,
        ids(&[&fresh])
    );
    // A second reset in a row is fine too.
    index.reset(MODEL, DIMENSIONS).await.unwrap();
    assert!(
        found(&index, &query("a", character, None, 10))
            .await
            .is_empty()
    );
}

pub async fn results_do_not_depend_on_batching(index: V) {
    // Written one by one or all at once, the index ends up the same.
    let character = Uuid::now_v7();
    let points: Vec<VectorPoint> = (0..8)
        .map(|i| point("a", character, EPISODIC, [8.0 - i as f32, 2.0, 1.0, 0.0]))
        .collect();
    index.upsert(&points[..3]).await.unwrap();
    for p in &points[3..] {
        index.upsert(std::slice::from_ref(p)).await.unwrap();
    }
    let all: Vec<Uuid> = points.iter().map(|p| p.memory_id).collect();
    assert_eq!(found(&index, &query("a", character, None, 20)).await, all);
}

// The lexical list: BM25 over the memories' words (`domain::lexical`).

/// A point holding `text`'s words (its embedding plays no part).
fn worded(tenant_name: &str, character: Uuid, kind: MemoryKind, text: &str) -> VectorPoint {
    VectorPoint {
        terms: Terms::of(text),
        ..point(tenant_name, character, kind, [0.0, 0.0, 1.0, 0.0])
    }
}

fn words(tenant_name: &str, character: Uuid, text: &str, k: usize) -> VectorQuery {
    VectorQuery {
        mode: SearchMode::Lexical,
        embedding: Vec::new(),
        terms: Terms::of(text),
        ..query(tenant_name, character, None, k)
    }
}

async fn by_words(index: &V, query: &VectorQuery) -> Vec<Uuid> {
    let hits = index.search(query).await.expect("search answers");
    assert!(hits.vector.is_empty(), "lexical mode fills no vector list");
    hits.lexical.iter().map(|hit| hit.memory_id).collect()
}

pub async fn words_rank_rare_shared_words_first(index: V) {
    let character = Uuid::now_v7();
    let both = worded(
        "a",
        character,
        EPISODIC,
        "Maya started her pottery class with Mrs Okonkwo",
    );
    let rare = worded("a", character, EPISODIC, "Okonkwo teaches on Tuesdays");
    let common = worded(
        "a",
        character,
        EPISODIC,
        "the class was full, a class of thirty",
    );
    let unrelated = worded("a", character, EPISODIC, "a walk by the river at dusk");
    let filler: Vec<VectorPoint> = (0..6)
        .map(|i| {
            worded(
                "a",
                character,
                EPISODIC,
                &format!("another class day number {i}"),
            )
        })
        .collect();
    let mut all = vec![
        both.clone(),
        rare.clone(),
        common.clone(),
        unrelated.clone(),
    ];
    all.extend(filler);
    index.upsert(&all).await.unwrap();
    let hits = by_words(&index, &words("a", character, "Okonkwo pottery class", 3)).await;
    assert_eq!(hits, ids(&[&both, &rare, &common]));
    let hits = by_words(&index, &words("a", character, "Okonkwo pottery class", 50)).await;
    assert!(
        !hits.contains(&unrelated.memory_id),
        "no shared word, no hit"
    );
    assert_eq!(hits.len(), 9);
    // Words that are all stop words, or found nowhere, find nothing.
    assert!(
        by_words(&index, &words("a", character, "what was it", 10))
            .await
            .is_empty()
    );
    assert!(
        by_words(&index, &words("a", character, "zeppelin", 10))
            .await
            .is_empty()
    );
}

pub async fn words_are_scoped_like_vectors(index: V) {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let owned = |user: &str, text: &str| VectorPoint {
        user_id: Some(user.to_owned()),
        ..worded("a", ada, EPISODIC, text)
    };
    let alexs = owned("alex", "my ferret Bartholomew chewed the router cable");
    let sams = owned("sam", "Bartholomew is a silly name for a ferret");
    let world = worded("a", ada, FACT, "ferrets sleep most of the day");
    let bobs = worded("a", bob, EPISODIC, "Bartholomew the ferret");
    let elsewhere = worded("b", ada, EPISODIC, "Bartholomew the ferret");
    index
        .upsert(&[alexs.clone(), sams.clone(), world.clone(), bobs, elsewhere])
        .await
        .unwrap();
    let as_person = |user: &str| VectorQuery {
        scope: ScopeFilter::Person(user.to_owned()),
        ..words("a", ada, "ferret Bartholomew", 10)
    };
    let mut sam = by_words(&index, &as_person("sam")).await;
    sam.sort();
    let mut expected = ids(&[&sams, &world]);
    expected.sort();
    assert_eq!(
        sam, expected,
        "the world's and Sam's, never Alex's or another character's"
    );
    assert_eq!(by_words(&index, &as_person("nobody")).await, ids(&[&world]));
    let facts = VectorQuery {
        kind: Some(FACT),
        ..words("a", ada, "ferret Bartholomew", 10)
    };
    assert_eq!(by_words(&index, &facts).await, ids(&[&world]));
    assert_eq!(
        by_words(&index, &words("a", ada, "ferret Bartholomew", 10))
            .await
            .len(),
        3
    );
    // Deleting a memory removes its words too.
    index.delete(&[alexs.memory_id]).await.unwrap();
    assert_eq!(
        by_words(&index, &words("a", ada, "router", 10)).await,
        Vec::<Uuid>::new()
    );
    // Replacing a memory replaces its words.
    let mut changed = sams.clone();
    changed.terms = Terms::of("a parrot called Quentin");
    index.upsert(std::slice::from_ref(&changed)).await.unwrap();
    assert_eq!(
        by_words(&index, &words("a", ada, "Quentin", 10)).await,
        ids(&[&changed])
    );
    assert!(
        !by_words(&index, &words("a", ada, "silly", 10))
            .await
            .contains(&sams.memory_id)
    );
}

pub async fn hybrid_fills_both_lists(index: V) {
    let character = Uuid::now_v7();
    let near = point("a", character, EPISODIC, [1.0, 0.0, 0.0, 0.0]);
    let worded_far = worded("a", character, EPISODIC, "Okonkwo's pottery class");
    index
        .upsert(&[near.clone(), worded_far.clone()])
        .await
        .unwrap();
    let hybrid = VectorQuery {
        mode: SearchMode::Hybrid,
        terms: Terms::of("pottery"),
        ..query("a", character, None, 10)
    };
    let hits = index.search(&hybrid).await.unwrap();
    assert_eq!(
        hits.vector.first().map(|h| h.memory_id),
        Some(near.memory_id)
    );
    assert_eq!(
        hits.lexical.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
        [worded_far.memory_id]
    );
    let vector_only = index
        .search(&VectorQuery {
            mode: SearchMode::Vector,
            ..hybrid.clone()
        })
        .await
        .unwrap();
    assert!(vector_only.lexical.is_empty());
}

/// Every path ranks words by the same BM25 (`domain::lexical`); this holds
/// each to the reference over a few hundred memories. Tolerance (ties and
/// rounding make exact order meaningless): each of the path's top ten
/// scores, by the reference, at least 85% of the reference's tenth score,
/// and the path's first at least 85% of the reference's first (Qdrant
/// normalises length by an assumed average rather than the collection's,
/// so close scores may swap).
pub async fn word_ranking_agrees_with_the_reference_bm25(index: V) {
    let character = Uuid::now_v7();
    let vocabulary = [
        "pottery",
        "class",
        "ferret",
        "router",
        "Okonkwo",
        "Maya",
        "march",
        "garden",
        "tomato",
        "violin",
        "lesson",
        "Lisbon",
        "trip",
        "sister",
        "wedding",
        "bakery",
        "sourdough",
        "marathon",
        "knee",
        "doctor",
        "rent",
        "landlord",
        "kitten",
        "Bartholomew",
        "chess",
        "tournament",
    ];
    // A fixed pseudo-random corpus: varied lengths and word mixes.
    let mut seed = 0x2545_f491_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let points: Vec<VectorPoint> = (0..300)
        .map(|_| {
            let length = 3 + next(12);
            let text: Vec<&str> = (0..length)
                .map(|_| vocabulary[next(vocabulary.len())])
                .collect();
            worded("a", character, EPISODIC, &text.join(" "))
        })
        .collect();
    for batch in points.chunks(100) {
        index.upsert(batch).await.unwrap();
    }
    for question in [
        "When did Maya start pottery class?",
        "Bartholomew chewed the router",
        "sourdough from the bakery in Lisbon",
        "chess tournament",
        "violin lesson with my sister",
    ] {
        let reference = rank_lexical(
            &Terms::of(question),
            points.iter().map(|p| (p.memory_id, &p.terms)),
            points.len(),
        );
        let score_of = |id: &Uuid| {
            reference
                .iter()
                .find(|h| h.memory_id == *id)
                .map_or(0.0, |h| h.score)
        };
        let found = by_words(&index, &words("a", character, question, 10)).await;
        assert_eq!(found.len(), 10, "{question}");
        let tenth = reference[9].score;
        for id in &found {
            assert!(
                score_of(id) >= 0.85 * tenth,
                "{question}: a hit the reference scores {} (its tenth: {tenth})",
                score_of(id)
            );
        }
        assert!(
            score_of(&found[0]) >= 0.85 * reference[0].score,
            "{question}: the first hit scores {} by the reference (its first: {})",
            score_of(&found[0]),
            reference[0].score
        );
    }
}
