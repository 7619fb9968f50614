//! The hot half of [`Store`]: tokens, sessions, replay records, throttle counters, audit.
//! Each exactly-once step is one conditional write.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use sso_core::ident::StorageKey;
use sso_core::throttle::{FailureRecord, LockoutPolicy};

use super::{NOT_BEFORE_CACHE, Store, keys};
use crate::StoreError;
use crate::item::{Attr, Cond, EXPIRES_AT, Item, Query, Req, Write, WriteOutcome};
use crate::model::{
    AuditEvent, AuditPage, NewSession, NewToken, Protocol, Recorded, Redeemed, Session,
};
use crate::port::{Audit, Directory, ReplayGuard, Sessions, Throttle, Tokens};

fn json_attr(v: &Value) -> Attr {
    Attr::S(v.to_string())
}

fn json_of(item: &Item, name: &str) -> Result<Value, StoreError> {
    serde_json::from_str(item.s(name).unwrap_or("null")).map_err(|e| StoreError::Corrupt {
        key: item.key.to_string(),
        reason: e.to_string(),
    })
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::SignedLink => "signed_link",
        Protocol::Helpdesk => "helpdesk",
        Protocol::CallCenter => "callcenter",
        Protocol::Portal => "portal",
    }
}

fn parse_protocol(name: &str) -> Option<Protocol> {
    [
        Protocol::SignedLink,
        Protocol::Helpdesk,
        Protocol::CallCenter,
        Protocol::Portal,
    ]
    .into_iter()
    .find(|p| protocol_name(*p) == name)
}

#[async_trait]
impl Tokens for Store {
    async fn issue(&self, key: &StorageKey, t: &NewToken) -> Result<(), StoreError> {
        let token_key = keys::token(&t.tenant, key);
        let mut item = Item::new(token_key.clone())
            .with("subject", Attr::S(t.subject.clone()))
            .with("data", json_attr(&t.data))
            .with("reusable", Attr::Bool(t.reusable))
            .with(EXPIRES_AT, Attr::N(t.expires_at));
        if let Some(slot) = &t.replace_slot {
            item = item.with("slot", Attr::S(slot.clone()));
        }
        if let Some(addr) = &t.bound_addr {
            item = item.with("addr", Attr::S(addr.clone()));
        }
        // 128 random bits never collide in practice; the condition makes sure of it.
        let put = Write::Put {
            item,
            cond: Cond::AbsentOrExpired { now: i64::MIN },
        };
        if self.backend.write(put).await? == WriteOutcome::ConditionFailed {
            return Err(StoreError::Invalid {
                what: "token",
                why: "a token with this key already exists".into(),
            });
        }
        let Some(slot) = &t.replace_slot else {
            return Ok(());
        };
        // Point the slot at the new token; the pointer's previous value names the token it
        // replaces, which is then deleted. Concurrent mints serialise on the pointer: only the
        // last one's token survives.
        let pointer = Item::new(keys::token_slot(&t.tenant, slot))
            .with("current", Attr::S(token_key.pk.clone()))
            .with(EXPIRES_AT, Attr::N(t.expires_at));
        let old = match self
            .backend
            .write(Write::Put {
                item: pointer,
                cond: Cond::Always,
            })
            .await?
        {
            WriteOutcome::Done(old) => old,
            WriteOutcome::ConditionFailed => None,
        };
        if let Some(old_pk) = old.as_ref().and_then(|o| o.s("current"))
            && old_pk != token_key.pk
        {
            self.backend
                .write(Write::Delete {
                    key: crate::item::Key::new(old_pk, "T"),
                    cond: Cond::Always,
                })
                .await?;
        }
        Ok(())
    }

    async fn redeem(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
    ) -> Result<Option<Redeemed>, StoreError> {
        self.consume(tenant, key, now, None).await
    }

    async fn redeem_from(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
        addr: &str,
    ) -> Result<Option<Redeemed>, StoreError> {
        self.consume(tenant, key, now, Some(addr)).await
    }
}

impl Store {
    /// One conditional update: live, unused (or reusable) and, when given, bound to `addr`.
    async fn consume(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
        addr: Option<&str>,
    ) -> Result<Option<Redeemed>, StoreError> {
        let mut reqs = vec![Req::MissingOrTrue("consumed".into(), "reusable".into())];
        if let Some(a) = addr {
            reqs.push(Req::Eq("addr".into(), Attr::S(a.to_owned())));
        }
        let write = Write::Update {
            key: keys::token(tenant, key),
            set: vec![("consumed".into(), Attr::N(now))],
            add: vec![],
            cond: Cond::Live { now, reqs },
        };
        match self.backend.write(write).await? {
            WriteOutcome::Done(Some(item)) => Ok(Some(Redeemed {
                subject: item.s("subject").unwrap_or_default().to_owned(),
                data: json_of(&item, "data")?,
                expires_at: item.n(EXPIRES_AT).unwrap_or(now),
            })),
            _ => Ok(None),
        }
    }

    /// A subject's revocation time, cached per process for [`NOT_BEFORE_CACHE`].
    async fn cached_not_before(
        &self,
        tenant: &str,
        subject: &str,
    ) -> Result<Option<i64>, StoreError> {
        let k = (tenant.to_owned(), subject.to_owned());
        if let Ok(cache) = self.not_before.lock()
            && let Some((at, v)) = cache.get(&k)
            && at.elapsed() < NOT_BEFORE_CACHE
        {
            return Ok(*v);
        }
        let v = Directory::not_before(self, tenant, subject).await?;
        if let Ok(mut cache) = self.not_before.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(k, (Instant::now(), v));
        }
        Ok(v)
    }
}

#[async_trait]
impl Sessions for Store {
    async fn create(&self, key: &StorageKey, s: &NewSession) -> Result<Recorded, StoreError> {
        let item = Item::new(keys::session(&s.tenant, key))
            .with("subject", Attr::S(s.subject.clone()))
            .with("protocol", Attr::S(protocol_name(s.protocol).into()))
            .with("issuer", Attr::S(s.issuer.clone()))
            .with("created_at", Attr::N(s.created_at))
            .with("last_seen", Attr::N(s.created_at))
            .with("idle", Attr::N(s.idle_secs))
            .with("absolute", Attr::N(s.absolute_expiry))
            .with("data", json_attr(&s.data))
            .with(
                EXPIRES_AT,
                Attr::N(
                    s.keep_until
                        .unwrap_or(s.absolute_expiry)
                        .max(s.absolute_expiry),
                ),
            );
        let put = Write::Put {
            item,
            cond: Cond::AbsentOrExpired { now: s.created_at },
        };
        Ok(match self.backend.write(put).await? {
            WriteOutcome::Done(_) => Recorded::First,
            WriteOutcome::ConditionFailed => Recorded::Replay,
        })
    }

    async fn get(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let Some(item) = self.backend.get(&keys::session(tenant, key)).await? else {
            return Ok(None);
        };
        let n = |name: &str| item.n(name).unwrap_or(0);
        let live = !item.expired(now)
            && !item.attrs.contains_key("revoked")
            && now < n("absolute")
            && now - n("last_seen") < n("idle");
        if !live {
            return Ok(None);
        }
        let subject = item.s("subject").unwrap_or_default().to_owned();
        if let Some(nb) = self.cached_not_before(tenant, &subject).await?
            && n("created_at") < nb
        {
            return Ok(None);
        }
        Ok(Some(Session {
            tenant: tenant.to_owned(),
            protocol: parse_protocol(item.s("protocol").unwrap_or_default()).ok_or_else(|| {
                StoreError::Corrupt {
                    key: item.key.to_string(),
                    reason: "unknown protocol".into(),
                }
            })?,
            issuer: item.s("issuer").unwrap_or_default().to_owned(),
            created_at: n("created_at"),
            last_seen: n("last_seen"),
            idle_secs: n("idle"),
            absolute_expiry: n("absolute"),
            data: json_of(&item, "data")?,
            subject,
        }))
    }

    async fn touch(
        &self,
        tenant: &str,
        key: &StorageKey,
        session: &Session,
        now: i64,
        min_interval: i64,
    ) -> Result<(), StoreError> {
        if now - session.last_seen < min_interval {
            return Ok(());
        }
        let write = Write::Update {
            key: keys::session(tenant, key),
            set: vec![("last_seen".into(), Attr::N(now))],
            add: vec![],
            cond: Cond::Live {
                now,
                reqs: vec![Req::Missing("revoked".into())],
            },
        };
        self.backend.write(write).await.map(|_| ())
    }

    async fn revoke(&self, tenant: &str, key: &StorageKey, now: i64) -> Result<(), StoreError> {
        let write = Write::Update {
            key: keys::session(tenant, key),
            set: vec![("revoked".into(), Attr::N(now))],
            add: vec![],
            cond: Cond::Live { now, reqs: vec![] },
        };
        self.backend.write(write).await.map(|_| ())
    }

    async fn revoke_all_for_subject(
        &self,
        tenant: &str,
        subject: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let item = Item::new(keys::not_before(tenant, subject)).with("at", Attr::N(now));
        self.backend
            .write(Write::Put {
                item,
                cond: Cond::Always,
            })
            .await?;
        if let Ok(mut cache) = self.not_before.lock() {
            cache.insert(
                (tenant.to_owned(), subject.to_owned()),
                (Instant::now(), Some(now)),
            );
        }
        Ok(())
    }
}

#[async_trait]
impl ReplayGuard for Store {
    async fn record(
        &self,
        tenant: &str,
        vendor: &str,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<Recorded, StoreError> {
        let item = Item::new(keys::replay(tenant, vendor, token)).with(EXPIRES_AT, Attr::N(until));
        let put = Write::Put {
            item,
            cond: Cond::AbsentOrExpired { now },
        };
        Ok(match self.backend.write(put).await? {
            WriteOutcome::Done(_) => Recorded::First,
            WriteOutcome::ConditionFailed => Recorded::Replay,
        })
    }
}

fn failure_record(item: Option<&Item>, now: i64) -> FailureRecord {
    match item {
        Some(i) if !i.expired(now) => FailureRecord {
            failures: u32::try_from(i.n("failures").unwrap_or(0)).unwrap_or(u32::MAX),
            last_failure: i.n("last").unwrap_or(0),
        },
        _ => FailureRecord::default(),
    }
}

#[async_trait]
impl Throttle for Store {
    async fn failures(
        &self,
        key: &str,
        now: i64,
        _policy: &LockoutPolicy,
    ) -> Result<FailureRecord, StoreError> {
        let item = self.backend.get(&keys::throttle(key)).await?;
        Ok(failure_record(item.as_ref(), now))
    }

    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecord, StoreError> {
        let k = keys::throttle(key);
        let expires = policy.record_expires_at(now);
        // A live counter is incremented in place; an absent or expired one (12 h without a
        // failure) starts again at one. Two conditional writes, retried if they race.
        for _ in 0..4 {
            let bump = Write::Update {
                key: k.clone(),
                set: vec![
                    ("last".into(), Attr::N(now)),
                    (EXPIRES_AT.into(), Attr::N(expires)),
                ],
                add: vec![("failures".into(), 1)],
                cond: Cond::Live { now, reqs: vec![] },
            };
            if let WriteOutcome::Done(item) = self.backend.write(bump).await? {
                return Ok(failure_record(item.as_ref(), now));
            }
            let fresh = Item::new(k.clone())
                .with("failures", Attr::N(1))
                .with("last", Attr::N(now))
                .with(EXPIRES_AT, Attr::N(expires));
            let start = Write::Put {
                item: fresh,
                cond: Cond::AbsentOrExpired { now },
            };
            if let WriteOutcome::Done(_) = self.backend.write(start).await? {
                return Ok(FailureRecord {
                    failures: 1,
                    last_failure: now,
                });
            }
        }
        Err(StoreError::Unavailable(
            "throttle counter under heavy contention".into(),
        ))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.backend
            .write(Write::Delete {
                key: keys::throttle(key),
                cond: Cond::Always,
            })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Audit for Store {
    async fn append(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let mut unique = [0u8; 6];
        getrandom::fill(&mut unique)
            .map_err(|err| StoreError::Io(format!("OS random source: {err}")))?;
        let sk = keys::audit_sk(e.at, &hex::encode(unique));
        let data = super::encode(e)?;
        for pk in [
            keys::audit_subject_pk(&e.tenant, &e.subject),
            keys::audit_pk(&e.tenant),
        ] {
            let item =
                Item::new(crate::item::Key::new(pk, sk.clone())).with(super::DATA, data.clone());
            self.backend
                .write(Write::Put {
                    item,
                    cond: Cond::Always,
                })
                .await?;
        }
        Ok(())
    }

    async fn list(
        &self,
        tenant: &str,
        subject: Option<&str>,
        from: i64,
        to: i64,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<AuditPage, StoreError> {
        let pk = match subject {
            Some(s) => keys::audit_subject_pk(tenant, s),
            None => keys::audit_pk(tenant),
        };
        let query = Query {
            pk,
            sk_from: keys::audit_sk(from, ""),
            sk_to: keys::audit_sk(to, "\u{10FFFF}"),
            newest_first: true,
            limit: limit.clamp(1, 1000),
            after: cursor.map(str::to_owned),
        };
        let page = self.backend.query(query).await?;
        Ok(AuditPage {
            events: page
                .items
                .iter()
                .map(super::decode)
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }
}
