//! Cognition: the cognition model reads recent turns and writes lasting
//! (biographical) facts, deduplicated against what the character knows.

use super::CoreSettings;
use super::support::{
    Embedder, JobQueue, MemoryDraft, MemoryWriter, Recall, RecallQuery, all_sessions,
    require_character,
};
use crate::core::domain::{
    Character, HistoryEntry, Importance, Job, JobKind, JobStatus, Memory, MemoryContent,
    MemoryKind, MemorySource, Message, ScopeFilter, TenantId, cosine_similarity, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{
    Cache, CharacterStore, Llm, LlmError, MemoryStore, ReflectRequest, SessionStore,
};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const DUPLICATE_SIMILARITY: f32 = 0.92;
/// How many of the character's latest sessions cognition reads.
const SESSIONS_READ: usize = 3;
/// How many turn memories a fact names as its evidence, at most.
const EVIDENCE_PER_FACT: usize = 3;

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

fn cooldown_key(character_id: Uuid) -> String {
    format!("cooldown:reflect:{character_id}")
}

#[derive(Clone)]
pub struct Reflection {
    characters: Arc<dyn CharacterStore>,
    sessions: Arc<dyn SessionStore>,
    memories: Arc<dyn MemoryStore>,
    cache: Arc<dyn Cache>,
    llm: Arc<dyn Llm>,
    embedder: Embedder,
    writer: MemoryWriter,
    recall: Recall,
    queue: JobQueue,
    settings: CoreSettings,
}

impl Reflection {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        characters: Arc<dyn CharacterStore>,
        sessions: Arc<dyn SessionStore>,
        memories: Arc<dyn MemoryStore>,
        cache: Arc<dyn Cache>,
        llm: Arc<dyn Llm>,
        embedder: Embedder,
        writer: MemoryWriter,
        recall: Recall,
        queue: JobQueue,
        settings: CoreSettings,
    ) -> Self {
        Self {
            characters,
            sessions,
            memories,
            cache,
            llm,
            embedder,
            writer,
            recall,
            queue,
            settings,
        }
    }

    /// Queues a reflection unless this character reflected within the
    /// cooldown (shared through the cache, so one replica of many does it).
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn request(&self, tenant: &TenantId, character_id: Uuid) -> Result<Job> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        let cooldown = self.settings.cognition_cooldown;
        let until = chrono::Utc::now().timestamp() + cooldown.as_secs() as i64;
        let key = cooldown_key(character_id);
        match self
            .cache
            .set_if_absent(&key, &until.to_string(), cooldown)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let ends = self
                    .cache
                    .get(&key)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(until);
                let left = (ends - chrono::Utc::now().timestamp()).max(1) as u64;
                return Err(Error::RateLimited {
                    what: "this character reflected recently",
                    retry_after: Duration::from_secs(left),
                });
            }
            Err(err) => tracing::warn!(error = %err, "cooldown unavailable; reflecting anyway"),
        }
        let now = chrono::Utc::now();
        let job = Job {
            id: new_id(),
            tenant: tenant.clone(),
            kind: JobKind::Reflect,
            character_id,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: super::MAX_ATTEMPTS,
            run_at: now,
            locked_until: None,
            last_error: None,
            result: None,
            created_at: now,
            updated_at: now,
        };
        self.queue.enqueue(&job).await?;
        tracing::info!(job_id = %job.id, "reflection queued");
        Ok(job)
    }

    /// Reads the character's recent sessions and, person by person, stores
    /// the lasting facts the cognition model finds, as that person's (never
    /// merging two people), skipping ones the character already knows.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn run(&self, tenant: &TenantId, character_id: Uuid) -> Result<ReflectionOutcome> {
        let character = require_character(self.characters.as_ref(), tenant, character_id).await?;
        let mut outcome = ReflectionOutcome {
            created: Vec::new(),
            duplicates: 0,
            superseded: 0,
        };
        for person in self.recent_people(tenant, character_id).await? {
            self.reflect_on(&character, person, &mut outcome).await?;
        }
        tracing::info!(
            created = outcome.created.len(),
            duplicates = outcome.duplicates,
            "reflection finished"
        );
        Ok(outcome)
    }

    /// One person's facts: read against what the character knows of the
    /// world and of them; written as theirs.
    async fn reflect_on(
        &self,
        character: &Character,
        person: PersonTranscript,
        outcome: &mut ReflectionOutcome,
    ) -> Result<()> {
        let tenant = &character.tenant;
        let scope = ScopeFilter::Person(person.user_id.clone());
        let known: Vec<Memory> = self
            .memories
            .all_memories(tenant, character.id, Some(MemoryKind::Biographical), &scope)
            .await?
            .into_iter()
            .filter(|m| m.superseded_by.is_none())
            .collect();
        let mut request = ReflectRequest {
            character_name: character.name.clone(),
            persona: character.persona.clone(),
            user_name: person.user_name,
            transcript: person.transcript,
            known_facts: known.iter().map(|m| (m.id, m.content.clone())).collect(),
            repair: None,
        };
        let first = self.cognition(&request).await?;
        let facts = match parse_facts(&first) {
            Some(facts) => facts,
            None => {
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

        // A person's conversation may update what the character knows of
        // them, never the world's facts everyone else is told.
        let own_ids: Vec<Uuid> = known
            .iter()
            .filter(|m| m.user_id.as_deref() == Some(person.user_id.as_str()))
            .map(|m| m.id)
            .collect();
        let mut known_vectors: Vec<(String, Vec<f32>)> = known
            .into_iter()
            .map(|m| (normalise(&m.content), m.embedding))
            .collect();
        for fact in facts.facts {
            let Ok(content) = MemoryContent::parse("content", &fact.content) else {
                continue;
            };
            let content = content.into_inner();
            let embedding = self.embedder.embed_one(&content).await?;
            let normalised = normalise(&content);
            if known_vectors.iter().any(|(text, vector)| {
                *text == normalised || cosine_similarity(vector, &embedding) >= DUPLICATE_SIMILARITY
            }) {
                outcome.duplicates += 1;
                continue;
            }
            let evidence = self
                .evidence(
                    tenant,
                    character.id,
                    (&person.user_id, &person.sessions),
                    &content,
                    &embedding,
                )
                .await;
            let importance = fact
                .importance
                .and_then(|i| Importance::parse(i).ok())
                .unwrap_or(Importance::DEFAULT);
            let memory = self
                .writer
                .form(MemoryDraft {
                    tenant: tenant.clone(),
                    character_id: character.id,
                    kind: MemoryKind::Biographical,
                    source: MemorySource::Reflection,
                    content,
                    importance: importance.value(),
                    session_id: None,
                    user_id: Some(person.user_id.clone()),
                    created_at: None,
                    embedding: Some(embedding),
                    evidence,
                })
                .await?;
            if let Some(old) = fact
                .supersedes
                .as_deref()
                .and_then(|id| Uuid::parse_str(id.trim()).ok())
                .filter(|id| own_ids.contains(id))
                && self
                    .memories
                    .supersede_memory(tenant, old, memory.id)
                    .await?
            {
                tracing::info!(old = %old, new = %memory.id, "fact superseded");
                outcome.superseded += 1;
            }
            known_vectors.push((normalised, memory.embedding.clone()));
            outcome.created.push(memory);
        }
        Ok(())
    }

    /// The turns a fact rests on: the person's turn memories from the
    /// sessions read that the same hybrid search ranks first for it.
    /// Evidence is a pointer for people reading the fact; failing to find
    /// it never fails the reflection.
    async fn evidence(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        (person, sessions): (&str, &[Uuid]),
        fact: &str,
        embedding: &[f32],
    ) -> Vec<Uuid> {
        let query = RecallQuery {
            k: EVIDENCE_PER_FACT * 4,
            kind: Some(MemoryKind::Episodic),
            scope: ScopeFilter::Person(person.to_owned()),
            ..RecallQuery::default()
        };
        match self
            .recall
            .search_embedded(tenant, character_id, fact, Some(embedding.to_vec()), &query)
            .await
        {
            Ok(outcome) => outcome
                .hits
                .into_iter()
                .filter(|hit| {
                    hit.memory.user_id.as_deref() == Some(person)
                        && hit.memory.session_id.is_some_and(|s| sessions.contains(&s))
                })
                .take(EVIDENCE_PER_FACT)
                .map(|hit| hit.memory.id)
                .collect(),
            Err(err) => {
                tracing::warn!(error = %err, "no evidence found for a fact");
                Vec::new()
            }
        }
    }

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

    /// The people of the character's latest sessions, each with the
    /// recent messages of their own sessions only; the most recent first.
    async fn recent_people(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<Vec<PersonTranscript>> {
        let sessions = all_sessions(self.sessions.as_ref(), tenant, character_id).await?;
        let mut people: Vec<PersonTranscript> = Vec::new();
        for session in sessions.iter().rev().take(SESSIONS_READ) {
            let messages = self
                .sessions
                .recent_messages(tenant, session.id, self.settings.history_turns)
                .await?;
            let index = match people.iter().position(|p| p.user_id == session.user_id) {
                Some(index) => index,
                None => {
                    people.push(PersonTranscript {
                        user_id: session.user_id.clone(),
                        // The newest session's display name.
                        user_name: session.user_name.clone(),
                        transcript: Vec::new(),
                        last: Vec::new(),
                        sessions: Vec::new(),
                    });
                    people.len() - 1
                }
            };
            people[index].last.extend(messages);
            people[index].sessions.push(session.id);
        }
        for person in &mut people {
            person.last.sort_by_key(|m| m.id);
            person.transcript = std::mem::take(&mut person.last)
                .into_iter()
                .map(|m| HistoryEntry::new(m.role, m.content))
                .collect();
        }
        people.retain(|p| !p.transcript.is_empty());
        Ok(people)
    }
}

/// What one person said with the character lately.
struct PersonTranscript {
    user_id: String,
    user_name: Option<String>,
    transcript: Vec<HistoryEntry>,
    /// Their messages while being gathered.
    last: Vec<Message>,
    /// The sessions read.
    sessions: Vec<Uuid>,
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
