//! The pure decisions of the SSO gateway.
//!
//! This crate does **no I/O**: it does not read clocks, files, sockets or the environment,
//! does not draw random numbers and has no async code. The current time comes in as a `now`
//! argument (Unix seconds) and randomness as caller-supplied bytes, which is what lets the
//! property tests pin every rule to the second and lets the adapters run it anywhere — in the
//! local server, in a Lambda, in a benchmark.
//!
//! What lives here, by protocol (see `shared/spec/PROTOCOLS.md`):
//! - [`signed_link`]: the Virtual Agent Connect style link — request parsing with the documented
//!   check order, `md5(identifier . timestamp . password)` signing and constant-time
//!   verification (two live secrets for rotation, an HMAC-SHA256 upgrade), the errorID 0–4.
//! - [`expiry`]: the "10+ hours old, Central Standard Time" rule as a value, and the strict
//!   timestamp parser that makes the unseparated signed string unambiguous.
//! - [`helpdesk`]: the ActiveCampaign Help Desk result (`result_code`, `result_message`) and
//!   its three encodings: PHP `serialize()`, XML and JSON.
//! - [`callcenter`]: the sticky.io `code` / `status` / `descriptor` table.
//! - [`ident`]: one-time tokens and session ids from caller-supplied random bytes, and the
//!   SHA-256 keys under which the store keeps them.
//! - [`throttle`]: the failed-sign-in lock-out rule shared by every password endpoint.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod callcenter;
pub mod expiry;
pub mod helpdesk;
pub mod ident;
pub mod signed_link;
pub mod throttle;

pub use expiry::{ExpiryError, ExpiryPolicy, PolicyError, ValidTimestamp};
pub use ident::{IdentError, OneTimeToken, SessionId, StorageKey};
pub use signed_link::{ErrorId, LinkError, Scheme, SecretSet, SecretSlot, VendorSecret};
