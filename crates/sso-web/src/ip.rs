//! The source IP the platform saw.
//!
//! The server that accepts the connection (the local listener, or the Lambda wrapper reading
//! API Gateway's `requestContext`) inserts a [`PeerIp`] extension; [`source_ip`] reads it.
//! `X-Forwarded-For` is believed only when the peer is a configured trusted proxy, and then
//! the right-most address that is not itself a trusted proxy wins (the left ones are
//! whatever the client wrote). IPv4-mapped IPv6 addresses are treated as IPv4.

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
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut b = http::Request::builder();
        if let Some(x) = xff {
            b = b.header("x-forwarded-for", x);
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

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let c = WebConfig::default();
        assert_eq!(
            source_ip(&parts("::ffff:127.0.0.1", None), &c).to_string(),
            "127.0.0.1"
        );
    }
}
