//! Admin commands over either store: add / show / list / update / enable / disable / delete
//! for every directory record, secret rotation, and the audit trail.
//!
//! An operator's mistakes must not lose data without a word: `add` refuses an id that exists
//! (`--replace` overwrites on purpose), `update` changes only the flags given, `delete`
//! refuses while other records depend on the record (`--force`), every write says on stderr
//! what it changed, and every error names the tenant and id it was about.

use clap::{Args, Subcommand};
use sso_core::expiry::ExpiryPolicy;
use sso_core::helpdesk::password_digest;
use sso_core::ident::StorageKey;
use sso_core::signed_link::{Scheme, SecretSet, VendorSecret};
use sso_store::model::{
    Administrator, Agent, Client, Group, GroupLink, HelpdeskUser, PlatformKey, Tenant, Vendor,
};
use sso_store::port::{Audit, Directory, DirectoryAdmin, Sessions};
use sso_store::{DirRecord, Store, StoreError, VendorSummary, password};

use crate::{CliError, secrets};

/// Tenants (platforms).
#[derive(Subcommand)]
pub enum TenantCmd {
    /// Add a tenant (an existing one is refused: change it with `update`).  Example: sso tenant add acme --departments 1,2 --campaigns 1,2,3 --portal-groups 21
    Add {
        /// Host label (`<name>.<base-domain>`).
        name: String,
        /// Call-center department ids (kept as they are when omitted).
        #[arg(long, value_delimiter = ',')]
        departments: Option<Vec<u64>>,
        /// Call-center campaign ids (kept as they are when omitted).
        #[arg(long, value_delimiter = ',')]
        campaigns: Option<Vec<u64>>,
        /// Portal groups whose administrators may link this platform (kept when omitted).
        #[arg(long, value_delimiter = ',')]
        portal_groups: Option<Vec<u64>>,
        /// Help-desk `_ssot` tokens reusable until they expire.
        #[arg(long)]
        helpdesk_reusable: bool,
        /// One-time links answer a GET with a page that posts the token back, so mail and
        /// chat link scanners do not burn them (docs/partners.md).
        #[arg(long)]
        scanner_safe_links: bool,
        /// Overwrite the record if it exists (without this, an existing id is refused).
        #[arg(long)]
        replace: bool,
    },
    /// Change only the settings given; prints the tenant before → after.
    /// Example: sso tenant update acme --helpdesk-reusable false
    Update {
        /// Host label.
        name: String,
        /// Call-center department ids.
        #[arg(long, value_delimiter = ',')]
        departments: Option<Vec<u64>>,
        /// Call-center campaign ids.
        #[arg(long, value_delimiter = ',')]
        campaigns: Option<Vec<u64>>,
        /// Portal groups whose administrators may link this platform.
        #[arg(long, value_delimiter = ',')]
        portal_groups: Option<Vec<u64>>,
        /// Help-desk `_ssot` tokens reusable until they expire (true or false).
        #[arg(long)]
        helpdesk_reusable: Option<bool>,
        /// Scanner-safe one-time links (true or false).
        #[arg(long)]
        scanner_safe_links: Option<bool>,
    },
    /// List tenants, every setting.  Example: sso tenant list
    List,
    /// Show one tenant, every setting.  Example: sso tenant show acme
    Show {
        /// Host label.
        name: String,
    },
    /// Disable a tenant (its hosts answer as unknown).  Example: sso tenant disable acme
    Disable {
        /// Host label.
        name: String,
    },
    /// Enable a disabled tenant.  Example: sso tenant enable acme
    Enable {
        /// Host label.
        name: String,
    },
    /// Delete a tenant; refused while it has vendors, clients, help-desk users, Platform-Keys
    /// or group links, unless --force (which deletes those and unlinks the groups).
    /// Example: sso tenant delete acme --force
    Delete {
        /// Host label.
        name: String,
        /// Delete even though other records depend on it (they are deleted or unlinked too).
        #[arg(long)]
        force: bool,
    },
}

/// Signed-link vendors. Passwords are read from stdin.
#[derive(Subcommand)]
pub enum VendorCmd {
    /// Add a vendor.  Example: echo "$VENDOR_PASSWORD" | sso vendor add --tenant acme --id 1001
    Add {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
        /// `md5` (the seed's) or `hmac-sha256`.
        #[arg(long, default_value = "md5")]
        scheme: String,
        /// `cst` (10 h on Central Standard Time) or `strict-utc`.
        #[arg(long, default_value = "cst")]
        expiry: String,
        /// Links may be used more than once.
        #[arg(long)]
        reusable: bool,
        /// Registered failure URL (https).
        #[arg(long)]
        failure_url: Option<String>,
        /// Registered logout URL (https).
        #[arg(long)]
        logout_url: Option<String>,
        /// Overwrite the record if it exists (without this, an existing id is refused).
        #[arg(long)]
        replace: bool,
    },
    /// List a tenant's vendors.  Example: sso vendor list --tenant acme
    List {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
    },
    /// Disable a vendor.  Example: sso vendor disable --tenant acme --id 1001
    Disable {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
    },
    /// Enable a disabled vendor.  Example: sso vendor enable --tenant acme --id 1001
    Enable(TenantAndId),
    /// Show one vendor (never its password).  Example: sso vendor show --tenant acme --id 1001
    Show(TenantAndId),
    /// Change only the settings given; prints the vendor before → after.
    /// Example: sso vendor update --tenant acme --id 1001 --logout-url https://p.example/bye
    Update {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
        /// Links may be used more than once (true or false).
        #[arg(long)]
        reusable: Option<bool>,
        /// Registered failure URL (https; empty to remove).
        #[arg(long)]
        failure_url: Option<String>,
        /// Registered logout URL (https; empty to remove).
        #[arg(long)]
        logout_url: Option<String>,
    },
    /// Delete a vendor; refused while a client names it in its allowed vendors, unless --force.
    /// Example: sso vendor delete --tenant acme --id 1001
    Delete {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
        /// Delete even though other records depend on it (they are deleted or unlinked too).
        #[arg(long)]
        force: bool,
    },
    /// Start a rotation: the new password (stdin) becomes current, the old one stays valid.
    /// Example: echo "$NEW" | sso vendor rotate-secret --tenant acme --id 1001
    RotateSecret {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
    },
    /// End a rotation: the old password stops working.  Example: sso vendor retire-secret --tenant acme --id 1001
    RetireSecret {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
    },
}

/// Identifies one record of a tenant.
#[derive(Args)]
pub struct TenantAndId {
    /// Tenant (host label).
    #[arg(long)]
    tenant: String,
    /// Its id.
    #[arg(long)]
    id: String,
}

/// Signed-link clients.
#[derive(Subcommand)]
pub enum ClientCmd {
    /// Add a client; `--password` reads its login password from stdin.
    /// Example: sso client add --tenant acme --id 1234 --email c@example.com
    Add {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Read a password for the standard login page from stdin.
        #[arg(long)]
        password: bool,
        /// Only these vendors may sign the client in (repeatable).
        #[arg(long = "allowed-vendor")]
        allowed_vendors: Vec<String>,
        /// Overwrite the record if it exists (without this, an existing id is refused).
        #[arg(long)]
        replace: bool,
    },
    /// List a tenant's clients.  Example: sso client list --tenant acme
    List {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
    },
    /// Disable a client.  Example: sso client disable --tenant acme --id 1234
    Disable(TenantAndId),
    /// Enable a disabled client.  Example: sso client enable --tenant acme --id 1234
    Enable(TenantAndId),
    /// Show one client (never its password).  Example: sso client show --tenant acme --id 1234
    Show(TenantAndId),
    /// Change only the settings given; prints the client before → after.
    /// Example: sso client update --tenant acme --id 1234 --email new@example.com
    Update {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Its id.
        #[arg(long)]
        id: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Only these vendors may sign the client in (comma-separated; empty for any).
        #[arg(long, value_delimiter = ',')]
        allowed_vendors: Option<Vec<String>>,
    },
    /// Delete a client (and end its sessions).  Example: sso client delete --tenant acme --id 1234
    Delete(TenantAndId),
}

/// Help-desk users (password from stdin).
#[derive(Subcommand)]
pub enum HelpdeskCmd {
    /// Add a user.  Example: echo "$PW" | sso helpdesk-user add --tenant acme --username joe --id 2
    Add {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// Its id.
        #[arg(long)]
        id: i64,
        /// May call api.php.
        #[arg(long)]
        api_rights: bool,
        /// The account's primary admin (never signed in by SSO).
        #[arg(long)]
        primary_admin: bool,
        /// Overwrite the record if it exists (without this, an existing id is refused).
        #[arg(long)]
        replace: bool,
    },
    /// Give an API-rights user an API key (read from stdin; stored as SHA-256).
    /// Example: echo "$KEY" | sso helpdesk-user add-api-key --tenant acme --username admin
    AddApiKey {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// List users.  Example: sso helpdesk-user list --tenant acme
    List {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
    },
    /// Disable a user.  Example: sso helpdesk-user disable --tenant acme --username joe
    Disable {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled user.  Example: sso helpdesk-user enable --tenant acme --username joe
    Enable {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Change only the settings given; prints the user before → after.
    /// Example: sso helpdesk-user update --tenant acme --username joe --api-rights true
    Update {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// May call api.php (true or false).
        #[arg(long)]
        api_rights: Option<bool>,
        /// The account's primary admin (true or false).
        #[arg(long)]
        primary_admin: Option<bool>,
    },
    /// Show one user.  Example: sso helpdesk-user show --tenant acme --username joe
    Show {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Delete a user (and end its sessions).  Example: sso helpdesk-user delete --tenant acme --username joe
    Delete {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Username.
        #[arg(long)]
        username: String,
    },
}

/// Call-center Platform-Keys (the key is read from stdin and stored as SHA-256).
#[derive(Subcommand)]
pub enum PlatformKeyCmd {
    /// Add a key.  Example: echo "$KEY" | sso platform-key add --tenant acme --key-id cc1 --partner callco --allow 203.0.113.0/24
    Add {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Name of the key (shown in audit events; never the key).
        #[arg(long)]
        key_id: String,
        /// The call-center partner it belongs to.
        #[arg(long)]
        partner: String,
        /// Allowed address or CIDR range (repeatable; v4 or v6; no host bits).
        #[arg(long = "allow", required = true)]
        allow: Vec<String>,
        /// Replace the key of this id if it exists (the old key stops working).
        #[arg(long)]
        replace: bool,
    },
    /// List keys (never the key itself).  Example: sso platform-key list --tenant acme
    List {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
    },
    /// Disable a key.  Example: sso platform-key disable --tenant acme --key-id cc1
    Disable {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Name of the key (shown in audit events; never the key).
        #[arg(long)]
        key_id: String,
    },
    /// Enable a disabled key.  Example: sso platform-key enable --tenant acme --key-id cc1
    Enable {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Name of the key.
        #[arg(long)]
        key_id: String,
    },
    /// Change only the settings given; prints the key's record before → after.
    /// Example: sso platform-key update --tenant acme --key-id cc1 --allow 203.0.113.0/24,10.0.0.0/8
    Update {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Name of the key.
        #[arg(long)]
        key_id: String,
        /// The call-center partner it belongs to.
        #[arg(long)]
        partner: Option<String>,
        /// Allowed addresses or CIDR ranges (comma-separated; replaces the list).
        #[arg(long, value_delimiter = ',')]
        allow: Option<Vec<String>>,
    },
    /// Show one key (never the key).  Example: sso platform-key show --tenant acme --key-id cc1
    Show {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Name of the key.
        #[arg(long)]
        key_id: String,
    },
    /// Delete a key.  Example: sso platform-key delete --tenant acme --key-id cc1
    Delete {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Name of the key.
        #[arg(long)]
        key_id: String,
    },
}

/// Portal groups.
#[derive(Subcommand)]
pub enum GroupCmd {
    /// Add a group.  Example: sso group add --id 21 --name "Call center"
    Add {
        /// Its id.
        #[arg(long)]
        id: u64,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Rename an existing group (its links are kept).
        #[arg(long)]
        replace: bool,
    },
    /// Link a platform and its department.  Example: sso group link --id 21 --tenant acme --department 1
    Link {
        /// Its id.
        #[arg(long)]
        id: u64,
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
        /// Department id.
        #[arg(long)]
        department: u64,
    },
    /// List groups.  Example: sso group list
    List,
    /// Rename a group; prints it before → after.  Example: sso group update --id 21 --name "Day shift"
    Update {
        /// Its id.
        #[arg(long)]
        id: u64,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// Show one group.  Example: sso group show --id 21
    Show {
        /// Its id.
        #[arg(long)]
        id: u64,
    },
    /// Disable a group (unlink every platform).  Example: sso group disable --id 21
    Disable {
        /// Its id.
        #[arg(long)]
        id: u64,
    },
    /// Delete a group; refused while it has agents, administrators or consenting tenants,
    /// unless --force (which deletes its agents and removes it from the others).
    /// Example: sso group delete --id 21 --force
    Delete {
        /// Its id.
        #[arg(long)]
        id: u64,
        /// Delete even though other records depend on it (they are deleted or unlinked too).
        #[arg(long)]
        force: bool,
    },
}

/// Portal agents (password from stdin).
#[derive(Subcommand)]
pub enum AgentCmd {
    /// Add an agent.  Example: echo "$PW" | sso agent add --group 21 --username agent1 --fullname "Agent One"
    Add {
        /// Portal group id.
        #[arg(long)]
        group: u64,
        /// Username.
        #[arg(long)]
        username: String,
        /// Full name.
        #[arg(long)]
        fullname: String,
        /// Overwrite the record if it exists (without this, an existing id is refused).
        #[arg(long)]
        replace: bool,
    },
    /// List a group's agents.  Example: sso agent list --group 21
    List {
        /// Portal group id.
        #[arg(long)]
        group: u64,
    },
    /// Disable an agent.  Example: sso agent disable --group 21 --username agent1
    Disable {
        /// Portal group id.
        #[arg(long)]
        group: u64,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled agent.  Example: sso agent enable --group 21 --username agent1
    Enable {
        /// Portal group id.
        #[arg(long)]
        group: u64,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Change the full name; prints the agent before → after.
    /// Example: sso agent update --group 21 --username agent1 --fullname "Agent Uno"
    Update {
        /// Portal group id.
        #[arg(long)]
        group: u64,
        /// Username.
        #[arg(long)]
        username: String,
        /// Full name.
        #[arg(long)]
        fullname: String,
    },
    /// Show one agent.  Example: sso agent show --group 21 --username agent1
    Show {
        /// Portal group id.
        #[arg(long)]
        group: u64,
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Delete an agent (and end its sessions).  Example: sso agent delete --group 21 --username agent1
    Delete {
        /// Portal group id.
        #[arg(long)]
        group: u64,
        /// Username.
        #[arg(long)]
        username: String,
    },
}

/// Portal administrators (password from stdin).
#[derive(Subcommand)]
pub enum AdministratorCmd {
    /// Add an administrator.  Example: echo "$PW" | sso administrator add --email a@example.com --group 21
    Add {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Groups managed (repeatable; each must exist).
        #[arg(long = "group", required = true)]
        groups: Vec<u64>,
        /// Overwrite the record if it exists (without this, an existing id is refused).
        #[arg(long)]
        replace: bool,
    },
    /// List administrators.  Example: sso administrator list
    List,
    /// Disable an administrator.  Example: sso administrator disable --email a@example.com
    Disable {
        /// Email address.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled administrator.  Example: sso administrator enable --email a@example.com
    Enable {
        /// Email address.
        #[arg(long)]
        email: String,
    },
    /// Change the groups managed; prints the administrator before → after.
    /// Example: sso administrator update --email a@example.com --groups 21,22
    Update {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Groups managed (comma-separated; each must exist).
        #[arg(long, value_delimiter = ',', required = true)]
        groups: Vec<u64>,
    },
    /// Show one administrator.  Example: sso administrator show --email a@example.com
    Show {
        /// Email address.
        #[arg(long)]
        email: String,
    },
    /// Delete an administrator (and end its sessions).  Example: sso administrator delete --email a@example.com
    Delete {
        /// Email address.
        #[arg(long)]
        email: String,
    },
}

/// `sso audit`: a tenant's (or one subject's) events, newest first.
#[derive(Args)]
pub struct AuditArgs {
    /// Tenant (`my` for portal sign-ins).
    #[arg(long)]
    tenant: String,
    /// Only this agent, client or user.
    #[arg(long)]
    subject: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Only events at or after this time: RFC 3339 (2026-12-01T10:00:00Z), a date
    /// (2026-12-01, midnight UTC) or an age before now (30m, 2h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only events at or before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
}

/// Ends every session `subject` has on `tenant` (a not-before time, read by every session
/// check within the store's 60 s cache): disabling someone must also sign them out.
async fn sign_out_everywhere(store: &Store, tenant: &str, subject: &str) -> Result<(), CliError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    store.revoke_all_for_subject(tenant, subject, now).await?;
    Ok(())
}

fn not_found(what: &str) -> CliError {
    CliError::Config(format!("{what} not found"))
}

/// An `add` of a record that exists: refused, so a typo'd id never overwrites a record.
fn exists(what: &str) -> CliError {
    CliError::Config(format!(
        "{what} already exists; add --replace to overwrite it on purpose"
    ))
}

/// The record a command names, or "<what> not found" (`what` names the tenant and id).
async fn named<T>(
    lookup: impl Future<Output = Result<Option<T>, StoreError>>,
    what: &str,
) -> Result<T, CliError> {
    lookup.await?.ok_or_else(|| not_found(what))
}

/// The tenant a command names, which must exist (a list of a tenant that is not there is an
/// error, not an empty answer).
async fn tenant_named(store: &Store, name: &str) -> Result<Tenant, CliError> {
    named(store.tenant(name), &format!("tenant `{name}`")).await
}

/// Refuses an add over an existing record unless `--replace`; says which it will be.
fn added_or_replaced(existing: bool, replace: bool, what: &str) -> Result<&'static str, CliError> {
    match (existing, replace) {
        (true, false) => Err(exists(what)),
        (true, true) => Ok("replaced"),
        (false, _) => Ok("added"),
    }
}

/// Says what an update changes: before → after (views never hold a secret), or that
/// nothing did.
fn report_update(what: &str, before: &serde_json::Value, after: &serde_json::Value) {
    if before == after {
        changed(&format!("{what} unchanged"));
    } else {
        changed(&format!("updated {what}: {before} → {after}"));
    }
}

/// Every write says what it changed, on stderr (stdout stays for records).
fn changed(line: &str) {
    eprintln!("{line}");
}

fn hash(pw: &str) -> Result<String, CliError> {
    Ok(password::hash(pw)?)
}

fn print_json(v: &serde_json::Value) {
    // Machine-readable output, one record per line.
    let line = v.to_string();
    let _ = std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes());
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// Runs a tenant command.
pub async fn tenant(store: &Store, cmd: TenantCmd) -> Result<(), CliError> {
    match cmd {
        TenantCmd::Add {
            name,
            departments,
            campaigns,
            portal_groups,
            helpdesk_reusable,
            scanner_safe_links,
            replace,
        } => {
            sso_store::import::check_tenant_name(&name)?;
            let what = format!("tenant `{name}`");
            let verb = added_or_replaced(store.tenant(&name).await?.is_some(), replace, &what)?;
            let mut t = Tenant::new(&name);
            t.departments = departments.unwrap_or_default();
            t.campaigns = campaigns.unwrap_or_default();
            t.portal_groups = portal_groups.unwrap_or_default();
            check_groups(store, &t.portal_groups, &format!("{what}: --portal-groups")).await?;
            t.helpdesk_token_reusable = helpdesk_reusable;
            t.scanner_safe_links = scanner_safe_links;
            store.put_tenant(&t).await?;
            changed(&format!("{verb} {what}: {}", tenant_json(&t)));
        }
        TenantCmd::Update {
            name,
            departments,
            campaigns,
            portal_groups,
            helpdesk_reusable,
            scanner_safe_links,
        } => {
            let what = format!("tenant `{name}`");
            let before = tenant_named(store, &name).await?;
            let mut t = before.clone();
            if let Some(d) = departments {
                t.departments = d;
            }
            if let Some(c) = campaigns {
                t.campaigns = c;
            }
            if let Some(g) = portal_groups {
                check_groups(store, &g, &format!("{what}: --portal-groups")).await?;
                t.portal_groups = g;
            }
            if let Some(r) = helpdesk_reusable {
                t.helpdesk_token_reusable = r;
            }
            if let Some(s) = scanner_safe_links {
                t.scanner_safe_links = s;
            }
            if t == before {
                changed(&format!("{what} unchanged"));
            } else {
                store.put_tenant(&t).await?;
                changed(&format!(
                    "updated {what}: {} → {}",
                    tenant_json(&before),
                    tenant_json(&t)
                ));
            }
        }
        TenantCmd::Show { name } => print_json(&tenant_json(&tenant_named(store, &name).await?)),
        TenantCmd::List => {
            for t in store.list_tenants().await? {
                print_json(&tenant_json(&t));
            }
        }
        TenantCmd::Disable { name } => set_tenant_enabled(store, &name, false).await?,
        TenantCmd::Enable { name } => set_tenant_enabled(store, &name, true).await?,
        TenantCmd::Delete { name, force } => delete_tenant(store, &name, force).await?,
    }
    Ok(())
}

/// Refuses a delete while `dependants` is not empty, unless forced.
fn refuse_dependants(what: &str, dependants: &[String], force: bool) -> Result<(), CliError> {
    if dependants.is_empty() || force {
        return Ok(());
    }
    Err(CliError::Config(format!(
        "{what} is still used by {}; delete those first or add --force",
        dependants.join(", ")
    )))
}

async fn delete_tenant(store: &Store, name: &str, force: bool) -> Result<(), CliError> {
    let what = format!("tenant `{name}`");
    let t = tenant_named(store, name).await?;
    let vendors = store.list_vendors(name).await?;
    let clients = store.list_clients(name).await?;
    let users = store.list_helpdesk_users(name).await?;
    let pkeys = store.list_platform_keys(name).await?;
    let groups: Vec<Group> = store
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| g.links.iter().any(|l| l.tenant == name))
        .collect();
    let mut dependants = Vec::new();
    for (n, kind) in [
        (vendors.len(), "vendor(s)"),
        (clients.len(), "client(s)"),
        (users.len(), "help-desk user(s)"),
        (pkeys.len(), "Platform-Key(s)"),
        (groups.len(), "group link(s)"),
    ] {
        if n > 0 {
            dependants.push(format!("{n} {kind}"));
        }
    }
    refuse_dependants(&what, &dependants, force)?;
    for v in vendors {
        store.delete_record_of(&DirRecord::Vendor(v)).await?;
    }
    for c in clients {
        store.delete_record_of(&DirRecord::Client(c)).await?;
    }
    for u in users {
        store.delete_record_of(&DirRecord::HelpdeskUser(u)).await?;
    }
    for (hash_hex, k) in pkeys {
        let key = hash_of(&hash_hex, &what)?;
        store.delete_platform_key(&k.tenant, &key).await?;
    }
    for mut g in groups {
        g.links.retain(|l| l.tenant != name);
        store.put_group(&g).await?;
    }
    store.delete_record_of(&DirRecord::Tenant(t)).await?;
    if dependants.is_empty() {
        changed(&format!("deleted {what}"));
    } else {
        changed(&format!("deleted {what} with {}", dependants.join(", ")));
    }
    Ok(())
}

/// The storage key of a listed Platform-Key's hex hash.
fn hash_of(hash_hex: &str, what: &str) -> Result<StorageKey, CliError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hash_hex, &mut bytes).map_err(|_| {
        CliError::Config(format!("{what}: a Platform-Key is stored under a bad hash"))
    })?;
    Ok(StorageKey::from_bytes(bytes))
}

async fn set_tenant_enabled(store: &Store, name: &str, enabled: bool) -> Result<(), CliError> {
    let mut t = tenant_named(store, name).await?;
    t.enabled = enabled;
    store.put_tenant(&t).await?;
    changed(&format!("{} tenant `{name}`", on_off(enabled)));
    Ok(())
}

fn on_off(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

/// Every group id given must name a portal group (`at` says where they were given).
async fn check_groups(store: &Store, ids: &[u64], at: &str) -> Result<(), CliError> {
    for id in ids {
        if store.group(*id).await?.is_none() {
            return Err(CliError::Config(format!("{at}: group {id} not found")));
        }
    }
    Ok(())
}

fn vendor_json(v: &VendorSummary) -> serde_json::Value {
    serde_json::json!({"id": v.id, "enabled": v.enabled, "rotating": v.rotating, "scheme": v.scheme,
    "reusable": v.reusable, "failure_url": v.failure_url, "logout_url": v.logout_url, "test_mode": v.test_mode})
}

/// Runs a vendor command.
pub async fn vendor(store: &Store, cmd: VendorCmd) -> Result<(), CliError> {
    let what = |tenant: &str, id: &str| format!("vendor `{id}` of tenant `{tenant}`");
    let get = |tenant: String, id: String| async move {
        tenant_named(store, &tenant).await?;
        named(store.vendor(&tenant, &id), &what(&tenant, &id)).await
    };
    match cmd {
        VendorCmd::Add {
            tenant,
            id,
            scheme,
            expiry,
            reusable,
            failure_url,
            logout_url,
            replace,
        } => {
            tenant_named(store, &tenant).await?;
            let desc = what(&tenant, &id);
            let verb =
                added_or_replaced(store.vendor(&tenant, &id).await?.is_some(), replace, &desc)?;
            let scheme = match scheme.as_str() {
                "md5" => Scheme::Md5,
                "hmac-sha256" => Scheme::HmacSha256,
                _ => {
                    return Err(CliError::Config(format!(
                        "{desc}: --scheme is md5 or hmac-sha256"
                    )));
                }
            };
            let policy = match expiry.as_str() {
                "cst" => ExpiryPolicy::default(),
                "strict-utc" => ExpiryPolicy::strict_utc(),
                _ => {
                    return Err(CliError::Config(format!(
                        "{desc}: --expiry is cst or strict-utc"
                    )));
                }
            };
            for (flag, url) in [
                ("--failure-url", &failure_url),
                ("--logout-url", &logout_url),
            ] {
                sso_store::import::check_url(format!("{desc}: {flag}"), url)?;
            }
            let pw = secrets::read("vendor password")?;
            let v = Vendor {
                tenant,
                id,
                scheme,
                secrets: SecretSet::single(VendorSecret::new(pw)),
                policy,
                reusable,
                failure_url,
                logout_url,
                enabled: true,
                test_mode: false,
            };
            store.put_vendor(&v).await?;
            changed(&format!("{verb} {desc}: {}", vendor_json(&(&v).into())));
        }
        VendorCmd::List { tenant } => {
            tenant_named(store, &tenant).await?;
            for v in store.vendor_summaries(&tenant).await? {
                print_json(&vendor_json(&v));
            }
        }
        VendorCmd::Disable { tenant, id } => {
            let mut v = get(tenant, id).await?;
            v.enabled = false;
            store.put_vendor(&v).await?;
            changed(&format!("disabled {}", what(&v.tenant, &v.id)));
        }
        VendorCmd::Enable(TenantAndId { tenant, id }) => {
            let mut v = get(tenant, id).await?;
            v.enabled = true;
            store.put_vendor(&v).await?;
            changed(&format!("enabled {}", what(&v.tenant, &v.id)));
        }
        VendorCmd::Show(TenantAndId { tenant, id }) => {
            tenant_named(store, &tenant).await?;
            let v = named(store.vendor_summary(&tenant, &id), &what(&tenant, &id)).await?;
            print_json(&vendor_json(&v));
        }
        VendorCmd::Update {
            tenant,
            id,
            reusable,
            failure_url,
            logout_url,
        } => {
            let desc = what(&tenant, &id);
            let before = get(tenant, id).await?;
            let mut v = before.clone();
            if let Some(r) = reusable {
                v.reusable = r;
            }
            for (flag, given, slot) in [
                ("--failure-url", failure_url, &mut v.failure_url),
                ("--logout-url", logout_url, &mut v.logout_url),
            ] {
                if let Some(url) = given {
                    let url = Some(url).filter(|u| !u.is_empty());
                    sso_store::import::check_url(format!("{desc}: {flag}"), &url)?;
                    *slot = url;
                }
            }
            let (was, now) = (vendor_json(&(&before).into()), vendor_json(&(&v).into()));
            if was == now {
                changed(&format!("{desc} unchanged"));
            } else {
                store.put_vendor(&v).await?;
                changed(&format!("updated {desc}: {was} → {now}"));
            }
        }
        VendorCmd::Delete { tenant, id, force } => {
            let desc = what(&tenant, &id);
            let v = get(tenant.clone(), id.clone()).await?;
            let users: Vec<String> = store
                .list_clients(&tenant)
                .await?
                .into_iter()
                .filter(|c| c.allowed_vendors.contains(&id))
                .map(|c| format!("client `{}`", c.client_id))
                .collect();
            refuse_dependants(&desc, &users, force)?;
            store.delete_record_of(&DirRecord::Vendor(v)).await?;
            changed(&format!("deleted {desc}"));
        }
        VendorCmd::RotateSecret { tenant, id } => {
            let mut v = get(tenant, id).await?;
            let new = secrets::read("new vendor password")?;
            v.secrets = SecretSet {
                previous: Some(v.secrets.current.clone()),
                current: VendorSecret::new(new),
            };
            store.put_vendor(&v).await?;
            changed(&format!(
                "rotating the password of {}: both passwords are valid until `sso vendor retire-secret`",
                what(&v.tenant, &v.id)
            ));
        }
        VendorCmd::RetireSecret { tenant, id } => {
            let mut v = get(tenant, id).await?;
            v.secrets.previous = None;
            store.put_vendor(&v).await?;
            changed(&format!(
                "retired the previous password of {}",
                what(&v.tenant, &v.id)
            ));
        }
    }
    Ok(())
}

fn client_json(c: &Client) -> serde_json::Value {
    serde_json::json!({"client_id": c.client_id, "email": c.email, "enabled": c.enabled,
    "password": c.verifier.is_some(), "allowed_vendors": c.allowed_vendors})
}

/// Runs a client command.
pub async fn client(store: &Store, cmd: ClientCmd) -> Result<(), CliError> {
    let what = |tenant: &str, id: &str| format!("client `{id}` of tenant `{tenant}`");
    match cmd {
        ClientCmd::Add {
            tenant,
            id,
            email,
            password,
            allowed_vendors,
            replace,
        } => {
            tenant_named(store, &tenant).await?;
            let desc = what(&tenant, &id);
            let verb =
                added_or_replaced(store.client(&tenant, &id).await?.is_some(), replace, &desc)?;
            check_email(format!("{desc}: --email"), &email)?;
            for v in &allowed_vendors {
                if store.vendor(&tenant, v).await?.is_none() {
                    return Err(CliError::Config(format!(
                        "{desc}: --allowed-vendor: vendor `{v}` of tenant `{tenant}` not found"
                    )));
                }
            }
            let verifier = if password {
                Some(hash(&secrets::read("client password")?)?)
            } else {
                None
            };
            let c = Client {
                tenant,
                client_id: id,
                email,
                verifier,
                allowed_vendors,
                enabled: true,
            };
            store.put_client(&c).await?;
            changed(&format!("{verb} {desc}: {}", client_json(&c)));
        }
        ClientCmd::List { tenant } => {
            tenant_named(store, &tenant).await?;
            for c in store.list_clients(&tenant).await? {
                print_json(&client_json(&c));
            }
        }
        ClientCmd::Disable(TenantAndId { tenant, id }) => {
            let mut c = named(store.client(&tenant, &id), &what(&tenant, &id)).await?;
            c.enabled = false;
            store.put_client(&c).await?;
            sign_out_everywhere(store, &tenant, &id).await?;
            changed(&format!(
                "disabled {} and ended its sessions",
                what(&tenant, &id)
            ));
        }
        ClientCmd::Enable(TenantAndId { tenant, id }) => {
            let mut c = named(store.client(&tenant, &id), &what(&tenant, &id)).await?;
            c.enabled = true;
            store.put_client(&c).await?;
            changed(&format!("enabled {}", what(&tenant, &id)));
        }
        ClientCmd::Update {
            tenant,
            id,
            email,
            allowed_vendors,
        } => {
            let desc = what(&tenant, &id);
            tenant_named(store, &tenant).await?;
            let before = named(store.client(&tenant, &id), &desc).await?;
            let mut c = before.clone();
            if let Some(e) = email {
                check_email(format!("{desc}: --email"), &e)?;
                c.email = e;
            }
            if let Some(list) = allowed_vendors {
                let list: Vec<String> = list.into_iter().filter(|v| !v.is_empty()).collect();
                for v in &list {
                    if store.vendor_summary(&tenant, v).await?.is_none() {
                        return Err(CliError::Config(format!(
                            "{desc}: --allowed-vendors: vendor `{v}` of tenant `{tenant}` not found"
                        )));
                    }
                }
                c.allowed_vendors = list;
            }
            if c != before {
                store.put_client(&c).await?;
            }
            report_update(&desc, &client_json(&before), &client_json(&c));
        }
        ClientCmd::Show(TenantAndId { tenant, id }) => {
            tenant_named(store, &tenant).await?;
            let c = named(store.client(&tenant, &id), &what(&tenant, &id)).await?;
            print_json(&client_json(&c));
        }
        ClientCmd::Delete(TenantAndId { tenant, id }) => {
            let c = named(store.client(&tenant, &id), &what(&tenant, &id)).await?;
            store.delete_record_of(&DirRecord::Client(c)).await?;
            sign_out_everywhere(store, &tenant, &id).await?;
            changed(&format!(
                "deleted {} and ended its sessions",
                what(&tenant, &id)
            ));
        }
    }
    Ok(())
}

fn check_email(at: String, email: &str) -> Result<(), CliError> {
    Ok(sso_store::validate::check_email(at, email)?)
}

fn helpdesk_json(u: &HelpdeskUser) -> serde_json::Value {
    serde_json::json!({"username": u.username, "id": u.id, "api_rights": u.api_rights,
    "primary_admin": u.primary_admin, "enabled": u.enabled})
}

/// Runs a help-desk user command.
pub async fn helpdesk(store: &Store, cmd: HelpdeskCmd) -> Result<(), CliError> {
    let what = |tenant: &str, u: &str| format!("help-desk user `{u}` of tenant `{tenant}`");
    match cmd {
        HelpdeskCmd::Add {
            tenant,
            username,
            id,
            api_rights,
            primary_admin,
            replace,
        } => {
            tenant_named(store, &tenant).await?;
            let desc = what(&tenant, &username);
            let existing = store.helpdesk_user(&tenant, &username).await?.is_some();
            let verb = added_or_replaced(existing, replace, &desc)?;
            let pw = secrets::read("password")?;
            let user = HelpdeskUser {
                tenant,
                username,
                id,
                absid: id,
                prfxs: "hd_|kb_".into(),
                verifier: hash(&password_digest(&pw))?,
                api_rights,
                primary_admin,
                enabled: true,
            };
            store.put_helpdesk_user(&user).await?;
            changed(&format!("{verb} {desc}: {}", helpdesk_json(&user)));
        }
        HelpdeskCmd::AddApiKey { tenant, username } => {
            let desc = what(&tenant, &username);
            let u = named(store.helpdesk_user(&tenant, &username), &desc).await?;
            if !u.api_rights {
                return Err(CliError::Config(format!(
                    "{desc}: only a user with API rights may hold an API key"
                )));
            }
            let key = secrets::read("API key")?;
            store
                .put_helpdesk_api_key(&tenant, &StorageKey::of_secret(&key), &username)
                .await?;
            changed(&format!("added an API key for {desc}"));
        }
        HelpdeskCmd::List { tenant } => {
            tenant_named(store, &tenant).await?;
            for u in store.list_helpdesk_users(&tenant).await? {
                print_json(&helpdesk_json(&u));
            }
        }
        HelpdeskCmd::Disable { tenant, username } => {
            let desc = what(&tenant, &username);
            let mut u = named(store.helpdesk_user(&tenant, &username), &desc).await?;
            u.enabled = false;
            store.put_helpdesk_user(&u).await?;
            sign_out_everywhere(store, &tenant, &username).await?;
            changed(&format!("disabled {desc} and ended its sessions"));
        }
        HelpdeskCmd::Enable { tenant, username } => {
            let desc = what(&tenant, &username);
            let mut u = named(store.helpdesk_user(&tenant, &username), &desc).await?;
            u.enabled = true;
            store.put_helpdesk_user(&u).await?;
            changed(&format!("enabled {desc}"));
        }
        HelpdeskCmd::Update {
            tenant,
            username,
            api_rights,
            primary_admin,
        } => {
            let desc = what(&tenant, &username);
            tenant_named(store, &tenant).await?;
            let before = named(store.helpdesk_user(&tenant, &username), &desc).await?;
            let mut u = before.clone();
            if let Some(a) = api_rights {
                u.api_rights = a;
            }
            if let Some(p) = primary_admin {
                u.primary_admin = p;
            }
            if u != before {
                store.put_helpdesk_user(&u).await?;
            }
            report_update(&desc, &helpdesk_json(&before), &helpdesk_json(&u));
        }
        HelpdeskCmd::Show { tenant, username } => {
            tenant_named(store, &tenant).await?;
            let desc = what(&tenant, &username);
            print_json(&helpdesk_json(
                &named(store.helpdesk_user(&tenant, &username), &desc).await?,
            ));
        }
        HelpdeskCmd::Delete { tenant, username } => {
            let desc = what(&tenant, &username);
            let u = named(store.helpdesk_user(&tenant, &username), &desc).await?;
            store.delete_record_of(&DirRecord::HelpdeskUser(u)).await?;
            sign_out_everywhere(store, &tenant, &username).await?;
            changed(&format!("deleted {desc} and ended its sessions"));
        }
    }
    Ok(())
}

fn platform_key_json(k: &PlatformKey) -> serde_json::Value {
    serde_json::json!({"key_id": k.key_id, "partner": k.partner, "allow": k.allow_list, "enabled": k.enabled})
}

/// The key of this id on a tenant, with the hash it is stored under.
async fn platform_key_by_id(
    store: &Store,
    tenant: &str,
    key_id: &str,
) -> Result<Option<(StorageKey, PlatformKey)>, CliError> {
    let found = store
        .list_platform_keys(tenant)
        .await?
        .into_iter()
        .find(|(_, k)| k.key_id == key_id);
    match found {
        Some((hash_hex, k)) => Ok(Some((
            hash_of(&hash_hex, &format!("tenant `{tenant}`"))?,
            k,
        ))),
        None => Ok(None),
    }
}

/// Runs a Platform-Key command.
pub async fn platform_key(store: &Store, cmd: PlatformKeyCmd) -> Result<(), CliError> {
    let what = |tenant: &str, id: &str| format!("Platform-Key `{id}` of tenant `{tenant}`");
    match cmd {
        PlatformKeyCmd::Add {
            tenant,
            key_id,
            partner,
            allow,
            replace,
        } => {
            tenant_named(store, &tenant).await?;
            let desc = what(&tenant, &key_id);
            let old = platform_key_by_id(store, &tenant, &key_id).await?;
            let verb = added_or_replaced(old.is_some(), replace, &desc)?;
            for a in &allow {
                sso_store::validate::check_allow_entry(format!("{desc}: --allow"), a)?;
            }
            let key = secrets::read("Platform-Key")?;
            let hash = StorageKey::of_secret(&key);
            let record = PlatformKey {
                tenant,
                key_id,
                partner,
                allow_list: allow,
                enabled: true,
            };
            store.put_platform_key(&hash, &record).await?;
            // One key id names one key: the replaced key stops working.
            if let Some((old_hash, _)) = old.filter(|(h, _)| *h != hash) {
                store.delete_platform_key(&record.tenant, &old_hash).await?;
            }
            changed(&format!("{verb} {desc}: {}", platform_key_json(&record)));
        }
        PlatformKeyCmd::List { tenant } => {
            tenant_named(store, &tenant).await?;
            for (_, k) in store.list_platform_keys(&tenant).await? {
                print_json(&platform_key_json(&k));
            }
        }
        PlatformKeyCmd::Disable { tenant, key_id } => {
            set_platform_key_enabled(store, &tenant, &key_id, false).await?;
        }
        PlatformKeyCmd::Enable { tenant, key_id } => {
            set_platform_key_enabled(store, &tenant, &key_id, true).await?;
        }
        PlatformKeyCmd::Update {
            tenant,
            key_id,
            partner,
            allow,
        } => {
            let desc = what(&tenant, &key_id);
            tenant_named(store, &tenant).await?;
            let (hash, before) = platform_key_by_id(store, &tenant, &key_id)
                .await?
                .ok_or_else(|| not_found(&desc))?;
            let mut k = before.clone();
            if let Some(p) = partner {
                k.partner = p;
            }
            if let Some(list) = allow {
                for a in &list {
                    sso_store::validate::check_allow_entry(format!("{desc}: --allow"), a)?;
                }
                k.allow_list = list;
            }
            if k != before {
                store.put_platform_key(&hash, &k).await?;
            }
            report_update(&desc, &platform_key_json(&before), &platform_key_json(&k));
        }
        PlatformKeyCmd::Show { tenant, key_id } => {
            tenant_named(store, &tenant).await?;
            let (_, k) = platform_key_by_id(store, &tenant, &key_id)
                .await?
                .ok_or_else(|| not_found(&what(&tenant, &key_id)))?;
            print_json(&platform_key_json(&k));
        }
        PlatformKeyCmd::Delete { tenant, key_id } => {
            let desc = what(&tenant, &key_id);
            tenant_named(store, &tenant).await?;
            let mut found = false;
            for (hash_hex, k) in store.list_platform_keys(&tenant).await? {
                if k.key_id == key_id {
                    store
                        .delete_platform_key(&tenant, &hash_of(&hash_hex, &desc)?)
                        .await?;
                    found = true;
                }
            }
            if !found {
                return Err(not_found(&desc));
            }
            changed(&format!("deleted {desc}"));
        }
    }
    Ok(())
}

async fn set_platform_key_enabled(
    store: &Store,
    tenant: &str,
    key_id: &str,
    enabled: bool,
) -> Result<(), CliError> {
    let desc = format!("Platform-Key `{key_id}` of tenant `{tenant}`");
    tenant_named(store, tenant).await?;
    // Every key stored under this id (a store written before ids were unique may hold two).
    let mut found = false;
    for (hash_hex, mut k) in store.list_platform_keys(tenant).await? {
        if k.key_id != key_id {
            continue;
        }
        k.enabled = enabled;
        store
            .put_platform_key(&hash_of(&hash_hex, &desc)?, &k)
            .await?;
        found = true;
    }
    if !found {
        return Err(not_found(&desc));
    }
    changed(&format!("{} {desc}", on_off(enabled)));
    Ok(())
}

/// Runs a group command.
pub async fn group(store: &Store, cmd: GroupCmd) -> Result<(), CliError> {
    match cmd {
        GroupCmd::Add { id, name, replace } => {
            let desc = format!("group {id}");
            let old = store.group(id).await?;
            let verb = added_or_replaced(old.is_some(), replace, &desc)?;
            let links = old.map(|g| g.links).unwrap_or_default();
            store.put_group(&Group { id, name, links }).await?;
            changed(&format!("{verb} {desc}"));
        }
        GroupCmd::Link {
            id,
            tenant,
            department,
        } => {
            let mut t = tenant_named(store, &tenant).await?;
            if !t.departments.contains(&department) {
                return Err(CliError::Config(format!(
                    "tenant `{tenant}` has no department {department} (it has {:?})",
                    t.departments
                )));
            }
            let mut g = named(store.group(id), &format!("group {id}")).await?;
            // The operator links on the platform's behalf: that is its consent (`/pop` checks).
            if !t.portal_groups.contains(&id) {
                t.portal_groups.push(id);
                store.put_tenant(&t).await?;
            }
            g.links.retain(|l| l.tenant != tenant);
            g.links.push(GroupLink {
                tenant: tenant.clone(),
                department,
            });
            store.put_group(&g).await?;
            changed(&format!(
                "linked group {id} to tenant `{tenant}` (department {department})"
            ));
        }
        GroupCmd::List => {
            for g in store.list_groups().await? {
                print_json(&group_json(&g));
            }
        }
        GroupCmd::Update { id, name } => {
            let desc = format!("group {id}");
            let before = named(store.group(id), &desc).await?;
            let g = Group {
                name,
                ..before.clone()
            };
            if g != before {
                store.put_group(&g).await?;
            }
            report_update(&desc, &group_json(&before), &group_json(&g));
        }
        GroupCmd::Show { id } => {
            print_json(&group_json(
                &named(store.group(id), &format!("group {id}")).await?,
            ));
        }
        GroupCmd::Disable { id } => {
            let mut g = named(store.group(id), &format!("group {id}")).await?;
            g.links.clear();
            store.put_group(&g).await?;
            changed(&format!("disabled group {id}: unlinked every platform"));
        }
        GroupCmd::Delete { id, force } => delete_group(store, id, force).await?,
    }
    Ok(())
}

fn group_json(g: &Group) -> serde_json::Value {
    let links: Vec<String> = g
        .links
        .iter()
        .map(|l| format!("{}:{}", l.tenant, l.department))
        .collect();
    serde_json::json!({"id": g.id, "name": g.name, "links": links})
}

async fn delete_group(store: &Store, id: u64, force: bool) -> Result<(), CliError> {
    let what = format!("group {id}");
    let g = named(store.group(id), &what).await?;
    let agents = store.list_agents(id).await?;
    let admins: Vec<Administrator> = store
        .list_administrators()
        .await?
        .into_iter()
        .filter(|a| a.groups.contains(&id))
        .collect();
    let tenants: Vec<Tenant> = store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| t.portal_groups.contains(&id))
        .collect();
    let mut dependants = Vec::new();
    for (n, kind) in [
        (agents.len(), "agent(s)"),
        (admins.len(), "administrator(s)"),
        (tenants.len(), "tenant(s) consenting to it"),
    ] {
        if n > 0 {
            dependants.push(format!("{n} {kind}"));
        }
    }
    refuse_dependants(&what, &dependants, force)?;
    for a in agents {
        let username = a.username.clone();
        store.delete_record_of(&DirRecord::Agent(a)).await?;
        sign_out_everywhere(store, "my", &username).await?;
    }
    for mut a in admins {
        a.groups.retain(|g| *g != id);
        store.put_administrator(&a).await?;
    }
    for mut t in tenants {
        t.portal_groups.retain(|g| *g != id);
        store.put_tenant(&t).await?;
    }
    store.delete_record_of(&DirRecord::Group(g)).await?;
    if dependants.is_empty() {
        changed(&format!("deleted {what}"));
    } else {
        changed(&format!("deleted {what} with {}", dependants.join(", ")));
    }
    Ok(())
}

/// Runs an agent command.
pub async fn agent(store: &Store, cmd: AgentCmd) -> Result<(), CliError> {
    let what = |group: u64, u: &str| format!("agent `{u}` of group {group}");
    match cmd {
        AgentCmd::Add {
            group,
            username,
            fullname,
            replace,
        } => {
            named(store.group(group), &format!("group {group}")).await?;
            let desc = what(group, &username);
            let existing = store.agent(group, &username).await?.is_some();
            let verb = added_or_replaced(existing, replace, &desc)?;
            let verifier = hash(&secrets::read("agent password")?)?;
            store
                .put_agent(&Agent {
                    group,
                    username,
                    fullname,
                    verifier,
                    enabled: true,
                })
                .await?;
            changed(&format!("{verb} {desc}"));
        }
        AgentCmd::List { group } => {
            named(store.group(group), &format!("group {group}")).await?;
            for a in store.list_agents(group).await? {
                print_json(
                    &serde_json::json!({"username": a.username, "fullname": a.fullname, "enabled": a.enabled}),
                );
            }
        }
        AgentCmd::Disable { group, username } => {
            let desc = what(group, &username);
            let mut a = named(store.agent(group, &username), &desc).await?;
            a.enabled = false;
            store.put_agent(&a).await?;
            sign_out_everywhere(store, "my", &username).await?;
            let linked = store
                .group(group)
                .await?
                .map(|g| g.links)
                .unwrap_or_default();
            for link in linked {
                sign_out_everywhere(store, &link.tenant, &username).await?;
            }
            changed(&format!("disabled {desc} and ended its sessions"));
        }
        AgentCmd::Enable { group, username } => {
            let desc = what(group, &username);
            let mut a = named(store.agent(group, &username), &desc).await?;
            a.enabled = true;
            store.put_agent(&a).await?;
            changed(&format!("enabled {desc}"));
        }
        AgentCmd::Update {
            group,
            username,
            fullname,
        } => {
            let desc = what(group, &username);
            let before = named(store.agent(group, &username), &desc).await?;
            let view = |a: &Agent| serde_json::json!({"username": a.username, "fullname": a.fullname, "enabled": a.enabled});
            let mut a = before.clone();
            a.fullname = fullname;
            if a != before {
                store.put_agent(&a).await?;
            }
            report_update(&desc, &view(&before), &view(&a));
        }
        AgentCmd::Show { group, username } => {
            let a = named(store.agent(group, &username), &what(group, &username)).await?;
            print_json(
                &serde_json::json!({"username": a.username, "fullname": a.fullname, "enabled": a.enabled}),
            );
        }
        AgentCmd::Delete { group, username } => {
            let desc = what(group, &username);
            let a = named(store.agent(group, &username), &desc).await?;
            store.delete_record_of(&DirRecord::Agent(a)).await?;
            sign_out_everywhere(store, "my", &username).await?;
            changed(&format!("deleted {desc} and ended its portal session"));
        }
    }
    Ok(())
}

/// Runs an administrator command.
pub async fn administrator(store: &Store, cmd: AdministratorCmd) -> Result<(), CliError> {
    let what = |email: &str| format!("administrator `{email}`");
    match cmd {
        AdministratorCmd::Add {
            email,
            groups,
            replace,
        } => {
            let desc = what(&email);
            check_email(format!("{desc}: --email"), &email)?;
            check_groups(store, &groups, &format!("{desc}: --group")).await?;
            let existing = store.administrator(&email).await?.is_some();
            let verb = added_or_replaced(existing, replace, &desc)?;
            let verifier = hash(&secrets::read("administrator password")?)?;
            store
                .put_administrator(&Administrator {
                    email,
                    verifier,
                    groups: groups.clone(),
                    enabled: true,
                })
                .await?;
            changed(&format!("{verb} {desc} (groups {groups:?})"));
        }
        AdministratorCmd::List => {
            for a in store.list_administrators().await? {
                print_json(
                    &serde_json::json!({"email": a.email, "groups": a.groups, "enabled": a.enabled}),
                );
            }
        }
        AdministratorCmd::Disable { email } => {
            let desc = what(&email);
            let mut a = named(store.administrator(&email), &desc).await?;
            a.enabled = false;
            store.put_administrator(&a).await?;
            sign_out_everywhere(store, "my", &a.email).await?;
            changed(&format!("disabled {desc} and ended its sessions"));
        }
        AdministratorCmd::Enable { email } => {
            let desc = what(&email);
            let mut a = named(store.administrator(&email), &desc).await?;
            a.enabled = true;
            store.put_administrator(&a).await?;
            changed(&format!("enabled {desc}"));
        }
        AdministratorCmd::Update { email, groups } => {
            let desc = what(&email);
            let before = named(store.administrator(&email), &desc).await?;
            check_groups(store, &groups, &format!("{desc}: --groups")).await?;
            let view = |a: &Administrator| serde_json::json!({"email": a.email, "groups": a.groups, "enabled": a.enabled});
            let mut a = before.clone();
            a.groups = groups;
            if a != before {
                store.put_administrator(&a).await?;
            }
            report_update(&desc, &view(&before), &view(&a));
        }
        AdministratorCmd::Show { email } => {
            let a = named(store.administrator(&email), &what(&email)).await?;
            print_json(
                &serde_json::json!({"email": a.email, "groups": a.groups, "enabled": a.enabled}),
            );
        }
        AdministratorCmd::Delete { email } => {
            let desc = what(&email);
            let a = named(store.administrator(&email), &desc).await?;
            let email = a.email.clone();
            store.delete_record_of(&DirRecord::Administrator(a)).await?;
            sign_out_everywhere(store, "my", &email).await?;
            changed(&format!("deleted {desc} and ended its sessions"));
        }
    }
    Ok(())
}

/// Prints audit events, newest first, between `--since` and `--until` (read at `now`), each
/// with its time as RFC 3339 UTC (`at_utc`) beside the Unix second (`at`).
pub async fn audit(store: &Store, args: AuditArgs, now: i64) -> Result<(), CliError> {
    let from = match &args.since {
        Some(s) => crate::when::parse(s, now)?,
        None => 0,
    };
    let to = match &args.until {
        Some(s) => crate::when::parse(s, now)?,
        None => i64::MAX,
    };
    if from > to {
        return Err(CliError::Config(format!(
            "--since {} is after --until {}",
            crate::when::format(from),
            crate::when::format(to)
        )));
    }
    let page = store
        .list(
            &args.tenant,
            args.subject.as_deref(),
            from,
            to,
            args.limit,
            None,
        )
        .await?;
    for e in page.events {
        let mut v = serde_json::to_value(&e).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("at_utc".into(), crate::when::format(e.at).into());
        }
        print_json(&v);
    }
    Ok(())
}
