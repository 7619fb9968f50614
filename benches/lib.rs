//! Benchmarks live in `benches/`; this library only holds the fixtures they share.

use sso_core::expiry::ExpiryPolicy;
use sso_core::signed_link::{
    Identifier, LinkRequest, Scheme, SecretSet, VendorKeys, VendorSecret, sign,
};

/// The instant every benchmark pretends it is (Unix seconds).
pub const NOW: i64 = 1_700_000_000;

/// The demo vendor 1001's keys.
pub fn demo_vendor() -> VendorKeys {
    VendorKeys {
        scheme: Scheme::Md5,
        secrets: SecretSet::single(VendorSecret::new("vendorpass")),
        policy: ExpiryPolicy::default(),
        enabled: true,
    }
}

/// A valid link for client@example.com signed by the demo vendor at [`NOW`].
pub fn demo_link() -> LinkRequest {
    let timestamp = NOW.to_string();
    let token = sign(
        Scheme::Md5,
        "client@example.com",
        &timestamp,
        &VendorSecret::new("vendorpass"),
    );
    LinkRequest {
        identifier: Identifier::Email("client@example.com".into()),
        vendor_id: "1001".into(),
        timestamp,
        token,
    }
}
