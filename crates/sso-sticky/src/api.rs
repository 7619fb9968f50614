//! `POST /sso/0`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Request, State as AxState};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use ipnet::IpNet;
use serde_json::{Value, json};
use sso_core::callcenter::{CallCenterError, SSO_TOKEN_CREATED, STATUS_FAILURE, STATUS_SUCCESS};
use sso_core::ident::StorageKey;
use sso_store::model::{AuditEvent, PlatformKey};
use sso_web::host::{self, HostKind};
use sso_web::{Platform, ip};

use crate::grant;
use crate::rate::Limiter;

/// Largest accepted body.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The router's state.
#[derive(Clone)]
pub struct State {
    pub platform: Platform,
    pub limiter: Arc<Limiter>,
}

/// The JSON answer; the HTTP status equals `code`.
pub fn answer(result: Result<String, CallCenterError>) -> Response {
    let (status, body) = match result {
        Ok(url) => (
            StatusCode::OK,
            json!({
                "success": 1, "code": 200, "url": url, "message": "SSO token created.",
                "status": STATUS_SUCCESS, "descriptor": SSO_TOKEN_CREATED,
            }),
        ),
        Err(e) => (
            StatusCode::from_u16(e.code()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({
                "success": 0, "code": e.code(), "url": "", "message": e.to_string(),
                "status": STATUS_FAILURE, "descriptor": e.descriptor(),
            }),
        ),
    };
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
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

pub async fn handle(AxState(state): AxState<State>, req: Request) -> Response {
    let p = &state.platform;
    let (parts, body) = req.into_parts();
    let source_ip = ip::source_ip(&parts, &p.config);
    let HostKind::Tenant(label) = host::classify_headers(&parts.headers, &p.config) else {
        return answer(Err(CallCenterError::UnknownPlatform));
    };
    let unavailable = |tenant: &str| AuditEvent {
        at: p.now(),
        tenant: tenant.to_owned(),
        protocol: "callcenter".into(),
        issuer: String::new(),
        subject: String::new(),
        source_ip: source_ip.to_string(),
        outcome: CallCenterError::Unavailable.descriptor().into(),
    };
    let tenant = match p.tenant(&label).await {
        Ok(Some(t)) => t,
        Ok(None) => return answer(Err(CallCenterError::UnknownPlatform)),
        Err(_) => {
            p.record(unavailable(&label)).await;
            return answer(Err(CallCenterError::Unavailable));
        }
    };
    let key: Option<PlatformKey> = match parts
        .headers
        .get("platform-key")
        .and_then(|v| v.to_str().ok())
    {
        Some(k) if !k.is_empty() => match p
            .directory
            .platform_key(&tenant.name, &StorageKey::of_secret(k.trim()))
            .await
        {
            Ok(found) => found.filter(|k| k.enabled),
            Err(_) => {
                p.record(unavailable(&tenant.name)).await;
                return answer(Err(CallCenterError::Unavailable));
            }
        },
        _ => None,
    };
    let mut event = AuditEvent {
        at: p.now(),
        tenant: tenant.name.clone(),
        protocol: "callcenter".into(),
        issuer: key.as_ref().map_or_else(String::new, |k| k.key_id.clone()),
        subject: String::new(),
        source_ip: source_ip.to_string(),
        outcome: String::new(),
    };
    let result = async {
        let key = key.ok_or(CallCenterError::InvalidPlatformKey)?;
        if !allowed(&key.allow_list, source_ip) {
            return Err(CallCenterError::IpNotWhitelisted);
        }
        if !state
            .limiter
            .allow(&format!("{}|{}", tenant.name, key.key_id), p.now())
        {
            return Err(CallCenterError::RateLimited);
        }
        let json_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            return Err(CallCenterError::InvalidRequest);
        }
        let bytes = to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| CallCenterError::InvalidRequest)?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| CallCenterError::InvalidRequest)?;
        let g = grant::from_json(&value)?;
        Ok((key, g))
    }
    .await;
    let outcome = match result {
        Err(e) => Err(e),
        Ok((key, g)) => {
            event.subject = g.username.chars().take(128).collect();
            match grant::issue(p, &tenant, &key.partner, &g).await {
                Ok(r) => r,
                Err(err) => {
                    tracing::warn!(error = %err, "/sso/0: store unavailable");
                    Err(CallCenterError::Unavailable)
                }
            }
        }
    };
    event.outcome = match &outcome {
        Ok(_) => "SSO_TOKEN_CREATED".into(),
        Err(e) => e.descriptor().into(),
    };
    p.record(event).await;
    answer(outcome)
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
