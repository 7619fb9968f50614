//! Encryption at rest of partner secrets that must be used in clear (signed-link vendor
//! passwords): XChaCha20-Poly1305 under a key the operator provides (`SSO_SECRET_KEY`, 64 hex
//! characters), bound to the item it belongs to as associated data, so a ciphertext copied
//! to another vendor's item does not decrypt.
//!
//! Rotation: a box may hold a *previous* key as well. Sealing always uses the current key;
//! opening tries the current key, then the previous one, so a new key can be deployed before
//! every record is re-sealed (`sso rotate-key` re-seals them, after which the previous key can
//! be dropped).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::StoreError;

/// The key that seals vendor secrets (and optionally the one it replaced, for opening only).
/// `Debug` does not print them.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    previous: Option<XChaCha20Poly1305>,
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
            previous: None,
        }
    }

    /// This box, also opening what `previous` sealed (during a key rotation). Only
    /// `previous`'s current key is kept: a rotation spans two keys, never a chain.
    pub fn with_previous(mut self, previous: SecretBox) -> Self {
        self.previous = Some(previous.cipher);
        self
    }

    /// A key ring as `SSO_SECRET_KEY` (or the SSM parameter) holds it: the current key, or
    /// the current and the previous key separated by a comma, each 64 hex characters.
    pub fn from_ring(ring: &str) -> Result<Self, StoreError> {
        let mut keys = ring.split(',').map(str::trim);
        let current = Self::from_hex(keys.next().unwrap_or_default())?;
        let b = match keys.next() {
            Some(previous) => current.with_previous(Self::from_hex(previous)?),
            None => current,
        };
        match keys.next() {
            None => Ok(b),
            Some(_) => Err(StoreError::Invalid {
                what: "SSO_SECRET_KEY",
                why: "at most two keys: the current one, then the previous one".into(),
            }),
        }
    }

    /// Whether a previous key is held (a rotation is under way).
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
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

    /// Opens what [`SecretBox::seal`] made for the same `context`, with the current key or
    /// else the previous one.
    pub fn open(&self, context: &str, sealed_hex: &str) -> Result<String, StoreError> {
        self.open_with(&self.cipher, context, sealed_hex)
            .or_else(|e| match &self.previous {
                Some(previous) => self.open_with(previous, context, sealed_hex),
                None => Err(e),
            })
    }

    /// Whether `sealed_hex` opens with the current key (not only with the previous one).
    pub fn opens_with_current(&self, context: &str, sealed_hex: &str) -> bool {
        self.open_with(&self.cipher, context, sealed_hex).is_ok()
    }

    fn open_with(
        &self,
        cipher: &XChaCha20Poly1305,
        context: &str,
        sealed_hex: &str,
    ) -> Result<String, StoreError> {
        let bytes = hex::decode(sealed_hex).map_err(|_| StoreError::SecretKey)?;
        if bytes.len() < 24 {
            return Err(StoreError::SecretKey);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| StoreError::SecretKey)?;
        let plain = cipher
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

    #[test]
    fn during_a_rotation_both_keys_open_and_only_the_new_one_seals() {
        let old = SecretBox::new([7; 32]);
        let by_old = old.seal("ctx", "vendorpass").unwrap();
        let rotating = SecretBox::new([8; 32]).with_previous(old.clone());
        assert!(rotating.has_previous());
        assert_eq!(rotating.open("ctx", &by_old).unwrap(), "vendorpass");
        assert!(!rotating.opens_with_current("ctx", &by_old));
        let resealed = rotating.seal("ctx", "vendorpass").unwrap();
        assert!(rotating.opens_with_current("ctx", &resealed));
        assert_eq!(old.open("ctx", &resealed), Err(StoreError::SecretKey));
        assert_eq!(
            SecretBox::new([8; 32]).open("ctx", &by_old),
            Err(StoreError::SecretKey),
            "once the previous key is dropped, what it sealed no longer opens"
        );
        assert_eq!(
            rotating.open("other", &by_old),
            Err(StoreError::SecretKey),
            "the context still binds under either key"
        );
        let ring = format!("{}, {}", "08".repeat(32), "07".repeat(32));
        let pair = SecretBox::from_ring(&ring).unwrap();
        assert_eq!(pair.open("ctx", &by_old).unwrap(), "vendorpass");
        assert!(
            !SecretBox::from_ring(&"08".repeat(32))
                .unwrap()
                .has_previous()
        );
        assert!(SecretBox::from_ring(&format!("{},short", "08".repeat(32))).is_err());
        assert!(SecretBox::from_ring(&format!("{ring},{}", "09".repeat(32))).is_err());
    }
}
