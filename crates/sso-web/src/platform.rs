//! The state every router is built from.

use std::sync::Arc;

use http::HeaderMap;
use sso_core::ident::StorageKey;
use sso_core::throttle::LockoutPolicy;
use sso_store::model::{AuditEvent, Session, Tenant};
use sso_store::port::{Audit, Directory, DirectoryAdmin, ReplayGuard, Sessions, Throttle, Tokens};
use sso_store::{CachedDirectory, DIRECTORY_TTL};

use crate::cookies::{self, SessionCookie};
use crate::{Clock, WebConfig, WebError};

/// What a throttled password check came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate<T> {
    /// The check passed; here is what it found.
    Passed(T),
    /// The check failed (and was counted).
    Failed,
    /// The account was locked for this source address: nothing was checked or counted.
    Locked,
}

/// The store behind its port traits, the configuration and the clock. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
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
    /// Argon2id checks allowed to run at once (each holds 19 MiB and a core for a while).
    password_slots: Arc<tokio::sync::Semaphore>,
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

impl Platform {
    /// A platform over one store that implements every port trait (the adapters never name
    /// which store it is), with the directory cached for [`DIRECTORY_TTL`].
    pub fn over<S>(store: Arc<S>, config: WebConfig, clock: Arc<dyn Clock>) -> Self
    where
        S: Directory
            + DirectoryAdmin
            + Sessions
            + Tokens
            + ReplayGuard
            + Throttle
            + Audit
            + 'static,
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
        S: Directory
            + DirectoryAdmin
            + Sessions
            + Tokens
            + ReplayGuard
            + Throttle
            + Audit
            + 'static,
    {
        let cache = Arc::new(CachedDirectory::new(store.clone(), ttl));
        Self {
            directory: cache.clone(),
            admin: store.clone(),
            cache,
            sessions: store.clone(),
            tokens: store.clone(),
            replay: store.clone(),
            throttle: store.clone(),
            audit: store,
            config: Arc::new(config),
            clock,
            password_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            )),
        }
    }

    /// Checks a password against an Argon2id verifier (`None`: the same work against a dummy,
    /// so unknown accounts cost the same), off the async workers and at most two per core at a
    /// time: a flood of sign-ins with random names queues here instead of allocating 19 MiB
    /// per request until the process falls over.
    pub async fn check_password(&self, verifier: Option<String>, password: String) -> bool {
        let Ok(slot) = Arc::clone(&self.password_slots).acquire_owned().await else {
            return false;
        };
        // The permit goes with the work: a request dropped mid-check (the client went away)
        // does not free its slot while Argon2 is still running.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            sso_store::password::verify(verifier.as_deref(), &password)
        })
        .await
        .unwrap_or(false)
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

    /// The enabled tenant a page request's `Host` names, or the response to send instead: the
    /// plain 404 page for hosts that name none, the 503 page when the store is unavailable.
    /// (Protocol endpoints with answers of their own, `api.php` and `/sso/0`, do not use it.)
    pub async fn tenant_for_page(
        &self,
        headers: &HeaderMap,
    ) -> Result<Tenant, axum::response::Response> {
        let crate::host::HostKind::Tenant(label) =
            crate::host::classify_headers(headers, &self.config)
        else {
            return Err(crate::page::not_found());
        };
        match self.tenant(&label).await {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(crate::page::not_found()),
            Err(_) => Err(crate::page::unavailable()),
        }
    }

    /// Records one audit event: always a structured log line (target `audit`), and the store
    /// when configured. A failure to store it is logged, never fatal to the sign-in.
    pub async fn record(&self, event: AuditEvent) {
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
        if self.config.audit_to_store
            && let Err(e) = self.audit.append(&event).await
        {
            tracing::warn!(error = %e, "audit event not stored");
        }
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

    /// Runs one password check under the lock-out rule of PROTOCOLS.md, keyed by account and
    /// source address (`key`): while locked the check is not even run (a correct password is
    /// refused like any other, and an attacker's attempts neither cost Argon2 nor prolong the
    /// lock); a failure is counted; a success forgets earlier failures, with a write only when
    /// there were some. `check` answers `Some(found)` for a pass.
    pub async fn throttled<T>(
        &self,
        key: &str,
        check: impl Future<Output = Result<Option<T>, WebError>>,
    ) -> Result<Gate<T>, WebError> {
        let now = self.now();
        let policy = LockoutPolicy::default();
        let record = self.throttle.failures(key, now, &policy).await?;
        if policy.locked_until(&record, now).is_some() {
            return Ok(Gate::Locked);
        }
        match check.await? {
            Some(found) => {
                if record.failures > 0 {
                    self.throttle.clear(key).await?;
                }
                Ok(Gate::Passed(found))
            }
            None => {
                self.throttle.record_failure(key, now, &policy).await?;
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
            .touch(tenant, &key, &session, now, self.config.touch_interval)
            .await?;
        Ok(Some(CurrentSession { cookie, session }))
    }
}
