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
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod admin;
mod api;
pub mod params;
mod verified;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use sso_web::Platform;

/// The help-desk routes.
pub fn router(platform: Platform) -> Router {
    let state = api::State {
        platform,
        verified: Arc::new(verified::VerifiedCache::new()),
    };
    Router::new()
        .route("/api.php", get(api::handle).post(api::handle))
        .route("/admin/api.php", get(api::handle).post(api::handle))
        .route("/admin/main.php", get(admin::main))
        .route(
            "/admin/login",
            get(admin::show_login).post(admin::submit_login),
        )
        .route("/admin/logout", get(admin::logout).post(admin::logout))
        .with_state(state)
}
