//! What the Lambda test binaries share: the platform a function builds, over a given backend,
//! with the demo directory imported and a deployed function's settings.

use std::sync::Arc;

use sso_store::item::ItemBackend;
use sso_store::{SecretBox, Store};
use sso_web::{Clock, Platform};

/// A function's platform over `backend` (demo directory imported), on `clock`.
pub async fn demo_platform(backend: Arc<dyn ItemBackend>, clock: Arc<dyn Clock>) -> Platform {
    let store = Store::new(backend, SecretBox::new([9; 32]));
    store
        .import("demo.toml", sso_cli::DEMO_DIRECTORY)
        .await
        .unwrap();
    let config = sso_lambda::Config::from_lookup(|k| match k {
        "SSO_TABLE" => Some("sso".into()),
        "SSO_BASE_DOMAIN" => Some("sso.example".into()),
        _ => None,
    })
    .unwrap();
    Platform::over(Arc::new(store), config.web(), clock)
}
