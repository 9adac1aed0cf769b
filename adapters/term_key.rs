//! How the words of a memory are written into a search index. Without
//! `ENCRYPTION_KEY`, as they are (PostgreSQL's `tsvector` stays readable);
//! with it, as keyed hashes (HMAC-SHA-256 under a key derived from
//! `ENCRYPTION_KEY` for this one purpose), so no plaintext word reaches an
//! index while equal words still match and BM25 still counts them.
//! Qdrant's sparse vectors need 32-bit indices: the first four bytes of
//! the same hash (or of SHA-256 without a key).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the keyed hash kept per word: 80 bits, so two of the few
/// million distinct words of a tenant never collide in practice.
const TAG_BYTES: usize = 10;

#[derive(Clone)]
pub struct TermKey {
    mac: Option<HmacSha256>,
    id: String,
}

impl std::fmt::Debug for TermKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermKey").field("id", &self.id).finish()
    }
}

impl Default for TermKey {
    fn default() -> Self {
        Self::plain()
    }
}

impl TermKey {
    /// Words as they are.
    pub fn plain() -> Self {
        Self {
            mac: None,
            id: "plain".into(),
        }
    }

    /// Words as keyed hashes under a key derived from `encryption_key`.
    pub fn keyed(encryption_key: &[u8; 32]) -> Self {
        let mut derive =
            HmacSha256::new_from_slice(encryption_key).expect("HMAC takes a key of any length");
        derive.update(b"virlife/lexical-terms/v1");
        let derived = derive.finalize().into_bytes();
        let id = Sha256::digest(derived.as_slice())[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        Self {
            mac: Some(
                HmacSha256::new_from_slice(derived.as_slice())
                    .expect("HMAC takes a key of any length"),
            ),
            id: format!("hmac:{id}"),
        }
    }

    /// Which key wrote an index's words (`plain` or `hmac:<id>`, never the
    /// key): a change means the words must be written again.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn is_keyed(&self) -> bool {
        self.mac.is_some()
    }

    /// The word as the index holds it.
    pub fn tag(&self, term: &str) -> String {
        match &self.mac {
            None => term.to_owned(),
            Some(mac) => {
                let mut mac = mac.clone();
                mac.update(term.as_bytes());
                mac.finalize().into_bytes()[..TAG_BYTES]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }
        }
    }

    /// A 32-bit index for the word (Qdrant's sparse vectors).
    pub fn index(&self, term: &str) -> u32 {
        let bytes: [u8; 4] = match &self.mac {
            None => Sha256::digest(term.as_bytes())[..4]
                .try_into()
                .unwrap_or_default(),
            Some(mac) => {
                let mut mac = mac.clone();
                mac.update(term.as_bytes());
                mac.finalize().into_bytes()[..4]
                    .try_into()
                    .unwrap_or_default()
            }
        };
        u32::from_le_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_tags_hide_words_yet_match_each_other() {
        let key = TermKey::keyed(&[7; 32]);
        let tag = key.tag("pottery");
        assert_eq!(tag, key.tag("pottery"));
        assert_ne!(tag, key.tag("potter"));
        assert!(!tag.contains("pottery"));
        assert_eq!(tag.len(), TAG_BYTES * 2);
        assert_ne!(tag, TermKey::keyed(&[8; 32]).tag("pottery"));
        assert_ne!(key.id(), TermKey::keyed(&[8; 32]).id());
        assert_eq!(
            format!("{key:?}"),
            format!("TermKey {{ id: {:?} }}", key.id())
        );
        let plain = TermKey::plain();
        assert_eq!(plain.tag("pottery"), "pottery");
        assert_eq!(plain.index("pottery"), plain.index("pottery"));
        assert_ne!(plain.index("pottery"), key.index("pottery"));
    }
}
