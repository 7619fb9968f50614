//! The embedded backend: a redb file under a data directory (or memory, for tests).
//!
//! redb serialises write transactions, so evaluating a [`Cond`] and applying the write inside
//! one write transaction is atomic: the same exactly-once guarantee DynamoDB's conditional
//! writes give. Work runs on tokio's blocking pool so a waiting writer never stalls the
//! server's event loop. The file is held by one process at a time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::StoreError;
use crate::item::{Attr, Item, ItemBackend, Key, Page, Query, Write, WriteOutcome, holds};

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

/// File name of the store inside the data directory.
pub const FILE_NAME: &str = "sso.redb";

/// The embedded backend.
#[derive(Clone)]
pub struct Embedded {
    db: Arc<Database>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedded")
    }
}

fn io<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Io(e.to_string())
}

impl Embedded {
    /// Opens (creating if needed) the store in `dir`. Fails with [`StoreError::Locked`] when
    /// another process holds it.
    ///
    /// The file holds password verifiers and the audit trail: a directory this creates is
    /// `0700` and a new file `0600` (on Unix; existing ones keep their modes).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(dir).map_err(io)?;
        let path = dir.join(FILE_NAME);
        create_private_file(&path).map_err(io)?;
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::Locked(dir.display().to_string())
            }
            other => io(other),
        })?;
        Self::init(db)
    }

    /// A store that lives in memory only: for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(io)?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ITEMS).map_err(io)?;
        tx.commit().map_err(io)?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::unavailable_from("store task failed", e))?
    }
}

/// `mkdir -p` with mode `0700` for every directory it makes.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` empty with mode `0600` unless it exists (redb initialises an empty file),
/// so the store's file is never readable by others, not even for a moment.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

fn decode(key: &Key, bytes: &[u8]) -> Result<Item, StoreError> {
    let attrs: BTreeMap<String, Attr> =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
    Ok(Item {
        key: key.clone(),
        attrs,
    })
}

fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&item.attrs).map_err(io)
}

type Table<'t> = redb::Table<'t, (&'static str, &'static str), &'static [u8]>;

fn read(table: &Table<'_>, key: &Key) -> Result<Option<Item>, StoreError> {
    match table.get((key.pk.as_str(), key.sk.as_str())).map_err(io)? {
        Some(v) => decode(key, v.value()).map(Some),
        None => Ok(None),
    }
}

/// Applies one write inside an open transaction; `None` when its condition fails.
fn apply(table: &mut Table<'_>, write: &Write) -> Result<Option<Option<Item>>, StoreError> {
    let key = write.key();
    let current = read(table, key)?;
    if !holds(write.cond(), current.as_ref()) {
        return Ok(None);
    }
    let next = write.apply(current.clone());
    match (&next, write) {
        (_, Write::Check { .. }) => {}
        (Some(item), _) => {
            table
                .insert((key.pk.as_str(), key.sk.as_str()), encode(item)?.as_slice())
                .map_err(io)?;
        }
        (None, _) => {
            table
                .remove((key.pk.as_str(), key.sk.as_str()))
                .map_err(io)?;
        }
    }
    // DynamoDB's answer: the old item for puts and deletes, the new one for updates.
    Ok(Some(match write {
        Write::Update { .. } => next,
        _ => current,
    }))
}

#[async_trait]
impl ItemBackend for Embedded {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(io)?;
            let table = tx.open_table(ITEMS).map_err(io)?;
            match table.get((key.pk.as_str(), key.sk.as_str())).map_err(io)? {
                Some(v) => decode(&key, v.value()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        self.transact_inner(vec![write]).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        self.transact_inner(writes).await
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(io)?;
            let table = tx.open_table(ITEMS).map_err(io)?;
            let (mut from, mut to) = (q.sk_from.clone(), q.sk_to.clone());
            if let Some(after) = &q.after {
                if q.newest_first {
                    to = to.min(after.clone());
                } else {
                    from = from.max(after.clone());
                }
            }
            let range = table
                .range((q.pk.as_str(), from.as_str())..=(q.pk.as_str(), to.as_str()))
                .map_err(io)?;
            let mut items = Vec::new();
            let mut push = |entry: Result<
                (
                    redb::AccessGuard<'_, (&str, &str)>,
                    redb::AccessGuard<'_, &[u8]>,
                ),
                redb::StorageError,
            >|
             -> Result<bool, StoreError> {
                let (k, v) = entry.map_err(io)?;
                let (pk, sk) = k.value();
                if q.after.as_deref() == Some(sk) {
                    return Ok(true);
                }
                items.push(decode(&Key::new(pk, sk), v.value())?);
                Ok(items.len() < q.limit)
            };
            if q.newest_first {
                for entry in range.rev() {
                    if !push(entry)? {
                        break;
                    }
                }
            } else {
                for entry in range {
                    if !push(entry)? {
                        break;
                    }
                }
            }
            let next = (items.len() == q.limit)
                .then(|| items.last().map(|i| i.key.sk.clone()))
                .flatten();
            Ok(Page { items, next })
        })
        .await
    }
}

impl Embedded {
    async fn transact_inner(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(io)?;
            let mut result = None;
            {
                let mut table = tx.open_table(ITEMS).map_err(io)?;
                for w in &writes {
                    match apply(&mut table, w)? {
                        Some(r) => result = Some(r),
                        None => {
                            drop(table);
                            tx.abort().map_err(io)?;
                            return Ok(WriteOutcome::ConditionFailed);
                        }
                    }
                }
            }
            tx.commit().map_err(io)?;
            Ok(WriteOutcome::Done(if writes.len() == 1 {
                result.flatten()
            } else {
                None
            }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Cond;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sso-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn put(pk: &str) -> Write {
        Write::Put {
            item: Item::new(Key::new(pk, "s")).with("v", Attr::N(1)),
            cond: Cond::AbsentOrExpired { now: 0 },
        }
    }

    #[tokio::test]
    async fn items_survive_a_restart() {
        let dir = temp_dir("restart");
        {
            let store = Embedded::open(&dir).unwrap();
            assert!(matches!(
                store.write(put("a")).await.unwrap(),
                WriteOutcome::Done(None)
            ));
        }
        let store = Embedded::open(&dir).unwrap();
        let item = store.get(&Key::new("a", "s")).await.unwrap().unwrap();
        assert_eq!(item.n("v"), Some(1));
        assert_eq!(
            store.write(put("a")).await.unwrap(),
            WriteOutcome::ConditionFailed
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_second_opener_of_the_same_directory_is_told_it_is_in_use() {
        let dir = temp_dir("locked");
        let _first = Embedded::open(&dir).unwrap();
        match Embedded::open(&dir) {
            Err(StoreError::Locked(path)) => assert!(path.contains("sso-store-locked")),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_and_its_file_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let parent = temp_dir("modes");
        let dir = parent.join("new").join("data");
        let store = Embedded::open(&dir).unwrap();
        let mode = |p: &Path| {
            format!(
                "{:o}",
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777
            )
        };
        assert_eq!(mode(&dir), "700", "data directory");
        assert_eq!(
            mode(&parent.join("new")),
            "700",
            "directories made on the way"
        );
        assert_eq!(mode(&dir.join(FILE_NAME)), "600", "{FILE_NAME}");
        drop(store);
        // Reopening keeps the modes (and the data).
        let store = Embedded::open(&dir).unwrap();
        assert_eq!(mode(&dir.join(FILE_NAME)), "600");
        drop(store);
        let _ = std::fs::remove_dir_all(&parent);
    }

    #[tokio::test]
    async fn a_failed_condition_in_a_transaction_writes_nothing() {
        let store = Embedded::in_memory().unwrap();
        store.write(put("b")).await.unwrap();
        let outcome = store.transact(vec![put("c"), put("b")]).await.unwrap();
        assert_eq!(outcome, WriteOutcome::ConditionFailed);
        assert!(store.get(&Key::new("c", "s")).await.unwrap().is_none());
    }
}
