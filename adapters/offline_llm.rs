//! Offline `Llm`: deterministic replies, cognition JSON and embeddings with
//! no network, so the whole product runs (and is tested) without a provider.
//! Embeddings hash word features, so memory search finds lexical overlap.

use crate::core::domain::{Role, Usage};
use crate::core::ports::{
    ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest, RenderRequest,
    StreamChunk,
};
use async_trait::async_trait;
use futures_util::StreamExt;

pub const OFFLINE_MODEL: &str = "virlife-offline";

const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "yours", "with", "this", "that",
    "was", "were", "have", "has", "had", "what", "when", "where", "who", "why", "how", "from",
    "they", "them", "their", "our", "ours", "its", "it's", "can", "could", "would", "should",
    "will", "did", "does", "doe", "about", "into", "than", "then", "there", "here", "just", "all",
    "any", "some", "very", "too", "also", "out", "off", "over", "under", "again", "said", "say",
    "says", "tell", "told", "remember",
];

pub struct OfflineLlm {
    dimensions: usize,
}

impl OfflineLlm {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions: dimensions.max(8),
        }
    }

    fn reply_text(request: &RenderRequest) -> String {
        let reactions = [
            "that stirs something in me",
            "I have been thinking about that too",
            "now that is worth pondering",
            "you always find the interesting questions",
        ];
        let reaction =
            reactions[(fnv1a(request.message.as_bytes()) % reactions.len() as u64) as usize];
        let listener = match &request.user_name {
            Some(name) => format!("{} turns to {name}.", request.character_name),
            None => format!("{} turns to you.", request.character_name),
        };
        let mut reply = format!(
            "{listener} You said \"{}\" and {reaction}.",
            snippet(&request.message, 160)
        );
        if let Some(memory) = request.memories.first() {
            // A turn memory's first line is what the user said; that is what to recall.
            let gist = memory.lines().next().unwrap_or(memory);
            reply.push_str(&format!(
                " I remember: {}.",
                snippet(gist, 200).trim_end_matches('.')
            ));
        }
        let persona = first_sentence(&request.persona);
        reply.push_str(&format!(
            " Speaking as {}, I will keep that in mind.",
            snippet(persona, 120).trim_end_matches('.')
        ));
        reply
    }
}

/// The offline embedding: hashed word features, unit length, so texts that
/// share words are close. Also what the test and benchmark mock providers serve.
pub fn hashed_embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let dimensions = dimensions.max(1);
    let mut vector = vec![0.0f32; dimensions];
    for token in tokens(text) {
        let hash = fnv1a(token.as_bytes());
        let index = (hash % dimensions as u64) as usize;
        let sign = if (hash >> 63) == 0 { 1.0 } else { -1.0 };
        vector[index] += sign;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn word_count(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

fn prompt_tokens(request: &RenderRequest) -> u32 {
    word_count(&request.persona)
        + word_count(&request.message)
        + request.memories.iter().map(|m| word_count(m)).sum::<u32>()
        + request
            .history
            .iter()
            .map(|e| word_count(&e.content))
            .sum::<u32>()
}

fn snippet(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{}…", cut.trim_end())
}

fn first_sentence(text: &str) -> &str {
    let end = text
        .find(['.', '!', '?', '\n'])
        .map(|i| i + 1)
        .unwrap_or(text.len());
    text[..end].trim()
}

/// Lower-cased words of 3+ letters without stop words, lightly stemmed so
/// "loves", "loved" and "love" meet.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| {
            let mut stem = w.as_str();
            for suffix in ["ing", "ed", "es", "s"] {
                if let Some(rest) = stem.strip_suffix(suffix)
                    && rest.chars().count() >= 3
                {
                    stem = rest;
                    break;
                }
            }
            if stem.chars().count() > 3 {
                stem = stem.strip_suffix('e').unwrap_or(stem);
            }
            stem.to_owned()
        })
}

/// A known fact that starts with the same five words but says something
/// else ("Sam said: my favourite colour is ...") is the one this updates.
fn supersedes(fact: &str, known: &[(uuid::Uuid, String)]) -> Option<String> {
    let head = |text: &str| {
        text.to_lowercase()
            .split_whitespace()
            .take(5)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let fact_head = head(fact);
    known
        .iter()
        .find(|(_, old)| {
            old != fact && fact.split_whitespace().count() > 5 && head(old) == fact_head
        })
        .map(|(id, _)| id.to_string())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// First-person statements of the user become facts about them.
fn extract_facts(request: &ReflectRequest) -> Vec<String> {
    let who = request.user_name.as_deref().unwrap_or("The user");
    let cues = [
        "my ", "i am ", "i'm ", "i like", "i love", "i live", "i work", "i have",
    ];
    let mut facts = Vec::new();
    for entry in &request.transcript {
        let text = &entry.content;
        if entry.role != Role::User {
            continue;
        }
        for sentence in text.split_inclusive(['.', '!', '?', '\n']) {
            // Questions state nothing about the user.
            if sentence.trim_end().ends_with('?') {
                continue;
            }
            let sentence = sentence.trim().trim_end_matches(['.', '!']);
            let lower = format!("{} ", sentence.to_lowercase());
            if sentence.len() >= 8
                && cues
                    .iter()
                    .any(|cue| lower.starts_with(cue) || lower.contains(&format!(" {cue}")))
            {
                let fact = format!("{who} said: \"{}\"", snippet(sentence, 300));
                // Known facts are repeated on purpose: deduplication is the core's job.
                if !facts.contains(&fact) {
                    facts.push(fact);
                }
            }
        }
    }
    facts
}

#[async_trait]
impl Llm for OfflineLlm {
    fn describe(&self) -> LlmDescription {
        LlmDescription {
            kind: "offline",
            renderer_model: OFFLINE_MODEL.into(),
            cognition_model: OFFLINE_MODEL.into(),
            embedding_model: format!("{OFFLINE_MODEL}-hashed-words"),
            dimensions: self.dimensions,
        }
    }

    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        let text = Self::reply_text(request);
        let usage = Usage {
            prompt_tokens: prompt_tokens(request),
            completion_tokens: word_count(&text),
        };
        Ok(Completion {
            text,
            usage,
            model: OFFLINE_MODEL.into(),
        })
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        let completion = self.render(request).await?;
        // One delta per word (with its trailing space), as a token stream would arrive.
        let mut chunks: Vec<Result<StreamChunk, LlmError>> = completion
            .text
            .split_inclusive(' ')
            .map(|piece| Ok(StreamChunk::Delta(piece.to_owned())))
            .collect();
        chunks.push(Ok(StreamChunk::Usage(completion.usage)));
        Ok(futures_util::stream::iter(chunks).boxed())
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        let facts: Vec<serde_json::Value> = extract_facts(request)
            .into_iter()
            .map(|content| {
                let supersedes = supersedes(&content, &request.known_facts);
                serde_json::json!({"content": content, "importance": 0.6, "supersedes": supersedes})
            })
            .collect();
        let text = serde_json::json!({ "facts": facts }).to_string();
        Ok(Completion {
            usage: Usage {
                prompt_tokens: request
                    .transcript
                    .iter()
                    .map(|e| word_count(&e.content))
                    .sum(),
                completion_tokens: word_count(&text),
            },
            text,
            model: OFFLINE_MODEL.into(),
        })
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        Ok(texts
            .iter()
            .map(|t| hashed_embedding(t, self.dimensions))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::{HistoryEntry, cosine_similarity};

    fn request(message: &str, memories: &[&str]) -> RenderRequest {
        RenderRequest {
            character_name: "Ada".into(),
            persona: "A retired sea captain. She loves storms.".into(),
            traits: Default::default(),
            user_name: Some("Sam".into()),
            memories: memories.iter().map(|m| m.to_string()).collect(),
            history: vec![],
            message: message.into(),
            bearing: Default::default(),
        }
    }

    #[tokio::test]
    async fn replies_are_deterministic_and_use_persona_message_and_memory() {
        let llm = OfflineLlm::new(64);
        let req = request("Do you like boats?", &["Sam loves sailing"]);
        let a = llm.render(&req).await.unwrap();
        let b = llm.render(&req).await.unwrap();
        assert_eq!(a, b);
        assert!(a.text.contains("Do you like boats?"));
        assert!(a.text.contains("I remember: Sam loves sailing"));
        assert!(a.text.contains("A retired sea captain"));
    }

    #[tokio::test]
    async fn streamed_deltas_concatenate_to_the_plain_reply() {
        let llm = OfflineLlm::new(64);
        let req = request("Hello there", &[]);
        let plain = llm.render(&req).await.unwrap().text;
        let chunks: Vec<_> = llm.render_stream(&req).await.unwrap().collect().await;
        let text: String = chunks
            .iter()
            .filter_map(|c| match c {
                Ok(StreamChunk::Delta(d)) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        assert!(chunks.len() > 3);
        assert_eq!(text, plain);
    }

    #[tokio::test]
    async fn embeddings_reward_shared_words() {
        let llm = OfflineLlm::new(256);
        let texts: Vec<String> = [
            "I love sailing boats",
            "She loved the sailing trip",
            "Taxes are due",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let v = llm.embed(&texts).await.unwrap();
        assert_eq!(v[0].len(), 256);
        assert!(cosine_similarity(&v[0], &v[1]) > 0.3);
        assert!(cosine_similarity(&v[0], &v[2]) < 0.1);
    }

    #[tokio::test]
    async fn cognition_returns_json_facts_from_first_person_statements() {
        let llm = OfflineLlm::new(8);
        let req = ReflectRequest {
            character_name: "Ada".into(),
            persona: "p".into(),
            user_name: Some("Sam".into()),
            transcript: vec![
                HistoryEntry::new(Role::User, "Hi. My favourite colour is green. Nice day"),
                HistoryEntry::new(Role::Character, "My ship is red."),
            ],
            known_facts: vec![],
            bearing: Default::default(),
            events: vec![],
            repair: None,
            problems: vec![],
        };
        let out = llm.reflect(&req).await.unwrap();
        let json: serde_json::Value = serde_json::from_str(&out.text).unwrap();
        let facts = json["facts"].as_array().unwrap();
        assert_eq!(facts.len(), 1);
        assert!(
            facts[0]["content"]
                .as_str()
                .unwrap()
                .contains("favourite colour is green")
        );
    }
}
