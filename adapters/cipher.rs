//! Text at rest, encrypted: AES-256-GCM (RustCrypto `aes-gcm`), a fresh
//! random nonce per value, the row id as associated data (a value moved to
//! another row does not decrypt), and the key's id stored with the value so
//! keys can rotate: `vl1:<key id>:<base64(nonce ‖ ciphertext)>`.
//! Values without the prefix are plaintext rows written before encryption
//! was turned on, and read as they are.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "vl1:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error(
        "stored data is encrypted with key {0}, which this instance does not have (ENCRYPTION_KEY)"
    )]
    MissingKey(String),
    #[error("stored data could not be decrypted (corrupt, or moved between rows)")]
    Corrupt,
}

struct Key {
    id: String,
    aead: Aes256Gcm,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            aead: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// The current key (used to seal) and older keys (still used to open).
pub struct Cipher {
    current: Key,
    previous: Vec<Key>,
}

impl Cipher {
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: Key::new(current),
            previous: previous.iter().map(Key::new).collect(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    pub fn seal(&self, plaintext: &str, row: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: row,
                },
            )
            // Encryption only fails for inputs beyond GCM's 64 GiB limit.
            .unwrap_or_default();
        let mut packed = nonce.to_vec();
        packed.extend_from_slice(&sealed);
        format!(
            "{PREFIX}{}:{}",
            self.current.id,
            STANDARD_NO_PAD.encode(packed)
        )
    }

    pub fn open(&self, stored: &str, row: &[u8]) -> Result<String, CipherError> {
        let Some((key_id, body)) = sealed_parts(stored) else {
            return Ok(stored.to_owned());
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| CipherError::MissingKey(key_id.to_owned()))?;
        let packed = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| CipherError::Corrupt)?;
        if packed.len() < 12 {
            return Err(CipherError::Corrupt);
        }
        let (nonce, sealed) = packed.split_at(12);
        let plain = key
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: row,
                },
            )
            .map_err(|_| CipherError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| CipherError::Corrupt)
    }
}

fn sealed_parts(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(PREFIX)?.split_once(':')
}

/// Reading without any key: plaintext passes, sealed values are refused
/// (never returned as ciphertext).
pub fn open_without_key(stored: &str) -> Result<String, CipherError> {
    match sealed_parts(stored) {
        Some((key_id, _)) => Err(CipherError::MissingKey(key_id.to_owned())),
        None => Ok(stored.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_its_key_and_row() {
        let cipher = Cipher::new(&[7u8; 32], &[]);
        let sealed = cipher.seal("the map is under the floor", b"row-1");
        assert!(sealed.starts_with("vl1:"));
        assert!(!sealed.contains("map"));
        assert_ne!(
            sealed,
            cipher.seal("the map is under the floor", b"row-1"),
            "fresh nonce"
        );
        assert_eq!(
            cipher.open(&sealed, b"row-1").unwrap(),
            "the map is under the floor"
        );
        assert_eq!(cipher.open(&sealed, b"row-2"), Err(CipherError::Corrupt));
        let other = Cipher::new(&[8u8; 32], &[]);
        assert!(matches!(
            other.open(&sealed, b"row-1"),
            Err(CipherError::MissingKey(_))
        ));
        assert!(matches!(
            open_without_key(&sealed),
            Err(CipherError::MissingKey(_))
        ));
    }

    #[test]
    fn rotated_keys_still_open_old_rows_and_plaintext_rows_pass() {
        let old = Cipher::new(&[1u8; 32], &[]);
        let sealed_with_old = old.seal("old secret", b"r");
        let rotated = Cipher::new(&[2u8; 32], &[[1u8; 32]]);
        assert_eq!(rotated.open(&sealed_with_old, b"r").unwrap(), "old secret");
        assert!(rotated.seal("new", b"r").contains(rotated.key_id()));
        assert_eq!(
            rotated.open("written before encryption", b"r").unwrap(),
            "written before encryption"
        );
        assert_eq!(open_without_key("plain").unwrap(), "plain");
    }
}
