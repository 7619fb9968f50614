//! What the writer has committed that the database file may not hold yet: the overlay.
//!
//! The writer applies every batch here (each key's final encoded item, or its removal), not to
//! redb; the log makes it durable. Once the batches since the last flush reach
//! `CHECKPOINT_BYTES` (or the writer has been idle a while), the writer **freezes** them and
//! the flusher thread writes the frozen batches into redb in one durable, key-ordered
//! transaction, while new batches go on landing in a fresh active table. So redb is written in
//! large sorted transactions off the writer's thread instead of one small transaction per
//! batch on it, and no request waits for a redb commit.
//!
//! A read looks in the active table, then the frozen one, then redb, and the newest wins.
//! Entries only ever move active → frozen → redb, and the frozen table is dropped only after
//! its transaction committed, so a reader that takes both tables in one lock hold and opens
//! its redb read transaction afterwards never misses a version (see [`Overlay::get`]).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::item::Key;

/// Keys and their final state: the encoded item, or `None` when it was removed.
pub(super) type Changes = BTreeMap<Key, Option<Vec<u8>>>;

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

    /// The overlay's entries of partition `pk` with sort keys in `from..=to`, in sort-key
    /// order, the active table's over the frozen one's. Taken in one lock hold, like
    /// [`Overlay::get`].
    pub(super) fn range(
        &self,
        pk: &str,
        from: &str,
        to: &str,
    ) -> BTreeMap<String, Option<Vec<u8>>> {
        let (lo, hi) = (Key::new(pk, from), Key::new(pk, to));
        let mut found = BTreeMap::new();
        if lo > hi {
            return found;
        }
        let collect = |table: &Changes, found: &mut BTreeMap<String, Option<Vec<u8>>>| {
            for (key, value) in table.range(lo.clone()..=hi.clone()) {
                found.insert(key.sk.clone(), value.clone());
            }
        };
        let frozen = {
            let tables = self.read();
            collect(&tables.active, &mut found);
            tables.frozen.clone()
        };
        if let Some(frozen) = frozen {
            let mut older = BTreeMap::new();
            collect(&frozen, &mut older);
            for (sk, value) in older {
                found.entry(sk).or_insert(value);
            }
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

fn in_table(table: Option<&Changes>, key: &Key) -> Found {
    match table.and_then(|t| t.get(key)) {
        Some(value) => Found::Here(value.clone()),
        None => Found::Below,
    }
}

/// Merges `overlay` (newer; `None` = removed) into `base` (older, from redb, in the order
/// asked for), yielding the live entries in that order: ascending sort keys, or descending
/// when `newest_first`. Stops early when `keep` says so.
pub(super) fn merge<E>(
    overlay: BTreeMap<String, Option<Vec<u8>>>,
    base: impl Iterator<Item = Result<(String, Vec<u8>), E>>,
    newest_first: bool,
    mut keep: impl FnMut(String, Vec<u8>) -> Result<bool, E>,
) -> Result<(), E> {
    let mut over: Box<dyn Iterator<Item = (String, Option<Vec<u8>>)>> = if newest_first {
        Box::new(overlay.into_iter().rev())
    } else {
        Box::new(overlay.into_iter())
    };
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
        assert_eq!(frozen.len(), 2);
        assert!(overlay.freeze().is_none(), "one frozen table at a time");
        overlay.apply(vec![(k("p", "a"), Some(b"2".to_vec()))]);
        assert_eq!(overlay.get(&k("p", "a")), Found::Here(Some(b"2".to_vec())));
        assert_eq!(
            overlay.get(&k("p", "b")),
            Found::Here(None),
            "from the frozen one"
        );
        let range = overlay.range("p", "", "z");
        assert_eq!(range.get("a"), Some(&Some(b"2".to_vec())));
        assert_eq!(range.get("b"), Some(&None));
        assert!(overlay.flushing());
        overlay.flushed();
        assert!(!overlay.flushing());
        assert_eq!(overlay.get(&k("p", "b")), Found::Below);
        assert!(overlay.range("q", "", "z").is_empty());
        assert!(overlay.range("p", "z", "a").is_empty(), "an empty range");
    }

    fn merged(
        overlay: &[(&str, Option<&str>)],
        base: &[&str],
        newest_first: bool,
        limit: usize,
    ) -> Vec<String> {
        let overlay = overlay
            .iter()
            .map(|(sk, v)| ((*sk).to_owned(), v.map(|v| v.as_bytes().to_vec())))
            .collect();
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
