//! The lexical side of recall: one analyser and one BM25 formula, so every
//! search path (in process, PostgreSQL, Qdrant) indexes the same terms and
//! scores them alike.
//!
//! Analysis is deliberately simple and language-neutral: lower case, split
//! on anything that is not a letter or digit, drop a short list of English
//! function words, and fold plural endings (`classes` → `class`). Names,
//! numbers and rare words, where dense search is weakest, pass unchanged.

use super::{ScoredId, best_k};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// BM25 term-frequency saturation.
pub const BM25_K1: f32 = 1.2;
/// BM25 length normalisation.
pub const BM25_B: f32 = 0.75;
/// Terms longer than this are cut (a pasted blob is not a word).
const MAX_TERM_CHARS: usize = 40;

/// Words too common to tell memories apart.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing",
    "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his",
    "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "my", "myself", "no", "nor",
    "not", "of", "on", "or", "our", "ours", "she", "so", "some", "such", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "very", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours",
];

/// A text's terms with their counts, and its length in terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    /// Term → how often it occurs; sorted, so hashing and storage are stable.
    pub counts: BTreeMap<String, u32>,
    /// All kept terms, repeats included (BM25's document length).
    pub length: u32,
}

impl Terms {
    /// The analysed terms of `text`.
    pub fn of(text: &str) -> Self {
        let mut terms = Self::default();
        for token in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
        {
            let lower = token.to_lowercase();
            if STOPWORDS.binary_search(&lower.as_str()).is_ok() {
                continue;
            }
            let term = fold_plural(lower);
            // Single letters (the `s` of "Maya's") carry nothing; digits do.
            if term.chars().count() < 2 && !term.chars().all(|c| c.is_numeric()) {
                continue;
            }
            let term: String = term.chars().take(MAX_TERM_CHARS).collect();
            *terms.counts.entry(term).or_insert(0) += 1;
            terms.length += 1;
        }
        terms
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Harman's "S" stemmer, with `-sses`/`-xes`/`-ches`/`-shes` losing the
/// whole `es`: folds the common English plural endings only, so it never
/// mangles names (`stories` → `story`, `classes` → `class`, `cakes` → `cake`).
fn fold_plural(word: String) -> String {
    let len = word.len();
    if len <= 3 || !word.is_ascii() {
        return word;
    }
    if word.ends_with("ies") && !word.ends_with("eies") && !word.ends_with("aies") {
        return format!("{}y", &word[..len - 3]);
    }
    if ["sses", "xes", "zes", "ches", "shes"]
        .iter()
        .any(|ending| word.ends_with(ending))
    {
        return word[..len - 2].to_owned();
    }
    if word.ends_with("es")
        && !(word.ends_with("aes") || word.ends_with("ees") || word.ends_with("oes"))
    {
        return word[..len - 1].to_owned();
    }
    if word.ends_with('s') && !(word.ends_with("us") || word.ends_with("ss")) {
        return word[..len - 1].to_owned();
    }
    word
}

/// Inverse document frequency as Lucene (and Qdrant's IDF modifier) compute
/// it: never negative, so a term in every memory still counts a little.
pub fn idf(documents: u64, containing: u64) -> f32 {
    let (n, df) = (documents as f64, containing.min(documents) as f64);
    ((n - df + 0.5) / (df + 0.5)).ln_1p() as f32
}

/// The length-normalised weight of a term occurring `tf` times in a memory
/// of `length` terms, where memories average `average_length` terms.
pub fn term_weight(tf: u32, length: u32, average_length: f32) -> f32 {
    let tf = tf as f32;
    let norm = if average_length > 0.0 {
        1.0 - BM25_B + BM25_B * length as f32 / average_length
    } else {
        1.0
    };
    tf * (BM25_K1 + 1.0) / (tf + BM25_K1 * norm)
}

/// BM25 over a set of memories held in hand (no index): what the Store
/// fallback uses when the search index is down. Statistics (count, average
/// length, document frequency) are those of `documents`; best `k` first.
pub fn rank_lexical<'a>(
    query: &Terms,
    documents: impl IntoIterator<Item = (Uuid, &'a Terms)>,
    k: usize,
) -> Vec<ScoredId> {
    let documents: Vec<(Uuid, &Terms)> = documents.into_iter().collect();
    if query.is_empty() || documents.is_empty() {
        return Vec::new();
    }
    let total: u64 = documents.iter().map(|(_, t)| u64::from(t.length)).sum();
    let average = total as f32 / documents.len() as f32;
    let mut scores: HashMap<Uuid, f32> = HashMap::new();
    for term in query.counts.keys() {
        let containing: Vec<(Uuid, &Terms, u32)> = documents
            .iter()
            .filter_map(|(id, t)| t.counts.get(term).map(|tf| (*id, *t, *tf)))
            .collect();
        let weight = idf(documents.len() as u64, containing.len() as u64);
        for (id, terms, tf) in containing {
            *scores.entry(id).or_insert(0.0) += weight * term_weight(tf, terms.length, average);
        }
    }
    best_k(
        scores
            .into_iter()
            .map(|(memory_id, score)| ScoredId { memory_id, score })
            .collect(),
        k,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_keeps_names_numbers_and_rare_words() {
        let terms = Terms::of("When did Maya's pottery classes start? On the 14th, 2025!");
        let kept: Vec<&str> = terms.counts.keys().map(String::as_str).collect();
        assert_eq!(kept, ["14th", "2025", "class", "maya", "pottery", "start"]);
        assert_eq!(terms.length, 6);
        assert_eq!(Terms::of("the class, the CLASS").counts["class"], 2);
        assert!(Terms::of("what is it?").is_empty());
        assert_eq!(Terms::of("Café crème").counts.len(), 2);
    }

    #[test]
    fn the_stopword_list_is_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn plural_folding_is_conservative() {
        for (word, folded) in [
            ("classes", "class"),
            ("boxes", "box"),
            ("cakes", "cake"),
            ("stories", "story"),
            ("cats", "cat"),
            ("bus", "bus"),
            ("glass", "glass"),
            ("toes", "toe"),
            ("is", "is"),
        ] {
            assert_eq!(fold_plural(word.to_owned()), folded, "{word}");
        }
        // Query and memory fold alike, which is all matching needs.
        assert_eq!(Terms::of("class").counts.keys().next().unwrap(), "class");
    }

    #[test]
    fn lexical_ranking_prefers_the_rare_shared_word() {
        let docs: Vec<(Uuid, Terms)> = [
            "Maya started her pottery class in March",
            "Maya went to the market",
            "the class was long and the class was loud",
            "nothing in common here",
        ]
        .iter()
        .map(|text| (Uuid::now_v7(), Terms::of(text)))
        .collect();
        let hits = rank_lexical(
            &Terms::of("When did Maya start pottery?"),
            docs.iter().map(|(id, t)| (*id, t)),
            10,
        );
        assert_eq!(hits[0].memory_id, docs[0].0);
        assert_eq!(hits.len(), 2, "only memories sharing a word come back");
        assert!(rank_lexical(&Terms::default(), docs.iter().map(|(id, t)| (*id, t)), 5).is_empty());
    }

    #[test]
    fn bm25_rewards_rare_terms_and_short_memories() {
        assert!(idf(1000, 1) > idf(1000, 500));
        assert!(idf(1000, 1000) > 0.0);
        assert!(term_weight(1, 5, 10.0) > term_weight(1, 20, 10.0));
        assert!(term_weight(3, 10, 10.0) > term_weight(1, 10, 10.0));
        assert!(term_weight(100, 10, 10.0) < BM25_K1 + 1.0);
    }
}
