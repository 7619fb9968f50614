//! Configuration every adapter shares. Every URL we hand out is built from here, never from
//! the request's `Host`.

use ipnet::IpNet;

/// Shared web configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Tenants live at `<tenant>.<base_domain>`, the portal at `my.<base_domain>`.
    pub base_domain: String,
    /// `https` in production; `http` only for a local server on loopback (then cookies drop
    /// `Secure` and the `__Host-` prefix, which browsers refuse over plain http).
    pub https: bool,
    /// The port public URLs carry (`None` for the scheme's default).
    pub public_port: Option<u16>,
    /// Single-tenant mode: hosts that name no tenant are this tenant.
    pub single_tenant: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed (empty: never).
    pub trusted_proxies: Vec<IpNet>,
    /// A session's `last_seen` is written at most this often (seconds); idle timeouts are
    /// accurate to it.
    pub touch_interval: i64,
    /// Audit events go to the store as well as to the log (local default; opt-in in Lambda).
    pub audit_to_store: bool,
    /// Readiness (`/readyz`) also proves the secret key opens the table's sealed canary (set
    /// where a key was configured; a function that never opens sealed records has none).
    pub check_sealed_canary: bool,
    /// Sources allowed to read the local server's Prometheus `/metrics` (default loopback).
    pub metrics_from: Vec<IpNet>,
}

/// Loopback, IPv4 and IPv6: who may read `/metrics` unless configured otherwise.
pub fn loopback_nets() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            base_domain: "localhost".into(),
            https: false,
            public_port: None,
            single_tenant: None,
            trusted_proxies: Vec::new(),
            touch_interval: 60,
            audit_to_store: true,
            check_sealed_canary: false,
            metrics_from: loopback_nets(),
        }
    }
}

impl WebConfig {
    /// `https://<host>[:port]` for a host under the base domain.
    pub fn origin(&self, label: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.public_port {
            Some(p) => format!("{scheme}://{label}.{}:{p}", self.base_domain),
            None => format!("{scheme}://{label}.{}", self.base_domain),
        }
    }

    /// A CSP source matching every host of this deployment (`https://*.<base>[:port]`).
    pub fn all_hosts_source(&self) -> String {
        self.origin("*")
    }

    /// The origin of a tenant host.
    pub fn tenant_origin(&self, tenant: &str) -> String {
        self.origin(tenant)
    }

    /// The origin of the portal host.
    pub fn portal_origin(&self) -> String {
        self.origin(crate::host::PORTAL_LABEL)
    }
}
