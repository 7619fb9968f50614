//! Signing and constant-time verification of signed-link tokens.
//!
//! The seed's scheme is `md5(identifier . timestamp . password)` as lower-case hex, exactly what
//! the partner's PHP computes. Vendors that want more may opt into HMAC-SHA256 over a
//! length-prefixed message (`len(identifier) ":" identifier ":" timestamp`), which cannot be
//! re-split and does not expose the password to length-extension.

use std::fmt;

use hmac::{KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How a vendor's tokens are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `md5(identifier . timestamp . password)`, 32 hex characters: the seed's scheme.
    Md5,
    /// HMAC-SHA256 keyed with the password over `len(identifier):identifier:timestamp`,
    /// 64 hex characters: the upgrade path.
    HmacSha256,
}

impl Scheme {
    /// Length of a token of this scheme in hex characters.
    pub fn token_len(self) -> usize {
        match self {
            Scheme::Md5 => 32,
            Scheme::HmacSha256 => 64,
        }
    }
}

/// A vendor password. It must be used in clear to verify links, so it is kept in memory only as
/// long as needed and never printed: `Debug` shows `VendorSecret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct VendorSecret(Box<str>);

impl VendorSecret {
    /// Wraps a password.
    pub fn new(secret: impl Into<Box<str>>) -> Self {
        Self(secret.into())
    }

    /// The password itself, for signing and for encrypting it at rest.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VendorSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VendorSecret(***)")
    }
}

/// The secrets a vendor's links may be signed with: one, or two while a rotation is under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSet {
    /// The newest secret.
    pub current: VendorSecret,
    /// The secret being retired, still accepted until the operator retires it.
    pub previous: Option<VendorSecret>,
}

impl SecretSet {
    /// A vendor with one secret.
    pub fn single(current: VendorSecret) -> Self {
        Self {
            current,
            previous: None,
        }
    }
}

/// Which secret matched, so the operator can see when nobody uses the old one any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretSlot {
    /// The current secret.
    Current,
    /// The previous secret of a rotation.
    Previous,
}

/// The largest digest any scheme produces.
const MAX_DIGEST: usize = 32;

/// `md5(identifier . timestamp . secret)`. In-place updates: `chain_update` would move the
/// whole hasher state per call, which costs a tenth of the hot path.
fn md5_digest(identifier: &str, timestamp: &str, secret: &VendorSecret) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(identifier.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(secret.expose().as_bytes());
    h.finalize().into()
}

/// HMAC-SHA256 keyed with the secret over `len(identifier):identifier:timestamp`.
fn hmac_digest(identifier: &str, timestamp: &str, secret: &VendorSecret) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps the function
    // total without a panic path.
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return [0; 32];
    };
    mac.update(identifier.len().to_string().as_bytes());
    mac.update(b":");
    mac.update(identifier.as_bytes());
    mac.update(b":");
    mac.update(timestamp.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Whether `presented` is the lower- or upper-case hex form of `digest`, in constant time.
///
/// Instead of decoding the presented token (which would need its own validation), the
/// expected digest is encoded and each presented byte folded to lower case when it is `A`–`F`;
/// since the expected side is valid lower-case hex, equality also proves the token was valid
/// hex. Every byte is XOR-folded into one accumulator (no early exit, no table lookups, so the
/// loops vectorise) and `subtle` makes the single final comparison.
fn hex_matches(digest: &[u8], presented: &[u8]) -> bool {
    if presented.len() != digest.len() * 2 || digest.len() > MAX_DIGEST {
        return false;
    }
    let mut expected = [0u8; 2 * MAX_DIGEST];
    for (byte, pair) in digest.iter().zip(expected.chunks_exact_mut(2)) {
        pair[0] = hex_digit(byte >> 4);
        pair[1] = hex_digit(byte & 0x0F);
    }
    let mut diff = 0u8;
    for (e, p) in expected.iter().zip(presented) {
        diff |= e ^ fold_upper_hex(*p);
    }
    bool::from(diff.ct_eq(&0))
}

/// The lower-case hex digit of a nibble, by arithmetic rather than a table lookup.
fn hex_digit(nibble: u8) -> u8 {
    let is_letter = u8::from(nibble > 9);
    nibble + b'0' + is_letter * (b'a' - b'0' - 10)
}

/// `A`–`F` to `a`–`f`, every other byte unchanged, without a branch.
fn fold_upper_hex(c: u8) -> u8 {
    let is_upper_hex = u8::from(c.wrapping_sub(b'A') < 6);
    c | (is_upper_hex << 5)
}

/// The token a partner computes for `identifier` and `timestamp`, in lower-case hex.
pub fn sign(scheme: Scheme, identifier: &str, timestamp: &str, secret: &VendorSecret) -> String {
    match scheme {
        Scheme::Md5 => hex::encode(md5_digest(identifier, timestamp, secret)),
        Scheme::HmacSha256 => hex::encode(hmac_digest(identifier, timestamp, secret)),
    }
}

/// Which secret, if any, signed `token`. Accepts hex in either case; a token of the wrong length
/// or with a non-hex character matches nothing. The digest comparison is constant-time, and when
/// two secrets are live both are always computed.
pub fn verify_token(
    scheme: Scheme,
    identifier: &str,
    timestamp: &str,
    token: &str,
    secrets: &SecretSet,
) -> Option<SecretSlot> {
    let presented = token.as_bytes();
    match scheme {
        Scheme::Md5 => verify_with(presented, secrets, |s| md5_digest(identifier, timestamp, s)),
        Scheme::HmacSha256 => verify_with(presented, secrets, |s| {
            hmac_digest(identifier, timestamp, s)
        }),
    }
}

/// Checks `presented` against the digest under each live secret; when two are live both are
/// always computed, so timing does not say which matched.
fn verify_with<const N: usize>(
    presented: &[u8],
    secrets: &SecretSet,
    digest: impl Fn(&VendorSecret) -> [u8; N],
) -> Option<SecretSlot> {
    if presented.len() != 2 * N {
        return None;
    }
    let current = digest(&secrets.current);
    let current_ok = hex_matches(&current, presented);
    let previous = secrets.previous.as_ref().map(&digest);
    let previous_ok = previous.is_some_and(|d| hex_matches(&d, presented));
    if current_ok {
        Some(SecretSlot::Current)
    } else if previous_ok {
        Some(SecretSlot::Previous)
    } else {
        None
    }
}

/// The bare digest a benchmark compares verification against: md5 of the same bytes.
#[doc(hidden)]
pub fn bare_md5(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass() -> VendorSecret {
        VendorSecret::new("vendorpass")
    }

    #[test]
    fn md5_matches_the_php_snippet_for_a_known_vector() {
        // php -r 'echo md5("client@example.com" . "1700000000" . "vendorpass");'
        assert_eq!(
            sign(Scheme::Md5, "client@example.com", "1700000000", &pass()),
            hex::encode(bare_md5(b"client@example.com1700000000vendorpass"))
        );
    }

    #[test]
    fn verification_accepts_either_case_and_rejects_bad_shapes() {
        let t = sign(Scheme::Md5, "1234", "1700000000", &pass());
        let set = SecretSet::single(pass());
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000000", &t, &set),
            Some(SecretSlot::Current)
        );
        let upper = t.to_ascii_uppercase();
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000000", &upper, &set),
            Some(SecretSlot::Current)
        );
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000000", &t[..31], &set),
            None
        );
        let bad = format!("{}g", &t[..31]);
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000000", &bad, &set),
            None
        );
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000001", &t, &set),
            None
        );
    }

    #[test]
    fn during_a_rotation_either_secret_passes_and_says_which() {
        let set = SecretSet {
            current: VendorSecret::new("new"),
            previous: Some(VendorSecret::new("old")),
        };
        let old = sign(Scheme::Md5, "1234", "1700000000", &VendorSecret::new("old"));
        let new = sign(Scheme::Md5, "1234", "1700000000", &VendorSecret::new("new"));
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000000", &old, &set),
            Some(SecretSlot::Previous)
        );
        assert_eq!(
            verify_token(Scheme::Md5, "1234", "1700000000", &new, &set),
            Some(SecretSlot::Current)
        );
    }

    #[test]
    fn hex_matching_agrees_with_decoding_for_every_byte_pair() {
        for value in 0..=255u8 {
            for a in 0..=255u8 {
                for b in [a, b'0', b'f', b'F', b'9', b'g', b'G', b'@', b'`'] {
                    let mut decoded = [0u8; 1];
                    let expected =
                        hex::decode_to_slice([a, b], &mut decoded).is_ok() && decoded[0] == value;
                    assert_eq!(
                        hex_matches(&[value], &[a, b]),
                        expected,
                        "{value} {a:#x} {b:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn hmac_tokens_are_64_hex_and_length_prefixed() {
        let a = sign(Scheme::HmacSha256, "1234", "1700000000", &pass());
        let b = sign(Scheme::HmacSha256, "123", "41700000000", &pass());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b, "the length prefix must separate the two splits");
        let set = SecretSet::single(pass());
        assert!(verify_token(Scheme::HmacSha256, "1234", "1700000000", &a, &set).is_some());
        assert!(verify_token(Scheme::Md5, "1234", "1700000000", &a, &set).is_none());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let set = SecretSet::single(pass());
        assert!(!format!("{set:?}").contains("vendorpass"));
    }
}
