//! Text at rest: sealed to its row when a key is set, opened on the way
//! out, refused when sealed with a key this instance lacks.

use crate::adapters::cipher::{Cipher, open_without_key};
use crate::core::domain::{Memory, Message};
use crate::core::ports::StoreError;
use std::sync::Arc;
use uuid::Uuid;

/// Opens sealed text with `cipher`, or refuses it without the key; text
/// without the envelope passes.
fn open_text(cipher: Option<&Cipher>, stored: &str, row: &[u8]) -> Result<String, StoreError> {
    let opened = match cipher {
        Some(cipher) => cipher.open(stored, row),
        None => open_without_key(stored),
    };
    opened.map_err(|err| {
        tracing::error!(error = %err, "cannot decrypt stored text");
        StoreError::Undecryptable(err.to_string())
    })
}

/// `open_text`, trusting the row's `sealed` marker where it has one: rows
/// older than the marker are told apart by the envelope's prefix.
pub fn open_marked_text(
    cipher: Option<&Cipher>,
    stored: &str,
    row: &[u8],
    sealed: Option<bool>,
) -> Result<String, StoreError> {
    match sealed {
        Some(false) => Ok(stored.to_owned()),
        Some(true) | None => open_text(cipher, stored, row),
    }
}

#[derive(Clone, Default)]
pub struct Sealer {
    cipher: Option<Arc<Cipher>>,
}

impl Sealer {
    pub fn new(cipher: Option<Arc<Cipher>>) -> Self {
        Self { cipher }
    }

    pub fn cipher(&self) -> Option<&Arc<Cipher>> {
        self.cipher.as_ref()
    }

    /// Text as it is written: sealed to its row when a key is set.
    pub fn seal(&self, text: &str, row: Uuid) -> String {
        self.seal_to(text, row.as_bytes())
    }

    fn seal_to(&self, text: &str, row: &[u8]) -> String {
        match &self.cipher {
            Some(cipher) => cipher.seal(text, row),
            None => text.to_owned(),
        }
    }

    /// Whether text written now is sealed (stored beside it, in `sealed`).
    pub fn sealing(&self) -> bool {
        self.cipher.is_some()
    }

    pub fn open_marked(
        &self,
        stored: &str,
        row: &[u8],
        sealed: Option<bool>,
    ) -> Result<String, StoreError> {
        open_marked_text(self.cipher.as_deref(), stored, row, sealed)
    }

    /// A stored turn holds message text, so it is sealed as one string, to
    /// its row (tenant and key).
    pub fn seal_response(&self, response: &serde_json::Value, row: &[u8]) -> serde_json::Value {
        match &self.cipher {
            Some(_) => serde_json::Value::String(self.seal_to(&response.to_string(), row)),
            None => response.clone(),
        }
    }

    pub fn open_response(
        &self,
        stored: serde_json::Value,
        row: &[u8],
    ) -> Result<serde_json::Value, StoreError> {
        match stored {
            serde_json::Value::String(sealed) => {
                let text = open_text(self.cipher.as_deref(), &sealed, row)?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Internal(format!("stored turn unreadable: {e}")))
            }
            plain => Ok(plain),
        }
    }

    pub fn open_messages(&self, rows: Vec<super::MessageRow>) -> Result<Vec<Message>, StoreError> {
        rows.into_iter()
            .map(|row| {
                let sealed = row.sealed;
                let mut message = Message::try_from(row)?;
                message.content =
                    self.open_marked(&message.content, message.id.as_bytes(), sealed)?;
                Ok(message)
            })
            .collect()
    }

    /// A memory read back, its text opened.
    pub fn open_memory(
        &self,
        mut memory: Memory,
        sealed: Option<bool>,
    ) -> Result<Memory, StoreError> {
        memory.content = self.open_marked(&memory.content, memory.id.as_bytes(), sealed)?;
        Ok(memory)
    }
}
