//! The session cookie and the CSRF cookie.
//!
//! Host-only (no `Domain`), `HttpOnly`, `Path=/`, `SameSite=Lax` (or `None` for a tenant that
//! embeds the platform in a partner's frame), and over https `Secure` with the `__Host-`
//! prefix, which also forbids a sibling subdomain from planting it.
//!
//! A session cookie is one of two shapes:
//! - 32 hex characters: a random [`SessionId`]; the store keys the session by its SHA-256.
//!   (The help desk's same-server `hash` is exactly this value.)
//! - `<64 hex>.<32 hex>.<vendor>`: a signed-link session, stored under a key derived from the
//!   link (so creating it is also the link's replay guard), plus a random secret whose
//!   SHA-256 the session holds, plus the (non-secret) vendor id, so that an expired session
//!   can still be sent to its vendor's logout URL.
//! - `<64 hex>.<32 hex>`: a session that a redeemed login token became (`_ssot`,
//!   `/sso/login`), stored under the token's key, plus a random secret whose SHA-256 the
//!   session holds (the token itself travelled in a URL, so its key alone proves nothing).

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sso_core::ident::{SessionId, StorageKey};
use subtle::ConstantTimeEq;

/// Session cookie name over https.
pub const SESSION_SECURE: &str = "__Host-sso";
/// Session cookie name over plain http (loopback only).
pub const SESSION_PLAIN: &str = "sso";
/// CSRF cookie name over https.
pub const CSRF_SECURE: &str = "__Host-csrf";
/// CSRF cookie name over plain http.
pub const CSRF_PLAIN: &str = "csrf";

/// What a session cookie holds.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionCookie {
    /// A random session id.
    Opaque(SessionId),
    /// A signed-link session: derived key, secret, vendor id.
    Link {
        /// Where the session item is.
        key: StorageKey,
        /// The secret whose SHA-256 the item holds.
        secret: [u8; 16],
        /// The vendor whose link created it.
        vendor: String,
    },
    /// A session under a derived key (a redeemed login token): key and secret.
    Keyed {
        /// Where the session item is.
        key: StorageKey,
        /// The secret whose SHA-256 the item holds.
        secret: [u8; 16],
    },
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionCookie::Opaque(_) => f.write_str("SessionCookie::Opaque(***)"),
            SessionCookie::Link { vendor, .. } => {
                write!(f, "SessionCookie::Link(***, vendor {vendor})")
            }
            SessionCookie::Keyed { .. } => f.write_str("SessionCookie::Keyed(***)"),
        }
    }
}

impl SessionCookie {
    /// Where the session is stored.
    pub fn storage_key(&self) -> StorageKey {
        match self {
            SessionCookie::Opaque(id) => id.storage_key(),
            SessionCookie::Link { key, .. } | SessionCookie::Keyed { key, .. } => *key,
        }
    }

    /// The vendor id a signed-link cookie carries.
    pub fn vendor(&self) -> Option<&str> {
        match self {
            SessionCookie::Link { vendor, .. } => Some(vendor),
            SessionCookie::Opaque(_) | SessionCookie::Keyed { .. } => None,
        }
    }

    /// The cookie value.
    pub fn encode(&self) -> String {
        match self {
            SessionCookie::Opaque(id) => id.to_hex(),
            SessionCookie::Link {
                key,
                secret,
                vendor,
            } => format!(
                "{}.{}.{}",
                key.to_hex(),
                hex::encode(secret),
                utf8_percent_encode(vendor, NON_ALPHANUMERIC)
            ),
            SessionCookie::Keyed { key, secret } => {
                format!("{}.{}", key.to_hex(), hex::encode(secret))
            }
        }
    }

    /// Reads a cookie value; anything malformed is no session.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() == 32 {
            return SessionId::parse(value).ok().map(SessionCookie::Opaque);
        }
        let mut parts = value.splitn(3, '.');
        let (key_hex, secret_hex, vendor) = (parts.next()?, parts.next()?, parts.next());
        let mut key = [0u8; 32];
        let mut secret = [0u8; 16];
        hex::decode_to_slice(key_hex, &mut key).ok()?;
        hex::decode_to_slice(secret_hex, &mut secret).ok()?;
        let Some(vendor) = vendor else {
            return Some(SessionCookie::Keyed {
                key: StorageKey::from_bytes(key),
                secret,
            });
        };
        let vendor = percent_decode_str(vendor).decode_utf8().ok()?.into_owned();
        Some(SessionCookie::Link {
            key: StorageKey::from_bytes(key),
            secret,
            vendor,
        })
    }

    /// Whether a stored session's `secret_sha256` matches this cookie (always true for
    /// opaque ids, whose storage key is already the hash of the secret). Constant-time.
    /// A session that has a secret never matches an opaque cookie.
    pub fn secret_matches(&self, stored_sha256_hex: Option<&str>) -> bool {
        match self {
            // A redeemed token's session is stored under SHA-256(token), and the token was in a
            // URL: presenting the token as an opaque id must not open that session.
            SessionCookie::Opaque(_) => stored_sha256_hex.is_none(),
            SessionCookie::Link { secret, .. } | SessionCookie::Keyed { secret, .. } => {
                stored_sha256_hex.is_some_and(|stored| {
                    bool::from(secret_hash(secret).as_bytes().ct_eq(stored.as_bytes()))
                })
            }
        }
    }
}

/// The hash a link session stores of its cookie's secret (SHA-256, as every stored secret).
pub fn secret_hash(secret: &[u8; 16]) -> String {
    StorageKey::digest_of(&[secret]).to_hex()
}

/// Reads the named cookie from the request.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The session cookie name for this scheme.
pub fn session_name(https: bool) -> &'static str {
    if https { SESSION_SECURE } else { SESSION_PLAIN }
}

/// The CSRF cookie name for this scheme.
pub fn csrf_name(https: bool) -> &'static str {
    if https { CSRF_SECURE } else { CSRF_PLAIN }
}

/// The request's session cookie, if well-formed.
pub fn session(headers: &HeaderMap, https: bool) -> Option<SessionCookie> {
    read(headers, session_name(https)).and_then(|v| SessionCookie::parse(&v))
}

/// `Set-Cookie` for a session.
pub fn set_session(value: &SessionCookie, https: bool, same_site_none: bool) -> String {
    build(
        session_name(https),
        value.encode(),
        https,
        same_site_none,
        None,
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session(https: bool) -> String {
    build(session_name(https), String::new(), https, false, Some(0))
}

/// `Set-Cookie` for a CSRF token (lives one hour). `same_site_none` as for the session cookie: a tenant embedded in a partner's frame posts
/// its sign-in forms cross-site, where a `Lax` CSRF cookie would never come back.
pub fn set_csrf(token: &str, https: bool, same_site_none: bool) -> String {
    build(
        csrf_name(https),
        token.to_owned(),
        https,
        same_site_none,
        Some(3600),
    )
}

/// Whether a submitted CSRF token equals the CSRF cookie (double submit), in constant time.
pub fn csrf_ok(headers: &HeaderMap, submitted: &str, https: bool) -> bool {
    read(headers, csrf_name(https)).is_some_and(|cookie| {
        cookie.len() == 32 && bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes()))
    })
}

fn build(
    name: &str,
    value: String,
    https: bool,
    same_site_none: bool,
    max_age: Option<i64>,
) -> String {
    let mut c = Cookie::build((name.to_owned(), value))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(if same_site_none && https {
            SameSite::None
        } else {
            SameSite::Lax
        });
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(age));
    }
    c.build().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_round_trip_and_hide_in_debug() {
        let opaque = opaque();
        assert_eq!(SessionCookie::parse(&opaque.encode()), Some(opaque.clone()));
        let link = SessionCookie::Link {
            key: StorageKey::from_bytes([2; 32]),
            secret: [3; 16],
            vendor: "10 02/é".into(),
        };
        assert_eq!(SessionCookie::parse(&link.encode()), Some(link.clone()));
        assert!(!format!("{link:?}").contains("0303"));
        assert_eq!(SessionCookie::parse("garbage"), None);
        assert_eq!(SessionCookie::parse(&"z".repeat(32)), None);
    }

    #[test]
    fn link_secrets_are_checked_against_their_hash() {
        let link = SessionCookie::Link {
            key: StorageKey::from_bytes([2; 32]),
            secret: [3; 16],
            vendor: "1001".into(),
        };
        assert!(link.secret_matches(Some(&secret_hash(&[3; 16]))));
        assert!(!link.secret_matches(Some(&secret_hash(&[4; 16]))));
        assert!(!link.secret_matches(None));
    }

    #[test]
    fn a_redeemed_token_session_opens_only_with_its_secret() {
        let keyed = SessionCookie::Keyed {
            key: StorageKey::from_bytes([5; 32]),
            secret: [6; 16],
        };
        assert_eq!(SessionCookie::parse(&keyed.encode()), Some(keyed.clone()));
        assert!(!format!("{keyed:?}").contains("0606"));
        assert!(keyed.secret_matches(Some(&secret_hash(&[6; 16]))));
        assert!(!keyed.secret_matches(None));
        // The token travelled in a URL: sent back as an opaque id it names the same item
        // (SHA-256 of the token) but must not open it.
        let token_as_id = SessionCookie::Opaque(SessionId::from_random_bytes([7; 16]));
        assert!(!token_as_id.secret_matches(Some(&secret_hash(&[6; 16]))));
        assert!(token_as_id.secret_matches(None));
    }

    /// A session cookie carrying a random id.
    fn opaque() -> SessionCookie {
        SessionCookie::Opaque(SessionId::from_random_bytes([1; 16]))
    }

    #[test]
    fn a_framed_tenant_gets_cross_site_cookies_over_https_only() {
        let framed = set_session(&opaque(), true, true);
        assert!(
            framed.contains("SameSite=None") && framed.contains("Secure"),
            "{framed}"
        );
        let csrf = set_csrf("abc", true, true);
        assert!(
            csrf.starts_with("__Host-csrf=") && csrf.contains("SameSite=None"),
            "{csrf}"
        );
        assert!(set_csrf("abc", false, true).contains("SameSite=Lax"));
        assert!(set_csrf("abc", true, false).contains("SameSite=Lax"));
    }

    #[test]
    fn cookie_attributes_follow_the_scheme() {
        let c = set_session(&opaque(), true, false);
        assert!(c.starts_with("__Host-sso="));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
        assert!(!c.contains("Domain"));
        let plain = set_session(&opaque(), false, true);
        assert!(
            plain.starts_with("sso=")
                && !plain.contains("Secure")
                && plain.contains("SameSite=Lax")
        );
    }
}
