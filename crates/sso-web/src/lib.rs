//! HTTP plumbing shared by the protocol adapters, so that each adapter is only its protocol.
//!
//! - [`Platform`]: the state every router is built from: the store behind its port traits
//!   (directory cached in memory), the configuration, the clock.
//! - [`host`]: the tenant from the `Host` header, normalised; reserved names refused.
//! - [`ip`]: the source IP the platform saw (socket peer or API Gateway request context),
//!   never a client-supplied `X-Forwarded-For` unless the peer is a configured proxy.
//! - [`cookies`]: the session cookie (`__Host-` prefixed, `HttpOnly`, `Secure`, `SameSite`),
//!   and CSRF tokens for the sign-in forms.
//! - [`page`]: small server-rendered HTML pages, escaped, with the security headers.
//! - [`home`]: the tenant home `/` that shows who is signed in and how, and `/healthz`.
//! - [`extract`]: request set-up as extractors (`TenantPage`, `Host`, `PortalHost`,
//!   `SourceIp`); [`form`]: the bounded, strict form reader; [`login_form`]: the one sign-in
//!   form page; [`audit`]: the one audit-event builder; [`Platform::redeem`]: the one
//!   one-time-token redemption.
//! - [`metrics`]: counters as CloudWatch EMF lines (Lambda) and Prometheus text (`/metrics`).
//! - [`settings`]: every setting, read and checked once for the local server and the Lambdas.
//! - [`PageError`] and [`log_unavailable`]: how a page fails, and the one place a store
//!   failure's cause is logged.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod audit;
pub mod clock;
pub mod config;
pub mod cookies;
mod error;
pub mod extract;
pub mod form;
pub mod home;
pub mod host;
pub mod ip;
mod log_filter;
pub mod login_form;
pub mod metrics;
pub mod one_time_link;
pub mod page;
pub mod password_gate;
mod platform;
pub mod settings;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::WebConfig;
pub use error::{PageError, WebError, log_unavailable};
pub use log_filter::log_filter;
pub use login_form::{FormAgain, SignInFailure, SignInRefusal};
pub use platform::{
    CurrentSession, Door, Gate, Lockout, Platform, PlatformParts, StorePorts, random_bytes,
    unique_bytes,
};
pub use settings::{Settings, SettingsError};
