//! API-issued token SSO (ActiveCampaign Help Desk style, PROTOCOLS.md §2), as one router.
//!
//! Served on tenant (account) hosts by the local server and the help-desk Lambda alike:
//! - `GET|POST /api.php` and `/admin/api.php`: `singlesignon` (a one-time `token` for
//!   `/admin/main.php?_ssot=`) and `singlesignon_sameserver` (a session at once, its cookie
//!   value as `hash` and as `Set-Cookie`), answered in PHP `serialize()`, XML or JSON, always
//!   HTTP 200 with `result_code` 0 or 1 (the official client treats other statuses as
//!   transport failures).
//! - `GET /admin/main.php?_ssot=TOKEN`: redeem (one-time unless the account chose reusable;
//!   only from `sso_addr`; within `sso_duration`), then 302 to `/admin/main.php`, which shows
//!   who is signed in.
//! - `/admin/login` (username + password, CSRF, throttled) and `/admin/logout`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod api;
mod error;
mod login;
mod logout;
mod main_page;
pub mod params;
mod verified;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use sso_web::Platform;

pub use error::{ApiError, Error};

/// The help desk's sign-in page (where refused `_ssot` links and sign-outs go).
const LOGIN: &str = "/admin/login";

/// The router's state: the platform, and the cache of recent successful API credential
/// checks (so a partner's burst pays Argon2id once).
#[derive(Clone)]
pub struct AppState {
    /// The shared platform.
    pub platform: Platform,
    /// Recently verified credentials.
    pub verified: Arc<verified::VerifiedCache>,
}

impl FromRef<AppState> for Platform {
    fn from_ref(state: &AppState) -> Platform {
        state.platform.clone()
    }
}

/// The help-desk routes. Every handler returns `Result<Response, Error>`; [`Error`] is the
/// one place `result_code 0` answers and the pages' refusals are rendered.
pub fn router(platform: Platform) -> Router {
    let state = AppState {
        platform,
        verified: Arc::new(verified::VerifiedCache::new()),
    };
    Router::new()
        .route("/api.php", get(api::handle).post(api::handle))
        .route("/admin/api.php", get(api::handle).post(api::handle))
        .route(
            "/admin/main.php",
            get(main_page::handle).post(main_page::handle),
        )
        .route("/admin/login", get(login::show).post(login::submit))
        .route("/admin/logout", get(logout::handle).post(logout::handle))
        .with_state(state)
}
