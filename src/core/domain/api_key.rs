use super::{InvalidInput, TenantId, bounded_text};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Prefix that makes VirLife keys recognisable to secret scanners.
const KEY_PREFIX: &str = "vl_";

/// A tenant's API key as stored: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant: TenantId,
    pub name: String,
    pub key_hash: KeyHash,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Label for a key, 1–100 characters.
#[derive(Debug)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        bounded_text("name", value, 100).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The secret shown once to the caller. Not `Debug`, so it cannot be logged by accident.
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let mut secret = String::with_capacity(KEY_PREFIX.len() + 48);
        secret.push_str(KEY_PREFIX);
        for byte in bytes {
            secret.push_str(&format!("{byte:02x}"));
        }
        Self(secret)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

/// Hex SHA-256 of a presented key; lookups go by this value only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        Self(hex)
    }
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_prefixed_unique_and_hash_stably() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert!(a.expose().starts_with("vl_"));
        assert_eq!(a.expose().len(), 51);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), KeyHash::of(a.expose()));
        assert_ne!(a.hash(), b.hash());
    }
}
