//! The single-table key design. Hot items (tokens, sessions, replay records, throttle
//! counters) each get a partition of their own, so load spreads; directory items of one
//! tenant share the tenant's partition, so an admin can list them with one query.

use sha2::{Digest, Sha256};
use sso_core::ident::StorageKey;

use crate::item::Key;

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Every tenant record, in one partition (the list is small and cached).
pub fn tenant(name: &str) -> Key {
    Key::new("TENANTS", name)
}

/// The partition of a tenant's directory items.
pub fn tenant_pk(tenant: &str) -> String {
    format!("TENANT#{tenant}")
}

/// A signed-link vendor.
pub fn vendor(tenant: &str, id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("VENDOR#{id}"))
}

/// A client by clientID.
pub fn client(tenant: &str, client_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("CLIENT#{client_id}"))
}

/// The prefix of a client email's index items (the email lower-cased and hashed, so any
/// character is safe in it).
pub fn email_prefix(email: &str) -> String {
    format!("EMAIL#{}#", sha_hex(&email.to_lowercase()))
}

/// One client's item in its email's index (a full copy of the client record).
pub fn email_index(tenant: &str, email: &str, client_id: &str) -> Key {
    Key::new(
        tenant_pk(tenant),
        format!("{}{client_id}", email_prefix(email)),
    )
}

/// A help-desk user.
pub fn helpdesk_user(tenant: &str, username: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("HDUSER#{username}"))
}

/// A help-desk API key, by its hash.
pub fn helpdesk_api_key(tenant: &str, key: &StorageKey) -> Key {
    Key::new(tenant_pk(tenant), format!("HDKEY#{}", key.to_hex()))
}

/// A Platform-Key, by its hash.
pub fn platform_key(tenant: &str, key: &StorageKey) -> Key {
    Key::new(tenant_pk(tenant), format!("PKEY#{}", key.to_hex()))
}

/// A subject's revocation time.
pub fn not_before(tenant: &str, subject: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("NOTBEFORE#{}", sha_hex(subject)))
}

/// A portal group.
pub fn group(id: u64) -> Key {
    Key::new(format!("GROUP#{id}"), "GROUP")
}

/// An agent of a group.
pub fn agent(group: u64, username: &str) -> Key {
    Key::new(format!("GROUP#{group}"), format!("AGENT#{username}"))
}

/// A portal administrator.
pub fn administrator(email: &str) -> Key {
    Key::new(format!("ADMIN#{}", email.to_lowercase()), "ADMIN")
}

/// A one-time token, by its hash. It lives where a session of the same key would: redeeming
/// a login token turns this very item into the session (one write, no second item).
pub fn token(tenant: &str, key: &StorageKey) -> Key {
    session(tenant, key)
}

/// The "same user and IP" pointer to the latest help-desk token.
pub fn token_slot(tenant: &str, slot: &str) -> Key {
    Key::new(format!("TOKSLOT#{tenant}#{}", sha_hex(slot)), "P")
}

/// A session, by the hash of its id.
pub fn session(tenant: &str, key: &StorageKey) -> Key {
    Key::new(format!("SESSION#{tenant}#{}", key.to_hex()), "S")
}

/// A signed-link replay record.
pub fn replay(tenant: &str, vendor: &str, token: &str) -> Key {
    let k = StorageKey::digest_of(&[tenant.as_bytes(), vendor.as_bytes(), token.as_bytes()]);
    Key::new(format!("REPLAY#{tenant}#{}", k.to_hex()), "R")
}

/// A throttle counter (the key names an account and a source IP; hashed to bound its size).
pub fn throttle(key: &str) -> Key {
    Key::new(format!("THROTTLE#{}", sha_hex(key)), "C")
}

/// A tenant's audit partition.
pub fn audit_pk(tenant: &str) -> String {
    format!("AUDIT#{tenant}")
}

/// One subject's audit partition within a tenant.
pub fn audit_subject_pk(tenant: &str, subject: &str) -> String {
    format!("AUDIT#{tenant}#S#{}", sha_hex(subject))
}

/// An audit event's sort key: time first (zero-padded, so strings sort as numbers).
pub fn audit_sk(at: i64, unique: &str) -> String {
    format!("{:011}#{unique}", at.max(0))
}

/// The sealed canary: a known text sealed with the secret key, which readiness opens to prove
/// the key this instance holds is the one the table's records were sealed with.
pub fn canary() -> Key {
    Key::new("CANARY", "SECRET_KEY")
}
