//! The hot half of [`Store`]: tokens, sessions, replay records, throttle counters, audit.
//! Each exactly-once step is one conditional write.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use sso_core::ident::StorageKey;
use sso_core::throttle::{FailureRecord, LockoutPolicy};

use super::{NOT_BEFORE_CACHE, Store, keys};
use crate::StoreError;
use crate::item::{Attr, Cond, EXPIRES_AT, Item, Key, Query, Req, Write, WriteOutcome};
use crate::model::{
    AuditEvent, AuditPage, Claims, LoginPlan, NewSession, NewToken, Protocol, Recorded, Redeemed,
    RedeemedSession, Redemption, Session, TokenPurpose,
};
use crate::port::{
    AUDIT_RETENTION_SECS, Audit, Directory, ReplayGuard, Sessions, Throttle, Tokens,
};

/// The claims an item carries (attribute `data`).
fn claims_attr(c: &Claims) -> Attr {
    Attr::S(c.to_stored())
}

fn claims_of(item: &Item) -> Claims {
    Claims::from_stored(item.s("data").unwrap_or("null"))
}

/// The stand-in subject whose revocation time is the tenant's latest revocation of anyone
/// (no real subject contains a NUL).
const ANY_SUBJECT: &str = "\u{0}any";

/// The session an item holds. Liveness is the caller's to judge; an item that never became a
/// session (a token not yet redeemed) has no protocol and is refused here.
fn session_of(tenant: &str, item: &Item) -> Result<Session, StoreError> {
    let n = |name: &str| item.n(name).unwrap_or(0);
    let protocol = item.s("protocol").and_then(Protocol::from_name);
    Ok(Session {
        tenant: tenant.to_owned(),
        subject: item.s("subject").unwrap_or_default().to_owned(),
        protocol: protocol.unwrap_or(Protocol::Portal),
        issuer: item.s("issuer").unwrap_or_default().to_owned(),
        created_at: n("created_at"),
        last_seen: n("last_seen"),
        idle_secs: if protocol.is_some() { n("idle") } else { 0 },
        absolute_expiry: if protocol.is_some() { n("absolute") } else { 0 },
        secret_sha256: item.s("secret").map(str::to_owned).or_else(|| {
            // Sessions written before the secret had its own attribute kept it in `data`.
            serde_json::from_str::<serde_json::Value>(item.s("data")?)
                .ok()
                .and_then(|d| d.get("secret_sha256")?.as_str().map(str::to_owned))
        }),
        claims: claims_of(item),
    })
}

impl Store {
    /// One more failure on a key's counter: `ADD 1` on a live counter that meets `reqs`, else
    /// a fresh counter at 1 where none is live. `None` when both writes were refused (the
    /// live counter fails `reqs`, or the two raced).
    async fn count_failure(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
        reqs: Vec<Req>,
    ) -> Result<Option<FailureRecord>, StoreError> {
        let k = keys::throttle(key);
        let expires = policy.record_expires_at(now);
        let bump = Write::Update {
            key: k.clone(),
            set: vec![
                ("last".into(), Attr::N(now)),
                (EXPIRES_AT.into(), Attr::N(expires)),
            ],
            add: vec![("failures".into(), 1)],
            set_sum: vec![],
            cond: Cond::Live { now, reqs },
        };
        if let WriteOutcome::Done(item) = self.backend.write(bump).await? {
            return Ok(Some(failure_record(item.as_ref(), now)));
        }
        let fresh = Item::new(k)
            .with("failures", Attr::N(1))
            .with("last", Attr::N(now))
            .with(EXPIRES_AT, Attr::N(expires));
        let start = Write::Put {
            item: fresh,
            cond: Cond::AbsentOrExpired { now },
        };
        Ok(match self.backend.write(start).await? {
            WriteOutcome::Done(_) => Some(FailureRecord {
                failures: 1,
                last_failure: now,
            }),
            WriteOutcome::ConditionFailed => None,
        })
    }

    /// Writes `write` and, if it is done, the audit items with it (see
    /// [`crate::item::ItemBackend::write_then`]); a failure to store them is logged.
    async fn write_audited(
        &self,
        write: Write,
        audit: Option<Vec<Write>>,
    ) -> Result<WriteOutcome, StoreError> {
        let (outcome, audited) = match audit {
            None => (self.backend.write(write).await?, Ok(())),
            Some(then) => self.backend.write_then(write, Box::new(|_| then)).await?,
        };
        audit_stored(audited);
        Ok(outcome)
    }

    /// Writes a new token item (its put is conditioned on the key being free), with its audit
    /// items if any.
    async fn put_new_token(&self, put: Write, audit: Option<Vec<Write>>) -> Result<(), StoreError> {
        if self.write_audited(put, audit).await? == WriteOutcome::ConditionFailed {
            return Err(StoreError::Invalid {
                what: "token",
                why: "a token with this key already exists".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Tokens for Store {
    async fn issue_audited(
        &self,
        key: &StorageKey,
        t: &NewToken,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let audit = audit.map(audit_writes).transpose()?;
        let token_key = keys::token(&t.tenant, key);
        let mut item = Item::new(token_key.clone())
            .with("subject", Attr::S(t.subject.clone()))
            .with("purpose", Attr::S(t.purpose.name().into()))
            .with("data", claims_attr(&t.claims))
            .with("reusable", Attr::Bool(t.reusable))
            .with(EXPIRES_AT, Attr::N(t.expires_at));
        if let TokenPurpose::Login(plan) = &t.purpose {
            item = item
                .with("issuer", Attr::S(plan.issuer.clone()))
                .with("idle", Attr::N(plan.idle_secs))
                .with("lifetime", Attr::N(plan.lifetime_secs));
        }
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
        let Some(slot) = &t.replace_slot else {
            return self.put_new_token(put, audit).await;
        };
        // Replacing the slot's previous token, in an order where every prefix is safe:
        // (1) read the slot's pointer, (2) delete the token it names (unless redeemed: that
        // is a live session now), (3) write the new token, (4) point the slot at it, on
        // condition that nobody else did meanwhile. A failure after (2) leaves no usable
        // token (the caller was told "try again"); after (3), only a token nobody was given.
        // Concurrent mints serialise on (4): the loser deletes the winner's token and tries
        // again, so only the last one's token survives.
        let slot_key = keys::token_slot(&t.tenant, slot);
        let mut written = false;
        for _ in 0..4 {
            let pointer = self
                .backend
                .get(&slot_key)
                .await?
                .filter(|p| !p.expired(t.issued_at));
            let previous = pointer
                .as_ref()
                .and_then(|p| p.s("current"))
                .map(str::to_owned);
            if let Some(old_pk) = previous.as_deref()
                && old_pk != token_key.pk
            {
                self.backend
                    .write(Write::Delete {
                        key: Key::new(old_pk, token_key.sk.clone()),
                        cond: Cond::Live {
                            now: t.issued_at,
                            reqs: vec![Req::Missing("consumed".into())],
                        },
                    })
                    .await?;
            }
            if !written {
                self.put_new_token(put.clone(), None).await?;
                written = true;
            }
            let next = Item::new(slot_key.clone())
                .with("current", Attr::S(token_key.pk.clone()))
                .with(EXPIRES_AT, Attr::N(t.expires_at));
            let unchanged = match previous {
                Some(old_pk) => Cond::Live {
                    now: t.issued_at,
                    reqs: vec![Req::Eq("current".into(), Attr::S(old_pk))],
                },
                None => Cond::AbsentOrExpired { now: t.issued_at },
            };
            let pointed = Write::Put {
                item: next,
                cond: unchanged,
            };
            // The event rides with the write that makes the token the slot's.
            if let WriteOutcome::Done(_) = self.write_audited(pointed, audit.clone()).await? {
                return Ok(());
            }
        }
        Err(StoreError::unavailable("token slot under heavy contention"))
    }

    async fn redeem_audited(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
        how: &Redemption,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<RedeemedSession>, StoreError> {
        let purpose = TokenPurpose::Login(LoginPlan {
            protocol: how.protocol,
            issuer: String::new(),
            idle_secs: 0,
            lifetime_secs: 0,
        })
        .name();
        if how.reusable
            && let Some(r) = self
                .redeem_reusable(tenant, key, now, how, purpose, audit)
                .await?
        {
            return Ok(Some(r));
        }
        let mut reqs = vec![
            Req::Missing("consumed".into()),
            Req::Eq("purpose".into(), Attr::S(purpose.into())),
        ];
        if let Some(a) = &how.from_addr {
            reqs.push(Req::Eq("addr".into(), Attr::S(a.clone())));
        }
        // One conditional write turns the token into its session: the session starts now and
        // ends `lifetime` seconds later, the cookie's secret is recorded, and the item's TTL
        // follows the session.
        let write = Write::Update {
            key: keys::token(tenant, key),
            set: vec![
                ("consumed".into(), Attr::N(now)),
                (
                    "protocol".into(),
                    Attr::S(Protocol::as_str(how.protocol).into()),
                ),
                ("created_at".into(), Attr::N(now)),
                ("last_seen".into(), Attr::N(now)),
                ("secret".into(), Attr::S(how.secret_sha256.clone())),
            ],
            add: vec![],
            set_sum: vec![
                ("absolute".into(), "lifetime".into(), now),
                (EXPIRES_AT.into(), "lifetime".into(), now),
            ],
            cond: Cond::Live { now, reqs },
        };
        let (outcome, audited) = match audit {
            None => (self.backend.write(write).await?, Ok(())),
            Some(event) => {
                // The event names whom the token signed in, which only the token knows.
                let (event, tenant) = (event.clone(), tenant.to_owned());
                let then = move |done: &WriteOutcome| match done {
                    WriteOutcome::Done(Some(item)) => session_of(&tenant, item)
                        .and_then(|s| {
                            audit_writes(&AuditEvent {
                                issuer: s.issuer,
                                subject: s.subject,
                                ..event
                            })
                        })
                        .unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "audit event not stored");
                            Vec::new()
                        }),
                    _ => Vec::new(),
                };
                self.backend.write_then(write, Box::new(then)).await?
            }
        };
        audit_stored(audited);
        match outcome {
            WriteOutcome::Done(Some(item)) => Ok(Some(RedeemedSession {
                key: *key,
                session: session_of(tenant, &item)?,
            })),
            _ => Ok(None),
        }
    }

    async fn take(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
    ) -> Result<Option<Redeemed>, StoreError> {
        let write = Write::set(
            keys::token(tenant, key),
            vec![("consumed".into(), Attr::N(now))],
            Cond::Live {
                now,
                reqs: vec![
                    Req::Missing("consumed".into()),
                    Req::Eq(
                        "purpose".into(),
                        Attr::S(TokenPurpose::Pending.name().into()),
                    ),
                ],
            },
        );
        match self.backend.write(write).await? {
            WriteOutcome::Done(Some(item)) => Ok(Some(Redeemed {
                subject: item.s("subject").unwrap_or_default().to_owned(),
                claims: claims_of(&item),
                expires_at: item.n(EXPIRES_AT).unwrap_or(now),
            })),
            _ => Ok(None),
        }
    }
}

impl Store {
    /// A token the tenant lets be reused: it stays as it is, and each redemption starts a
    /// session of its own under a key derived from the token and the new cookie's secret
    /// (one consistent read, one conditional write).
    async fn redeem_reusable(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
        how: &Redemption,
        purpose: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<RedeemedSession>, StoreError> {
        let Some(item) = self.backend.get(&keys::token(tenant, key)).await? else {
            return Ok(None);
        };
        // Only a token issued reusable (and so never turned into a session) is reused; one
        // issued one-time before the tenant switched reuse on stays one-time (the caller then
        // takes the one-time path).
        let usable = !item.expired(now)
            && item.flag("reusable")
            && !item.attrs.contains_key("protocol")
            && item.s("purpose") == Some(purpose)
            && how
                .from_addr
                .as_deref()
                .is_none_or(|a| item.s("addr") == Some(a));
        if !usable {
            return Ok(None);
        }
        let session_key = StorageKey::digest_of(&[key.as_bytes(), how.secret_sha256.as_bytes()]);
        let lifetime = item.n("lifetime").unwrap_or(0);
        let new = NewSession {
            tenant: tenant.to_owned(),
            subject: item.s("subject").unwrap_or_default().to_owned(),
            protocol: how.protocol,
            issuer: item.s("issuer").unwrap_or_default().to_owned(),
            created_at: now,
            idle_secs: item.n("idle").unwrap_or(0),
            absolute_expiry: now.saturating_add(lifetime),
            secret_sha256: Some(how.secret_sha256.clone()),
            keep_until: None,
            claims: claims_of(&item),
        };
        let audit = audit.map(|e| AuditEvent {
            issuer: new.issuer.clone(),
            subject: new.subject.clone(),
            ..e.clone()
        });
        if self
            .create_audited(&session_key, &new, audit.as_ref())
            .await?
            == Recorded::Replay
        {
            return Ok(None);
        }
        Ok(Some(RedeemedSession {
            key: session_key,
            session: Session {
                tenant: new.tenant,
                subject: new.subject,
                protocol: new.protocol,
                issuer: new.issuer,
                created_at: now,
                last_seen: now,
                idle_secs: new.idle_secs,
                absolute_expiry: new.absolute_expiry,
                secret_sha256: new.secret_sha256,
                claims: new.claims,
            },
        }))
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
    async fn create_audited(
        &self,
        key: &StorageKey,
        s: &NewSession,
        audit: Option<&AuditEvent>,
    ) -> Result<Recorded, StoreError> {
        let item = Item::new(keys::session(&s.tenant, key))
            .with("subject", Attr::S(s.subject.clone()))
            .with("protocol", Attr::S(Protocol::as_str(s.protocol).into()))
            .with("issuer", Attr::S(s.issuer.clone()))
            .with("created_at", Attr::N(s.created_at))
            .with("last_seen", Attr::N(s.created_at))
            .with("idle", Attr::N(s.idle_secs))
            .with("absolute", Attr::N(s.absolute_expiry))
            .with("data", claims_attr(&s.claims))
            .with(
                EXPIRES_AT,
                Attr::N(
                    s.keep_until
                        .unwrap_or(s.absolute_expiry)
                        .max(s.absolute_expiry),
                ),
            );
        let item = match &s.secret_sha256 {
            Some(secret) => item.with("secret", Attr::S(secret.clone())),
            None => item,
        };
        let put = Write::Put {
            item,
            cond: Cond::AbsentOrExpired { now: s.created_at },
        };
        let audit = audit.map(audit_writes).transpose()?;
        Ok(match self.write_audited(put, audit).await? {
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
        let session = session_of(tenant, &item)?;
        let live = !item.expired(now)
            && !item.attrs.contains_key("revoked")
            && now < session.absolute_expiry
            && now - session.last_seen < session.idle_secs;
        if !live {
            return Ok(None);
        }
        // The tenant's latest revocation first (one cached read per tenant and minute): only a
        // session older than that needs its subject's own revocation time, so a page view is
        // one read, not two, in all but that case.
        let any = self.cached_not_before(tenant, ANY_SUBJECT).await?;
        if any.is_some_and(|latest| session.created_at < latest)
            && let Some(nb) = self.cached_not_before(tenant, &session.subject).await?
            && session.created_at < nb
        {
            return Ok(None);
        }
        Ok(Some(session))
    }

    async fn recorded(&self, tenant: &str, key: &StorageKey, now: i64) -> Result<bool, StoreError> {
        let item = self.backend.get(&keys::session(tenant, key)).await?;
        Ok(item.is_some_and(|i| !i.expired(now)))
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
        let write = Write::set(
            keys::session(tenant, key),
            vec![("last_seen".into(), Attr::N(now))],
            Cond::Live {
                now,
                reqs: vec![Req::Missing("revoked".into())],
            },
        );
        self.backend.write(write).await.map(|_| ())
    }

    async fn revoke(&self, tenant: &str, key: &StorageKey, now: i64) -> Result<(), StoreError> {
        let write = Write::set(
            keys::session(tenant, key),
            vec![("revoked".into(), Attr::N(now))],
            Cond::Live { now, reqs: vec![] },
        );
        self.backend.write(write).await.map(|_| ())
    }

    async fn revoke_all_for_subject(
        &self,
        tenant: &str,
        subject: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        // The subject's time, then the tenant's latest (which tells readers to look). Both
        // only ever move up: a revocation written late, or from a clock behind, must not hide
        // a later one (an unconditional put could lower the tenant's marker and let sessions
        // between the two times escape the subject check).
        for who in [subject, ANY_SUBJECT] {
            let write = Write::set(
                keys::not_before(tenant, who),
                vec![("at".into(), Attr::N(now))],
                Cond::Live {
                    now: i64::MIN,
                    reqs: vec![Req::MissingOrBelow("at".into(), now)],
                },
            );
            let raised = match self.backend.write(write).await? {
                WriteOutcome::Done(_) => true,
                // Absent: start it (the conditional update needs an item to exist).
                WriteOutcome::ConditionFailed => {
                    let first = Write::Put {
                        item: Item::new(keys::not_before(tenant, who)).with("at", Attr::N(now)),
                        cond: Cond::AbsentOrExpired { now: i64::MIN },
                    };
                    self.backend.write(first).await? != WriteOutcome::ConditionFailed
                }
            };
            if raised && let Ok(mut cache) = self.not_before.lock() {
                cache.insert(
                    (tenant.to_owned(), who.to_owned()),
                    (Instant::now(), Some(now)),
                );
            }
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
        // A live counter is incremented in place; an absent or expired one (12 h without a
        // failure) starts again at one. Two conditional writes, retried if they race.
        for _ in 0..4 {
            if let Some(record) = self.count_failure(key, now, policy, vec![]).await? {
                return Ok(record);
            }
        }
        Err(StoreError::unavailable(
            "throttle counter under heavy contention",
        ))
    }

    async fn reserve(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<Option<FailureRecord>, StoreError> {
        let unlocked = Req::Unlocked {
            count: "failures".into(),
            at: "last".into(),
            tiers: policy.tiers(now),
        };
        // A live, unlocked counter is incremented in place; an absent or expired one starts
        // at one; a live, locked one refuses both writes. Retried if the writes race.
        for _ in 0..4 {
            if let Some(record) = self
                .count_failure(key, now, policy, vec![unlocked.clone()])
                .await?
            {
                return Ok(Some(record));
            }
            // Both refused: live and locked, unless the item changed in between.
            let current = self.backend.get(&keys::throttle(key)).await?;
            if policy
                .locked_until(&failure_record(current.as_ref(), now), now)
                .is_some()
            {
                return Ok(None);
            }
        }
        Err(StoreError::unavailable(
            "throttle counter under heavy contention",
        ))
    }

    async fn release(&self, key: &str, now: i64) -> Result<(), StoreError> {
        self.backend
            .write(Write::Update {
                key: keys::throttle(key),
                set: vec![],
                add: vec![("failures".into(), -1)],
                set_sum: vec![],
                cond: Cond::Live {
                    now,
                    reqs: vec![Req::AtLeast("failures".into(), 1)],
                },
            })
            .await
            .map(|_| ())
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

/// Logs an audit event that could not be stored with the write it describes: as with
/// [`Audit::append`] from the web layer, a missing audit item never fails the sign-in.
fn audit_stored(result: Result<(), StoreError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "audit event not stored");
    }
}

/// The items of one audit event: the event under the tenant's listing and, when it names a
/// subject, a reference to it under the subject's listing (to be written together or not at
/// all). The reference holds only the event's sort key (its own) and expiry, not the event:
/// every sign-in writes its event once, and the subject's copy costs a small item instead of
/// a second full one (about 300 bytes less per login in the embedded store's log and file;
/// see docs/performance.md). An attempt that names nobody (a random token, say) is listed under
/// the tenant only: one small item, so anonymous traffic cannot write more than that per
/// request.
fn audit_writes(e: &AuditEvent) -> Result<Vec<Write>, StoreError> {
    // Unique, not secret: from the thread's ChaCha generator (seeded by the OS), without a
    // system call per event.
    let mut unique = [0u8; 6];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut unique);
    let sk = keys::audit_sk(e.at, &hex::encode(unique));
    let expires = Attr::N(e.at.saturating_add(AUDIT_RETENTION_SECS));
    let event = Write::Put {
        item: Item::new(Key::new(keys::audit_pk(&e.tenant), sk.clone()))
            .with(super::DATA, super::encode(e)?)
            .with(EXPIRES_AT, expires.clone()),
        cond: Cond::Always,
    };
    if e.subject.is_empty() {
        return Ok(vec![event]);
    }
    let reference = Write::Put {
        item: Item::new(Key::new(keys::audit_subject_pk(&e.tenant, &e.subject), sk))
            .with(EXPIRES_AT, expires),
        cond: Cond::Always,
    };
    Ok(vec![reference, event])
}

/// At most this many reads of referenced events are in flight for one page of a subject's
/// listing.
const REFERENCE_READS: usize = 16;

impl Store {
    /// The events a page of a subject's listing stands for, in its order: each reference
    /// read from the tenant's listing (at most [`REFERENCE_READS`] at once), an item that
    /// holds its event itself (written before references) decoded as it is. A reference
    /// whose event is gone (swept between the two reads) is left out.
    async fn referenced_events(
        &self,
        tenant: &str,
        items: Vec<Item>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events: Vec<Option<AuditEvent>> = vec![None; items.len()];
        let mut reads = tokio::task::JoinSet::new();
        let pk = keys::audit_pk(tenant);
        for (i, item) in items.into_iter().enumerate() {
            if item.attrs.contains_key(super::DATA) {
                events[i] = Some(super::decode(&item)?);
                continue;
            }
            if reads.len() >= REFERENCE_READS {
                settle(&mut reads, &mut events).await?;
            }
            let backend = Arc::clone(&self.backend);
            let key = Key::new(pk.clone(), item.key.sk);
            reads.spawn(async move { (i, backend.get(&key).await) });
        }
        while !reads.is_empty() {
            settle(&mut reads, &mut events).await?;
        }
        Ok(events.into_iter().flatten().collect())
    }
}

/// One finished read of [`Store::referenced_events`], put in its place.
async fn settle(
    reads: &mut tokio::task::JoinSet<(usize, Result<Option<Item>, StoreError>)>,
    events: &mut [Option<AuditEvent>],
) -> Result<(), StoreError> {
    let Some(joined) = reads.join_next().await else {
        return Ok(());
    };
    let (i, read) = joined.map_err(|e| StoreError::unavailable_from("audit read failed", e))?;
    if let Some(item) = read? {
        events[i] = Some(super::decode(&item)?);
    }
    Ok(())
}

#[async_trait]
impl Audit for Store {
    async fn append(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let mut writes = audit_writes(e)?;
        // The tenant's listing and the subject's are written together or not at all: no
        // event is in one and missing from the other.
        if writes.len() == 1 {
            return self.backend.write(writes.remove(0)).await.map(|_| ());
        }
        self.backend.transact(writes).await.map(|_| ())
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
        let events = match subject {
            Some(_) => self.referenced_events(tenant, page.items).await?,
            None => page
                .items
                .iter()
                .map(super::decode)
                .collect::<Result<_, _>>()?,
        };
        Ok(AuditPage {
            events,
            next: page.next,
        })
    }
}
