//! One module per group of operations; each operation is a thin adapter
//! from HTTP to a use case.

pub mod admin;
pub mod characters;
pub mod events;
pub mod health;
pub mod jobs;
pub mod memories;
pub mod openai;
pub mod people;
pub mod places;
pub mod portability;
pub mod relationships;
pub mod sessions;

use poem_openapi::Tags;

#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and service health (no key needed).
    Health,
    /// Tenant API keys and maintenance (master key).
    Admin,
    /// Characters and their personas.
    Characters,
    /// Episodic and biographical memory.
    Memories,
    /// Conversation sessions and chat turns.
    Sessions,
    /// The people characters talk with: erasure on request.
    People,
    /// Durable background work (cognition).
    Jobs,
    /// The shared world: places, who is where, world events and their
    /// witnesses, relationships, mood and goals.
    World,
    /// The OpenAI Chat Completions shape, for clients that speak it.
    #[oai(rename = "OpenAI-compatible")]
    OpenAi,
}
