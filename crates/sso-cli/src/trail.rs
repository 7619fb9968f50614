//! Admin changes as audit events: every command that writes the directory (add, update,
//! enable, disable, delete, link, secret rotation, test mode, import, rotate-key) records who
//! made it, what it did and when, once it has succeeded.
//!
//! Who is `--actor` (or `SSO_ACTOR`), else the OS user (`$USER`, `$LOGNAME`). What is the verb,
//! the record kind and its names, taken from the command line, which never holds a secret
//! (secrets come on stdin): `update vendor 1001 of acme`. The event goes to the record's
//! tenant (`my` for portal groups, agents and administrators), under the record's id as
//! subject, so `sso audit --tenant acme --subject 1001` shows a vendor's changes beside its
//! sign-ins; and a copy to the `admin` listing (a reserved host name, never a tenant), the
//! whole trail of changes in one place: `sso audit --tenant admin --since 7d`.

use clap::ArgMatches;
use sso_store::Store;
use sso_store::model::{AuditEvent, Outcome, Protocol};
use sso_store::port::Audit;

use crate::CliError;

/// The listing that holds every admin change.
pub const ADMIN_TRAIL: &str = "admin";

/// One change, as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `add`, `update`, `delete`, `import`…
    pub verb: String,
    /// `vendor`, `tenant`, `directory`…
    pub kind: String,
    /// The record's tenant; `my` for portal records; `None` for what spans tenants.
    pub tenant: Option<String>,
    /// The record's id, username or email (empty for what spans records).
    pub subject: String,
    /// What the record belongs to, as the outcome names it (`acme`, `group 21`).
    pub scope: Option<String>,
    /// More, known only once the change is made (an import's counts).
    pub detail: Option<String>,
}

impl Change {
    /// What the event's outcome says: `update vendor 1001 of acme`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.verb, self.kind);
        if !self.subject.is_empty() {
            s.push(' ');
            s.push_str(&self.subject);
        }
        if let Some(scope) = self.scope.as_deref().filter(|t| *t != self.subject) {
            s.push_str(" of ");
            s.push_str(scope);
        }
        if let Some(d) = &self.detail {
            s.push_str(": ");
            s.push_str(d);
        }
        s
    }
}

/// Leaves that only read: no event.
const READS: [&str; 3] = ["list", "show", "audit"];

/// Record kinds that belong to the portal (`my`), not to a tenant.
const PORTAL_KINDS: [&str; 3] = ["group", "agent", "administrator"];

fn raw(m: &ArgMatches, id: &str) -> Option<String> {
    m.try_get_raw(id)
        .ok()
        .flatten()
        .map(|vals| {
            vals.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|v| !v.is_empty())
}

/// The change a parsed command line makes, if it writes the directory.
pub fn change_of(matches: &ArgMatches) -> Option<Change> {
    let (top, m) = matches.subcommand()?;
    match top {
        "import" if !m.get_flag("dry_run") => Some(Change {
            verb: "import".into(),
            kind: "directory".into(),
            tenant: None,
            subject: raw(m, "file").unwrap_or_default(),
            scope: None,
            detail: None,
        }),
        "rotate-key" => Some(Change {
            verb: "rotate-key".into(),
            kind: "secret key".into(),
            tenant: None,
            subject: String::new(),
            scope: None,
            detail: None,
        }),
        "test-mode" => Some(Change {
            verb: format!("test-mode {}", raw(m, "switch").unwrap_or_default()),
            kind: "vendor".into(),
            tenant: raw(m, "tenant"),
            subject: raw(m, "vendor").unwrap_or_default(),
            scope: raw(m, "tenant"),
            detail: None,
        }),
        "tenant" | "vendor" | "client" | "helpdesk-user" | "platform-key" | "group" | "agent"
        | "administrator" => {
            let (verb, leaf) = m.subcommand()?;
            if READS.contains(&verb) {
                return None;
            }
            let tenant = if PORTAL_KINDS.contains(&top) {
                Some("my".to_owned())
            } else if top == "tenant" {
                raw(leaf, "name")
            } else {
                raw(leaf, "tenant")
            };
            let subject = ["id", "username", "email", "key_id", "name"]
                .iter()
                .find_map(|id| raw(leaf, id))
                .unwrap_or_default();
            let scope = match top {
                "agent" => raw(leaf, "group").map(|g| format!("group {g}")),
                "group" | "administrator" => None,
                _ => tenant.clone(),
            };
            Some(Change {
                verb: verb.into(),
                kind: top.into(),
                tenant,
                subject,
                scope,
                detail: None,
            })
        }
        _ => None,
    }
}

/// Who is making changes: `--actor` / `SSO_ACTOR`, else the OS user.
pub fn actor(flag: Option<String>) -> String {
    flag.filter(|a| !a.is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// Records a change made at `now` by `actor`: under its tenant (with its subject) and in
/// the [`ADMIN_TRAIL`].
pub async fn record(store: &Store, change: &Change, actor: &str, now: i64) -> Result<(), CliError> {
    let event = |tenant: &str, subject: &str| AuditEvent {
        at: now,
        tenant: tenant.to_owned(),
        protocol: Protocol::Admin,
        issuer: actor.to_owned(),
        subject: subject.to_owned(),
        source_ip: "cli".into(),
        outcome: Outcome::AdminChange(change.describe()),
    };
    if let Some(t) = &change.tenant {
        store.append(&event(t, &change.subject)).await?;
    }
    store.append(&event(ADMIN_TRAIL, "")).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_as_verb_kind_id_and_tenant() {
        let c = Change {
            verb: "update".into(),
            kind: "vendor".into(),
            tenant: Some("acme".into()),
            subject: "1001".into(),
            scope: Some("acme".into()),
            detail: None,
        };
        assert_eq!(c.describe(), "update vendor 1001 of acme");
        let a = Change {
            verb: "disable".into(),
            kind: "agent".into(),
            tenant: Some("my".into()),
            subject: "agent1".into(),
            scope: Some("group 21".into()),
            detail: None,
        };
        assert_eq!(a.describe(), "disable agent agent1 of group 21");
        let t = Change {
            verb: "add".into(),
            kind: "tenant".into(),
            tenant: Some("acme".into()),
            subject: "acme".into(),
            scope: Some("acme".into()),
            detail: None,
        };
        assert_eq!(t.describe(), "add tenant acme");
    }
}
