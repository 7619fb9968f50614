//! `sso export` through the real binary, on both stores: the import format, secrets as the
//! store keeps them (hashes, sealed) or left out, and a byte-for-byte round trip.

use super::admin::Operator;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sso-store/import/demo.toml");

/// Clear secrets of the demo directory: none may appear in an export.
const CLEAR: [&str; 6] = [
    "vendorpass",
    "clientpass",
    "test123",
    "demo-api-key",
    "demo-platform-key",
    "agentpass",
];

fn export_round_trips_byte_for_byte(first: &Operator, second: &Operator) {
    // GIVEN the demo directory, with a vendor mid-rotation, a second API key and a
    // disabled client.
    first.ok(&format!("import {DEMO}"), "");
    first.ok("vendor rotate-secret --tenant demoaws --id 1001", "n3w\n");
    first.ok(
        "helpdesk-user add-api-key --tenant demoaws --username admin",
        "second-api-key\n",
    );
    first.ok("client disable --tenant sandboxdemo --id 5678", "");

    // WHEN it is exported to a file THEN the file is private and holds no secret in clear.
    let a = first.data.with_extension("export-a.toml");
    let (_, said) = first.ok(&format!("export --output {}", a.display()), "");
    assert!(said.contains("exported"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an export holds hashes and sealed passwords");
    }
    let text_a = std::fs::read_to_string(&a).unwrap();
    for secret in CLEAR.iter().chain(&["n3w", "second-api-key"]) {
        assert!(!text_a.contains(secret), "{secret} in the export");
    }
    for field in [
        "password_sealed",
        "previous_password_sealed",
        "password_hash = \"$argon2id$",
        "api_keys_sha256",
        "key_sha256",
    ] {
        assert!(text_a.contains(field), "{field} missing:\n{text_a}");
    }

    // AND imported into an empty store and exported again, it is the same file.
    second.ok(&format!("import {}", a.display()), "");
    let (text_b, _) = second.ok("export", "");
    assert_eq!(text_a, text_b, "export → import → export changed the file");
    // The imported vendor's sealed password still opens: the rotation is intact.
    let (shown, _) = second.ok("vendor show --tenant demoaws --id 1001", "");
    assert!(shown.contains("\"rotating\":true"), "{shown}");

    // Sealed passwords open only with the exporting store's key: another key is refused,
    // naming the vendor, and nothing is written.
    let other = "4".repeat(64);
    let out = second.run_with(
        &format!("import {} --on-conflict replace", a.display()),
        "",
        Some(&other),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("vendor `1001` of tenant `demoaws`"),
        "{err}"
    );

    // --no-secrets leaves every hash and sealed value out, and such a file is not importable.
    let (bare, _) = first.ok("export --no-secrets", "");
    for field in [
        "password_sealed",
        "password_hash",
        "key_sha256",
        "$argon2id$",
    ] {
        assert!(!bare.contains(field), "{field} in a --no-secrets export");
    }
    assert!(bare.contains("client_id = \"5678\""), "{bare}");
    let b = first.data.with_extension("export-bare.toml");
    std::fs::write(&b, &bare).unwrap();
    first.refused(
        &format!("import {} --dry-run --on-conflict skip", b.display()),
        "",
        &["vendor[0]", "password"],
    );

    // --tenant exports that tenant's records only; an unknown tenant is an error naming it.
    let (one, _) = first.ok("export --tenant sandboxdemo", "");
    assert!(
        one.contains("name = \"sandboxdemo\"") && !one.contains("demoaws"),
        "{one}"
    );
    first.refused("export --tenant nosuch", "", &["tenant `nosuch`"]);
    let _ = std::fs::remove_file(a);
    let _ = std::fs::remove_file(b);
}

#[test]
fn export_then_import_then_export_is_byte_identical_on_the_embedded_store() {
    export_round_trips_byte_for_byte(
        &Operator::embedded("export-a"),
        &Operator::embedded("export-b"),
    );
}

#[test]
fn export_then_import_then_export_is_byte_identical_on_dynamodb() {
    export_round_trips_byte_for_byte(
        &Operator::dynamodb("export-dyn-a"),
        &Operator::dynamodb("export-dyn-b"),
    );
}

/// More clients than one listing page (1 000) holds: an export must hold every one.
fn an_export_holds_every_record_past_one_page(op: &Operator) {
    let mut file = String::from("[[tenant]]\nname = \"big\"\n");
    for i in 0..1001 {
        file.push_str(&format!(
            "[[client]]\ntenants = [\"big\"]\nclient_id = \"c{i:04}\"\nemail = \"c{i}@example.com\"\n"
        ));
    }
    let path = op.data.with_extension("big.toml");
    std::fs::write(&path, file).unwrap();
    op.ok(&format!("import {}", path.display()), "");
    let (text, _) = op.ok("export --tenant big", "");
    assert_eq!(text.matches("[[client]]").count(), 1001);
    assert!(text.contains("client_id = \"c1000\""));
    let _ = std::fs::remove_file(path);
}

#[test]
fn an_export_holds_every_record_past_one_page_on_the_embedded_store() {
    an_export_holds_every_record_past_one_page(&Operator::embedded("export-big"));
}

#[test]
fn an_export_holds_every_record_past_one_page_on_dynamodb() {
    an_export_holds_every_record_past_one_page(&Operator::dynamodb("export-big-dyn"));
}
