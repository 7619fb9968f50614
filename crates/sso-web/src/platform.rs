//! The state every router is built from.

use std::sync::Arc;

use std::net::IpAddr;

use axum::response::Response;
use http::HeaderMap;
use sso_core::ident::{OneTimeToken, SessionId, StorageKey};
use sso_core::throttle::LockoutPolicy;
use sso_store::model::{
    AuditEvent, Claims, NewSession, Outcome, Protocol, Redemption, Session, Tenant,
};
use sso_store::port::{
    Audit, Directory, DirectoryAdmin, Readiness, ReplayGuard, Sessions, Throttle, Tokens,
};
use sso_store::{CachedDirectory, DIRECTORY_TTL};

use crate::cookies::{self, SessionCookie};
use crate::password_gate::{Busy, GateSizes, PasswordGate, PasswordSlot};
use crate::{Clock, PageError, WebConfig, WebError};

/// A door through which a one-time login token becomes a session.
#[derive(Debug, Clone)]
pub struct Door {
    /// The protocol whose tokens it opens (a token issued for another is refused).
    pub protocol: Protocol,
    /// Its name in audit events (`_ssot`, `/sso/login`).
    pub name: &'static str,
    /// The address the token must be redeemed from, when it is bound to one.
    pub bound_to: Option<String>,
    /// The tenant lets tokens be reused until they expire.
    pub reusable: bool,
}

/// What a throttled password check came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate<T> {
    /// The check passed; here is what it found.
    Passed(T),
    /// The check failed (and was counted).
    Failed,
    /// The account was locked for this source address: nothing was checked or counted.
    Locked,
    /// Too many password checks are running or waiting (this source's share, or the whole
    /// queue): nothing was checked or counted; "try again later".
    Busy,
}

/// Declares [`StorePorts`] as the sum of the port traits, implemented for every type that has
/// them all: the list is written once.
macro_rules! store_ports {
    ($($port:ident),+) => {
        /// A store that implements every port trait (the adapters never name which store it is).
        pub trait StorePorts: $($port +)+ 'static {}

        impl<S> StorePorts for S where S: $($port +)+ 'static {}
    };
}

store_ports!(
    Directory,
    DirectoryAdmin,
    Sessions,
    Tokens,
    ReplayGuard,
    Throttle,
    Audit,
    Readiness
);

/// The store behind its port traits, the configuration and the clock. Cheap to clone: one
/// shared count (every handler's `State` extraction clones it, on every core), its parts
/// read through `Deref`.
#[derive(Clone)]
pub struct Platform(Arc<PlatformParts>);

impl std::ops::Deref for Platform {
    type Target = PlatformParts;

    fn deref(&self) -> &PlatformParts {
        &self.0
    }
}

/// What a [`Platform`] holds.
pub struct PlatformParts {
    /// Who may sign in whom (cached in memory for [`DIRECTORY_TTL`]).
    pub directory: Arc<dyn Directory>,
    /// Directory changes (the portal's administrator pages); call
    /// [`Platform::directory_changed`] after one.
    pub admin: Arc<dyn DirectoryAdmin>,
    cache: Arc<CachedDirectory>,
    /// Sessions.
    pub sessions: Arc<dyn Sessions>,
    /// One-time tokens.
    pub tokens: Arc<dyn Tokens>,
    /// Replay records.
    pub replay: Arc<dyn ReplayGuard>,
    /// Failed sign-in counters.
    pub throttle: Arc<dyn Throttle>,
    /// The audit trail (used when `config.audit_to_store`).
    pub audit: Arc<dyn Audit>,
    /// The readiness check (`/readyz`).
    pub readiness: Arc<dyn Readiness>,
    /// Argon2id checks: bounded, queued, shared fairly between sources.
    password_gate: Arc<PasswordGate>,
    /// Shared configuration.
    pub config: Arc<WebConfig>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A throttled sign-in in progress ([`Platform::lockout`]).
#[derive(Debug)]
pub struct Lockout<'a> {
    platform: &'a Platform,
    key: String,
    now: i64,
    policy: LockoutPolicy,
    prior: u32,
    reserved: bool,
}

impl Lockout<'_> {
    /// Reserves this attempt's check before it runs (Argon2, a key lookup): counted as a
    /// failure at once, atomically, and refused (`false`) once the rule locks the key, so
    /// parallel guesses cannot outrun the count. At most once per attempt.
    pub async fn reserve(&mut self) -> Result<bool, WebError> {
        if self.reserved {
            return Ok(true);
        }
        let p = self.platform;
        let reserved = p
            .throttle
            .reserve(&self.key, self.now, &self.policy)
            .await?;
        self.reserved = reserved.is_some();
        Ok(self.reserved)
    }

    /// The attempt's check never ran to a verdict (the store failed midway, or a later slot
    /// was busy): its reservation is given back, so load or faults never count against an
    /// account. Best effort: a failure to give it back is logged, not answered.
    pub async fn abandon(self) {
        if self.reserved
            && let Err(e) = self.platform.throttle.release(&self.key, self.now).await
        {
            tracing::debug!(error = %e, "throttle reservation not given back");
        }
    }

    /// The attempt failed: counted (already, if it was reserved).
    pub async fn failed(self) -> Result<(), WebError> {
        if !self.reserved {
            let p = self.platform;
            p.throttle
                .record_failure(&self.key, self.now, &self.policy)
                .await?;
        }
        Ok(())
    }

    /// The attempt passed: earlier failures (and this attempt's reservation) are forgotten,
    /// with a write only when there is something to forget.
    pub async fn passed(self) -> Result<(), WebError> {
        if self.reserved || self.prior > 0 {
            self.platform.throttle.clear(&self.key).await?;
        }
        Ok(())
    }
}

/// A live session found from the request's cookie.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// The cookie it came from.
    pub cookie: SessionCookie,
    /// The session.
    pub session: Session,
}

/// `N` bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], WebError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| WebError::Random(e.to_string()))?;
    Ok(b)
}

/// `N` bytes for an id that must not repeat but guards nothing (a request's id in the logs):
/// from the thread's ChaCha generator, seeded by the OS, so without a system call each time.
/// Secrets and tokens come from [`random_bytes`], straight from the OS.
pub fn unique_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut b);
    b
}

impl Platform {
    /// A platform over one store that implements every port trait (the adapters never name
    /// which store it is), with the directory cached for [`DIRECTORY_TTL`].
    pub fn over<S>(store: Arc<S>, config: WebConfig, clock: Arc<dyn Clock>) -> Self
    where
        S: StorePorts,
    {
        Self::with_directory_ttl(store, config, clock, DIRECTORY_TTL)
    }

    /// As [`Platform::over`], with another cache lifetime (zero: no cache, for tests that
    /// change the directory as they go).
    pub fn with_directory_ttl<S>(
        store: Arc<S>,
        config: WebConfig,
        clock: Arc<dyn Clock>,
        ttl: std::time::Duration,
    ) -> Self
    where
        S: StorePorts,
    {
        let cache = Arc::new(CachedDirectory::new(store.clone(), ttl));
        Self(Arc::new(PlatformParts {
            directory: cache.clone(),
            admin: store.clone(),
            cache,
            sessions: store.clone(),
            tokens: store.clone(),
            replay: store.clone(),
            throttle: store.clone(),
            audit: store.clone(),
            readiness: store,
            config: Arc::new(config),
            clock,
            password_gate: Arc::new(PasswordGate::new(GateSizes::default())),
        }))
    }

    /// A slot for one Argon2id check from `source` ([`PasswordGate`]): at most two checks per
    /// core run at once, a bounded queue waits behind them, and one source may hold only its
    /// share, so a flood from one client is answered "try again later" at once.
    pub async fn password_slot(&self, source: IpAddr) -> Result<PasswordSlot, Busy> {
        self.password_gate.slot(source).await
    }

    /// Forgets cached directory answers after a change made through [`Platform::admin`]
    /// (other processes see it within [`DIRECTORY_TTL`]).
    pub fn directory_changed(&self) {
        self.cache.clear();
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The tenant a host label names, if it exists and is enabled.
    pub async fn tenant(&self, label: &str) -> Result<Option<Tenant>, WebError> {
        Ok(self.directory.tenant(label).await?.filter(|t| t.enabled))
    }

    /// The enabled tenant a page request's `Host` names: [`PageError::NotFound`] for hosts
    /// that name none, [`PageError::Unavailable`] when the store is unavailable. (What the
    /// [`crate::extract::TenantPage`] extractor runs.)
    pub async fn page_tenant(&self, headers: &HeaderMap) -> Result<Tenant, PageError> {
        let crate::host::HostKind::Tenant(label) =
            crate::host::classify_headers(headers, &self.config)
        else {
            return Err(PageError::NotFound);
        };
        self.tenant(&label).await?.ok_or(PageError::NotFound)
    }

    /// Redeems a one-time login token at `door` (`_ssot`, `/sso/login`): one conditional write
    /// turns the token into the session it describes (see [`Tokens::redeem`]), and the
    /// attempt is audited the same way for every protocol. `Ok(None)` for every refusal
    /// alike (unknown, used, expired, another door's, another address's): nothing is
    /// revealed. On success, the `Set-Cookie` of the new session.
    pub async fn redeem(
        &self,
        tenant: &Tenant,
        door: Door,
        token: Option<&str>,
        source_ip: IpAddr,
    ) -> Result<Option<String>, WebError> {
        let attempt = self.attempt(door.protocol, &tenant.name, source_ip);
        let started = self
            .attempt(door.protocol, &tenant.name, source_ip)
            .if_it_ends(Outcome::SessionStarted);
        let secret = random_bytes::<16>()?;
        let how = Redemption {
            protocol: door.protocol,
            from_addr: door.bound_to,
            secret_sha256: cookies::secret_hash(&secret),
            reusable: door.reusable,
        };
        let redeemed = match token.and_then(|t| OneTimeToken::parse(t).ok()) {
            None => None,
            Some(t) => {
                let found = self
                    .tokens
                    .redeem_audited(
                        &tenant.name,
                        &t.storage_key(),
                        self.now(),
                        &how,
                        started.to_store(),
                    )
                    .await;
                match found {
                    Ok(r) => r,
                    Err(e) => {
                        attempt.issuer(door.name).record(Outcome::Unavailable).await;
                        return Err(e.into());
                    }
                }
            }
        };
        let Some(r) = redeemed else {
            attempt.issuer(door.name).record(Outcome::BadToken).await;
            return Ok(None);
        };
        started.stored(Some((&r.session.issuer, &r.session.subject)));
        Ok(Some(cookies::set_session(
            &SessionCookie::Keyed { key: r.key, secret },
            self.config.https,
            !tenant.frame_ancestors.is_empty(),
        )))
    }

    /// Records one audit event: always a structured log line (target `audit`), and the store
    /// when configured. A failure to store it is logged, never fatal to the sign-in.
    pub async fn record(&self, event: AuditEvent) {
        self.log_event(&event);
        if self.config.audit_to_store
            && let Err(e) = self.audit.append(&event).await
        {
            tracing::warn!(error = %e, "audit event not stored");
        }
    }

    /// The log line (target `audit`) and the metrics of an event, without storing it.
    pub(crate) fn log_event(&self, event: &AuditEvent) {
        crate::metrics::attempt(event.protocol, &event.outcome);
        tracing::info!(
            target: "audit",
            at = event.at,
            tenant = %event.tenant,
            protocol = %event.protocol,
            issuer = %event.issuer,
            subject = %event.subject,
            source_ip = %event.source_ip,
            outcome = %event.outcome,
            "sso attempt"
        );
    }

    /// The live session of this request on `tenant`, touching it (at most once per
    /// `touch_interval`). A signed-link cookie must also present its secret.
    pub async fn current_session(
        &self,
        headers: &HeaderMap,
        tenant: &str,
    ) -> Result<Option<CurrentSession>, WebError> {
        let Some(cookie) = cookies::session(headers, self.config.https) else {
            return Ok(None);
        };
        self.session_for(cookie, tenant).await
    }

    /// Ends the session the request's cookie holds on `tenant`, if the cookie really holds it
    /// (its secret checked): a session key alone may be known to others (a signed link's or a
    /// redeemed token's key is derived from a URL), so it must not be enough to end a session.
    pub async fn end_session(&self, headers: &HeaderMap, tenant: &str) -> Result<(), WebError> {
        let Some(cookie) = cookies::session(headers, self.config.https) else {
            return Ok(());
        };
        let key = cookie.storage_key();
        if self.session_for(cookie, tenant).await?.is_some() {
            self.sessions.revoke(tenant, &key, self.now()).await?;
        }
        Ok(())
    }

    /// Starts a throttled sign-in for `key` (account and source address) under the lock-out
    /// rule of PROTOCOLS.md: `None` when the key is locked (one read, nothing written: an
    /// attacker's attempts during a lock neither cost Argon2 nor prolong it).
    pub async fn lockout(&self, key: &str) -> Result<Option<Lockout<'_>>, WebError> {
        let now = self.now();
        let policy = LockoutPolicy::default();
        let record = self.throttle.failures(key, now, &policy).await?;
        if policy.locked_until(&record, now).is_some() {
            return Ok(None);
        }
        Ok(Some(Lockout {
            platform: self,
            key: key.to_owned(),
            now,
            policy,
            prior: record.failures,
            reserved: false,
        }))
    }

    /// Runs one password check under the lock-out rule: while locked the check is not even
    /// run; it waits for a password slot ([`Gate::Busy`] when there is none); before it runs,
    /// the attempt is reserved with one conditional write (so a parallel
    /// burst is checked at most as often as the rule allows); a success forgets earlier
    /// failures. `check` answers `Some(found)` for a pass.
    pub async fn throttled<T, F>(
        &self,
        key: &str,
        source: IpAddr,
        check: impl FnOnce(PasswordSlot) -> F,
    ) -> Result<Gate<T>, WebError>
    where
        F: Future<Output = Result<Option<T>, WebError>>,
    {
        let Some(mut lockout) = self.lockout(key).await? else {
            return Ok(Gate::Locked);
        };
        let Ok(slot) = self.password_slot(source).await else {
            return Ok(Gate::Busy);
        };
        if !lockout.reserve().await? {
            return Ok(Gate::Locked);
        }
        let checked = match check(slot).await {
            Ok(checked) => checked,
            Err(e) => {
                lockout.abandon().await;
                return Err(e);
            }
        };
        match checked {
            Some(found) => {
                lockout.passed().await?;
                Ok(Gate::Passed(found))
            }
            None => {
                lockout.failed().await?;
                Ok(Gate::Failed)
            }
        }
    }

    /// The live session a given cookie names on `tenant`.
    pub async fn session_for(
        &self,
        cookie: SessionCookie,
        tenant: &str,
    ) -> Result<Option<CurrentSession>, WebError> {
        let key: StorageKey = cookie.storage_key();
        let now = self.now();
        let Some(session) = self.sessions.get(tenant, &key, now).await? else {
            return Ok(None);
        };
        if !cookie.secret_matches(session.secret_sha256.as_deref()) {
            return Ok(None);
        }
        self.sessions
            .touch(
                tenant,
                &key,
                &session,
                now,
                // At most half the idle timeout, or a short timeout would never be extended.
                self.config.touch_interval.min(session.idle_secs / 2).max(1),
            )
            .await?;
        Ok(Some(CurrentSession { cookie, session }))
    }

    /// Opens a session on `tenant` for a password sign-in (issuer `password`, the tenant's
    /// session policy, starting now) and returns the cookie carrying its random id: where the
    /// standard login pages of the tenant protocols end.
    pub async fn open_password_session(
        &self,
        tenant: &Tenant,
        subject: &str,
        protocol: Protocol,
        claims: Claims,
    ) -> Result<SessionCookie, WebError> {
        let id = SessionId::from_random_bytes(random_bytes()?);
        let session =
            NewSession::for_tenant(tenant, subject, protocol, "password", self.now(), claims);
        self.sessions.create(&id.storage_key(), &session).await?;
        Ok(SessionCookie::Opaque(id))
    }

    /// The answer that completes a sign-in on `tenant`: a redirect to `location` that sets
    /// the session cookie (cross-site when the tenant may be framed).
    pub fn signed_in(&self, tenant: &Tenant, cookie: &SessionCookie, location: &str) -> Response {
        let framed = !tenant.frame_ancestors.is_empty();
        let set = cookies::set_session(cookie, self.config.https, framed);
        crate::page::redirect(location, &[set])
    }
}
