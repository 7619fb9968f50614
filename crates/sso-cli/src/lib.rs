//! The `sso` command's library half: building the application, so that tests can start the
//! real server on port 0 (`App::build`, `App::port`, `App::run_until_stopped`).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod admin;
pub mod app;
pub mod body;
mod error;
pub mod export;
pub mod listener;
pub mod partner;
pub mod progress;
mod secrets;
pub mod stores;
pub mod test_mode;
pub mod trail;
pub mod when;

pub use app::{App, ServeConfig};
pub use error::CliError;
pub use listener::Limits;

/// The pinned demo directory (`sso serve --demo`): the checked-in import file.
pub const DEMO_DIRECTORY: &str = include_str!("../../sso-store/import/demo.toml");

/// The OpenAPI 3.1 document of the partner-facing surface, served at `/openapi.json` and
/// held against the router by `tests/e2e/openapi.rs`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");
