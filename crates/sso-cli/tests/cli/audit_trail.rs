//! Admin changes are audit events, listed by `sso audit` with `--since` / `--until` and
//! human times, through the real binary on both stores.

use super::admin::Operator;

fn lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| !l.is_empty()).collect()
}

fn admin_changes_are_audited(op: &Operator) {
    // GIVEN two changes made by two operators.
    op.ok("tenant add acme --actor alice", "");
    op.ok(
        "vendor add --tenant acme --id 1001 --actor bob",
        "vendor-secret\n",
    );

    // THEN the vendor's change is listed under its tenant and id: who, what, when, no secret.
    let (events, _) = op.ok("audit --tenant acme --subject 1001", "");
    let events = lines(&events);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = events[0];
    for part in [
        "\"outcome\":\"admin:add vendor 1001 of acme\"",
        "\"issuer\":\"bob\"",
        "\"protocol\":\"admin\"",
        "\"at_utc\":\"20",
        "Z\"",
    ] {
        assert!(e.contains(part), "{part} in {e}");
    }
    assert!(!e.contains("vendor-secret"), "{e}");

    // AND the admin trail holds every change; a refused write and a read add nothing.
    op.refused("tenant add acme", "", &["already exists"]);
    op.ok("tenant list", "");
    let (trail, _) = op.ok("audit --tenant admin", "");
    let trail = lines(&trail);
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert!(
        trail
            .iter()
            .any(|l| l.contains("admin:add tenant acme") && l.contains("\"issuer\":\"alice\""))
    );

    // AND --since / --until filter by time, in every form an operator types.
    for window in [
        "--since 1h",
        "--since 2000-01-01",
        "--until 2099-01-01T00:00:00Z",
    ] {
        let (got, _) = op.ok(&format!("audit --tenant admin {window}"), "");
        assert_eq!(lines(&got).len(), 2, "{window}: {got}");
    }
    for window in [
        "--until 1h",
        "--since 2099-01-01",
        "--until 2000-01-01T00:00:00Z",
    ] {
        let (got, _) = op.ok(&format!("audit --tenant admin {window}"), "");
        assert!(lines(&got).is_empty(), "{window}: {got}");
    }
    op.refused(
        "audit --tenant admin --since yesterday",
        "",
        &["`yesterday`", "RFC 3339"],
    );
    op.refused(
        "audit --tenant admin --since 1h --until 2h",
        "",
        &["is after --until"],
    );

    // AND a portal record's change is listed under `my`, by its username.
    op.ok("group add --id 21 --name G", "");
    op.ok(
        "agent add --group 21 --username agent1 --fullname A",
        "agent-secret\n",
    );
    let (agent, _) = op.ok("audit --tenant my --subject agent1", "");
    assert!(
        agent.contains("\"outcome\":\"admin:add agent agent1 of group 21\"")
            && !agent.contains("agent-secret"),
        "{agent}"
    );

    // AND an import is one change in the trail, with its counts.
    let file = op.data.with_extension("audit-import.toml");
    std::fs::write(
        &file,
        "[[client]]\ntenants = [\"acme\"]\nclient_id = \"7\"\nemail = \"c@example.com\"\n",
    )
    .unwrap();
    op.ok(&format!("import {}", file.display()), "");
    let (trail, _) = op.ok("audit --tenant admin", "");
    assert_eq!(lines(&trail).len(), 5, "{trail}");
    assert!(
        trail.contains("admin:import directory")
            && trail.contains("1 added, 0 replaced, 0 skipped"),
        "{trail}"
    );
    let _ = std::fs::remove_file(file);
}

#[test]
fn admin_changes_are_audit_events_on_the_embedded_store() {
    admin_changes_are_audited(&Operator::embedded("trail-embedded"));
}

#[test]
fn admin_changes_are_audit_events_on_dynamodb() {
    admin_changes_are_audited(&Operator::dynamodb("trail-dynamo"));
}
