//! The embedded store's write-ahead log: what makes a batch durable while the writer already
//! works on the next one.
//!
//! The writer applies each batch to the overlay (see `overlay.rs`) and hands the batch's
//! changes, as one [`Record`], to the syncer thread. The syncer takes every record waiting,
//! writes them with one `pwrite` at the log's current end, which returns once they are durable
//! (the files are opened with `O_DSYNC`, see [`open`]), and only then answers the callers, in
//! batch order.
//!
//! The log is two files used in turn. When the writer freezes the overlay's active table for
//! the flusher, it sends [`Entry::Switch`]: the records after it go to the other file, from
//! its start. That file's records all belong to the table frozen the time before, whose flush
//! (a durable redb commit, a checkpoint) had to be complete before this freeze could happen,
//! so nothing it held is still needed. Each file therefore stays about a checkpoint's worth
//! of records however long the server runs, and a flush never holds the log up. A file is
//! grown ahead of its records with zeros, [`GROW`] at a time (in the same write), so that most
//! writes make data durable only (one that grows the file also commits the file system's
//! journal: twice as long here).
//!
//! # Format
//!
//! A record is a 20-byte header — payload length (`u32`), sequence number (`u64`), the first
//! 8 bytes of the SHA-256 of the length, sequence number and payload — then the payload: each
//! change as `pk`, `sk` (length-prefixed), then `0` (removed) or `1` and the encoded item.
//! Sequence numbers increase with every batch that changed something and never repeat (a
//! flush stores the last one it holds in the database). On open, [`replayable`] yields the
//! records after the database's own sequence number, in order, from both files, and stops at
//! the first that is torn (short or with a wrong checksum) or out of sequence: everything
//! after it was never acknowledged. Records of an earlier lap left behind the current one are
//! at or below the checkpoint and are skipped. When the store is opened, both files are
//! emptied once what they held is durable in the database; while it runs, each is written
//! over from its start.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use sha2::{Digest, Sha256};

use crate::StoreError;

/// File names of the log's two files inside the data directory.
pub const FILE_NAMES: [&str; 2] = ["sso.wal", "sso.2.wal"];

/// Opens (creating, `0600`) a log file for reading and writing, with `O_DSYNC`: each write returns once its data (and the size, when it grows the file) is
/// durable, as a write and then an `fdatasync` would, in one system call instead of two and
/// without the second pass over the page cache for dirty pages. See [`append`].
pub(super) fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_DSYNC);
    options.open(path)
}

const HEADER: usize = 4 + 8 + 8;

/// The changes of one batch, as they will be written: built by the writer while it applies
/// them, sealed (header and checksum) by the syncer.
#[derive(Default)]
pub(super) struct Record {
    payload: Vec<u8>,
}

impl Record {
    /// Adds the final state of one key: its encoded item, or `None` when it was removed.
    /// Refuses (and the batch then fails, unwritten) what the format cannot hold: a record of
    /// 4 GiB or more.
    #[cfg(test)]
    pub(super) fn push(
        &mut self,
        pk: &str,
        sk: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        self.push_all(&[(pk, sk, value)])
    }

    /// Adds the final state of several keys (each its encoded item, or `None` when it was
    /// removed), in one allocation: all of them, or none when the record would reach 4 GiB,
    /// which the format cannot hold (the batch then fails, unwritten).
    pub(super) fn push_all(
        &mut self,
        changes: &[(&str, &str, Option<&[u8]>)],
    ) -> Result<(), StoreError> {
        let size: usize = changes
            .iter()
            .map(|(pk, sk, value)| pk.len() + sk.len() + value.map_or(0, <[u8]>::len) + 13)
            .sum();
        if u32::try_from(self.payload.len() + size).is_err() {
            return Err(StoreError::Io("a batch too large for the store log".into()));
        }
        self.payload.reserve(size);
        for &(pk, sk, value) in changes {
            self.put(pk, sk, value);
        }
        Ok(())
    }

    fn put(&mut self, pk: &str, sk: &str, value: Option<&[u8]>) {
        put_bytes(&mut self.payload, pk.as_bytes());
        put_bytes(&mut self.payload, sk.as_bytes());
        match value {
            None => self.payload.push(0),
            Some(value) => {
                self.payload.push(1);
                put_bytes(&mut self.payload, value);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The record's size in the log.
    pub(super) fn len(&self) -> usize {
        HEADER + self.payload.len()
    }

    /// Appends the record, sealed as number `seq`, to `out`.
    pub(super) fn seal_into(&self, seq: u64, out: &mut Vec<u8>) {
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&checksum(len, seq, &self.payload));
        out.extend_from_slice(&self.payload);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fits: `Record::push` checked the whole record against `u32`.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn checksum(len: u32, seq: u64, payload: &[u8]) -> [u8; 8] {
    let mut hash = Sha256::new();
    hash.update(len.to_le_bytes());
    hash.update(seq.to_le_bytes());
    hash.update(payload);
    let digest = hash.finalize();
    let mut sum = [0; 8];
    sum.copy_from_slice(&digest[..8]);
    sum
}

/// The records of both log files numbered after `after`, in order, up to the first torn or
/// out-of-sequence one: the run that starts right after `after` in one file and, when that
/// file's lap ends, goes on at the start of the other.
pub(super) fn replayable<'a>(logs: &[&'a [u8]], after: u64) -> Vec<(u64, &'a [u8])> {
    let mut found = Vec::new();
    let mut last = after;
    loop {
        let Some(more) = logs
            .iter()
            .map(|log| records(log, last))
            .find(|more| !more.is_empty())
        else {
            return found;
        };
        last = more.last().map_or(last, |(seq, _)| *seq);
        found.extend(more);
    }
}

/// One change read back from the log.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Change<'a> {
    pub pk: &'a str,
    pub sk: &'a str,
    pub value: Option<&'a [u8]>,
}

/// The records of `log` numbered after `after`, in order, up to the first torn or out-of-
/// sequence one: `(seq, payload)`.
pub(super) fn records(log: &[u8], after: u64) -> Vec<(u64, &[u8])> {
    let mut found = Vec::new();
    let (mut at, mut last) = (0, after);
    while let Some(header) = log.get(at..at + HEADER) {
        let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default());
        let seq = u64::from_le_bytes(header[4..12].try_into().unwrap_or_default());
        let start = at + HEADER;
        let Some(payload) = start
            .checked_add(len as usize)
            .and_then(|end| log.get(start..end))
        else {
            break;
        };
        if header[12..] != checksum(len, seq, payload) {
            break;
        }
        at = start + payload.len();
        if seq <= after {
            // Already in the database: a record of this lap that a checkpoint covers, or
            // one of an earlier lap that the current one has not yet overwritten.
            continue;
        }
        if seq != last + 1 {
            break;
        }
        found.push((seq, payload));
        last = seq;
    }
    found
}

/// The changes of one record's payload, or why it cannot be read.
pub(super) fn changes(payload: &[u8]) -> Result<Vec<Change<'_>>, StoreError> {
    let mut cursor = Cursor(payload);
    let mut out = Vec::new();
    while !cursor.0.is_empty() {
        let pk = cursor.text()?;
        let sk = cursor.text()?;
        let value = match cursor.take(1)? {
            [0] => None,
            [1] => Some(cursor.bytes()?),
            _ => return Err(corrupt("unknown change kind")),
        };
        out.push(Change { pk, sk, value });
    }
    Ok(out)
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: FILE_NAMES[0].into(),
        reason: reason.into(),
    }
}

/// Reads a payload front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let (head, tail) = self
            .0
            .split_at_checked(n)
            .ok_or_else(|| corrupt("a change is cut short"))?;
        self.0 = tail;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default());
        self.take(len as usize)
    }

    fn text(&mut self) -> Result<&'a str, StoreError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("a key is not UTF-8"))
    }
}

/// How to answer the callers of one batch once the log says whether it is durable.
pub(super) type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What the writer hands the syncer, in commit order.
pub(super) enum Entry {
    /// A batch: its record, numbered `seq` (`None` when it changed nothing), and its
    /// callers. They are answered once it
    /// and everything before it is durable, never earlier: a batch that changed nothing was
    /// still judged on state that earlier batches left.
    Batch {
        seq: u64,
        record: Option<Record>,
        answer: Answer,
    },
    /// The overlay was frozen: the records after this go to the other file, from its start.
    /// `then` is called once the records before it are durable (or with why they are not):
    /// the frozen table's checkpoint may not start earlier, since a crash between its
    /// transactions must find every record it holds in the log.
    Switch { then: Answer },
    /// `then` is called once the records before it are durable (or with why they are not).
    After { then: Answer },
}

/// At most this many entries share one durable `pwrite`.
const MAX_GROUP: usize = 1024;

/// At most this many entries wait for the syncer; the writer then waits (back-pressure).
const QUEUE: usize = 1024;

/// The syncer thread and its queue. Dropping it closes the queue and waits until every
/// entry has been written and answered.
pub(super) struct Syncer {
    queue: Option<mpsc::SyncSender<Entry>>,
    thread: Option<std::thread::JoinHandle<()>>,
    failed: Arc<AtomicBool>,
}

impl Syncer {
    /// Starts the syncer over the log's two files (emptied by the caller; the first is written
    /// first), or over nothing for a store that lives in memory (entries are then answered in
    /// order without being written). `syncs` counts the durable writes.
    pub(super) fn spawn(log: Option<[File; 2]>, syncs: Arc<AtomicU64>) -> std::io::Result<Self> {
        let (queue, entries) = mpsc::sync_channel(QUEUE);
        let failed = Arc::new(AtomicBool::new(false));
        let thread = {
            let failed = Arc::clone(&failed);
            std::thread::Builder::new()
                .name("sso-store-syncer".into())
                .spawn(move || run(log.as_ref(), &entries, &failed, &syncs))?
        };
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            failed,
        })
    }

    /// Queues `entry`, waiting while the syncer is [`QUEUE`] entries behind.
    pub(super) fn send(&self, entry: Entry) {
        if let Some(queue) = &self.queue
            && let Err(mpsc::SendError(entry)) = queue.send(entry)
        {
            // The syncer is gone (it panicked): nothing can be made durable any more.
            self.failed.store(true, Ordering::Release);
            let (Entry::Batch { answer, .. }
            | Entry::Switch { then: answer }
            | Entry::After { then: answer }) = entry;
            answer(Err(StoreError::unavailable("store log stopped")));
        }
    }

    /// Whether writing the log has failed: from then on nothing can be made durable, and the
    /// writer refuses every write until the store is opened again (which replays the log).
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The syncer's loop: take what waits, write it in one go at the end of the current lap (two
/// when a switch falls inside), make it durable, answer in order.
fn run(
    log: Option<&[File; 2]>,
    entries: &mpsc::Receiver<Entry>,
    failed: &AtomicBool,
    syncs: &AtomicU64,
) {
    let mut lap = Lap::default();
    while let Ok(first) = entries.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match entries.try_recv() {
                Ok(entry) => group.push(entry),
                Err(_) => break,
            }
        }
        write_group(log, group, &mut lap, failed, syncs);
    }
}

/// Where the log is being written: which file, how far, and a buffer kept between groups.
#[derive(Default)]
struct Lap {
    file: usize,
    at: u64,
    buf: Vec<u8>,
    /// How long each file is known to be (both are emptied when the store is opened).
    sized: [u64; 2],
}

/// A file is grown this far ahead of its records, with zeros, whenever a write would pass
/// its end: a durable write that changes the file's size commits the file system's journal
/// (and on ext4 waits for every file's ordered data, the database's checkpoint included),
/// while one inside the file only writes the data. Zeros read back as
/// the end of the log (a record whose checksum fails).
const GROW: u64 = 1 << 20;

/// Writes one group of entries and answers its batches in order. A switch inside the group
/// splits it: the records before it are written to the end of the file they belong to and
/// made durable, and their batches answered with that outcome, before the rest go to the
/// other file. So a failure writing the second part fails only the batches it held (and, the
/// log failed, every later one), never batches already durable.
fn write_group(
    log: Option<&[File; 2]>,
    group: Vec<Entry>,
    lap: &mut Lap,
    failed: &AtomicBool,
    syncs: &AtomicU64,
) {
    let mut waiting: Vec<Answer> = Vec::new();
    lap.buf.clear();
    let flush = |lap: &mut Lap, waiting: &mut Vec<Answer>| {
        let synced = if failed.load(Ordering::Acquire) {
            Err(StoreError::Io("the store log failed earlier".into()))
        } else {
            append(log, lap, failed, syncs)
        };
        lap.buf.clear();
        for answer in waiting.drain(..) {
            answer(synced.clone());
        }
        synced
    };
    for entry in group {
        match entry {
            Entry::Batch {
                seq,
                record,
                answer,
            } => {
                if let Some(record) = record {
                    record.seal_into(seq, &mut lap.buf);
                }
                waiting.push(answer);
            }
            Entry::Switch { then } => {
                then(flush(lap, &mut waiting));
                (lap.file, lap.at) = (1 - lap.file, 0);
            }
            Entry::After { then } => then(flush(lap, &mut waiting)),
        }
    }
    let _ = flush(lap, &mut waiting);
}

/// Writes the lap's buffer at its end in its file, followed by zeros up to the file's new size
/// when it would pass its end (growing it by [`GROW`]); the write returns once it is durable,
/// the file being opened with `O_DSYNC` (see [`open`]). On failure marks the log as failed for
/// good.
fn append(
    log: Option<&[File; 2]>,
    lap: &mut Lap,
    failed: &AtomicBool,
    syncs: &AtomicU64,
) -> Result<(), StoreError> {
    let Some(files) = log else { return Ok(()) };
    if lap.buf.is_empty() {
        return Ok(());
    }
    let target = &files[lap.file];
    let end = lap.at + lap.buf.len() as u64;
    let grown = (end > lap.sized[lap.file]).then(|| end.next_multiple_of(GROW) + GROW);
    if let Some(size) = grown {
        let padded = usize::try_from(size - lap.at).unwrap_or(lap.buf.len());
        lap.buf.resize(padded, 0);
    }
    match target.write_all_at(&lap.buf, lap.at) {
        Ok(()) => {
            lap.at = end;
            if let Some(size) = grown {
                lap.sized[lap.file] = size;
            }
            syncs.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            failed.store(true, Ordering::Release);
            tracing::error!(error = %e, "writing the store log failed: writes are refused until the server restarts");
            Err(StoreError::Io(format!("writing the store log failed: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Record {
        let mut r = Record::default();
        r.push("pk", &format!("sk{n}"), Some(&[n; 3])).unwrap();
        r
    }

    fn log(seqs: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for &seq in seqs {
            record(seq as u8).seal_into(seq, &mut out);
        }
        out
    }

    fn seqs(log: &[u8], after: u64) -> Vec<u64> {
        records(log, after).into_iter().map(|(s, _)| s).collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_log_file_is_private_and_each_write_to_it_is_durable_on_return() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sso-wal-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = open(&dir.join(FILE_NAMES[0])).unwrap();
        let info =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| i32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        assert_eq!(flags & libc::O_DSYNC, libc::O_DSYNC, "{info}");
        let mode = file.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn changes_read_back_as_written() {
        let mut r = Record::default();
        r.push("t#a", "s#1", Some(b"{\"x\":1}")).unwrap();
        r.push("t#b", "", None).unwrap();
        let mut out = Vec::new();
        r.seal_into(7, &mut out);
        assert_eq!(out.len(), r.len());
        let found = records(&out, 0);
        assert_eq!(found.len(), 0, "7 does not follow 0: nothing is replayed");
        let found = records(&out, 6);
        assert_eq!(found.len(), 1);
        assert_eq!(
            changes(found[0].1).unwrap(),
            vec![
                Change {
                    pk: "t#a",
                    sk: "s#1",
                    value: Some(b"{\"x\":1}".as_slice())
                },
                Change {
                    pk: "t#b",
                    sk: "",
                    value: None
                },
            ]
        );
    }

    #[test]
    fn a_torn_or_damaged_record_ends_the_log() {
        let whole = log(&[1, 2, 3]);
        assert_eq!(seqs(&whole, 0), [1, 2, 3]);
        for cut in 1..record(3).len() {
            assert_eq!(seqs(&whole[..whole.len() - cut], 0), [1, 2], "cut {cut}");
        }
        let mut damaged = whole.clone();
        let second = record(1).len() + HEADER + 2;
        damaged[second] ^= 1;
        assert_eq!(seqs(&damaged, 0), [1]);
        // What follows the log's end in the file (zeroes, junk) is not a record.
        let mut padded = whole;
        padded.extend_from_slice(&[0; 64]);
        assert_eq!(seqs(&padded, 0), [1, 2, 3]);
    }

    #[test]
    fn what_the_database_holds_is_skipped_and_a_gap_ends_the_log() {
        assert_eq!(seqs(&log(&[3, 4, 5]), 3), [4, 5]);
        // A new lap (6, 7) over an older one (3, 4, 5) checkpointed at 5.
        let mut laps = log(&[6, 7]);
        laps.extend_from_slice(&log(&[3, 4, 5]));
        assert_eq!(seqs(&laps, 5), [6, 7]);
        // An unacknowledged 9 behind a torn 8 is never taken for the next record.
        assert_eq!(seqs(&log(&[6, 7, 9]), 5), [6, 7]);
        assert!(seqs(&log(&[7]), 5).is_empty());
    }

    #[test]
    fn a_damaged_payload_is_an_error_not_a_panic() {
        let mut r = Record::default();
        r.push("pk", "sk", Some(b"value")).unwrap();
        let payload = r.payload.clone();
        for cut in 1..payload.len() {
            assert!(changes(&payload[..cut]).is_err(), "cut {cut}");
        }
        let mut kind = payload;
        kind[4 + 2 + 4 + 2] = 9;
        assert!(matches!(changes(&kind), Err(StoreError::Corrupt { .. })));
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("sso-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, b"").unwrap();
        path
    }

    /// Sends a batch and returns where its answer arrives.
    fn batch(
        syncer: &Syncer,
        seq: u64,
        record: Option<Record>,
    ) -> mpsc::Receiver<Result<(), StoreError>> {
        let (tx, rx) = mpsc::channel();
        syncer.send(Entry::Batch {
            seq,
            record,
            answer: Box::new(move |r| tx.send(r).unwrap()),
        });
        rx
    }

    fn switch() -> Entry {
        Entry::Switch {
            then: Box::new(|_| {}),
        }
    }

    fn open_rw(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap()
    }

    #[test]
    fn batches_are_answered_once_written_and_a_switch_goes_on_in_the_other_file() {
        let paths = [temp_file("lap-a"), temp_file("lap-b")];
        let syncs = Arc::new(AtomicU64::new(0));
        let files = [open_rw(&paths[0]), open_rw(&paths[1])];
        let syncer = Syncer::spawn(Some(files), Arc::clone(&syncs)).unwrap();
        let answers: Vec<_> = (1..=3)
            .map(|n| batch(&syncer, n, Some(record(n as u8))))
            .collect();
        // A batch that changed nothing waits for the ones before it, and writes nothing.
        let judged = batch(&syncer, 3, None);
        for answer in answers.iter().chain([&judged]) {
            answer.recv().unwrap().unwrap();
        }
        assert_eq!(seqs(&std::fs::read(&paths[0]).unwrap(), 0), [1, 2, 3]);
        assert!((1..=3).contains(&syncs.load(Ordering::Relaxed)));
        syncer.send(switch());
        batch(&syncer, 4, Some(record(4))).recv().unwrap().unwrap();
        // Back to the first file, whose lap (1..=3) is taken to be flushed: 5 overwrites it.
        syncer.send(switch());
        batch(&syncer, 5, Some(record(5))).recv().unwrap().unwrap();
        drop(syncer);
        let (a, b) = (
            std::fs::read(&paths[0]).unwrap(),
            std::fs::read(&paths[1]).unwrap(),
        );
        assert_eq!(&a[..record(5).len()], &log(&[5])[..], "5 is at the start");
        assert_eq!(seqs(&b, 0), Vec::<u64>::new(), "4 does not follow 0");
        assert_eq!(seqs(&b, 3), [4]);
        let replayed = |after| -> Vec<u64> {
            replayable(&[&a, &b], after)
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        };
        assert_eq!(replayed(3), [4, 5], "from one file into the other");
        assert_eq!(replayed(4), [5]);
        assert!(replayed(5).is_empty());
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_switch_hands_the_checkpoint_on_only_once_the_records_before_it_are_durable() {
        let paths = [temp_file("then-a"), temp_file("then-b")];
        let files = [open_rw(&paths[0]), open_rw(&paths[1])];
        let syncer = Syncer::spawn(Some(files), Arc::new(AtomicU64::new(0))).unwrap();
        let answers: Vec<_> = (1..=3)
            .map(|n| batch(&syncer, n, Some(record(n as u8))))
            .collect();
        let (tx, rx) = mpsc::channel();
        let first = paths[0].clone();
        syncer.send(Entry::Switch {
            then: Box::new(move |synced| {
                // What the file holds when the checkpoint may start: every record before.
                tx.send((synced.is_ok(), std::fs::read(&first).unwrap()))
                    .unwrap();
            }),
        });
        let (tx2, rx2) = mpsc::channel();
        syncer.send(Entry::After {
            then: Box::new(move |synced| tx2.send(synced.is_ok()).unwrap()),
        });
        let (ok, bytes) = rx.recv().unwrap();
        assert!(ok);
        assert_eq!(seqs(&bytes, 0), [1, 2, 3]);
        for answer in answers {
            answer.recv().unwrap().unwrap();
        }
        assert!(
            rx2.recv().unwrap(),
            "after: once what came before is durable"
        );
        drop(syncer);
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_log_file_grows_ahead_in_zeros_that_read_back_as_its_end() {
        let paths = [temp_file("grow-a"), temp_file("grow-b")];
        let files = [open_rw(&paths[0]), open_rw(&paths[1])];
        let syncer = Syncer::spawn(Some(files), Arc::new(AtomicU64::new(0))).unwrap();
        let len = |path: &std::path::PathBuf| std::fs::metadata(path).unwrap().len();
        batch(&syncer, 1, Some(record(1))).recv().unwrap().unwrap();
        assert_eq!(
            len(&paths[0]),
            2 * GROW,
            "grown at least GROW past its first record"
        );
        batch(&syncer, 2, Some(record(2))).recv().unwrap().unwrap();
        assert_eq!(
            len(&paths[0]),
            2 * GROW,
            "a record inside the file does not grow it"
        );
        assert_eq!(seqs(&std::fs::read(&paths[0]).unwrap(), 0), [1, 2]);
        // A record larger than what is left grows the file past it, by GROW at least.
        let mut big = Record::default();
        let value = vec![7; usize::try_from(2 * GROW).unwrap()];
        big.push("pk", "big", Some(&value)).unwrap();
        batch(&syncer, 3, Some(big)).recv().unwrap().unwrap();
        let grown = len(&paths[0]);
        assert!(grown % GROW == 0 && grown >= 3 * GROW + GROW, "{grown}");
        drop(syncer);
        assert_eq!(seqs(&std::fs::read(&paths[0]).unwrap(), 0), [1, 2, 3]);
        assert_eq!(
            len(&paths[1]),
            0,
            "the other file is not touched before its lap"
        );
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_failure_after_a_switch_fails_only_the_batches_after_it() {
        let (good, bad) = (temp_file("switch-good"), temp_file("switch-bad"));
        let files = [open_rw(&good), File::open(&bad).unwrap()];
        let answers: Vec<_> = (0..3).map(|_| mpsc::channel()).collect();
        let entry = |seq: u8, tx: &mpsc::Sender<Result<(), StoreError>>| {
            let tx = tx.clone();
            Entry::Batch {
                seq: u64::from(seq),
                record: Some(record(seq)),
                answer: Box::new(move |r| tx.send(r).unwrap()),
            }
        };
        let group = vec![
            entry(1, &answers[0].0),
            entry(2, &answers[1].0),
            switch(),
            entry(3, &answers[2].0),
        ];
        let (failed, syncs) = (AtomicBool::new(false), AtomicU64::new(0));
        write_group(Some(&files), group, &mut Lap::default(), &failed, &syncs);
        let got: Vec<bool> = answers
            .iter()
            .map(|(_, rx)| rx.recv().unwrap().is_ok())
            .collect();
        assert_eq!(
            got,
            [true, true, false],
            "1 and 2 are durable in the first file"
        );
        assert!(failed.load(Ordering::Acquire));
        assert_eq!(seqs(&std::fs::read(&good).unwrap(), 0), [1, 2]);
        for path in [good, bad] {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_failed_log_write_fails_its_batch_and_every_later_one() {
        let path = temp_file("fails");
        let read_only = [File::open(&path).unwrap(), File::open(&path).unwrap()];
        let syncer = Syncer::spawn(Some(read_only), Arc::new(AtomicU64::new(0))).unwrap();
        assert!(matches!(
            batch(&syncer, 1, Some(record(1))).recv().unwrap(),
            Err(StoreError::Io(_))
        ));
        assert!(syncer.failed());
        assert!(batch(&syncer, 1, None).recv().unwrap().is_err());
        let _ = std::fs::remove_file(&path);
    }
}
