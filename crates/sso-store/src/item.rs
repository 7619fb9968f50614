//! The item layer: what both backends implement, and the only thing they implement.
//!
//! Every domain operation of the port is written once (in [`crate::store`]) as item reads and
//! conditional item writes, the vocabulary of a DynamoDB single-table design. A backend only
//! has to store items and evaluate the few typed [`Cond`]itions atomically, which is what
//! makes "same semantics on both backends" checkable by one conformance suite.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The name of the TTL attribute (Unix seconds) on every item that expires.
pub const EXPIRES_AT: &str = "expires_at";

/// An attribute value. Few kinds on purpose: strings, integers and flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attr {
    /// DynamoDB `S`.
    S(String),
    /// DynamoDB `N` (always an integer here).
    N(i64),
    /// DynamoDB `BOOL`.
    Bool(bool),
}

/// A primary key: partition and sort key strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.pk, self.sk)
    }
}

/// A stored item: its key and its attributes (never `pk`/`sk` themselves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Where it lives.
    pub key: Key,
    /// Its attributes.
    pub attrs: BTreeMap<String, Attr>,
}

impl Item {
    /// An item with no attributes yet.
    pub fn new(key: Key) -> Self {
        Self {
            key,
            attrs: BTreeMap::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, name: &str, value: Attr) -> Self {
        self.attrs.insert(name.to_owned(), value);
        self
    }

    /// A string attribute.
    pub fn s(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Attr::S(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer attribute.
    pub fn n(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Attr::N(n)) => Some(*n),
            _ => None,
        }
    }

    /// A flag attribute (absent is false).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.attrs.get(name), Some(Attr::Bool(true)))
    }

    /// Whether the item is past its `expires_at` at `now`. DynamoDB's TTL deletes lazily (up
    /// to days late) and moto not at all, so every read checks this.
    pub fn expired(&self, now: i64) -> bool {
        self.n(EXPIRES_AT).is_some_and(|t| t <= now)
    }
}

/// A requirement on an existing item, beyond being live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    /// The attribute equals the value.
    Eq(String, Attr),
    /// The attribute is absent.
    Missing(String),
    /// The first attribute is absent, or the second is `true` (one-time unless reusable).
    MissingOrTrue(String, String),
    /// The integer attribute is absent or below the value (a marker that only moves up).
    MissingOrBelow(String, i64),
    /// The integer attribute is present and at least the value.
    AtLeast(String, i64),
    /// A failure counter that is not locked out: with `count` (absent: 0) and `at` numbers,
    /// locked iff `count` reaches a tier's threshold (the last such tier decides) and `at`
    /// is after that tier's cutoff (`LockoutPolicy::tiers`).
    Unlocked {
        /// The count attribute.
        count: String,
        /// The time attribute.
        at: String,
        /// `(threshold, cutoff)`, thresholds rising.
        tiers: Vec<(u32, i64)>,
    },
}

/// The condition a write is made under; evaluated atomically with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Unconditional.
    Always,
    /// No item, or only one past its `expires_at` (expired items count as absent).
    AbsentOrExpired {
        /// The time expiry is judged at.
        now: i64,
    },
    /// An item that is not expired at `now` and meets every requirement.
    Live {
        /// The time expiry is judged at.
        now: i64,
        /// Further requirements.
        reqs: Vec<Req>,
    },
}

/// Evaluates a condition against the current item (for backends without native conditions).
pub fn holds(cond: &Cond, current: Option<&Item>) -> bool {
    match cond {
        Cond::Always => true,
        Cond::AbsentOrExpired { now } => current.is_none_or(|i| i.expired(*now)),
        Cond::Live { now, reqs } => current.is_some_and(|i| {
            !i.expired(*now)
                && reqs.iter().all(|r| match r {
                    Req::Eq(name, v) => i.attrs.get(name) == Some(v),
                    Req::Missing(name) => !i.attrs.contains_key(name),
                    Req::MissingOrTrue(missing, flag) => {
                        !i.attrs.contains_key(missing) || i.flag(flag)
                    }
                    Req::MissingOrBelow(name, v) => i.n(name).is_none_or(|n| n < *v),
                    Req::AtLeast(name, v) => i.n(name).is_some_and(|n| n >= *v),
                    Req::Unlocked { count, at, tiers } => {
                        let rec = sso_core::throttle::FailureRecord {
                            failures: u32::try_from(i.n(count).unwrap_or(0)).unwrap_or(u32::MAX),
                            last_failure: i.n(at).unwrap_or(0),
                        };
                        !sso_core::throttle::LockoutPolicy::locked_by_tiers(tiers, &rec)
                    }
                })
        }),
    }
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Replace the whole item.
    Put {
        /// The new item.
        item: Item,
        /// Under which condition.
        cond: Cond,
    },
    /// Change some attributes of an existing item (or create it, if the condition allows).
    Update {
        /// Which item.
        key: Key,
        /// Attributes to set.
        set: Vec<(String, Attr)>,
        /// Integer attributes to add to (absent counts as zero).
        add: Vec<(String, i64)>,
        /// `(target, source, plus)`: set `target` to the integer `source` (absent counts as
        /// zero) plus a constant. This is what lets one conditional write turn a token that
        /// carries its session's lifetime into a session ending at `now + lifetime`.
        set_sum: Vec<(String, String, i64)>,
        /// Under which condition.
        cond: Cond,
    },
    /// Remove the item.
    Delete {
        /// Which item.
        key: Key,
        /// Under which condition.
        cond: Cond,
    },
    /// Only check a condition on another item, inside a transaction.
    Check {
        /// Which item.
        key: Key,
        /// The condition.
        cond: Cond,
    },
}

impl Write {
    /// The item this write touches.
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }

    /// An update that only sets attributes (nothing added, no sums), made under `cond`.
    pub fn set(key: Key, set: Vec<(String, Attr)>, cond: Cond) -> Self {
        Write::Update {
            key,
            set,
            add: vec![],
            set_sum: vec![],
            cond,
        }
    }

    /// The condition it is made under.
    pub fn cond(&self) -> &Cond {
        match self {
            Write::Put { cond, .. }
            | Write::Update { cond, .. }
            | Write::Delete { cond, .. }
            | Write::Check { cond, .. } => cond,
        }
    }

    /// The item after this write, given the item before (for backends that apply writes
    /// themselves). `None` means "no item".
    pub fn apply(&self, current: Option<Item>) -> Option<Item> {
        match self {
            Write::Put { item, .. } => Some(item.clone()),
            Write::Delete { .. } => None,
            Write::Check { .. } => current,
            Write::Update {
                key,
                set,
                add,
                set_sum,
                ..
            } => {
                let mut item = current.unwrap_or_else(|| Item::new(key.clone()));
                let sums: Vec<(String, i64)> = set_sum
                    .iter()
                    .map(|(target, source, plus)| {
                        (
                            target.clone(),
                            item.n(source).unwrap_or(0).saturating_add(*plus),
                        )
                    })
                    .collect();
                for (name, value) in set {
                    item.attrs.insert(name.clone(), value.clone());
                }
                for (name, value) in sums {
                    item.attrs.insert(name, Attr::N(value));
                }
                for (name, delta) in add {
                    let old = item.n(name).unwrap_or(0);
                    item.attrs
                        .insert(name.clone(), Attr::N(old.saturating_add(*delta)));
                }
                Some(item)
            }
        }
    }
}

/// What a write reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Done; for puts and updates, the item as it is now.
    Done(Option<Item>),
    /// The condition did not hold; nothing was written.
    ConditionFailed,
}

/// A page of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Items in the order asked for.
    pub items: Vec<Item>,
    /// Pass back as `after` to get the next page; `None` when there is none.
    pub next: Option<String>,
}

/// A query within one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The partition.
    pub pk: String,
    /// Sort keys from (inclusive).
    pub sk_from: String,
    /// Sort keys to (inclusive).
    pub sk_to: String,
    /// Descending sort-key order when true.
    pub newest_first: bool,
    /// At most this many items.
    pub limit: usize,
    /// Continue after this sort key.
    pub after: Option<String>,
}

impl Query {
    /// Every item whose sort key starts with `prefix`, ascending.
    pub fn prefix(pk: impl Into<String>, prefix: &str, limit: usize) -> Self {
        Self {
            pk: pk.into(),
            sk_from: prefix.to_owned(),
            sk_to: format!("{prefix}\u{10FFFF}"),
            newest_first: false,
            limit,
            after: None,
        }
    }
}

/// Request units consumed, as the backend reports them (zero for the embedded store).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Capacity {
    /// Read request units.
    pub read: f64,
    /// Write request units.
    pub write: f64,
    /// Requests sent (round trips), whatever units the server reports for them.
    pub requests: u64,
}

/// The writes that follow a successful write, made of its outcome ([`ItemBackend::write_then`]).
pub type FollowUp = Box<dyn FnOnce(&WriteOutcome) -> Vec<Write> + Send>;

/// The answer of [`ItemBackend::write_then`]: the first write's outcome, and whether the writes
/// that followed it were made (`Ok(())` also when it lost and none were due).
pub type Followed = (WriteOutcome, Result<(), StoreError>);

/// A storage backend: items, conditions, atomicity. Nothing else.
#[async_trait]
pub trait ItemBackend: Send + Sync {
    /// A strongly consistent read of one item (expired or not: the caller judges).
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// One conditional write, atomic.
    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError>;
    /// Several writes on distinct items, all or nothing: every condition holds and all are
    /// applied, or none is (`ConditionFailed`).
    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError>;
    /// Items of one partition in a sort-key range, paged.
    async fn query(&self, query: Query) -> Result<Page, StoreError>;
    /// Writes `first` and, only when it is done, the writes `then` makes of its outcome (a
    /// login's audit event, say), all or nothing among themselves. The second result is
    /// theirs: a failure there leaves `first` written, as two separate calls would.
    ///
    /// Why: on the embedded store both ride in one operation of one durable commit, so a
    /// login waits for one commit instead of two in turn (its own, then its audit event's);
    /// the embedded backend overrides this. Elsewhere (DynamoDB) they are two calls, in
    /// order, costing exactly what they did as two: a transaction of all of them would cost
    /// twice the write units, and `first` must win or lose on its own condition.
    async fn write_then(&self, first: Write, then: FollowUp) -> Result<Followed, StoreError> {
        let outcome = self.write(first).await?;
        let followed = match &outcome {
            WriteOutcome::Done(_) => {
                let mut writes = then(&outcome);
                match writes.len() {
                    0 => Ok(()),
                    1 => self.write(writes.remove(0)).await.map(|_| ()),
                    _ => self.transact(writes).await.map(|_| ()),
                }
            }
            WriteOutcome::ConditionFailed => Ok(()),
        };
        Ok((outcome, followed))
    }
    /// The backend this one wraps, if it is a wrapper (deadlines, faults, timing): the
    /// limits and measurements below are then the wrapped backend's unless overridden.
    fn wrapped(&self) -> Option<&dyn ItemBackend> {
        None
    }
    /// Most writes one transaction may hold (DynamoDB: 100).
    fn max_transaction_items(&self) -> usize {
        self.wrapped()
            .map_or(usize::MAX, ItemBackend::max_transaction_items)
    }
    /// Request units consumed so far by this handle (for cost measurements).
    fn consumed(&self) -> Capacity {
        self.wrapped()
            .map_or_else(Capacity::default, ItemBackend::consumed)
    }
    /// How long one call may take before the store answers "unavailable" (see
    /// [`crate::bounded`]): a backend with its own retry budget names one just above it.
    fn call_timeout(&self) -> std::time::Duration {
        self.wrapped().map_or(
            crate::bounded::STORE_CALL_TIMEOUT,
            ItemBackend::call_timeout,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(expires: Option<i64>) -> Item {
        let i = Item::new(Key::new("p", "s")).with("a", Attr::S("x".into()));
        match expires {
            Some(t) => i.with(EXPIRES_AT, Attr::N(t)),
            None => i,
        }
    }

    #[test]
    fn expired_items_count_as_absent() {
        let c = Cond::AbsentOrExpired { now: 100 };
        assert!(holds(&c, None));
        assert!(holds(&c, Some(&item(Some(100)))));
        assert!(!holds(&c, Some(&item(Some(101)))));
        assert!(!holds(&c, Some(&item(None))));
    }

    #[test]
    fn live_requires_presence_freshness_and_every_requirement() {
        let live = |reqs| Cond::Live { now: 100, reqs };
        assert!(!holds(&live(vec![]), None));
        assert!(!holds(&live(vec![]), Some(&item(Some(50)))));
        assert!(holds(
            &live(vec![Req::Eq("a".into(), Attr::S("x".into()))]),
            Some(&item(None))
        ));
        assert!(!holds(
            &live(vec![Req::Missing("a".into())]),
            Some(&item(None))
        ));
        let used = item(None).with("used", Attr::N(1));
        let req = vec![Req::MissingOrTrue("used".into(), "reusable".into())];
        assert!(!holds(&live(req.clone()), Some(&used)));
        assert!(holds(
            &live(req),
            Some(&used.with("reusable", Attr::Bool(true)))
        ));
        let marker = item(None).with("at", Attr::N(10));
        let below = |v| vec![Req::MissingOrBelow("at".into(), v)];
        assert!(holds(&live(below(11)), Some(&marker)));
        assert!(!holds(&live(below(10)), Some(&marker)));
        assert!(holds(&live(below(1)), Some(&item(None))));
    }

    #[test]
    fn update_adds_to_absent_counters_from_zero() {
        let w = Write::Update {
            key: Key::new("p", "s"),
            set: vec![("t".into(), Attr::N(5))],
            add: vec![("n".into(), 2)],
            set_sum: vec![],
            cond: Cond::Always,
        };
        let once = w.apply(None);
        assert_eq!(once.as_ref().and_then(|i| i.n("n")), Some(2));
        assert_eq!(w.apply(once).and_then(|i| i.n("n")), Some(4));
    }

    #[test]
    fn set_sum_reads_the_item_before_the_write() {
        let w = Write::Update {
            key: Key::new("p", "s"),
            set: vec![("lifetime".into(), Attr::N(0))],
            add: vec![],
            set_sum: vec![("absolute".into(), "lifetime".into(), 1000)],
            cond: Cond::Always,
        };
        let before = Item::new(Key::new("p", "s")).with("lifetime", Attr::N(60));
        let after = w.apply(Some(before)).unwrap();
        assert_eq!(after.n("absolute"), Some(1060));
        assert_eq!(w.apply(None).and_then(|i| i.n("absolute")), Some(1000));
    }
}
