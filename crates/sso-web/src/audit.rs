//! One builder for audit events, so every protocol records an attempt the same way: clipped
//! names, the platform's clock, one log line (target `audit`), the store when configured.

use sso_store::model::{AuditEvent, Outcome, Protocol};

use crate::Platform;

/// Names longer than this are clipped in audit events (they come from requests).
pub const MAX_AUDIT_NAME: usize = 128;

fn clip(s: &str) -> String {
    s.chars().take(MAX_AUDIT_NAME).collect()
}

/// An attempt being described; [`Attempt::record`] writes it.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    platform: &'a Platform,
    event: AuditEvent,
}

impl Platform {
    /// Starts the audit event of an attempt at `protocol` on `tenant` from `source_ip`.
    pub fn attempt(
        &self,
        protocol: Protocol,
        tenant: &str,
        source_ip: impl std::fmt::Display,
    ) -> Attempt<'_> {
        Attempt {
            platform: self,
            event: AuditEvent {
                at: self.now(),
                tenant: tenant.to_owned(),
                protocol,
                issuer: String::new(),
                subject: String::new(),
                source_ip: source_ip.to_string(),
                outcome: Outcome::Ok,
            },
        }
    }
}

impl<'a> Attempt<'a> {
    /// The vendor, key, group or door.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.event.issuer = clip(issuer);
        self
    }

    /// The subject as presented.
    pub fn subject(mut self, subject: &str) -> Self {
        self.event.subject = clip(subject);
        self
    }

    /// Records the attempt with its outcome.
    pub async fn record(mut self, outcome: Outcome) {
        self.event.outcome = outcome;
        self.platform.record(self.event).await;
    }

    /// The attempt's event as it will be if `outcome` comes about, for the store to write
    /// with the write that brings it about (see [`Riding`]).
    pub fn if_it_ends(mut self, outcome: Outcome) -> Riding<'a> {
        self.event.outcome = outcome;
        Riding {
            platform: self.platform,
            event: self.event,
        }
    }
}

/// An audit event that rides with the write it describes (a new session, a redeemed token):
/// the store writes both in one durable commit where it can, so a sign-in waits for one
/// commit instead of two in turn. It is stored only when that write succeeds; then
/// [`Riding::stored`] logs and counts it like [`Attempt::record`] (which stores it itself).
#[derive(Debug)]
pub struct Riding<'a> {
    platform: &'a Platform,
    event: AuditEvent,
}

impl Riding<'_> {
    /// The event for the store to write, when the audit trail is kept there.
    pub fn to_store(&self) -> Option<&AuditEvent> {
        self.platform.config.audit_to_store.then_some(&self.event)
    }

    /// The write succeeded and stored the event: logs and counts it. `issuer` and `subject`
    /// are those the store found (a token's session), when they were not known before.
    pub fn stored(mut self, found: Option<(&str, &str)>) {
        if let Some((issuer, subject)) = found {
            self.event.issuer = clip(issuer);
            self.event.subject = clip(subject);
        }
        self.platform.log_event(&self.event);
    }
}
