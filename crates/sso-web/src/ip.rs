//! The source IP the platform saw.
//!
//! The server that accepts the connection (the local listener, or the Lambda wrapper reading
//! API Gateway's `requestContext`) inserts a [`PeerIp`] extension; [`source_ip`] reads it.
//! `X-Forwarded-For` is believed only when the peer is a configured trusted proxy
//! (`SSO_TRUSTED_PROXIES`, `sso serve --trusted-proxies`). The header's entries (every
//! `X-Forwarded-For` line, in order, split at commas) are then walked from the right: each
//! was appended by the hop to its right, so a trusted proxy's entry is skipped and the first
//! address that is not a trusted proxy is the source (the entries further left are whatever
//! the client wrote). If every entry is a trusted proxy, the source is the peer.
//!
//! An entry that does not parse as a bare IP address (`1.2.3.4:5678`, `[::1]:80`, `unknown`,
//! an empty entry, garbage) **stops the walk**: it is where the client is, and it is never
//! skipped, or a client could hide behind it and have a forged address to its left believed.
//! Since it names no address, the source is then the trusted hop that reported it (the
//! nearest trusted entry to its right, or the peer itself): every such request through that
//! proxy shares one throttle key, and no allow-list admits it unless it lists the proxy.
//! IPv4-mapped IPv6 addresses are treated as IPv4.

use std::net::{IpAddr, Ipv4Addr};

use http::request::Parts;

use crate::WebConfig;

/// The address of the immediate peer, as the accepting server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerIp(pub IpAddr);

/// The request's source IP (unspecified `0.0.0.0` if no server said).
pub fn source_ip(parts: &Parts, config: &WebConfig) -> IpAddr {
    let peer = parts
        .extensions
        .get::<PeerIp>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.to_canonical());
    let trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let lines: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        // A line that is not even text is as opaque as an unparseable entry.
        .map(|v| v.to_str().unwrap_or("?"))
        .collect();
    // The trusted hop whose report is being read: first the peer, then each trusted entry.
    let mut reporter = peer;
    for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if trusted(&ip.to_canonical()) => reporter = ip.to_canonical(),
            Ok(ip) => return ip.to_canonical(),
            Err(_) => return reporter,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let lines: Vec<&[u8]> = xff.iter().map(|x| x.as_bytes()).collect();
        parts_with_lines(peer, &lines)
    }

    /// A request from `peer` with one `X-Forwarded-For` line per entry (raw bytes: a line
    /// need not be text).
    fn parts_with_lines(peer: &str, lines: &[&[u8]]) -> Parts {
        let mut b = http::Request::builder();
        for line in lines {
            b = b.header(
                "x-forwarded-for",
                http::HeaderValue::from_bytes(line).unwrap(),
            );
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        parts.extensions.insert(PeerIp(peer.parse().unwrap()));
        parts
    }

    #[test]
    fn forwarded_for_is_ignored_without_a_trusted_proxy() {
        let c = WebConfig::default();
        assert_eq!(
            source_ip(&parts("203.0.113.9", Some("127.0.0.1")), &c).to_string(),
            "203.0.113.9"
        );
    }

    #[test]
    fn a_trusted_proxy_passes_on_the_rightmost_untrusted_address() {
        let c = WebConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..WebConfig::default()
        };
        let p = parts("10.1.2.3", Some("127.0.0.1, 198.51.100.7, 10.9.9.9"));
        assert_eq!(source_ip(&p, &c).to_string(), "198.51.100.7");
    }

    fn behind(proxies: &[&str]) -> WebConfig {
        WebConfig {
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            ..WebConfig::default()
        }
    }

    #[test]
    fn an_entry_that_is_no_address_stops_the_walk_at_the_proxy_that_reported_it() {
        let c = behind(&["10.0.0.0/8"]);
        // The client cannot hide behind garbage: it is not skipped to reach the forged
        // address on its left. The source is the trusted hop that reported the garbage.
        for junk in [
            "1.2.3.4:5678",
            "unknown",
            "garbage",
            "",
            "[::1]:80",
            "_hidden",
        ] {
            let xff = format!("203.0.113.66, {junk}");
            assert_eq!(
                source_ip(&parts("10.1.2.3", Some(&xff)), &c).to_string(),
                "10.1.2.3",
                "{xff:?}: the peer reported it"
            );
            let xff = format!("203.0.113.66, {junk}, 10.9.9.9");
            assert_eq!(
                source_ip(&parts("10.1.2.3", Some(&xff)), &c).to_string(),
                "10.9.9.9",
                "{xff:?}: the nearer trusted proxy reported it"
            );
        }
        // A header line that is not text at all stops the walk the same way.
        let p = parts_with_lines("10.1.2.3", &[b"203.0.113.66", b"\xff\xfe"]);
        assert_eq!(source_ip(&p, &c).to_string(), "10.1.2.3");
        // An untrusted address to the right of the garbage still wins, as before.
        let p = parts("10.1.2.3", Some("unknown, 198.51.100.7, 10.9.9.9"));
        assert_eq!(source_ip(&p, &c).to_string(), "198.51.100.7");
    }

    #[test]
    fn every_header_line_counts_and_all_trusted_hops_leave_the_peer() {
        let c = behind(&["10.0.0.0/8"]);
        let p = parts_with_lines("10.1.2.3", &[b"198.51.100.1", b"10.0.0.9, 198.51.100.2"]);
        assert_eq!(source_ip(&p, &c).to_string(), "198.51.100.2");
        let p = parts("10.1.2.3", Some("10.0.0.1, 10.0.0.2"));
        assert_eq!(source_ip(&p, &c).to_string(), "10.1.2.3");
        let p = parts("10.1.2.3", Some("::ffff:198.51.100.3"));
        assert_eq!(source_ip(&p, &c).to_string(), "198.51.100.3");
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let c = WebConfig::default();
        assert_eq!(
            source_ip(&parts("::ffff:127.0.0.1", None), &c).to_string(),
            "127.0.0.1"
        );
    }
}
