//! What the writer has committed that the database file may not hold yet: the overlay.
//!
//! The writer applies every batch here (each key's final encoded item, or its removal), not to
//! redb; the log makes it durable. Once the batches since the last flush reach
//! `CHECKPOINT_BYTES` (or the writer has been idle a while), the writer **freezes** them and
//! the flusher thread writes the frozen batches into redb in key order, in durable
//! transactions of a few thousand keys, while new batches go on landing in a fresh active
//! table. So redb is written in large sorted transactions off the writer's thread instead of
//! one small transaction per batch on it, and no request waits for a redb commit.
//!
//! A read looks in the active table, then the frozen one, then redb, and the newest wins.
//! Entries only ever move active → frozen → redb, and the frozen table is dropped only after
//! its transaction committed, so a reader that takes both tables in one lock hold and opens
//! its redb read transaction afterwards never misses a version (see [`Overlay::get`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::item::Key;

/// One partition's sort keys and their final state. Most partitions of a busy overlay hold
/// one key (a session, a replay record, a help-desk token), so a lone key is kept as it is:
/// an ordered map costs an allocation of one of its nodes (about 540 bytes, for these keys and
/// values) per partition, which the writer made and the flusher freed for every login. The
/// map is made when a second key arrives.
enum Partition {
    One(String, Option<Vec<u8>>),
    Many(BTreeMap<String, Option<Vec<u8>>>),
}

impl Partition {
    fn get(&self, sk: &str) -> Option<&Option<Vec<u8>>> {
        match self {
            Self::One(only, value) => (only == sk).then_some(value),
            Self::Many(map) => map.get(sk),
        }
    }

    /// Records `sk`'s newest state; says whether `sk` is new to the partition.
    fn insert(&mut self, sk: String, value: Option<Vec<u8>>) -> bool {
        match self {
            Self::Many(map) => map.insert(sk, value).is_none(),
            Self::One(only, state) if *only == sk => {
                *state = value;
                false
            }
            Self::One(only, state) => {
                let mut map = BTreeMap::new();
                map.insert(std::mem::take(only), state.take());
                map.insert(sk, value);
                *self = Self::Many(map);
                true
            }
        }
    }

    /// The entries with sort keys in `from..=to` (`from <= to`), in the order asked for.
    fn range<'t>(
        &'t self,
        from: &str,
        to: &str,
        newest_first: bool,
    ) -> Box<dyn Iterator<Item = (&'t String, &'t Option<Vec<u8>>)> + 't> {
        use std::ops::Bound::Included;
        match self {
            Self::One(only, value) => {
                let inside = from <= only.as_str() && only.as_str() <= to;
                Box::new(inside.then_some((only, value)).into_iter())
            }
            Self::Many(map) => {
                let range = map.range::<str, _>((Included(from), Included(to)));
                if newest_first {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                }
            }
        }
    }

    /// Every entry, in sort-key order.
    fn entries(&self) -> Box<dyn Iterator<Item = (&String, &Option<Vec<u8>>)> + '_> {
        match self {
            Self::One(only, value) => Box::new(std::iter::once((only, value))),
            Self::Many(map) => Box::new(map.iter()),
        }
    }
}

/// Keys and their final state: the encoded item, or `None` when it was removed. Grouped by
/// partition key, in a hash map: most partitions of a busy overlay hold one item (a session
/// each), and a lookup then costs one hash and a search of that partition's sort keys instead
/// of a search of every key in one ordered map, which compared (and fetched from memory) a
/// long shared prefix at each of its dozens of steps. Only a checkpoint needs every key in
/// order, and sorts the partitions once ([`Changes::in_key_order`]). The map hashes with
/// foldhash (seeded at random per map), cheaper than SipHash on these long keys, most of
/// which are themselves hashes no client picks.
#[derive(Default)]
pub(super) struct Changes {
    partitions: HashMap<String, Partition, foldhash::fast::RandomState>,
    len: usize,
}

impl Changes {
    /// The state of `key`, if this table changed it.
    pub(super) fn get(&self, key: &Key) -> Option<&Option<Vec<u8>>> {
        self.partitions.get(&key.pk)?.get(&key.sk)
    }

    /// Records `key`'s newest state (over an older one of the same table).
    pub(super) fn insert(&mut self, key: Key, value: Option<Vec<u8>>) {
        let new = match self.partitions.get_mut(&key.pk) {
            Some(partition) => partition.insert(key.sk, value),
            None => {
                self.partitions
                    .insert(key.pk, Partition::One(key.sk, value));
                true
            }
        };
        self.len += usize::from(new);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every change as `(pk, sk, state)`, in the order redb sorts keys: by partition key,
    /// then by sort key.
    pub(super) fn in_key_order(&self) -> Vec<(&str, &str, Option<&[u8]>)> {
        let mut partitions: Vec<_> = self.partitions.iter().collect();
        partitions.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(self.len);
        for (pk, partition) in partitions {
            out.extend(
                partition
                    .entries()
                    .map(|(sk, value)| (pk.as_str(), sk.as_str(), value.as_deref())),
            );
        }
        out
    }
}

/// What a lookup in the overlay found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// The overlay has the key's newest state: the encoded item, or `None` (removed).
    Here(Option<Vec<u8>>),
    /// The overlay does not know the key: the database has its newest state.
    Below,
}

#[derive(Default)]
struct Tables {
    /// Batches since the last freeze. Only the writer changes it.
    active: Changes,
    /// Batches being written into redb by the flusher.
    frozen: Option<Arc<Changes>>,
}

/// The active and frozen tables, shared by the writer, the flusher and every reader.
#[derive(Default)]
pub(super) struct Overlay {
    tables: RwLock<Tables>,
}

impl Overlay {
    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a map half-changed in a way that
        // matters (each insert is whole), so a poisoned lock is still read.
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest state of `key` the overlay holds. Looks at the active table and takes the
    /// frozen one in one lock hold: a caller that gets [`Found::Below`] and then opens a redb
    /// read transaction sees every version the overlay let go of.
    pub(super) fn get(&self, key: &Key) -> Found {
        let frozen = {
            let tables = self.read();
            if let Some(value) = tables.active.get(key) {
                return Found::Here(value.clone());
            }
            tables.frozen.clone()
        };
        in_table(frozen.as_deref(), key)
    }

    /// The frozen table as it is now: the writer takes it before opening the redb read
    /// transaction its batch reads through, and then uses [`Overlay::get_active`].
    pub(super) fn frozen(&self) -> Option<Arc<Changes>> {
        self.read().frozen.clone()
    }

    /// `key` in the active table only, then in `frozen` (taken by [`Overlay::frozen`]).
    pub(super) fn get_active(&self, key: &Key, frozen: Option<&Changes>) -> Found {
        if let Some(value) = self.read().active.get(key) {
            return Found::Here(value.clone());
        }
        in_table(frozen, key)
    }

    /// The overlay's entries of partition `pk` with sort keys in `from..=to`, in the order
    /// asked for (ascending sort keys, or descending when `newest_first`), the active table's
    /// over the frozen one's, up to and including the `live`-th that is not a removal: a page
    /// of a query needs no more (see [`merge`]), so a listing of a busy partition copies a
    /// page's worth, not every entry the overlay holds for it, and holds the lock that long
    /// only. Taken in one lock hold, like [`Overlay::get`].
    pub(super) fn range(
        &self,
        pk: &str,
        from: &str,
        to: &str,
        newest_first: bool,
        live: usize,
    ) -> Vec<(String, Option<Vec<u8>>)> {
        let mut found = Vec::new();
        if from > to {
            return found;
        }
        let tables = self.read();
        let mut newer = directed(Some(&tables.active), pk, from, to, newest_first).peekable();
        let mut older = directed(tables.frozen.as_deref(), pk, from, to, newest_first).peekable();
        let mut taken = 0;
        while taken < live {
            let take_newer = match (newer.peek(), older.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((a, _)), Some((b, _))) => {
                    if a == b {
                        older.next();
                        true
                    } else {
                        (a < b) != newest_first
                    }
                }
            };
            let next = if take_newer {
                newer.next()
            } else {
                older.next()
            };
            let Some((sk, value)) = next else { break };
            taken += usize::from(value.is_some());
            found.push((sk.clone(), value.clone()));
        }
        found
    }

    /// Applies one batch's changes, in order (a key changed twice keeps its last state).
    pub(super) fn apply(&self, changes: Vec<(Key, Option<Vec<u8>>)>) {
        let mut tables = self.write();
        for (key, value) in changes {
            tables.active.insert(key, value);
        }
    }

    /// Whether the frozen table is still being written into redb.
    pub(super) fn flushing(&self) -> bool {
        self.read().frozen.is_some()
    }

    /// Freezes the active table and returns it for the flusher, unless it is empty or a
    /// frozen table is still being flushed (there is at most one).
    pub(super) fn freeze(&self) -> Option<Arc<Changes>> {
        let mut tables = self.write();
        if tables.frozen.is_some() || tables.active.is_empty() {
            return None;
        }
        let frozen = Arc::new(std::mem::take(&mut tables.active));
        tables.frozen = Some(Arc::clone(&frozen));
        Some(frozen)
    }

    /// The frozen table is durable in redb: reads find its entries there from now on.
    pub(super) fn flushed(&self) {
        self.write().frozen = None;
    }
}

/// `table`'s entries of partition `pk` with sort keys in `from..=to` (`from <= to`), in the
/// order asked for.
fn directed<'t>(
    table: Option<&'t Changes>,
    pk: &str,
    from: &str,
    to: &str,
    newest_first: bool,
) -> Box<dyn Iterator<Item = (&'t String, &'t Option<Vec<u8>>)> + 't> {
    match table.and_then(|t| t.partitions.get(pk)) {
        Some(partition) => partition.range(from, to, newest_first),
        None => Box::new(std::iter::empty()),
    }
}

fn in_table(table: Option<&Changes>, key: &Key) -> Found {
    match table.and_then(|t| t.get(key)) {
        Some(value) => Found::Here(value.clone()),
        None => Found::Below,
    }
}

/// Merges `overlay` (newer; `None` = removed) into `base` (older, from redb), both in the
/// order asked for, yielding the live entries in that order: ascending sort keys, or
/// descending when `newest_first`. Stops early when `keep` says so.
///
/// `overlay` may be cut after its `n`-th live entry when `keep` stops within `n - 1` entries
/// (a page and the cursor's own entry, which a query skips): every entry that comes first is
/// one of those `n` or a base entry before the last of them, so the merge stops before it
/// could miss what the cut left out.
pub(super) fn merge<E>(
    overlay: Vec<(String, Option<Vec<u8>>)>,
    base: impl Iterator<Item = Result<(String, Vec<u8>), E>>,
    newest_first: bool,
    mut keep: impl FnMut(String, Vec<u8>) -> Result<bool, E>,
) -> Result<(), E> {
    let mut over = overlay.into_iter();
    let mut base = base.peekable();
    let mut next_over = over.next();
    loop {
        // Which side comes first in the order asked for; on a tie the overlay wins and the
        // base's older version is skipped.
        let take_over = match (&next_over, base.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((o, _)), Some(Ok((b, _)))) => {
                if o == b {
                    base.next();
                    true
                } else {
                    (o < b) != newest_first
                }
            }
            (Some(_), Some(Err(_))) => false,
        };
        let (sk, value) = if take_over {
            let Some((sk, value)) = next_over.take() else {
                return Ok(());
            };
            next_over = over.next();
            match value {
                Some(value) => (sk, value),
                None => continue,
            }
        } else {
            match base.next() {
                Some(entry) => entry?,
                None => return Ok(()),
            }
        };
        if !keep(sk, value)? {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(pk: &str, sk: &str) -> Key {
        Key::new(pk, sk)
    }

    #[test]
    fn the_newest_table_wins_and_a_removal_hides_what_is_below() {
        let overlay = Overlay::default();
        overlay.apply(vec![
            (k("p", "a"), Some(b"1".to_vec())),
            (k("p", "b"), None),
        ]);
        assert_eq!(overlay.get(&k("p", "a")), Found::Here(Some(b"1".to_vec())));
        assert_eq!(overlay.get(&k("p", "b")), Found::Here(None));
        assert_eq!(overlay.get(&k("p", "c")), Found::Below);
        let frozen = overlay.freeze().expect("something to freeze");
        assert_eq!(frozen.in_key_order().len(), 2);
        assert!(overlay.freeze().is_none(), "one frozen table at a time");
        overlay.apply(vec![(k("p", "a"), Some(b"2".to_vec()))]);
        assert_eq!(overlay.get(&k("p", "a")), Found::Here(Some(b"2".to_vec())));
        assert_eq!(
            overlay.get(&k("p", "b")),
            Found::Here(None),
            "from the frozen one"
        );
        let range = overlay.range("p", "", "z", false, 10);
        assert_eq!(
            range,
            [("a".into(), Some(b"2".to_vec())), ("b".into(), None)],
            "the active table's a over the frozen one's"
        );
        assert!(overlay.flushing());
        overlay.flushed();
        assert!(!overlay.flushing());
        assert_eq!(overlay.get(&k("p", "b")), Found::Below);
        assert!(overlay.range("q", "", "z", false, 10).is_empty());
        assert!(
            overlay.range("p", "z", "a", false, 10).is_empty(),
            "an empty range"
        );
    }

    #[test]
    fn a_table_lists_its_changes_in_the_order_redb_sorts_keys() {
        let mut table = Changes::default();
        for (pk, sk) in [("b", "1"), ("a#x", "2"), ("a", "z"), ("a", "b"), ("b", "0")] {
            table.insert(k(pk, sk), Some(sk.as_bytes().to_vec()));
        }
        table.insert(k("a", "z"), None);
        let keys: Vec<_> = table
            .in_key_order()
            .into_iter()
            .map(|(pk, sk, v)| (pk, sk, v.is_some()))
            .collect();
        assert_eq!(
            keys,
            [
                ("a", "b", true),
                ("a", "z", false),
                ("a#x", "2", true),
                ("b", "0", true),
                ("b", "1", true)
            ],
            "by partition key, then sort key, as redb's (pk, sk) tuples; the last state wins"
        );
        assert_eq!(table.get(&k("a", "z")), Some(&None));
        assert_eq!(table.get(&k("c", "z")), None);
    }

    #[test]
    fn a_partition_of_one_key_grows_into_a_map_and_keeps_every_state() {
        let mut table = Changes::default();
        table.insert(k("s", "only"), Some(b"1".to_vec()));
        table.insert(k("s", "only"), Some(b"2".to_vec()));
        assert_eq!(table.len, 1, "an overwrite is not a new key");
        assert_eq!(table.get(&k("s", "only")), Some(&Some(b"2".to_vec())));
        assert_eq!(table.get(&k("s", "other")), None);
        let overlay = Overlay::default();
        overlay.apply(vec![(k("s", "m"), Some(b"1".to_vec()))]);
        for (from, to, found) in [("a", "z", 1), ("m", "m", 1), ("n", "z", 0), ("a", "l", 0)] {
            for newest_first in [false, true] {
                let range = overlay.range("s", from, to, newest_first, 10);
                assert_eq!(range.len(), found, "{from}..={to}");
            }
        }
        overlay.apply(vec![
            (k("s", "a"), None),
            (k("s", "z"), Some(b"3".to_vec())),
        ]);
        assert_eq!(overlay.get(&k("s", "m")), Found::Here(Some(b"1".to_vec())));
        let sks: Vec<_> = overlay
            .range("s", "", "zz", true, 10)
            .into_iter()
            .map(|(sk, _)| sk)
            .collect();
        assert_eq!(sks, ["z", "m", "a"], "the first key kept, the others added");
        table.insert(k("s", "another"), None);
        assert_eq!(table.len, 2);
        let keys: Vec<_> = table
            .in_key_order()
            .into_iter()
            .map(|(_, sk, _)| sk)
            .collect();
        assert_eq!(keys, ["another", "only"]);
    }

    #[test]
    fn a_range_takes_a_pages_worth_in_the_order_asked_for_from_both_tables() {
        let overlay = Overlay::default();
        let entry = |i: usize, removed: bool| {
            let value = (!removed).then(|| i.to_string().into_bytes());
            (k("p", &format!("{i:05}")), value)
        };
        // 0..5000 frozen (every tenth a removal), 5000..10000 active, 4990..5010 in both.
        overlay.apply((0..5010).map(|i| entry(i, i % 10 == 3)).collect());
        overlay.freeze().expect("something to freeze");
        overlay.apply((4990..10000).map(|i| entry(i, false)).collect());
        let sks = |r: Vec<(String, Option<Vec<u8>>)>| -> Vec<String> {
            r.into_iter().map(|(sk, _)| sk).collect()
        };
        let newest = overlay.range("p", "", "z", true, 3);
        assert_eq!(sks(newest), ["09999", "09998", "09997"]);
        let oldest = overlay.range("p", "", "z", false, 4);
        assert_eq!(
            sks(oldest),
            ["00000", "00001", "00002", "00003", "00004"],
            "a removal is taken but does not count"
        );
        let across = overlay.range("p", "04995", "05005", false, 20);
        assert_eq!(
            across.len(),
            11,
            "one entry per key where the tables overlap"
        );
        assert!(
            across
                .iter()
                .all(|(sk, v)| v.as_deref() == Some(sk.trim_start_matches('0').as_bytes())),
            "the active table's version: {across:?}"
        );
        assert_eq!(overlay.range("p", "", "z", true, usize::MAX).len(), 10000);
    }

    fn merged(
        overlay: &[(&str, Option<&str>)],
        base: &[&str],
        newest_first: bool,
        limit: usize,
    ) -> Vec<String> {
        let mut overlay: Vec<_> = overlay
            .iter()
            .map(|(sk, v)| ((*sk).to_owned(), v.map(|v| v.as_bytes().to_vec())))
            .collect();
        if newest_first {
            overlay.reverse();
        }
        let mut base: Vec<_> = base
            .iter()
            .map(|sk| Ok::<_, ()>(((*sk).to_owned(), b"base".to_vec())))
            .collect();
        if newest_first {
            base.reverse();
        }
        let mut out = Vec::new();
        merge(overlay, base.into_iter(), newest_first, |sk, v| {
            out.push(format!("{sk}={}", String::from_utf8(v).unwrap()));
            Ok(out.len() < limit)
        })
        .unwrap();
        out
    }

    #[test]
    fn a_merge_keeps_the_order_prefers_the_overlay_and_drops_removals() {
        let overlay = [("b", Some("new")), ("c", None), ("e", Some("new"))];
        let base = ["a", "b", "c", "d"];
        assert_eq!(
            merged(&overlay, &base, false, 10),
            ["a=base", "b=new", "d=base", "e=new"]
        );
        assert_eq!(
            merged(&overlay, &base, true, 10),
            ["e=new", "d=base", "b=new", "a=base"]
        );
        assert_eq!(merged(&overlay, &base, false, 2), ["a=base", "b=new"]);
        assert_eq!(merged(&overlay, &[], true, 10), ["e=new", "b=new"]);
        assert_eq!(merged(&[], &base, false, 10).len(), 4);
    }
}
