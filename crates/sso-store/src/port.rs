//! The storage port: narrow traits that an adapter asks for one at a time.
//!
//! Adapters take `&dyn Sessions`, `&dyn Tokens`… and never name a backend; the local server,
//! the Lambdas and the tests choose one ([`crate::Store`] over the embedded or the DynamoDB
//! backend). Every exactly-once operation is a single conditional write (or a transaction
//! where one write cannot express the rule) in both backends.

use async_trait::async_trait;
use sso_core::ident::StorageKey;
use sso_core::throttle::{FailureRecord, LockoutPolicy};

use crate::StoreError;
use crate::model::{
    Administrator, Agent, AuditEvent, AuditPage, Client, Group, GroupLink, HelpdeskUser,
    NewSession, NewToken, PlatformKey, Recorded, Redeemed, RedeemedSession, Redemption, Session,
    Tenant, Vendor,
};

/// Who may sign in whom: read by every SSO request, so callers cache it in memory.
#[async_trait]
pub trait Directory: Send + Sync {
    /// A tenant by host label.
    async fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError>;
    /// A signed-link vendor of a tenant, secrets decrypted.
    async fn vendor(&self, tenant: &str, id: &str) -> Result<Option<Vendor>, StoreError>;
    /// A client by `clientID`.
    async fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// Every client with this email (case-insensitive); more than one is errorID 4.
    async fn clients_by_email(&self, tenant: &str, email: &str) -> Result<Vec<Client>, StoreError>;
    /// A help-desk user by username.
    async fn helpdesk_user(
        &self,
        tenant: &str,
        username: &str,
    ) -> Result<Option<HelpdeskUser>, StoreError>;
    /// The help-desk admin owning an API key, by the key's SHA-256.
    async fn helpdesk_user_by_api_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<Option<HelpdeskUser>, StoreError>;
    /// A Platform-Key by the key's SHA-256.
    async fn platform_key(
        &self,
        tenant: &str,
        key: &StorageKey,
    ) -> Result<Option<PlatformKey>, StoreError>;
    /// A portal group.
    async fn group(&self, id: u64) -> Result<Option<Group>, StoreError>;
    /// An agent of a group.
    async fn agent(&self, group: u64, username: &str) -> Result<Option<Agent>, StoreError>;
    /// A portal administrator by email (case-insensitive).
    async fn administrator(&self, email: &str) -> Result<Option<Administrator>, StoreError>;
    /// Sessions of this subject created before this Unix second are revoked.
    async fn not_before(&self, tenant: &str, subject: &str) -> Result<Option<i64>, StoreError>;
}

/// Changing the directory: the admin CLI and the import file.
#[async_trait]
pub trait DirectoryAdmin: Send + Sync {
    /// Creates or replaces a tenant.
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Creates or replaces a vendor (its secrets are sealed at rest).
    async fn put_vendor(&self, vendor: &Vendor) -> Result<(), StoreError>;
    /// Creates or replaces a client, keeping its email index in step (one transaction).
    async fn put_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Creates or replaces a help-desk user.
    async fn put_helpdesk_user(&self, user: &HelpdeskUser) -> Result<(), StoreError>;
    /// Gives a help-desk admin an API key (stored as its SHA-256).
    async fn put_helpdesk_api_key(
        &self,
        tenant: &str,
        key: &StorageKey,
        username: &str,
    ) -> Result<(), StoreError>;
    /// Creates or replaces a Platform-Key (stored as its SHA-256).
    async fn put_platform_key(
        &self,
        key: &StorageKey,
        record: &PlatformKey,
    ) -> Result<(), StoreError>;
    /// Creates or replaces a portal group.
    async fn put_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Links a tenant to a group (replacing that tenant's previous link), as one conditional
    /// write on the group as it was read, retried if another change came first: two
    /// administrators' concurrent links both stay. Returns the group as written.
    async fn link_group(&self, id: u64, link: GroupLink) -> Result<Group, StoreError>;
    /// Removes a tenant's link from a group, as one conditional write on the group as it was
    /// read (retried if another change came first, so a concurrent link stays). `None` when
    /// the group does not exist or has no link to that tenant: nothing is written.
    async fn unlink_group(&self, id: u64, tenant: &str) -> Result<Option<Group>, StoreError>;
    /// Creates or replaces an agent.
    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError>;
    /// Changes an existing agent (enable, disable, a new password verifier) as one
    /// conditional write on the agent as it was read, retried if another change came first:
    /// a concurrent change is never undone and a deleted agent is never written back. `None`
    /// when there is no such agent (nothing is written); otherwise the agent as written.
    async fn update_agent(
        &self,
        group: u64,
        username: &str,
        change: &(dyn for<'a> Fn(&'a mut Agent) + Send + Sync),
    ) -> Result<Option<Agent>, StoreError>;
    /// Creates or replaces an administrator.
    async fn put_administrator(&self, admin: &Administrator) -> Result<(), StoreError>;
    /// Every tenant.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Every vendor of a tenant.
    async fn list_vendors(&self, tenant: &str) -> Result<Vec<Vendor>, StoreError>;
    /// Every help-desk user of a tenant.
    async fn list_helpdesk_users(&self, tenant: &str) -> Result<Vec<HelpdeskUser>, StoreError>;
    /// Every Platform-Key of a tenant, with the hex SHA-256 it is stored under.
    async fn list_platform_keys(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, PlatformKey)>, StoreError>;
    /// Every portal group.
    async fn list_groups(&self) -> Result<Vec<Group>, StoreError>;
    /// Every portal administrator.
    async fn list_administrators(&self) -> Result<Vec<Administrator>, StoreError>;
    /// Every client of a tenant.
    async fn list_clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError>;
    /// Every agent of a group.
    async fn list_agents(&self, group: u64) -> Result<Vec<Agent>, StoreError>;
}

/// One-time login tokens (`_ssot`, `/sso/login?token=`) and pending notes, kept only as
/// SHA-256 keys.
#[async_trait]
pub trait Tokens: Send + Sync {
    /// Stores a token. With a `replace_slot`, the slot's previous token stops working (unless
    /// it was already redeemed: the session it started is not touched).
    async fn issue(&self, key: &StorageKey, token: &NewToken) -> Result<(), StoreError> {
        self.issue_audited(key, token, None).await
    }
    /// [`Tokens::issue`], storing `audit` with the token's last write (in the same commit on
    /// the embedded store, just after it on DynamoDB), only if the token is issued. A failure
    /// to store the event is logged, never fatal.
    async fn issue_audited(
        &self,
        key: &StorageKey,
        token: &NewToken,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError>;
    /// Redeems a login token at `now` into the session its [`crate::model::LoginPlan`]
    /// describes: for a one-time token one conditional write, exactly once even under
    /// concurrency, which turns the token item into the session. Refused (`None`, one answer
    /// for all so nothing is revealed) when the token is unknown, used, replaced, expired,
    /// issued for another protocol, or bound to another address; a refusal consumes nothing.
    async fn redeem(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
        how: &Redemption,
    ) -> Result<Option<RedeemedSession>, StoreError> {
        self.redeem_audited(tenant, key, now, how, None).await
    }
    /// [`Tokens::redeem`], storing `audit` (with the session's issuer and subject) when it
    /// succeeds, in the same commit on the embedded store: a redemption then waits for one
    /// durable commit, not two. A failure to store the event is logged, never fatal.
    async fn redeem_audited(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
        how: &Redemption,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<RedeemedSession>, StoreError>;
    /// Takes back a [`crate::model::TokenPurpose::Pending`] note, exactly once.
    async fn take(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
    ) -> Result<Option<Redeemed>, StoreError>;
}

/// Platform and portal sessions, kept only as SHA-256 keys.
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Creates a session under a fresh key. `Replay` if a live item already holds that key,
    /// which is how a signed-link session doubles as its link's replay guard.
    async fn create(&self, key: &StorageKey, session: &NewSession) -> Result<Recorded, StoreError> {
        self.create_audited(key, session, None).await
    }
    /// [`Sessions::create`], storing `audit` (the event of this session's start) only if the
    /// session is created: in the same durable commit on the embedded store (a sign-in waits
    /// for one commit, not two), just after it on DynamoDB (two writes, as before). A failure
    /// to store the event is logged, never fatal to the sign-in.
    async fn create_audited(
        &self,
        key: &StorageKey,
        session: &NewSession,
        audit: Option<&AuditEvent>,
    ) -> Result<Recorded, StoreError>;
    /// The session, if it is live at `now` on this tenant: not revoked, not idle for longer
    /// than its idle timeout, not past its absolute lifetime, not older than its subject's
    /// revocation time. Checked on read, whatever the TTL clean-up has done.
    async fn get(
        &self,
        tenant: &str,
        key: &StorageKey,
        now: i64,
    ) -> Result<Option<Session>, StoreError>;
    /// Whether a live item holds `key` at `now`, session or not (a signed link's session
    /// outlives its logout as the link's replay record). One read; for failure paths.
    async fn recorded(&self, tenant: &str, key: &StorageKey, now: i64) -> Result<bool, StoreError>;
    /// Records activity, at most once per `min_interval` seconds (so a busy session is not a
    /// write per request; idle timeouts are then accurate to `min_interval`).
    async fn touch(
        &self,
        tenant: &str,
        key: &StorageKey,
        session: &Session,
        now: i64,
        min_interval: i64,
    ) -> Result<(), StoreError>;
    /// Ends a session. The item is marked, not deleted, so that a replay record it carries
    /// lives on until its own expiry.
    async fn revoke(&self, tenant: &str, key: &StorageKey, now: i64) -> Result<(), StoreError>;
    /// Ends every session of a subject created before `now` (a per-subject not-before time).
    async fn revoke_all_for_subject(
        &self,
        tenant: &str,
        subject: &str,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// "This happened once": the signed-link replay guard when not combined with a session.
#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Records `(tenant, vendor, token)` at `now` until `until`; a second record before then
    /// is `Replay`.
    async fn record(
        &self,
        tenant: &str,
        vendor: &str,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<Recorded, StoreError>;
}

/// Failed sign-in counters per throttle key (account and source IP).
#[async_trait]
pub trait Throttle: Send + Sync {
    /// The live failure record of a key, if any.
    async fn failures(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecord, StoreError>;
    /// Counts one more failure, atomically, and returns the new record.
    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecord, StoreError>;
    /// Reserves one attempt before its password is checked: counts it as a failure at once,
    /// in one conditional write that is refused while the key is locked (`None`), so a burst
    /// of parallel guesses gets at most as many checks as the rule allows, and attempts made
    /// while locked neither count nor prolong the lock. A check that passes then
    /// [`Throttle::clear`]s the count.
    async fn reserve(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<Option<FailureRecord>, StoreError>;
    /// Gives back a reservation whose check never ran (the password gate was busy, or the
    /// store failed midway): one failure fewer, if the counter is still live.
    async fn release(&self, key: &str, now: i64) -> Result<(), StoreError>;
    /// Forgets a key's failures (after a successful sign-in).
    async fn clear(&self, key: &str) -> Result<(), StoreError>;
    /// Until when the key is locked at `now`, if it is.
    async fn locked_until(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<Option<i64>, StoreError> {
        let rec = self.failures(key, now, policy).await?;
        Ok(policy.locked_until(&rec, now))
    }
}

/// How long an audit event is kept: it carries `expires_at = at + this` (400 days, so a
/// year's look-back always holds), after which the embedded store's sweep or DynamoDB's TTL
/// removes it. A flood of failed attempts therefore cannot fill the disk or the table forever.
pub const AUDIT_RETENTION_SECS: i64 = 400 * 86_400;

/// The audit trail.
#[async_trait]
pub trait Audit: Send + Sync {
    /// Appends one event: under the tenant's listing and, when it names a subject, under the
    /// subject's too (both or neither). An event without a subject is one item.
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Events of a tenant (or of one subject of it) with `from ≤ at ≤ to`, newest first.
    async fn list(
        &self,
        tenant: &str,
        subject: Option<&str>,
        from: i64,
        to: i64,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<AuditPage, StoreError>;
}

/// Readiness: whether this instance can serve, beyond being alive.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// The table answers (one read of the sealed canary) and, with `check_key`, the secret key
    /// opens the canary (sealed by the first check of a deployment if it is absent):
    /// [`StoreError::SecretKey`] when it does not, another error when the table fails.
    async fn ready(&self, check_key: bool) -> Result<(), StoreError>;
}
