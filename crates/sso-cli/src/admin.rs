//! Admin commands over either store: add / list / disable for every directory record,
//! secret rotation, and the audit trail.

use clap::{Args, Subcommand};
use sso_core::expiry::ExpiryPolicy;
use sso_core::helpdesk::password_digest;
use sso_core::ident::StorageKey;
use sso_core::signed_link::{Scheme, SecretSet, VendorSecret};
use sso_store::model::{
    Administrator, Agent, Client, Group, GroupLink, HelpdeskUser, PlatformKey, Tenant, Vendor,
};
use sso_store::port::{Audit, Directory, DirectoryAdmin, Sessions};
use sso_store::{Store, StoreError, password};

use crate::{CliError, secrets};

/// Tenants (platforms).
#[derive(Subcommand)]
pub enum TenantCmd {
    /// Add a tenant, or change the settings given of an existing one.  Example: sso tenant add acme --departments 1,2 --campaigns 1,2,3 --portal-groups 21
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
    },
    /// List tenants.  Example: sso tenant list
    List,
    /// Disable a tenant (its hosts answer as unknown).  Example: sso tenant disable acme
    Disable {
        /// Host label.
        name: String,
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
    },
    /// List a tenant's clients.  Example: sso client list --tenant acme
    List {
        /// Tenant (host label).
        #[arg(long)]
        tenant: String,
    },
    /// Disable a client.  Example: sso client disable --tenant acme --id 1234
    Disable(TenantAndId),
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
        /// Allowed address or CIDR range (repeatable; v4 or v6).
        #[arg(long = "allow", required = true)]
        allow: Vec<String>,
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
    /// Disable a group (unlink every platform).  Example: sso group disable --id 21
    Disable {
        /// Its id.
        #[arg(long)]
        id: u64,
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
}

/// Portal administrators (password from stdin).
#[derive(Subcommand)]
pub enum AdministratorCmd {
    /// Add an administrator.  Example: echo "$PW" | sso administrator add --email a@example.com --group 21
    Add {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Groups managed (repeatable).
        #[arg(long = "group", required = true)]
        groups: Vec<u64>,
    },
    /// List administrators.  Example: sso administrator list
    List,
    /// Disable an administrator.  Example: sso administrator disable --email a@example.com
    Disable {
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

/// The record a command names, or "<what> not found".
async fn named<T>(
    lookup: impl Future<Output = Result<Option<T>, StoreError>>,
    what: &str,
) -> Result<T, CliError> {
    lookup.await?.ok_or_else(|| not_found(what))
}

fn hash(pw: &str) -> Result<String, CliError> {
    Ok(password::hash(pw)?)
}

fn print_json(v: &serde_json::Value) {
    // Machine-readable output, one record per line.
    let line = v.to_string();
    let _ = std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes());
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
        } => {
            sso_store::import::check_tenant_name(&name)?;
            let mut t = store
                .tenant(&name)
                .await?
                .unwrap_or_else(|| Tenant::new(&name));
            if let Some(d) = departments {
                t.departments = d;
            }
            if let Some(c) = campaigns {
                t.campaigns = c;
            }
            if let Some(g) = portal_groups {
                t.portal_groups = g;
            }
            t.helpdesk_token_reusable = helpdesk_reusable;
            t.enabled = true;
            store.put_tenant(&t).await?;
        }
        TenantCmd::List => {
            for t in store.list_tenants().await? {
                print_json(
                    &serde_json::json!({"name": t.name, "enabled": t.enabled, "departments": t.departments, "campaigns": t.campaigns}),
                );
            }
        }
        TenantCmd::Disable { name } => {
            let mut t = named(store.tenant(&name), "tenant").await?;
            t.enabled = false;
            store.put_tenant(&t).await?;
        }
    }
    Ok(())
}

/// Runs a vendor command.
pub async fn vendor(store: &Store, cmd: VendorCmd) -> Result<(), CliError> {
    let get = |tenant: String, id: String| async move {
        named(store.vendor(&tenant, &id), "vendor").await
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
        } => {
            named(store.tenant(&tenant), "tenant").await?;
            let scheme = match scheme.as_str() {
                "md5" => Scheme::Md5,
                "hmac-sha256" => Scheme::HmacSha256,
                _ => return Err(CliError::Config("--scheme is md5 or hmac-sha256".into())),
            };
            let policy = match expiry.as_str() {
                "cst" => ExpiryPolicy::default(),
                "strict-utc" => ExpiryPolicy::strict_utc(),
                _ => return Err(CliError::Config("--expiry is cst or strict-utc".into())),
            };
            for (flag, url) in [
                ("--failure-url", &failure_url),
                ("--logout-url", &logout_url),
            ] {
                sso_store::import::check_url(flag.into(), url)?;
            }
            let pw = secrets::read("vendor password")?;
            store
                .put_vendor(&Vendor {
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
                })
                .await?;
        }
        VendorCmd::List { tenant } => {
            for v in store.list_vendors(&tenant).await? {
                print_json(
                    &serde_json::json!({"id": v.id, "enabled": v.enabled, "rotating": v.secrets.previous.is_some(),
                    "reusable": v.reusable, "failure_url": v.failure_url, "logout_url": v.logout_url,
                    "test_mode": v.test_mode}),
                );
            }
        }
        VendorCmd::Disable { tenant, id } => {
            let mut v = get(tenant, id).await?;
            v.enabled = false;
            store.put_vendor(&v).await?;
        }
        VendorCmd::RotateSecret { tenant, id } => {
            let mut v = get(tenant, id).await?;
            let new = secrets::read("new vendor password")?;
            v.secrets = SecretSet {
                previous: Some(v.secrets.current.clone()),
                current: VendorSecret::new(new),
            };
            store.put_vendor(&v).await?;
            eprintln!("both passwords are valid until `sso vendor retire-secret`");
        }
        VendorCmd::RetireSecret { tenant, id } => {
            let mut v = get(tenant, id).await?;
            v.secrets.previous = None;
            store.put_vendor(&v).await?;
        }
    }
    Ok(())
}

/// Runs a client command.
pub async fn client(store: &Store, cmd: ClientCmd) -> Result<(), CliError> {
    match cmd {
        ClientCmd::Add {
            tenant,
            id,
            email,
            password,
            allowed_vendors,
        } => {
            named(store.tenant(&tenant), "tenant").await?;
            let verifier = if password {
                Some(hash(&secrets::read("client password")?)?)
            } else {
                None
            };
            store
                .put_client(&Client {
                    tenant,
                    client_id: id,
                    email,
                    verifier,
                    allowed_vendors,
                    enabled: true,
                })
                .await?;
        }
        ClientCmd::List { tenant } => {
            for c in store.list_clients(&tenant).await? {
                print_json(
                    &serde_json::json!({"client_id": c.client_id, "email": c.email, "enabled": c.enabled, "allowed_vendors": c.allowed_vendors}),
                );
            }
        }
        ClientCmd::Disable(TenantAndId { tenant, id }) => {
            let mut c = named(store.client(&tenant, &id), "client").await?;
            c.enabled = false;
            store.put_client(&c).await?;
            sign_out_everywhere(store, &tenant, &id).await?;
        }
    }
    Ok(())
}

/// Runs a help-desk user command.
pub async fn helpdesk(store: &Store, cmd: HelpdeskCmd) -> Result<(), CliError> {
    match cmd {
        HelpdeskCmd::Add {
            tenant,
            username,
            id,
            api_rights,
            primary_admin,
        } => {
            named(store.tenant(&tenant), "tenant").await?;
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
        }
        HelpdeskCmd::AddApiKey { tenant, username } => {
            let u = named(store.helpdesk_user(&tenant, &username), "user").await?;
            if !u.api_rights {
                return Err(CliError::Config(
                    "only a user with API rights may hold an API key".into(),
                ));
            }
            let key = secrets::read("API key")?;
            store
                .put_helpdesk_api_key(&tenant, &StorageKey::of_secret(&key), &username)
                .await?;
        }
        HelpdeskCmd::List { tenant } => {
            for u in store.list_helpdesk_users(&tenant).await? {
                print_json(
                    &serde_json::json!({"username": u.username, "id": u.id, "api_rights": u.api_rights,
                    "primary_admin": u.primary_admin, "enabled": u.enabled}),
                );
            }
        }
        HelpdeskCmd::Disable { tenant, username } => {
            let mut u = named(store.helpdesk_user(&tenant, &username), "user").await?;
            u.enabled = false;
            store.put_helpdesk_user(&u).await?;
            sign_out_everywhere(store, &tenant, &username).await?;
        }
    }
    Ok(())
}

/// Runs a Platform-Key command.
pub async fn platform_key(store: &Store, cmd: PlatformKeyCmd) -> Result<(), CliError> {
    match cmd {
        PlatformKeyCmd::Add {
            tenant,
            key_id,
            partner,
            allow,
        } => {
            named(store.tenant(&tenant), "tenant").await?;
            for a in &allow {
                if a.parse::<std::net::IpAddr>().is_err() && a.parse::<ipnet::IpNet>().is_err() {
                    return Err(CliError::Config(format!(
                        "--allow {a}: not an IP address or CIDR range"
                    )));
                }
            }
            let key = secrets::read("Platform-Key")?;
            let record = PlatformKey {
                tenant,
                key_id,
                partner,
                allow_list: allow,
                enabled: true,
            };
            store
                .put_platform_key(&StorageKey::of_secret(&key), &record)
                .await?;
        }
        PlatformKeyCmd::List { tenant } => {
            for (_, k) in store.list_platform_keys(&tenant).await? {
                print_json(
                    &serde_json::json!({"key_id": k.key_id, "partner": k.partner, "allow": k.allow_list, "enabled": k.enabled}),
                );
            }
        }
        PlatformKeyCmd::Disable { tenant, key_id } => {
            let (hash_hex, mut k) = store
                .list_platform_keys(&tenant)
                .await?
                .into_iter()
                .find(|(_, k)| k.key_id == key_id)
                .ok_or_else(|| not_found("Platform-Key"))?;
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(&hash_hex, &mut bytes).map_err(|_| not_found("Platform-Key"))?;
            k.enabled = false;
            store
                .put_platform_key(&StorageKey::from_bytes(bytes), &k)
                .await?;
        }
    }
    Ok(())
}

/// Runs a group command.
pub async fn group(store: &Store, cmd: GroupCmd) -> Result<(), CliError> {
    match cmd {
        GroupCmd::Add { id, name } => {
            let links = store.group(id).await?.map(|g| g.links).unwrap_or_default();
            store.put_group(&Group { id, name, links }).await?;
        }
        GroupCmd::Link {
            id,
            tenant,
            department,
        } => {
            let mut t = named(store.tenant(&tenant), "tenant").await?;
            if !t.departments.contains(&department) {
                return Err(CliError::Config(format!(
                    "tenant {tenant} has no department {department}"
                )));
            }
            let mut g = named(store.group(id), "group").await?;
            // The operator links on the platform's behalf: that is its consent (`/pop` checks).
            if !t.portal_groups.contains(&id) {
                t.portal_groups.push(id);
                store.put_tenant(&t).await?;
            }
            g.links.retain(|l| l.tenant != tenant);
            g.links.push(GroupLink { tenant, department });
            store.put_group(&g).await?;
        }
        GroupCmd::List => {
            for g in store.list_groups().await? {
                let links: Vec<String> = g
                    .links
                    .iter()
                    .map(|l| format!("{}:{}", l.tenant, l.department))
                    .collect();
                print_json(&serde_json::json!({"id": g.id, "name": g.name, "links": links}));
            }
        }
        GroupCmd::Disable { id } => {
            let mut g = named(store.group(id), "group").await?;
            g.links.clear();
            store.put_group(&g).await?;
        }
    }
    Ok(())
}

/// Runs an agent command.
pub async fn agent(store: &Store, cmd: AgentCmd) -> Result<(), CliError> {
    match cmd {
        AgentCmd::Add {
            group,
            username,
            fullname,
        } => {
            named(store.group(group), "group").await?;
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
        }
        AgentCmd::List { group } => {
            for a in store.list_agents(group).await? {
                print_json(
                    &serde_json::json!({"username": a.username, "fullname": a.fullname, "enabled": a.enabled}),
                );
            }
        }
        AgentCmd::Disable { group, username } => {
            let mut a = named(store.agent(group, &username), "agent").await?;
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
        }
    }
    Ok(())
}

/// Runs an administrator command.
pub async fn administrator(store: &Store, cmd: AdministratorCmd) -> Result<(), CliError> {
    match cmd {
        AdministratorCmd::Add { email, groups } => {
            let verifier = hash(&secrets::read("administrator password")?)?;
            store
                .put_administrator(&Administrator {
                    email,
                    verifier,
                    groups,
                    enabled: true,
                })
                .await?;
        }
        AdministratorCmd::List => {
            for a in store.list_administrators().await? {
                print_json(
                    &serde_json::json!({"email": a.email, "groups": a.groups, "enabled": a.enabled}),
                );
            }
        }
        AdministratorCmd::Disable { email } => {
            let mut a = named(store.administrator(&email), "administrator").await?;
            a.enabled = false;
            store.put_administrator(&a).await?;
            sign_out_everywhere(store, "my", &a.email).await?;
        }
    }
    Ok(())
}

/// Prints audit events, newest first.
pub async fn audit(store: &Store, args: AuditArgs) -> Result<(), CliError> {
    let page = store
        .list(
            &args.tenant,
            args.subject.as_deref(),
            0,
            i64::MAX,
            args.limit,
            None,
        )
        .await?;
    for e in page.events {
        print_json(&serde_json::to_value(&e).unwrap_or_default());
    }
    Ok(())
}
