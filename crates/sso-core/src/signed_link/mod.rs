//! Signed-link SSO (Virtual Agent Connect style, PROTOCOLS.md §1).
//!
//! A partner ("vendor") signs `identifier . timestamp` with a password it shares with us and
//! sends the browser to `/signin.php`. This module holds the parts of that flow that need no
//! store: [`request`] parses the parameters (check 1 of the documented order), [`sign`] signs
//! and verifies tokens in constant time (check 2), and [`check_link`] runs checks 2 and 3 in
//! order so that without the vendor password nobody learns whether a timestamp would pass.
//! Checks 4–6 (replay, client lookup, duplicate email) need the store and live in the adapter,
//! which reports them with the same [`LinkError`].

pub mod diagnose;
mod error;
pub mod request;
pub mod sign;

pub use diagnose::{Diagnosis, diagnose};
pub use error::{ErrorId, LinkError};
pub use request::{Identifier, LinkRequest, parse_request};
pub use sign::{Scheme, SecretSet, SecretSlot, VendorSecret, sign, verify_token};

use crate::expiry::{ExpiryPolicy, ValidTimestamp};

/// What a vendor's link is checked with: its scheme, its live secrets and its expiry policy.
#[derive(Debug, Clone)]
pub struct VendorKeys {
    /// md5 (the seed's) or the HMAC-SHA256 upgrade.
    pub scheme: Scheme,
    /// One secret, or two during a rotation.
    pub secrets: SecretSet,
    /// When a link's timestamp is acceptable.
    pub policy: ExpiryPolicy,
    /// A disabled vendor is answered exactly like an unknown one.
    pub enabled: bool,
}

/// A link whose signature and timestamp passed: what the adapter needs for checks 4–6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    /// Which of the vendor's secrets signed it (to tell when an old secret can be retired).
    pub slot: SecretSlot,
    /// The timestamp and how long the replay record must live.
    pub timestamp: ValidTimestamp,
}

/// Runs checks 2 (vendor known and enabled, token matches) and 3 (timestamp) of PROTOCOLS.md §1,
/// in that order. `vendor` is `None` when the vendor id is unknown to the tenant.
///
/// An unknown or disabled vendor still costs one digest, so response time does not say which
/// vendor ids exist.
pub fn check_link(
    req: &LinkRequest,
    vendor: Option<&VendorKeys>,
    now: i64,
) -> Result<VerifiedLink, LinkError> {
    let Some(keys) = vendor.filter(|k| k.enabled) else {
        let decoy = SecretSet::single(VendorSecret::new(""));
        let _ = verify_token(
            Scheme::Md5,
            req.identifier.as_str(),
            &req.timestamp,
            &req.token,
            &decoy,
        );
        return Err(LinkError::UnknownVendor);
    };
    let slot = verify_token(
        keys.scheme,
        req.identifier.as_str(),
        &req.timestamp,
        &req.token,
        &keys.secrets,
    )
    .ok_or(LinkError::BadSignature)?;
    let timestamp = keys.policy.check(&req.timestamp, now)?;
    Ok(VerifiedLink { slot, timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn keys() -> VendorKeys {
        VendorKeys {
            scheme: Scheme::Md5,
            secrets: SecretSet::single(VendorSecret::new("vendorpass")),
            policy: ExpiryPolicy::default(),
            enabled: true,
        }
    }

    /// The demo vendor's signature of client 1234 at `ts`.
    fn signed(ts: i64) -> String {
        sign(
            Scheme::Md5,
            "1234",
            &ts.to_string(),
            &VendorSecret::new("vendorpass"),
        )
    }

    fn request(ts: i64, token: String) -> LinkRequest {
        LinkRequest {
            identifier: Identifier::ClientId("1234".into()),
            vendor_id: "1001".into(),
            timestamp: ts.to_string(),
            token,
        }
    }

    #[test]
    fn a_good_link_passes_and_its_replay_key_is_lower_case() {
        let token = signed(NOW);
        let req = request(NOW, token.to_ascii_uppercase());
        let ok = check_link(&req, Some(&keys()), NOW).unwrap();
        assert_eq!(ok.slot, SecretSlot::Current);
        assert_eq!(req.replay_token(), token);
    }

    #[test]
    fn the_signature_is_checked_before_the_timestamp() {
        let old = NOW - 100_000;
        let req = request(old, "0".repeat(32));
        assert_eq!(
            check_link(&req, Some(&keys()), NOW),
            Err(LinkError::BadSignature)
        );
        let token = signed(old);
        let err = check_link(&request(old, token), Some(&keys()), NOW).unwrap_err();
        assert_eq!(err.error_id(), ErrorId::Expired);
    }

    #[test]
    fn unknown_and_disabled_vendors_are_unauthorized() {
        let token = signed(NOW);
        let req = request(NOW, token);
        assert_eq!(check_link(&req, None, NOW), Err(LinkError::UnknownVendor));
        let mut disabled = keys();
        disabled.enabled = false;
        assert_eq!(
            check_link(&req, Some(&disabled), NOW),
            Err(LinkError::UnknownVendor)
        );
    }
}
