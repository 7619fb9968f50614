//! The embedded backend: a redb file under a data directory (or memory, for tests), its
//! write-ahead log, and the overlay of what the log holds that the file does not yet.
//!
//! # Group commit
//!
//! Every write ([`ItemBackend::write`] and [`ItemBackend::transact`]) is queued (a bounded
//! channel) to ONE writer, a dedicated thread. The writer blocks until an operation arrives,
//! then takes every operation already waiting, at most [`MAX_BATCH`] (256) in all, and
//! evaluates each operation's [`crate::item::Cond`]itions in queue order against the state as
//! changed by the earlier operations of the batch. There is **no timer**: the writer never
//! waits for company, so on an idle server a lone write is handled at once; batches only form
//! from operations that queued while the writer was busy with the previous one.
//!
//! Each operation keeps its own outcome: a conditional write that loses still gets
//! [`WriteOutcome::ConditionFailed`], and a transaction is all-or-nothing within the batch (its
//! conditions are evaluated against a private overlay first; only when all hold are its writes
//! added to the batch's), leaving the other operations unaffected. A batch that changes
//! nothing (every condition failed) writes nothing. Exactly-once holds because one thread
//! evaluates every condition in order.
//!
//! # Durable before answered: the log
//!
//! The writer applies a batch's changes (each key's final item, or its removal) to the
//! **overlay**, an in-memory table in front of redb that every read consults first (see
//! `overlay.rs`), and appends them as one record to the write-ahead log through a second
//! thread, the syncer, and goes on with the next batch. The syncer writes every record waiting
//! with one `pwrite` that returns once they are durable (`O_DSYNC`), then answers their callers,
//! in batch order. So the disk's flush overlaps the next batch's work, and one flush covers
//! every batch handled meanwhile. **No caller is answered before the record holding its write
//! is durable**, and a batch that changed nothing is answered only after every batch before it
//! is durable (its answer was judged on their state).
//!
//! # Checkpoints: the overlay written into redb
//!
//! Once the records since the last checkpoint reach [`CHECKPOINT_BYTES`], when no write has
//! come for [`CHECKPOINT_IDLE`], before every sweep and at close, the writer **freezes** the
//! overlay's table and hands it to a third thread, the flusher, which writes it into redb in
//! key order, in durable transactions (redb's own fsync) of a few thousand neighbouring keys
//! each, the last of which also stores the number of the last log record it holds; the
//! overlay then lets go of it. Batches go on into a fresh table
//! meanwhile and the log goes on in its other file (see `wal.rs`), so a checkpoint holds no
//! request up. One frozen table at a time: if the next one is due while the flusher is still
//! busy, the active table grows; past [`OVERLAY_MAX_BYTES`] the writer waits for the flusher
//! (at most [`FLUSH_WAIT`], then refuses writes as unavailable). When the store is opened,
//! the records after the database's number are replayed, in order, from both files, up to the
//! first torn or out-of-sequence one (which no caller was answered for), made durable, and the
//! log is emptied. A SIGKILL or power cut therefore loses no acknowledged write.
//!
//! Reads see every batch the writer has handled, including one whose record is being made
//! durable that very moment: a read may see a write a few hundred microseconds before its
//! writer is told it is done (and, should the machine crash in between, a write that is then
//! lost, never one that was acknowledged). A read the overlay answers costs a map lookup; the
//! others run on tokio's blocking pool in redb read transactions, concurrent with the flusher.
//! Writing the log failing (a full or broken disk) fails the batches it held and refuses every
//! later write until the store is opened again; the operations it failed may or may not have
//! been made, as with any I/O error.
//!
//! An operation may carry writes that follow it ([`ItemBackend::write_then`]): a sign-in's
//! audit event, made only when the sign-in's own conditional write wins. They are evaluated
//! right after it in the same batch and made durable by the same record.
//!
//! The queue is bounded ([`QUEUE_CAPACITY`] operations): when the writer falls that far
//! behind, a write is refused at once as unavailable (the protocols' "try again later")
//! instead of queueing without limit. The file and its log are held by one process at a time.
//!
//! # Expired items are swept
//!
//! Every item with an `expires_at` also has an entry in a second table, the expiry index,
//! keyed by `(expires_at, pk, sk)` and kept in the same write transaction as the item (the
//! checkpoint that brings it into redb). The flusher sweeps: whenever the writer has been idle for [`SWEEP_EVERY`], or that long has
//! passed since the last sweep, it freezes the overlay and has the flusher delete at most
//! [`SWEEP_MAX`] items whose `expires_at` has passed, in one durable transaction of their own,
//! oldest first (a range read of the index, no scan of the data). A backlog larger than that
//! is worked off a sweep at a time: after a full sweep the flusher sweeps again whenever it
//! has no checkpoint to make. Reads already treat expired items as absent, so a sweep
//! changes no answer; it only gives the space back. A file written before the index existed
//! is indexed once, when it is opened.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

mod flusher;
mod known;
mod overlay;
mod wal;

use self::flusher::{Flusher, Job};
use self::known::KnownKeys;
use self::overlay::{Found, Overlay};
use crate::StoreError;
use crate::item::{
    Attr, Cond, EXPIRES_AT, FollowUp, Followed, Item, ItemBackend, Key, Page, Query, Write,
    WriteOutcome, holds,
};

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// The expiry index: `(expires_at, pk, sk)` of every item that has an `expires_at`.
const EXPIRY: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("expiry");
/// Format markers (today only whether the expiry index has been built).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_EXPIRY_INDEX: &str = "expiry_index";
/// The sequence number of the last log record whose batch this state holds.
const META_WAL_SEQ: &str = "wal_seq";

/// File name of the store inside the data directory.
pub const FILE_NAME: &str = "sso.redb";

/// At most this many queued operations share one batch (one log record).
pub const MAX_BATCH: usize = 256;

/// At most this many operations wait for the writer; beyond, writes are refused as
/// unavailable at once (back-pressure with a bound, not an ever-growing queue).
pub const QUEUE_CAPACITY: usize = 8192;

/// The writer sweeps expired items after this long idle, and at least this often when busy.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// At most this many expired items are deleted by one sweep (one write transaction).
pub const SWEEP_MAX: usize = 1000;

/// A checkpoint (the overlay frozen and written into redb, after which the log may start
/// over) is due once the records since the last one reach this many bytes: about the size of
/// a log file. The larger the table, the more of its new keys share a B-tree leaf that is
/// then written once (16 MiB: 1.13x the logins a second of 4 MiB in benches/load/ab.sh), for
/// at most [`OVERLAY_MAX_BYTES`] more in memory. A crash replays the frozen table's records
/// and the active one's, usually not much more than twice this.
pub const CHECKPOINT_BYTES: usize = 16 << 20;

/// A checkpoint is also made when no write has come for this long, so an idle server's
/// database file holds everything it acknowledged.
pub const CHECKPOINT_IDLE: Duration = Duration::from_secs(1);

/// Past this many bytes of records in the overlay's active table (the flusher still busy
/// with the previous one), the writer waits for the flusher before taking more writes.
pub const OVERLAY_MAX_BYTES: usize = 4 * CHECKPOINT_BYTES;

/// The longest the writer waits for the flusher; then writes are refused as unavailable
/// until it catches up.
pub const FLUSH_WAIT: Duration = Duration::from_secs(10);

/// The embedded backend.
#[derive(Clone)]
pub struct Embedded {
    db: Arc<Database>,
    overlay: Arc<Overlay>,
    writer: Arc<Writer>,
}

/// One queued operation: writes (one for [`ItemBackend::write`]) and where to answer, or a
/// sweep asked for explicitly ([`Embedded::sweep`]).
enum Op {
    Writes(Pending),
    Sweep {
        now: i64,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
}

/// The handle on the writer thread. Dropping the last one closes the queue and waits for the
/// thread to finish its batch and its last checkpoint, so the database is released when the
/// last `Embedded` goes.
struct Writer {
    queue: Option<mpsc::SyncSender<Op>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// What the writer and the flusher have done since `open`, for measurements and tests.
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    swept: AtomicU64,
    /// Write operations answered, and the most that shared one batch.
    ops: AtomicU64,
    largest_batch: AtomicU64,
    /// Durable writes of the log, and checkpoints (flushes of the overlay into redb).
    syncs: Arc<AtomicU64>,
    checkpoints: AtomicU64,
    /// The longest a checkpoint took since the last report, µs (on the flusher's thread).
    longest_checkpoint_us: AtomicU64,
    /// Whether the scan of the file's keys for the writer's filter is done (`known.rs`).
    keys_scanned: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::Locked(dir.display().to_string())
                }
                other => io(other),
            })?;
        let mut logs = Vec::with_capacity(2);
        let mut records = Vec::with_capacity(2);
        for name in wal::FILE_NAMES {
            let mut log = wal::open(&dir.join(name)).map_err(io)?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut log, &mut bytes).map_err(io)?;
            logs.push(log);
            records.push(bytes);
        }
        // The files' names are durable in the directory before anything is acknowledged.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        let logs: [std::fs::File; 2] = logs
            .try_into()
            .map_err(|_| StoreError::Io("the store log has two files".into()))?;
        Self::init(db, SWEEP_EVERY, Some((logs, records)))
    }

    /// A store that lives in memory only: for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::in_memory_sweeping_every(SWEEP_EVERY)
    }

    /// An in-memory store whose writer sweeps every `every` instead of [`SWEEP_EVERY`]: for
    /// tests of the background sweep.
    pub fn in_memory_sweeping_every(every: Duration) -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(io)?;
        Self::init(db, every, None)
    }

    /// Prepares the tables, replays the log's records that the database does not hold yet
    /// (after a crash) and makes them durable, empties the log, and starts the threads.
    fn init(
        db: Database,
        sweep_every: Duration,
        log: Option<([std::fs::File; 2], Vec<Vec<u8>>)>,
    ) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ITEMS).map_err(io)?;
        tx.open_table(EXPIRY).map_err(io)?;
        index_expiry_once(&tx)?;
        let (log, records) = log.unzip();
        let records: Vec<&[u8]> = records.iter().flatten().map(Vec::as_slice).collect();
        let seq = replay(&tx, &records)?;
        tx.commit().map_err(io)?;
        if let Some(files) = &log {
            for file in files {
                file.set_len(0).map_err(io)?;
                file.sync_all().map_err(io)?;
            }
        }
        let db = Arc::new(db);
        let overlay = Arc::new(Overlay::default());
        let (queue, ops) = mpsc::sync_channel(QUEUE_CAPACITY);
        let stats = Arc::new(Stats::default());
        let syncer = wal::Syncer::spawn(log, Arc::clone(&stats.syncs)).map_err(io)?;
        let (done, flushed) = mpsc::channel();
        let flusher = Flusher::spawn(
            Arc::clone(&db),
            Arc::clone(&overlay),
            Arc::clone(&stats),
            done,
        )
        .map_err(io)?;
        let thread = {
            let stats = Arc::clone(&stats);
            let log = Log {
                db: Arc::clone(&db),
                overlay: Arc::clone(&overlay),
                syncer,
                flusher,
                flushed,
                known: KnownKeys::spawn(Arc::clone(&db), Arc::clone(&stats.keys_scanned))
                    .map_err(io)?,
                seq,
                bytes: 0,
            };
            std::thread::Builder::new()
                .name("sso-store-writer".into())
                .spawn(move || run_writer(&ops, &stats, sweep_every, log))
                .map_err(io)?
        };
        Ok(Self {
            db,
            overlay,
            writer: Arc::new(Writer {
                queue: Some(queue),
                thread: Some(thread),
                stats,
            }),
        })
    }

    /// How many batches that changed something the writer has handled since `open` (each
    /// made durable by one log record): with concurrent writers, fewer than the writes, as
    /// batches share a record.
    pub fn commits(&self) -> u64 {
        self.writer.stats.commits.load(Ordering::Relaxed)
    }

    /// How many write operations the writer has answered since `open`, and the most that
    /// shared one batch since the last [`REPORT_EVERY`] log line: with
    /// [`Embedded::commits`], the batch sizes seen under load.
    pub fn batches(&self) -> (u64, u64) {
        let stats = &self.writer.stats;
        (
            stats.ops.load(Ordering::Relaxed),
            stats.largest_batch.load(Ordering::Relaxed),
        )
    }

    /// How many times since `open` the log has been made durable (one `O_DSYNC` write each),
    /// and how many checkpoints (flushes of the overlay into the database file) were made.
    pub fn syncs(&self) -> (u64, u64) {
        let stats = &self.writer.stats;
        (
            stats.syncs.load(Ordering::Relaxed),
            stats.checkpoints.load(Ordering::Relaxed),
        )
    }

    /// How many expired items the sweeps have deleted since `open`.
    pub fn swept(&self) -> u64 {
        self.writer.stats.swept.load(Ordering::Relaxed)
    }

    /// Sweeps now as if the time were `now` (Unix seconds): checkpoints everything written
    /// before (unless the flusher is [`FLUSH_WAIT`] behind), then deletes at most [`SWEEP_MAX`] items whose `expires_at` is at or before it,
    /// durably, and says how many. The writer also does this by itself (see the module docs);
    /// this is for tests and tools.
    pub async fn sweep(&self, now: i64) -> Result<usize, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Op::Sweep { now, reply })?;
        answer
            .await
            .map_err(|e| StoreError::unavailable_from("store writer failed", e))?
    }

    fn enqueue(&self, op: Op) -> Result<(), StoreError> {
        let queue = self
            .writer
            .queue
            .as_ref()
            .ok_or_else(|| StoreError::unavailable("store writer stopped"))?;
        queue.try_send(op).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => StoreError::unavailable("store write queue full"),
            mpsc::TrySendError::Disconnected(_) => StoreError::unavailable("store writer stopped"),
        })
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

/// Applies the records of the log files `logs` that come after the database's own sequence
/// number, in order, and says the last sequence number the database now holds.
fn replay(tx: &redb::WriteTransaction, logs: &[&[u8]]) -> Result<u64, StoreError> {
    let mut meta = tx.open_table(META).map_err(io)?;
    let after = meta.get(META_WAL_SEQ).map_err(io)?.map_or(0, |v| v.value());
    let records = wal::replayable(logs, after);
    let Some(&(last, _)) = records.last() else {
        return Ok(after);
    };
    let mut items = tx.open_table(ITEMS).map_err(io)?;
    let mut index = tx.open_table(EXPIRY).map_err(io)?;
    for (_, payload) in &records {
        for change in wal::changes(payload)? {
            let expiry = change.value.and_then(expires_at);
            flusher::store_encoded(
                &mut items,
                &mut index,
                change.pk,
                change.sk,
                change.value,
                expiry,
            )?;
        }
    }
    meta.insert(META_WAL_SEQ, last).map_err(io)?;
    tracing::info!(records = records.len(), last, "store log replayed");
    Ok(last)
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

/// An item's attributes as one JSON object, `expires_at` first when it has one: JSON objects
/// are unordered, so [`decode`] reads it as before (and files written with the attributes in
/// name order read as they did), while [`expires_at`] reads it off the front without parsing
/// the rest. The flusher and the sweep ask that of every item they write or remove.
fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    struct ExpiryFirst<'a>(&'a BTreeMap<String, Attr>);
    impl serde::Serialize for ExpiryFirst<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let first = self.0.get_key_value(EXPIRES_AT);
            let rest = self.0.iter().filter(|(k, _)| k.as_str() != EXPIRES_AT);
            s.collect_map(first.into_iter().chain(rest))
        }
    }
    // Sized for the item up front (a string's escapes aside): `to_vec` starts at 128 bytes
    // and copies a sign-in's session through three reallocations.
    let size: usize = item
        .attrs
        .iter()
        .map(|(name, value)| {
            name.len()
                + 12
                + match value {
                    Attr::S(s) => s.len() + s.len() / 8,
                    Attr::N(_) => 20,
                    Attr::Bool(_) => 5,
                }
        })
        .sum();
    let mut out = Vec::with_capacity(size + 2);
    serde_json::to_writer(&mut out, &ExpiryFirst(&item.attrs)).map_err(io)?;
    Ok(out)
}

/// redb's page cache. Its default (1 GiB) let the server's RSS grow with the data file in a
/// soak (+14 % in the second minute, on track past the soak's 20 % bound), and so did a 64 MiB
/// one until the file outgrew it; the hot items (new sessions, tokens, counters) are a small,
/// recent part of the file.
const CACHE_BYTES: usize = 16 << 20;

/// The item at `key` in redb's table.
fn read(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    key: &Key,
) -> Result<Option<Item>, StoreError> {
    match table.get((key.pk.as_str(), key.sk.as_str())).map_err(io)? {
        Some(v) => decode(key, v.value()).map(Some),
        None => Ok(None),
    }
}

#[async_trait]
impl ItemBackend for Embedded {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        match self.overlay.get(key) {
            Found::Here(None) => Ok(None),
            Found::Here(Some(bytes)) => decode(key, &bytes).map(Some),
            Found::Below => {
                let key = key.clone();
                self.blocking(move |db| {
                    let tx = db.begin_read().map_err(io)?;
                    read(&tx.open_table(ITEMS).map_err(io)?, &key)
                })
                .await
            }
        }
    }

    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        self.transact_inner(vec![write], None).await.map(|(o, _)| o)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        self.transact_inner(writes, None).await.map(|(o, _)| o)
    }

    /// One queued operation: `first` and what follows it are evaluated together, in the same
    /// batch and log record, so the caller waits for one flush of the log, not two.
    async fn write_then(&self, first: Write, then: FollowUp) -> Result<Followed, StoreError> {
        self.transact_inner(vec![first], Some(then)).await
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        let overlay = Arc::clone(&self.overlay);
        self.blocking(move |db| {
            let (mut from, mut to) = (q.sk_from.clone(), q.sk_to.clone());
            if let Some(after) = &q.after {
                if q.newest_first {
                    to = to.min(after.clone());
                } else {
                    from = from.max(after.clone());
                }
            }
            // The overlay first, then a read transaction: see `Overlay::get`.
            // A page, and the cursor's own entry when it is still in the overlay.
            let newer = overlay.range(&q.pk, &from, &to, q.newest_first, q.limit.saturating_add(1));
            let tx = db.begin_read().map_err(io)?;
            let table = tx.open_table(ITEMS).map_err(io)?;
            let range = table
                .range((q.pk.as_str(), from.as_str())..=(q.pk.as_str(), to.as_str()))
                .map_err(io)?;
            let owned = |entry: Result<
                (
                    redb::AccessGuard<'_, (&str, &str)>,
                    redb::AccessGuard<'_, &[u8]>,
                ),
                redb::StorageError,
            >| {
                let (k, v) = entry.map_err(io)?;
                Ok::<_, StoreError>((k.value().1.to_owned(), v.value().to_vec()))
            };
            let older: Box<dyn Iterator<Item = Result<(String, Vec<u8>), StoreError>>> =
                if q.newest_first {
                    Box::new(range.rev().map(owned))
                } else {
                    Box::new(range.map(owned))
                };
            let mut items = Vec::new();
            overlay::merge(newer, older, q.newest_first, |sk, bytes| {
                if q.after.as_deref() == Some(sk.as_str()) {
                    return Ok(true);
                }
                items.push(decode(&Key::new(q.pk.clone(), sk), &bytes)?);
                Ok(items.len() < q.limit)
            })?;
            let next = (items.len() == q.limit)
                .then(|| items.last().map(|i| i.key.sk.clone()))
                .flatten();
            Ok(Page { items, next })
        })
        .await
    }
}

impl Embedded {
    async fn transact_inner(
        &self,
        writes: Vec<Write>,
        then: Option<FollowUp>,
    ) -> Result<Followed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Op::Writes(Pending {
            writes,
            then,
            reply,
        }))?;
        answer
            .await
            .map_err(|e| StoreError::unavailable_from("store writer failed", e))?
    }
}

/// The writer's side of the log and the overlay: the last sequence number, what the
/// overlay's active table holds, and the threads that make it durable.
struct Log {
    db: Arc<Database>,
    overlay: Arc<Overlay>,
    syncer: wal::Syncer,
    flusher: Flusher,
    /// A message per checkpoint the flusher completed.
    flushed: mpsc::Receiver<()>,
    /// Which keys the file may hold: the reads of keys it certainly does not are skipped.
    known: KnownKeys,
    seq: u64,
    /// Bytes of records in the overlay's active table.
    bytes: usize,
}

impl Log {
    /// Freezes the overlay's active table and has the flusher write it into redb, unless it
    /// is empty or the previous one is still being flushed. With `wait`, waits for that one
    /// first (at most [`FLUSH_WAIT`]), so everything written so far is in the checkpoint.
    fn checkpoint(&mut self, wait: bool) {
        // The flusher's completions are only waited on here; older ones are not kept.
        while self.flushed.try_recv().is_ok() {}
        if wait && self.overlay.flushing() {
            self.wait_for_flusher();
        }
        if let Some(changes) = self.overlay.freeze() {
            // Records from here on go to the other log file; those before are in `changes`,
            // whose checkpoint starts once they are durable.
            let (flusher, seq) = (self.flusher.queue(), self.seq);
            self.syncer.send(wal::Entry::Switch {
                then: Box::new(move |synced| {
                    flusher.send(Job::Flush {
                        changes,
                        seq,
                        whole: synced.is_err(),
                    });
                }),
            });
            self.bytes = 0;
        }
    }

    /// Waits until the flusher is done with the frozen table (or [`FLUSH_WAIT`] passed).
    fn wait_for_flusher(&self) {
        let deadline = Instant::now() + FLUSH_WAIT;
        while self.overlay.flushing() && !self.flusher.failed() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero()
                || matches!(
                    self.flushed.recv_timeout(left),
                    Err(mpsc::RecvTimeoutError::Disconnected)
                )
            {
                return;
            }
        }
    }

    /// Checkpoints, then has the flusher sweep. A sweep someone waits for (`reply`) waits for
    /// the flusher first, so it sees everything written before it; the writer's own does
    /// not hold writes up for that (what it misses, the next sweep sees).
    fn sweep(&mut self, now: i64, reply: Option<oneshot::Sender<Result<usize, StoreError>>>) {
        self.checkpoint(reply.is_some());
        // Through the syncer, like the checkpoint's job, so that it comes after it.
        let flusher = self.flusher.queue();
        self.syncer.send(wal::Entry::After {
            then: Box::new(move |_| flusher.send(Job::Sweep { now, reply })),
        });
    }
}

/// The writer thread: one batch per loop, until every handle is dropped; checkpoints and
/// sweeps in between, and a last checkpoint at the end.
fn run_writer(ops: &mpsc::Receiver<Op>, stats: &Stats, every: Duration, mut log: Log) {
    let mut last_sweep = Instant::now();
    let mut last_write = Instant::now();
    let mut report = Report::new(stats);
    loop {
        // Blocks only while the queue is empty: no timer, a lone op is handled at once. A
        // queue that stays empty for SWEEP_EVERY (or a writer that has not swept for that
        // long) sweeps; one that stays empty for CHECKPOINT_IDLE checkpoints.
        let mut wait = every.saturating_sub(last_sweep.elapsed()).min(REPORT_EVERY);
        if log.bytes > 0 {
            wait = wait.min(CHECKPOINT_IDLE.saturating_sub(last_write.elapsed()));
        }
        let first = match ops.recv_timeout(wait) {
            Ok(op) => Some(op),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        report.tick(stats);
        if first.is_none() && last_write.elapsed() >= CHECKPOINT_IDLE && log.bytes > 0 {
            log.checkpoint(false);
            // Tried again after another CHECKPOINT_IDLE if the flusher was still busy.
            last_write = Instant::now();
        }
        if last_sweep.elapsed() >= every {
            log.sweep(unix_now(), None);
            last_sweep = Instant::now();
        }
        let Some(first) = first else { continue };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut writes = Vec::with_capacity(batch.len());
        for op in batch {
            match op {
                Op::Writes(pending) => writes.push(pending),
                Op::Sweep { now, reply } => log.sweep(now, Some(reply)),
            }
        }
        if !writes.is_empty() {
            write_batch(writes, stats, &mut log);
            last_write = Instant::now();
            if log.bytes >= CHECKPOINT_BYTES {
                log.checkpoint(false);
            }
        }
    }
    log.checkpoint(true);
}

/// Handles one batch: evaluates it, applies its changes to the overlay and hands its record
/// to the syncer, which answers its callers once it is durable.
fn write_batch(mut writes: Vec<Pending>, stats: &Stats, log: &mut Log) {
    stats.ops.fetch_add(writes.len() as u64, Ordering::Relaxed);
    stats
        .largest_batch
        .fetch_max(writes.len() as u64, Ordering::Relaxed);
    if log.bytes >= OVERLAY_MAX_BYTES {
        log.wait_for_flusher();
        log.checkpoint(false);
    }
    let refused = if log.syncer.failed() {
        Some(StoreError::Io(
            "the store log failed: restart the server".into(),
        ))
    } else if log.bytes >= OVERLAY_MAX_BYTES {
        Some(StoreError::unavailable(if log.flusher.failed() {
            "the store's checkpoints failed: restart the server"
        } else {
            "the store's checkpoints fell behind"
        }))
    } else {
        None
    };
    let seq = log.seq + 1;
    let result = match refused {
        Some(e) => Err(e),
        None => run_batch(&log.db, &log.overlay, &mut log.known, &mut writes),
    };
    let (outcomes, changed) = match result {
        Ok(done) => done,
        Err(e) => (vec![Err(e); writes.len()], None),
    };
    let replies: Vec<_> = writes.into_iter().map(|p| p.reply).collect();
    let answer: wal::Answer = Box::new(move |synced| {
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A caller that stopped waiting (dropped future) is not an error.
            let _ = reply.send(match &synced {
                Ok(()) => outcome,
                Err(e) => Err(e.clone()),
            });
        }
    });
    let record = changed.map(|(record, changes)| {
        stats.commits.fetch_add(1, Ordering::Relaxed);
        log.seq = seq;
        log.bytes += record.len();
        for (key, value) in &changes {
            if value.is_some() {
                log.known.add(key);
            }
        }
        log.overlay.apply(changes);
        record
    });
    log.syncer.send(wal::Entry::Batch {
        seq,
        record,
        answer,
    });
}

/// How often the writer logs its batch statistics (when it wrote anything since).
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The writer's periodic `info` line, about the time since the last: writes, batches that
/// changed something, the largest batch, durable writes of the log and checkpoints.
struct Report {
    at: Instant,
    ops: u64,
    commits: u64,
    syncs: u64,
    checkpoints: u64,
}

impl Report {
    fn new(stats: &Stats) -> Self {
        Self {
            at: Instant::now(),
            ops: stats.ops.load(Ordering::Relaxed),
            commits: stats.commits.load(Ordering::Relaxed),
            syncs: stats.syncs.load(Ordering::Relaxed),
            checkpoints: stats.checkpoints.load(Ordering::Relaxed),
        }
    }

    fn tick(&mut self, stats: &Stats) {
        if self.at.elapsed() < REPORT_EVERY {
            return;
        }
        let now = Self::new(stats);
        let (ops, commits) = (now.ops - self.ops, now.commits - self.commits);
        if ops > 0 {
            tracing::info!(
                ops,
                commits,
                mean_batch = format_args!("{:.1}", ops as f64 / commits.max(1) as f64),
                largest_batch = stats.largest_batch.swap(0, Ordering::Relaxed),
                syncs = now.syncs - self.syncs,
                checkpoints = now.checkpoints - self.checkpoints,
                longest_checkpoint_ms = format_args!(
                    "{:.1}",
                    stats.longest_checkpoint_us.swap(0, Ordering::Relaxed) as f64 / 1000.0
                ),
                "store writer batches"
            );
        }
        *self = now;
    }
}

/// Queued writes: all or nothing, then (only if they were made) the writes that follow them,
/// all or nothing among themselves ([`ItemBackend::write_then`]), and where to answer.
struct Pending {
    writes: Vec<Write>,
    then: Option<FollowUp>,
    reply: oneshot::Sender<Result<Followed, StoreError>>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Builds the expiry index of a file written before it existed (once; a marker says so).
fn index_expiry_once(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut meta = tx.open_table(META).map_err(io)?;
    if meta.get(META_EXPIRY_INDEX).map_err(io)?.is_some() {
        return Ok(());
    }
    let items = tx.open_table(ITEMS).map_err(io)?;
    let mut index = tx.open_table(EXPIRY).map_err(io)?;
    for entry in items.iter().map_err(io)? {
        let (k, v) = entry.map_err(io)?;
        if let Some(at) = expires_at(v.value()) {
            let (pk, sk) = k.value();
            index.insert((at, pk, sk), ()).map_err(io)?;
        }
    }
    meta.insert(META_EXPIRY_INDEX, 1).map_err(io)?;
    Ok(())
}

/// The `expires_at` of an encoded item: read off the front where [`encode`] puts it, else (an
/// item written before it did, or one without) by parsing the object, reading nothing else
/// into memory.
fn expires_at(bytes: &[u8]) -> Option<i64> {
    if let Some(at) = leading_expiry(bytes) {
        return Some(at);
    }
    #[derive(serde::Deserialize)]
    struct ExpiryOnly {
        #[serde(rename = "expires_at")]
        at: Option<Attr>,
    }
    match serde_json::from_slice::<ExpiryOnly>(bytes).ok()?.at {
        Some(Attr::N(at)) => Some(at),
        _ => None,
    }
}

/// `N` of an encoded item that starts `{"expires_at":{"N":N}` and goes on with `,` or ends
/// with `}`, exactly as `serde_json` writes an [`Attr::N`] first; `None` for anything else.
fn leading_expiry(bytes: &[u8]) -> Option<i64> {
    let rest = bytes.strip_prefix(br#"{"expires_at":{"N":"#)?;
    let end = rest.iter().position(|b| *b == b'}')?;
    if !matches!(rest.get(end + 1), Some(b',' | b'}')) {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// One queued operation's answer.
type Outcome = Result<Followed, StoreError>;

/// What a batch that changed something hands on: its log record, and the same changes for
/// the overlay, in order.
type Changed = (wal::Record, Vec<(Key, Option<Vec<u8>>)>);

/// Evaluates a batch against the overlay and redb, writing nothing: one outcome per op (an
/// op whose read of redb failed fails alone) and, when any op changed something, its record
/// and changes. redb's read transaction is opened at the first key that needs it: with the
/// key filter, most batches need none.
fn run_batch(
    db: &Database,
    overlay: &Overlay,
    known: &mut KnownKeys,
    batch: &mut [Pending],
) -> Result<(Vec<Outcome>, Option<Changed>), StoreError> {
    // The frozen table before the read transaction: see `Overlay::get`. Only this thread
    // changes the active table, so it is read as it is at each lookup.
    let frozen = overlay.frozen();
    let mut table = None;
    let mut batch_state: BTreeMap<Key, Option<Item>> = BTreeMap::new();
    let mut record = wal::Record::default();
    let mut changes = Vec::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    for pending in batch.iter_mut() {
        let mut current = |key: &Key| -> Result<Option<Item>, StoreError> {
            if let Some(item) = batch_state.get(key) {
                return Ok(item.clone());
            }
            match overlay.get_active(key, frozen.as_deref()) {
                Found::Here(None) => Ok(None),
                Found::Here(Some(bytes)) => decode(key, &bytes).map(Some),
                Found::Below if known.may_hold(key) => {
                    let table = match &mut table {
                        Some(table) => table,
                        None => table
                            .insert(db.begin_read().map_err(io)?.open_table(ITEMS).map_err(io)?),
                    };
                    read(table, key)
                }
                Found::Below => Ok(None),
            }
        };
        let outcome = match evaluate(&mut current, std::mem::take(&mut pending.writes)) {
            Ok(Evaluated::Holds {
                changes: made,
                outcome,
            }) => {
                // What follows is judged on the state these writes left, in the same batch:
                // durable in the same record, or not at all.
                let follow = pending.then.take().map(|then| then(&outcome));
                let mut all = vec![made];
                let followed = match follow {
                    None => Ok(()),
                    Some(follow) => {
                        let mut after = |key: &Key| match all[0].get(key) {
                            Some(item) => Ok(item.clone()),
                            None => current(key),
                        };
                        match evaluate(&mut after, follow) {
                            Ok(Evaluated::Holds { changes, .. }) => {
                                all.push(changes);
                                Ok(())
                            }
                            Ok(Evaluated::Fails) => Err(StoreError::Io(
                                "a condition of the writes that follow failed".into(),
                            )),
                            Err(e) => Err(e),
                        }
                    }
                };
                match stage(all, &mut batch_state, &mut record, &mut changes) {
                    Ok(()) => Ok((outcome, followed)),
                    Err(e) => Err(e),
                }
            }
            Ok(Evaluated::Fails) => Ok((WriteOutcome::ConditionFailed, Ok(()))),
            // Nothing of this op was applied: only it fails.
            Err(e) => Err(e),
        };
        outcomes.push(outcome);
    }
    if record.is_empty() {
        return Ok((outcomes, None));
    }
    Ok((outcomes, Some((record, changes))))
}

/// Adds one op's changes (and those of what follows it) to the batch: encoded once, into its
/// record and the overlay's list, and kept decoded for the batch's later ops. Encodes all
/// before adding any, so an op that cannot be encoded leaves the batch as it was.
fn stage(
    all: Vec<BTreeMap<Key, Option<Item>>>,
    batch_state: &mut BTreeMap<Key, Option<Item>>,
    record: &mut wal::Record,
    changes: &mut Vec<(Key, Option<Vec<u8>>)>,
) -> Result<(), StoreError> {
    let mut encoded = Vec::new();
    for made in &all {
        for (key, item) in made {
            encoded.push((key, item.as_ref().map(encode).transpose()?));
        }
    }
    let staged: Vec<_> = encoded
        .iter()
        .map(|(key, bytes)| (key.pk.as_str(), key.sk.as_str(), bytes.as_deref()))
        .collect();
    record.push_all(&staged)?;
    for (key, bytes) in encoded {
        changes.push((key.clone(), bytes));
    }
    for made in all {
        batch_state.extend(made);
    }
    Ok(())
}

enum Evaluated {
    /// Every condition holds: the final state of each key written, and the answer.
    Holds {
        changes: BTreeMap<Key, Option<Item>>,
        outcome: WriteOutcome,
    },
    /// Some condition does not: nothing may be written.
    Fails,
}

/// Evaluates one op's writes in order against `current` (the state the earlier ops of the
/// batch left) through a private overlay, writing nothing.
///
/// A lone write answers with the item before it (puts, deletes) or after it (updates), as
/// DynamoDB's `ALL_OLD` / `ALL_NEW` do; the writes of a transaction answer nothing. So an
/// unconditional put or delete among several needs no read at all: the audit events that
/// ride with a sign-in cost no lookup.
fn evaluate(
    current: &mut impl FnMut(&Key) -> Result<Option<Item>, StoreError>,
    writes: Vec<Write>,
) -> Result<Evaluated, StoreError> {
    let lone = writes.len() == 1;
    let mut changes: BTreeMap<Key, Option<Item>> = BTreeMap::new();
    let mut answer = None;
    for write in writes {
        let blind = !lone
            && matches!(write.cond(), Cond::Always)
            && matches!(write, Write::Put { .. } | Write::Delete { .. });
        let now = if blind {
            None
        } else {
            match changes.get(write.key()) {
                Some(item) => item.clone(),
                None => current(write.key())?,
            }
        };
        if !holds(write.cond(), now.as_ref()) {
            return Ok(Evaluated::Fails);
        }
        answer = match write {
            Write::Check { .. } => now,
            Write::Put { item, .. } => {
                changes.insert(item.key.clone(), Some(item));
                now
            }
            Write::Delete { key, .. } => {
                changes.insert(key, None);
                now
            }
            update @ Write::Update { .. } => {
                let next = update.apply(now);
                let answer = if lone { next.clone() } else { None };
                changes.insert(update.key().clone(), next);
                answer
            }
        };
    }
    Ok(Evaluated::Holds {
        changes,
        outcome: WriteOutcome::Done(if lone { answer } else { None }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Cond;

    #[test]
    fn an_items_expiry_is_read_off_the_front_and_the_item_decodes_as_before() {
        let slow = |bytes: &[u8]| {
            #[derive(serde::Deserialize)]
            struct ExpiryOnly {
                expires_at: Option<Attr>,
            }
            match serde_json::from_slice::<ExpiryOnly>(bytes)
                .unwrap()
                .expires_at
            {
                Some(Attr::N(at)) => Some(at),
                _ => None,
            }
        };
        let key = Key::new("p", "s");
        let items = [
            Item::new(key.clone()).with("a", Attr::S("x}\",\"expires_at\":1".into())),
            Item::new(key.clone()).with(EXPIRES_AT, Attr::N(-7)),
            Item::new(key.clone())
                .with("a", Attr::Bool(true))
                .with(EXPIRES_AT, Attr::N(1_733_000_000))
                .with("z", Attr::S("{\"expires_at\":{\"N\":9}}".into())),
            Item::new(key.clone()).with(EXPIRES_AT, Attr::S("soon".into())),
        ];
        for item in &items {
            let bytes = encode(item).unwrap();
            assert_eq!(decode(&key, &bytes).unwrap(), *item);
            assert_eq!(
                expires_at(&bytes),
                slow(&bytes),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            // As an older build wrote it, attributes in name order: the same answer.
            let old = serde_json::to_vec(&item.attrs).unwrap();
            assert_eq!(expires_at(&old), slow(&old));
            assert_eq!(decode(&key, &old).unwrap(), *item);
        }
        assert_eq!(
            leading_expiry(&encode(&items[2]).unwrap()),
            Some(1_733_000_000)
        );
        assert_eq!(leading_expiry(&encode(&items[0]).unwrap()), None);
        assert_eq!(leading_expiry(br#"{"expires_at":{"N":5}x"#), None);
    }

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_conditional_writes_share_commits_and_keep_their_outcomes() {
        let dir = temp_dir("group");
        let store = Embedded::open(&dir).unwrap();
        let before = store.commits();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Even: one of 100 distinct keys; odd: all race for the one shared key.
                let pk = if i % 2 == 0 {
                    format!("distinct-{i}")
                } else {
                    "shared".to_owned()
                };
                (pk.clone(), store.write(put(&pk)).await.unwrap())
            }));
        }
        let mut shared_winners = 0;
        let mut distinct_written = 0;
        for task in tasks {
            let (pk, outcome) = task.await.unwrap();
            match (pk.as_str(), outcome) {
                ("shared", WriteOutcome::Done(None)) => shared_winners += 1,
                ("shared", WriteOutcome::ConditionFailed) => {}
                (_, WriteOutcome::Done(None)) => distinct_written += 1,
                (pk, other) => panic!("{pk}: {other:?}"),
            }
        }
        assert_eq!(shared_winners, 1, "exactly one put on the shared key wins");
        assert_eq!(distinct_written, 100);
        let commits = store.commits() - before;
        assert!(
            (1..200).contains(&commits),
            "{commits} commits for 200 writes"
        );
        // A transaction that loses inside a batch leaves the batch's other writes alone.
        let (a, b) = tokio::join!(
            store.transact(vec![put("tx-new"), put("shared")]),
            store.write(put("alone"))
        );
        assert_eq!(a.unwrap(), WriteOutcome::ConditionFailed);
        assert_eq!(b.unwrap(), WriteOutcome::Done(None));
        assert!(store.get(&Key::new("tx-new", "s")).await.unwrap().is_none());
        drop(store);
        // Every answered write is in the file.
        let store = Embedded::open(&dir).unwrap();
        for i in (0..200).step_by(2) {
            let key = Key::new(format!("distinct-{i}"), "s");
            assert!(store.get(&key).await.unwrap().is_some(), "{key}");
        }
        assert!(store.get(&Key::new("shared", "s")).await.unwrap().is_some());
        assert!(store.get(&Key::new("alone", "s")).await.unwrap().is_some());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn expiring(pk: &str, at: i64) -> Write {
        Write::Put {
            item: Item::new(Key::new(pk, "s")).with(EXPIRES_AT, Attr::N(at)),
            cond: Cond::Always,
        }
    }

    async fn present(store: &Embedded, pk: &str) -> bool {
        store.get(&Key::new(pk, "s")).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn a_sweep_deletes_what_has_expired_and_nothing_else() {
        let store = Embedded::in_memory().unwrap();
        for (pk, at) in [("old", 100), ("edge", 150), ("new", 200)] {
            store.write(expiring(pk, at)).await.unwrap();
        }
        store.write(put("forever")).await.unwrap();
        // Moved later: its old index entry must not sweep it.
        store.write(expiring("moved", 120)).await.unwrap();
        store.write(expiring("moved", 300)).await.unwrap();
        // Deleted before it expired: nothing left to sweep.
        store.write(expiring("gone", 110)).await.unwrap();
        store
            .write(Write::Delete {
                key: Key::new("gone", "s"),
                cond: Cond::Always,
            })
            .await
            .unwrap();
        assert_eq!(store.sweep(150).await.unwrap(), 2, "old and edge");
        assert!(!present(&store, "old").await && !present(&store, "edge").await);
        for pk in ["new", "forever", "moved"] {
            assert!(present(&store, pk).await, "{pk}");
        }
        assert_eq!(store.sweep(150).await.unwrap(), 0, "nothing more is due");
        assert_eq!(store.sweep(1000).await.unwrap(), 2, "new and moved");
        assert!(present(&store, "forever").await);
        assert_eq!(store.swept(), 4);
    }

    #[tokio::test]
    async fn the_writer_sweeps_by_itself_when_idle_and_while_busy() {
        let store = Embedded::in_memory_sweeping_every(Duration::from_millis(50)).unwrap();
        let past = unix_now() - 1;
        store.write(expiring("idle", past)).await.unwrap();
        store
            .write(expiring("live", unix_now() + 3600))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while present(&store, "idle").await {
            assert!(Instant::now() < deadline, "never swept while idle");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Busy: a write every few milliseconds never leaves the queue idle for 50 ms.
        store.write(expiring("busy", past)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut i = 0;
        while present(&store, "busy").await {
            assert!(Instant::now() < deadline, "never swept while busy");
            store.write(put(&format!("w{i}"))).await.unwrap();
            i += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(present(&store, "live").await);
        assert_eq!(store.swept(), 2);
    }

    #[tokio::test]
    async fn a_backlog_of_expired_items_is_swept_without_waiting_between_sweeps() {
        let every = Duration::from_secs(2);
        let store = Embedded::in_memory_sweeping_every(every).unwrap();
        let n = SWEEP_MAX * 5 / 2;
        let past = unix_now() - 1;
        let writes = (0..n).map(|i| expiring(&format!("b{i}"), past)).collect();
        store.transact(writes).await.unwrap();
        let started = Instant::now();
        // The first sweep comes after `every`; the two more it takes follow at once, not one
        // `every` apart each.
        while store.swept() < n as u64 {
            assert!(
                started.elapsed() < every * 2,
                "{} of {n} swept after {:?}",
                store.swept(),
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn one_sweep_deletes_at_most_sweep_max_items() {
        let store = Embedded::in_memory().unwrap();
        let writes = (0..SWEEP_MAX + 10)
            .map(|i| expiring(&format!("k{i}"), 5))
            .collect();
        store.transact(writes).await.unwrap();
        assert_eq!(store.sweep(10).await.unwrap(), SWEEP_MAX);
        assert_eq!(store.sweep(10).await.unwrap(), 10);
    }

    #[tokio::test]
    async fn a_file_from_before_the_expiry_index_is_indexed_when_opened() {
        let dir = temp_dir("reindex");
        {
            let store = Embedded::open(&dir).unwrap();
            store.write(expiring("due", 10)).await.unwrap();
            store.write(expiring("later", 1000)).await.unwrap();
        }
        // Make the file look like one written before the index: no index, no marker.
        {
            let db = Database::create(dir.join(FILE_NAME)).unwrap();
            let tx = db.begin_write().unwrap();
            tx.delete_table(EXPIRY).unwrap();
            tx.delete_table(META).unwrap();
            tx.commit().unwrap();
        }
        let store = Embedded::open(&dir).unwrap();
        assert_eq!(store.sweep(500).await.unwrap(), 1);
        assert!(!present(&store, "due").await);
        assert!(present(&store, "later").await);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_lone_write_commits_at_once_and_a_losing_batch_commits_nothing() {
        let store = Embedded::in_memory().unwrap();
        let started = std::time::Instant::now();
        store.write(put("x")).await.unwrap();
        assert_eq!(store.commits(), 1);
        assert_eq!(
            store.write(put("x")).await.unwrap(),
            WriteOutcome::ConditionFailed
        );
        assert_eq!(store.commits(), 1, "nothing changed: nothing committed");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_write_and_what_follows_it_share_one_commit_and_follow_only_a_win() {
        let store = Embedded::in_memory().unwrap();
        let follow = |pk: &'static str| -> FollowUp { Box::new(move |_| vec![put(pk)]) };
        let (won, followed) = store.write_then(put("s1"), follow("a1")).await.unwrap();
        assert!(matches!(won, WriteOutcome::Done(_)) && followed.is_ok());
        assert_eq!(
            store.commits(),
            1,
            "the write and its follow-up in one commit"
        );
        assert!(present(&store, "s1").await && present(&store, "a1").await);

        // The same key again loses its condition: nothing follows, nothing is committed.
        let (lost, followed) = store.write_then(put("s1"), follow("a2")).await.unwrap();
        assert_eq!(lost, WriteOutcome::ConditionFailed);
        assert!(followed.is_ok());
        assert!(!present(&store, "a2").await);
        assert_eq!(store.commits(), 1);

        // A follow-up whose own condition fails is refused alone: the first write stands.
        let (won, followed) = store.write_then(put("s2"), follow("a1")).await.unwrap();
        assert!(matches!(won, WriteOutcome::Done(_)));
        assert!(followed.is_err());
        assert!(present(&store, "s2").await);
    }

    #[tokio::test]
    async fn a_follow_up_is_made_of_the_first_writes_answer() {
        let store = Embedded::in_memory().unwrap();
        store.write(put("t")).await.unwrap();
        let bump = Write::Update {
            key: Key::new("t", "s"),
            set: vec![],
            add: vec![("v".into(), 1)],
            set_sum: vec![],
            cond: Cond::Always,
        };
        let then: FollowUp = Box::new(|done| match done {
            WriteOutcome::Done(Some(item)) => {
                vec![put(&format!("seen-{}", item.n("v").unwrap_or(0)))]
            }
            _ => vec![],
        });
        let (_, followed) = store.write_then(bump, then).await.unwrap();
        assert!(followed.is_ok());
        assert!(
            present(&store, "seen-2").await,
            "the follow-up saw the updated item"
        );
    }

    /// Writes log file `file` of a crash: one record numbered `seq` with `changes`.
    fn crash_log(dir: &Path, file: usize, seq: u64, changes: &[(&str, Option<&Item>)]) {
        let mut record = wal::Record::default();
        for (pk, item) in changes {
            let bytes = item.map(|i| encode(i).unwrap());
            record.push(pk, "s", bytes.as_deref()).unwrap();
        }
        let mut log = Vec::new();
        record.seal_into(seq, &mut log);
        std::fs::write(dir.join(wal::FILE_NAMES[file]), log).unwrap();
    }

    fn log_sizes(dir: &Path) -> [u64; 2] {
        wal::FILE_NAMES.map(|name| std::fs::metadata(dir.join(name)).unwrap().len())
    }

    #[tokio::test]
    async fn what_only_the_log_holds_is_replayed_when_opened_and_the_log_emptied() {
        let dir = temp_dir("replay");
        {
            let store = Embedded::open(&dir).unwrap();
            store.write(put("gone")).await.unwrap();
            store.write(put("kept")).await.unwrap();
        }
        // Two batches were checkpointed at close: the database's sequence number is 2.
        let item = Item::new(Key::new("new", "s")).with(EXPIRES_AT, Attr::N(50));
        crash_log(&dir, 0, 3, &[("new", Some(&item)), ("gone", None)]);
        let store = Embedded::open(&dir).unwrap();
        assert!(present(&store, "new").await && present(&store, "kept").await);
        assert!(!present(&store, "gone").await);
        assert_eq!(log_sizes(&dir), [0, 0]);
        // The replayed item is in the expiry index like any other.
        assert_eq!(store.sweep(60).await.unwrap(), 1);
        assert!(!present(&store, "new").await);
        drop(store);
        // A record the database already holds (a stale lap) is not applied again.
        crash_log(&dir, 0, 2, &[("new", Some(&item))]);
        let store = Embedded::open(&dir).unwrap();
        assert!(!present(&store, "new").await);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn keys_in_the_file_fail_a_put_if_absent_once_the_writer_skips_reads_of_unknown_keys() {
        let dir = temp_dir("known");
        {
            let store = Embedded::open(&dir).unwrap();
            store.write(put("a")).await.unwrap();
        }
        let store = Embedded::open(&dir).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !store.writer.stats.keys_scanned.load(Ordering::Acquire) {
            assert!(
                Instant::now() < deadline,
                "the scan of the file's keys never ended"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let failed = |o: WriteOutcome| matches!(o, WriteOutcome::ConditionFailed);
        assert!(
            failed(store.write(put("a")).await.unwrap()),
            "in the file when opened"
        );
        assert!(
            !failed(store.write(put("b")).await.unwrap()),
            "never written"
        );
        // "b" checkpointed into the file (a sweep waits for that): no longer in the overlay,
        // the writer must read the file for it.
        store.sweep(0).await.unwrap();
        assert_eq!(store.overlay.get(&Key::new("b", "s")), Found::Below);
        assert!(
            failed(store.write(put("b")).await.unwrap()),
            "put since it was opened"
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_crash_between_a_checkpoints_transactions_replays_to_the_same_state() {
        let dir = temp_dir("replay-chunk");
        {
            let store = Embedded::open(&dir).unwrap();
            store.write(put("a")).await.unwrap();
        }
        // The database holds record 1. Records 2 and 3 changed "x" (expiring at 40, then at
        // 50) and the checkpoint of their table had made its first transaction durable, which
        // wrote "x" as of record 3 but not the sequence number, when the process died.
        let v = |n: i64| Item::new(Key::new("x", "s")).with(EXPIRES_AT, Attr::N(n));
        {
            let db = Database::create(dir.join(FILE_NAME)).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut items = tx.open_table(ITEMS).unwrap();
                let mut index = tx.open_table(EXPIRY).unwrap();
                let bytes = encode(&v(50)).unwrap();
                flusher::store_encoded(&mut items, &mut index, "x", "s", Some(&bytes), Some(50))
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let mut log = Vec::new();
        for (seq, n) in [(2, 40), (3, 50)] {
            let mut record = wal::Record::default();
            record
                .push("x", "s", Some(&encode(&v(n)).unwrap()))
                .unwrap();
            record.seal_into(seq, &mut log);
        }
        std::fs::write(dir.join(wal::FILE_NAMES[0]), log).unwrap();
        let store = Embedded::open(&dir).unwrap();
        let item = store.get(&Key::new("x", "s")).await.unwrap().unwrap();
        assert_eq!(item.n(EXPIRES_AT), Some(50));
        // One index entry, at 50: replaying 40 over 50 and then 50 left nothing behind.
        assert_eq!(store.sweep(45).await.unwrap(), 0);
        assert!(present(&store, "x").await);
        assert_eq!(store.sweep(60).await.unwrap(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_crash_during_a_checkpoint_replays_both_log_files_in_order() {
        let dir = temp_dir("replay-two");
        {
            let store = Embedded::open(&dir).unwrap();
            store.write(put("a")).await.unwrap();
        }
        // The database holds record 1. The table frozen with record 2 (in the second file)
        // had not been flushed when records 3 and 4 (in the first file) were written.
        let v = |n| Item::new(Key::new("a", "s")).with("v", Attr::N(n));
        let mut first = Vec::new();
        for (seq, n) in [(3, 3), (4, 4)] {
            let mut record = wal::Record::default();
            record
                .push("a", "s", Some(&encode(&v(n)).unwrap()))
                .unwrap();
            record.seal_into(seq, &mut first);
        }
        std::fs::write(dir.join(wal::FILE_NAMES[0]), first).unwrap();
        crash_log(&dir, 1, 2, &[("a", Some(&v(2))), ("b", Some(&v(2)))]);
        let store = Embedded::open(&dir).unwrap();
        let item = store.get(&Key::new("a", "s")).await.unwrap().unwrap();
        assert_eq!(item.n("v"), Some(4), "2, then 3, then 4");
        assert!(present(&store, "b").await);
        assert_eq!(log_sizes(&dir), [0, 0]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn writes_are_durable_through_the_log_and_checkpointed_when_idle() {
        let dir = temp_dir("checkpoint");
        let store = Embedded::open(&dir).unwrap();
        store.write(put("a")).await.unwrap();
        assert!(log_sizes(&dir)[0] > 0, "acknowledged once in the log");
        assert_eq!(store.syncs(), (1, 0));
        let deadline = Instant::now() + CHECKPOINT_IDLE * 10;
        while store.syncs().1 == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(store.syncs().1, 1, "an idle writer checkpoints");
        // The database file holds it: found below the overlay, which let go of it.
        assert_eq!(store.overlay.get(&Key::new("a", "s")), Found::Below);
        assert!(present(&store, "a").await);
        store.write(put("b")).await.unwrap();
        // The records after a checkpoint go to the other file.
        let bytes = std::fs::read(dir.join(wal::FILE_NAMES[1])).unwrap();
        assert_eq!(wal::records(&bytes, 1).len(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn at(sk: &str, v: i64) -> Write {
        Write::Put {
            item: Item::new(Key::new("p", sk)).with("v", Attr::N(v)),
            cond: Cond::Always,
        }
    }

    async fn sks(store: &Embedded, newest_first: bool, after: Option<&str>) -> Vec<String> {
        let page = store
            .query(Query {
                pk: "p".into(),
                sk_from: "b".into(),
                sk_to: "y".into(),
                newest_first,
                limit: 3,
                after: after.map(str::to_owned),
            })
            .await
            .unwrap();
        page.items
            .iter()
            .map(|i| format!("{}{}", i.key.sk, i.n("v").unwrap_or(0)))
            .collect()
    }

    #[tokio::test]
    async fn a_query_merges_the_overlay_over_the_database_file() {
        let store = Embedded::in_memory().unwrap();
        for sk in ["a", "b", "d", "f", "h", "z"] {
            store.write(at(sk, 1)).await.unwrap();
        }
        // Into the database file (a sweep checkpoints first and deletes nothing here).
        store.sweep(i64::MIN).await.unwrap();
        assert_eq!(store.overlay.get(&Key::new("p", "d")), Found::Below);
        store.write(at("d", 2)).await.unwrap();
        store.write(at("e", 2)).await.unwrap();
        store
            .write(Write::Delete {
                key: Key::new("p", "f"),
                cond: Cond::Always,
            })
            .await
            .unwrap();
        assert_eq!(sks(&store, false, None).await, ["b1", "d2", "e2"]);
        assert_eq!(sks(&store, false, Some("e")).await, ["h1"]);
        assert_eq!(sks(&store, true, None).await, ["h1", "e2", "d2"]);
        assert_eq!(sks(&store, true, Some("d")).await, ["b1"]);
        assert!(store.get(&Key::new("p", "f")).await.unwrap().is_none());
        // The same answers once everything is in the file.
        store.sweep(i64::MIN).await.unwrap();
        assert_eq!(sks(&store, false, None).await, ["b1", "d2", "e2"]);
        assert_eq!(sks(&store, true, None).await, ["h1", "e2", "d2"]);
    }

    /// Pages of every size, both ways, over a partition spread across the database file and
    /// the overlay (overwrites and removals of what the file holds, removals of what it does
    /// not), match a plain map: the overlay's part of a query is cut to a page's worth.
    #[tokio::test]
    async fn every_page_of_a_query_over_the_file_and_the_overlay_matches_a_model() {
        let store = Embedded::in_memory().unwrap();
        let mut model = BTreeMap::new();
        let mut rng = 7u64;
        let mut next = |n: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % n
        };
        for (phase, ops) in [(1, 150), (2, 150)] {
            for _ in 0..ops {
                let sk = format!("k{:03}", next(200));
                if next(4) == 0 {
                    store
                        .write(Write::Delete {
                            key: Key::new("p", sk.as_str()),
                            cond: Cond::Always,
                        })
                        .await
                        .unwrap();
                    model.remove(&sk);
                } else {
                    store.write(at(&sk, phase)).await.unwrap();
                    model.insert(sk, phase);
                }
            }
            if phase == 1 {
                store.sweep(i64::MIN).await.unwrap();
            }
        }
        for newest_first in [false, true] {
            let mut expected: Vec<String> = model.iter().map(|(k, v)| format!("{k}{v}")).collect();
            if newest_first {
                expected.reverse();
            }
            for limit in 1..=9 {
                let (mut listed, mut after) = (Vec::new(), None);
                loop {
                    let page = store
                        .query(Query {
                            pk: "p".into(),
                            sk_from: String::new(),
                            sk_to: "z".into(),
                            newest_first,
                            limit,
                            after: after.take(),
                        })
                        .await
                        .unwrap();
                    listed.extend(
                        page.items
                            .iter()
                            .map(|i| format!("{}{}", i.key.sk, i.n("v").unwrap_or(0))),
                    );
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
                assert_eq!(
                    listed, expected,
                    "limit {limit}, newest first {newest_first}"
                );
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("log-mode");
        drop(Embedded::open(&dir).unwrap());
        for name in wal::FILE_NAMES {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
