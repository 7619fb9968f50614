//! Call-center SSO and the agent portal (sticky.io style, PROTOCOLS.md §3), as two routers.
//!
//! [`router`] (tenant hosts): `POST /sso/0` — a partner's server, holding a Platform-Key and
//! calling from an allowed address, asks for a one-time login URL for an agent — and
//! `GET /sso/login?token=` — the agent's browser opens it, the token is consumed exactly
//! once, and a platform session with the agent's department, campaigns and call context
//! starts.
//!
//! [`portal_router`] (`my.<base-domain>`): administrators (`/login`) manage their groups'
//! agents and linked platforms; agents (`/login/<group>`) use pop URLs
//! (`/pop?group_id=G&client_subdomain=T`) that issue the platform's token through the same
//! code as `/sso/0` and send them straight into the platform.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod api;
mod error;
pub mod grant;
mod login;
mod portal;
mod rate;

use std::sync::Arc;

pub use api::AppState;
pub use error::{Error, IssueError};

use axum::Router;
use axum::routing::{any, get};
use sso_web::Platform;

/// The call-center routes on tenant hosts.
pub fn router(platform: Platform) -> Router {
    let state = api::AppState {
        platform,
        limiter: Arc::new(rate::Limiter::new(rate::DEFAULT_PER_SECOND)),
    };
    Router::new()
        // Any method: the checks answer in JSON (another method than POST gets 405
        // METHOD_NOT_ALLOWED after the key, address and rate checks), never a bare 405.
        .route("/sso/0", any(api::handle))
        .route("/sso/login", get(login::handle).post(login::handle))
        .with_state(state)
}

/// The agent portal, served on `my.<base-domain>`.
pub fn portal_router(platform: Platform) -> Router {
    portal::router(platform)
}

/// Both, for the one Lambda binary that serves the call-center paths of tenant hosts and the
/// portal host. Their paths do not overlap, and each handler checks the host it is on: the
/// portal's pages answer 404 on a tenant host, `/sso/0` answers `UNKNOWN_PLATFORM` on the
/// portal's.
pub fn all_routes(platform: Platform) -> Router {
    router(platform.clone()).merge(portal_router(platform))
}
