//! The storage port of the SSO gateway and its two backends.
//!
//! Adapters depend only on the traits in [`port`]. [`Store`] implements all of them once, over
//! an [`item::ItemBackend`]: [`embedded::Embedded`] (redb, a file under a data directory, or
//! memory) for local use and tests, and [`dynamo::Dynamo`] (aws-sdk-dynamodb, one table) in
//! AWS. One conformance suite (`tests/conformance`) runs against both.
//!
//! Backends are features, so a Lambda links neither redb nor the TOML importer: `embedded`
//! (redb), `dynamodb` (aws-sdk-dynamodb, and the moto helpers in [`testing`]), `import` (the
//! TOML directory file). All three are on by default; the workspace depends on this crate
//! without defaults and each binary names what it uses.
//!
//! Tokens and session ids are stored only as SHA-256 keys; passwords only as Argon2id
//! verifiers ([`password`]); vendor secrets sealed with [`SecretBox`]. Nothing secret appears
//! in `Debug` output.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod bounded;
mod cache;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
mod error;
#[cfg(feature = "import")]
pub mod export;
pub mod faults;
#[cfg(feature = "import")]
pub mod import;
pub mod item;
pub mod model;
pub mod password;
pub mod port;
mod secret_box;
mod store;
#[cfg(feature = "dynamodb")]
pub mod testing;
pub mod validate;

pub use cache::{CachedDirectory, DIRECTORY_TTL};
pub use error::{Cause, StoreError};
pub use secret_box::SecretBox;
pub use store::{DirRecord, NOT_BEFORE_CACHE, Resealed, Store, VendorRecord, VendorSummary, keys};
