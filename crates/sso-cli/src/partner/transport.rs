//! How the partner helpers reach a server: name resolution (`--resolve`, and `*.localhost` on
//! loopback), one request with redirects left to the caller, `--verbose` without secrets, and
//! transport errors that say what failed and what to try.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::Args;
use reqwest::Url;

use crate::CliError;

/// How the helpers connect (shared by `sso link --open` and `sso call`).
#[derive(Args, Clone, Default)]
pub struct ConnectArgs {
    /// Connect to ADDR for HOST:PORT, as curl's --resolve does (repeatable), e.g.
    /// --resolve demoaws.localhost:8080:127.0.0.1. Without it, a `*.localhost` name (and
    /// `localhost`) goes to loopback, as RFC 6761 reserves it and browsers do.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Show the request and the answer's status and headers on stderr (secrets masked).
    #[arg(long, short)]
    pub verbose: bool,
}

/// Parameters and headers whose values are secrets: never shown by `--verbose`.
const SECRET_NAMES: [&str; 6] = [
    "api_pass_h",
    "api_pass",
    "api_key",
    "sso_pass",
    "platform-key",
    "token",
];

/// One `--resolve` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    host: String,
    port: u16,
    addr: IpAddr,
}

impl std::str::FromStr for Resolve {
    type Err = CliError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CliError::Config(format!("--resolve {s}: expected HOST:PORT:ADDR"));
        let mut parts = s.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port: port.parse().map_err(|_| bad())?,
            addr: addr.parse().map_err(|_| bad())?,
        })
    }
}

/// An HTTP client for one target URL, with the resolution the flags ask for.
pub struct Transport {
    http: reqwest::Client,
    verbose: bool,
    /// Where the target's name was sent, when it was overridden (for error hints).
    overridden: Option<String>,
}

/// What a server answered, with redirects not followed.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Location`, when there is one.
    pub location: Option<String>,
    /// `Content-Type`.
    pub content_type: String,
    /// Whether the answer set a cookie (a session, on a sign-in).
    pub sets_cookie: bool,
    /// The body.
    pub body: String,
}

impl Transport {
    /// A client that reaches `target`'s host as `connect` says.
    pub fn for_url(target: &Url, connect: &ConnectArgs) -> Result<Self, CliError> {
        // reqwest is built without a TLS provider of its own (see the workspace Cargo.toml):
        // ring, installed once per process; an error only says one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        let host = target.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = target.port_or_known_default().unwrap_or(80);
        let mut overridden = None;
        let resolves = connect
            .resolve
            .iter()
            .map(|r| r.parse::<Resolve>())
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(r) = resolves.iter().find(|r| r.host == host && r.port == port) {
            builder = builder.resolve(&host, SocketAddr::new(r.addr, port));
            overridden = Some(format!("{} (--resolve)", r.addr));
        } else if is_localhost(&host) {
            builder = builder.resolve_to_addrs(
                &host,
                &[
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
                ],
            );
            overridden = Some("loopback (a *.localhost name)".to_owned());
        }
        if let (true, Some(to)) = (connect.verbose, &overridden) {
            eprintln!("* {host}:{port} is reached at {to}");
        }
        let http = builder
            .build()
            .map_err(|e| CliError::Transport(chain(&e)))?;
        Ok(Self {
            http,
            verbose: connect.verbose,
            overridden,
        })
    }

    /// Sends one request; `form` and `json` bodies are shown masked with `--verbose`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<Body>,
    ) -> Result<Answer, CliError> {
        let mut req = self.http.request(method.clone(), url.clone());
        if self.verbose {
            eprintln!("> {method} {}", masked_url(url));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
            if self.verbose {
                eprintln!("> {name}: {}", shown(name, value));
            }
        }
        if let Some(body) = body {
            if self.verbose {
                eprintln!("> content-type: {}", body.content_type);
                eprintln!("> {}", body.shown);
            }
            req = req
                .header("content-type", body.content_type)
                .body(body.text);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(url, &e))?;
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = resp.status().as_u16();
        let location = header(reqwest::header::LOCATION);
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let sets_cookie = resp.headers().contains_key(reqwest::header::SET_COOKIE);
        if self.verbose {
            eprintln!("< HTTP {status}");
            if let Some(l) = &location {
                eprintln!("< location: {l}");
            }
            eprintln!("< content-type: {content_type}");
        }
        let body = resp
            .text()
            .await
            .map_err(|e| self.transport_error(url, &e))?;
        Ok(Answer {
            status,
            location,
            content_type,
            sets_cookie,
            body,
        })
    }

    fn transport_error(&self, url: &Url, e: &reqwest::Error) -> CliError {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let causes = chain(e);
        let lower = causes.to_ascii_lowercase();
        let hint = if lower.contains("dns error") || lower.contains("lookup address") {
            format!(
                "\n  the name {host} does not resolve on this machine; to reach a local server \
                 pass --resolve {host}:{port}:127.0.0.1"
            )
        } else if lower.contains("connection refused") {
            let at = self.overridden.as_deref().unwrap_or(host);
            format!("\n  nothing listens on port {port} at {at}; is `sso serve` running there?")
        } else if url.scheme() == "https"
            && [
                "tls",
                "certificate",
                "handshake",
                "corrupt message",
                "alert",
            ]
            .iter()
            .any(|w| lower.contains(w))
        {
            format!(
                "\n  the TLS handshake with {host}:{port} failed; a local `sso serve` speaks plain \
                 HTTP (use http://), a server behind TLS must present a certificate this machine \
                 trusts for {host}"
            )
        } else if e.is_timeout() {
            "\n  no answer in time (10 s to connect, 30 s in all)".to_owned()
        } else {
            String::new()
        };
        CliError::Transport(format!("{causes}{hint}"))
    }
}

/// A request body, with the form it is shown in by `--verbose`.
pub struct Body {
    content_type: &'static str,
    text: String,
    shown: String,
}

impl Body {
    /// An `application/x-www-form-urlencoded` body.
    pub fn form(pairs: &[(&str, &str)]) -> Self {
        let encode = |pairs: &mut dyn Iterator<Item = (&str, &str)>| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                s.append_pair(k, v);
            }
            s.finish()
        };
        Self {
            content_type: "application/x-www-form-urlencoded",
            text: encode(&mut pairs.iter().copied()),
            shown: encode(&mut pairs.iter().map(|(k, v)| (*k, shown(k, v)))),
        }
    }

    /// An `application/json` body (its fields are never secrets).
    pub fn json(value: &serde_json::Value) -> Self {
        Self {
            content_type: "application/json",
            text: value.to_string(),
            shown: value.to_string(),
        }
    }
}

/// `*.localhost` and `localhost` itself (RFC 6761: always loopback).
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "localhost" || host.ends_with(".localhost")
}

fn shown<'a>(name: &str, value: &'a str) -> &'a str {
    if SECRET_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        "(secret)"
    } else {
        value
    }
}

/// `url` with secret query values replaced.
fn masked_url(url: &Url) -> String {
    let mut shown_url = url.clone();
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = shown(&k, &v).to_owned();
                (k.into_owned(), v)
            })
            .collect();
        shown_url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown_url.to_string()
}

/// An error and every cause under it, outermost first: reqwest's own message alone says
/// only "error sending request".
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries_are_read_as_curl_reads_them() {
        let r: Resolve = "Demoaws.localhost:8080:127.0.0.1".parse().unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.addr),
            ("demoaws.localhost", 8080, IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        let v6: Resolve = "h:80:[::1]".parse().unwrap();
        assert_eq!(v6.addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
        for bad in ["h:80", "h:x:127.0.0.1", "h:80:nowhere", ""] {
            assert!(bad.parse::<Resolve>().is_err(), "{bad}");
        }
    }

    #[test]
    fn localhost_names_are_loopback_and_others_are_not() {
        assert!(is_localhost("demoaws.localhost"));
        assert!(is_localhost("localhost."));
        assert!(!is_localhost("localhost.example.com"));
        assert!(!is_localhost("notlocalhost"));
    }

    #[test]
    fn verbose_output_masks_secrets_in_bodies_queries_and_headers() {
        let body = Body::form(&[
            ("api_user", "admin"),
            ("api_pass_h", "abc"),
            ("sso_pass", "d"),
        ]);
        assert!(body.text.contains("api_pass_h=abc"));
        assert_eq!(
            body.shown,
            "api_user=admin&api_pass_h=%28secret%29&sso_pass=%28secret%29"
        );
        let url = Url::parse("http://h/signin.php?clientID=1&token=abc").unwrap();
        assert!(!masked_url(&url).contains("abc"));
        assert_eq!(shown("Platform-Key", "k"), "(secret)");
    }
}
