//! Signed-link SSO (Virtual Agent Connect style, PROTOCOLS.md §1), as one router.
//!
//! Served on tenant hosts, by the local server and by the signed-link Lambda alike:
//! - `GET|POST /signin.php`: check the link in the documented order (parameters → vendor and
//!   signature → timestamp → replay → client → duplicate email), create the session (whose
//!   one conditional write is also the link's replay guard), 302 to the tenant home; on
//!   failure 302 to the vendor's registered failure URL with `clientID=…&errorID=N` (or
//!   `email=…`), else to `/login?errorID=N`. `HEAD` never consumes a link.
//! - `GET /logout.php`: end the session; 302 to the logout URL of the vendor that created it,
//!   else `/login`.
//! - `GET|POST /login`: the standard login page: explains an `errorID` in plain words and
//!   offers the client's normal email (or clientID) + password sign-in, CSRF-protected and
//!   throttled.
//!
//! The tenant home `/` (who is signed in) and `/healthz` come from `sso_web::home`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod login;
mod logout;
mod signin;

pub use error::{Error, MSG_SIGN_IN_FAILED};

use axum::Router;
use axum::routing::get;
use sso_web::Platform;

/// The signed-link routes, including the shared home page. The state is the [`Platform`]
/// itself; every handler returns `Result<Response, Error>` ([`Error`] is the one place the
/// protocol's answers are rendered).
pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/signin.php", get(signin::handle).post(signin::handle))
        .route("/logout.php", get(logout::handle).post(logout::handle))
        .route("/login", get(login::show).post(login::submit))
        .with_state(platform.clone())
        .merge(sso_web::home::router(platform))
}
