//! The flusher thread: the only writer of the redb file once the store is open. It writes
//! each frozen overlay table into redb (a checkpoint, in durable transactions of at most
//! [`CHUNK`] changes) and sweeps expired items (in one durable transaction a sweep), off the
//! writer's thread, so no request waits for either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use super::overlay::{Changes, Overlay};
use super::{EXPIRY, ITEMS, META, META_WAL_SEQ, Stats, expires_at, io};
use crate::StoreError;

/// What the writer hands the flusher, in order.
pub(super) enum Job {
    /// Write `changes` (the frozen table, which holds every batch up to log record `seq`)
    /// into redb, durably, then let the overlay drop it. Sent once the log holds every one of
    /// those records durably; `whole` when it could not (the log failed): then in one
    /// transaction, so that no batch is ever half in the file.
    Flush {
        changes: Arc<Changes>,
        seq: u64,
        whole: bool,
    },
    /// Delete at most `SWEEP_MAX` items whose `expires_at` is at or before `now`; answer
    /// `reply` if someone waits.
    Sweep {
        now: i64,
        reply: Option<oneshot::Sender<Result<usize, StoreError>>>,
    },
}

/// A failed flush is tried again this many times, this long apart, before the flusher gives
/// up on it (the log still holds it, and it is replayed when the store is opened again).
const FLUSH_TRIES: u32 = 3;
const FLUSH_RETRY: Duration = Duration::from_secs(1);

/// The flusher thread and its queue. Dropping it closes the queue and waits until every job
/// queued is done.
pub(super) struct Flusher {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    failed: Arc<AtomicBool>,
}

impl Flusher {
    /// Starts the flusher over `db`; `done` hears of every flush that completed.
    pub(super) fn spawn(
        db: Arc<Database>,
        overlay: Arc<Overlay>,
        stats: Arc<Stats>,
        done: mpsc::Sender<()>,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let thread = {
            let failed = Arc::clone(&failed);
            std::thread::Builder::new()
                .name("sso-store-flusher".into())
                .spawn(move || run(&db, &overlay, &stats, &jobs, &done, &failed))?
        };
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            failed,
        })
    }

    /// Whether a checkpoint failed for good: the frozen table stays in the overlay (and its
    /// records in the log) until the store is opened again, and no waiting helps.
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Where to queue jobs from another thread (the syncer's, once the log is durable).
    pub(super) fn queue(&self) -> Queue {
        Queue {
            sender: self.queue.clone(),
            failed: Arc::clone(&self.failed),
        }
    }
}

/// The flusher's queue, as another thread holds it.
pub(super) struct Queue {
    sender: Option<mpsc::Sender<Job>>,
    failed: Arc<AtomicBool>,
}

impl Queue {
    /// Queues `job`. If the flusher is gone (it panicked), checkpoints have failed for good
    /// and a waiting sweep is told so.
    pub(super) fn send(&self, job: Job) {
        if let Some(queue) = &self.sender
            && let Err(mpsc::SendError(job)) = queue.send(job)
        {
            self.failed.store(true, Ordering::Release);
            if let Job::Sweep {
                reply: Some(reply), ..
            } = job
            {
                let _ = reply.send(Err(StoreError::unavailable("store flusher stopped")));
            }
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    db: &Database,
    overlay: &Overlay,
    stats: &Stats,
    jobs: &mpsc::Receiver<Job>,
    done: &mpsc::Sender<()>,
    failed: &AtomicBool,
) {
    // A background sweep that deleted SWEEP_MAX items leaves more due (as of this time):
    // the flusher sweeps again whenever no other job waits, until the backlog is gone.
    let mut backlog = None;
    loop {
        let job = match backlog {
            Some(now) => match jobs.try_recv() {
                Ok(job) => job,
                Err(mpsc::TryRecvError::Empty) => Job::Sweep { now, reply: None },
                Err(mpsc::TryRecvError::Disconnected) => return,
            },
            None => match jobs.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            },
        };
        match job {
            Job::Flush {
                changes,
                seq,
                whole,
            } => {
                let started = Instant::now();
                let mut tries = 0;
                let flushed = loop {
                    tries += 1;
                    match flush(db, &changes, seq, if whole { usize::MAX } else { CHUNK }) {
                        Ok(()) => break true,
                        Err(e) if tries < FLUSH_TRIES => {
                            tracing::warn!(error = %e, "store checkpoint failed, trying again");
                            std::thread::sleep(FLUSH_RETRY);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "store checkpoint failed: the log keeps the writes; restart the server");
                            failed.store(true, Ordering::Release);
                            break false;
                        }
                    }
                };
                if flushed {
                    overlay.flushed();
                    stats.checkpoints.fetch_add(1, Ordering::Relaxed);
                    let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    stats
                        .longest_checkpoint_us
                        .fetch_max(took, Ordering::Relaxed);
                    let _ = done.send(());
                }
            }
            Job::Sweep { now, reply } => {
                let swept = sweep(db, now, super::SWEEP_MAX);
                match &swept {
                    Ok(n) => {
                        stats.swept.fetch_add(*n as u64, Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!(error = %e, "sweep of expired items failed"),
                }
                backlog = match (&reply, &swept) {
                    (None, Ok(n)) if *n == super::SWEEP_MAX => Some(now),
                    _ => None,
                };
                if let Some(reply) = reply {
                    let _ = reply.send(swept);
                }
            }
        }
    }
}

/// At most this many changes go into one of a checkpoint's transactions.
const CHUNK: usize = 2048;

/// Writes a frozen table into redb in key order, keeping the expiry index, and records that
/// the database now holds every batch up to log record `seq`. The table goes in durable
/// transactions of at most `chunk` changes ([`CHUNK`]; all of them when the log could not
/// make the table's records durable), each a run of neighbouring keys (so a leaf is
/// still written about once however many of its keys changed), and only the last records
/// `seq`: the log's syncs get the disk between them, instead of waiting behind one flush of
/// tens of megabytes. A crash between two of them loses nothing: the log still holds every
/// record after the database's number (a checkpoint starts only once they are durable, see
/// [`Job::Flush`]), and replaying them writes the same final values.
fn flush(db: &Database, changes: &Changes, seq: u64, chunk: usize) -> Result<(), StoreError> {
    let in_order = changes.in_key_order();
    let mut entries = in_order.into_iter().peekable();
    loop {
        let tx = db.begin_write().map_err(io)?;
        {
            let mut items = tx.open_table(ITEMS).map_err(io)?;
            let mut index = tx.open_table(EXPIRY).map_err(io)?;
            for (pk, sk, value) in entries.by_ref().take(chunk) {
                let expiry = value.and_then(expires_at);
                store_encoded(&mut items, &mut index, pk, sk, value, expiry)?;
            }
            if entries.peek().is_none() {
                tx.open_table(META)
                    .map_err(io)?
                    .insert(META_WAL_SEQ, seq)
                    .map_err(io)?;
            }
        }
        tx.commit().map_err(io)?;
        if entries.peek().is_none() {
            return Ok(());
        }
    }
}

pub(super) type Table<'t> = redb::Table<'t, (&'static str, &'static str), &'static [u8]>;
pub(super) type Index<'t> = redb::Table<'t, (i64, &'static str, &'static str), ()>;

/// Writes the encoded item `value` (expiring at `expiry`) at `(pk, sk)`, or removes it when
/// `None`, keeping the expiry index in step.
pub(super) fn store_encoded(
    table: &mut Table<'_>,
    index: &mut Index<'_>,
    pk: &str,
    sk: &str,
    value: Option<&[u8]>,
    expiry: Option<i64>,
) -> Result<(), StoreError> {
    let old = match value {
        Some(value) => table.insert((pk, sk), value).map_err(io)?,
        None => table.remove((pk, sk)).map_err(io)?,
    }
    .and_then(|old| expires_at(old.value()));
    if old != expiry {
        if let Some(at) = old {
            index.remove((at, pk, sk)).map_err(io)?;
        }
        if let Some(at) = expiry {
            index.insert((at, pk, sk), ()).map_err(io)?;
        }
    }
    Ok(())
}

/// Deletes at most `limit` items whose `expires_at` is at or before `now`, oldest first, in
/// one durable transaction. An item whose newer version is still in the overlay may lose its
/// older one here: the newer one is what every read sees, and the next flush writes it.
pub(super) fn sweep(db: &Database, now: i64, limit: usize) -> Result<usize, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{Attr, EXPIRES_AT, Item, Key};
    use redb::ReadableTableMetadata;

    #[test]
    fn a_checkpoint_of_more_than_one_transaction_writes_every_change_and_then_its_number() {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let mut changes = Changes::default();
        let n = 2 * CHUNK + 1;
        for i in 0..n {
            let key = Key::new(format!("k{i:05}"), "s");
            let item = Item::new(key.clone()).with(EXPIRES_AT, Attr::N(i as i64));
            changes.insert(key, Some(super::super::encode(&item).unwrap()));
        }
        flush(&db, &changes, 9, CHUNK).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        assert_eq!(tx.open_table(ITEMS).unwrap().len().unwrap(), n as u64);
        assert_eq!(tx.open_table(EXPIRY).unwrap().len().unwrap(), n as u64);
        let seq = tx.open_table(META).unwrap().get(META_WAL_SEQ).unwrap();
        assert_eq!(seq.map(|v| v.value()), Some(9));
    }
}
