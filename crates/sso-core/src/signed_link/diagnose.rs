//! An integrator's explanation of a signed link: which check fails and why, in the order
//! `/signin.php` runs them, with the signed string's layout (the secret masked) and the
//! link's age on both clock references. It never contains the expected digest, so showing it
//! (a vendor in test mode, `sso link --check`) tells nobody how to forge a link.
//!
//! Integrators of Zendesk's and Discourse's SSO mostly ask two things: why is the signature
//! invalid, and is my clock wrong. The report answers both from what the link carries.

use super::{LinkError, LinkRequest, VendorKeys, parse_request, verify_token};
use crate::expiry::{ExpiryError, parse_timestamp};

/// What [`diagnose`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The first check that fails (as `/signin.php` would refuse the link), if any. Checks
    /// that need the store (replay, client lookup) are not run.
    pub error: Option<LinkError>,
    /// One line per finding, for a page or a terminal.
    pub lines: Vec<String>,
}

/// Explains `form` (the query string or form body of a `/signin.php` request) against the
/// vendor's `keys` at `now` (Unix seconds).
pub fn diagnose(form: &[u8], keys: &VendorKeys, now: i64) -> Diagnosis {
    let req = match parse_request(form) {
        Ok(r) => r,
        Err(e) => {
            return Diagnosis {
                lines: vec![
                    format!("parameters: {e}."),
                    "A link carries vendorid, timestamp, token and exactly one of clientID or \
                     email, each once."
                        .to_owned(),
                ],
                error: Some(e),
            };
        }
    };
    let mut lines = vec![signed_string(&req, keys)];
    let signature_ok = signature(&req, keys, &mut lines);
    let timestamp = age(&req, keys, now, &mut lines);
    let error = if !keys.enabled {
        lines.insert(0, "vendor: disabled (answered as unknown).".to_owned());
        Some(LinkError::UnknownVendor)
    } else if !signature_ok {
        Some(LinkError::BadSignature)
    } else {
        timestamp.err().map(LinkError::Timestamp)
    };
    lines.push(match &error {
        None => "Signature and timestamp pass; the server then checks that the link is unused \
                 and that the client exists."
            .to_owned(),
        Some(e) => format!("Refused: {e} (errorID {}).", e.error_id().code()),
    });
    Diagnosis { error, lines }
}

fn signed_string(req: &LinkRequest, keys: &VendorKeys) -> String {
    let name = req.identifier.param_name();
    format!(
        "signed string: <{name}><timestamp><password> = \"{}\" . \"{}\" . \"********\", \
         concatenated without separators, {} as lower-case hex ({} characters).",
        req.identifier.as_str(),
        req.timestamp,
        match keys.scheme {
            super::Scheme::Md5 => "md5",
            super::Scheme::HmacSha256 => "HMAC-SHA256 keyed with the password",
        },
        keys.scheme.token_len(),
    )
}

fn signature(req: &LinkRequest, keys: &VendorKeys, lines: &mut Vec<String>) -> bool {
    let len = keys.scheme.token_len();
    if req.token.len() != len || !req.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        lines.push(format!(
            "token: {} characters, expected {len} hexadecimal digits.",
            req.token.len()
        ));
        return false;
    }
    match verify_token(
        keys.scheme,
        req.identifier.as_str(),
        &req.timestamp,
        &req.token,
        &keys.secrets,
    ) {
        Some(slot) => {
            lines.push(format!(
                "token: matches the vendor's {} password.",
                match slot {
                    super::SecretSlot::Current => "current",
                    super::SecretSlot::Previous => "previous",
                }
            ));
            true
        }
        None => {
            lines.push(
                "token: does not match. Sign the identifier, then the timestamp, then the \
                 vendor password, with no separators; sign exactly the values the link sends \
                 (the same timestamp, the identifier before URL-encoding); use this vendor's \
                 password."
                    .to_owned(),
            );
            false
        }
    }
}

fn age(
    req: &LinkRequest,
    keys: &VendorKeys,
    now: i64,
    lines: &mut Vec<String>,
) -> Result<(), ExpiryError> {
    let policy = keys.policy;
    let Ok(ts) = parse_timestamp(&req.timestamp) else {
        lines.push(format!(
            "timestamp: \"{}\" is not Unix seconds (digits only, no sign, no leading zero).",
            req.timestamp
        ));
        return Err(ExpiryError::Malformed);
    };
    let unix_age = i128::from(now) - i128::from(ts);
    let reference = i128::from(now) + i128::from(policy.reference_offset());
    let reference_age = reference - i128::from(ts);
    let reference_name = if policy.reference_offset() == crate::expiry::CST_OFFSET {
        "Central Standard Time (UTC-06:00)".to_owned()
    } else if policy.reference_offset() == 0 {
        "UTC".to_owned()
    } else {
        format!("UTC{:+} s", policy.reference_offset())
    };
    lines.push(format!(
        "timestamp {ts}: {} by Unix time (now {now}); {} by the reference clock, {reference_name} \
         (now {reference}). A link is accepted from {} s ahead to under {} s old on the \
         reference clock.",
        describe(unix_age),
        describe(reference_age),
        policy.max_future(),
        policy.max_age(),
    ));
    let checked = policy.check_value(ts, now).map(|_| ());
    if let Err(e) = &checked {
        lines.push(format!("timestamp: {e}. Is the partner's clock right?"));
    }
    checked
}

fn describe(age: i128) -> String {
    if age >= 0 {
        format!("{age} s old")
    } else {
        format!("{} s in the future", -age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::ExpiryPolicy;
    use crate::signed_link::{Scheme, SecretSet, VendorSecret, sign};

    const NOW: i64 = 1_700_000_000;

    fn keys() -> VendorKeys {
        VendorKeys {
            scheme: Scheme::Md5,
            secrets: SecretSet::single(VendorSecret::new("vendorpass")),
            policy: ExpiryPolicy::default(),
            enabled: true,
        }
    }

    fn form(ts: i64, token: &str) -> String {
        format!("clientID=1234&vendorid=1001&timestamp={ts}&token={token}")
    }

    #[test]
    fn a_good_link_passes_and_the_report_never_holds_the_password_or_digest() {
        let good = sign(
            Scheme::Md5,
            "1234",
            &NOW.to_string(),
            &VendorSecret::new("vendorpass"),
        );
        let d = diagnose(form(NOW, &good).as_bytes(), &keys(), NOW);
        assert_eq!(d.error, None, "{:?}", d.lines);
        let wrong = diagnose(form(NOW, &"0".repeat(32)).as_bytes(), &keys(), NOW);
        assert_eq!(wrong.error, Some(LinkError::BadSignature));
        let text = wrong.lines.join("\n");
        assert!(text.contains("<clientID><timestamp><password>"), "{text}");
        assert!(
            !text.contains("vendorpass") && !text.contains(&good),
            "{text}"
        );
    }

    #[test]
    fn the_age_is_given_on_both_clocks_and_a_stale_link_says_so() {
        let ts = NOW - 20 * 3600;
        let token = sign(
            Scheme::Md5,
            "1234",
            &ts.to_string(),
            &VendorSecret::new("vendorpass"),
        );
        let d = diagnose(form(ts, &token).as_bytes(), &keys(), NOW);
        assert!(matches!(
            d.error,
            Some(LinkError::Timestamp(ExpiryError::Expired { .. }))
        ));
        let text = d.lines.join("\n");
        assert!(text.contains("72000 s old by Unix time"), "{text}");
        assert!(
            text.contains("50400 s old by the reference clock"),
            "{text}"
        );
        assert!(text.contains("Central Standard Time"), "{text}");
    }

    #[test]
    fn a_missing_parameter_is_named() {
        let d = diagnose(b"clientID=1234&vendorid=1001&token=abc", &keys(), NOW);
        assert_eq!(d.error, Some(LinkError::MissingParameter("timestamp")));
        assert!(d.lines[0].contains("timestamp"), "{:?}", d.lines);
    }
}
