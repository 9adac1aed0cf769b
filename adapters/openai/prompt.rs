//! Prompt assembly for chat-completion models: what the renderer and the
//! cognition model read. Shared by every real `Llm` adapter, so the
//! packing rules live in one place: the persona and the new message always
//! fit; then the most relevant memories and the most recent turns, dropping
//! the oldest turns first, then the least relevant memories.

use crate::core::domain::{HistoryEntry, Role};
use crate::core::ports::{ReflectRequest, RenderRequest};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

impl ChatMessage {
    fn new(role: &'static str, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Rough token count (about four characters a token for English); good
/// enough to keep well inside a model's context window.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Character => "assistant",
    }
}

fn persona_block(request: &RenderRequest) -> String {
    let mut system = format!(
        "You are {name}. Stay in character at all times and answer as {name} would, \
         in the first person, without mentioning that you are an AI.\n\nPersona:\n{persona}",
        name = request.character_name,
        persona = request.persona
    );
    if !request.traits.is_empty() {
        let traits = serde_json::Value::Object(request.traits.clone());
        system.push_str(&format!("\n\nTraits: {traits}"));
    }
    if let Some(user) = &request.user_name {
        system.push_str(&format!("\n\nYou are talking with {user}."));
    }
    system
}

/// The renderer's messages, packed into `budget_tokens`.
pub fn render_messages(request: &RenderRequest, budget_tokens: usize) -> Vec<ChatMessage> {
    let persona = persona_block(request);
    let fixed = estimate_tokens(&persona) + estimate_tokens(&request.message);
    let mut left = budget_tokens.saturating_sub(fixed);

    // Most recent turns first, until the budget is half spent (memories get the rest).
    let mut history: Vec<&HistoryEntry> = Vec::new();
    let history_share = left / 2;
    let mut spent = 0;
    for turn in request.history.iter().rev() {
        let cost = estimate_tokens(&turn.content);
        if spent + cost > history_share {
            break;
        }
        spent += cost;
        history.push(turn);
    }
    left -= spent;

    let mut memories = Vec::new();
    for memory in &request.memories {
        let cost = estimate_tokens(memory) + 2;
        if cost > left {
            break;
        }
        left -= cost;
        memories.push(memory.as_str());
    }
    // What the memories did not use may still hold older turns.
    for turn in request.history.iter().rev().skip(history.len()) {
        let cost = estimate_tokens(&turn.content);
        if cost > left {
            break;
        }
        left -= cost;
        history.push(turn);
    }
    history.reverse();

    let mut system = persona;
    if !memories.is_empty() {
        system.push_str("\n\nThings you remember (most relevant first):");
        for memory in memories {
            system.push_str("\n- ");
            system.push_str(memory);
        }
    }
    let mut messages = vec![ChatMessage::new("system", system)];
    messages.extend(
        history
            .into_iter()
            .map(|turn| ChatMessage::new(role_name(turn.role), turn.content.clone())),
    );
    messages.push(ChatMessage::new("user", request.message.clone()));
    messages
}

pub const REFLECT_INSTRUCTIONS: &str = "You extract lasting facts from a conversation. \
Reply with JSON only, in this form: \
{\"facts\": [{\"content\": \"a short fact in the third person\", \"importance\": 0.0-1.0, \
\"supersedes\": \"id of a known fact this one updates, or null\"}]}. \
Include only durable facts about the character or the people they talk with \
(names, preferences, relationships, plans, events that matter); no small talk. \
Do not repeat known facts; when a fact changes a known one, give the known fact's id in \"supersedes\".";

/// The cognition model's messages (transcript trimmed to `budget_tokens`).
pub fn reflect_messages(request: &ReflectRequest, budget_tokens: usize) -> Vec<ChatMessage> {
    let user = request.user_name.as_deref().unwrap_or("the user");
    let mut known = String::new();
    for (id, fact) in &request.known_facts {
        known.push_str(&format!("\n[{id}] {fact}"));
    }
    let header = format!(
        "Character: {}\nPersona: {}\nKnown facts:{}\n\nConversation (most recent last):",
        request.character_name,
        request.persona,
        if known.is_empty() {
            " none".to_owned()
        } else {
            known
        }
    );
    let mut left = budget_tokens
        .saturating_sub(estimate_tokens(REFLECT_INSTRUCTIONS) + estimate_tokens(&header));
    let mut lines = Vec::new();
    for turn in request.transcript.iter().rev() {
        let text = &turn.content;
        let speaker = match turn.role {
            Role::User => user,
            Role::Character => request.character_name.as_str(),
        };
        let line = format!("{speaker}: {text}");
        let cost = estimate_tokens(&line);
        if cost > left {
            break;
        }
        left -= cost;
        lines.push(line);
    }
    lines.reverse();
    let mut messages = vec![
        ChatMessage::new("system", REFLECT_INSTRUCTIONS),
        ChatMessage::new("user", format!("{header}\n{}", lines.join("\n"))),
    ];
    if let Some(previous) = &request.repair {
        messages.push(ChatMessage::new("assistant", previous.clone()));
        messages.push(ChatMessage::new(
            "user",
            "That was not valid JSON in the requested form. Reply again with the JSON object only.",
        ));
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(history: usize, memories: usize) -> RenderRequest {
        RenderRequest {
            character_name: "Ada".into(),
            persona: "A retired sea captain.".into(),
            traits: Default::default(),
            user_name: Some("Sam".into()),
            memories: (0..memories)
                .map(|i| format!("memory {i} {}", "x".repeat(200)))
                .collect(),
            history: (0..history)
                .map(|i| {
                    let role = if i % 2 == 0 {
                        Role::User
                    } else {
                        Role::Character
                    };
                    HistoryEntry::new(role, format!("turn {i} {}", "y".repeat(200)))
                })
                .collect(),
            message: "What now?".into(),
        }
    }

    #[test]
    fn everything_fits_in_a_large_budget_in_order() {
        let messages = render_messages(&request(4, 2), 100_000);
        assert_eq!(messages.len(), 6);
        assert_eq!(messages[0].role, "system");
        assert!(messages[0].content.contains("A retired sea captain."));
        assert!(messages[0].content.contains("memory 0"));
        assert!(messages[1].content.starts_with("turn 0"));
        assert_eq!(messages[2].role, "assistant");
        assert_eq!(messages.last().unwrap().content, "What now?");
    }

    #[test]
    fn a_small_budget_drops_the_oldest_turns_first_never_the_persona_or_message() {
        let messages = render_messages(&request(40, 5), 1_000);
        let total: usize = messages.iter().map(|m| estimate_tokens(&m.content)).sum();
        assert!(total <= 1_100, "{total}");
        assert!(messages[0].content.contains("A retired sea captain."));
        assert_eq!(messages.last().unwrap().content, "What now?");
        let turns: Vec<&str> = messages[1..messages.len() - 1]
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        assert!(!turns.is_empty());
        assert!(
            turns.last().unwrap().starts_with("turn 39"),
            "the newest turn stays"
        );
        assert!(
            !turns.iter().any(|t| t.starts_with("turn 0 ")),
            "the oldest turn goes"
        );
        // A budget too small for anything else still keeps both.
        let bare = render_messages(&request(40, 5), 10);
        assert_eq!(bare.len(), 2);
    }

    #[test]
    fn the_repair_round_shows_the_model_its_own_answer() {
        let mut reflect = ReflectRequest {
            character_name: "Ada".into(),
            persona: "p".into(),
            user_name: None,
            transcript: vec![HistoryEntry::new(Role::User, "I moved to Oslo")],
            known_facts: vec![(uuid::Uuid::nil(), "Sam lives in Bergen".into())],
            repair: None,
        };
        let first = reflect_messages(&reflect, 4_000);
        assert_eq!(first.len(), 2);
        assert!(first[1].content.contains("Sam lives in Bergen"));
        assert!(first[1].content.contains("the user: I moved to Oslo"));
        reflect.repair = Some("Sure! Facts: Oslo".into());
        let repair = reflect_messages(&reflect, 4_000);
        assert_eq!(repair.len(), 4);
        assert_eq!(repair[2].content, "Sure! Facts: Oslo");
    }
}
