//! Encryption at rest of partner secrets that must be used in clear (signed-link vendor
//! passwords): XChaCha20-Poly1305 under a key the operator provides (`SSO_SECRET_KEY`, 64 hex
//! characters), bound to the item it belongs to as associated data, so a ciphertext copied
//! to another vendor's item does not decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::StoreError;

/// The key that seals vendor secrets. `Debug` does not print it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// From 32 key bytes.
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// From 64 hex characters (the `SSO_SECRET_KEY` format).
    pub fn from_hex(hex_key: &str) -> Result<Self, StoreError> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_key.trim(), &mut key).map_err(|_| StoreError::Invalid {
            what: "SSO_SECRET_KEY",
            why: "must be 64 hex characters (32 bytes)".into(),
        })?;
        Ok(Self::new(key))
    }

    /// A fresh random key in hex, for `sso` to provision a local data directory.
    pub fn generate_hex() -> Result<String, StoreError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| StoreError::Io(format!("OS random source: {e}")))?;
        Ok(hex::encode(key))
    }

    /// Seals `plain` for the item named `context`; hex of nonce ‖ ciphertext.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::Io(format!("OS random source: {e}")))?;
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| StoreError::SecretKey)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(hex::encode(out))
    }

    /// Opens what [`SecretBox::seal`] made for the same `context`.
    pub fn open(&self, context: &str, sealed_hex: &str) -> Result<String, StoreError> {
        let bytes = hex::decode(sealed_hex).map_err(|_| StoreError::SecretKey)?;
        if bytes.len() < 24 {
            return Err(StoreError::SecretKey);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| StoreError::SecretKey)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| StoreError::SecretKey)?;
        String::from_utf8(plain).map_err(|_| StoreError::SecretKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let b = SecretBox::new([7; 32]);
        let s = b.seal("TENANT#demoaws/VENDOR#1001", "vendorpass").unwrap();
        assert!(!s.contains(&hex::encode("vendorpass")));
        assert_eq!(
            b.open("TENANT#demoaws/VENDOR#1001", &s).unwrap(),
            "vendorpass"
        );
        assert_eq!(
            b.open("TENANT#demoaws/VENDOR#1002", &s),
            Err(StoreError::SecretKey)
        );
        assert_eq!(
            SecretBox::new([8; 32]).open("TENANT#demoaws/VENDOR#1001", &s),
            Err(StoreError::SecretKey)
        );
    }
}
