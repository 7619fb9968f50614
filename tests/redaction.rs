//! Log redaction as a test. Every line the servers of the e2e tests log (JSON, as `sso serve`
//! writes them, at `info` and the gateway's own crates at `debug`) is captured in memory, and
//! every secret the tests use or receive is registered: the demo directory's passwords, their
//! md5 digests, API and Platform-Keys, the secret key; and, seen at the server's socket by an
//! observing layer, every link token, `_ssot` and `/sso/login` token, credential parameter,
//! Platform-Key header, session and CSRF cookie (whole and each half) and every token, hash or
//! CSRF value in an answer. A secret found in any line is a violation; each test's server
//! checks on shutdown ([`assert_clean`]) so the test that leaked fails.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

#[derive(Default)]
struct Capture {
    lines: Vec<String>,
    secrets: Vec<String>,
    violations: Vec<String>,
    /// Lines captured so far (all tests of this binary), for the figures.
    count: usize,
}

fn capture() -> &'static Mutex<Capture> {
    static CAPTURE: OnceLock<Mutex<Capture>> = OnceLock::new();
    CAPTURE.get_or_init(Mutex::default)
}

fn with<T>(f: impl FnOnce(&mut Capture) -> T) -> T {
    let mut c = capture().lock().unwrap_or_else(|e| e.into_inner());
    f(&mut c)
}

/// Registers a secret: it must appear in no log line, past or future.
pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    with(|c| {
        if c.secrets.iter().any(|s| s == secret) {
            return;
        }
        for line in &c.lines {
            if line.contains(secret) {
                let v = format!("secret {secret:?} in log line {line}");
                c.violations.push(v);
            }
        }
        c.secrets.push(secret.to_owned());
    });
}

fn log_line(line: &str) {
    with(|c| {
        for s in &c.secrets {
            if line.contains(s.as_str()) {
                let v = format!("secret {s:?} in log line {line}");
                c.violations.push(v);
            }
        }
        c.count += 1;
        // Bounded memory: older lines were already checked against every secret registered
        // before them; a secret registered later is checked against the lines kept.
        if c.lines.len() >= 200_000 {
            c.lines.drain(..100_000);
        }
        c.lines.push(line.to_owned());
    });
}

/// Lines captured so far and secrets registered.
pub fn figures() -> (usize, usize) {
    with(|c| (c.count, c.secrets.len()))
}

/// Panics with every violation found so far (once: they are taken).
pub fn assert_clean() {
    let found = with(|c| std::mem::take(&mut c.violations));
    assert!(
        found.is_empty(),
        "secrets in the server's logs:\n{}",
        found.join("\n")
    );
}

struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        for line in String::from_utf8_lossy(&self.0).lines() {
            log_line(line);
        }
    }
}

/// Installs the capturing subscriber (once per test binary) and registers the demo
/// directory's secrets.
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let filter = sso_web::log_filter(
            "info,sso_cli=debug,sso_web=debug,sso_store=debug,sso_virtualagent=debug,\
             sso_activecampaign=debug,sso_sticky=debug",
        );
        let _ = tracing_subscriber::fmt()
            .json()
            .with_writer(|| LineWriter(Vec::new()))
            .finish()
            .with(filter)
            .try_init();
        for s in DEMO_SECRETS {
            register_secret(s);
        }
        for pw in DEMO_PASSWORDS {
            register_secret(pw);
            register_secret(&sso_core::helpdesk::password_digest(pw));
        }
    });
}

/// Keys and the secret key of the demo directory and the test servers.
const DEMO_SECRETS: [&str; 3] = [
    "demo-api-key",
    "demo-platform-key",
    "0000000000000000000000000000000000000000000000000000000000000000",
];

/// Every password of the demo directory (each is also registered as its md5 digest).
const DEMO_PASSWORDS: [&str; 8] = [
    "vendorpass",
    "vendorpass2",
    "clientpass",
    "test123",
    "acjoe123",
    "ownerpass",
    "agentpass",
    "adminpass",
];

/// Parameters whose values are secrets (credentials, tokens, CSRF values).
const SECRET_PARAMS: [&str; 9] = [
    "token",
    "_ssot",
    "api_pass_h",
    "api_pass",
    "api_key",
    "sso_pass",
    "password",
    "csrf",
    "hash",
];

/// A cookie value, whole and each of its dot-separated halves.
fn register_cookie_value(v: &str) {
    register_dynamic(v);
    for part in v.split(['.', '%']) {
        register_dynamic(part);
    }
}

/// Values seen at the socket: long enough to be a token or digest (a request id is 16 hex
/// characters and is logged on purpose).
fn register_dynamic(v: &str) {
    if v.len() >= 20 {
        register_secret(v);
    }
}

fn register_query(query: &str) {
    for (k, v) in url_pairs(query) {
        if SECRET_PARAMS.contains(&k.as_str()) {
            register_dynamic(&v);
        }
    }
}

fn url_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let dec = |x: &str| {
                percent_encoding::percent_decode_str(&x.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Tokens in an answer's body: JSON `"token"`/`"hash"`/`"url"` values, XML and PHP-serialized
/// ones, the CSRF hidden field, `token=` in a URL: every run of 20+ token characters after one
/// of those markers.
fn register_body(body: &str) {
    const MARKERS: [&str; 8] = [
        "\"token\":\"",
        "\"hash\":\"",
        "<token>",
        "<hash>",
        "token=",
        "_ssot=",
        "name=\"csrf\" value=\"",
        ":\"",
    ];
    for m in MARKERS {
        for rest in body.split(m).skip(1) {
            let t: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if t.len() >= 32 {
                register_dynamic(&t);
            }
        }
    }
}

/// The observing layer: registers the secrets of each request and answer at the server's
/// socket. Installed by `spawn_on` around the application's router.
pub async fn observe(req: Request, next: Next) -> Response {
    if let Some(q) = req.uri().query() {
        register_query(q);
    }
    for (name, value) in req.headers() {
        let Ok(v) = value.to_str() else { continue };
        match name.as_str() {
            "platform-key" | "authorization" => register_dynamic(v.trim()),
            "cookie" => {
                for pair in v.split(';') {
                    if let Some((_, val)) = pair.trim().split_once('=') {
                        register_cookie_value(val);
                    }
                }
            }
            _ => {}
        }
    }
    let resp = next.run(req).await;
    let (parts, body) = resp.into_parts();
    for c in parts.headers.get_all("set-cookie") {
        if let Some((_, v)) = c
            .to_str()
            .ok()
            .and_then(|c| c.split(';').next()?.split_once('='))
        {
            register_cookie_value(v);
        }
    }
    if let Some((_, q)) = parts
        .headers
        .get("location")
        .and_then(|l| l.to_str().ok()?.split_once('?'))
    {
        register_query(q);
    }
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    register_body(&String::from_utf8_lossy(&bytes));
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_secret_in_a_line_is_a_violation_whichever_comes_first() {
        log_line("{\"msg\":\"before abcdefabcdefabcdefabcdef01\"}");
        register_secret("abcdefabcdefabcdefabcdef01");
        register_secret("0123456789zyxwvutsrqponm");
        log_line("{\"msg\":\"after 0123456789zyxwvutsrqponm\"}");
        let found = with(|c| std::mem::take(&mut c.violations));
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn secrets_are_found_in_queries_cookies_and_bodies() {
        register_query("token=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345&x=1");
        register_cookie_value("k1k1k1k1k1k1k1k1k1k1k1k1.s2s2s2s2s2s2s2s2s2s2s2s2.1001");
        register_body("{\"token\":\"t3t3t3t3t3t3t3t3t3t3t3t3t3t3t3t3\"}");
        let s = with(|c| c.secrets.clone());
        for want in [
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            "k1k1k1k1k1k1k1k1k1k1k1k1",
            "s2s2s2s2s2s2s2s2s2s2s2s2",
            "t3t3t3t3t3t3t3t3t3t3t3t3t3t3t3t3",
        ] {
            assert!(s.iter().any(|x| x == want), "{want}");
        }
    }
}
