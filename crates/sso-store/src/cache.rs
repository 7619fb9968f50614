//! An in-memory cache in front of any [`Directory`]: the directory changes rarely and is read
//! by every SSO request, so each process keeps answers (negative ones included, so requests
//! with random ids do not each cost a read) for a short, documented staleness bound.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sso_core::ident::StorageKey;

use crate::StoreError;
use crate::model::{
    Administrator, Agent, Client, Group, HelpdeskUser, PlatformKey, Tenant, Vendor,
};
use crate::port::Directory;

/// How stale a cached directory answer may be by default: a change (a disabled vendor, a new
/// key) reaches every instance within this time.
pub const DIRECTORY_TTL: Duration = Duration::from_secs(60);

/// Most entries kept; past this the cache starts over (a bound against memory growth from
/// requests with random ids).
const MAX_ENTRIES: usize = 50_000;

type Entry = (Instant, Arc<dyn Any + Send + Sync>);

/// A [`Directory`] that remembers answers for `ttl`.
pub struct CachedDirectory {
    inner: Arc<dyn Directory>,
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for CachedDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDirectory")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedDirectory {
    /// Caches `inner` for `ttl` (zero disables caching: tests that change the directory).
    pub fn new(inner: Arc<dyn Directory>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets everything (after an admin change in this same process).
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }

    async fn cached<T, F>(&self, key: String, fetch: F) -> Result<T, StoreError>
    where
        T: Clone + Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        if let Ok(entries) = self.entries.lock()
            && let Some((at, value)) = entries.get(&key)
            && at.elapsed() < self.ttl
            && let Some(v) = value.downcast_ref::<T>()
        {
            return Ok(v.clone());
        }
        let value = fetch.await?;
        if !self.ttl.is_zero()
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), Arc::new(value.clone())));
        }
        Ok(value)
    }
}

#[async_trait]
impl Directory for CachedDirectory {
    async fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.cached(format!("tenant\0{name}"), self.inner.tenant(name))
            .await
    }
    async fn vendor(&self, tenant: &str, id: &str) -> Result<Option<Vendor>, StoreError> {
        self.cached(
            format!("vendor\0{tenant}\0{id}"),
            self.inner.vendor(tenant, id),
        )
        .await
    }
    async fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.cached(
            format!("client\0{tenant}\0{client_id}"),
            self.inner.client(tenant, client_id),
        )
        .await
    }
    async fn clients_by_email(&self, tenant: &str, email: &str) -> Result<Vec<Client>, StoreError> {
        let key = format!("email\0{tenant}\0{}", email.to_lowercase());
        self.cached(key, self.inner.clients_by_email(tenant, email))
            .await
    }
    async fn helpdesk_user(
        &self,
        tenant: &str,
        username: &str,
    ) -> Result<Option<HelpdeskUser>, StoreError> {
        self.cached(
            format!("hd\0{tenant}\0{username}"),
            self.inner.helpdesk_user(tenant, username),
        )
        .await
    }
    async fn helpdesk_user_by_api_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<Option<HelpdeskUser>, StoreError> {
        let k = format!("hdkey\0{tenant}\0{}", key.to_hex());
        self.cached(k, self.inner.helpdesk_user_by_api_key(tenant, key))
            .await
    }
    async fn platform_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<Option<PlatformKey>, StoreError> {
        let k = format!("pkey\0{tenant}\0{}", key.to_hex());
        self.cached(k, self.inner.platform_key(tenant, key)).await
    }
    async fn group(&self, id: u64) -> Result<Option<Group>, StoreError> {
        self.cached(format!("group\0{id}"), self.inner.group(id))
            .await
    }
    async fn agent(&self, group: u64, username: &str) -> Result<Option<Agent>, StoreError> {
        self.cached(
            format!("agent\0{group}\0{username}"),
            self.inner.agent(group, username),
        )
        .await
    }
    async fn administrator(&self, email: &str) -> Result<Option<Administrator>, StoreError> {
        let k = format!("admin\0{}", email.to_lowercase());
        self.cached(k, self.inner.administrator(email)).await
    }
    async fn not_before(&self, tenant: &str, subject: &str) -> Result<Option<i64>, StoreError> {
        self.cached(
            format!("nb\0{tenant}\0{subject}"),
            self.inner.not_before(tenant, subject),
        )
        .await
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::embedded::Embedded;
    use crate::port::DirectoryAdmin;
    use crate::{SecretBox, Store};

    #[tokio::test]
    async fn answers_are_reused_until_the_ttl_passes_negative_ones_included() {
        let store = Store::new(
            Arc::new(Embedded::in_memory().unwrap()),
            SecretBox::new([1; 32]),
        );
        let cached = CachedDirectory::new(Arc::new(store.clone()), Duration::from_secs(60));
        assert!(cached.tenant("demoaws").await.unwrap().is_none());
        store.put_tenant(&Tenant::new("demoaws")).await.unwrap();
        assert!(
            cached.tenant("demoaws").await.unwrap().is_none(),
            "negative answer cached"
        );
        let reads_before = store.consumed();
        cached.clear();
        assert!(cached.tenant("demoaws").await.unwrap().is_some());
        assert_eq!(reads_before, store.consumed());
        let uncached = CachedDirectory::new(Arc::new(store), Duration::ZERO);
        assert!(uncached.tenant("demoaws").await.unwrap().is_some());
    }
}
