//! `sso import --on-conflict replace` over a stored tenant changes what the file sets and
//! keeps the rest, through the real binary on both stores.

use super::admin::Operator;

fn replace_keeps_what_the_file_leaves_out(op: &Operator) {
    // GIVEN a tenant with settings of its own.
    op.ok(
        "tenant add acme --departments 1,2,3 --campaigns 1 --helpdesk-reusable --scanner-safe-links",
        "",
    );
    let file = op.data.with_extension("merge.toml");

    // WHEN a file that sets only the campaigns replaces it
    std::fs::write(&file, "[[tenant]]\nname = \"acme\"\ncampaigns = [7]\n").unwrap();
    op.ok(
        &format!("import {} --on-conflict replace", file.display()),
        "",
    );

    // THEN the campaigns are the file's and every other setting is as stored.
    let (shown, _) = op.ok("tenant show acme", "");
    for setting in [
        "\"campaigns\":[7]",
        "\"departments\":[1,2,3]",
        "\"helpdesk_token_reusable\":true",
        "\"scanner_safe_links\":true",
    ] {
        assert!(shown.contains(setting), "{setting} in {shown}");
    }

    // AND a setting the file gives, even its default, is applied.
    std::fs::write(
        &file,
        "[[tenant]]\nname = \"acme\"\nhelpdesk_token_reusable = false\ndepartments = []\n",
    )
    .unwrap();
    op.ok(
        &format!("import {} --on-conflict replace", file.display()),
        "",
    );
    let (shown, _) = op.ok("tenant show acme", "");
    for setting in [
        "\"helpdesk_token_reusable\":false",
        "\"departments\":[]",
        "\"campaigns\":[7]",
        "\"scanner_safe_links\":true",
    ] {
        assert!(shown.contains(setting), "{setting} in {shown}");
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn import_replace_keeps_unset_tenant_settings_on_the_embedded_store() {
    replace_keeps_what_the_file_leaves_out(&Operator::embedded("merge-embedded"));
}

#[test]
fn import_replace_keeps_unset_tenant_settings_on_dynamodb() {
    replace_keeps_what_the_file_leaves_out(&Operator::dynamodb("merge-dynamo"));
}
