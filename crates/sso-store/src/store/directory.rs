//! The directory half of [`Store`]: records stored as JSON in a `data` attribute.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sso_core::expiry::ExpiryPolicy;
use sso_core::ident::StorageKey;
use sso_core::signed_link::{Scheme, SecretSet, VendorSecret};

use super::{DATA, Store, decode, encode, keys};
use crate::StoreError;
use crate::item::{Cond, Item, Key, Query, Req, Write, WriteOutcome};
use crate::model::{
    Administrator, Agent, Client, Group, GroupLink, HelpdeskUser, PlatformKey, Tenant, Vendor,
};
use crate::port::{Directory, DirectoryAdmin};

/// Most items a directory listing returns.
pub(super) const LIST_LIMIT: usize = 1000;

/// A vendor as stored: secrets sealed with the store's [`crate::SecretBox`], bound to the
/// vendor's item. `sso export` writes these sealed values as they are and `sso import` stores
/// them back unchanged (after checking that they open), so an export never holds a vendor
/// password in clear and re-exporting an imported file gives the same bytes.
#[derive(Clone, Serialize, Deserialize)]
pub struct VendorRecord {
    /// Its tenant.
    pub tenant: String,
    /// Its id.
    pub id: String,
    /// `md5` or `hmac-sha256`.
    pub scheme: String,
    /// The current password, sealed (hex of nonce and ciphertext).
    pub secret: String,
    /// The previous password during a rotation, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    /// Expiry policy: most age of a link, seconds.
    pub max_age: i64,
    /// Expiry policy: the offset of the partner's clock from UTC, seconds.
    pub reference_offset: i64,
    /// Expiry policy: how far in the future a link's time may be, seconds.
    pub max_future: i64,
    /// Links may be used more than once.
    pub reusable: bool,
    /// Registered failure URL.
    pub failure_url: Option<String>,
    /// Registered logout URL.
    pub logout_url: Option<String>,
    /// Whether it may sign clients in.
    pub enabled: bool,
    /// Integration test mode.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test_mode: bool,
}

impl std::fmt::Debug for VendorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorRecord")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("secret", &"sealed")
            .finish_non_exhaustive()
    }
}

/// A vendor without its passwords, read without opening them: what `sso vendor list` and
/// `show` print, so reading the directory never needs the secret key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorSummary {
    /// Its tenant.
    pub tenant: String,
    /// Its id.
    pub id: String,
    /// `md5` or `hmac-sha256`.
    pub scheme: String,
    /// A previous password is still valid (a rotation is under way).
    pub rotating: bool,
    /// Links may be used more than once.
    pub reusable: bool,
    /// Registered failure URL.
    pub failure_url: Option<String>,
    /// Registered logout URL.
    pub logout_url: Option<String>,
    /// Whether it may sign clients in.
    pub enabled: bool,
    /// Integration test mode (refused links explained on a page).
    pub test_mode: bool,
}

impl From<&Vendor> for VendorSummary {
    fn from(v: &Vendor) -> Self {
        Self {
            tenant: v.tenant.clone(),
            id: v.id.clone(),
            scheme: scheme_name(v.scheme).into(),
            rotating: v.secrets.previous.is_some(),
            reusable: v.reusable,
            failure_url: v.failure_url.clone(),
            logout_url: v.logout_url.clone(),
            enabled: v.enabled,
            test_mode: v.test_mode,
        }
    }
}

impl From<VendorRecord> for VendorSummary {
    fn from(r: VendorRecord) -> Self {
        Self {
            rotating: r.previous_secret.is_some(),
            tenant: r.tenant,
            id: r.id,
            scheme: r.scheme,
            reusable: r.reusable,
            failure_url: r.failure_url,
            logout_url: r.logout_url,
            enabled: r.enabled,
            test_mode: r.test_mode,
        }
    }
}

impl Store {
    /// A tenant's vendors as stored, passwords sealed (what `sso export` writes; no secret
    /// key needed).
    pub async fn sealed_vendors(&self, tenant: &str) -> Result<Vec<VendorRecord>, StoreError> {
        self.list_records(keys::tenant_pk(tenant), "VENDOR#").await
    }

    /// Whether a sealed vendor's passwords open with this store's key under its own item:
    /// an import of sealed values made with another key is refused, naming the vendor, rather
    /// than stored to fail at the first sign-in.
    pub fn check_sealed(&self, v: &VendorRecord) -> Result<(), StoreError> {
        let context = keys::vendor(&v.tenant, &v.id).to_string();
        for sealed in std::iter::once(&v.secret).chain(v.previous_secret.as_ref()) {
            self.secrets
                .open(&context, sealed)
                .map_err(|_| StoreError::Invalid {
                    what: "password_sealed",
                    why: format!(
                        "vendor `{}` of tenant `{}`: the sealed password does not open with this \
                         store's secret key (SSO_SECRET_KEY must be the key of the exporting store)",
                        v.id, v.tenant
                    ),
                })?;
        }
        Ok(())
    }

    /// A tenant's help-desk API keys: (hex SHA-256, owner), as stored.
    pub async fn helpdesk_api_keys(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let items = self.query_all(keys::tenant_pk(tenant), "HDKEY#").await?;
        items
            .iter()
            .map(|item| {
                let hash = item.key.sk.trim_start_matches("HDKEY#").to_owned();
                decode::<ApiKeyRecord>(item).map(|r| (hash, r.username))
            })
            .collect()
    }

    /// A tenant's vendors, passwords left sealed (no secret key needed).
    pub async fn vendor_summaries(&self, tenant: &str) -> Result<Vec<VendorSummary>, StoreError> {
        let records: Vec<VendorRecord> = self
            .list_records(keys::tenant_pk(tenant), "VENDOR#")
            .await?;
        Ok(records.into_iter().map(VendorSummary::from).collect())
    }

    /// One vendor, password left sealed (no secret key needed).
    pub async fn vendor_summary(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<VendorSummary>, StoreError> {
        let record: Option<VendorRecord> = self.get_record(keys::vendor(tenant, id)).await?;
        Ok(record.map(VendorSummary::from))
    }
}

/// An API key or Platform-Key pointer record.
#[derive(Serialize, Deserialize)]
struct ApiKeyRecord {
    username: String,
}

fn scheme_name(s: Scheme) -> &'static str {
    match s {
        Scheme::Md5 => "md5",
        Scheme::HmacSha256 => "hmac-sha256",
    }
}

/// The scheme named in a record or an import file.
pub(crate) fn parse_scheme(name: &str) -> Option<Scheme> {
    match name {
        "md5" => Some(Scheme::Md5),
        "hmac-sha256" => Some(Scheme::HmacSha256),
        _ => None,
    }
}

fn record_item<T: Serialize>(key: Key, record: &T) -> Result<Item, StoreError> {
    Ok(Item::new(key).with(DATA, encode(record)?))
}

impl Store {
    async fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        key: Key,
    ) -> Result<Option<T>, StoreError> {
        match self.backend.get(&key).await? {
            Some(item) => decode(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Every item of `pk` whose sort key starts with `prefix`, page after page: a listing
    /// (and so an export or a re-seal) never stops silently at one page.
    pub(super) async fn query_all(
        &self,
        pk: String,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = Query::prefix(pk, prefix, LIST_LIMIT);
        let mut items = Vec::new();
        loop {
            let page = self.backend.query(query.clone()).await?;
            items.extend(page.items);
            match page.next {
                Some(after) => query.after = Some(after),
                None => return Ok(items),
            }
        }
    }

    async fn list_records<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let items = self.query_all(pk, prefix).await?;
        items.iter().map(decode).collect()
    }

    pub(super) fn vendor_from_record(
        &self,
        key: &Key,
        r: VendorRecord,
    ) -> Result<Vendor, StoreError> {
        let context = key.to_string();
        let corrupt = |reason: &str| StoreError::Corrupt {
            key: context.clone(),
            reason: reason.into(),
        };
        let current = VendorSecret::new(self.secrets.open(&context, &r.secret)?);
        let previous = match &r.previous_secret {
            Some(p) => Some(VendorSecret::new(self.secrets.open(&context, p)?)),
            None => None,
        };
        Ok(Vendor {
            scheme: parse_scheme(&r.scheme).ok_or_else(|| corrupt("unknown scheme"))?,
            secrets: SecretSet { current, previous },
            policy: ExpiryPolicy::new(r.max_age, r.reference_offset, r.max_future)
                .map_err(|e| corrupt(&e.to_string()))?,
            tenant: r.tenant,
            id: r.id,
            reusable: r.reusable,
            failure_url: r.failure_url,
            logout_url: r.logout_url,
            enabled: r.enabled,
            test_mode: r.test_mode,
        })
    }
}

#[async_trait]
impl Directory for Store {
    async fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.get_record(keys::tenant(name)).await
    }

    async fn vendor(&self, tenant: &str, id: &str) -> Result<Option<Vendor>, StoreError> {
        let key = keys::vendor(tenant, id);
        match self.get_record::<VendorRecord>(key.clone()).await? {
            Some(r) => self.vendor_from_record(&key, r).map(Some),
            None => Ok(None),
        }
    }

    async fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.get_record(keys::client(tenant, client_id)).await
    }

    async fn clients_by_email(&self, tenant: &str, email: &str) -> Result<Vec<Client>, StoreError> {
        self.list_records(keys::tenant_pk(tenant), &keys::email_prefix(email))
            .await
    }

    async fn helpdesk_user(
        &self,
        tenant: &str,
        username: &str,
    ) -> Result<Option<HelpdeskUser>, StoreError> {
        self.get_record(keys::helpdesk_user(tenant, username)).await
    }

    async fn helpdesk_user_by_api_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<Option<HelpdeskUser>, StoreError> {
        match self
            .get_record::<ApiKeyRecord>(keys::helpdesk_api_key(tenant, key))
            .await?
        {
            Some(r) => self.helpdesk_user(tenant, &r.username).await,
            None => Ok(None),
        }
    }

    async fn platform_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<Option<PlatformKey>, StoreError> {
        self.get_record(keys::platform_key(tenant, key)).await
    }

    async fn group(&self, id: u64) -> Result<Option<Group>, StoreError> {
        self.get_record(keys::group(id)).await
    }

    async fn agent(&self, group: u64, username: &str) -> Result<Option<Agent>, StoreError> {
        self.get_record(keys::agent(group, username)).await
    }

    async fn administrator(&self, email: &str) -> Result<Option<Administrator>, StoreError> {
        self.get_record(keys::administrator(email)).await
    }

    async fn not_before(&self, tenant: &str, subject: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .backend
            .get(&keys::not_before(tenant, subject))
            .await?
            .and_then(|i| i.n("at")))
    }
}

/// One directory record to write: what the admin commands and the import file produce.
#[derive(Debug, Clone)]
pub enum DirRecord {
    /// A tenant.
    Tenant(Tenant),
    /// A signed-link vendor.
    Vendor(Vendor),
    /// A signed-link vendor whose passwords are already sealed (an exported file): stored as
    /// given, once [`Store::check_sealed`] has opened them.
    SealedVendor(VendorRecord),
    /// A signed-link client.
    Client(Client),
    /// A help-desk user.
    HelpdeskUser(HelpdeskUser),
    /// A help-desk API key (hash) for a user.
    HelpdeskApiKey {
        /// The tenant.
        tenant: String,
        /// SHA-256 of the key.
        key: StorageKey,
        /// Its owner.
        username: String,
    },
    /// A Platform-Key (hash) and its record.
    PlatformKey(StorageKey, PlatformKey),
    /// A portal group.
    Group(Group),
    /// A portal agent.
    Agent(Agent),
    /// A portal administrator.
    Administrator(Administrator),
}

impl DirRecord {
    /// What an operator calls it, in messages and import plans (`vendor `1001` of tenant
    /// `acme``); never a secret (keys are named by their id, or a prefix of their hash).
    pub fn label(&self) -> String {
        match self {
            DirRecord::Tenant(t) => format!("tenant `{}`", t.name),
            DirRecord::Vendor(v) => format!("vendor `{}` of tenant `{}`", v.id, v.tenant),
            DirRecord::SealedVendor(v) => format!("vendor `{}` of tenant `{}`", v.id, v.tenant),
            DirRecord::Client(c) => format!("client `{}` of tenant `{}`", c.client_id, c.tenant),
            DirRecord::HelpdeskUser(u) => {
                format!("help-desk user `{}` of tenant `{}`", u.username, u.tenant)
            }
            DirRecord::HelpdeskApiKey {
                tenant, username, ..
            } => format!("an API key of help-desk user `{username}` of tenant `{tenant}`"),
            DirRecord::PlatformKey(_, r) => {
                format!("Platform-Key `{}` of tenant `{}`", r.key_id, r.tenant)
            }
            DirRecord::Group(g) => format!("group {}", g.id),
            DirRecord::Agent(a) => format!("agent `{}` of group {}", a.username, a.group),
            DirRecord::Administrator(a) => format!("administrator `{}`", a.email),
        }
    }

    /// The primary item it writes: two records with the same key cannot be in one import.
    pub fn key(&self) -> Key {
        match self {
            DirRecord::Tenant(t) => keys::tenant(&t.name),
            DirRecord::Vendor(v) => keys::vendor(&v.tenant, &v.id),
            DirRecord::SealedVendor(v) => keys::vendor(&v.tenant, &v.id),
            DirRecord::Client(c) => keys::client(&c.tenant, &c.client_id),
            DirRecord::HelpdeskUser(u) => keys::helpdesk_user(&u.tenant, &u.username),
            DirRecord::HelpdeskApiKey { tenant, key, .. } => keys::helpdesk_api_key(tenant, key),
            DirRecord::PlatformKey(k, r) => keys::platform_key(&r.tenant, k),
            DirRecord::Group(g) => keys::group(g.id),
            DirRecord::Agent(a) => keys::agent(a.group, &a.username),
            DirRecord::Administrator(a) => keys::administrator(&a.email),
        }
    }
}

fn put(item: Item) -> Write {
    Write::Put {
        item,
        cond: Cond::Always,
    }
}

impl Store {
    pub(super) fn vendor_record(&self, v: &Vendor) -> Result<Item, StoreError> {
        let key = keys::vendor(&v.tenant, &v.id);
        let context = key.to_string();
        let record = VendorRecord {
            tenant: v.tenant.clone(),
            id: v.id.clone(),
            scheme: scheme_name(v.scheme).into(),
            secret: self.secrets.seal(&context, v.secrets.current.expose())?,
            previous_secret: match &v.secrets.previous {
                Some(p) => Some(self.secrets.seal(&context, p.expose())?),
                None => None,
            },
            max_age: v.policy.max_age(),
            reference_offset: v.policy.reference_offset(),
            max_future: v.policy.max_future(),
            reusable: v.reusable,
            failure_url: v.failure_url.clone(),
            logout_url: v.logout_url.clone(),
            enabled: v.enabled,
            test_mode: v.test_mode,
        };
        record_item(key, &record)
    }

    /// The writes that store `record` (reading what they replace where an index must follow).
    pub(crate) async fn writes_for(&self, record: &DirRecord) -> Result<Vec<Write>, StoreError> {
        let key = record.key();
        Ok(match record {
            DirRecord::Tenant(t) => vec![put(record_item(key, t)?)],
            DirRecord::Vendor(v) => vec![put(self.vendor_record(v)?)],
            DirRecord::SealedVendor(v) => vec![put(record_item(key, v)?)],
            DirRecord::Client(c) => {
                let old: Option<Client> = self.get_record(key.clone()).await?;
                let mut writes = vec![
                    put(record_item(key, c)?),
                    put(record_item(
                        keys::email_index(&c.tenant, &c.email, &c.client_id),
                        c,
                    )?),
                ];
                if let Some(old) = old.filter(|o| o.email.to_lowercase() != c.email.to_lowercase())
                {
                    writes.push(Write::Delete {
                        key: keys::email_index(&old.tenant, &old.email, &old.client_id),
                        cond: Cond::Always,
                    });
                }
                writes
            }
            DirRecord::HelpdeskUser(u) => vec![put(record_item(key, u)?)],
            DirRecord::HelpdeskApiKey { username, .. } => vec![put(record_item(
                key,
                &ApiKeyRecord {
                    username: username.clone(),
                },
            )?)],
            DirRecord::PlatformKey(_, r) => vec![put(record_item(key, r)?)],
            // Groups and administrators have partitions of their own; a copy in one listing
            // partition each lets the admin CLI list them without a scan.
            DirRecord::Group(g) => vec![
                put(record_item(key, g)?),
                put(record_item(Key::new("GROUPS", format!("{:020}", g.id)), g)?),
            ],
            DirRecord::Agent(a) => vec![put(record_item(key, a)?)],
            DirRecord::Administrator(a) => vec![
                put(record_item(key, a)?),
                put(record_item(Key::new("ADMINS", a.email.to_lowercase()), a)?),
            ],
        })
    }

    /// Applies groups of writes (one group per record) as one transaction, or, where the
    /// backend limits a transaction's size (DynamoDB: 100 items), as several, each holding
    /// whole groups only: a record and its index items (a client and its email entry) are
    /// never split, so an interrupted import leaves whole records, and running it again
    /// (imports are idempotent) completes it.
    pub(crate) async fn apply_writes(&self, groups: Vec<Vec<Write>>) -> Result<(), StoreError> {
        self.apply_writes_counted(groups, &|_| {}).await
    }

    /// [`Store::apply_writes`], telling `progress` of each record written.
    #[cfg(feature = "import")]
    pub(crate) async fn apply_writes_observed(
        &self,
        groups: Vec<Vec<Write>>,
        progress: &dyn crate::import::Progress,
    ) -> Result<(), StoreError> {
        progress.stage("writing", groups.len() as u64);
        self.apply_writes_counted(groups, &|n| progress.advance(n))
            .await
    }

    /// [`Store::apply_writes`], calling `done` with the number of records of each batch
    /// once it is written.
    async fn apply_writes_counted(
        &self,
        groups: Vec<Vec<Write>>,
        done: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        let limit = self.backend.max_transaction_items().max(1);
        let mut batches: Vec<(Vec<Write>, u64)> = vec![(Vec::new(), 0)];
        for group in groups {
            let fits = batches
                .last()
                .is_some_and(|(b, _)| b.len() + group.len() <= limit);
            if !fits {
                batches.push((Vec::new(), 0));
            }
            if let Some((b, records)) = batches.last_mut() {
                b.extend(group);
                *records += 1;
            }
        }
        for (mut batch, records) in batches.into_iter().filter(|(b, _)| !b.is_empty()) {
            let outcome = if batch.len() == 1 {
                match batch.pop() {
                    Some(w) => self.backend.write(w).await?,
                    None => WriteOutcome::Done(None),
                }
            } else {
                self.backend.transact(batch).await?
            };
            if outcome == WriteOutcome::ConditionFailed {
                return Err(StoreError::unavailable(
                    "the directory changed while it was being written; try again",
                ));
            }
            done(records);
        }
        Ok(())
    }

    /// Deletes one directory record and the index items kept with it (a client's email
    /// entry, a group's or an administrator's listing copy), as one transaction. What
    /// depends on the record is the caller's to check (`sso <kind> delete` refuses while
    /// anything does, unless `--force`).
    pub async fn delete_record_of(&self, record: &DirRecord) -> Result<(), StoreError> {
        let mut doomed = vec![record.key()];
        match record {
            DirRecord::Client(c) => {
                doomed.push(keys::email_index(&c.tenant, &c.email, &c.client_id));
            }
            DirRecord::Group(g) => doomed.push(Key::new("GROUPS", format!("{:020}", g.id))),
            DirRecord::Administrator(a) => {
                doomed.push(Key::new("ADMINS", a.email.to_lowercase()));
            }
            _ => {}
        }
        let writes = doomed
            .into_iter()
            .map(|key| Write::Delete {
                key,
                cond: Cond::Always,
            })
            .collect();
        self.apply_writes(vec![writes]).await
    }

    /// Removes a Platform-Key by its hash: `platform-key add --replace` drops the key it
    /// replaces, so one key id never names two keys.
    pub async fn delete_platform_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<(), StoreError> {
        self.backend
            .write(Write::Delete {
                key: keys::platform_key(tenant, key),
                cond: Cond::Always,
            })
            .await?;
        Ok(())
    }

    /// Whether the primary item of `record` is in the store already.
    pub(crate) async fn record_exists(&self, record: &DirRecord) -> Result<bool, StoreError> {
        Ok(self.backend.get(&record.key()).await?.is_some())
    }

    /// Writes one directory record.
    pub async fn put_record_of(&self, record: &DirRecord) -> Result<(), StoreError> {
        let writes = self.writes_for(record).await?;
        self.apply_writes(vec![writes]).await
    }
}

/// After a conditional write lost to another change: back off a little (jittered) before
/// reading again.
async fn backoff(attempt: u64) -> Result<(), StoreError> {
    let mut jitter = [0u8; 1];
    getrandom::fill(&mut jitter).map_err(|e| StoreError::Io(e.to_string()))?;
    let ms = attempt * 5 + u64::from(jitter[0] % 16);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    Ok(())
}

impl Store {
    /// Changes a group as one conditional write on the group as it was read (and its listing
    /// copy, in the same transaction), retried if another change came first, so concurrent
    /// changes by two administrators both stay. `change` says whether it changed anything:
    /// when it did not, nothing is written and the answer is `None`, as it is for a group that
    /// does not exist unless `create` (then it starts empty).
    async fn change_group(
        &self,
        id: u64,
        create: bool,
        change: &(dyn Fn(&mut Group) -> bool + Send + Sync),
    ) -> Result<Option<Group>, StoreError> {
        let key = keys::group(id);
        for attempt in 0..16u64 {
            if attempt > 0 {
                backoff(attempt).await?;
            }
            let current = self.backend.get(&key).await?;
            let mut group: Group = match &current {
                Some(item) => decode(item)?,
                None if create => Group {
                    id,
                    name: String::new(),
                    links: Vec::new(),
                },
                None => return Ok(None),
            };
            if !change(&mut group) {
                return Ok(None);
            }
            let unchanged = match current.as_ref().and_then(|i| i.attrs.get(DATA)) {
                Some(data) => Cond::Live {
                    now: i64::MIN,
                    reqs: vec![Req::Eq(DATA.into(), data.clone())],
                },
                None => Cond::AbsentOrExpired { now: i64::MIN },
            };
            let writes = vec![
                Write::Put {
                    item: record_item(key.clone(), &group)?,
                    cond: unchanged,
                },
                put(record_item(
                    Key::new("GROUPS", format!("{:020}", group.id)),
                    &group,
                )?),
            ];
            if let WriteOutcome::Done(_) = self.backend.transact(writes).await? {
                return Ok(Some(group));
            }
        }
        Err(StoreError::unavailable(
            "the group changed while it was being written; try again",
        ))
    }
}

#[async_trait]
impl DirectoryAdmin for Store {
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::Tenant(tenant.clone())).await
    }

    async fn put_vendor(&self, v: &Vendor) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::Vendor(v.clone())).await
    }

    async fn put_client(&self, c: &Client) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::Client(c.clone())).await
    }

    async fn put_helpdesk_user(&self, u: &HelpdeskUser) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::HelpdeskUser(u.clone()))
            .await
    }

    async fn put_helpdesk_api_key(
        &self,
        tenant: &str,
        key: &StorageKey,
        username: &str,
    ) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::HelpdeskApiKey {
            tenant: tenant.into(),
            key: *key,
            username: username.into(),
        })
        .await
    }

    async fn put_platform_key(
        &self,
        key: &StorageKey,
        record: &PlatformKey,
    ) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::PlatformKey(*key, record.clone()))
            .await
    }

    async fn put_group(&self, group: &Group) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::Group(group.clone())).await
    }

    async fn link_group(&self, id: u64, link: GroupLink) -> Result<Group, StoreError> {
        let changed = self
            .change_group(id, true, &|group| {
                group.links.retain(|l| l.tenant != link.tenant);
                group.links.push(link.clone());
                true
            })
            .await?;
        changed.ok_or_else(|| StoreError::unavailable("the group could not be written"))
    }

    async fn unlink_group(&self, id: u64, tenant: &str) -> Result<Option<Group>, StoreError> {
        self.change_group(id, false, &|group| {
            let before = group.links.len();
            group.links.retain(|l| l.tenant != tenant);
            group.links.len() != before
        })
        .await
    }

    async fn update_agent(
        &self,
        group: u64,
        username: &str,
        change: &(dyn for<'a> Fn(&'a mut Agent) + Send + Sync),
    ) -> Result<Option<Agent>, StoreError> {
        let key = keys::agent(group, username);
        for attempt in 0..16u64 {
            if attempt > 0 {
                backoff(attempt).await?;
            }
            let Some(current) = self.backend.get(&key).await? else {
                return Ok(None);
            };
            let mut agent: Agent = decode(&current)?;
            change(&mut agent);
            let Some(data) = current.attrs.get(DATA) else {
                return Err(StoreError::Corrupt {
                    key: key.to_string(),
                    reason: "an agent without data".into(),
                });
            };
            let write = Write::Put {
                item: record_item(key.clone(), &agent)?,
                cond: Cond::Live {
                    now: i64::MIN,
                    reqs: vec![Req::Eq(DATA.into(), data.clone())],
                },
            };
            if let WriteOutcome::Done(_) = self.backend.write(write).await? {
                return Ok(Some(agent));
            }
        }
        Err(StoreError::unavailable(
            "the agent changed while it was being written; try again",
        ))
    }

    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::Agent(agent.clone())).await
    }

    async fn put_administrator(&self, admin: &Administrator) -> Result<(), StoreError> {
        self.put_record_of(&DirRecord::Administrator(admin.clone()))
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.list_records("TENANTS".into(), "").await
    }

    async fn list_vendors(&self, tenant: &str) -> Result<Vec<Vendor>, StoreError> {
        let items = self.query_all(keys::tenant_pk(tenant), "VENDOR#").await?;
        items
            .iter()
            .map(|item| self.vendor_from_record(&item.key, decode(item)?))
            .collect()
    }

    async fn list_helpdesk_users(&self, tenant: &str) -> Result<Vec<HelpdeskUser>, StoreError> {
        self.list_records(keys::tenant_pk(tenant), "HDUSER#").await
    }

    async fn list_platform_keys(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, PlatformKey)>, StoreError> {
        let items = self.query_all(keys::tenant_pk(tenant), "PKEY#").await?;
        items
            .iter()
            .map(|item| {
                let hash = item.key.sk.trim_start_matches("PKEY#").to_owned();
                decode(item).map(|r| (hash, r))
            })
            .collect()
    }

    async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        self.list_records("GROUPS".into(), "").await
    }

    async fn list_administrators(&self) -> Result<Vec<Administrator>, StoreError> {
        self.list_records("ADMINS".into(), "").await
    }

    async fn list_clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError> {
        self.list_records(keys::tenant_pk(tenant), "CLIENT#").await
    }

    async fn list_agents(&self, group: u64) -> Result<Vec<Agent>, StoreError> {
        self.list_records(format!("GROUP#{group}"), "AGENT#").await
    }
}
