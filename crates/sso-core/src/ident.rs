//! One-time tokens and session ids, and the keys the store keeps them under.
//!
//! Both are 128 random bits that the caller draws from the OS CSPRNG and hands in (this crate
//! has no RNG). On the wire they are 32 lower-case hex characters; in the store they exist only
//! as the SHA-256 of their bytes ([`StorageKey`]), so a leaked table does not contain a single
//! usable token or session. `Debug` never prints them.

use std::fmt;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Why a presented token or session id was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentError {
    /// Not exactly 32 hex characters.
    #[error("not 32 hex characters")]
    Malformed,
}

/// The SHA-256 of a token or session id: the only form the store holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StorageKey([u8; 32]);

impl StorageKey {
    /// The key in lower-case hex (64 characters), as used in store keys.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Wraps a digest read back from storage or configuration.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key of a high-entropy secret such as an API key or a Platform-Key: its SHA-256,
    /// so the store can find it without holding it.
    pub fn of_secret(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Hashes arbitrary bytes into a key: for composite keys such as a signed link's
    /// `(tenant, vendor, token)`.
    pub fn digest_of(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        Self(h.finalize().into())
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageKey({}…)", &self.to_hex()[..8])
    }
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Wraps 128 bits the caller drew from the OS CSPRNG.
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Reads the wire form: exactly 32 hex characters, either case.
            pub fn parse(s: &str) -> Result<Self, IdentError> {
                let mut bytes = [0u8; 16];
                if s.len() != 32 || hex::decode_to_slice(s, &mut bytes).is_err() {
                    return Err(IdentError::Malformed);
                }
                Ok(Self(bytes))
            }

            /// The wire form: 32 lower-case hex characters.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// The SHA-256 of the bytes, which is all the store may keep.
            pub fn storage_key(&self) -> StorageKey {
                StorageKey(Sha256::digest(self.0).into())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

opaque_id!(
    /// A one-time login token (`_ssot`, `/sso/login?token=`), 128 random bits.
    OneTimeToken
);
opaque_id!(
    /// A session id carried in a cookie, 128 random bits.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_32_lower_case_hex_and_round_trips() {
        let t = OneTimeToken::from_random_bytes([0xAB; 16]);
        assert_eq!(t.to_hex(), "ab".repeat(16));
        assert_eq!(OneTimeToken::parse(&"AB".repeat(16)), Ok(t.clone()));
        assert_eq!(OneTimeToken::parse("ab"), Err(IdentError::Malformed));
        assert_eq!(
            OneTimeToken::parse(&"zz".repeat(16)),
            Err(IdentError::Malformed)
        );
    }

    #[test]
    fn the_storage_key_is_the_sha256_of_the_bytes() {
        let s = SessionId::from_random_bytes([0; 16]);
        // sha256 of sixteen zero bytes
        assert_eq!(
            s.storage_key().to_hex(),
            "374708fff7719dd5979ec875d56cd2286f6d3cf7ec317a3b25632aab28ec37bb"
        );
    }

    #[test]
    fn composite_keys_are_length_prefixed() {
        assert_ne!(
            StorageKey::digest_of(&[b"ab", b"c"]),
            StorageKey::digest_of(&[b"a", b"bc"])
        );
    }

    #[test]
    fn debug_output_hides_the_value() {
        let t = OneTimeToken::from_random_bytes([0xAB; 16]);
        assert_eq!(format!("{t:?}"), "OneTimeToken(***)");
    }
}
