//! The embedded backend: a redb file under a data directory (or memory, for tests).
//!
//! # Group commit
//!
//! Every write ([`ItemBackend::write`] and [`ItemBackend::transact`]) is queued (an unbounded
//! channel) to ONE writer, a dedicated thread that owns all redb write transactions. The
//! writer blocks until an operation arrives, then takes every operation already waiting, at
//! most [`MAX_BATCH`] (256) in all, opens one write transaction for the batch, evaluates each
//! operation's [`Cond`]itions in queue order against the state as changed by the earlier
//! operations of the batch, and commits once with redb's default `Durability::Immediate`
//! (one fsync for the whole batch). There is **no timer**: the writer never waits for company,
//! so on an idle server a lone write commits at once; batches only form from operations that
//! queued while the previous commit was being made durable.
//!
//! Each operation keeps its own outcome: a conditional write that loses still gets
//! [`WriteOutcome::ConditionFailed`], and a transaction is all-or-nothing within the batch (its
//! conditions are evaluated against a private overlay first; only when all hold are its writes
//! applied to the batch's transaction), leaving the other operations unaffected. A caller is
//! answered only after the commit holding its write has returned, i.e. is durable; if applying
//! or committing fails, every operation of that batch gets the error ([`StoreError::Io`]) and
//! nothing of the batch is written. A batch that changes nothing (every condition failed) is
//! aborted rather than committed: its answers were judged against already durable state.
//! Exactly-once still holds because one thread evaluates every condition in order.
//!
//! An operation may carry writes that follow it ([`ItemBackend::write_then`]): a sign-in's
//! audit event, made only when the sign-in's own conditional write wins. They are evaluated
//! right after it in the same transaction and made durable by the same commit, so a login
//! waits for one commit rather than two in turn (its session, then its event): under load
//! that was half of every login's wait.
//!
//! The queue is bounded ([`QUEUE_CAPACITY`] operations): when the writer falls that far
//! behind, a write is refused at once as unavailable (the protocols' "try again later")
//! instead of queueing without limit.
//!
//! Reads run on tokio's blocking pool in redb read transactions, concurrent with the writer,
//! and see only committed batches. The file is held by one process at a time.
//!
//! # Expired items are swept
//!
//! Every item with an `expires_at` also has an entry in a second table, the expiry index,
//! keyed by `(expires_at, pk, sk)` and kept in the same write transaction as the item. The
//! writer sweeps between batches: whenever it has been idle for [`SWEEP_EVERY`], or that long
//! has passed since the last sweep, it deletes at most [`SWEEP_MAX`] items whose `expires_at`
//! has passed, in one durable transaction of their own, oldest first (a range read of the
//! index, no scan of the data). A backlog larger than that is worked off a sweep at a time,
//! with queued writes served in between, so a sweep never holds a request up for more than
//! one bounded transaction. Reads already treat expired items as absent, so a sweep changes
//! no answer; it only gives the space back. A file written before the index existed is
//! indexed once, when it is opened.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use crate::StoreError;
use crate::item::{
    Attr, EXPIRES_AT, FollowUp, Followed, Item, ItemBackend, Key, Page, Query, Write, WriteOutcome,
    holds,
};

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// The expiry index: `(expires_at, pk, sk)` of every item that has an `expires_at`.
const EXPIRY: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("expiry");
/// Format markers (today only whether the expiry index has been built).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_EXPIRY_INDEX: &str = "expiry_index";

/// File name of the store inside the data directory.
pub const FILE_NAME: &str = "sso.redb";

/// At most this many queued operations share one write transaction (one durable commit).
pub const MAX_BATCH: usize = 256;

/// At most this many operations wait for the writer; beyond, writes are refused as
/// unavailable at once (back-pressure with a bound, not an ever-growing queue).
pub const QUEUE_CAPACITY: usize = 8192;

/// The writer sweeps expired items after this long idle, and at least this often when busy.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// At most this many expired items are deleted by one sweep (one write transaction).
pub const SWEEP_MAX: usize = 1000;

/// The embedded backend.
#[derive(Clone)]
pub struct Embedded {
    db: Arc<Database>,
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
/// thread to finish its batch, so the database is released when the last `Embedded` goes.
struct Writer {
    queue: Option<mpsc::SyncSender<Op>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// What the writer has done since `open`, for measurements and tests.
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    swept: AtomicU64,
    /// Write operations answered, and the most that shared one batch.
    ops: AtomicU64,
    largest_batch: AtomicU64,
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
        Self::init(db, SWEEP_EVERY)
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
        Self::init(db, every)
    }

    fn init(db: Database, sweep_every: Duration) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ITEMS).map_err(io)?;
        tx.open_table(EXPIRY).map_err(io)?;
        index_expiry_once(&tx)?;
        tx.commit().map_err(io)?;
        let db = Arc::new(db);
        let (queue, ops) = mpsc::sync_channel(QUEUE_CAPACITY);
        let stats = Arc::new(Stats::default());
        let thread = {
            let (db, stats) = (Arc::clone(&db), Arc::clone(&stats));
            std::thread::Builder::new()
                .name("sso-store-writer".into())
                .spawn(move || run_writer(&db, &ops, &stats, sweep_every))
                .map_err(io)?
        };
        Ok(Self {
            db,
            writer: Arc::new(Writer {
                queue: Some(queue),
                thread: Some(thread),
                stats,
            }),
        })
    }

    /// How many write transactions the writer has committed (durably) since `open`: with
    /// concurrent writers, fewer than the writes, as batches share a commit.
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

    /// How many expired items the sweeps have deleted since `open`.
    pub fn swept(&self) -> u64 {
        self.writer.stats.swept.load(Ordering::Relaxed)
    }

    /// Sweeps now as if the time were `now` (Unix seconds): deletes at most [`SWEEP_MAX`]
    /// items whose `expires_at` is at or before it, durably, and says how many. The writer
    /// also does this by itself (see the module docs); this is for tests and tools.
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

/// redb's page cache. Its default (1 GiB) let the server's RSS grow with the data file in a
/// soak (+14 % in the second minute, on track past the soak's 20 % bound), and so did a 64 MiB
/// one until the file outgrew it; the hot items (new sessions, tokens, counters) are a small,
/// recent part of the file.
const CACHE_BYTES: usize = 16 << 20;

type Table<'t> = redb::Table<'t, (&'static str, &'static str), &'static [u8]>;

fn read(table: &Table<'_>, key: &Key) -> Result<Option<Item>, StoreError> {
    match table.get((key.pk.as_str(), key.sk.as_str())).map_err(io)? {
        Some(v) => decode(key, v.value()).map(Some),
        None => Ok(None),
    }
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
        self.transact_inner(vec![write], None).await.map(|(o, _)| o)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        self.transact_inner(writes, None).await.map(|(o, _)| o)
    }

    /// One queued operation: `first` and what follows it are evaluated together, in the same
    /// batch and durable commit, so the caller waits for one commit, not two.
    async fn write_then(&self, first: Write, then: FollowUp) -> Result<Followed, StoreError> {
        self.transact_inner(vec![first], Some(then)).await
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

/// The writer thread: one batch per loop, until every handle is dropped; sweeps in between.
fn run_writer(db: &Database, ops: &mpsc::Receiver<Op>, stats: &Stats, every: Duration) {
    let mut last_sweep = Instant::now();
    let mut report = Report::new(stats);
    loop {
        // Blocks only while the queue is empty: no timer, a lone op is committed at once. A
        // queue that stays empty for SWEEP_EVERY (or a writer that has not swept for that
        // long) sweeps.
        let wait = every.saturating_sub(last_sweep.elapsed()).min(REPORT_EVERY);
        let first = match ops.recv_timeout(wait) {
            Ok(op) => Some(op),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        report.tick(stats);
        if last_sweep.elapsed() >= every {
            // A full sweep means more may be due: sweep again soon, not SWEEP_EVERY later.
            let full = sweep_and_count(db, unix_now(), stats) == Ok(SWEEP_MAX);
            last_sweep = if full {
                Instant::now()
                    .checked_sub(every)
                    .unwrap_or_else(Instant::now)
            } else {
                Instant::now()
            };
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
                Op::Sweep { now, reply } => {
                    let _ = reply.send(sweep_and_count(db, now, stats));
                }
            }
        }
        if writes.is_empty() {
            continue;
        }
        stats.ops.fetch_add(writes.len() as u64, Ordering::Relaxed);
        stats
            .largest_batch
            .fetch_max(writes.len() as u64, Ordering::Relaxed);
        let (outcomes, committed) = match run_batch(db, &mut writes) {
            Ok(done) => done,
            Err(e) => (vec![Err(e); writes.len()], false),
        };
        if committed {
            stats.commits.fetch_add(1, Ordering::Relaxed);
        }
        for (Pending { reply, .. }, outcome) in writes.into_iter().zip(outcomes) {
            // A caller that stopped waiting (dropped future) is not an error.
            let _ = reply.send(outcome);
        }
    }
}

/// How often the writer logs its batch statistics (when it wrote anything since).
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The writer's periodic `info` line: writes, commits and the largest batch since the last.
struct Report {
    at: Instant,
    ops: u64,
    commits: u64,
}

impl Report {
    fn new(stats: &Stats) -> Self {
        Self {
            at: Instant::now(),
            ops: stats.ops.load(Ordering::Relaxed),
            commits: stats.commits.load(Ordering::Relaxed),
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

fn sweep_and_count(db: &Database, now: i64, stats: &Stats) -> Result<usize, StoreError> {
    let swept = sweep(db, now, SWEEP_MAX);
    match &swept {
        Ok(n) => {
            stats.swept.fetch_add(*n as u64, Ordering::Relaxed);
            if *n > 0 {
                stats.commits.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => tracing::warn!(error = %e, "sweep of expired items failed"),
    }
    swept
}

/// Deletes at most `limit` items whose `expires_at` is at or before `now`, oldest first, in
/// one durable transaction.
fn sweep(db: &Database, now: i64, limit: usize) -> Result<usize, StoreError> {
    let tx = db.begin_write().map_err(io)?;
    let mut swept = 0;
    {
        let mut index = tx.open_table(EXPIRY).map_err(io)?;
        let mut items = tx.open_table(ITEMS).map_err(io)?;
        let due: Vec<(i64, String, String)> = index
            .range((i64::MIN, "", "")..(now.saturating_add(1), "", ""))
            .map_err(io)?
            .take(limit)
            .map(|entry| {
                let (k, _) = entry.map_err(io)?;
                let (at, pk, sk) = k.value();
                Ok::<_, StoreError>((at, pk.to_owned(), sk.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        for (at, pk, sk) in due {
            index.remove((at, pk.as_str(), sk.as_str())).map_err(io)?;
            // The index is written with the item, so its entry names the item's expiry;
            // checking it again costs little and keeps a live item safe whatever happens.
            let expired = match items.get((pk.as_str(), sk.as_str())).map_err(io)? {
                Some(v) => expires_at(v.value()).is_some_and(|t| t <= now),
                None => false,
            };
            if expired {
                items.remove((pk.as_str(), sk.as_str())).map_err(io)?;
                swept += 1;
            }
        }
    }
    if swept > 0 {
        tx.commit().map_err(io)?;
    } else {
        tx.abort().map_err(io)?;
    }
    Ok(swept)
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

/// The `expires_at` of an encoded item, reading nothing else into memory.
fn expires_at(bytes: &[u8]) -> Option<i64> {
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

/// Runs a batch in one write transaction. `Err` (the whole batch fails, nothing is written)
/// when the transaction cannot be opened, applied to or committed; otherwise one outcome per
/// op and whether a commit was made.
fn run_batch(
    db: &Database,
    batch: &mut [Pending],
) -> Result<(Vec<Result<Followed, StoreError>>, bool), StoreError> {
    let tx = db.begin_write().map_err(io)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed = false;
    {
        let mut table = tx.open_table(ITEMS).map_err(io)?;
        let mut index = tx.open_table(EXPIRY).map_err(io)?;
        for pending in batch.iter_mut() {
            let outcome = match evaluate(&table, &pending.writes) {
                Ok(Evaluated::Holds { changes, outcome }) => {
                    for (key, item) in changes {
                        store(&mut table, &mut index, &key, item.as_ref())?;
                        changed = true;
                    }
                    // What follows is judged on the state these writes left, in the same
                    // transaction: durable in the same commit, or not at all.
                    let followed = match pending.then.take().map(|then| then(&outcome)) {
                        None => Ok(()),
                        Some(follow) => match evaluate(&table, &follow) {
                            Ok(Evaluated::Holds { changes, .. }) => {
                                for (key, item) in changes {
                                    store(&mut table, &mut index, &key, item.as_ref())?;
                                }
                                Ok(())
                            }
                            Ok(Evaluated::Fails) => Err(StoreError::Io(
                                "a condition of the writes that follow failed".into(),
                            )),
                            Err(e) => Err(e),
                        },
                    };
                    Ok((outcome, followed))
                }
                Ok(Evaluated::Fails) => Ok((WriteOutcome::ConditionFailed, Ok(()))),
                // Nothing of this op was applied: only it fails.
                Err(e) => Err(e),
            };
            outcomes.push(outcome);
        }
    }
    if changed {
        tx.commit().map_err(io)?;
    } else {
        tx.abort().map_err(io)?;
    }
    Ok((outcomes, changed))
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

/// Evaluates one op's writes in order against the table (which already holds the earlier ops
/// of the batch) through a private overlay, writing nothing.
fn evaluate(table: &Table<'_>, writes: &[Write]) -> Result<Evaluated, StoreError> {
    let mut overlay: BTreeMap<Key, Option<Item>> = BTreeMap::new();
    let mut result = None;
    for write in writes {
        let key = write.key();
        let current = match overlay.get(key) {
            Some(item) => item.clone(),
            None => read(table, key)?,
        };
        if !holds(write.cond(), current.as_ref()) {
            return Ok(Evaluated::Fails);
        }
        let next = write.apply(current.clone());
        if !matches!(write, Write::Check { .. }) {
            overlay.insert(key.clone(), next.clone());
        }
        // DynamoDB's answer: the old item for puts and deletes, the new one for updates.
        result = Some(match write {
            Write::Update { .. } => next,
            _ => current,
        });
    }
    Ok(Evaluated::Holds {
        changes: overlay,
        outcome: WriteOutcome::Done(if writes.len() == 1 {
            result.flatten()
        } else {
            None
        }),
    })
}

/// Writes `item` at `key` (`None`: removes it), keeping the expiry index in step.
fn store(
    table: &mut Table<'_>,
    index: &mut redb::Table<'_, (i64, &'static str, &'static str), ()>,
    key: &Key,
    item: Option<&Item>,
) -> Result<(), StoreError> {
    let k = (key.pk.as_str(), key.sk.as_str());
    let old = match item {
        Some(item) => table.insert(k, encode(item)?.as_slice()).map_err(io)?,
        None => table.remove(k).map_err(io)?,
    }
    .and_then(|old| expires_at(old.value()));
    let new = item.and_then(|i| i.n(EXPIRES_AT));
    if old != new {
        if let Some(at) = old {
            index.remove((at, k.0, k.1)).map_err(io)?;
        }
        if let Some(at) = new {
            index.insert((at, k.0, k.1), ()).map_err(io)?;
        }
    }
    Ok(())
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
}
