//! Choosing a concrete store: the only place besides the Lambdas that names one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "dynamodb")]
use sso_store::dynamo::{Dynamo, DynamoConfig};
use sso_store::embedded::Embedded;
use sso_store::item::ItemBackend;
use sso_store::{SecretBox, Store};

use crate::CliError;

/// Which backend, and where.
#[derive(Debug, Clone)]
pub enum StoreChoice {
    /// A redb file under this data directory.
    Embedded(PathBuf),
    /// Memory only (tests).
    Memory,
    /// A DynamoDB table (AWS, or a local DynamoDB-compatible server).
    #[cfg(feature = "dynamodb")]
    Dynamo(DynamoConfig),
    /// A backend built by the caller (tests: `sso_store::faults::Faulty` around the
    /// in-memory store, so the real server runs on a failing store).
    Backend(SharedBackend),
}

/// A caller's backend in a [`StoreChoice`].
#[derive(Clone)]
pub struct SharedBackend(pub Arc<dyn ItemBackend>);

impl std::fmt::Debug for SharedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedBackend")
    }
}

/// Opens the store. The vendor-secret key comes from `SSO_SECRET_KEY`; for an embedded
/// store without it, a key is generated once into `<data>/secret.key` (mode 0600).
pub async fn open(choice: &StoreChoice, secret_key: Option<&str>) -> Result<Store, CliError> {
    let (backend, key): (Arc<dyn ItemBackend>, SecretBox) = match choice {
        StoreChoice::Embedded(dir) => {
            let backend = Embedded::open(dir)?;
            let key = match secret_key {
                Some(k) => SecretBox::from_ring(k)?,
                None => SecretBox::from_ring(&local_key(dir)?)?,
            };
            (Arc::new(backend), key)
        }
        StoreChoice::Memory => (Arc::new(Embedded::in_memory()?), given_or_new(secret_key)?),
        StoreChoice::Backend(b) => (b.0.clone(), given_or_new(secret_key)?),
        #[cfg(feature = "dynamodb")]
        StoreChoice::Dynamo(cfg) => {
            // A key made up here would be lost with this process, and with it every vendor
            // password it sealed: the table outlives us, so the key must be given.
            let key = secret_key.ok_or_else(|| {
                CliError::Config(
                    "SSO_SECRET_KEY is required with the DynamoDB store (64 hex characters, \
                     e.g. from `openssl rand -hex 32`; keep it: it seals vendor passwords)"
                        .into(),
                )
            })?;
            let key = SecretBox::from_ring(key)?;
            (Arc::new(dynamo(cfg).await), key)
        }
    };
    // Every round trip timed for `/metrics` (sso_web::metrics).
    let backend: Arc<dyn ItemBackend> = Arc::new(sso_web::metrics::Timed::new(backend));
    Ok(Store::new(backend, key))
}

/// Whether `dir` holds an embedded store already (so opening it creates nothing).
pub fn embedded_exists(dir: &Path) -> bool {
    dir.join(sso_store::embedded::FILE_NAME).is_file()
}

/// Opens the store for a command that only reads: never asks for the secret key (a
/// throwaway one is used where none is given, and nothing is sealed with it: listings leave
/// vendor passwords sealed) and never writes a key file.
pub async fn open_reading(
    choice: &StoreChoice,
    secret_key: Option<&str>,
) -> Result<Store, CliError> {
    match (choice, secret_key) {
        (_, Some(_)) | (StoreChoice::Memory | StoreChoice::Backend(_), None) => {
            open(choice, secret_key).await
        }
        (StoreChoice::Embedded(dir), None) => {
            let backend: Arc<dyn ItemBackend> = Arc::new(Embedded::open(dir)?);
            let key = match std::fs::read_to_string(dir.join(KEY_FILE)) {
                Ok(_) => SecretBox::from_ring(&local_key(dir)?)?,
                Err(_) => given_or_new(None)?,
            };
            Ok(Store::new(
                Arc::new(sso_web::metrics::Timed::new(backend)),
                key,
            ))
        }
        #[cfg(feature = "dynamodb")]
        (StoreChoice::Dynamo(cfg), None) => {
            let backend: Arc<dyn ItemBackend> = Arc::new(dynamo(cfg).await);
            Ok(Store::new(
                Arc::new(sso_web::metrics::Timed::new(backend)),
                given_or_new(None)?,
            ))
        }
    }
}

/// The given key, or a new one that lives as long as the process (memory-only stores).
fn given_or_new(secret_key: Option<&str>) -> Result<SecretBox, CliError> {
    Ok(match secret_key {
        Some(k) => SecretBox::from_ring(k)?,
        None => SecretBox::from_hex(&SecretBox::generate_hex()?)?,
    })
}

/// The DynamoDB backend for a configuration: dummy credentials for a loopback endpoint, the
/// AWS credential chain otherwise.
#[cfg(feature = "dynamodb")]
pub async fn dynamo(cfg: &DynamoConfig) -> Dynamo {
    match cfg.endpoint_url.as_deref() {
        Some(url) if is_loopback(Some(url)) => Dynamo::local(url, &cfg.table),
        _ => Dynamo::connect(cfg).await,
    }
}

/// Why `--store dynamodb` is refused by an `sso` built without the DynamoDB store, and how
/// to get one that has it.
#[cfg(not(feature = "dynamodb"))]
pub fn without_dynamodb() -> CliError {
    CliError::Config(
        "this `sso` was built without the DynamoDB store (it keeps the AWS SDK out of the \
         local server's build); build it with the `dynamodb` feature: \
         `cargo run --release -p sso-cli --features dynamodb -- ...` or \
         `cargo install --path crates/sso-cli --features dynamodb`"
            .into(),
    )
}

/// Whether an endpoint URL points at this machine (`127.0.0.0/8`, `::1`, `localhost`).
#[cfg(feature = "dynamodb")]
fn is_loopback(endpoint: Option<&str>) -> bool {
    let Some(rest) = endpoint.and_then(|e| e.split_once("://")).map(|(_, r)| r) else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

/// The data directory's key ring: `secret.key`, and `secret.key.previous` while a rotation
/// ([`rotate_local_key`]) has not finished re-sealing.
fn local_key(dir: &Path) -> Result<String, CliError> {
    let path = dir.join(KEY_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let current = existing.trim().to_owned();
        return Ok(match std::fs::read_to_string(dir.join(PREVIOUS_KEY_FILE)) {
            Ok(previous) => format!("{current},{}", previous.trim()),
            Err(_) => current,
        });
    }
    let key = SecretBox::generate_hex()?;
    write_private(&path, &key)?;
    Ok(key)
}

const KEY_FILE: &str = "secret.key";
const PREVIOUS_KEY_FILE: &str = "secret.key.previous";

/// Starts rotating a data directory's own key: the old key is kept as `secret.key.previous`
/// before a new `secret.key` replaces it (by rename), so at every instant the files hold a
/// ring that opens every record. An unfinished rotation (the previous file is still there)
/// is resumed, not started again. [`finish_local_rotation`] drops the previous key.
pub fn rotate_local_key(dir: &Path) -> Result<(), CliError> {
    let previous = dir.join(PREVIOUS_KEY_FILE);
    if previous.exists() {
        return Ok(());
    }
    let old = std::fs::read_to_string(dir.join(KEY_FILE)).map_err(|e| {
        CliError::Config(format!(
            "{}: no key to rotate: {e}",
            dir.join(KEY_FILE).display()
        ))
    })?;
    write_private(&previous, old.trim())?;
    let next = dir.join("secret.key.next");
    let _ = std::fs::remove_file(&next);
    write_private(&next, &SecretBox::generate_hex()?)?;
    std::fs::rename(&next, dir.join(KEY_FILE))?;
    Ok(())
}

/// Ends a local rotation once every record is sealed under the current key.
pub fn finish_local_rotation(dir: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(dir.join(PREVIOUS_KEY_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)?;
    Ok(())
}
