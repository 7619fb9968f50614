//! What the store keeps: directory records (who may sign in whom) and hot state (tokens,
//! sessions, audit events). Plain data; the rules live in `sso-core` and the adapters.

use serde::{Deserialize, Serialize};
use sso_core::expiry::ExpiryPolicy;
use sso_core::ident::StorageKey;
use sso_core::signed_link::{Scheme, SecretSet};

/// A tenant: one customer platform, reached at `<name>.<base-domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The host label (`demoaws`).
    pub name: String,
    /// Where a signed-in browser lands (path on the tenant host, default `/`).
    #[serde(default = "default_home")]
    pub home_path: String,
    /// Idle timeout of platform sessions, seconds.
    #[serde(default = "default_idle")]
    pub session_idle_secs: i64,
    /// Absolute lifetime of platform sessions, seconds.
    #[serde(default = "default_absolute")]
    pub session_absolute_secs: i64,
    /// Partner origins allowed to frame the platform (`frame-ancestors`).
    #[serde(default)]
    pub frame_ancestors: Vec<String>,
    /// Help desk: `_ssot` tokens may be used more than once until they expire.
    #[serde(default)]
    pub helpdesk_token_reusable: bool,
    /// Help desk: whether `_ssot` must come from `sso_addr` (default on).
    #[serde(default = "yes")]
    pub helpdesk_ip_binding: bool,
    /// Call center: department ids.
    #[serde(default)]
    pub departments: Vec<u64>,
    /// Call center: campaign ids.
    #[serde(default)]
    pub campaigns: Vec<u64>,
    /// Call center: how long a one-time login URL (`/sso/login?token=`) is valid, seconds.
    #[serde(default = "default_login_url")]
    pub login_url_secs: i64,
    /// Portal groups whose administrators may link this platform to their group (the
    /// platform's consent; links the operator declares need none).
    #[serde(default)]
    pub portal_groups: Vec<u64>,
    /// A disabled tenant is answered as unknown.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// One-time links (`/sso/login?token=`, `/admin/main.php?_ssot=`) answer a GET with a
    /// page that posts the token back, and only that POST consumes it, so mail and chat link
    /// scanners that fetch URLs do not burn them (`sso_web::one_time_link`). Off by default.
    #[serde(default)]
    pub scanner_safe_links: bool,
}

fn default_home() -> String {
    "/".into()
}
fn default_idle() -> i64 {
    30 * 60
}
fn default_absolute() -> i64 {
    10 * 3600
}
fn default_login_url() -> i64 {
    300
}
fn yes() -> bool {
    true
}

impl Tenant {
    /// A tenant with the documented defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            home_path: default_home(),
            session_idle_secs: default_idle(),
            session_absolute_secs: default_absolute(),
            frame_ancestors: Vec::new(),
            helpdesk_token_reusable: false,
            helpdesk_ip_binding: true,
            departments: Vec::new(),
            campaigns: Vec::new(),
            login_url_secs: default_login_url(),
            portal_groups: Vec::new(),
            enabled: true,
            scanner_safe_links: false,
        }
    }
}

/// A signed-link vendor, with its secrets in clear (they are encrypted only at rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    /// Its tenant.
    pub tenant: String,
    /// `vendorid`.
    pub id: String,
    /// md5 (the seed's) or HMAC-SHA256.
    pub scheme: Scheme,
    /// One secret, or two during a rotation.
    pub secrets: SecretSet,
    /// When its links expire.
    pub policy: ExpiryPolicy,
    /// Links may be used more than once (the seed's literal behaviour).
    pub reusable: bool,
    /// Registered failure URL.
    pub failure_url: Option<String>,
    /// Registered logout URL.
    pub logout_url: Option<String>,
    /// A disabled vendor is answered as unknown.
    pub enabled: bool,
    /// Integration test mode: a refused link lands on a page that says which check failed
    /// and why (never the expected digest) instead of the failure URL. Off by default.
    pub test_mode: bool,
}

/// A client of the signed-link protocol.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Its tenant.
    pub tenant: String,
    /// `clientID`.
    pub client_id: String,
    /// Its email (several clients may share one: errorID 4).
    pub email: String,
    /// Argon2id verifier for the standard login page, if the client has a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// Vendors allowed to sign this client in; empty means every vendor of the tenant.
    #[serde(default)]
    pub allowed_vendors: Vec<String>,
    /// A disabled client matches nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Client {
    /// Whether `vendor` may sign this client in.
    pub fn allows(&self, vendor: &str) -> bool {
        self.enabled
            && (self.allowed_vendors.is_empty() || self.allowed_vendors.iter().any(|v| v == vendor))
    }
}

/// A help-desk user: API admins call `api.php`; users are signed in by it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpdeskUser {
    /// Its tenant (account).
    pub tenant: String,
    /// Login name.
    pub username: String,
    /// `id` in results.
    pub id: i64,
    /// `absid` in results.
    pub absid: i64,
    /// `prfxs` in results (`hd_|kb_`).
    #[serde(default = "default_prfxs")]
    pub prfxs: String,
    /// Argon2id PHC string of the md5 hex of the password.
    pub verifier: String,
    /// May call the API.
    #[serde(default)]
    pub api_rights: bool,
    /// The account's primary admin: never signed in by SSO.
    #[serde(default)]
    pub primary_admin: bool,
    /// A disabled user cannot call or be signed in.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_prfxs() -> String {
    "hd_|kb_".into()
}

/// A call-center partner's Platform-Key (the key itself is stored only as its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformKey {
    /// Its tenant.
    pub tenant: String,
    /// A name for the key, shown in audit events (never the key).
    pub key_id: String,
    /// The partner it was issued to: the issuer of the agents it signs in.
    pub partner: String,
    /// Allowed source addresses: single IPs or CIDR ranges, v4 or v6.
    pub allow_list: Vec<String>,
    /// A disabled key is answered as unknown.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A platform a portal group's agents may enter, with the department used there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLink {
    /// The tenant.
    pub tenant: String,
    /// Its department for this group's agents.
    pub department: u64,
}

/// A portal group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Numeric id, as in `/login/<id>`.
    pub id: u64,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Linked platforms.
    #[serde(default)]
    pub links: Vec<GroupLink>,
}

/// A portal agent, signing in at `/login/<group>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Its group.
    pub group: u64,
    /// Username (unique in the group).
    pub username: String,
    /// Full name.
    pub fullname: String,
    /// Argon2id verifier.
    pub verifier: String,
    /// A disabled agent cannot sign in.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A portal administrator, signing in at `/login` with an email.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Administrator {
    /// Email, the login name.
    pub email: String,
    /// Argon2id verifier.
    pub verifier: String,
    /// Groups it manages.
    pub groups: Vec<u64>,
    /// A disabled administrator cannot sign in.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A one-time (or reusable) token to be issued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    /// Its tenant.
    pub tenant: String,
    /// Who it signs in.
    pub subject: String,
    /// What it is for; a token is only ever redeemed for that.
    pub purpose: TokenPurpose,
    /// Redeemable more than once until it expires.
    pub reusable: bool,
    /// What the adapter binds to it; for a login token, the claims of the session it starts.
    pub claims: Claims,
    /// Unix second it is issued at.
    pub issued_at: i64,
    /// Unix second from which it is refused.
    pub expires_at: i64,
    /// Help desk: "same user and IP" slot; issuing into a slot invalidates its previous token.
    pub replace_slot: Option<String>,
    /// Help desk: the address the token may be redeemed from; a redemption from anywhere else
    /// fails without consuming it.
    pub bound_addr: Option<String>,
}

/// What a token is for. Stored with it and required at redemption, so a token of one
/// protocol never opens another's door (a help-desk `_ssot` is no `/sso/login` token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPurpose {
    /// A login link (`_ssot`, `/sso/login?token=`): redeemed into the session it describes.
    Login(LoginPlan),
    /// A server-side note taken back once with [`crate::port::Tokens::take`] (the portal's
    /// pending pop).
    Pending,
}

impl TokenPurpose {
    /// The stored name, also what a redemption must match.
    pub fn name(&self) -> &'static str {
        match self {
            TokenPurpose::Login(plan) => match plan.protocol {
                Protocol::SignedLink => "login:signed_link",
                Protocol::Helpdesk => "login:helpdesk",
                Protocol::CallCenter => "login:callcenter",
                Protocol::Portal => "login:portal",
                Protocol::Admin => "login:admin",
            },
            TokenPurpose::Pending => "pending",
        }
    }
}

/// The session a login token starts, fixed when the token is issued: redeeming it is then one
/// conditional write that turns the token item into that session (ARCHITECTURE.md's budget:
/// one write unit per SSO entry point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPlan {
    /// The protocol of the session (and of the door the token opens).
    pub protocol: Protocol,
    /// The vendor, key or group that signed them in.
    pub issuer: String,
    /// Idle timeout of the session, seconds.
    pub idle_secs: i64,
    /// Absolute lifetime of the session from redemption, seconds.
    pub lifetime_secs: i64,
}

/// How a login token is being redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// The protocol whose door this is; a token issued for another is refused.
    pub protocol: Protocol,
    /// The address the browser comes from, when the token must be bound to it.
    pub from_addr: Option<String>,
    /// The SHA-256 (hex) of the random secret the session cookie will carry beside the key.
    pub secret_sha256: String,
    /// The tenant lets tokens be reused until they expire: each redemption then starts a
    /// session of its own (one read and one write) instead of consuming the token.
    pub reusable: bool,
}

/// A redeemed login token: the session it started and where that session is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RedeemedSession {
    /// The session's storage key (the cookie carries it with the secret).
    pub key: StorageKey,
    /// The session.
    pub session: Session,
}

/// A pending note taken back with [`crate::port::Tokens::take`].
#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    /// Who it was about.
    pub subject: String,
    /// What was bound to it.
    pub claims: Claims,
    /// When it expires.
    pub expires_at: i64,
}

/// Which protocol created a session (or made an audited attempt). Stored and logged by
/// [`Protocol::as_str`]: `signed_link`, `helpdesk`, `callcenter`, `portal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Signed link (`/signin.php`) or the standard login page.
    SignedLink,
    /// Help desk (`_ssot`, same-server, `/admin/login`).
    Helpdesk,
    /// Call center (`/sso/0`, `/sso/login`).
    #[serde(rename = "callcenter")]
    CallCenter,
    /// The agent portal's own session.
    Portal,
    /// A change an operator made to the directory (`sso` admin commands, `sso import`):
    /// audit events only, never a session.
    Admin,
}

/// A session to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// The tenant it belongs to (portal sessions: `my`).
    pub tenant: String,
    /// Who is signed in (clientID, username…).
    pub subject: String,
    /// How.
    pub protocol: Protocol,
    /// The vendor, key or group that signed them in.
    pub issuer: String,
    /// Unix second of sign-in.
    pub created_at: i64,
    /// Seconds without activity after which it ends.
    pub idle_secs: i64,
    /// Unix second at which it ends whatever the activity.
    pub absolute_expiry: i64,
    /// SHA-256 (hex) of the random secret its cookie carries beside a derived key; `None` when
    /// the key itself is the hash of a random session id.
    pub secret_sha256: Option<String>,
    /// How long the item must outlive the session (a signed-link replay record lives until the
    /// link's expiry even when the session ends sooner). `None`: until `absolute_expiry`.
    pub keep_until: Option<i64>,
    /// What the session knows of its subject (shown on the home page, checked by the portal).
    pub claims: Claims,
}

impl NewSession {
    /// A session on `tenant` with the tenant's idle timeout and lifetime, starting `now`,
    /// under a random id (no cookie secret, no replay record): what a password sign-in
    /// starts.
    pub fn for_tenant(
        tenant: &Tenant,
        subject: &str,
        protocol: Protocol,
        issuer: &str,
        now: i64,
        claims: Claims,
    ) -> Self {
        Self {
            tenant: tenant.name.clone(),
            subject: subject.to_owned(),
            protocol,
            issuer: issuer.to_owned(),
            created_at: now,
            idle_secs: tenant.session_idle_secs,
            absolute_expiry: now.saturating_add(tenant.session_absolute_secs),
            secret_sha256: None,
            keep_until: None,
            claims,
        }
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The tenant it belongs to.
    pub tenant: String,
    /// Who is signed in.
    pub subject: String,
    /// How.
    pub protocol: Protocol,
    /// The vendor, key or group that signed them in.
    pub issuer: String,
    /// Unix second of sign-in.
    pub created_at: i64,
    /// Last recorded activity (updated at most once per touch interval).
    pub last_seen: i64,
    /// Idle timeout, seconds.
    pub idle_secs: i64,
    /// Absolute end, Unix seconds.
    pub absolute_expiry: i64,
    /// SHA-256 (hex) of the cookie's secret, for sessions under a derived key.
    pub secret_sha256: Option<String>,
    /// What the session knows of its subject.
    pub claims: Claims,
}

/// Whether a replay-guarded action happened for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time: go ahead.
    First,
    /// Seen before (and not yet expired): refuse.
    Replay,
}

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 5] = [
        Protocol::SignedLink,
        Protocol::Helpdesk,
        Protocol::CallCenter,
        Protocol::Portal,
        Protocol::Admin,
    ];

    /// The name items, log lines and audit events carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::SignedLink => "signed_link",
            Protocol::Helpdesk => "helpdesk",
            Protocol::CallCenter => "callcenter",
            Protocol::Portal => "portal",
            Protocol::Admin => "admin",
        }
    }

    /// The protocol a stored name names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a session — or the login token that becomes one — knows of its subject, by kind.
/// Stored as JSON tagged with `kind`; labels for people are the web layer's, added when a
/// page is rendered, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Claims {
    /// A signed-link client, by a link (with its vendor) or by the standard login page.
    SignedLink {
        /// `clientID`.
        client_id: String,
        /// The client's email.
        email: String,
        /// The vendor whose link signed it in (`None`: the login page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor: Option<String>,
    },
    /// A help-desk user.
    Helpdesk {
        /// Login name.
        username: String,
        /// `id` in API results.
        user_id: i64,
        /// The API admin who asked for the sign-in (`None`: `/admin/login`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed_in_by: Option<String>,
    },
    /// A call-center agent on a platform, with what limits its session.
    CallCenter(AgentProfile),
    /// A portal administrator.
    PortalAdmin {
        /// Groups it manages.
        groups: Vec<u64>,
    },
    /// A portal agent.
    PortalAgent {
        /// Its group.
        group: u64,
        /// Full name.
        fullname: String,
    },
    /// A pop waiting for its agent to sign in.
    PendingPop {
        /// The group.
        group: u64,
        /// The platform the agent was heading for.
        tenant: String,
    },
    /// Claims of a shape this version does not know (written by another version): they
    /// show nothing and grant nothing.
    #[serde(other)]
    Unknown,
}

impl Claims {
    /// The claims stored as `data`, read leniently: what does not parse is
    /// [`Claims::Unknown`] (an older item), never an error that would fail a page.
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or(Claims::Unknown)
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"kind\":\"unknown\"}".into())
    }
}

/// A call-center agent's profile, as `/sso/0` (or a pop) gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    /// Full name.
    pub fullname: String,
    /// Email, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Department on the platform.
    pub department: u64,
    /// Campaigns it may use; `None`: all of the platform's (stored as such, so the item stays
    /// small whatever the platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaigns: Option<Vec<u64>>,
    /// The number the customer called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_center_did: Option<String>,
    /// The customer's caller ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_cid: Option<String>,
}

/// How an audited attempt ended. Logged and stored as the same strings as before the type
/// existed (`ok`, `errorID=3:expired`, `refused:login_failed`, `INVALID_PLATFORM_KEY`…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
#[non_exhaustive]
pub enum Outcome {
    /// Signed in, or a token was minted for the caller (`ok`).
    Ok,
    /// The browser that holds the session a link created used the link again
    /// (`ok:same-browser`).
    SameBrowser,
    /// A one-time login token became a session (`session`).
    SessionStarted,
    /// A call-center login URL was issued (`SSO_TOKEN_CREATED`).
    TokenCreated,
    /// Wrong account or password at a sign-in form (`bad_credentials`).
    BadCredentials,
    /// Refused by the lock-out rule without checking (`locked`).
    Locked,
    /// A one-time link was unknown, used, expired or not for this door (`refused:bad_token`).
    BadToken,
    /// The store could not be reached (`unavailable`).
    Unavailable,
    /// A signed link was refused (`errorID=<n>:<reason>`).
    LinkRefused {
        /// The errorID sent to the partner.
        error_id: u8,
        /// The finer reason, for the operator.
        reason: String,
    },
    /// `api.php` refused the call (`refused:<reason>`).
    ApiRefused(String),
    /// `/sso/0` or a pop refused (the `descriptor`, e.g. `IP_NOT_WHITELISTED`).
    CallCenterRefused(String),
    /// An operator changed the directory (`admin:<verb> <kind>`, e.g. `admin:update vendor`,
    /// with the record in the event's subject). Never a secret: commands take secrets on
    /// stdin, and only the command's verb and the record's names are recorded.
    AdminChange(String),
    /// A portal administrator changed the directory (`changed:<change> by <who>`, e.g.
    /// `changed:agent_disabled by admin@example.com`); the event's subject is what changed
    /// (an agent's username, a platform), its issuer the group. Never a secret.
    Changed {
        /// What was done (`agent_disabled`, `agent_enabled`, `password_reset`,
        /// `platform_unlinked`): one word, no spaces.
        change: String,
        /// Who did it (the administrator's email).
        by: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::SameBrowser => f.write_str("ok:same-browser"),
            Outcome::SessionStarted => f.write_str("session"),
            Outcome::TokenCreated => f.write_str("SSO_TOKEN_CREATED"),
            Outcome::BadCredentials => f.write_str("bad_credentials"),
            Outcome::Locked => f.write_str("locked"),
            Outcome::BadToken => f.write_str("refused:bad_token"),
            Outcome::Unavailable => f.write_str("unavailable"),
            Outcome::LinkRefused { error_id, reason } => write!(f, "errorID={error_id}:{reason}"),
            Outcome::ApiRefused(reason) => write!(f, "refused:{reason}"),
            Outcome::CallCenterRefused(descriptor) => f.write_str(descriptor),
            Outcome::AdminChange(what) => write!(f, "admin:{what}"),
            Outcome::Changed { change, by } => write!(f, "changed:{change} by {by}"),
        }
    }
}

impl From<Outcome> for String {
    fn from(o: Outcome) -> String {
        o.to_string()
    }
}

impl From<String> for Outcome {
    /// Reads a stored outcome back; any other text (an event written by another version) is
    /// kept as a descriptor, so listing never fails.
    fn from(s: String) -> Outcome {
        match s.as_str() {
            "ok" => Outcome::Ok,
            "ok:same-browser" => Outcome::SameBrowser,
            "session" => Outcome::SessionStarted,
            "SSO_TOKEN_CREATED" => Outcome::TokenCreated,
            "bad_credentials" => Outcome::BadCredentials,
            "locked" => Outcome::Locked,
            "refused:bad_token" => Outcome::BadToken,
            "unavailable" => Outcome::Unavailable,
            _ => {
                if let Some(rest) = s.strip_prefix("errorID=")
                    && let Some((id, reason)) = rest.split_once(':')
                    && let Ok(error_id) = id.parse()
                {
                    return Outcome::LinkRefused {
                        error_id,
                        reason: reason.to_owned(),
                    };
                }
                if let Some(rest) = s.strip_prefix("changed:")
                    && let Some((change, by)) = rest.split_once(" by ")
                {
                    return Outcome::Changed {
                        change: change.to_owned(),
                        by: by.to_owned(),
                    };
                }
                if let Some(reason) = s.strip_prefix("refused:") {
                    return Outcome::ApiRefused(reason.to_owned());
                }
                if let Some(what) = s.strip_prefix("admin:") {
                    return Outcome::AdminChange(what.to_owned());
                }
                Outcome::CallCenterRefused(s)
            }
        }
    }
}

/// One SSO attempt or sign-in, good or bad. Never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// Tenant (or `my` for the portal).
    pub tenant: String,
    /// The protocol (`signed_link`, `helpdesk`, `callcenter`, `portal`; `admin` for a
    /// directory change, whose issuer is the operator who made it).
    pub protocol: Protocol,
    /// Vendor id, key id or group.
    pub issuer: String,
    /// Email, clientID or username as presented.
    pub subject: String,
    /// Source IP as the platform saw it.
    pub source_ip: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// Cursor for the next page.
    pub next: Option<String>,
}

/// `Debug` for records that hold a password verifier: every field but the verifier, which
/// is a secret's hash and never belongs in a log line.
macro_rules! debug_without_verifier {
    ($ty:ident { $($field:ident),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .field("verifier", &"***")
                    .finish()
            }
        }
    };
}

debug_without_verifier!(Client {
    tenant,
    client_id,
    email,
    allowed_vendors,
    enabled
});
debug_without_verifier!(HelpdeskUser {
    tenant,
    username,
    id,
    absid,
    prfxs,
    api_rights,
    primary_admin,
    enabled
});
debug_without_verifier!(Agent {
    group,
    username,
    fullname,
    enabled
});
debug_without_verifier!(Administrator {
    email,
    groups,
    enabled
});

#[cfg(test)]
mod tests {
    #[test]
    fn outcomes_keep_their_stored_strings_both_ways() {
        let all = [
            (Outcome::Ok, "ok"),
            (Outcome::SameBrowser, "ok:same-browser"),
            (Outcome::SessionStarted, "session"),
            (Outcome::TokenCreated, "SSO_TOKEN_CREATED"),
            (Outcome::BadCredentials, "bad_credentials"),
            (Outcome::Locked, "locked"),
            (Outcome::BadToken, "refused:bad_token"),
            (Outcome::Unavailable, "unavailable"),
            (
                Outcome::LinkRefused {
                    error_id: 3,
                    reason: "expired".into(),
                },
                "errorID=3:expired",
            ),
            (
                Outcome::ApiRefused("login_failed".into()),
                "refused:login_failed",
            ),
            (
                Outcome::CallCenterRefused("IP_NOT_WHITELISTED".into()),
                "IP_NOT_WHITELISTED",
            ),
            (
                Outcome::AdminChange("update vendor".into()),
                "admin:update vendor",
            ),
            (
                Outcome::Changed {
                    change: "agent_disabled".into(),
                    by: "admin@example.com".into(),
                },
                "changed:agent_disabled by admin@example.com",
            ),
        ];
        for (outcome, text) in all {
            assert_eq!(outcome.to_string(), text);
            assert_eq!(Outcome::from(text.to_owned()), outcome);
        }
        let event = AuditEvent {
            at: 1,
            tenant: "t".into(),
            protocol: Protocol::CallCenter,
            issuer: "k".into(),
            subject: "s".into(),
            source_ip: "127.0.0.1".into(),
            outcome: Outcome::TokenCreated,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(
            json.contains("\"protocol\":\"callcenter\"")
                && json.contains("\"outcome\":\"SSO_TOKEN_CREATED\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), event);
    }

    #[test]
    fn claims_are_tagged_and_unknown_shapes_read_as_unknown() {
        let c = Claims::PortalAgent {
            group: 21,
            fullname: "Agent One".into(),
        };
        let stored = c.to_stored();
        assert!(stored.contains("\"kind\":\"portal_agent\""), "{stored}");
        assert_eq!(Claims::from_stored(&stored), c);
        assert_eq!(
            Claims::from_stored("{\"display\":[[\"Client ID\",\"1234\"]]}"),
            Claims::Unknown
        );
        assert_eq!(Claims::from_stored("{\"kind\":\"later\"}"), Claims::Unknown);
    }

    use super::*;

    #[test]
    fn verifiers_never_appear_in_debug_output() {
        let agent = Agent {
            group: 21,
            username: "agent1".into(),
            fullname: "Agent One".into(),
            verifier: "$argon2id$v=19$secret".into(),
            enabled: true,
        };
        let shown = format!("{agent:?}");
        assert!(
            shown.contains("agent1") && !shown.contains("argon2id"),
            "{shown}"
        );
        let admin = Administrator {
            email: "a@example.com".into(),
            verifier: "$argon2id$v=19$secret".into(),
            groups: vec![21],
            enabled: true,
        };
        assert!(!format!("{admin:?}").contains("argon2id"));
    }
}
