//! Which keys the database file may hold: a filter the writer asks before it reads redb for a
//! key the overlay does not know.
//!
//! Most of those reads are of keys that were never written: a new session's key (a signed
//! link's replay guard is its session), a one-time token being minted. Each costs a descent of
//! redb's B-tree to a random leaf, usually a `pread` past its page cache, on the writer's
//! thread that every write waits behind. A Bloom filter answers "certainly not there" for
//! almost all of them from memory (1 % false positives, which are read as before).
//!
//! **It never answers "not there" for a key the file holds.** A key gets into the file only
//! through the writer (every batch goes through the overlay, and the flusher writes only what
//! the overlay froze), so the filter is the union of two parts: the keys the file held when the
//! store was opened, read by a background scan of one redb snapshot, and every key the writer
//! has put since it started (before its batch is even logged). A key in the file is in the
//! snapshot or was put since; one removed and put again was put since. Until the scan is done
//! the filter says "maybe" to everything, so the writer reads redb as it always did.
//!
//! The filter only grows (a removed key stays in it, which costs a read, never a wrong
//! answer) and is built anew each time the store is opened: about 1.2 bytes per key. Past
//! [`MAX_WRITTEN`] keys put since, it is given up (every key "maybe") rather than grown on.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use fastbloom::BloomFilter;
use redb::{Database, ReadableDatabase, ReadableTableMetadata};

use super::{ITEMS, io};
use crate::StoreError;
use crate::item::Key;

/// The share of keys not in the file that the filter still answers "maybe" for.
const FALSE_POSITIVES: f64 = 0.01;

/// The first filter of the writer's own puts holds this many keys at [`FALSE_POSITIVES`]; each
/// next one twice as many as the one before.
const FIRST_CAPACITY: usize = 1 << 16;

/// Past this many distinct keys put since the store was opened (filters of about 20 MiB in
/// all), the writer gives the filter up and reads redb for every key again, until the store
/// is opened again: memory stays bounded on a server that runs for months.
const MAX_WRITTEN: usize = 1 << 24;

/// The filters are only ever given hashes ([`Hash::of`]), never keys: a key is hashed once
/// however many filters are asked.
type Filter = BloomFilter;

fn filter(capacity: usize) -> Filter {
    BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity.max(1))
}

/// How the writer and the scan hash a key for every filter: foldhash, seeded at random when
/// the store is opened (a key an attacker picks cannot be aimed at a filter's false
/// positives, which would only cost reads anyway), cheaper than SipHash on these 90-byte
/// keys, and computed once per key instead of once per filter asked (SipHash once per filter
/// part was ≈ 2.8 % of a loaded server's samples).
#[derive(Clone)]
struct Hash(foldhash::fast::FixedState);

impl Hash {
    fn random() -> Self {
        let mut seed = [0u8; 8];
        // Without the OS's randomness the seed is fixed: the filter is as right, only
        // predictable.
        let _ = getrandom::fill(&mut seed);
        Self(foldhash::fast::FixedState::with_seed(u64::from_le_bytes(
            seed,
        )))
    }

    fn of(&self, pk: &str, sk: &str) -> u64 {
        self.0.hash_one((pk, sk))
    }
}

/// The writer's filter. Owned by the writer thread; the scan hands its part over once.
pub(super) struct KnownKeys {
    /// The keys of the file as the store was opened, once the scan is done.
    scanned: Option<Filter>,
    scan: Option<mpsc::Receiver<Filter>>,
    /// Every key put since the store was opened, in filters of growing capacity.
    written: Vec<Part>,
    /// The scan's thread, and what tells it to stop: it holds the database open, so the
    /// store is closed only once it has ended.
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    /// Past [`MAX_WRITTEN`]: no filter any more.
    given_up: bool,
    hash: Hash,
}

impl Drop for KnownKeys {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One filter of the writer's puts: how many keys it holds, and how many it is sized for.
struct Part {
    filter: Filter,
    len: usize,
    capacity: usize,
}

impl Part {
    fn new(capacity: usize) -> Self {
        Self {
            filter: filter(capacity),
            len: 0,
            capacity,
        }
    }
}

impl KnownKeys {
    /// Starts the scan of `db` on a thread of its own; `done` is set once its part arrived.
    pub(super) fn spawn(db: Arc<Database>, done: Arc<AtomicBool>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let hash = Hash::random();
        let thread = {
            let stop = Arc::clone(&stop);
            let hash = hash.clone();
            std::thread::Builder::new()
                .name("sso-store-keys".into())
                .spawn(move || match scan(&db, &stop, &hash) {
                    Ok(Some(filter)) => {
                        if tx.send(filter).is_ok() {
                            done.store(true, Ordering::Release);
                        }
                    }
                    Ok(None) => {}
                    // The filter stays "maybe" for everything: reads as before, nothing wrong.
                    Err(e) => tracing::warn!(error = %e, "scan of the store's keys failed"),
                })?
        };
        Ok(Self {
            scanned: None,
            scan: Some(rx),
            written: vec![Part::new(FIRST_CAPACITY)],
            thread: Some(thread),
            stop,
            given_up: false,
            hash,
        })
    }

    /// Whether the file may hold `key`: `false` only when it certainly does not.
    pub(super) fn may_hold(&mut self, key: &Key) -> bool {
        if self.scanned.is_none() {
            match self.scan.as_ref().map(mpsc::Receiver::try_recv) {
                Some(Ok(filter)) => {
                    self.scanned = Some(filter);
                    self.scan = None;
                }
                Some(Err(mpsc::TryRecvError::Disconnected)) => self.scan = None,
                Some(Err(mpsc::TryRecvError::Empty)) | None => {}
            }
        }
        let Some(scanned) = &self.scanned else {
            return true; // not scanned yet, or given up
        };
        let hash = self.hash.of(&key.pk, &key.sk);
        scanned.contains_hash(hash) || self.written.iter().any(|p| p.filter.contains_hash(hash))
    }

    /// Notes that `key` is being put: from now on the file may hold it.
    pub(super) fn add(&mut self, key: &Key) {
        if self.given_up {
            return;
        }
        let hash = self.hash.of(&key.pk, &key.sk);
        if self.written.iter().any(|p| p.filter.contains_hash(hash)) {
            return; // already there (or a false positive, which is as good)
        }
        if self.written.last().is_none_or(|p| p.len >= p.capacity) {
            let held: usize = self.written.iter().map(|p| p.capacity).sum();
            if held >= MAX_WRITTEN {
                self.give_up();
                return;
            }
            self.written
                .push(Part::new(FIRST_CAPACITY << self.written.len().min(16)));
        }
        if let Some(part) = self.written.last_mut() {
            part.filter.insert_hash(hash);
            part.len += 1;
        }
    }

    /// From now on every key "maybe": the writer reads redb as it did before the filter.
    fn give_up(&mut self) {
        tracing::info!(
            keys = MAX_WRITTEN,
            "the store's key filter is full: the writer reads every key until the next open"
        );
        self.given_up = true;
        self.scanned = None;
        self.scan = None;
        self.written = Vec::new();
    }
}

/// A filter of every key of the items table in one snapshot of `db`, or `None` if `stop` was
/// set first (the store is being closed).
fn scan(db: &Database, stop: &AtomicBool, hash: &Hash) -> Result<Option<Filter>, StoreError> {
    let tx = db.begin_read().map_err(io)?;
    let table = tx.open_table(ITEMS).map_err(io)?;
    let count = usize::try_from(table.len().map_err(io)?).unwrap_or(usize::MAX);
    let mut found = filter(count.max(FIRST_CAPACITY));
    for (n, entry) in redb::ReadableTable::iter(&table).map_err(io)?.enumerate() {
        if n % 4096 == 0 && stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        let (key, _) = entry.map_err(io)?;
        let (pk, sk) = key.value();
        found.insert_hash(hash.of(pk, sk));
    }
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(pk: &str) -> Key {
        Key::new(pk, "s")
    }

    fn in_memory() -> Arc<Database> {
        Arc::new(
            Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .unwrap(),
        )
    }

    fn with_items(db: &Database, pks: &[&str]) {
        let tx = db.begin_write().unwrap();
        {
            let mut table = tx.open_table(ITEMS).unwrap();
            for pk in pks {
                table.insert((*pk, "s"), b"{}".as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
    }

    fn ready(db: Arc<Database>) -> KnownKeys {
        let done = Arc::new(AtomicBool::new(false));
        let known = KnownKeys::spawn(db, Arc::clone(&done)).unwrap();
        while !done.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        known
    }

    #[test]
    fn the_keys_of_the_file_and_every_key_put_since_are_maybe_and_others_mostly_not() {
        let db = in_memory();
        let old: Vec<String> = (0..5000).map(|i| format!("old{i}")).collect();
        with_items(&db, &old.iter().map(String::as_str).collect::<Vec<_>>());
        let mut known = ready(db);
        // More than the first filter's capacity: the writer's part grows and forgets nothing.
        let new: Vec<Key> = (0..FIRST_CAPACITY * 3)
            .map(|i| k(&format!("new{i}")))
            .collect();
        for key in &new {
            known.add(key);
        }
        assert!(known.written.len() > 1);
        // The same keys again take no room: a hot key put on every login does not grow it.
        let held = |known: &KnownKeys| known.written.iter().map(|p| p.len).sum::<usize>();
        let before = (known.written.len(), held(&known));
        for key in &new {
            known.add(key);
        }
        assert_eq!((known.written.len(), held(&known)), before);
        assert!(
            old.iter().all(|pk| known.may_hold(&k(pk))),
            "no false negative"
        );
        assert!(
            new.iter().all(|key| known.may_hold(key)),
            "no false negative"
        );
        let others = (0..10_000)
            .filter(|i| known.may_hold(&k(&format!("never{i}"))))
            .count();
        assert!(others < 500, "{others} of 10 000 absent keys said maybe");
    }

    #[test]
    fn before_the_scan_is_done_every_key_may_be_there() {
        let (_tx, rx) = mpsc::channel();
        let mut known = KnownKeys {
            scanned: None,
            scan: Some(rx),
            written: vec![Part::new(FIRST_CAPACITY)],
            thread: None,
            stop: Arc::new(AtomicBool::new(false)),
            given_up: false,
            hash: Hash::random(),
        };
        assert!(known.may_hold(&k("never")));
        // A scan that failed leaves it so.
        let (tx, rx) = mpsc::channel::<Filter>();
        drop(tx);
        known.scan = Some(rx);
        assert!(known.may_hold(&k("never")));
        assert!(known.scan.is_none() && known.scanned.is_none());
    }
}
