//! What the three Lambda binaries share, so each `main.rs` is five lines: typed configuration
//! from the environment (read once), JSON logs, the DynamoDB store (client built once), and
//! the API Gateway request context turned into what the routers expect (the source IP the
//! platform saw; the path without a named stage).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use sso_store::dynamo::{Dynamo, DynamoConfig};
use sso_store::{SecretBox, Store};
use sso_web::ip::PeerIp;
use sso_web::{Platform, SystemClock, WebConfig};
use thiserror::Error;

/// A configuration problem: the function refuses to start rather than serve wrongly.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is missing.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable has an unusable value.
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// The function's configuration, from the environment (set in `infra/template.yaml`).
#[derive(Clone)]
pub struct Config {
    /// `SSO_TABLE`: the DynamoDB table.
    pub table: String,
    /// `SSO_BASE_DOMAIN`: tenants are `<tenant>.<base>`, the portal `my.<base>`.
    pub base_domain: String,
    /// `SSO_SECRET_KEY` (64 hex): seals vendor passwords; only the signed-link function reads
    /// vendors, the others may run without it.
    pub secret_key: Option<String>,
    /// `SSO_AUDIT_TO_TABLE`: also store audit events in the table (default: log lines only).
    pub audit_to_table: bool,
    /// `SSO_TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("base_domain", &self.base_domain)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("audit_to_table", &self.audit_to_table)
            .finish()
    }
}

impl Config {
    /// Reads the configuration from a variable lookup (the environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let secret_key = get("SSO_SECRET_KEY").filter(|v| !v.is_empty());
        if let Some(k) = &secret_key {
            SecretBox::from_hex(k)
                .map_err(|e| ConfigError::Invalid("SSO_SECRET_KEY", e.to_string()))?;
        }
        let trusted_proxies = get("SSO_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| ConfigError::Invalid("SSO_TRUSTED_PROXIES", s.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            table: required("SSO_TABLE")?,
            base_domain: required("SSO_BASE_DOMAIN")?,
            secret_key,
            audit_to_table: get("SSO_AUDIT_TO_TABLE").is_some_and(|v| v == "true" || v == "1"),
            trusted_proxies,
        })
    }

    /// Insists on `SSO_SECRET_KEY`: a function that reads vendors cannot work without the key
    /// their passwords were sealed with, so it refuses to start rather than fail every link.
    pub fn requiring_secret_key(self) -> Result<Self, ConfigError> {
        match self.secret_key {
            Some(_) => Ok(self),
            None => Err(ConfigError::Missing("SSO_SECRET_KEY")),
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The shared web configuration of a deployed function (https, the configured domain).
    pub fn web(&self) -> WebConfig {
        WebConfig {
            base_domain: self.base_domain.clone(),
            https: true,
            public_port: None,
            single_tenant: None,
            trusted_proxies: self.trusted_proxies.clone(),
            touch_interval: 60,
            audit_to_store: self.audit_to_table,
        }
    }
}

/// JSON log lines for CloudWatch (no colours); level from `SSO_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SSO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .init();
}

/// The platform over DynamoDB: the client is built once per execution environment, with the
/// store's explicit timeouts and retry policy. `AWS_ENDPOINT_URL_DYNAMODB` is honoured.
pub async fn platform(config: &Config) -> Result<Platform, ConfigError> {
    let dynamo = match Dynamo::from_lambda_environment(&config.table) {
        Some(d) => d,
        None => {
            Dynamo::connect(&DynamoConfig {
                table: config.table.clone(),
                endpoint_url: None,
                region: None,
            })
            .await
        }
    };
    let key = match &config.secret_key {
        Some(k) => SecretBox::from_hex(k),
        None => SecretBox::generate_hex().and_then(|k| SecretBox::from_hex(&k)),
    }
    .map_err(|e| ConfigError::Invalid("SSO_SECRET_KEY", e.to_string()))?;
    let store = Store::new(Arc::new(dynamo), key);
    Ok(Platform::over(
        Arc::new(store),
        config.web(),
        Arc::new(SystemClock),
    ))
}

/// The router as a Lambda serves it: the API Gateway context applied first. (The router is
/// nested as a fallback so the path is rewritten *before* it routes; a plain
/// `Router::layer` would run after routing.)
/// Paths the router does not know get the plain 404 page, as on the local server.
pub fn wrap(router: Router) -> Router {
    Router::new()
        .fallback_service(router.fallback(not_found))
        .layer(middleware::from_fn(api_gateway_context))
}

async fn not_found() -> Response {
    sso_web::page::not_found()
}

/// Serves `router` as this Lambda function.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(wrap(router)).await
}

/// Takes the source IP from API Gateway's request context (never from a header) and removes
/// a named stage from the path, so `/prod/signin.php` routes like `/signin.php`.
async fn api_gateway_context(mut req: Request, next: Next) -> Response {
    let (ip, stage) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => (c.http.source_ip.clone(), c.stage.clone()),
        Some(RequestContext::ApiGatewayV1(c)) => (c.identity.source_ip.clone(), c.stage.clone()),
        _ => (None, None),
    };
    if let Some(ip) = ip.and_then(|s| s.parse::<IpAddr>().ok()) {
        req.extensions_mut().insert(PeerIp(ip));
    }
    if let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") {
        let prefix = format!("/{stage}");
        let path = req.uri().path();
        let rest = path
            .strip_prefix(&prefix)
            .filter(|r| r.is_empty() || r.starts_with('/'));
        if let Some(rest) = rest {
            let rest = if rest.is_empty() { "/" } else { rest };
            let pq = match req.uri().query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_owned(),
            };
            if let Ok(uri) = pq.parse() {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_typed_and_checked_once() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let ok = Config::from_lookup(env(&[
            ("SSO_TABLE", "sso"),
            ("SSO_BASE_DOMAIN", "sso.example"),
            ("SSO_AUDIT_TO_TABLE", "true"),
        ]))
        .unwrap();
        assert!(ok.audit_to_table && ok.secret_key.is_none());
        assert!(matches!(
            ok.clone().requiring_secret_key(),
            Err(ConfigError::Missing("SSO_SECRET_KEY"))
        ));
        assert!(matches!(
            Config::from_lookup(env(&[("SSO_TABLE", "sso")])),
            Err(ConfigError::Missing("SSO_BASE_DOMAIN"))
        ));
        assert!(
            Config::from_lookup(env(&[
                ("SSO_TABLE", "t"),
                ("SSO_BASE_DOMAIN", "d"),
                ("SSO_SECRET_KEY", "short")
            ]))
            .is_err()
        );
        let with_key = Config::from_lookup(env(&[
            ("SSO_TABLE", "t"),
            ("SSO_BASE_DOMAIN", "d"),
            (
                "SSO_SECRET_KEY",
                "0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ]))
        .unwrap();
        assert!(!format!("{with_key:?}").contains("0000"));
    }
}
