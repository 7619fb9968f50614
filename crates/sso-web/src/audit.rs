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
#[derive(Debug)]
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

impl Attempt<'_> {
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
}
