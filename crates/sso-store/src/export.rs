//! The directory written back as an import file (`sso export`): the same TOML that
//! [`crate::import`] reads, so a directory can be copied to another store, reviewed or kept.
//!
//! Secrets stay as the store keeps them: password verifiers as Argon2id PHC strings
//! (`password_hash`), API keys and Platform-Keys as their SHA-256 (`api_keys_sha256`,
//! `key_sha256`), vendor passwords sealed with the store's key (`password_sealed`: importing
//! them needs the same `SSO_SECRET_KEY`). Exporting therefore needs no secret key, and nothing
//! leaves in clear. [`Secrets::Leave`] leaves all of them out (a file to read or diff; an
//! import of it is refused, naming the first record without its secret).
//!
//! The file is deterministic: records sorted by tenant and id, every setting written, no
//! timestamp, so export → import into an empty store → export gives the same bytes.

use serde::Serialize;

use crate::model::{Administrator, Agent, Client, Group, Tenant};
use crate::port::DirectoryAdmin;
use crate::{Store, StoreError};

/// Whether an export carries the stored secrets (hashes and sealed values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Hashes stay hashes, sealed values stay sealed.
    Keep,
    /// Left out.
    Leave,
}

/// What to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only this tenant's records (no portal groups, agents or administrators, which belong
    /// to no tenant).
    pub tenant: Option<String>,
}

#[derive(Serialize, Default)]
struct ExportFile {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tenant: Vec<Tenant>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vendor: Vec<VendorOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client: Vec<ClientOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    helpdesk_user: Vec<HelpdeskUserOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    platform_key: Vec<PlatformKeyOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group: Vec<Group>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    agent: Vec<AgentOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    administrator: Vec<AdministratorOut>,
}

#[derive(Serialize)]
struct ExpiryOut {
    max_age: i64,
    reference_offset: i64,
    max_future: i64,
}

#[derive(Serialize)]
struct VendorOut {
    tenants: [String; 1],
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_sealed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_password_sealed: Option<String>,
    scheme: String,
    reusable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logout_url: Option<String>,
    enabled: bool,
    test_mode: bool,
    expiry: ExpiryOut,
}

#[derive(Serialize)]
struct ClientOut {
    tenants: [String; 1],
    client_id: String,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    allowed_vendors: Vec<String>,
    enabled: bool,
}

#[derive(Serialize)]
struct HelpdeskUserOut {
    tenants: [String; 1],
    username: String,
    id: i64,
    absid: i64,
    prfxs: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    api_rights: bool,
    primary_admin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    api_keys_sha256: Vec<String>,
    enabled: bool,
}

#[derive(Serialize)]
struct PlatformKeyOut {
    tenants: [String; 1],
    key_id: String,
    partner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_sha256: Option<String>,
    allow_list: Vec<String>,
    enabled: bool,
}

#[derive(Serialize)]
struct AgentOut {
    group: u64,
    username: String,
    fullname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    enabled: bool,
}

#[derive(Serialize)]
struct AdministratorOut {
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    groups: Vec<u64>,
    enabled: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file.
    pub text: String,
    /// How many records it holds.
    pub records: usize,
}

const HEADER: &str = "# Written by `sso export`: the import format of crates/sso-store/import/demo.toml.\n\
# Passwords are Argon2id verifiers (password_hash), keys SHA-256 (key_sha256, api_keys_sha256),\n\
# vendor passwords sealed with the exporting store's SSO_SECRET_KEY (password_sealed).\n\n";

const HEADER_WITHOUT_SECRETS: &str = "# Written by `sso export --no-secrets`: the import format of \
crates/sso-store/import/demo.toml,\n# with every password and key left out (for reading; an import of it is refused).\n\n";

impl Store {
    /// The directory (or one tenant of it) as an import file; see the module docs.
    pub async fn export(&self, scope: &Scope, secrets: Secrets) -> Result<Exported, StoreError> {
        let keep = secrets == Secrets::Keep;
        let secret = |s: String| keep.then_some(s);
        let mut file = ExportFile::default();
        let mut tenants = self.list_tenants().await?;
        if let Some(only) = &scope.tenant {
            tenants.retain(|t| &t.name == only);
            if tenants.is_empty() {
                return Err(StoreError::Invalid {
                    what: "tenant",
                    why: format!("tenant `{only}` is not in the store"),
                });
            }
        }
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &tenants {
            let name = &t.name;
            let one = || [name.clone()];
            let mut vendors = self.sealed_vendors(name).await?;
            vendors.sort_by(|a, b| a.id.cmp(&b.id));
            file.vendor.extend(vendors.into_iter().map(|v| VendorOut {
                tenants: one(),
                id: v.id,
                password_sealed: secret(v.secret),
                previous_password_sealed: v.previous_secret.and_then(secret),
                scheme: v.scheme,
                reusable: v.reusable,
                failure_url: v.failure_url,
                logout_url: v.logout_url,
                enabled: v.enabled,
                test_mode: v.test_mode,
                expiry: ExpiryOut {
                    max_age: v.max_age,
                    reference_offset: v.reference_offset,
                    max_future: v.max_future,
                },
            }));
            let mut clients: Vec<Client> = self.list_clients(name).await?;
            clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
            file.client.extend(clients.into_iter().map(|c| ClientOut {
                tenants: one(),
                client_id: c.client_id,
                email: c.email,
                password_hash: c.verifier.and_then(secret),
                allowed_vendors: c.allowed_vendors,
                enabled: c.enabled,
            }));
            let mut api_keys = self.helpdesk_api_keys(name).await?;
            api_keys.sort();
            let mut users = self.list_helpdesk_users(name).await?;
            users.sort_by(|a, b| a.username.cmp(&b.username));
            file.helpdesk_user.extend(users.into_iter().map(|u| {
                let keys = api_keys
                    .iter()
                    .filter(|(_, owner)| *owner == u.username)
                    .map(|(hash, _)| hash.clone());
                HelpdeskUserOut {
                    tenants: one(),
                    api_keys_sha256: if keep { keys.collect() } else { Vec::new() },
                    username: u.username,
                    id: u.id,
                    absid: u.absid,
                    prfxs: u.prfxs,
                    password_hash: secret(u.verifier),
                    api_rights: u.api_rights,
                    primary_admin: u.primary_admin,
                    enabled: u.enabled,
                }
            }));
            let mut platform_keys = self.list_platform_keys(name).await?;
            platform_keys.sort_by(|(ha, a), (hb, b)| (&a.key_id, ha).cmp(&(&b.key_id, hb)));
            file.platform_key
                .extend(platform_keys.into_iter().map(|(hash, k)| PlatformKeyOut {
                    tenants: one(),
                    key_id: k.key_id,
                    partner: k.partner,
                    key_sha256: secret(hash),
                    allow_list: k.allow_list,
                    enabled: k.enabled,
                }));
        }
        file.tenant = tenants;
        if scope.tenant.is_none() {
            let mut groups = self.list_groups().await?;
            groups.sort_by_key(|g| g.id);
            for g in &groups {
                let mut agents: Vec<Agent> = self.list_agents(g.id).await?;
                agents.sort_by(|a, b| a.username.cmp(&b.username));
                file.agent.extend(agents.into_iter().map(|a| AgentOut {
                    group: a.group,
                    username: a.username,
                    fullname: a.fullname,
                    password_hash: secret(a.verifier),
                    enabled: a.enabled,
                }));
            }
            file.group = groups;
            let mut admins: Vec<Administrator> = self.list_administrators().await?;
            admins.sort_by(|a, b| a.email.cmp(&b.email));
            file.administrator = admins
                .into_iter()
                .map(|a| AdministratorOut {
                    email: a.email,
                    password_hash: secret(a.verifier),
                    groups: a.groups,
                    enabled: a.enabled,
                })
                .collect();
        }
        let records = file.tenant.len()
            + file.vendor.len()
            + file.client.len()
            + file.helpdesk_user.len()
            + file.platform_key.len()
            + file.group.len()
            + file.agent.len()
            + file.administrator.len();
        let body = toml::to_string(&file).map_err(|e| StoreError::Invalid {
            what: "export",
            why: e.to_string(),
        })?;
        Ok(Exported {
            text: format!(
                "{}{body}",
                if keep { HEADER } else { HEADER_WITHOUT_SECRETS }
            ),
            records,
        })
    }
}
