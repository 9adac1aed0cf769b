//! Cognition: the cognition model reads recent turns (person by person)
//! and the world events the character perceived, and from its validated
//! answer writes lasting (biographical) facts, deduplicated against what
//! the character knows, and updates relationships and the inner state.

use super::CoreSettings;
use super::support::{
    Embedder, JobQueue, MemoryDraft, MemoryWriter, Recall, RecallQuery, all_sessions,
    require_character,
};
use crate::core::domain::{
    Appraisal, ChangeCause, Character, Counterpart, FactDraft, HistoryEntry, InnerState, Job,
    JobKind, JobStatus, Memory, MemoryKind, MemorySource, Message, Relationship,
    RelationshipUpdate, ScopeFilter, TenantId, cosine_similarity, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{
    Bearing, Cache, CharacterStore, Llm, LlmError, MemoryStore, ReflectRequest, RelationshipView,
    SessionStore, WorldStore,
};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const DUPLICATE_SIMILARITY: f32 = 0.92;
/// How many of the character's latest sessions cognition reads.
const SESSIONS_READ: usize = 3;
/// How many turn memories a fact names as its evidence, at most.
const EVIDENCE_PER_FACT: usize = 3;
/// How many unread world events one reflection reads, at most.
const EVENTS_READ: u32 = 20;

#[derive(Debug)]
pub struct ReflectionOutcome {
    pub created: Vec<Memory>,
    pub duplicates: usize,
    /// Older facts replaced by new ones.
    pub superseded: usize,
    /// Relationships changed (with people and with other characters).
    pub relationships: usize,
    pub state_changed: bool,
    /// Parts of the model's answers left out for breaking the schema.
    pub rejected: Vec<String>,
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
    world: Arc<dyn WorldStore>,
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
        world: Arc<dyn WorldStore>,
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
            world,
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

    /// Queues a reflection unless one ran within the cooldown; what it
    /// would have read stays for the next one. Never fails its caller.
    pub async fn request_soon(&self, tenant: &TenantId, character_id: Uuid) {
        match self.request(tenant, character_id).await {
            Ok(_) | Err(Error::RateLimited { .. }) => {}
            Err(err) => tracing::warn!(error = %err, %character_id, "reflection not queued"),
        }
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
            relationships: 0,
            state_changed: false,
            rejected: Vec::new(),
        };
        for person in self.recent_people(tenant, character_id).await? {
            self.reflect_on(&character, person, &mut outcome).await?;
        }
        self.appraise_events(&character, &mut outcome).await?;
        tracing::info!(
            created = outcome.created.len(),
            duplicates = outcome.duplicates,
            relationships = outcome.relationships,
            state_changed = outcome.state_changed,
            rejected = outcome.rejected.len(),
            "reflection finished"
        );
        Ok(outcome)
    }

    /// The world events the character perceived since it last read them:
    /// the world's facts they teach, feelings toward the characters in
    /// them, and the inner state.
    async fn appraise_events(
        &self,
        character: &Character,
        outcome: &mut ReflectionOutcome,
    ) -> Result<()> {
        let tenant = &character.tenant;
        let mut state = self.state_of(character).await?;
        let events = self
            .world
            .event_memories_since(tenant, character.id, state.events_read_until, EVENTS_READ)
            .await?;
        let Some(last) = events.last() else {
            return Ok(());
        };
        let read_until = last.created_at;
        let known: Vec<Memory> = self
            .memories
            .all_memories(
                tenant,
                character.id,
                Some(MemoryKind::Biographical),
                &ScopeFilter::Any,
            )
            .await?
            .into_iter()
            .filter(|m| m.superseded_by.is_none() && m.user_id.is_none())
            .collect();
        let request = ReflectRequest {
            character_name: character.name.clone(),
            persona: character.persona.clone(),
            user_name: None,
            transcript: Vec::new(),
            known_facts: known.iter().map(|m| (m.id, m.content.clone())).collect(),
            bearing: bearing_of(&state, None),
            events: events
                .iter()
                .map(|m| format!("[{}] {}", m.occurred_at.format("%Y-%m-%d %H:%M"), m.content))
                .collect(),
            repair: None,
            problems: Vec::new(),
        };
        let appraisal = self.appraise(request, outcome).await?;
        self.store_facts(
            character,
            None,
            (&known, &[]),
            appraisal.facts.clone(),
            outcome,
        )
        .await?;
        self.relate_to_characters(character, &appraisal.characters, outcome)
            .await?;
        if let Some(update) = appraisal.state {
            state.apply(update, ChangeCause::Cognition, chrono::Utc::now());
            outcome.state_changed = true;
        }
        state.events_read_until = Some(read_until);
        self.world.put_inner_state(&state).await?;
        Ok(())
    }

    async fn state_of(&self, character: &Character) -> Result<InnerState> {
        Ok(self
            .world
            .get_inner_state(&character.tenant, character.id)
            .await?
            .unwrap_or_else(|| InnerState::blank(character.tenant.clone(), character.id)))
    }

    /// Asks the cognition model, validates its answer against the schema
    /// and, when it fails, asks once to repair it; what still breaks the
    /// schema is left out and logged, never stored.
    async fn appraise(
        &self,
        mut request: ReflectRequest,
        outcome: &mut ReflectionOutcome,
    ) -> Result<Appraisal> {
        let first = self.cognition(&request).await?;
        let parsed = Appraisal::parse(&first);
        if let Some(appraisal) = &parsed
            && appraisal.problems.is_empty()
        {
            return Ok(parsed.unwrap_or_default());
        }
        tracing::info!(
            problems = ?parsed.as_ref().map(|a| &a.problems),
            "cognition answer broke the schema; asking for a repair"
        );
        request.problems = parsed
            .as_ref()
            .map(|a| a.problems.clone())
            .unwrap_or_default();
        request.repair = Some(first);
        let repaired = self.cognition(&request).await?;
        let appraisal = match (Appraisal::parse(&repaired), parsed) {
            (Some(repaired), _) => repaired,
            (None, Some(first)) => first,
            (None, None) => {
                return Err(Error::Llm {
                    source: LlmError::BadResponse(
                        "cognition did not return the JSON asked for, even when asked to repair it"
                            .into(),
                    ),
                    message_id: None,
                });
            }
        };
        if !appraisal.problems.is_empty() {
            tracing::warn!(problems = ?appraisal.problems, "cognition output rejected in part");
            outcome.rejected.extend(appraisal.problems.iter().cloned());
        }
        Ok(appraisal)
    }

    /// Feelings toward other characters, named as the model names them
    /// (the tenant's characters only; unknown names are logged and left).
    async fn relate_to_characters(
        &self,
        character: &Character,
        updates: &[(String, RelationshipUpdate)],
        outcome: &mut ReflectionOutcome,
    ) -> Result<()> {
        let tenant = &character.tenant;
        for (name, update) in updates {
            let Some(other) = self.characters.find_character_by_name(tenant, name).await? else {
                tracing::warn!(name = %name, "cognition named no known character; left out");
                outcome
                    .rejected
                    .push(format!("characters: no character named {name:?}"));
                continue;
            };
            if other.id == character.id {
                continue;
            }
            self.relate(character, Counterpart::Character(other.id), update.clone())
                .await?;
            outcome.relationships += 1;
        }
        Ok(())
    }

    async fn relate(
        &self,
        character: &Character,
        counterpart: Counterpart,
        update: RelationshipUpdate,
    ) -> Result<Relationship> {
        let tenant = &character.tenant;
        let now = chrono::Utc::now();
        let mut relationship = self
            .world
            .get_relationship(tenant, character.id, &counterpart)
            .await?
            .unwrap_or_else(|| Relationship::neutral(tenant.clone(), character.id, counterpart));
        relationship.apply(update, ChangeCause::Cognition, now);
        relationship.last_interaction_at = Some(now);
        self.world.put_relationship(&relationship).await?;
        Ok(relationship)
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
        let mut state = self.state_of(character).await?;
        let counterpart = Counterpart::User(person.user_id.clone());
        let relationship = self
            .world
            .get_relationship(tenant, character.id, &counterpart)
            .await?;
        let request = ReflectRequest {
            character_name: character.name.clone(),
            persona: character.persona.clone(),
            user_name: person.user_name.clone(),
            transcript: person.transcript.clone(),
            known_facts: known.iter().map(|m| (m.id, m.content.clone())).collect(),
            bearing: bearing_of(&state, relationship.as_ref()),
            events: Vec::new(),
            repair: None,
            problems: Vec::new(),
        };
        let appraisal = self.appraise(request, outcome).await?;
        // A person's conversation may update what the character knows of
        // them, never the world's facts everyone else is told.
        let own_ids: Vec<Uuid> = known
            .iter()
            .filter(|m| m.user_id.as_deref() == Some(person.user_id.as_str()))
            .map(|m| m.id)
            .collect();
        self.store_facts(
            character,
            Some((&person.user_id, &person.sessions)),
            (&known, &own_ids),
            appraisal.facts,
            outcome,
        )
        .await?;
        if let Some(update) = appraisal.relationship {
            self.relate(character, counterpart, update).await?;
            outcome.relationships += 1;
        }
        self.relate_to_characters(character, &appraisal.characters, outcome)
            .await?;
        if let Some(update) = appraisal.state {
            state.apply(update, ChangeCause::Cognition, chrono::Utc::now());
            self.world.put_inner_state(&state).await?;
            outcome.state_changed = true;
        }
        Ok(())
    }

    /// Stores the new facts, as the person's (with the turns they rest on)
    /// or, without a person, as the world's; skips ones already known and
    /// marks the known facts they supersede (only `replaceable` ones).
    async fn store_facts(
        &self,
        character: &Character,
        person: Option<(&String, &Vec<Uuid>)>,
        (known, replaceable): (&[Memory], &[Uuid]),
        facts: Vec<FactDraft>,
        outcome: &mut ReflectionOutcome,
    ) -> Result<()> {
        let tenant = &character.tenant;
        let mut known_vectors: Vec<(String, Vec<f32>)> = known
            .iter()
            .map(|m| (normalise(&m.content), m.embedding.clone()))
            .collect();
        for fact in facts {
            let content = fact.content;
            let embedding = self.embedder.embed_one(&content).await?;
            let normalised = normalise(&content);
            if known_vectors.iter().any(|(text, vector)| {
                *text == normalised || cosine_similarity(vector, &embedding) >= DUPLICATE_SIMILARITY
            }) {
                outcome.duplicates += 1;
                continue;
            }
            let evidence = match person {
                Some((user_id, sessions)) => {
                    self.evidence(
                        tenant,
                        character.id,
                        (user_id, sessions),
                        &content,
                        &embedding,
                    )
                    .await
                }
                None => Vec::new(),
            };
            let memory = self
                .writer
                .form(MemoryDraft {
                    tenant: tenant.clone(),
                    character_id: character.id,
                    kind: MemoryKind::Biographical,
                    source: MemorySource::Reflection,
                    content,
                    importance: fact.importance.value(),
                    session_id: None,
                    user_id: person.map(|(user_id, _)| user_id.clone()),
                    created_at: None,
                    occurred_at: None,
                    embedding: Some(embedding),
                    evidence,
                    event_id: None,
                })
                .await?;
            if let Some(old) = fact.supersedes.filter(|id| replaceable.contains(id))
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

/// What the model reads of where the character stands.
fn bearing_of(state: &InnerState, relationship: Option<&Relationship>) -> Bearing {
    Bearing {
        mood: Some(state.mood.clone()).filter(|m| !m.is_empty()),
        goals: state.goals.clone(),
        relationship: relationship.map(|r| RelationshipView {
            affinity: r.affinity,
            trust: r.trust,
            note: r.note.clone(),
        }),
    }
}
