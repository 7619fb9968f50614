//! The directory import file: TOML that loads tenants, vendors, clients, help-desk users,
//! Platform-Keys, groups, agents and administrators into either backend.
//!
//! The whole file is parsed and checked before anything is written, so a malformed file is
//! refused as a whole with a message naming the line (syntax) or the record path (meaning),
//! e.g. `vendor[1].failure_url: must be an absolute https URL`. The writes then go in one
//! transaction on the embedded store. On DynamoDB they go in transactions of at most 100
//! items, each holding whole records (a client with its email entry), so an import that
//! fails midway leaves the earlier transactions written and the later ones not: every record
//! is either as the file says or as it was. [`Store::import`] replaces every record, so the
//! same file imported again converges; with [`Store::import_with`] re-run it with
//! `OnConflict::Skip` (what was written is skipped, the rest is added) or `Replace`.
//!
//! Passwords may be given in clear (`password`) or as an Argon2id PHC string
//! (`password_hash`); only verifiers are stored. API keys and Platform-Keys may be given in
//! clear (`key`) or as their SHA-256 (`key_sha256`); only the hash is stored. Vendor
//! passwords are sealed with the store's `SecretBox`; given as `password_sealed` (what
//! [`crate::export`] writes) they are stored as they are, once they open with the store's
//! key. `crates/sso-store/import/demo.toml` is a complete example.

use std::collections::BTreeSet;

use md5::{Digest, Md5};
use serde::Deserialize;
use sso_core::expiry::ExpiryPolicy;
use sso_core::ident::StorageKey;
use sso_core::signed_link::{SecretSet, VendorSecret};

use crate::model::{
    Administrator, Agent, Client, Group, GroupLink, HelpdeskUser, PlatformKey, Tenant, Vendor,
};
use crate::store::{DirRecord, Store, VendorRecord};
pub use crate::validate::{RESERVED_TENANTS, check_tenant_name, check_url};
use crate::validate::{check_name, check_text, err, is_ip_or_cidr};
use crate::{StoreError, password};

/// The file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    #[serde(default)]
    tenant: Vec<TenantIn>,
    #[serde(default)]
    vendor: Vec<VendorIn>,
    #[serde(default)]
    client: Vec<ClientIn>,
    #[serde(default)]
    helpdesk_user: Vec<HelpdeskUserIn>,
    #[serde(default)]
    platform_key: Vec<PlatformKeyIn>,
    #[serde(default)]
    group: Vec<GroupIn>,
    #[serde(default)]
    agent: Vec<AgentIn>,
    #[serde(default)]
    administrator: Vec<AdministratorIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantIn {
    name: String,
    home_path: Option<String>,
    session_idle_secs: Option<i64>,
    session_absolute_secs: Option<i64>,
    frame_ancestors: Option<Vec<String>>,
    helpdesk_token_reusable: Option<bool>,
    helpdesk_ip_binding: Option<bool>,
    departments: Option<Vec<u64>>,
    campaigns: Option<Vec<u64>>,
    login_url_secs: Option<i64>,
    portal_groups: Option<Vec<u64>>,
    enabled: Option<bool>,
    scanner_safe_links: Option<bool>,
}

impl TenantIn {
    /// The settings this record leaves out: an import that replaces a stored tenant keeps
    /// the stored values of these instead of resetting them to the defaults.
    fn unset(&self) -> Vec<&'static str> {
        [
            ("home_path", self.home_path.is_none()),
            ("session_idle_secs", self.session_idle_secs.is_none()),
            (
                "session_absolute_secs",
                self.session_absolute_secs.is_none(),
            ),
            ("frame_ancestors", self.frame_ancestors.is_none()),
            (
                "helpdesk_token_reusable",
                self.helpdesk_token_reusable.is_none(),
            ),
            ("helpdesk_ip_binding", self.helpdesk_ip_binding.is_none()),
            ("departments", self.departments.is_none()),
            ("campaigns", self.campaigns.is_none()),
            ("login_url_secs", self.login_url_secs.is_none()),
            ("portal_groups", self.portal_groups.is_none()),
            ("enabled", self.enabled.is_none()),
            ("scanner_safe_links", self.scanner_safe_links.is_none()),
        ]
        .into_iter()
        .filter_map(|(field, unset)| unset.then_some(field))
        .collect()
    }
}

/// Copies the stored value of each setting in `unset` into `t` (see [`TenantIn::unset`]).
fn keep_stored(t: &mut Tenant, old: &Tenant, unset: &[&str]) {
    for field in unset {
        match *field {
            "home_path" => t.home_path.clone_from(&old.home_path),
            "session_idle_secs" => t.session_idle_secs = old.session_idle_secs,
            "session_absolute_secs" => t.session_absolute_secs = old.session_absolute_secs,
            "frame_ancestors" => t.frame_ancestors.clone_from(&old.frame_ancestors),
            "helpdesk_token_reusable" => t.helpdesk_token_reusable = old.helpdesk_token_reusable,
            "helpdesk_ip_binding" => t.helpdesk_ip_binding = old.helpdesk_ip_binding,
            "departments" => t.departments.clone_from(&old.departments),
            "campaigns" => t.campaigns.clone_from(&old.campaigns),
            "login_url_secs" => t.login_url_secs = old.login_url_secs,
            "enabled" => t.enabled = old.enabled,
            "scanner_safe_links" => t.scanner_safe_links = old.scanner_safe_links,
            // Portal-group consents are merged whether the file sets them or not.
            _ => {}
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, untagged)]
enum ExpiryIn {
    Named(String),
    Custom {
        max_age: i64,
        reference_offset: i64,
        max_future: i64,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VendorIn {
    tenants: Vec<String>,
    id: String,
    password: Option<String>,
    previous_password: Option<String>,
    /// As `sso export` writes it: sealed with the store's key under this vendor's item.
    password_sealed: Option<String>,
    previous_password_sealed: Option<String>,
    scheme: Option<String>,
    expiry: Option<ExpiryIn>,
    #[serde(default)]
    reusable: bool,
    failure_url: Option<String>,
    logout_url: Option<String>,
    enabled: Option<bool>,
    #[serde(default)]
    test_mode: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientIn {
    tenants: Vec<String>,
    client_id: String,
    email: String,
    password: Option<String>,
    password_hash: Option<String>,
    #[serde(default)]
    allowed_vendors: Vec<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HelpdeskUserIn {
    tenants: Vec<String>,
    username: String,
    id: i64,
    absid: Option<i64>,
    prfxs: Option<String>,
    password: Option<String>,
    password_hash: Option<String>,
    #[serde(default)]
    api_rights: bool,
    #[serde(default)]
    primary_admin: bool,
    api_key: Option<String>,
    api_key_sha256: Option<String>,
    /// Further API keys as SHA-256 hex (`sso export` lists every key of a user here).
    #[serde(default)]
    api_keys_sha256: Vec<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformKeyIn {
    tenants: Vec<String>,
    key_id: String,
    partner: String,
    key: Option<String>,
    key_sha256: Option<String>,
    allow_list: Vec<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkIn {
    tenant: String,
    department: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupIn {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    links: Vec<LinkIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentIn {
    group: u64,
    username: String,
    fullname: String,
    password: Option<String>,
    password_hash: Option<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdministratorIn {
    email: String,
    password: Option<String>,
    password_hash: Option<String>,
    groups: Vec<u64>,
    enabled: Option<bool>,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Directory records written.
    pub records: usize,
}

/// Parses an import file; syntax errors name the line and column.
pub fn parse(name: &str, text: &str) -> Result<ImportFile, StoreError> {
    toml::from_str(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{name}: line {line}, column {col}")
            }
            None => name.to_owned(),
        };
        err(location, e.message().to_owned())
    })
}

fn verifier(
    at: &str,
    password: &Option<String>,
    hash: &Option<String>,
    md5_first: bool,
) -> Result<String, StoreError> {
    match (password, hash) {
        (Some(_), Some(_)) => Err(err(at, "give `password` or `password_hash`, not both")),
        (None, None) => Err(err(at, "`password` or `password_hash` is required")),
        (None, Some(h)) if password::is_verifier(h) => Ok(h.clone()),
        (None, Some(_)) => Err(err(
            format!("{at}.password_hash"),
            "must be an Argon2id PHC string ($argon2id$…)",
        )),
        (Some(p), None) if p.is_empty() => Err(err(format!("{at}.password"), "must not be empty")),
        (Some(p), None) => {
            // Help-desk passwords travel as md5 hex (`sso_pass`), so that is what is verified.
            let input = if md5_first {
                hex::encode(Md5::digest(p.as_bytes()))
            } else {
                p.clone()
            };
            password::hash(&input)
        }
    }
}

fn key_hash(
    at: &str,
    key: &Option<String>,
    sha: &Option<String>,
) -> Result<StorageKey, StoreError> {
    match (key, sha) {
        (Some(k), None) if !k.is_empty() => Ok(StorageKey::of_secret(k)),
        (None, Some(h)) => {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(h, &mut bytes)
                .map_err(|_| err(format!("{at}.key_sha256"), "must be 64 hex characters"))?;
            Ok(StorageKey::from_bytes(bytes))
        }
        _ => Err(err(
            at,
            "give exactly one of `key` (non-empty) or `key_sha256`",
        )),
    }
}

/// Told how an import advances, so a terminal can show it (`sso import`'s progress bar);
/// each method does nothing unless implemented.
pub trait Progress: Send + Sync {
    /// A stage (`checking`, `planning`, `writing`) starts with `total` steps.
    fn stage(&self, _name: &'static str, _total: u64) {}
    /// `n` more steps of the current stage are done.
    fn advance(&self, _n: u64) {}
}

/// No progress shown (tests, logs, anything not a terminal).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {}

/// What an import does with a record whose id the store already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Refuse the whole import, naming every conflict (the default: nothing is overwritten
    /// by surprise).
    #[default]
    Fail,
    /// Keep what the store holds; write only the new records.
    Skip,
    /// Overwrite with the file's record. A replaced tenant keeps the stored value of every
    /// setting the file leaves out, and its portal-group consents; a replaced group keeps
    /// its links to tenants the file does not link it to.
    Replace,
}

/// What an import does with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanAction {
    /// A new record.
    Add,
    /// Overwrites the stored one (`--on-conflict replace`).
    Replace,
    /// Left as stored (`--on-conflict skip`).
    Skip,
}

/// An import's plan (printed by `--dry-run`) and what it wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// Every record of the file with its action, in file order.
    pub records: Vec<(PlanAction, String)>,
    /// Whether it was written (false for a dry run).
    pub written: bool,
}

impl ImportPlan {
    /// How many records take this action.
    pub fn count(&self, action: PlanAction) -> usize {
        self.records.iter().filter(|(a, _)| *a == action).count()
    }
}

impl ImportFile {
    /// Checks every record and turns the file into directory records, hashing passwords and
    /// keys. Nothing is written. Every tenant and group a record names must be declared in
    /// the file.
    pub fn into_records(self) -> Result<Vec<DirRecord>, StoreError> {
        self.into_records_with(&BTreeSet::new(), &BTreeSet::new())
    }

    /// [`ImportFile::into_records`] where records may also name these tenants and groups
    /// (those already in the store: a file may add one vendor to an existing tenant).
    pub fn into_records_with(
        self,
        stored_tenants: &BTreeSet<String>,
        stored_groups: &BTreeSet<u64>,
    ) -> Result<Vec<DirRecord>, StoreError> {
        self.into_records_observed(stored_tenants, stored_groups, &Quiet)
    }

    /// How many records the file declares.
    pub fn len(&self) -> usize {
        self.tenant.len()
            + self.vendor.len()
            + self.client.len()
            + self.helpdesk_user.len()
            + self.platform_key.len()
            + self.group.len()
            + self.agent.len()
            + self.administrator.len()
    }

    /// Whether the file declares no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`ImportFile::into_records_with`], telling `progress` of each record checked (a
    /// password is hashed here: the slow part of a large import).
    pub fn into_records_observed(
        self,
        stored_tenants: &BTreeSet<String>,
        stored_groups: &BTreeSet<u64>,
        progress: &dyn Progress,
    ) -> Result<Vec<DirRecord>, StoreError> {
        progress.stage("checking", self.len() as u64);
        let mut out = Vec::new();
        let mut tenants: BTreeSet<String> = self.tenant.iter().map(|t| t.name.clone()).collect();
        tenants.extend(stored_tenants.iter().cloned());
        let known = |at: String, list: &[String]| -> Result<(), StoreError> {
            if list.is_empty() {
                return Err(err(at, "lists no tenant"));
            }
            match list.iter().find(|t| !tenants.contains(*t)) {
                Some(t) => Err(err(
                    at,
                    format!("tenant `{t}` is not declared in this file"),
                )),
                None => Ok(()),
            }
        };
        for (i, t) in self.tenant.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("tenant[{i}]");
            check_name(format!("{at}.name"), &t.name)?;
            if RESERVED_TENANTS.contains(&t.name.as_str()) {
                return Err(err(format!("{at}.name"), "is a reserved host name"));
            }
            let mut tenant = Tenant::new(&t.name);
            if let Some(h) = t.home_path {
                if !h.starts_with('/') || h.starts_with("//") {
                    return Err(err(
                        format!("{at}.home_path"),
                        "must be a path on the tenant host",
                    ));
                }
                tenant.home_path = h;
            }
            for (field, value) in [
                ("session_idle_secs", t.session_idle_secs),
                ("session_absolute_secs", t.session_absolute_secs),
            ] {
                if value.is_some_and(|v| !(60..=7 * 86_400).contains(&v)) {
                    return Err(err(
                        format!("{at}.{field}"),
                        "must be within 60..=604800 seconds",
                    ));
                }
            }
            tenant.session_idle_secs = t.session_idle_secs.unwrap_or(tenant.session_idle_secs);
            tenant.session_absolute_secs = t
                .session_absolute_secs
                .unwrap_or(tenant.session_absolute_secs);
            let frame_ancestors = t.frame_ancestors.unwrap_or_default();
            for (j, origin) in frame_ancestors.iter().enumerate() {
                check_url(format!("{at}.frame_ancestors[{j}]"), &Some(origin.clone()))?;
            }
            tenant.frame_ancestors = frame_ancestors;
            tenant.helpdesk_token_reusable = t.helpdesk_token_reusable.unwrap_or_default();
            tenant.helpdesk_ip_binding = t.helpdesk_ip_binding.unwrap_or(true);
            tenant.departments = t.departments.unwrap_or_default();
            tenant.campaigns = t.campaigns.unwrap_or_default();
            if t.login_url_secs.is_some_and(|v| !(30..=3600).contains(&v)) {
                return Err(err(
                    format!("{at}.login_url_secs"),
                    "must be within 30..=3600 seconds",
                ));
            }
            tenant.login_url_secs = t.login_url_secs.unwrap_or(tenant.login_url_secs);
            tenant.portal_groups = t.portal_groups.unwrap_or_default();
            tenant.enabled = t.enabled.unwrap_or(true);
            tenant.scanner_safe_links = t.scanner_safe_links.unwrap_or_default();
            out.push(DirRecord::Tenant(tenant));
        }
        for (i, v) in self.vendor.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("vendor[{i}]");
            known(format!("{at}.tenants"), &v.tenants)?;
            check_text(format!("{at}.id"), &v.id)?;
            match (&v.password, &v.password_sealed) {
                (Some(p), None) if p.is_empty() => {
                    return Err(err(format!("{at}.password"), "must not be empty"));
                }
                (Some(_), None) if v.previous_password_sealed.is_some() => {
                    return Err(err(
                        format!("{at}.previous_password_sealed"),
                        "goes with `password_sealed`; give `previous_password` in clear",
                    ));
                }
                (None, Some(_)) if v.previous_password.is_some() => {
                    return Err(err(
                        format!("{at}.previous_password"),
                        "goes with `password`; give `previous_password_sealed`",
                    ));
                }
                (None, Some(_)) if v.tenants.len() != 1 => {
                    return Err(err(
                        format!("{at}.tenants"),
                        "a sealed password is bound to one tenant's vendor: list exactly one",
                    ));
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(err(
                        at.clone(),
                        "give exactly one of `password` or `password_sealed`",
                    ));
                }
            }
            let scheme = match v.scheme.as_deref() {
                None => sso_core::signed_link::Scheme::Md5,
                Some(s) => crate::store::parse_scheme(s)
                    .ok_or_else(|| err(format!("{at}.scheme"), "must be `md5` or `hmac-sha256`"))?,
            };
            let policy = match v.expiry {
                None => ExpiryPolicy::default(),
                Some(ExpiryIn::Named(n)) if n == "cst" => ExpiryPolicy::default(),
                Some(ExpiryIn::Named(n)) if n == "strict-utc" => ExpiryPolicy::strict_utc(),
                Some(ExpiryIn::Named(_)) => {
                    return Err(err(
                        format!("{at}.expiry"),
                        "must be `cst`, `strict-utc` or a table",
                    ));
                }
                Some(ExpiryIn::Custom {
                    max_age,
                    reference_offset,
                    max_future,
                }) => ExpiryPolicy::new(max_age, reference_offset, max_future)
                    .map_err(|e| err(format!("{at}.expiry"), e.to_string()))?,
            };
            check_url(format!("{at}.failure_url"), &v.failure_url)?;
            check_url(format!("{at}.logout_url"), &v.logout_url)?;
            for tenant in &v.tenants {
                let Some(password) = &v.password else {
                    out.push(DirRecord::SealedVendor(VendorRecord {
                        tenant: tenant.clone(),
                        id: v.id.clone(),
                        scheme: v.scheme.clone().unwrap_or_else(|| "md5".into()),
                        secret: v.password_sealed.clone().unwrap_or_default(),
                        previous_secret: v.previous_password_sealed.clone(),
                        max_age: policy.max_age(),
                        reference_offset: policy.reference_offset(),
                        max_future: policy.max_future(),
                        reusable: v.reusable,
                        failure_url: v.failure_url.clone(),
                        logout_url: v.logout_url.clone(),
                        enabled: v.enabled.unwrap_or(true),
                        test_mode: v.test_mode,
                    }));
                    continue;
                };
                out.push(DirRecord::Vendor(Vendor {
                    tenant: tenant.clone(),
                    id: v.id.clone(),
                    scheme,
                    secrets: SecretSet {
                        current: VendorSecret::new(password.clone()),
                        previous: v.previous_password.clone().map(VendorSecret::new),
                    },
                    policy,
                    reusable: v.reusable,
                    failure_url: v.failure_url.clone(),
                    logout_url: v.logout_url.clone(),
                    enabled: v.enabled.unwrap_or(true),
                    test_mode: v.test_mode,
                }));
            }
        }
        for (i, c) in self.client.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("client[{i}]");
            known(format!("{at}.tenants"), &c.tenants)?;
            check_text(format!("{at}.client_id"), &c.client_id)?;
            check_text(format!("{at}.email"), &c.email)?;
            let verifier = match (&c.password, &c.password_hash) {
                (None, None) => None,
                _ => Some(verifier(&at, &c.password, &c.password_hash, false)?),
            };
            for tenant in &c.tenants {
                out.push(DirRecord::Client(Client {
                    tenant: tenant.clone(),
                    client_id: c.client_id.clone(),
                    email: c.email.clone(),
                    verifier: verifier.clone(),
                    allowed_vendors: c.allowed_vendors.clone(),
                    enabled: c.enabled.unwrap_or(true),
                }));
            }
        }
        for (i, u) in self.helpdesk_user.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("helpdesk_user[{i}]");
            known(format!("{at}.tenants"), &u.tenants)?;
            check_text(format!("{at}.username"), &u.username)?;
            let verifier = verifier(&at, &u.password, &u.password_hash, true)?;
            let mut api_keys = match (&u.api_key, &u.api_key_sha256) {
                (None, None) => Vec::new(),
                (k, s) => vec![key_hash(&at, k, s)?],
            };
            for (j, h) in u.api_keys_sha256.iter().enumerate() {
                api_keys.push(key_hash(
                    &format!("{at}.api_keys_sha256[{j}]"),
                    &None,
                    &Some(h.clone()),
                )?);
            }
            if !api_keys.is_empty() && !u.api_rights {
                return Err(err(
                    format!("{at}.api_key"),
                    "only a user with `api_rights` may hold an API key",
                ));
            }
            for tenant in &u.tenants {
                out.push(DirRecord::HelpdeskUser(HelpdeskUser {
                    tenant: tenant.clone(),
                    username: u.username.clone(),
                    id: u.id,
                    absid: u.absid.unwrap_or(u.id),
                    prfxs: u.prfxs.clone().unwrap_or_else(|| "hd_|kb_".into()),
                    verifier: verifier.clone(),
                    api_rights: u.api_rights,
                    primary_admin: u.primary_admin,
                    enabled: u.enabled.unwrap_or(true),
                }));
                for key in &api_keys {
                    out.push(DirRecord::HelpdeskApiKey {
                        tenant: tenant.clone(),
                        key: *key,
                        username: u.username.clone(),
                    });
                }
            }
        }
        for (i, k) in self.platform_key.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("platform_key[{i}]");
            known(format!("{at}.tenants"), &k.tenants)?;
            check_text(format!("{at}.key_id"), &k.key_id)?;
            check_text(format!("{at}.partner"), &k.partner)?;
            let hash = key_hash(&at, &k.key, &k.key_sha256)?;
            if k.allow_list.is_empty() {
                return Err(err(
                    format!("{at}.allow_list"),
                    "must list at least one address or range",
                ));
            }
            for (j, entry) in k.allow_list.iter().enumerate() {
                if !is_ip_or_cidr(entry) {
                    return Err(err(
                        format!("{at}.allow_list[{j}]"),
                        "must be an IP address or a CIDR range",
                    ));
                }
            }
            for tenant in &k.tenants {
                out.push(DirRecord::PlatformKey(
                    hash,
                    PlatformKey {
                        tenant: tenant.clone(),
                        key_id: k.key_id.clone(),
                        partner: k.partner.clone(),
                        allow_list: k.allow_list.clone(),
                        enabled: k.enabled.unwrap_or(true),
                    },
                ));
            }
        }
        let mut groups: BTreeSet<u64> = self.group.iter().map(|g| g.id).collect();
        groups.extend(stored_groups.iter().copied());
        let mut consents: Vec<(String, u64)> = Vec::new();
        for (i, g) in self.group.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("group[{i}]");
            let mut links = Vec::new();
            for (j, l) in g.links.into_iter().enumerate() {
                if !tenants.contains(&l.tenant) {
                    return Err(err(
                        format!("{at}.links[{j}].tenant"),
                        format!("tenant `{}` is not declared in this file", l.tenant),
                    ));
                }
                consents.push((l.tenant.clone(), g.id));
                links.push(GroupLink {
                    tenant: l.tenant,
                    department: l.department,
                });
            }
            out.push(DirRecord::Group(Group {
                id: g.id,
                name: g.name,
                links,
            }));
        }
        // A link the operator declares is the platform's consent too (`/pop` checks it).
        for rec in &mut out {
            if let DirRecord::Tenant(t) = rec {
                for (name, gid) in &consents {
                    if *name == t.name && !t.portal_groups.contains(gid) {
                        t.portal_groups.push(*gid);
                    }
                }
            }
        }
        for (i, a) in self.agent.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("agent[{i}]");
            if !groups.contains(&a.group) {
                return Err(err(
                    format!("{at}.group"),
                    format!("group {} is not declared in this file", a.group),
                ));
            }
            check_text(format!("{at}.username"), &a.username)?;
            check_text(format!("{at}.fullname"), &a.fullname)?;
            out.push(DirRecord::Agent(Agent {
                group: a.group,
                verifier: verifier(&at, &a.password, &a.password_hash, false)?,
                username: a.username,
                fullname: a.fullname,
                enabled: a.enabled.unwrap_or(true),
            }));
        }
        for (i, a) in self.administrator.into_iter().enumerate() {
            progress.advance(1);
            let at = format!("administrator[{i}]");
            check_text(format!("{at}.email"), &a.email)?;
            if let Some(g) = a.groups.iter().find(|g| !groups.contains(g)) {
                return Err(err(
                    format!("{at}.groups"),
                    format!("group {g} is not declared in this file"),
                ));
            }
            out.push(DirRecord::Administrator(Administrator {
                verifier: verifier(&at, &a.password, &a.password_hash, false)?,
                email: a.email,
                groups: a.groups,
                enabled: a.enabled.unwrap_or(true),
            }));
        }
        let mut seen = BTreeSet::new();
        for r in &out {
            if !seen.insert(r.key()) {
                return Err(err(r.key().to_string(), "is declared twice"));
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Imports a file with an explicit conflict policy: parse and check everything (records
    /// may name tenants and groups already in the store), decide each record's action, then
    /// write the records that are added or replaced, unless `dry_run`. With
    /// [`OnConflict::Fail`] any record already in the store refuses the whole file, naming
    /// each. The writes go as [`Store::import`]'s do.
    pub async fn import_with(
        &self,
        name: &str,
        text: &str,
        on_conflict: OnConflict,
        dry_run: bool,
    ) -> Result<ImportPlan, StoreError> {
        self.import_observed(name, text, on_conflict, dry_run, &Quiet)
            .await
    }

    /// [`Store::import_with`], telling `progress` how each stage advances.
    pub async fn import_observed(
        &self,
        name: &str,
        text: &str,
        on_conflict: OnConflict,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportPlan, StoreError> {
        use crate::port::{Directory, DirectoryAdmin};
        let stored_tenants: BTreeSet<String> = self
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        let stored_groups: BTreeSet<u64> = self
            .list_groups()
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        let file = parse(name, text)?;
        let unset: std::collections::BTreeMap<String, Vec<&'static str>> = file
            .tenant
            .iter()
            .map(|t| (t.name.clone(), t.unset()))
            .collect();
        let records = file.into_records_observed(&stored_tenants, &stored_groups, progress)?;
        self.check_all_sealed(&records)?;
        progress.stage("planning", records.len() as u64);
        let mut plan = ImportPlan::default();
        let mut conflicts = Vec::new();
        let mut writes = Vec::new();
        for mut r in records {
            let action = match (self.record_exists(&r).await?, on_conflict) {
                (false, _) => PlanAction::Add,
                (true, OnConflict::Fail) => {
                    conflicts.push(r.label());
                    PlanAction::Replace
                }
                (true, OnConflict::Skip) => PlanAction::Skip,
                (true, OnConflict::Replace) => PlanAction::Replace,
            };
            if action == PlanAction::Replace {
                // Keep what links the stored record to records the file does not mention.
                match &mut r {
                    DirRecord::Tenant(t) => {
                        if let Some(old) = self.tenant(&t.name).await? {
                            if let Some(fields) = unset.get(&t.name) {
                                keep_stored(t, &old, fields);
                            }
                            for g in old.portal_groups {
                                if !t.portal_groups.contains(&g) {
                                    t.portal_groups.push(g);
                                }
                            }
                        }
                    }
                    DirRecord::Group(g) => {
                        if let Some(old) = self.group(g.id).await? {
                            for l in old.links {
                                if !g.links.iter().any(|n| n.tenant == l.tenant) {
                                    g.links.push(l);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            progress.advance(1);
            plan.records.push((action, r.label()));
            if action != PlanAction::Skip && !dry_run {
                writes.push(self.writes_for(&r).await?);
            }
        }
        if !conflicts.is_empty() {
            let total = conflicts.len();
            // Named, but not ten thousand of them: the first few say what kind of file it is.
            const NAMED: usize = 10;
            let more = conflicts.len().saturating_sub(NAMED);
            conflicts.truncate(NAMED);
            if more > 0 {
                conflicts.push(format!("and {more} more"));
            }
            return Err(err(
                name,
                format!(
                    "{} record(s) already in the store: {}; choose --on-conflict skip or replace",
                    total,
                    conflicts.join(", ")
                ),
            ));
        }
        if !dry_run {
            self.apply_writes_observed(writes, progress).await?;
            plan.written = true;
        }
        Ok(plan)
    }

    /// Every sealed vendor password of a file opens with this store's key.
    fn check_all_sealed(&self, records: &[DirRecord]) -> Result<(), StoreError> {
        records.iter().try_for_each(|r| match r {
            DirRecord::SealedVendor(v) => self.check_sealed(v),
            _ => Ok(()),
        })
    }

    /// Imports a file: parse, check everything, then write it all (see the module docs).
    pub async fn import(&self, name: &str, text: &str) -> Result<ImportSummary, StoreError> {
        let records = parse(name, text)?.into_records()?;
        self.check_all_sealed(&records)?;
        let mut groups = Vec::with_capacity(records.len());
        for r in &records {
            groups.push(self.writes_for(r).await?);
        }
        self.apply_writes(groups).await?;
        Ok(ImportSummary {
            records: records.len(),
        })
    }
}
