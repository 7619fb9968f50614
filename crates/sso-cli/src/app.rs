//! The application: every adapter on one listener, routed by `Host`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::header::ALLOW;
use http::{HeaderValue, Method, StatusCode};
use sso_store::Store;
use sso_store::port::Directory;
use sso_web::host::{self, HostKind};
use sso_web::ip::PeerIp;
use sso_web::{Clock, Platform, WebConfig, home, page};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::body;
use crate::listener::{self, Limits};
use crate::stores::{self, StoreChoice};
use crate::{CliError, DEMO_DIRECTORY};

/// What `sso serve` needs.
#[derive(Clone)]
pub struct ServeConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Shared web configuration (base domain, scheme, …).
    pub web: WebConfig,
    /// Which store.
    pub store: StoreChoice,
    /// `SSO_SECRET_KEY`, if given.
    pub secret_key: Option<String>,
    /// Load the demo directory if it is not there yet.
    pub demo: bool,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Timeouts and the connection cap (the cap is lowered to fit the open-file limit).
    pub limits: Limits,
}

/// A built application with its bound listener.
pub struct App {
    listener: TcpListener,
    router: Router,
    store: Store,
    platform: Platform,
    limits: Limits,
}

#[derive(Clone)]
struct Hosts {
    tenant: Router,
    portal: Router,
    config: Arc<WebConfig>,
}

impl App {
    /// Opens the store (importing the demo directory if asked and absent), binds the
    /// listener and builds the routers.
    pub async fn build(config: ServeConfig) -> Result<Self, CliError> {
        let store = stores::open(&config.store, config.secret_key.as_deref()).await?;
        if config.demo && store.tenant("demoaws").await?.is_none() {
            let summary = store.import("demo.toml", DEMO_DIRECTORY).await?;
            tracing::info!(records = summary.records, "demo directory imported");
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| listen_error(config.listen, &e))?;
        let mut web = config.web.clone();
        // The local server always holds a key (given, or the data directory's own).
        web.check_sealed_canary = true;
        if web.public_port.is_none() && !web.https {
            web.public_port = Some(listener.local_addr()?.port());
        }
        let platform = Platform::over(Arc::new(store.clone()), web, config.clock.clone());
        let router = router_with(platform.clone(), config.limits.body_timeout);
        let mut limits = config.limits;
        let open_files = listener::open_file_limit();
        let ceiling = listener::connection_ceiling(open_files);
        if limits.max_connections > ceiling {
            tracing::warn!(
                asked = limits.max_connections,
                max_connections = ceiling,
                open_files,
                "connection cap lowered to stay below the open-file limit"
            );
            limits.max_connections = ceiling;
        }
        tracing::info!(
            max_connections = limits.max_connections,
            open_files,
            header_timeout_secs = limits.header_timeout.as_secs(),
            body_timeout_secs = limits.body_timeout.as_secs(),
            idle_timeout_secs = limits.idle_timeout.as_secs(),
            "connection limits"
        );
        Ok(Self {
            listener,
            router,
            store,
            platform,
            limits,
        })
    }

    /// Wraps the router (tests: a layer that observes every request and answer at the
    /// socket, e.g. to register the secrets they carry).
    pub fn wrap_router(mut self, wrap: impl FnOnce(Router) -> Router) -> Self {
        self.router = wrap(self.router);
        self
    }

    /// The port actually bound (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The store the application runs on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The platform state the routers share.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The limits in force (the connection cap as lowered to fit the open-file limit).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), CliError> {
        listener::serve(self.listener, self.router, self.limits, shutdown)
            .await
            .map_err(CliError::from)
    }
}

/// A bind failure that names the address, and says what to do when it is taken.
fn listen_error(addr: SocketAddr, e: &std::io::Error) -> CliError {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "; another process listens there (another `sso serve`?): stop it or pick another \
             address with --listen"
        }
        std::io::ErrorKind::PermissionDenied => "; ports below 1024 need privileges",
        std::io::ErrorKind::AddrNotAvailable => "; that address is not one of this machine's",
        _ => "",
    };
    CliError::Io(format!("cannot listen on {addr}: {e}{hint}"))
}

/// Every adapter behind the `Host` dispatcher, with the per-request middleware and the
/// default body timeout.
pub fn router(platform: Platform) -> Router {
    router_with(platform, listener::DEFAULT_BODY_TIMEOUT)
}

/// [`router`] whose request bodies must arrive within `body_timeout` of their headers, and
/// are not read at all when longer than any endpoint accepts (`crate::body`).
pub fn router_with(platform: Platform, body_timeout: Duration) -> Router {
    // A path no adapter knows gets the plain 404 page (with its security headers), not
    // axum's empty one.
    let hosts = Hosts {
        tenant: sso_virtualagent::router(platform.clone())
            .merge(sso_activecampaign::router(platform.clone()))
            .merge(sso_sticky::router(platform.clone()))
            .fallback(not_found),
        portal: sso_sticky::portal_router(platform.clone()).fallback(not_found),
        config: platform.config.clone(),
    };
    Router::new()
        .fallback(dispatch)
        .with_state(hosts)
        .layer(middleware::from_fn_with_state(body_timeout, body::bounded))
        .layer(middleware::from_fn(request_context))
}

/// Protocol endpoints that answer in their own format whatever the host (PROTOCOLS.md: "A
/// host whose tenant is unknown gets a plain 404 page, except protocol endpoints").
const ANSWER_ON_EVERY_HOST: [&str; 3] = ["/sso/0", "/api.php", "/admin/api.php"];

async fn dispatch(State(hosts): State<Hosts>, req: Request) -> Response {
    // This is no proxy. Refused before routing: a route that answers any method (`/sso/0`,
    // the health check) would otherwise answer 2xx, which tells a CONNECT client its tunnel
    // is open (and makes axum log an ERROR for a client's mistake).
    if req.method() == Method::CONNECT {
        return method_not_allowed();
    }
    if req.uri().path() == "/metrics" {
        return metrics(&hosts.config, req);
    }
    if req.uri().path() == "/openapi.json" {
        return openapi(req.method());
    }
    let kind = host::classify_headers(req.headers(), &hosts.config);
    let target = match kind {
        // These answer in their own format on any host (a host that names no tenant is
        // `UNKNOWN_PLATFORM` / `result_code 0`, never an HTML page): their handlers judge
        // the host themselves.
        _ if ANSWER_ON_EVERY_HOST.contains(&req.uri().path()) => hosts.tenant,
        HostKind::Tenant(_) => hosts.tenant,
        HostKind::Portal => hosts.portal,
        // Readiness answers on any host: its handler needs no tenant.
        HostKind::Unknown if req.uri().path() == "/readyz" => hosts.tenant,
        HostKind::Unknown if req.uri().path() == "/healthz" => {
            return if matches!(*req.method(), Method::GET | Method::HEAD) {
                home::healthz().await
            } else {
                method_not_allowed()
            };
        }
        HostKind::Unknown if req.uri().path() == "/" => return host_routing(&hosts.config),
        HostKind::Unknown => return page::not_found(),
    };
    match target.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// `/` on a host that names no tenant (the bare address a newcomer opens first): still the
/// 404 of an unknown host, but saying how hosts are routed. It names no tenant.
fn host_routing(config: &WebConfig) -> Response {
    let base = page::escape(&config.base_domain);
    page::page(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!(
            "<h1>Not found</h1><p>This gateway routes by host name: each tenant is served at              <code>&lt;tenant&gt;.{base}</code> and the agent portal at <code>my.{base}</code>.              This host names no tenant.</p>"
        ),
    )
}

async fn not_found() -> Response {
    page::not_found()
}

/// Prometheus text of the counters EMF reports in Lambda ([`sso_web::metrics`]), only to the
/// sources `SSO_METRICS_FROM` allows (loopback by default; the source is judged like any
/// other request's, so a client behind a trusted proxy is the client, not the proxy).
fn metrics(config: &WebConfig, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let source = sso_web::ip::source_ip(&parts, config);
    if !config.metrics_from.iter().any(|n| n.contains(&source)) {
        return (StatusCode::FORBIDDEN, "forbidden\n").into_response();
    }
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        return method_not_allowed();
    }
    (
        StatusCode::OK,
        [
            ("content-type", "text/plain; version=0.0.4"),
            ("cache-control", "no-store"),
        ],
        sso_web::metrics::prometheus_text(),
    )
        .into_response()
}

/// The partner API's OpenAPI document (`docs/openapi.json`), on every host of the local
/// server: partners point their tooling (Swagger UI, schemathesis, code generators) at it.
fn openapi(method: &Method) -> Response {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return method_not_allowed();
    }
    (
        StatusCode::OK,
        [
            ("content-type", "application/json"),
            ("cache-control", "public, max-age=300"),
        ],
        crate::OPENAPI,
    )
        .into_response()
}

fn method_not_allowed() -> Response {
    let mut resp = page::page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "<h1>Method not allowed</h1>",
    );
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    resp
}

/// The peer address for the source-IP rules, a request id, and one log line per request
/// (path only: query strings may carry one-time tokens).
async fn request_context(mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        req.extensions_mut().insert(PeerIp(addr.ip()));
    }
    let id = hex::encode(sso_web::unique_bytes::<8>());
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    // Every log line of the request (audit events, store warnings) carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    tracing::info!(
        request_id = %id,
        %method,
        path = %path.chars().take(256).collect::<String>(),
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
