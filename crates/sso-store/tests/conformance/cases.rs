//! The cases, each written once against the port traits.

use std::collections::BTreeSet;
use std::sync::Arc;

use sso_core::ident::{OneTimeToken, SessionId, StorageKey};
use sso_core::signed_link::VendorSecret;
use sso_core::throttle::LockoutPolicy;
use sso_store::faults::{Fault, Faulty};
use sso_store::item::{EXPIRES_AT, Key, Query};
use sso_store::model::{
    Agent, AuditEvent, Claims, GroupLink, LoginPlan, NewSession, NewToken, Outcome, Protocol,
    Recorded, Redemption, Session, TokenPurpose,
};
use sso_store::port::{Audit, Directory, DirectoryAdmin, ReplayGuard, Sessions, Throttle, Tokens};
use sso_store::{SecretBox, Store, StoreError, keys, password};

const DEMO: &str = include_str!("../../import/demo.toml");
const NOW: i64 = 1_700_000_000;

fn token_key(n: u8) -> StorageKey {
    OneTimeToken::from_random_bytes([n; 16]).storage_key()
}

/// Tokens and sessions share one key space (a redeemed token is its session), so the test
/// keys of the two never coincide.
fn session_key(n: u8) -> StorageKey {
    SessionId::from_random_bytes([n ^ 0x80; 16]).storage_key()
}

/// What the test tokens carry (the redeemed session and a taken note must give it back).
fn token_claims() -> Claims {
    Claims::Helpdesk {
        username: "joe".into(),
        user_id: 30,
        signed_in_by: Some("127.0.0.1".into()),
    }
}

fn new_token(reusable: bool, expires_at: i64, slot: Option<&str>) -> NewToken {
    NewToken {
        tenant: "demoaws".into(),
        subject: "joe".into(),
        purpose: TokenPurpose::Login(LoginPlan {
            protocol: Protocol::Helpdesk,
            issuer: "admin".into(),
            idle_secs: 1800,
            lifetime_secs: 1800,
        }),
        reusable,
        claims: token_claims(),
        issued_at: NOW,
        expires_at,
        replace_slot: slot.map(str::to_owned),
        bound_addr: Some("127.0.0.1".into()),
    }
}

/// A help-desk redemption from `addr` (or unbound), one-time or reusable.
fn how(addr: Option<&str>, reusable: bool) -> Redemption {
    Redemption {
        protocol: Protocol::Helpdesk,
        from_addr: addr.map(str::to_owned),
        secret_sha256: "ab".repeat(32),
        reusable,
    }
}

fn once() -> Redemption {
    how(None, false)
}

fn new_session(subject: &str, created: i64) -> NewSession {
    NewSession {
        tenant: "demoaws".into(),
        subject: subject.into(),
        protocol: Protocol::SignedLink,
        issuer: "1001".into(),
        created_at: created,
        idle_secs: 1800,
        absolute_expiry: created + 36_000,
        secret_sha256: None,
        keep_until: None,
        claims: Claims::SignedLink {
            client_id: subject.into(),
            email: format!("{subject}@example.com"),
            vendor: Some("1001".into()),
        },
    }
}

pub async fn the_demo_directory_imports_and_reads_back(store: &Store) {
    let summary = store.import("demo.toml", DEMO).await.expect("demo imports");
    assert!(summary.records > 20, "{summary:?}");

    let tenants: BTreeSet<String> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        tenants,
        BTreeSet::from(["demoaws".into(), "sandboxdemo".into()])
    );
    let t = store.tenant("demoaws").await.unwrap().unwrap();
    assert_eq!(
        (t.departments.clone(), t.campaigns.clone()),
        (vec![1, 2], vec![1, 2, 3])
    );
    assert!(store.tenant("nope").await.unwrap().is_none());

    let v = store.vendor("demoaws", "1002").await.unwrap().unwrap();
    assert_eq!(v.secrets.current, VendorSecret::new("vendorpass2"));
    assert_eq!(
        v.failure_url.as_deref(),
        Some("https://partner.example/fail.php")
    );
    assert_eq!(v.logout_url.as_deref(), Some("https://partner.example/bye"));
    assert!(store.vendor("demoaws", "9999").await.unwrap().is_none());

    let c = store.client("sandboxdemo", "1234").await.unwrap().unwrap();
    assert_eq!(c.email, "client@example.com");
    assert!(password::verify(c.verifier.as_deref(), "clientpass"));
    let dups = store
        .clients_by_email("demoaws", "DUP@example.com")
        .await
        .unwrap();
    let ids: BTreeSet<String> = dups.into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, BTreeSet::from(["5678".into(), "5679".into()]));
    assert_eq!(sharing(store, "client@example.com").await, 1);
    assert!(
        store
            .clients_by_email("demoaws", "nobody@example.com")
            .await
            .unwrap()
            .is_empty()
    );

    let admin = store
        .helpdesk_user("demoaws", "admin")
        .await
        .unwrap()
        .unwrap();
    assert!(admin.api_rights && !admin.primary_admin);
    // Help-desk verifiers are of the md5 hex, which is what api_pass_h / sso_pass carry.
    assert!(password::verify(
        Some(&admin.verifier),
        "cc03e747a6afbbcbf8be7668acfebee5"
    ));
    let by_key = store
        .helpdesk_user_by_api_key("demoaws", &StorageKey::of_secret("demo-api-key"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.username, "admin");
    assert!(
        store
            .helpdesk_user("demoaws", "owner")
            .await
            .unwrap()
            .unwrap()
            .primary_admin
    );
    assert_eq!(
        store
            .helpdesk_user("demoaws", "joe")
            .await
            .unwrap()
            .unwrap()
            .id,
        2
    );

    let key = store
        .platform_key("demoaws", &StorageKey::of_secret("demo-platform-key"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.allow_list, ["127.0.0.1/32", "::1/128"]);
    assert!(
        store
            .platform_key("demoaws", &StorageKey::of_secret("wrong"))
            .await
            .unwrap()
            .is_none()
    );

    let g = store.group(21).await.unwrap().unwrap();
    assert_eq!(g.links.len(), 2);
    let agent = store.agent(21, "agent1").await.unwrap().unwrap();
    assert!(password::verify(Some(&agent.verifier), "agentpass"));
    let adm = store
        .administrator("Admin@Example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(adm.groups, [21]);
    assert_eq!(store.list_agents(21).await.unwrap().len(), 1);
    assert_eq!(store.list_vendors("demoaws").await.unwrap().len(), 2);
    assert_eq!(store.list_clients("demoaws").await.unwrap().len(), 3);
    assert_eq!(store.list_helpdesk_users("demoaws").await.unwrap().len(), 3);
    let keys = store.list_platform_keys("demoaws").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].0,
        StorageKey::of_secret("demo-platform-key").to_hex()
    );
    assert_eq!(store.list_groups().await.unwrap()[0].id, 21);
    assert_eq!(
        store.list_administrators().await.unwrap()[0].email,
        "admin@example.com"
    );
}

pub async fn importing_twice_changes_nothing_and_a_bad_file_writes_nothing(store: &Store) {
    let bad = format!(
        "{DEMO}\n[[client]]\ntenants = [\"elsewhere\"]\nclient_id = \"1\"\nemail = \"x@example.com\"\n"
    );
    match store.import("bad.toml", &bad).await {
        Err(StoreError::Import { location, message }) => {
            assert_eq!(location, "client[3].tenants");
            assert!(message.contains("elsewhere"), "{message}");
        }
        other => panic!("expected an import error, got {other:?}"),
    }
    assert!(
        store.list_tenants().await.unwrap().is_empty(),
        "nothing may be written"
    );

    let syntax = "[[tenant]]\nname = \"a\"\n\n[[vendor]]\nid = 7\n";
    match store.import("syntax.toml", syntax).await {
        Err(StoreError::Import { location, .. }) => {
            assert!(location.starts_with("syntax.toml: line 5"), "{location}")
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let unknown_field = "[[tenant]]\nname = \"a\"\ncolour = \"red\"\n";
    assert!(store.import("u.toml", unknown_field).await.is_err());
    assert!(store.list_tenants().await.unwrap().is_empty());

    let first = store.import("demo.toml", DEMO).await.unwrap();
    let clients_before = store.list_clients("demoaws").await.unwrap();
    let second = store.import("demo.toml", DEMO).await.unwrap();
    assert_eq!(first, second);
    let clients_after = store.list_clients("demoaws").await.unwrap();
    assert_eq!(clients_before.len(), clients_after.len());
    assert_eq!(sharing(store, "dup@example.com").await, 2);

    // Changing a client's email moves its index entry.
    let mut c = store.client("demoaws", "5679").await.unwrap().unwrap();
    c.email = "solo@example.com".into();
    store.put_client(&c).await.unwrap();
    assert_eq!(sharing(store, "dup@example.com").await, 1);
    assert_eq!(sharing(store, "solo@example.com").await, 1);
}

pub async fn vendor_secrets_and_passwords_are_never_stored_in_clear(store: &Store) {
    store.import("demo.toml", DEMO).await.unwrap();
    let raw = |key: Key| async move { format!("{:?}", store.backend().get(&key).await.unwrap()) };
    let vendor = raw(keys::vendor("demoaws", "1001")).await;
    assert!(!vendor.contains("vendorpass"), "{vendor}");
    let agent = raw(keys::agent(21, "agent1")).await;
    assert!(
        !agent.contains("agentpass") && agent.contains("$argon2id$"),
        "{agent}"
    );
    let key = raw(keys::platform_key(
        "demoaws",
        &StorageKey::of_secret("demo-platform-key"),
    ))
    .await;
    assert!(!key.contains("demo-platform-key"));
    let v = store.vendor("demoaws", "1001").await.unwrap().unwrap();
    assert!(
        !format!("{v:?}").contains("vendorpass"),
        "Debug must not print secrets"
    );
}

pub async fn a_one_time_token_is_redeemed_exactly_once_by_64_concurrent_redeemers(store: &Store) {
    let key = token_key(1);
    issued(store, &key, new_token(false, NOW + 300, None)).await;
    let redeemed = at_once(store, 64, |store, _| async move {
        store.redeem("demoaws", &key, NOW, &once()).await
    })
    .await;
    let mut wins = 0;
    for r in redeemed.into_iter().flatten() {
        assert_eq!(r.session.subject, "joe");
        assert_eq!(r.session.claims, token_claims());
        wins += 1;
    }
    assert_eq!(wins, 1);
    assert!(!redeems(store, &key, NOW, &once()).await);
    // A token is bound to its tenant.
    let other = token_key(2);
    issued(store, &other, new_token(false, NOW + 300, None)).await;
    assert!(
        store
            .redeem("sandboxdemo", &other, NOW, &once())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_bound_token_is_redeemed_only_from_its_address_and_not_burnt_elsewhere(
    store: &Store,
) {
    let key = token_key(30);
    issued(store, &key, new_token(false, NOW + 300, None)).await;
    assert!(!redeems(store, &key, NOW, &how(Some("10.0.0.1"), false)).await);
    assert!(redeems(store, &key, NOW, &how(Some("127.0.0.1"), false)).await);
    assert!(!redeems(store, &key, NOW, &how(Some("127.0.0.1"), false)).await);
}

pub async fn a_reusable_token_works_until_it_expires(store: &Store) {
    let key = token_key(3);
    issued(store, &key, new_token(true, NOW + 60, None)).await;
    // Each redemption brings a fresh cookie secret, so each starts a session of its own.
    let fresh = |i: i64| Redemption {
        secret_sha256: format!("{i:064}"),
        ..how(None, true)
    };
    for i in 0..3 {
        assert!(redeems(store, &key, NOW + i, &fresh(i)).await);
    }
    assert!(redeems(store, &key, NOW + 59, &fresh(59)).await);
    assert!(!redeems(store, &key, NOW + 60, &fresh(60)).await);
    assert!(!redeems(store, &token_key(99), NOW, &how(None, true)).await);
}

pub async fn a_new_token_for_the_same_slot_replaces_the_previous_one(store: &Store) {
    let (first, second, other) = (token_key(4), token_key(5), token_key(6));
    issued(
        store,
        &first,
        new_token(false, NOW + 300, Some("joe|10.0.0.1")),
    )
    .await;
    issued(
        store,
        &other,
        new_token(false, NOW + 300, Some("joe|10.0.0.2")),
    )
    .await;
    issued(
        store,
        &second,
        new_token(false, NOW + 300, Some("joe|10.0.0.1")),
    )
    .await;
    assert!(!redeems(store, &first, NOW, &once()).await, "replaced");
    assert!(redeems(store, &second, NOW, &once()).await);
    assert!(
        redeems(store, &other, NOW, &once()).await,
        "other IP untouched"
    );
}

pub async fn a_redeemed_token_is_its_session_from_redemption_on(store: &Store) {
    let key = token_key(40);
    issued(store, &key, new_token(false, NOW + 300, None)).await;
    assert!(
        !live(store, "demoaws", &key, NOW).await,
        "a token not yet redeemed is no session"
    );
    let r = store
        .redeem("demoaws", &key, NOW + 100, &once())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.key, key);
    assert_eq!(r.session.protocol, Protocol::Helpdesk);
    assert_eq!(r.session.issuer, "admin");
    assert_eq!(r.session.created_at, NOW + 100);
    assert_eq!(
        r.session.absolute_expiry,
        NOW + 100 + 1800,
        "lifetime from redemption"
    );
    assert_eq!(
        r.session.secret_sha256.as_deref(),
        Some("ab".repeat(32).as_str())
    );
    let s = session(store, &key, NOW + 1000).await;
    assert_eq!(s.subject, "joe");
    assert_eq!(s.claims, token_claims());
    assert!(
        !live(store, "demoaws", &key, NOW + 100 + 1800).await,
        "ended at its absolute lifetime"
    );
    assert!(
        !live(store, "sandboxdemo", &key, NOW + 200).await,
        "another tenant's host"
    );
}

pub async fn a_token_opens_only_the_door_it_was_issued_for(store: &Store) {
    let key = token_key(41);
    issued(store, &key, new_token(false, NOW + 300, None)).await;
    let mut callcenter = once();
    callcenter.protocol = Protocol::CallCenter;
    assert!(
        !redeems(store, &key, NOW, &callcenter).await,
        "a help-desk token at the call-center door"
    );
    assert!(store.take("demoaws", &key, NOW).await.unwrap().is_none());
    assert!(
        redeems(store, &key, NOW, &once()).await,
        "the refusals consumed nothing"
    );
    let pending = token_key(42);
    let mut note = new_token(false, NOW + 300, None);
    note.purpose = TokenPurpose::Pending;
    store.issue(&pending, &note).await.unwrap();
    assert!(
        !redeems(store, &pending, NOW, &once()).await,
        "a pending note is no login token"
    );
    let taken = store.take("demoaws", &pending, NOW).await.unwrap().unwrap();
    assert_eq!(taken.claims, token_claims());
    assert!(
        store
            .take("demoaws", &pending, NOW)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn replacing_a_redeemed_token_leaves_its_session_alone(store: &Store) {
    let (first, second) = (token_key(43), token_key(44));
    issued(
        store,
        &first,
        new_token(false, NOW + 300, Some("joe|10.9.9.9")),
    )
    .await;
    store
        .redeem("demoaws", &first, NOW, &once())
        .await
        .unwrap()
        .unwrap();
    let mut again = new_token(false, NOW + 400, Some("joe|10.9.9.9"));
    again.issued_at = NOW + 10;
    store.issue(&second, &again).await.unwrap();
    assert!(
        live(store, "demoaws", &first, NOW + 20).await,
        "the session the first token became lives on"
    );
    assert!(redeems(store, &second, NOW + 20, &once()).await);
}

pub async fn the_replay_guard_records_exactly_once_under_64_concurrent_records(store: &Store) {
    let recorded = at_once(store, 64, |store, _| async move {
        store
            .record("demoaws", "1001", "abcdef", NOW, NOW + 100)
            .await
    })
    .await;
    let firsts = recorded.iter().filter(|r| **r == Recorded::First).count();
    assert_eq!(firsts, 1);
    for (tenant, vendor, now, expires, expected, why) in [
        (
            "demoaws",
            "1001",
            NOW + 99,
            NOW + 200,
            Recorded::Replay,
            "the same link",
        ),
        (
            "demoaws",
            "1002",
            NOW,
            NOW + 100,
            Recorded::First,
            "per vendor",
        ),
        (
            "sandboxdemo",
            "1001",
            NOW,
            NOW + 100,
            Recorded::First,
            "per tenant",
        ),
        (
            "demoaws",
            "1001",
            NOW + 100,
            NOW + 200,
            Recorded::First,
            "after expiry",
        ),
    ] {
        let recorded = store.record(tenant, vendor, "abcdef", now, expires).await;
        assert_eq!(recorded.unwrap(), expected, "{why}");
    }
}

pub async fn expired_items_are_invisible_before_any_ttl_cleanup(store: &Store) {
    let key = token_key(7);
    issued(store, &key, new_token(false, NOW + 10, None)).await;
    assert!(!redeems(store, &key, NOW + 10, &once()).await);
    let s = session_key(7);
    let mut ns = new_session("1234", NOW);
    ns.absolute_expiry = NOW + 100;
    store.create(&s, &ns).await.unwrap();
    assert!(live(store, "demoaws", &s, NOW + 99).await);
    assert!(!live(store, "demoaws", &s, NOW + 100).await);
    // The item is still physically there (moto and DynamoDB's lazy TTL): only reads hide it.
    assert!(
        store
            .backend()
            .get(&keys::session("demoaws", &s))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn sessions_end_by_idle_timeout_unless_touched_and_by_absolute_lifetime(store: &Store) {
    let (busy, idle) = (session_key(8), session_key(9));
    created(store, &busy, new_session("1234", NOW)).await;
    created(store, &idle, new_session("1234", NOW)).await;
    let s = session(store, &busy, NOW + 1000).await;
    assert_eq!(
        (s.subject.as_str(), s.protocol, s.issuer.as_str()),
        ("1234", Protocol::SignedLink, "1001")
    );
    assert!(
        matches!(&s.claims, Claims::SignedLink { client_id, .. } if client_id == "1234"),
        "{:?}",
        s.claims
    );
    // Touching within the interval writes nothing; after it, it moves last_seen.
    store
        .touch("demoaws", &busy, &s, NOW + 1000, 60)
        .await
        .unwrap();
    let again = session(store, &busy, NOW + 1001).await;
    assert_eq!(again.last_seen, NOW + 1000);
    store
        .touch("demoaws", &busy, &again, NOW + 1030, 60)
        .await
        .unwrap();
    assert_eq!(
        session(store, &busy, NOW + 1031).await.last_seen,
        NOW + 1000
    );

    assert!(live(store, "demoaws", &idle, NOW + 1799).await);
    assert!(!live(store, "demoaws", &idle, NOW + 1800).await, "idle");
    assert!(
        live(store, "demoaws", &busy, NOW + 2500).await,
        "touched in time"
    );
    assert!(
        !live(store, "sandboxdemo", &busy, NOW + 2500).await,
        "other tenant"
    );

    // Keep it busy up to its absolute lifetime, which still ends it.
    let mut t = NOW + 2500;
    while t < NOW + 36_000 {
        let s = session(store, &busy, t).await;
        store.touch("demoaws", &busy, &s, t, 60).await.unwrap();
        t += 1700;
    }
    assert!(live(store, "demoaws", &busy, NOW + 35_999).await);
    assert!(
        !live(store, "demoaws", &busy, NOW + 36_000).await,
        "absolute"
    );
}

pub async fn revoked_sessions_and_subjects_are_refused(store: &Store) {
    let (a, b, c) = (session_key(10), session_key(11), session_key(12));
    created(store, &a, new_session("1234", NOW)).await;
    created(store, &b, new_session("agent1", NOW)).await;
    store.revoke("demoaws", &a, NOW + 5).await.unwrap();
    assert!(!live(store, "demoaws", &a, NOW + 6).await);
    store
        .revoke_all_for_subject("demoaws", "agent1", NOW + 10)
        .await
        .unwrap();
    assert!(!live(store, "demoaws", &b, NOW + 11).await);
    created(store, &c, new_session("agent1", NOW + 20)).await;
    assert!(
        live(store, "demoaws", &c, NOW + 21).await,
        "new sign-ins work"
    );
    // The revocation is in the store, not only in this process's cache.
    let fresh = Store::new(
        Arc::clone(store.backend()),
        sso_store::SecretBox::new([42; 32]),
    );
    assert!(!live(&fresh, "demoaws", &b, NOW + 11).await);
    // A revoked session's item stays (it may carry a replay record) until its expiry.
    assert_eq!(
        store
            .create(&a, &new_session("1234", NOW + 7))
            .await
            .unwrap(),
        Recorded::Replay
    );
    // The tenant's latest-revocation marker only moves up: a revocation stamped earlier
    // (written late, or from a clock behind) does not lower it.
    store
        .revoke_all_for_subject("sandboxdemo", "x", NOW + 100)
        .await
        .unwrap();
    store
        .revoke_all_for_subject("sandboxdemo", "y", NOW + 90)
        .await
        .unwrap();
    assert_eq!(
        Directory::not_before(store, "sandboxdemo", "\u{0}any")
            .await
            .unwrap(),
        Some(NOW + 100)
    );
    assert_eq!(
        Directory::not_before(store, "sandboxdemo", "y")
            .await
            .unwrap(),
        Some(NOW + 90)
    );
}

pub async fn a_session_key_can_be_created_only_once(store: &Store) {
    let k = session_key(13);
    let created = at_once(store, 16, |store, _| async move {
        store.create(&k, &new_session("1234", NOW)).await
    })
    .await;
    let firsts = created.iter().filter(|r| **r == Recorded::First).count();
    assert_eq!(firsts, 1);
}

pub async fn the_throttle_locks_after_thirty_failures_and_releases(store: &Store) {
    let p = LockoutPolicy::default();
    let key = "helpdesk|demoaws|admin|127.0.0.1";
    for i in 1..=29 {
        assert_eq!(
            store.record_failure(key, NOW, &p).await.unwrap().failures,
            i
        );
    }
    assert_eq!(store.locked_until(key, NOW, &p).await.unwrap(), None);
    store.record_failure(key, NOW, &p).await.unwrap();
    assert_eq!(
        store.locked_until(key, NOW + 59, &p).await.unwrap(),
        Some(NOW + 60)
    );
    assert_eq!(store.locked_until(key, NOW + 60, &p).await.unwrap(), None);
    assert_eq!(
        store
            .locked_until("helpdesk|demoaws|admin|10.0.0.9", NOW, &p)
            .await
            .unwrap(),
        None,
        "per IP"
    );
    // Twelve quiet hours forget the count.
    assert_eq!(
        store
            .record_failure(key, NOW + 43_200, &p)
            .await
            .unwrap()
            .failures,
        1
    );
    store.clear(key).await.unwrap();
    assert_eq!(failures(store, key, NOW + 43_201, &p).await, 0);
}

pub async fn concurrent_failures_are_all_counted(store: &Store) {
    at_once(store, 20, |store, _| async move {
        store
            .record_failure("k", NOW, &LockoutPolicy::default())
            .await
    })
    .await;
    assert_eq!(
        failures(store, "k", NOW, &LockoutPolicy::default()).await,
        20
    );
}

pub async fn at_most_thirty_of_64_concurrent_reservations_pass_and_a_lock_refuses_them(
    store: &Store,
) {
    let policy = LockoutPolicy::default();
    let reservations = at_once(store, 64, |store, _| async move {
        store.reserve("burst", NOW, &LockoutPolicy::default()).await
    })
    .await;
    let reserved = reservations.iter().filter(|r| r.is_some()).count();
    assert_eq!(reserved, 30, "the 31st attempt finds the key locked");
    assert_eq!(failures(store, "burst", NOW, &policy).await, 30);
    // Refused attempts neither counted nor prolonged the lock: a minute later one more
    // attempt may run (and is counted), then the key locks again.
    let reserve = |at: i64| store.reserve("burst", at, &policy);
    assert!(reserve(NOW + 59).await.unwrap().is_none());
    let next = reserve(NOW + 60).await.unwrap().unwrap();
    assert_eq!(next.failures, 31);
    assert!(reserve(NOW + 61).await.unwrap().is_none());
    // A reservation whose check never ran is given back; nothing is created for none.
    store.release("burst", NOW + 62).await.unwrap();
    assert_eq!(failures(store, "burst", NOW + 62, &policy).await, 30);
    store.release("never-reserved", NOW).await.unwrap();
    assert_eq!(failures(store, "never-reserved", NOW, &policy).await, 0);
    // 12 h after the last failure the count starts again.
    let fresh = store
        .reserve("burst", NOW + 60 + 12 * 3600, &policy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.failures, 1);
}

/// Whether a redemption of `key` on `demoaws` at `at` starts a session.
/// Runs `op(store, i)` for each `i` in `0..n`, all at once on the runtime's threads; what each
/// returned (every call must succeed).
async fn at_once<T, Fut>(store: &Store, n: u64, op: impl Fn(Arc<Store>, u64) -> Fut) -> Vec<T>
where
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    T: Send + 'static,
{
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(op(Arc::clone(&store), i)))
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

/// How many demoaws clients have this email.
async fn sharing(store: &Store, email: &str) -> usize {
    let found = store.clients_by_email("demoaws", email).await.unwrap();
    found.len()
}

/// The live demoaws session under `key` at `at`.
async fn session(store: &Store, key: &StorageKey, at: i64) -> Session {
    let found = Sessions::get(store, "demoaws", key, at).await.unwrap();
    found.expect("a live session")
}

/// Creates a test session under `key`.
async fn created(store: &Store, key: &StorageKey, session: NewSession) {
    store.create(key, &session).await.unwrap();
}

/// The throttle's failure count for `key` at `at`.
async fn failures(store: &Store, key: &str, at: i64, policy: &LockoutPolicy) -> u32 {
    store.failures(key, at, policy).await.unwrap().failures
}

/// The session under `key` on `tenant` is live at `at`.
async fn live(store: &Store, tenant: &str, key: &StorageKey, at: i64) -> bool {
    Sessions::get(store, tenant, key, at)
        .await
        .unwrap()
        .is_some()
}

/// Issues a test token under `key`.
async fn issued(store: &Store, key: &StorageKey, token: NewToken) {
    store.issue(key, &token).await.unwrap();
}

async fn redeems(store: &Store, key: &StorageKey, at: i64, how: &Redemption) -> bool {
    store
        .redeem("demoaws", key, at, how)
        .await
        .unwrap()
        .is_some()
}

/// `store`'s backend behind a fault injector.
fn faulty(store: &Store, fault: Fault) -> (Arc<Faulty>, Store) {
    let f = Arc::new(Faulty::new(Arc::clone(store.backend()), fault));
    let s = Store::new(f.clone(), SecretBox::new([42; 32]));
    (f, s)
}

pub async fn a_mint_that_fails_midway_never_leaves_two_usable_tokens_in_a_slot(store: &Store) {
    for fault in [Fault::Before, Fault::After] {
        for n in 1..=4u8 {
            let (f, s) = faulty(store, fault);
            let slot = format!("joe|127.0.0.1|{fault:?}{n}");
            let base = if fault == Fault::Before { 100 } else { 150 };
            let (a, b) = (token_key(base + n), token_key(base + 20 + n));
            s.issue(&a, &new_token(false, NOW + 300, Some(&slot)))
                .await
                .unwrap();
            f.fail_write(usize::from(n));
            let minted = s.issue(&b, &new_token(false, NOW + 300, Some(&slot))).await;
            f.fail_write(0);
            let usable = |k: StorageKey| {
                let s = s.clone();
                async move {
                    s.redeem("demoaws", &k, NOW + 1, &once())
                        .await
                        .unwrap()
                        .is_some()
                }
            };
            let (a_ok, b_ok) = (usable(a).await, usable(b).await);
            assert!(
                !(a_ok && b_ok),
                "{fault:?} at write {n} ({minted:?}): both tokens of the slot work"
            );
            if minted.is_ok() {
                assert!(
                    !a_ok && b_ok,
                    "a successful mint replaces the previous token"
                );
            }
        }
    }
}

pub async fn an_audit_event_is_in_both_listings_or_in_neither(store: &Store) {
    for fault in [Fault::Before, Fault::After] {
        for n in 1..=2 {
            let (f, s) = faulty(store, fault);
            let subject = format!("fault-{fault:?}-{n}");
            f.fail_write(n);
            let stored = s
                .append(&AuditEvent {
                    at: NOW,
                    tenant: "faults".into(),
                    protocol: Protocol::SignedLink,
                    issuer: "1001".into(),
                    subject: subject.clone(),
                    source_ip: "127.0.0.1".into(),
                    outcome: Outcome::Ok,
                })
                .await;
            f.fail_write(0);
            let by_subject = s
                .list("faults", Some(&subject), 0, i64::MAX, 10, None)
                .await
                .unwrap()
                .events
                .len();
            let by_tenant = s
                .list("faults", None, 0, i64::MAX, 100, None)
                .await
                .unwrap()
                .events
                .iter()
                .filter(|e| e.subject == subject)
                .count();
            assert_eq!(
                by_subject, by_tenant,
                "{fault:?} at write {n} ({stored:?}): half an audit event"
            );
        }
    }
}

pub async fn concurrent_links_of_one_group_all_stay(store: &Store) {
    at_once(store, 6, |store, i| async move {
        let link = GroupLink {
            tenant: format!("platform{i}"),
            department: i,
        };
        store.link_group(77, link).await
    })
    .await;
    let group = store.group(77).await.unwrap().unwrap();
    assert_eq!(group.links.len(), 6, "{group:?}");
    let listed = store.list_groups().await.unwrap();
    assert!(listed.iter().any(|g| g.id == 77 && g.links.len() == 6));
}

pub async fn unlinking_keeps_concurrent_links_and_an_absent_link_writes_nothing(store: &Store) {
    for t in ["keep", "drop"] {
        let link = GroupLink {
            tenant: t.into(),
            department: 1,
        };
        store.link_group(78, link).await.unwrap();
    }
    // An unlink racing six links: every link stays, the unlinked one goes.
    let store2 = store.clone();
    let unlink = tokio::spawn(async move { store2.unlink_group(78, "drop").await });
    at_once(store, 6, |store, i| async move {
        let link = GroupLink {
            tenant: format!("platform{i}"),
            department: i,
        };
        store.link_group(78, link).await
    })
    .await;
    let unlinked = unlink.await.unwrap().unwrap().expect("it was linked");
    assert!(unlinked.links.iter().all(|l| l.tenant != "drop"));
    let group = store.group(78).await.unwrap().unwrap();
    let mut tenants: Vec<_> = group.links.iter().map(|l| l.tenant.as_str()).collect();
    tenants.sort_unstable();
    assert_eq!(
        tenants,
        [
            "keep",
            "platform0",
            "platform1",
            "platform2",
            "platform3",
            "platform4",
            "platform5"
        ]
    );
    let listed = store.list_groups().await.unwrap();
    assert!(listed.iter().any(|g| g.id == 78 && g.links.len() == 7));
    // Nothing to unlink: `None`, and no group is created.
    assert!(store.unlink_group(78, "drop").await.unwrap().is_none());
    assert!(store.unlink_group(79, "keep").await.unwrap().is_none());
    assert!(store.group(79).await.unwrap().is_none());
}

pub async fn agent_updates_never_undo_each_other_nor_bring_back_a_deleted_agent(store: &Store) {
    let agent = Agent {
        group: 78,
        username: "racer".into(),
        fullname: "Racer".into(),
        verifier: "v0".into(),
        enabled: true,
    };
    store.put_agent(&agent).await.unwrap();
    // A disable and a password change at once: both land.
    let (a, b) = (store.clone(), store.clone());
    let disable =
        tokio::spawn(async move { a.update_agent(78, "racer", &|a| a.enabled = false).await });
    let reset = tokio::spawn(async move {
        b.update_agent(78, "racer", &|a| a.verifier = "v1".into())
            .await
    });
    disable.await.unwrap().unwrap().expect("the agent exists");
    reset.await.unwrap().unwrap().expect("the agent exists");
    let now = store.agent(78, "racer").await.unwrap().unwrap();
    assert_eq!((now.enabled, now.verifier.as_str()), (false, "v1"));
    // An agent that is not there (never was, or deleted): nothing written.
    assert!(
        store
            .update_agent(78, "nobody", &|a| a.enabled = true)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.agent(78, "nobody").await.unwrap().is_none());
}

pub async fn audit_events_page_newest_first(store: &Store) {
    for i in 0..25 {
        let subject = if i % 5 == 0 {
            "agent1"
        } else {
            "client@example.com"
        };
        store
            .append(&AuditEvent {
                at: NOW + i,
                tenant: "demoaws".into(),
                protocol: Protocol::SignedLink,
                issuer: "1001".into(),
                subject: subject.into(),
                source_ip: "127.0.0.1".into(),
                outcome: format!("event-{i}").into(),
            })
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list("demoaws", None, NOW, NOW + 100, 10, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.events.len() <= 10);
        seen.extend(page.events.into_iter().map(|e| e.at));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<i64> = (0..25).rev().map(|i| NOW + i).collect();
    assert_eq!(seen, expected);
    let agent = store
        .list("demoaws", Some("agent1"), NOW, NOW + 100, 100, None)
        .await
        .unwrap();
    assert_eq!(
        agent.events.iter().map(|e| e.at - NOW).collect::<Vec<_>>(),
        [20, 15, 10, 5, 0]
    );
    let window = store
        .list("demoaws", None, NOW + 3, NOW + 6, 100, None)
        .await
        .unwrap();
    assert_eq!(window.events.len(), 4);
    assert!(
        store
            .list("sandboxdemo", None, NOW, NOW + 100, 10, None)
            .await
            .unwrap()
            .events
            .is_empty()
    );
}

pub async fn measure_costs(store: &Store) {
    let mut rows = Vec::new();
    // Runs one store call (it must succeed) and notes what it consumed.
    macro_rules! step {
        ($name:expr, $op:expr) => {{
            let before = store.consumed();
            let out = $op.await.unwrap();
            let after = store.consumed();
            rows.push((
                $name,
                after.read - before.read,
                after.write - before.write,
                after.requests - before.requests,
            ));
            out
        }};
    }
    let key = token_key(20);
    step!(
        "token issue (one-time)",
        store.issue(&key, &new_token(false, NOW + 300, None))
    );
    step!(
        "token redeem (one-time: becomes the session)",
        store.redeem("demoaws", &key, NOW, &once())
    );
    let reusable = token_key(23);
    issued(store, &reusable, new_token(true, NOW + 300, None)).await;
    step!(
        "token redeem (reusable: a session of its own)",
        store.redeem("demoaws", &reusable, NOW, &how(None, true))
    );
    step!(
        "token issue (replace slot, first)",
        store.issue(&token_key(21), &new_token(false, NOW + 300, Some("s")))
    );
    step!(
        "token issue (replace slot, again)",
        store.issue(&token_key(22), &new_token(false, NOW + 300, Some("s")))
    );
    let s = session_key(20);
    step!(
        "session create",
        store.create(&s, &new_session("1234", NOW))
    );
    // The tenant's latest revocation is read once per tenant and minute: warm it, then measure
    // what every page view costs.
    let warm = session_key(21);
    created(store, &warm, new_session("5678", NOW)).await;
    session(store, &warm, NOW + 1).await;
    let sess = step!("session get", Sessions::get(store, "demoaws", &s, NOW + 1)).unwrap();
    step!(
        "session touch",
        store.touch("demoaws", &s, &sess, NOW + 100, 60)
    );
    step!("session revoke", store.revoke("demoaws", &s, NOW + 101));
    step!(
        "replay record",
        store.record("demoaws", "1001", "t", NOW, NOW + 10)
    );
    step!(
        "throttle failure",
        store.record_failure("x", NOW, &LockoutPolicy::default())
    );
    let event = AuditEvent {
        at: NOW,
        tenant: "demoaws".into(),
        protocol: Protocol::CallCenter,
        issuer: "demo".into(),
        subject: "agent1".into(),
        source_ip: "::1".into(),
        outcome: Outcome::Ok,
    };
    step!("audit append", store.append(&event));
    let anonymous = AuditEvent {
        subject: String::new(),
        outcome: Outcome::BadToken,
        ..event.clone()
    };
    step!(
        "audit append (nobody named: a random token)",
        store.append(&anonymous)
    );
    eprintln!("| operation | requests | read units | write units |\n|---|---|---|---|");
    for (name, r, w, n) in &rows {
        eprintln!("| {name} | {n} | {r} | {w} |");
    }
    let row = |name: &str| {
        rows.iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, r, w, n)| (*r, *w, *n))
            .unwrap()
    };
    // moto reports fixed units per call (0.5 for an update, whatever DynamoDB would bill), so
    // the request count is what proves the budget: every item here is well under 1 KB, so in
    // DynamoDB each write request is one write unit and each consistent read one read unit.
    let redeem = row("token redeem (one-time: becomes the session)");
    assert_eq!(redeem.2, 1, "one write redeems a token into its session");
    assert!(redeem.1 <= 1.0 && redeem.0 == 0.0);
    assert_eq!(row("session create").2, 1);
    assert_eq!(row("replay record").2, 1);
    assert_eq!(row("token issue (one-time)").2, 1);
    // Replacing a slot's token reads the slot's pointer first (so that a failure midway
    // never leaves two usable tokens): one read, then the same writes as before (token and
    // pointer, and the previous token's delete when it is still live).
    assert_eq!(row("token issue (replace slot, first)").2, 3);
    assert!(row("token issue (replace slot, again)").2 <= 4);
    assert_eq!(
        row("audit append (nobody named: a random token)").2,
        1,
        "an anonymous request writes one item"
    );
    let get = row("session get");
    assert!(get.0 <= 1.0 && get.1 == 0.0);
    assert_eq!(get.2, 1, "a page view is one read");
    assert!(
        rows.iter().map(|(_, r, w, _)| r + w).sum::<f64>() > 0.0,
        "the server must report consumed capacity"
    );
}

/// What an attempt that names nobody costs: one item, in the tenant's listing, small, and
/// carrying the audit retention as its expiry (so it is swept, not kept forever).
pub async fn an_event_that_names_nobody_is_one_small_item_that_expires(store: &Store) {
    let event = AuditEvent {
        at: NOW,
        tenant: "anon".into(),
        protocol: Protocol::CallCenter,
        issuer: "/sso/login".into(),
        subject: String::new(),
        source_ip: "192.0.2.7".into(),
        outcome: Outcome::BadToken,
    };
    store.append(&event).await.unwrap();
    let everything = |pk: String| Query::prefix(pk, "", 100);
    let tenant = store
        .backend()
        .query(everything(keys::audit_pk("anon")))
        .await
        .unwrap();
    assert_eq!(tenant.items.len(), 1);
    let item = &tenant.items[0];
    assert_eq!(
        item.n(EXPIRES_AT),
        Some(NOW + sso_store::port::AUDIT_RETENTION_SECS)
    );
    let size: usize = item
        .attrs
        .iter()
        .map(|(name, value)| name.len() + format!("{value:?}").len())
        .sum::<usize>()
        + item.key.pk.len()
        + item.key.sk.len();
    assert!(size < 400, "{size} bytes: {item:?}");
    let nobody = store
        .backend()
        .query(everything(keys::audit_subject_pk("anon", "")))
        .await
        .unwrap();
    assert!(nobody.items.is_empty(), "no listing for nobody: {nobody:?}");
    let listed = store
        .list("anon", None, 0, i64::MAX, 10, None)
        .await
        .unwrap();
    assert_eq!(listed.events, [event]);
}

/// A subject's listing refers to the tenant's: the event is stored once, the subject's item
/// is a small reference with the same sort key and expiry, and listing by subject reads the
/// events back, newest first, paged, including an item written before references (which
/// holds its event itself) and skipping a reference whose event is gone.
pub async fn a_subject_listing_refers_to_the_tenant_listing_and_reads_the_events(store: &Store) {
    let at = |n: i64, subject: &str| AuditEvent {
        at: NOW + n,
        tenant: "refs".into(),
        protocol: Protocol::SignedLink,
        issuer: "1001".into(),
        subject: subject.into(),
        source_ip: "192.0.2.8".into(),
        outcome: Outcome::Ok,
    };
    let mut written = Vec::new();
    for n in 0..40 {
        let e = at(n, if n % 2 == 0 { "even" } else { "odd" });
        store.append(&e).await.unwrap();
        written.push(e);
    }
    let everything = |pk: String| Query::prefix(pk, "", 1000);
    let at_of = |sk: &str| sk[..11].parse::<i64>().unwrap();
    let refs = store
        .backend()
        .query(everything(keys::audit_subject_pk("refs", "even")))
        .await
        .unwrap()
        .items;
    assert_eq!(refs.len(), 20);
    for item in &refs {
        assert!(
            !item.attrs.contains_key("data"),
            "a reference, not a copy: {item:?}"
        );
        assert_eq!(
            item.n(EXPIRES_AT),
            Some(at_of(&item.key.sk) + sso_store::port::AUDIT_RETENTION_SECS)
        );
        let event = store
            .backend()
            .get(&Key::new(keys::audit_pk("refs"), item.key.sk.clone()))
            .await
            .unwrap();
        assert!(
            event.is_some(),
            "the tenant's listing holds {}",
            item.key.sk
        );
    }
    // An item of the layout before references (the event in the subject's item itself).
    let old = at(100, "even");
    let mut full = store
        .backend()
        .get(&Key::new(keys::audit_pk("refs"), refs[0].key.sk.clone()))
        .await
        .unwrap()
        .unwrap();
    full.key = Key::new(
        keys::audit_subject_pk("refs", "even"),
        keys::audit_sk(old.at, "000000000000"),
    );
    full.attrs.insert(
        "data".into(),
        sso_store::item::Attr::S(serde_json::to_string(&old).unwrap()),
    );
    store
        .backend()
        .write(sso_store::item::Write::Put {
            item: full,
            cond: sso_store::item::Cond::Always,
        })
        .await
        .unwrap();
    // A reference whose event is gone.
    store
        .backend()
        .write(sso_store::item::Write::Delete {
            key: Key::new(keys::audit_pk("refs"), refs[1].key.sk.clone()),
            cond: sso_store::item::Cond::Always,
        })
        .await
        .unwrap();
    let gone = at_of(&refs[1].key.sk);
    let mut expected: Vec<AuditEvent> = written
        .iter()
        .filter(|e| e.subject == "even" && e.at != gone)
        .cloned()
        .collect();
    expected.push(old);
    expected.reverse();
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list("refs", Some("even"), 0, i64::MAX, 7, cursor.as_deref())
            .await
            .unwrap();
        listed.extend(page.events);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, expected);
    let odd = store
        .list("refs", Some("odd"), 0, i64::MAX, 100, None)
        .await
        .unwrap();
    assert_eq!(odd.events.len(), 20);
    assert!(odd.events.iter().all(|e| e.subject == "odd"));
}

/// An event that has not happened yet: what a sign-in hands the store with its write.
fn riding(subject: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        at: NOW,
        tenant: "demoaws".into(),
        protocol: Protocol::Helpdesk,
        issuer: "door".into(),
        subject: subject.into(),
        source_ip: "127.0.0.1".into(),
        outcome: outcome.to_owned().into(),
    }
}

async fn events(store: &Store, subject: Option<&str>) -> Vec<AuditEvent> {
    store
        .list("demoaws", subject, NOW - 10, NOW + 10, 100, None)
        .await
        .unwrap()
        .events
}

pub async fn an_audited_sign_in_stores_its_event_only_when_it_wins(store: &Store) {
    let s = session_key(40);
    let event = riding("1234", "started");
    let first = store
        .create_audited(&s, &new_session("1234", NOW), Some(&event))
        .await
        .unwrap();
    assert_eq!(first, Recorded::First);
    assert_eq!(events(store, None).await, vec![event.clone()]);
    assert_eq!(events(store, Some("1234")).await, vec![event.clone()]);
    // The same key again is a replay: the session stands, and no second event is stored.
    let again = store
        .create_audited(
            &s,
            &new_session("1234", NOW),
            Some(&riding("1234", "again")),
        )
        .await
        .unwrap();
    assert_eq!(again, Recorded::Replay);
    assert_eq!(events(store, None).await, vec![event]);
}

pub async fn audited_redemptions_of_one_token_by_64_at_once_store_one_event_naming_its_subject(
    store: &Store,
) {
    let key = token_key(41);
    issued(store, &key, new_token(false, NOW + 300, None)).await;
    let redeemed = at_once(store, 64, |store, _| async move {
        // The event is described before anyone knows whom the token signs in.
        let event = riding("", "redeemed");
        store
            .redeem_audited("demoaws", &key, NOW, &once(), Some(&event))
            .await
    })
    .await;
    assert_eq!(redeemed.into_iter().flatten().count(), 1);
    let stored = events(store, None).await;
    assert_eq!(
        stored.len(),
        1,
        "one event for the one redemption: {stored:?}"
    );
    assert_eq!(
        (stored[0].issuer.as_str(), stored[0].subject.as_str()),
        ("admin", "joe"),
        "the event names the token's session"
    );
    assert_eq!(events(store, Some("joe")).await, stored);
    // A refused redemption stores nothing.
    let refused = store
        .redeem_audited(
            "demoaws",
            &token_key(42),
            NOW,
            &once(),
            Some(&riding("", "x")),
        )
        .await
        .unwrap();
    assert!(refused.is_none());
    assert_eq!(events(store, None).await.len(), 1);
}

pub async fn an_audited_issue_stores_its_event_with_the_token_slot_or_not(store: &Store) {
    let event = riding("joe", "issued");
    store
        .issue_audited(
            &token_key(43),
            &new_token(false, NOW + 300, None),
            Some(&event),
        )
        .await
        .unwrap();
    assert_eq!(events(store, Some("joe")).await, vec![event.clone()]);
    // Replacing a slot's token twice: one event per issue, each stored once.
    for n in [44, 45] {
        store
            .issue_audited(
                &token_key(n),
                &new_token(false, NOW + 300, Some("s")),
                Some(&event),
            )
            .await
            .unwrap();
    }
    assert_eq!(events(store, Some("joe")).await.len(), 3);
    assert_eq!(events(store, None).await.len(), 3);
    assert!(redeems(store, &token_key(45), NOW, &once()).await);
    assert!(
        !redeems(store, &token_key(44), NOW, &once()).await,
        "replaced"
    );
}
