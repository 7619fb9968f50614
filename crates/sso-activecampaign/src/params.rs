//! Reading an `api.php` call: query and form body merged, every parameter checked, before
//! anything is looked up. Pure: bytes in, a typed request or a failure out.

use std::net::IpAddr;

use sso_core::helpdesk::{Action, ApiFailure, OutputFormat};
use sso_web::form::decode_pairs;

/// Largest accepted value, bytes.
const MAX_VALUE_BYTES: usize = 1024;

/// Every parameter name `api.php` reads (anything else is ignored).
pub const NAMES: [&str; 10] = [
    "api_user",
    "api_pass_h",
    "api_pass",
    "api_key",
    "api_output",
    "api_action",
    "sso_addr",
    "sso_user",
    "sso_pass",
    "sso_duration",
];

/// How the caller authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `api_user` + md5 hex of the password (`api_pass_h`, or `api_pass` as the official
    /// PHP client names it), lower-cased.
    Password {
        /// The admin's username.
        user: String,
        /// md5 hex, lower case.
        pass_h: String,
    },
    /// A per-admin API key.
    Key(String),
}

/// A well-formed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The answer's format.
    pub format: OutputFormat,
    /// What to do.
    pub action: Action,
    /// Who calls.
    pub credentials: Credentials,
    /// The visitor's IP (canonical: IPv4-mapped IPv6 as IPv4).
    pub sso_addr: IpAddr,
    /// The user to sign in.
    pub sso_user: String,
    /// md5 hex of the user's password, lower case.
    pub sso_pass: String,
    /// Minutes, 1..=1440.
    pub sso_duration: i64,
}

/// A refused call, with the format to answer in (JSON when the format itself is unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The answer's format.
    pub format: OutputFormat,
    /// Why.
    pub failure: ApiFailure,
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses the raw query and body. `body_ok` is false when a body came with a content type
/// other than form encoding, or was too large.
pub fn parse(query: &[u8], body: &[u8], body_ok: bool) -> Result<ApiRequest, Refusal> {
    let mut values: [Option<String>; 10] = Default::default();
    let mut repeated: Option<&'static str> = None;
    let mut malformed = !body_ok;
    for source in [query, body] {
        for pair in decode_pairs(source) {
            let Ok((name, value)) = pair else {
                malformed = true;
                continue;
            };
            let Some(slot) = NAMES.iter().position(|n| *n == name) else {
                continue;
            };
            if values[slot].is_some() {
                repeated.get_or_insert(NAMES[slot]);
            }
            if value.len() > MAX_VALUE_BYTES {
                malformed = true;
            }
            values[slot] = Some(value);
        }
    }
    let [
        api_user,
        api_pass_h,
        api_pass,
        api_key,
        api_output,
        api_action,
        sso_addr,
        sso_user,
        sso_pass,
        sso_duration,
    ] = values.map(|v| v.filter(|s| !s.is_empty()));

    // The format first: every other failure is answered in it.
    let format = match api_output.as_deref() {
        None => OutputFormat::Serialize,
        Some(name) => OutputFormat::parse(name).unwrap_or(OutputFormat::Json),
    };
    let refuse = |failure| Err(Refusal { format, failure });
    if repeated == Some("api_output") {
        return Err(Refusal {
            format: OutputFormat::Json,
            failure: ApiFailure::RepeatedParameter("api_output"),
        });
    }
    if api_output
        .as_deref()
        .is_some_and(|n| OutputFormat::parse(n).is_none())
    {
        return refuse(ApiFailure::UnknownOutput);
    }
    if malformed {
        return refuse(ApiFailure::MalformedRequest);
    }
    if let Some(name) = repeated {
        return refuse(ApiFailure::RepeatedParameter(name));
    }
    let action = match api_action.as_deref() {
        None => return refuse(ApiFailure::MissingParameter("api_action")),
        Some(a) => match Action::parse(a) {
            Some(a) => a,
            // PROTOCOLS.md §2: an unknown action is answered in JSON, whatever was asked for.
            None => {
                return Err(Refusal {
                    format: OutputFormat::Json,
                    failure: ApiFailure::UnknownAction,
                });
            }
        },
    };
    // `api_pass` is ActiveCampaign's client's name for `api_pass_h`: the same parameter, so
    // both at once is that parameter given twice.
    if api_pass_h.is_some() && api_pass.is_some() {
        return refuse(ApiFailure::RepeatedParameter("api_pass_h"));
    }
    let credentials = match (api_key, api_user, api_pass_h.or(api_pass)) {
        (Some(key), _, _) => Credentials::Key(key),
        (None, None, _) => return refuse(ApiFailure::MissingParameter("api_user")),
        (None, Some(_), None) => return refuse(ApiFailure::MissingParameter("api_pass_h")),
        (None, Some(_), Some(p)) if !is_md5_hex(&p) => {
            return refuse(ApiFailure::InvalidParameter("api_pass_h"));
        }
        (None, Some(user), Some(p)) => Credentials::Password {
            user,
            pass_h: p.to_ascii_lowercase(),
        },
    };
    let Some(addr) = sso_addr else {
        return refuse(ApiFailure::MissingParameter("sso_addr"));
    };
    let Ok(addr) = addr.trim().parse::<IpAddr>() else {
        return refuse(ApiFailure::InvalidParameter("sso_addr"));
    };
    let Some(user) = sso_user else {
        return refuse(ApiFailure::MissingParameter("sso_user"));
    };
    let pass = match sso_pass {
        None => return refuse(ApiFailure::MissingParameter("sso_pass")),
        Some(p) if !is_md5_hex(&p) => return refuse(ApiFailure::InvalidParameter("sso_pass")),
        Some(p) => p.to_ascii_lowercase(),
    };
    let duration = match sso_duration.as_deref() {
        None => return refuse(ApiFailure::MissingParameter("sso_duration")),
        Some(d) => match d.trim().parse::<i64>() {
            Ok(m) if (1..=1440).contains(&m) && d.trim().bytes().all(|b| b.is_ascii_digit()) => m,
            _ => return refuse(ApiFailure::InvalidParameter("sso_duration")),
        },
    };
    Ok(ApiRequest {
        format,
        action,
        credentials,
        sso_addr: addr.to_canonical(),
        sso_user: user,
        sso_pass: pass,
        sso_duration: duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "api_user=admin&api_pass_h=cc03e747a6afbbcbf8be7668acfebee5&api_action=singlesignon\
        &sso_addr=39.129.71.19&sso_user=joe&sso_pass=0f2d1d8eeba6bd1bbd8bd0c1a2b5b0e2&sso_duration=30";

    fn failure(q: &str) -> Refusal {
        parse(q.as_bytes(), b"", true).unwrap_err()
    }

    #[test]
    fn the_seed_call_parses_with_serialize_by_default() {
        let r = parse(GOOD.as_bytes(), b"", true).unwrap();
        assert_eq!(r.format, OutputFormat::Serialize);
        assert_eq!(r.action, Action::SingleSignOn);
        assert_eq!(r.sso_duration, 30);
        assert!(matches!(&r.credentials, Credentials::Password { user, .. } if user == "admin"));
    }

    #[test]
    fn query_and_body_merge_but_a_name_may_not_repeat() {
        let (q, b) = GOOD.split_at(GOOD.find("&sso_addr").unwrap());
        assert!(parse(q.as_bytes(), &b.as_bytes()[1..], true).is_ok());
        let f = parse(GOOD.as_bytes(), b"sso_user=eve", true).unwrap_err();
        assert_eq!(f.failure, ApiFailure::RepeatedParameter("sso_user"));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        use ApiFailure::{InvalidParameter, MissingParameter};
        // The good call with `from` replaced by `to`.
        let cases = [
            ("&sso_user=joe", "", MissingParameter("sso_user")),
            ("39.129.71.19", "localhost", InvalidParameter("sso_addr")),
            (
                "sso_duration=30",
                "sso_duration=0",
                InvalidParameter("sso_duration"),
            ),
            (
                "sso_duration=30",
                "sso_duration=-5",
                InvalidParameter("sso_duration"),
            ),
            (
                "sso_duration=30",
                "sso_duration=1441",
                InvalidParameter("sso_duration"),
            ),
            (
                "sso_duration=30",
                "sso_duration=abc",
                InvalidParameter("sso_duration"),
            ),
            (
                "sso_duration=30",
                "sso_duration=99999999999999999999",
                InvalidParameter("sso_duration"),
            ),
            (
                "cc03e747a6afbbcbf8be7668acfebee5",
                "test123",
                InvalidParameter("api_pass_h"),
            ),
            (
                "singlesignon",
                "deleteeverything",
                ApiFailure::UnknownAction,
            ),
            // Both spellings of the password hash at once.
            (
                "sso_duration=30",
                "sso_duration=30&api_pass=cc03e747a6afbbcbf8be7668acfebee5",
                ApiFailure::RepeatedParameter("api_pass_h"),
            ),
            ("sso_user=joe", "sso_user=%FF", ApiFailure::MalformedRequest),
        ];
        for (from, to, expected) in cases {
            let q = GOOD.replace(from, to);
            assert_eq!(failure(&q).failure, expected, "{q}");
        }
    }

    #[test]
    fn an_unknown_format_is_answered_in_json() {
        let f = failure(&format!("{GOOD}&api_output=yaml"));
        assert_eq!(
            (f.format, f.failure),
            (OutputFormat::Json, ApiFailure::UnknownOutput)
        );
        let f = failure(&GOOD.replace("&sso_user=joe", "&api_output=xml"));
        assert_eq!(f.format, OutputFormat::Xml);
        let f = failure(&format!(
            "{}&api_output=xml",
            GOOD.replace("singlesignon", "frobnicate")
        ));
        assert_eq!(
            (f.format, f.failure),
            (OutputFormat::Json, ApiFailure::UnknownAction),
            "an unknown action is answered in JSON too"
        );
    }

    #[test]
    fn mapped_ipv6_visitors_are_ipv4_and_api_pass_is_accepted() {
        let q = GOOD
            .replace("39.129.71.19", "::ffff:10.1.2.3")
            .replace("api_pass_h", "api_pass");
        let r = parse(q.as_bytes(), b"", true).unwrap();
        assert_eq!(r.sso_addr.to_string(), "10.1.2.3");
    }
}
