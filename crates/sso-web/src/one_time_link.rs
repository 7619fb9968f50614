//! Scanner-safe one-time links. Mail and chat link scanners (Microsoft Safe Links and the
//! like) fetch every URL in a message, and a GET that consumes a one-time token burns it
//! before the person clicks. A tenant that turns `scanner_safe_links` on gets, for such a GET,
//! a tiny page whose form posts the token back (submitted by a script, with a button for
//! browsers without scripts); only that POST consumes it. Scanners fetch; they do not post.

use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_SECURITY_POLICY;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::form::{self, query_value};
use crate::page;

/// The page's only script, and its CSP hash (`'sha256-…'` of exactly these bytes; a unit
/// test recomputes it), so no other script can run on the page.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";
const SUBMIT_SCRIPT_HASH: &str = "'sha256-8lDeP0UDwCO6/RhblgeH/ctdBzjVpJxrXizsnIk3cEQ='";

/// How a one-time link's request is to be answered.
pub enum LinkRequest {
    /// Show the confirmation page (nothing is consumed).
    Confirm(Response),
    /// Consume this token (absent: refuse as a bad token).
    Consume(Option<String>),
}

/// Reads a one-time link request: the token `field` from the query of a GET (or, for a
/// scanner-safe tenant, the confirmation page instead), or from the form body of a POST.
pub async fn read(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
    field: &str,
    path: &str,
    scanner_safe: bool,
) -> LinkRequest {
    if *method == Method::POST {
        if !form::is_form_encoded(headers) {
            return LinkRequest::Consume(None);
        }
        let Ok(bytes) = form::read_body(body).await else {
            return LinkRequest::Consume(None);
        };
        return LinkRequest::Consume(
            form::StrictForm::parse(&bytes)
                .ok()
                .and_then(|f| f.get(field).map(str::to_owned)),
        );
    }
    let token = query_value(query, field);
    match token {
        Some(t) if scanner_safe => LinkRequest::Confirm(confirm_page(path, field, &t)),
        t => LinkRequest::Consume(t),
    }
}

/// The page that posts `token` back to `path` as `field`.
pub fn confirm_page(path: &str, field: &str, token: &str) -> Response {
    let body = format!(
        "<h1>Signing you in…</h1><form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">\
         <button type=\"submit\">Continue to sign in</button></form>\
         <script>{SUBMIT_SCRIPT}</script>",
        page::escape(path),
        page::escape(field),
        page::escape(token),
    );
    let mut resp = page::page(StatusCode::OK, "Sign in", &body);
    let csp = resp
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|c| format!("{c}; script-src {SUBMIT_SCRIPT_HASH}"));
    if let Some(v) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    #[test]
    fn the_csp_hash_is_the_hash_of_the_script() {
        let digest = sha2::Sha256::digest(SUBMIT_SCRIPT.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(SUBMIT_SCRIPT_HASH, format!("'sha256-{b64}'"));
    }

    #[test]
    fn the_page_carries_the_token_escaped_and_allows_only_its_script() {
        let resp = confirm_page("/sso/login", "token", "ab\"<c");
        let csp = resp.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'sha256-") && csp.contains("default-src 'none'"));
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}
