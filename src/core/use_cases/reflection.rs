//! Cognition: the cognition model reads recent turns and writes lasting
//! (biographical) facts, deduplicated against what the character knows.

use super::Core;
use crate::core::domain::{
    Importance, Memory, MemoryContent, MemoryKind, MemorySource, PageRequest, TenantId,
    cosine_similarity, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{LlmError, ReflectRequest};
use serde::Deserialize;
use uuid::Uuid;

/// Facts this similar to a known one are duplicates.
const DUPLICATE_SIMILARITY: f32 = 0.92;
/// How many of the character's latest sessions cognition reads.
const SESSIONS_READ: usize = 3;

#[derive(Debug)]
pub struct ReflectionOutcome {
    pub created: Vec<Memory>,
    pub duplicates: usize,
    /// Older facts replaced by new ones.
    pub superseded: usize,
}

#[derive(Deserialize)]
struct ExtractedFacts {
    facts: Vec<ExtractedFact>,
}

#[derive(Deserialize)]
struct ExtractedFact {
    content: String,
    importance: Option<f64>,
    /// Id of a known fact this one updates.
    supersedes: Option<String>,
}

/// Accepts JSON alone, in a code fence, or inside prose.
fn parse_facts(text: &str) -> Option<ExtractedFacts> {
    if let Ok(facts) = serde_json::from_str(text.trim()) {
        return Some(facts);
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Core {
    /// Runs cognition for a character now (the job worker calls this).
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn run_reflection(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<ReflectionOutcome> {
        let character = self.require_character(tenant, character_id).await?;
        let (transcript, user_name) = self.recent_transcript(tenant, character_id).await?;
        let known = self
            .store
            .all_memories(tenant, character_id, Some(MemoryKind::Biographical))
            .await?;
        // Superseded facts are history: neither shown to the model nor deduplicated against.
        let known: Vec<Memory> = known
            .into_iter()
            .filter(|m| m.superseded_by.is_none())
            .collect();
        let mut request = ReflectRequest {
            character_name: character.name.clone(),
            persona: character.persona.clone(),
            user_name,
            transcript,
            known_facts: known.iter().map(|m| (m.id, m.content.clone())).collect(),
            repair: None,
        };
        let first = self.cognition(&request).await?;
        let facts = match parse_facts(&first) {
            Some(facts) => facts,
            None => {
                // Real models sometimes wrap or mangle JSON: ask once to repair it.
                tracing::info!("cognition answer was not the facts JSON; asking for a repair");
                request.repair = Some(first);
                let repaired = self.cognition(&request).await?;
                parse_facts(&repaired).ok_or_else(|| Error::Llm {
                    source: LlmError::BadResponse(
                        "cognition did not return the facts JSON, even when asked to repair it"
                            .into(),
                    ),
                    message_id: None,
                })?
            }
        };

        let known_ids: Vec<Uuid> = known.iter().map(|m| m.id).collect();
        let mut known_vectors: Vec<(String, Vec<f32>)> = known
            .into_iter()
            .map(|m| (normalise(&m.content), m.embedding))
            .collect();
        let mut outcome = ReflectionOutcome {
            created: Vec::new(),
            duplicates: 0,
            superseded: 0,
        };
        for fact in facts.facts {
            let Ok(content) = MemoryContent::parse("content", &fact.content) else {
                continue;
            };
            let content = content.into_inner();
            let embedding = self.embed_one(&content).await?;
            let normalised = normalise(&content);
            if known_vectors.iter().any(|(text, vector)| {
                *text == normalised || cosine_similarity(vector, &embedding) >= DUPLICATE_SIMILARITY
            }) {
                outcome.duplicates += 1;
                continue;
            }
            let importance = fact
                .importance
                .and_then(|i| Importance::parse(i).ok())
                .unwrap_or(Importance::DEFAULT);
            let memory = Memory {
                id: new_id(),
                tenant: tenant.clone(),
                character_id,
                kind: MemoryKind::Biographical,
                source: MemorySource::Reflection,
                content,
                importance: importance.value(),
                session_id: None,
                embedding,
                embedding_model: self.embedding_model(),
                superseded_by: None,
                created_at: chrono::Utc::now(),
            };
            self.store.insert_memory(&memory).await?;
            self.index(&memory).await;
            if let Some(old) = fact
                .supersedes
                .as_deref()
                .and_then(|id| Uuid::parse_str(id.trim()).ok())
                .filter(|id| known_ids.contains(id))
                && self.store.supersede_memory(tenant, old, memory.id).await?
            {
                tracing::info!(old = %old, new = %memory.id, "fact superseded");
                outcome.superseded += 1;
            }
            known_vectors.push((normalised, memory.embedding.clone()));
            outcome.created.push(memory);
        }
        tracing::info!(
            created = outcome.created.len(),
            duplicates = outcome.duplicates,
            "reflection finished"
        );
        Ok(outcome)
    }

    /// One cognition call; its text.
    async fn cognition(&self, request: &ReflectRequest) -> Result<String> {
        let completion = self
            .llm
            .reflect(request)
            .await
            .map_err(|source| Error::Llm {
                source,
                message_id: None,
            })?;
        Ok(completion.text)
    }

    /// Recent messages of the character's latest sessions, oldest first,
    /// and the user name of the latest session.
    async fn recent_transcript(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(Vec<(crate::core::domain::Role, String)>, Option<String>)> {
        let mut sessions = Vec::new();
        let mut page = PageRequest::parse(Some(100), None)?;
        loop {
            let rows = self
                .store
                .list_sessions(tenant, character_id, &page)
                .await?;
            let more = rows.len() >= page.fetch_limit();
            page.after = rows.last().map(|s| s.id);
            sessions.extend(rows.into_iter().take(page.limit as usize));
            if !more {
                break;
            }
        }
        let mut messages = Vec::new();
        for session in sessions.iter().rev().take(SESSIONS_READ) {
            messages.extend(
                self.store
                    .recent_messages(tenant, session.id, self.settings.history_turns)
                    .await?,
            );
        }
        messages.sort_by_key(|m| m.id);
        let user_name = sessions.last().and_then(|s| s.user_name.clone());
        Ok((
            messages.into_iter().map(|m| (m.role, m.content)).collect(),
            user_name,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_found_in_fences_and_prose() {
        let fenced = "```json\n{\"facts\":[{\"content\":\"Sam sails\"}]}\n```";
        assert_eq!(parse_facts(fenced).unwrap().facts[0].content, "Sam sails");
        let prose = "Sure! Here you go: {\"facts\": []} Hope it helps.";
        assert!(parse_facts(prose).unwrap().facts.is_empty());
        assert!(parse_facts("no json here").is_none());
    }
}
