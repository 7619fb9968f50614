//! Reading form-encoded input strictly: bounded, UTF-8 only, every name at most once. The
//! sign-in forms use [`StrictForm`]; `api.php` merges query and body with [`decode_pairs`].

use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Request};
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use percent_encoding::percent_decode;
use thiserror::Error;

/// The largest body any endpoint accepts (PROTOCOLS.md §1: "a body over 16 KiB").
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Why a form was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FormRejection {
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("the body is not form-encoded")]
    WrongContentType,
    /// The body is over [`MAX_FORM_BYTES`] (or could not be read).
    #[error("the body is over {MAX_FORM_BYTES} bytes")]
    TooLarge,
    /// A name or value is not UTF-8 after percent-decoding.
    #[error("a field is not UTF-8")]
    NotUtf8,
    /// A name was given twice.
    #[error("field {0} is given more than once")]
    Repeated(String),
}

impl axum::response::IntoResponse for FormRejection {
    /// A plain 400 page; adapters take `Result<StrictForm, FormRejection>` to answer in
    /// their own way (the form again, with a notice).
    fn into_response(self) -> axum::response::Response {
        crate::page::page(
            http::StatusCode::BAD_REQUEST,
            "Bad request",
            "<h1>Bad request</h1><p>The form could not be read.</p>",
        )
    }
}

/// Whether the request says its body is form-encoded (parameters such as a charset allowed).
pub fn is_form_encoded(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The body, at most [`MAX_FORM_BYTES`].
pub async fn read_body(body: axum::body::Body) -> Result<Bytes, FormRejection> {
    to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| FormRejection::TooLarge)
}

fn decode(raw: &[u8]) -> Result<String, FormRejection> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_decode(&spaced).collect()).map_err(|_| FormRejection::NotUtf8)
}

/// Every `name=value` pair of form-encoded bytes, decoded, in order; empty pairs skipped.
pub fn decode_pairs(
    bytes: &[u8],
) -> impl Iterator<Item = Result<(String, String), FormRejection>> + '_ {
    bytes
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
}

/// A form whose every name appears once and whose every byte decoded as UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrictForm {
    fields: Vec<(String, String)>,
}

impl StrictForm {
    /// Parses form-encoded bytes (a body or a query string).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormRejection> {
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in decode_pairs(bytes) {
            let (name, value) = pair?;
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(FormRejection::Repeated(name));
            }
            fields.push((name, value));
        }
        Ok(Self { fields })
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `""`.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequest<S> for StrictForm {
    type Rejection = FormRejection;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_form_encoded(req.headers()) {
            return Err(FormRejection::WrongContentType);
        }
        let bytes = read_body(req.into_body()).await?;
        Self::parse(&bytes)
    }
}

/// The first value of `name` in a query string, leniently decoded (for optional page
/// parameters such as `/login?errorID=` where a bad value only means "none").
pub fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strict_form_refuses_repeats_and_bad_bytes() {
        let f = StrictForm::parse(b"user=a+b&password=p%40ss&csrf=").unwrap();
        assert_eq!(
            (f.value("user"), f.value("password"), f.get("csrf")),
            ("a b", "p@ss", Some(""))
        );
        assert_eq!(f.get("missing"), None);
        assert_eq!(
            StrictForm::parse(b"user=a&user=b"),
            Err(FormRejection::Repeated("user".into()))
        );
        assert_eq!(StrictForm::parse(b"user=%FF"), Err(FormRejection::NotUtf8));
    }
}
