//! Secrets at rest: AES-256-GCM (RustCrypto `aes-gcm`) under the master key.
//!
//! Stored form: `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. The key id (first 8 hex digits
//! of SHA-256 of the key) says which master key sealed a value, so the key can be rotated: the
//! server decrypts with the current or any previous key and always encrypts with the current one,
//! and `axis-crm rotate-key` re-encrypts everything under the current key.
//!
//! Each value is bound to where it lives (the associated data names table, column and row), so a
//! ciphertext copied into another user's row does not decrypt.

use crate::platform::config::MasterKey;
use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    Aes256Gcm, Key,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the stored secret is not in a format this version understands")]
    Format,
    #[error("the stored secret was sealed with master key {0}, which is not configured (set it in AXIS_MASTER_KEY_PREVIOUS)")]
    UnknownKey(String),
    #[error("the stored secret does not decrypt: it was altered, moved to another row, or the key is wrong")]
    Tampered,
}

struct SealKey {
    id: String,
    cipher: Aes256Gcm,
}

pub struct Keyring {
    current: SealKey,
    previous: Vec<SealKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .finish_non_exhaustive()
    }
}

pub fn key_id(key: &MasterKey) -> String {
    hex::encode(&Sha256::digest(key.0)[..4])
}

fn seal_key(key: &MasterKey) -> SealKey {
    SealKey {
        id: key_id(key),
        cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0)),
    }
}

impl Keyring {
    pub fn new(current: &MasterKey, previous: &[MasterKey]) -> Self {
        Keyring {
            current: seal_key(current),
            previous: previous.iter().map(seal_key).collect(),
        }
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext`, bound to `context` (for example `whatsapp_connections.access_token:42`).
    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory buffers");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!("v1.{}.{}", self.current.id, STANDARD.encode(blob))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<SecretString, CryptoError> {
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Format);
        };
        let key = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let blob = STANDARD.decode(data).map_err(|_| CryptoError::Format)?;
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Format);
        }
        let (nonce, sealed) = blob.split_at(12);
        let plain = key
            .cipher
            .decrypt(
                aes_gcm::Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Tampered)
    }

    /// True when `stored` was sealed with a key other than the current one.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        stored
            .split('.')
            .nth(1)
            .is_some_and(|id| id != self.current.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let ring = Keyring::new(&MasterKey([1; 32]), &[]);
        let a = ring.encrypt("EAAG-token", "t:1");
        let b = ring.encrypt("EAAG-token", "t:1");
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(!a.contains("EAAG"));
        assert!(a.starts_with(&format!("v1.{}.", ring.current_id())));
        assert_eq!(
            ring.decrypt(&a, "t:1").unwrap().expose_secret(),
            "EAAG-token"
        );
    }

    #[test]
    fn detects_tampering_and_moved_ciphertexts() {
        let ring = Keyring::new(&MasterKey([1; 32]), &[]);
        let sealed = ring.encrypt("secret", "whatsapp_connections.access_token:1");
        assert_eq!(
            ring.decrypt(&sealed, "whatsapp_connections.access_token:2")
                .unwrap_err(),
            CryptoError::Tampered
        );
        let mut bytes = STANDARD.decode(sealed.rsplit('.').next().unwrap()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let flipped = format!("v1.{}.{}", ring.current_id(), STANDARD.encode(bytes));
        assert_eq!(
            ring.decrypt(&flipped, "whatsapp_connections.access_token:1")
                .unwrap_err(),
            CryptoError::Tampered
        );
        assert_eq!(
            ring.decrypt("plain text", "x").unwrap_err(),
            CryptoError::Format
        );
        assert_eq!(
            ring.decrypt("v1.abc.!!!", "x").unwrap_err(),
            CryptoError::UnknownKey("abc".into())
        );
    }

    #[test]
    fn rotation_reads_old_values_and_writes_new_ones() {
        let old = MasterKey([1; 32]);
        let new = MasterKey([2; 32]);
        let sealed_old = Keyring::new(&old, &[]).encrypt("secret", "c");
        let without_old = Keyring::new(&new, &[]);
        assert!(matches!(
            without_old.decrypt(&sealed_old, "c"),
            Err(CryptoError::UnknownKey(_))
        ));
        let ring = Keyring::new(&new, &[old]);
        assert!(ring.needs_rotation(&sealed_old));
        assert_eq!(
            ring.decrypt(&sealed_old, "c").unwrap().expose_secret(),
            "secret"
        );
        let resealed = ring.encrypt("secret", "c");
        assert!(!ring.needs_rotation(&resealed));
        assert_eq!(
            without_old.decrypt(&resealed, "c").unwrap().expose_secret(),
            "secret"
        );
    }
}
