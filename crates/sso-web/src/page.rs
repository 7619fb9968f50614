//! Small server-rendered pages and the responses every adapter shares. Every value shown is
//! HTML-escaped; every response carries the security headers.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE,
};
use http::{HeaderValue, StatusCode};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2330}\
h1{font-size:1.4rem}.box{border:1px solid #ccd;border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}\
.err{background:#fff4f4;border-color:#e8b4b4}.ok{background:#f3fbf5;border-color:#a9d8b5}\
label{display:block;margin:.6rem 0 .2rem}input{padding:.4rem;width:100%;box-sizing:border-box}\
button{margin-top:1rem;padding:.5rem 1.2rem}dt{font-weight:600}dd{margin:0 0 .5rem}";

/// A whole page.
pub fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// Security headers for a page: no caching, no referrer (URLs may carry one-time tokens),
/// framing only by the tenant itself and its registered partner origins.
pub fn secure(mut resp: Response, frame_ancestors: &[String]) -> Response {
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    let mut csp = String::from(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'self'",
    );
    for origin in frame_ancestors {
        // Registered origins were validated as URLs on import; keep only header-safe ones.
        if origin
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
        {
            csp.push(' ');
            csp.push_str(origin);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// Lets a page's forms lead (through redirects) to other hosts of this deployment: the portal's
/// sign-in form continues into a tenant host, which CSP's `form-action 'self'` would block.
pub fn allow_form_redirects_to(mut resp: Response, source: &str) -> Response {
    let updated = resp
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|csp| {
            csp.replace(
                "form-action 'self'",
                &format!("form-action 'self' {source}"),
            )
        });
    if let Some(v) = updated.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// A page response with a status.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut resp = (status, html(title, body)).into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(resp, &[])
}

/// A 302 to `location`, with optional `Set-Cookie` values. `location` must be a path on
/// this host or a URL registered in the directory: never anything taken from the request.
pub fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut builder = Response::builder().status(StatusCode::FOUND);
    if let Ok(v) = HeaderValue::from_str(location) {
        builder = builder.header(LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            builder = builder.header(SET_COOKIE, v);
        }
    }
    let resp = builder.body(Body::empty()).unwrap_or_default();
    secure(resp, &[])
}

/// The plain 404 for hosts and paths that are not ours.
pub fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "<h1>Not found</h1><p>There is no such page here.</p>",
    )
}

/// The 503 page: the store could not be reached; nothing was changed.
pub fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "<h1>Temporarily unavailable</h1><p>The service could not complete your request. Nothing \
         was changed. Please try again in a moment.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"
        );
    }

    #[test]
    fn pages_carry_the_security_headers() {
        let r = secure(not_found(), &["https://partner.example".into()]);
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[REFERRER_POLICY], "no-referrer");
        let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.ends_with("frame-ancestors 'self' https://partner.example"),
            "{csp}"
        );
    }
}
