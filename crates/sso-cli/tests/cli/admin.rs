//! Operator-grade administration through the real `sso` binary, on both stores: an `add`
//! never overwrites silently, an `update` changes only what it is given, every write says
//! what changed, every error names the record, and bad values are refused.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::temp_dir;

pub(crate) const KEY: &str = "3333333333333333333333333333333333333333333333333333333333333333";

/// Runs `sso` commands (words split at spaces) against one store.
pub(crate) struct Operator {
    pub(crate) data: PathBuf,
    /// Extra flags naming the store (empty: the embedded store under `data`).
    store: Vec<String>,
}

impl Operator {
    pub(crate) fn embedded(name: &str) -> Self {
        Self {
            data: temp_dir(name),
            store: vec![],
        }
    }

    pub(crate) fn dynamodb(name: &str) -> Self {
        let endpoint = crate::moto_endpoint();
        let table = format!("{name}-{}", std::process::id());
        let op = Self {
            data: temp_dir(name),
            store: ["--store", "dynamodb", "--endpoint-url", endpoint, "--table"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain([table])
                .collect(),
        };
        op.ok("create-table", "");
        op
    }

    pub(crate) fn run(&self, words: &str, stdin: &str) -> Output {
        self.run_with(words, stdin, Some(KEY))
    }

    /// [`Operator::run`] with `SSO_SECRET_KEY` set to `key`, or unset.
    pub(crate) fn run_with(&self, words: &str, stdin: &str, key: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sso"));
        match key {
            Some(k) => command.env("SSO_SECRET_KEY", k),
            None => command.env_remove("SSO_SECRET_KEY"),
        };
        let mut child = command
            .args(words.split(' '))
            .arg("--data")
            .arg(&self.data)
            .args(&self.store)
            .env("SSO_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Succeeds: (stdout, stderr).
    pub(crate) fn ok(&self, words: &str, stdin: &str) -> (String, String) {
        let out = self.run(words, stdin);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "`sso {words}` failed: {err}");
        (String::from_utf8(out.stdout).unwrap(), err)
    }

    /// Fails, saying each of `said`.
    pub(crate) fn refused(&self, words: &str, stdin: &str, said: &[&str]) {
        let out = self.run(words, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "`sso {words}` succeeded");
        for s in said {
            assert!(err.contains(s), "`sso {words}`: {err:?} does not say {s:?}");
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn no_silent_overwrite_and_named_errors(op: &Operator) {
    // GIVEN a tenant with settings and a vendor with a failure URL.
    let (_, said) = op.ok(
        "tenant add acme --departments 1,2,3 --campaigns 1 --helpdesk-reusable",
        "",
    );
    assert!(said.contains("added tenant `acme`"), "{said}");
    op.ok(
        "vendor add --tenant acme --id 1001 --failure-url https://p.example/f",
        "first\n",
    );

    // WHEN the same ids are added again THEN they are refused, naming tenant and id, and
    // nothing changed.
    op.refused(
        "vendor add --tenant acme --id 1001",
        "other\n",
        &["vendor `1001` of tenant `acme` already exists", "--replace"],
    );
    let (vendors, _) = op.ok("vendor list --tenant acme", "");
    assert!(vendors.contains("https://p.example/f"), "{vendors}");
    op.refused("tenant add acme", "", &["tenant `acme` already exists"]);
    let (tenants, _) = op.ok("tenant list", "");
    for setting in [
        "\"departments\":[1,2,3]",
        "\"helpdesk_token_reusable\":true",
        "\"helpdesk_ip_binding\":true",
        "\"session_idle_secs\"",
    ] {
        assert!(tenants.contains(setting), "{setting} in {tenants}");
    }
    // --replace overwrites on purpose, and says so.
    let (_, said) = op.ok("vendor add --tenant acme --id 1001 --replace", "other\n");
    assert!(
        said.contains("replaced vendor `1001` of tenant `acme`"),
        "{said}"
    );

    // An update changes only the flags given and prints before → after.
    let (_, said) = op.ok("tenant update acme --campaigns 1,2", "");
    assert!(
        said.contains("updated tenant `acme`") && said.contains('→'),
        "{said}"
    );
    let (tenants, _) = op.ok("tenant list", "");
    assert!(
        tenants.contains("\"departments\":[1,2,3]")
            && tenants.contains("\"campaigns\":[1,2]")
            && tenants.contains("\"helpdesk_token_reusable\":true"),
        "{tenants}"
    );

    // A Platform-Key id names one key: a second add is refused, --replace swaps the key.
    op.ok(
        "platform-key add --tenant acme --key-id cc1 --partner p --allow 10.0.0.0/8",
        "key-one\n",
    );
    op.refused(
        "platform-key add --tenant acme --key-id cc1 --partner p --allow 10.0.0.0/8",
        "key-two\n",
        &["Platform-Key `cc1` of tenant `acme` already exists"],
    );
    op.ok(
        "platform-key add --tenant acme --key-id cc1 --partner p --allow 10.0.0.0/8 --replace",
        "key-two\n",
    );
    let (keys, _) = op.ok("platform-key list --tenant acme", "");
    assert_eq!(keys.lines().count(), 1, "{keys}");
    let (_, said) = op.ok("platform-key disable --tenant acme --key-id cc1", "");
    assert!(said.contains("disabled Platform-Key `cc1`"), "{said}");
    let (keys, _) = op.ok("platform-key list --tenant acme", "");
    assert!(keys.contains("\"enabled\":false"), "{keys}");
    op.ok("platform-key enable --tenant acme --key-id cc1", "");
    let (keys, _) = op.ok("platform-key list --tenant acme", "");
    assert!(keys.contains("\"enabled\":true"), "{keys}");

    // Disable and enable again.
    op.ok("vendor disable --tenant acme --id 1001", "");
    op.ok("vendor enable --tenant acme --id 1001", "");
    let (vendors, _) = op.ok("vendor list --tenant acme", "");
    assert!(vendors.contains("\"enabled\":true"), "{vendors}");

    // Errors name what they looked for; a list of a missing tenant is an error.
    op.refused(
        "vendor disable --tenant acme --id 9999",
        "",
        &["vendor `9999` of tenant `acme` not found"],
    );
    op.refused(
        "vendor list --tenant nosuch",
        "",
        &["tenant `nosuch` not found"],
    );
    op.refused(
        "client list --tenant nosuch",
        "",
        &["tenant `nosuch` not found"],
    );

    // Validation: emails, group references, CIDRs with host bits set.
    op.ok("group add --id 21 --name Team", "");
    op.refused("group add --id 21", "", &["group 21 already exists"]);
    op.refused(
        "administrator add --email a@example.com --group 999",
        "pw\n",
        &["group 999 not found"],
    );
    op.refused(
        "administrator add --email not-an-email --group 21",
        "pw\n",
        &["`not-an-email` is not an email address"],
    );
    op.refused(
        "client add --tenant acme --id 1 --email nope",
        "",
        &["client `1` of tenant `acme`", "not an email address"],
    );
    op.refused(
        "platform-key add --tenant acme --key-id cc2 --partner p --allow 10.0.0.1/8",
        "k\n",
        &["did you mean 10.0.0.0/8"],
    );
    op.refused(
        "group link --id 21 --tenant acme --department 7",
        "",
        &["tenant `acme` has no department 7"],
    );
    op.ok("administrator add --email a@example.com --group 21", "pw\n");
    op.refused(
        "administrator add --email a@example.com --group 21",
        "pw\n",
        &["administrator `a@example.com` already exists"],
    );
}

fn delete_refuses_while_others_depend_unless_forced(op: &Operator) {
    // GIVEN a tenant with a vendor a client depends on, and a group with an agent, an
    // administrator and the tenant's consent.
    op.ok("group add --id 5 --name G", "");
    op.ok("tenant add beta --departments 1 --portal-groups 5", "");
    op.ok("vendor add --tenant beta --id 7", "vp\n");
    op.ok(
        "client add --tenant beta --id 1 --email c@example.com --allowed-vendor 7",
        "",
    );
    op.ok("group link --id 5 --tenant beta --department 1", "");
    op.ok("agent add --group 5 --username ag --fullname Ag", "pw\n");
    op.ok(
        "administrator add --email boss@example.com --group 5",
        "pw\n",
    );

    // WHEN records others depend on are deleted THEN it is refused, naming what depends.
    op.refused(
        "vendor delete --tenant beta --id 7",
        "",
        &[
            "vendor `7` of tenant `beta` is still used by client `1`",
            "--force",
        ],
    );
    op.refused(
        "group delete --id 5",
        "",
        &["group 5 is still used by 1 agent(s), 1 administrator(s)"],
    );
    op.refused(
        "tenant delete beta",
        "",
        &["tenant `beta` is still used by 1 vendor(s), 1 client(s)"],
    );
    // Leaves first: a client and an agent go without --force.
    let (_, said) = op.ok("client delete --tenant beta --id 1", "");
    assert!(
        said.contains("deleted client `1` of tenant `beta`"),
        "{said}"
    );
    let (clients, _) = op.ok("client list --tenant beta", "");
    assert!(clients.is_empty(), "{clients}");
    op.ok("vendor delete --tenant beta --id 7", "");
    op.refused(
        "vendor delete --tenant beta --id 7",
        "",
        &["vendor `7` of tenant `beta` not found"],
    );
    // --force takes the group with its agents and out of the administrator and the tenant.
    let (_, said) = op.ok("group delete --id 5 --force", "");
    assert!(said.contains("deleted group 5 with 1 agent(s)"), "{said}");
    let (groups, _) = op.ok("group list", "");
    assert!(groups.is_empty(), "{groups}");
    let (admins, _) = op.ok("administrator list", "");
    assert!(admins.contains("\"groups\":[]"), "{admins}");
    let (tenants, _) = op.ok("tenant list", "");
    assert!(tenants.contains("\"portal_groups\":[]"), "{tenants}");
    op.ok("administrator delete --email boss@example.com", "");
    let (admins, _) = op.ok("administrator list", "");
    assert!(admins.is_empty(), "{admins}");
    // A tenant with nothing left goes without --force; one with records needs it.
    op.ok(
        "platform-key add --tenant beta --key-id k --partner p --allow 127.0.0.1",
        "pk\n",
    );
    op.ok(
        "helpdesk-user add --tenant beta --username u --id 3",
        "pw\n",
    );
    op.refused(
        "tenant delete beta",
        "",
        &["1 help-desk user(s), 1 Platform-Key(s)"],
    );
    op.ok("tenant delete beta --force", "");
    op.refused(
        "vendor list --tenant beta",
        "",
        &["tenant `beta` not found"],
    );
    let (tenants, _) = op.ok("tenant list", "");
    assert!(tenants.is_empty(), "{tenants}");
}

fn show_and_update_one_record(op: &Operator) {
    op.ok("tenant add gamma --departments 4", "");
    op.ok(
        "vendor add --tenant gamma --id 1002 --failure-url https://p.example/fail",
        "sekret-pw\n",
    );
    let (shown, _) = op.ok("vendor show --tenant gamma --id 1002", "");
    assert!(
        shown.contains("https://p.example/fail") && !shown.contains("sekret-pw"),
        "{shown}"
    );
    // Only the flag given changes; before → after is printed, never the password.
    let (_, said) = op.ok(
        "vendor update --tenant gamma --id 1002 --logout-url https://p.example/bye",
        "",
    );
    assert!(
        said.contains("updated vendor `1002` of tenant `gamma`")
            && said.contains("\"logout_url\":null")
            && said.contains("\"logout_url\":\"https://p.example/bye\"")
            && !said.contains("sekret-pw"),
        "{said}"
    );
    let (shown, _) = op.ok("vendor show --tenant gamma --id 1002", "");
    assert!(
        shown.contains("https://p.example/fail") && shown.contains("https://p.example/bye"),
        "{shown}"
    );
    op.refused(
        "vendor update --tenant gamma --id 1002 --failure-url http://p.example/x",
        "",
        &["vendor `1002` of tenant `gamma`: --failure-url"],
    );
    let (shown, _) = op.ok("tenant show gamma", "");
    assert!(shown.contains("\"departments\":[4]"), "{shown}");
    op.refused("tenant show nosuch", "", &["tenant `nosuch` not found"]);
    op.refused(
        "client show --tenant gamma --id 1",
        "",
        &["client `1` of tenant `gamma` not found"],
    );
    op.refused("group show --id 3", "", &["group 3 not found"]);

    // Every kind's update changes only what it is given.
    op.ok(
        "client add --tenant gamma --id 5 --email old@example.com --allowed-vendor 1002",
        "",
    );
    let (_, said) = op.ok(
        "client update --tenant gamma --id 5 --email new@example.com",
        "",
    );
    assert!(
        said.contains("old@example.com") && said.contains("new@example.com"),
        "{said}"
    );
    let (shown, _) = op.ok("client show --tenant gamma --id 5", "");
    assert!(
        shown.contains("new@example.com") && shown.contains("\"allowed_vendors\":[\"1002\"]"),
        "{shown}"
    );
    op.refused(
        "client update --tenant gamma --id 5 --email nope",
        "",
        &["client `5` of tenant `gamma`: --email"],
    );
    op.ok(
        "helpdesk-user add --tenant gamma --username joe --id 2",
        "pw\n",
    );
    op.ok(
        "helpdesk-user update --tenant gamma --username joe --api-rights true",
        "",
    );
    let (shown, _) = op.ok("helpdesk-user show --tenant gamma --username joe", "");
    assert!(
        shown.contains("\"api_rights\":true") && shown.contains("\"id\":2"),
        "{shown}"
    );
    op.ok(
        "platform-key add --tenant gamma --key-id k --partner p --allow 127.0.0.1",
        "pk\n",
    );
    op.refused(
        "platform-key update --tenant gamma --key-id k --allow 192.168.1.7/24",
        "",
        &["did you mean 192.168.1.0/24"],
    );
    op.ok(
        "platform-key update --tenant gamma --key-id k --allow 192.168.1.0/24,::1",
        "",
    );
    let (shown, _) = op.ok("platform-key show --tenant gamma --key-id k", "");
    assert!(
        shown.contains("192.168.1.0/24") && shown.contains("\"partner\":\"p\""),
        "{shown}"
    );
    op.ok("group add --id 8 --name Old", "");
    op.ok("group add --id 9", "");
    op.ok("group update --id 8 --name New", "");
    let (shown, _) = op.ok("group show --id 8", "");
    assert!(shown.contains("\"name\":\"New\""), "{shown}");
    op.ok("agent add --group 8 --username ag --fullname Old", "pw\n");
    op.ok("agent update --group 8 --username ag --fullname New", "");
    let (shown, _) = op.ok("agent show --group 8 --username ag", "");
    assert!(shown.contains("\"fullname\":\"New\""), "{shown}");
    op.ok("administrator add --email x@example.com --group 8", "pw\n");
    op.ok(
        "administrator update --email x@example.com --groups 8,9",
        "",
    );
    let (shown, _) = op.ok("administrator show --email x@example.com", "");
    assert!(shown.contains("\"groups\":[8,9]"), "{shown}");
    op.refused(
        "administrator update --email x@example.com --groups 77",
        "",
        &["group 77 not found"],
    );
    let (_, said) = op.ok("group update --id 8 --name New", "");
    assert!(said.contains("group 8 unchanged"), "{said}");
}

fn reading_needs_no_secret_key(op: &Operator) {
    op.ok("tenant add delta", "");
    op.ok("vendor add --tenant delta --id 1001", "vp\n");
    for read in [
        "tenant list",
        "tenant show delta",
        "vendor list --tenant delta",
        "vendor show --tenant delta --id 1001",
        "client list --tenant delta",
        "group list",
        "audit --tenant delta",
    ] {
        let out = op.run_with(read, "", None);
        assert!(
            out.status.success(),
            "`sso {read}` without SSO_SECRET_KEY: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if read.starts_with("vendor") {
            assert!(String::from_utf8_lossy(&out.stdout).contains("\"id\":\"1001\""));
        }
    }
}

#[test]
fn read_only_commands_need_no_secret_key_on_dynamodb() {
    let op = Operator::dynamodb("reading-dynamo");
    reading_needs_no_secret_key(&op);
    // A write still does: it would seal with a key nobody keeps.
    let out = op.run_with("vendor add --tenant delta --id 1002", "vp\n", None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SSO_SECRET_KEY is required"));
}

#[test]
fn read_only_commands_need_no_secret_key_on_the_embedded_store() {
    reading_needs_no_secret_key(&Operator::embedded("reading-embedded"));
}

#[test]
fn a_missing_store_is_never_created_silently() {
    let op = Operator::embedded("missing-store");
    let out = op.run_with("tenant list", "", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("no store at") && err.contains(&*op.data.to_string_lossy()),
        "{err}"
    );
    assert!(!op.data.exists(), "a read created the data directory");
    let (_, said) = op.ok("tenant add acme", "");
    assert!(
        said.contains("creating a new embedded store at")
            && said.contains(&*op.data.to_string_lossy()),
        "{said}"
    );
    let (_, said) = op.ok("tenant add other", "");
    assert!(!said.contains("creating"), "{said}");
}

#[test]
fn a_missing_table_says_to_run_create_table() {
    let op = Operator {
        data: temp_dir("no-table"),
        store: [
            "--store",
            "dynamodb",
            "--endpoint-url",
            crate::moto_endpoint(),
            "--table",
            "no-such-table",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    };
    op.refused(
        "tenant list",
        "",
        &["ResourceNotFoundException", "sso create-table"],
    );
}

const DEMO: &str = "../sso-store/import/demo.toml";

fn import_has_a_conflict_policy_and_a_dry_run(op: &Operator) {
    let (_, said) = op.ok(&format!("import {DEMO}"), "");
    assert!(
        said.contains("replaced, 0 skipped") && said.contains(" 0 replaced"),
        "{said}"
    );
    // GIVEN an operator's own tenant linked to demo group 21.
    op.ok("tenant add acme --departments 1,2,3", "");
    op.ok("group link --id 21 --tenant acme --department 1", "");

    // A second import is refused by default, naming what is already there; nothing written.
    op.refused(
        &format!("import {DEMO}"),
        "",
        &[
            "already in the store",
            "tenant `demoaws`",
            "--on-conflict skip or replace",
        ],
    );
    // A dry run prints the plan and writes nothing.
    op.ok("vendor delete --tenant demoaws --id 1002", "");
    let (plan, said) = op.ok(&format!("import {DEMO} --on-conflict skip --dry-run"), "");
    assert!(
        plan.contains("skip tenant `demoaws`")
            && plan.contains("add vendor `1002` of tenant `demoaws`"),
        "{plan}"
    );
    assert!(said.contains("would import"), "{said}");
    op.refused(
        "vendor show --tenant demoaws --id 1002",
        "",
        &["vendor `1002` of tenant `demoaws` not found"],
    );
    // Skip writes only what is missing.
    let (_, said) = op.ok(&format!("import {DEMO} --on-conflict skip"), "");
    assert!(said.contains(" 0 replaced"), "{said}");
    op.ok("vendor show --tenant demoaws --id 1002", "");
    // Replace keeps links and consents the file does not mention.
    op.ok(&format!("import {DEMO} --on-conflict replace"), "");
    let (group, _) = op.ok("group show --id 21", "");
    assert!(
        group.contains("acme:1") && group.contains("demoaws:1"),
        "{group}"
    );
    let (acme, _) = op.ok("tenant show acme", "");
    assert!(
        acme.contains("\"departments\":[1,2,3]") && acme.contains("\"portal_groups\":[21]"),
        "{acme}"
    );
    // A file that adds one vendor to an existing tenant is accepted.
    let file = op.data.with_extension("vendor.toml");
    std::fs::write(
        &file,
        "[[vendor]]\ntenants = [\"acme\"]\nid = \"77\"\npassword = \"pw77\"\n",
    )
    .unwrap();
    op.ok(&format!("import {}", file.display()), "");
    let (vendors, _) = op.ok("vendor list --tenant acme", "");
    assert!(vendors.contains("\"id\":\"77\""), "{vendors}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn import_has_a_conflict_policy_and_a_dry_run_on_the_embedded_store() {
    import_has_a_conflict_policy_and_a_dry_run(&Operator::embedded("import-embedded"));
}

#[test]
fn import_has_a_conflict_policy_and_a_dry_run_on_dynamodb() {
    import_has_a_conflict_policy_and_a_dry_run(&Operator::dynamodb("import-dynamo"));
}

#[test]
fn show_and_update_on_the_embedded_store() {
    show_and_update_one_record(&Operator::embedded("show-embedded"));
}

#[test]
fn show_and_update_on_dynamodb() {
    show_and_update_one_record(&Operator::dynamodb("show-dynamo"));
}

#[test]
fn admin_commands_never_overwrite_silently_on_the_embedded_store() {
    no_silent_overwrite_and_named_errors(&Operator::embedded("admin-embedded"));
}

#[test]
fn admin_commands_never_overwrite_silently_on_dynamodb() {
    no_silent_overwrite_and_named_errors(&Operator::dynamodb("admin-dynamo"));
}

#[test]
fn delete_refuses_while_others_depend_on_the_embedded_store() {
    delete_refuses_while_others_depend_unless_forced(&Operator::embedded("delete-embedded"));
}

#[test]
fn delete_refuses_while_others_depend_on_dynamodb() {
    delete_refuses_while_others_depend_unless_forced(&Operator::dynamodb("delete-dynamo"));
}

/// GIVEN a file of 150 clients (300 items: three DynamoDB transactions) WHEN the second
/// transaction fails THEN the store holds the first one's whole records, and the same import
/// run again with `--on-conflict skip` through the binary completes it.
#[test]
fn a_dynamodb_import_failing_midway_is_completed_by_a_rerun() {
    use sso_store::faults::{Fault, Faulty};
    use sso_store::import::OnConflict;
    use std::sync::Arc;

    let op = Operator::dynamodb("import-fault");
    let table = op.store.last().unwrap().clone();
    let mut text = String::from("[[tenant]]\nname = \"bulk\"\n");
    for i in 0..150 {
        text.push_str(&format!(
            "[[client]]\ntenants = [\"bulk\"]\nclient_id = \"c{i}\"\nemail = \"c{i}@example.com\"\n"
        ));
    }
    let file = op.data.with_extension("bulk.toml");
    std::fs::write(&file, &text).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let failed = runtime.block_on(async {
        let dynamo = sso_store::dynamo::Dynamo::local(crate::moto_endpoint(), &table);
        let faulty = Arc::new(Faulty::new(Arc::new(dynamo), Fault::Before));
        faulty.fail_write(2);
        let store = sso_store::Store::new(faulty, sso_store::SecretBox::from_hex(KEY).unwrap());
        store
            .import_with("bulk.toml", &text, OnConflict::Fail, false)
            .await
    });
    assert!(failed.is_err(), "the injected failure was not reported");

    let (clients, _) = op.ok("client list --tenant bulk", "");
    let written = clients.lines().count();
    assert!(
        written > 0 && written < 150,
        "{written} of 150 written before the failure"
    );
    let name = file.display().to_string();
    op.refused(&format!("import {name}"), "", &["already in the store"]);
    let (_, said) = op.ok(&format!("import {name} --on-conflict skip"), "");
    assert!(said.contains(&format!("{} added", 150 - written)), "{said}");
    let (clients, _) = op.ok("client list --tenant bulk", "");
    assert_eq!(clients.lines().count(), 150);
    let _ = std::fs::remove_file(&file);
}
