//! What the three Lambda binaries share, so each `main.rs` is five lines: typed configuration
//! from the environment (read once), JSON logs, the DynamoDB store (client built once), and
//! the API Gateway request context turned into what the routers expect (the source IP the
//! platform saw; the path without a named stage).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod key_parameter;
pub mod logs;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use sso_store::dynamo::{Dynamo, DynamoConfig};
use sso_store::{SecretBox, Store};
use sso_web::ip::PeerIp;
use sso_web::{Platform, Settings, SettingsError, SystemClock};

/// The function's configuration: the gateway's one [`Settings`] type, read from the
/// environment with a deployed function's defaults (set in `infra/template.yaml`).
pub type Config = Settings;

/// A configuration problem: the function refuses to start rather than serve wrongly.
pub type ConfigError = SettingsError;

/// Flat JSON log lines for CloudWatch ([`logs`]); level from `SSO_LOG` (default `info`).
pub fn init_tracing(config: &Config) {
    let service = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n != "bootstrap")
        .or_else(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok())
        .unwrap_or_else(|| "sso".to_owned());
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .event_format(logs::FlatJson { service })
        .finish()
        .with(sso_web::log_filter(&config.log))
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
    let ring = match (&config.secret_key, &config.secret_key_parameter) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(name)) => Some(key_parameter::fetch(name).await?),
        (None, None) => None,
    };
    let key = match &ring {
        Some(k) => SecretBox::from_ring(k),
        None => SecretBox::generate_hex().and_then(|k| SecretBox::from_hex(&k)),
    }
    .map_err(|e| ConfigError::Invalid(sso_web::settings::SECRET_KEY, e.to_string()))?;
    let store = Store::new(
        Arc::new(sso_web::metrics::Timed::new(Arc::new(dynamo))),
        key,
    );
    Ok(Platform::over(
        Arc::new(store),
        config.web(),
        Arc::new(SystemClock),
    ))
}

/// Where a function's EMF lines go: one call per line (stdout in a function).
pub type MetricsOut = Arc<dyn Fn(&str) + Send + Sync>;

/// The EMF namespace and the `Function` dimension, read once.
#[derive(Clone)]
pub struct Emf {
    /// `SSO_METRICS_NAMESPACE` (default `SsoGateway`).
    pub namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function: String,
    /// Where the lines go.
    pub out: MetricsOut,
}

impl Emf {
    /// From the environment, writing to stdout (CloudWatch Logs extracts the metrics).
    pub fn from_env() -> Self {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        #[allow(clippy::print_stdout)]
        let out: MetricsOut = Arc::new(|line: &str| println!("{line}"));
        Self {
            namespace: var("SSO_METRICS_NAMESPACE", "SsoGateway"),
            function: var("AWS_LAMBDA_FUNCTION_NAME", "local"),
            out,
        }
    }
}

/// The router as a Lambda serves it: the API Gateway context applied first. (The router is
/// nested as a fallback so the path is rewritten *before* it routes; a plain
/// `Router::layer` would run after routing.)
/// Paths the router does not know get the plain 404 page, as on the local server.
pub fn wrap(router: Router) -> Router {
    static EMF: OnceLock<Emf> = OnceLock::new();
    wrap_with_metrics(router, EMF.get_or_init(Emf::from_env).clone())
}

/// [`wrap`], with the metrics of each request written as EMF lines to `emf` once it is
/// answered (a function serves one request at a time, so what is pending is that request's).
pub fn wrap_with_metrics(router: Router, emf: Emf) -> Router {
    let flush = move |req: Request, next: Next| {
        let emf = emf.clone();
        async move {
            let resp = next.run(req).await;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            for line in sso_web::metrics::take_emf(&emf.namespace, &emf.function, now) {
                (emf.out)(&line);
            }
            resp
        }
    };
    Router::new()
        .fallback_service(router.fallback(not_found))
        .layer(middleware::from_fn(api_gateway_context))
        .layer(middleware::from_fn(flush))
}

async fn not_found() -> Response {
    sso_web::page::not_found()
}

/// Whether a function needs `SSO_SECRET_KEY` (it reads vendors, whose passwords it seals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKey {
    /// Refuse to start without it.
    Required,
    /// Runs without it.
    Optional,
}

/// The whole `main` of a function: configuration read once, logs, the DynamoDB platform
/// built once, then `routes(platform)` served until the runtime stops it.
pub async fn serve(
    routes: impl FnOnce(Platform) -> Router,
    key: SecretKey,
) -> Result<(), lambda_http::Error> {
    let started = Instant::now();
    let mut config = Config::from_env()?;
    if key == SecretKey::Required {
        config = config.requiring_secret_key()?;
    }
    init_tracing(&config);
    let platform = platform(&config).await?;
    let router = routes(platform);
    // Reported with the first request's metrics.
    sso_web::metrics::cold_start(started.elapsed());
    run(router).await
}

/// Serves `router` as this Lambda function.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(wrap(router)).await
}

/// Takes the source IP from API Gateway's request context (never from a header) and removes
/// a named stage from the path, so `/prod/signin.php` routes like `/signin.php`.
async fn api_gateway_context(req: Request, next: Next) -> Response {
    if let Some(c) = req.lambda_context_ref() {
        logs::begin_request(c.request_id.clone(), c.xray_trace_id.clone());
    }
    let resp = gateway_context(req, next).await;
    logs::end_request();
    resp
}

async fn gateway_context(mut req: Request, next: Next) -> Response {
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
        assert!(ok.audit_to_store && ok.secret_key.is_none());
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
