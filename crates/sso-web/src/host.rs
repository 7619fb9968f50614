//! Which tenant a request is for, from its `Host` header.

use http::HeaderMap;
use http::header::HOST;

use crate::WebConfig;

/// The portal's host label (`my.<base-domain>`).
pub const PORTAL_LABEL: &str = "my";

/// Labels that are never tenants.
pub const RESERVED: [&str; 4] = ["my", "www", "api", "admin"];

/// What a `Host` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// A tenant host (not yet checked against the directory).
    Tenant(String),
    /// The portal host.
    Portal,
    /// Anything else: a plain 404.
    Unknown,
}

/// Normalises a `Host` value: lower case, port and one trailing dot removed.
pub fn normalise(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let without_port = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host.clone(), |(h, _)| format!("{h}]"))
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host.clone(), |(h, _)| h.to_owned())
    };
    without_port
        .strip_suffix('.')
        .unwrap_or(&without_port)
        .to_owned()
}

/// Classifies a host name under the configured base domain.
pub fn classify(host: &str, config: &WebConfig) -> HostKind {
    let host = normalise(host);
    let base = config.base_domain.to_ascii_lowercase();
    let label = host
        .strip_suffix(base.as_str())
        .and_then(|rest| rest.strip_suffix('.'))
        .filter(|l| is_label(l));
    match label {
        Some(PORTAL_LABEL) => HostKind::Portal,
        Some(l) if !RESERVED.contains(&l) => HostKind::Tenant(l.to_owned()),
        _ => match &config.single_tenant {
            Some(t) if host == base || host == "127.0.0.1" || host == "[::1]" => {
                HostKind::Tenant(t.clone())
            }
            _ => HostKind::Unknown,
        },
    }
}

/// Classifies the request's `Host` header (absent or unreadable: unknown).
pub fn classify_headers(headers: &HeaderMap, config: &WebConfig) -> HostKind {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map_or(HostKind::Unknown, |h| classify(h, config))
}

fn is_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WebConfig {
        WebConfig {
            base_domain: "sso.example".into(),
            ..WebConfig::default()
        }
    }

    #[test]
    fn tenant_hosts_are_normalised() {
        for h in [
            "demoaws.sso.example",
            "DemoAWS.SSO.example:8443",
            "demoaws.sso.example.",
        ] {
            assert_eq!(
                classify(h, &cfg()),
                HostKind::Tenant("demoaws".into()),
                "{h}"
            );
        }
        assert_eq!(classify("my.sso.example", &cfg()), HostKind::Portal);
    }

    #[test]
    fn other_hosts_are_unknown() {
        for h in [
            "sso.example",
            "www.sso.example",
            "admin.sso.example",
            "a.b.sso.example",
            "demoawssso.example",
            "demoaws.sso.example.evil",
            "evil.example",
            "-x.sso.example",
            "",
        ] {
            assert_eq!(classify(h, &cfg()), HostKind::Unknown, "{h}");
        }
    }

    #[test]
    fn single_tenant_mode_serves_the_bare_host() {
        let c = WebConfig {
            single_tenant: Some("demoaws".into()),
            base_domain: "localhost".into(),
            ..WebConfig::default()
        };
        assert_eq!(
            classify("localhost:8080", &c),
            HostKind::Tenant("demoaws".into())
        );
        assert_eq!(
            classify("sandboxdemo.localhost:8080", &c),
            HostKind::Tenant("sandboxdemo".into())
        );
        assert_eq!(classify("evil.example", &c), HostKind::Unknown);
    }
}
