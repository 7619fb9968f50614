//! `/sso/0`: a partner's server, holding a Platform-Key and calling from an allowed address,
//! asks for a one-time login URL for an agent. The checks run in PROTOCOLS.md §3a's order.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method};
use ipnet::IpNet;
use sso_core::callcenter::CallCenterError;
use sso_core::ident::StorageKey;
use sso_store::model::{Outcome, PlatformKey, Protocol, Tenant};
use sso_web::extract::{Host, SourceIp};
use sso_web::host::HostKind;
use sso_web::{Platform, form};

use crate::error::{Error, IssueError, answer};
use crate::grant::{self, Grant};
use crate::rate::Limiter;

/// The call-center router's state: the platform and the per-key rate limiter.
#[derive(Clone)]
pub struct AppState {
    /// The shared platform.
    pub platform: Platform,
    /// Calls per Platform-Key and second.
    pub limiter: Arc<Limiter>,
}

impl FromRef<AppState> for Platform {
    fn from_ref(state: &AppState) -> Platform {
        state.platform.clone()
    }
}

fn refused(descriptor: &str) -> Outcome {
    Outcome::CallCenterRefused(descriptor.to_owned())
}

/// The store failed before the key was known: audited as `UNAVAILABLE`.
async fn down(p: &Platform, tenant: &str, source_ip: IpAddr, e: IssueError) -> Error {
    p.attempt(Protocol::CallCenter, tenant, source_ip)
        .record(refused(CallCenterError::Unavailable.descriptor()))
        .await;
    Error::Api(e)
}

/// `/sso/0` (every method answers in JSON, after the ordered checks).
pub async fn handle(
    State(state): State<AppState>,
    Host(host): Host,
    SourceIp(source_ip): SourceIp,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let p = &state.platform;
    let HostKind::Tenant(label) = host else {
        return Err(CallCenterError::UnknownPlatform.into());
    };
    let tenant = match p.tenant(&label).await {
        Ok(Some(t)) => t,
        Ok(None) => return Err(CallCenterError::UnknownPlatform.into()),
        Err(e) => return Err(down(p, &label, source_ip, e.into()).await),
    };
    let key: Option<PlatformKey> = match headers.get("platform-key").and_then(|v| v.to_str().ok()) {
        Some(k) if !k.is_empty() => {
            let found = p
                .directory
                .platform_key(&tenant.name, &StorageKey::of_secret(k.trim()))
                .await;
            match found {
                Ok(found) => found.filter(|k| k.enabled),
                Err(e) => return Err(down(p, &tenant.name, source_ip, e.into()).await),
            }
        }
        _ => None,
    };
    let attempt = p
        .attempt(Protocol::CallCenter, &tenant.name, source_ip)
        .issuer(key.as_ref().map_or("", |k| k.key_id.as_str()));
    let (key, grant) = match check(&state, &tenant, key, source_ip, &method, &headers, body).await {
        Ok(checked) => checked,
        Err(e) => {
            attempt.record(refused(e.descriptor())).await;
            return Err(e.into());
        }
    };
    let attempt = attempt.subject(&grant.username);
    let started = attempt.clone().if_it_ends(Outcome::TokenCreated);
    match grant::issue(p, &tenant, &key.partner, &grant, started.to_store()).await {
        Ok(url) => {
            started.stored(None);
            Ok(answer(Ok(&url)))
        }
        Err(e) => {
            attempt.record(refused(e.wire().descriptor())).await;
            Err(e.into())
        }
    }
}

/// The checks after the key was looked up: key valid → address allowed → rate limit →
/// method (only `POST` mints) → content type → JSON parses (no repeated key) → fields.
async fn check(
    state: &AppState,
    tenant: &Tenant,
    key: Option<PlatformKey>,
    source_ip: IpAddr,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<(PlatformKey, Grant), CallCenterError> {
    let key = key.ok_or(CallCenterError::InvalidPlatformKey)?;
    if !allowed(&key.allow_list, source_ip) {
        return Err(CallCenterError::IpNotWhitelisted);
    }
    let now = state.platform.now();
    if !state
        .limiter
        .allow(&format!("{}|{}", tenant.name, key.key_id), now)
    {
        return Err(CallCenterError::RateLimited);
    }
    if method != Method::POST {
        return Err(CallCenterError::MethodNotAllowed);
    }
    let json_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(CallCenterError::InvalidRequest);
    }
    let bytes = form::read_body(body)
        .await
        .map_err(|_| CallCenterError::InvalidRequest)?;
    let value = grant::parse_body(&bytes)?;
    Ok((key, grant::from_json(&value)?))
}

/// Whether `ip` is on the allow-list (single addresses or CIDR ranges, v4 or v6).
pub fn allowed(list: &[String], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    list.iter().any(|entry| match entry.parse::<IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => entry
            .parse::<IpAddr>()
            .is_ok_and(|a| a.to_canonical() == ip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_take_addresses_and_ranges_of_both_families() {
        let list = vec![
            "127.0.0.1/32".to_owned(),
            "::1/128".to_owned(),
            "10.1.0.0/16".to_owned(),
            "192.0.2.7".to_owned(),
        ];
        for ok in [
            "127.0.0.1",
            "::1",
            "10.1.0.0",
            "10.1.255.255",
            "192.0.2.7",
            "::ffff:127.0.0.1",
        ] {
            assert!(allowed(&list, ok.parse().unwrap()), "{ok}");
        }
        for no in ["127.0.0.2", "10.2.0.0", "10.0.255.255", "::2", "192.0.2.8"] {
            assert!(!allowed(&list, no.parse().unwrap()), "{no}");
        }
    }
}
