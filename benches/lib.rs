//! Benchmarks live in `benches/`; this library only holds the fixtures they share.

use sso_core::expiry::ExpiryPolicy;
use sso_core::signed_link::{
    Identifier, LinkRequest, Scheme, SecretSet, VendorKeys, VendorSecret, sign,
};

/// The instant every benchmark pretends it is (Unix seconds).
pub const NOW: i64 = 1_700_000_000;

/// The demo vendor 1001's keys.
pub fn demo_vendor() -> VendorKeys {
    VendorKeys {
        scheme: Scheme::Md5,
        secrets: SecretSet::single(VendorSecret::new("vendorpass")),
        policy: ExpiryPolicy::default(),
        enabled: true,
    }
}

/// A valid link for client@example.com signed by the demo vendor at [`NOW`].
pub fn demo_link() -> LinkRequest {
    let timestamp = NOW.to_string();
    let token = sign(
        Scheme::Md5,
        "client@example.com",
        &timestamp,
        &VendorSecret::new("vendorpass"),
    );
    LinkRequest {
        identifier: Identifier::Email("client@example.com".into()),
        vendor_id: "1001".into(),
        timestamp,
        token,
    }
}

/// An in-process application: the router the server runs, over the embedded in-memory store
/// with the demo directory, and a clock the benchmark moves.
pub struct InProcess {
    /// The router (`sso serve`'s, Host dispatch included).
    pub router: axum::Router,
    /// The clock every request sees.
    pub clock: std::sync::Arc<sso_web::ManualClock>,
    /// The runtime the handlers run on.
    pub runtime: tokio::runtime::Runtime,
}

impl InProcess {
    /// One request through the router, as the server would run it.
    pub fn send(&self, req: axum::http::Request<axum::body::Body>) -> axum::response::Response {
        use tower::ServiceExt;
        match self.runtime.block_on(self.router.clone().oneshot(req)) {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }

    /// [`InProcess::send`], checking the answer is `status`: a benchmark that strays off its
    /// path would measure the wrong thing.
    pub fn send_expecting(
        &self,
        req: axum::http::Request<axum::body::Body>,
        status: u16,
    ) -> axum::response::Response {
        let resp = self.send(req);
        assert_eq!(resp.status(), status, "{:?}", resp.headers());
        resp
    }
}

/// Builds [`InProcess`] without the audit trail in the store (as the Lambdas run by default).
pub fn in_process() -> InProcess {
    in_process_with(sso_web::WebConfig {
        audit_to_store: false,
        ..sso_web::WebConfig::default()
    })
}

/// Builds [`InProcess`] with a given web configuration (the request fuzzer keeps the audit
/// trail in the store, as `sso serve` does).
pub fn in_process_with(web: sso_web::WebConfig) -> InProcess {
    use std::sync::Arc;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let store = sso_store::Store::new(
        Arc::new(sso_store::embedded::Embedded::in_memory().expect("in-memory store")),
        sso_store::SecretBox::new([7; 32]),
    );
    runtime
        .block_on(store.import("demo.toml", sso_cli::DEMO_DIRECTORY))
        .expect("demo directory");
    let clock = Arc::new(sso_web::ManualClock::new(NOW));
    let platform = sso_web::Platform::over(Arc::new(store), web, clock.clone());
    InProcess {
        router: sso_cli::app::router(platform),
        clock,
        runtime,
    }
}
