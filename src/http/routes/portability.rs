//! Characters travel: export, import, and import of a TavernCard V2
//! character card (the format character front ends share).

use super::ApiTags;
use crate::core::domain::{
    CharacterName, Importance, InvalidInput, MemoryContent, MemoryKind, MemorySource,
    MessageContent, Persona, Role, SessionMetadata, Traits, UserId, UserName,
};
use crate::core::use_cases::{
    CharacterExport, CharacterImport, ImportedMemory, ImportedMessage, ImportedSession,
    MAX_IMPORTED_MEMORIES, MAX_IMPORTED_MESSAGES, MAX_IMPORTED_SESSIONS,
};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::{CharacterDto, MemoryKindDto, MemorySourceDto, RoleDto};
use crate::http::problem::ApiError;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

const FORMAT: &str = "virlife.character.v1";

fn source_of(source: MemorySourceDto) -> MemorySource {
    match source {
        MemorySourceDto::Manual => MemorySource::Manual,
        MemorySourceDto::Chat => MemorySource::Chat,
        MemorySourceDto::Event => MemorySource::Event,
        MemorySourceDto::Reflection => MemorySource::Reflection,
    }
}

#[derive(Debug, Object)]
pub struct PortableCharacter {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub persona: String,
    #[oai(skip_serializing_if_is_none)]
    pub traits: Option<serde_json::Value>,
}

#[derive(Debug, Object)]
pub struct PortableMemory {
    pub kind: MemoryKindDto,
    #[oai(skip_serializing_if_is_none)]
    pub source: Option<MemorySourceDto>,
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub content: String,
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "0"), maximum(value = "1"))
    )]
    pub importance: Option<f64>,
    /// The person it belongs to; absent for the world's.
    #[oai(
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 128)
    )]
    pub user_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Object)]
pub struct PortableMessage {
    pub role: RoleDto,
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub content: String,
    #[oai(skip_serializing_if_is_none)]
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Object)]
pub struct PortableSession {
    #[oai(
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 128)
    )]
    pub user_id: Option<String>,
    #[oai(
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 100)
    )]
    pub user_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub metadata: Option<serde_json::Value>,
    #[oai(skip_serializing_if_is_none)]
    pub created_at: Option<DateTime<Utc>>,
    pub messages: Vec<PortableMessage>,
}

/// A character with its memories (and sessions, if exported with them):
/// what export writes and import reads.
#[derive(Debug, Object)]
pub struct CharacterArchive {
    /// `virlife.character.v1`.
    pub format: String,
    pub character: PortableCharacter,
    pub memories: Vec<PortableMemory>,
    #[oai(skip_serializing_if_is_none)]
    pub sessions: Option<Vec<PortableSession>>,
}

/// The `data` of a TavernCard V2 (`spec: chara_card_v2`); other fields
/// are accepted and ignored.
#[derive(Debug, Object)]
pub struct TavernCardData {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub personality: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub scenario: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub first_mes: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub mes_example: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub creator_notes: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Object)]
pub struct TavernCard {
    /// `chara_card_v2`.
    pub spec: String,
    #[oai(skip_serializing_if_is_none)]
    pub spec_version: Option<String>,
    pub data: TavernCardData,
}

#[derive(ApiResponse)]
pub enum Imported {
    /// The character, with its memories and sessions stored.
    #[oai(status = 201)]
    Created(Json<CharacterDto>),
}

fn archive_of(export: CharacterExport) -> CharacterArchive {
    let c = export.character;
    CharacterArchive {
        format: FORMAT.into(),
        character: PortableCharacter {
            name: c.name,
            persona: c.persona,
            traits: Some(serde_json::Value::Object(c.traits)),
        },
        memories: export
            .memories
            .into_iter()
            // A superseded fact stays behind: the newer one travels.
            .filter(|m| m.superseded_by.is_none())
            .map(|m| PortableMemory {
                kind: m.kind.into(),
                source: Some(m.source.into()),
                content: m.content,
                importance: Some(f64::from(m.importance)),
                user_id: m.user_id,
                created_at: Some(m.created_at),
            })
            .collect(),
        sessions: export.sessions.map(|sessions| {
            sessions
                .into_iter()
                .map(|(s, messages)| PortableSession {
                    user_id: Some(s.user_id),
                    user_name: s.user_name,
                    metadata: Some(serde_json::Value::Object(s.metadata)),
                    created_at: Some(s.created_at),
                    messages: messages
                        .into_iter()
                        .map(|m| PortableMessage {
                            role: m.role.into(),
                            content: m.content,
                            created_at: Some(m.created_at),
                        })
                        .collect(),
                })
                .collect()
        }),
    }
}

fn user(value: Option<&str>) -> std::result::Result<Option<UserId>, InvalidInput> {
    value.map(|u| UserId::parse("user_id", u)).transpose()
}

fn import_of(archive: CharacterArchive) -> std::result::Result<CharacterImport, InvalidInput> {
    if archive.format != FORMAT {
        return Err(InvalidInput::new("format", format!("must be `{FORMAT}`")));
    }
    let sessions = archive.sessions.unwrap_or_default();
    if archive.memories.len() > MAX_IMPORTED_MEMORIES {
        return Err(InvalidInput::new(
            "memories",
            format!("at most {MAX_IMPORTED_MEMORIES} per import"),
        ));
    }
    if sessions.len() > MAX_IMPORTED_SESSIONS
        || sessions.iter().map(|s| s.messages.len()).sum::<usize>() > MAX_IMPORTED_MESSAGES
    {
        return Err(InvalidInput::new(
            "sessions",
            format!(
                "at most {MAX_IMPORTED_SESSIONS} sessions and {MAX_IMPORTED_MESSAGES} messages per import"
            ),
        ));
    }
    let memories = archive
        .memories
        .into_iter()
        .map(|m| {
            Ok(ImportedMemory {
                kind: m.kind.into(),
                source: m.source.map_or(MemorySource::Manual, source_of),
                content: MemoryContent::parse("content", &m.content)?,
                importance: m
                    .importance
                    .map(Importance::parse)
                    .transpose()?
                    .unwrap_or(Importance::DEFAULT),
                user_id: user(m.user_id.as_deref())?,
                created_at: m.created_at,
            })
        })
        .collect::<std::result::Result<Vec<_>, InvalidInput>>()?;
    let sessions = sessions
        .into_iter()
        .map(|s| {
            let metadata = SessionMetadata::parse(s.metadata)?.into_inner();
            Ok(ImportedSession {
                user_id: user(s.user_id.as_deref())?,
                user_name: s.user_name.as_deref().map(UserName::parse).transpose()?,
                metadata,
                created_at: s.created_at,
                messages: s
                    .messages
                    .into_iter()
                    .map(|m| {
                        Ok(ImportedMessage {
                            role: match m.role {
                                RoleDto::User => Role::User,
                                RoleDto::Character => Role::Character,
                            },
                            content: MessageContent::parse(&m.content)?,
                            created_at: m.created_at,
                        })
                    })
                    .collect::<std::result::Result<Vec<_>, InvalidInput>>()?,
            })
        })
        .collect::<std::result::Result<Vec<_>, InvalidInput>>()?;
    Ok(CharacterImport {
        name: CharacterName::parse(&archive.character.name)?,
        persona: Persona::parse(&archive.character.persona)?,
        traits: archive.character.traits.map(Traits::parse).transpose()?,
        memories,
        sessions,
    })
}

/// A card's fields, with its `{{char}}` placeholder filled in.
fn card_text(value: Option<&str>, name: &str) -> Option<String> {
    let text = value?.trim();
    (!text.is_empty()).then(|| {
        text.replace("{{char}}", name)
            .replace("{{user}}", "the user")
    })
}

fn import_of_card(card: TavernCard) -> std::result::Result<CharacterImport, InvalidInput> {
    if card.spec != "chara_card_v2" {
        return Err(InvalidInput::new("spec", "must be `chara_card_v2`"));
    }
    let data = card.data;
    let name = data.name.trim().to_owned();
    let persona: Vec<String> = [
        card_text(data.description.as_deref(), &name),
        card_text(data.personality.as_deref(), &name).map(|p| format!("Personality: {p}")),
        card_text(data.scenario.as_deref(), &name).map(|s| format!("Scenario: {s}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if persona.is_empty() {
        return Err(InvalidInput::new(
            "data",
            "needs a description, personality or scenario to make a persona",
        ));
    }
    let mut persona = persona.join("\n\n");
    if persona.chars().count() > 8000 {
        persona = persona.chars().take(8000).collect();
    }
    let memory = |kind, content: String| -> std::result::Result<ImportedMemory, InvalidInput> {
        Ok(ImportedMemory {
            kind,
            source: MemorySource::Manual,
            content: MemoryContent::parse("data", &content.chars().take(8000).collect::<String>())?,
            importance: Importance::DEFAULT,
            user_id: None,
            created_at: None,
        })
    };
    let mut memories = Vec::new();
    if let Some(first) = card_text(data.first_mes.as_deref(), &name) {
        memories.push(memory(
            MemoryKind::Episodic,
            format!("How {name} greets someone new: {first}"),
        )?);
    }
    if let Some(example) = card_text(data.mes_example.as_deref(), &name) {
        memories.push(memory(
            MemoryKind::Biographical,
            format!("How {name} talks: {example}"),
        )?);
    }
    let mut traits = serde_json::Map::new();
    if let Some(tags) = data.tags.filter(|t| !t.is_empty()) {
        traits.insert("tags".into(), serde_json::json!(tags));
    }
    if let Some(notes) = card_text(data.creator_notes.as_deref(), &name) {
        traits.insert(
            "creator_notes".into(),
            serde_json::json!(notes.chars().take(2000).collect::<String>()),
        );
    }
    Ok(CharacterImport {
        name: CharacterName::parse(&name)?,
        persona: Persona::parse(&persona)?,
        traits: Some(Traits::parse(serde_json::Value::Object(traits))?),
        memories,
        sessions: Vec::new(),
    })
}

pub struct PortabilityApi;

#[OpenApi(prefix_path = "/v1/characters", tag = "ApiTags::Characters")]
impl PortabilityApi {
    /// Export a character with its memories
    ///
    /// The character, its current memories (with their people and times)
    /// and, with `sessions=true`, its sessions and messages: the JSON that
    /// `POST /v1/characters/import` reads.
    #[oai(path = "/:id/export", method = "get", operation_id = "exportCharacter")]
    async fn export(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        /// Also export sessions and their messages (default false).
        sessions: Query<Option<bool>>,
    ) -> Result<Json<CharacterArchive>> {
        let export = state
            .portability
            .export(&auth.0, id.0, sessions.0.unwrap_or(false))
            .await?;
        Ok(Json(archive_of(export)))
    }

    /// Import a character exported from VirLife
    ///
    /// Creates a new character (a new id) with the archive's memories,
    /// embedded again by the model in use, and its sessions; all or nothing.
    #[oai(path = "/import", method = "post", operation_id = "importCharacter")]
    async fn import(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        body: Json<CharacterArchive>,
    ) -> Result<Imported> {
        let import = import_of(body.0)?;
        let character = state.portability.import(auth.0, import).await?;
        Ok(Imported::Created(Json(character.into())))
    }

    /// Import a TavernCard V2 character card
    ///
    /// Description, personality and scenario become the persona; the first
    /// message and the example dialogue become memories; tags and creator
    /// notes become traits.
    #[oai(
        path = "/import/tavern-card",
        method = "post",
        operation_id = "importTavernCard"
    )]
    async fn import_card(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        body: Json<TavernCard>,
    ) -> Result<Imported> {
        let import = import_of_card(body.0)?;
        let character = state.portability.import(auth.0, import).await?;
        Ok(Imported::Created(Json(character.into())))
    }
}
