//! `sso`: run the gateway locally, administer its directory, act as a partner.
// A command-line tool: its results are meant for standard output.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use sso_cli::stores::{self, StoreChoice};
use sso_cli::trail::{self, Change};
use sso_cli::{App, CliError, Limits, ServeConfig};
#[cfg(feature = "dynamodb")]
use sso_store::dynamo::DynamoConfig;
use sso_web::settings::{self, Deployment};
use sso_web::{Settings, SystemClock};

/// mimalloc rather than glibc's malloc: under load the server frees on one thread what another
/// allocated (a request's items freed by the store's writer), and glibc's arenas made that a
/// tenth of the writer's time (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The SSO gateway: signed-link, help-desk and call-center single sign-on.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Store for the admin commands (serve and import take their own).
    #[command(flatten)]
    store: StoreArgs,
    /// Who makes the changes, in their audit events (default: the OS user, $USER).
    #[arg(long, env = "SSO_ACTOR", global = true)]
    actor: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreKind {
    /// A redb file under --data (the default; no server needed).
    Embedded,
    /// A DynamoDB table (--table; --endpoint-url for a local DynamoDB-compatible server).
    Dynamodb,
}

/// `sso import --on-conflict`.
#[derive(Clone, Copy, ValueEnum)]
enum ConflictArg {
    /// Refuse the whole file if any record is already in the store.
    Fail,
    /// Keep the stored record; import only the new ones.
    Skip,
    /// Overwrite the stored record with the file's.
    Replace,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Which store.
    #[arg(
        long,
        env = "SSO_STORE",
        value_enum,
        default_value = "embedded",
        global = true
    )]
    store: StoreKind,
    /// Data directory of the embedded store.
    #[arg(long, env = "SSO_DATA", default_value = "./.sso-data", global = true)]
    data: PathBuf,
    /// DynamoDB table.
    #[arg(long, env = "SSO_TABLE", default_value = "sso", global = true)]
    table: String,
    /// A DynamoDB-compatible endpoint, e.g. http://127.0.0.1:5000 (moto).
    #[arg(long, env = "SSO_ENDPOINT_URL", global = true)]
    endpoint_url: Option<String>,
}

impl StoreArgs {
    /// The store these flags name; `--store dynamodb` is refused, saying how to get it, by
    /// a build without the `dynamodb` feature.
    fn choice(&self) -> Result<StoreChoice, CliError> {
        match self.store {
            StoreKind::Embedded => Ok(StoreChoice::Embedded(self.data.clone())),
            #[cfg(feature = "dynamodb")]
            StoreKind::Dynamodb => Ok(StoreChoice::Dynamo(self.dynamo())),
            #[cfg(not(feature = "dynamodb"))]
            StoreKind::Dynamodb => Err(stores::without_dynamodb()),
        }
    }

    #[cfg(feature = "dynamodb")]
    fn dynamo(&self) -> DynamoConfig {
        DynamoConfig {
            table: self.table.clone(),
            endpoint_url: self.endpoint_url.clone(),
            region: None,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve every protocol on one listener, routing by Host.
    ///
    /// Example: sso serve --demo   (then open http://demoaws.localhost:8080/login)
    Serve {
        /// Address to listen on: IP:PORT, or HOST:PORT (e.g. localhost:8080, resolved once).
        #[arg(long, env = "SSO_LISTEN", default_value = "127.0.0.1:8080", value_parser = listen_addr)]
        listen: SocketAddr,
        /// Tenants are <tenant>.<base-domain>, the portal my.<base-domain>.
        #[arg(long, env = "SSO_BASE_DOMAIN", default_value = "localhost")]
        base_domain: String,
        /// Public URLs use https (set behind a TLS-terminating proxy).
        #[arg(long, env = "SSO_HTTPS")]
        https: bool,
        /// Load the demo directory if it is not there yet.
        #[arg(long, env = "SSO_DEMO")]
        demo: bool,
        /// Serve this tenant on hosts that name none (e.g. http://127.0.0.1:8080).
        #[arg(long, env = "SSO_SINGLE_TENANT")]
        single_tenant: Option<String>,
        /// Comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default: none,
        /// the socket peer is the client). Example: --trusted-proxies 127.0.0.1/32,10.0.0.0/8
        #[arg(long, env = "SSO_TRUSTED_PROXIES")]
        trusted_proxies: Option<String>,
        /// Seconds a client has to send a request's headers: from connecting for the first
        /// request, from its first byte for a later one on the same connection.
        #[arg(long, env = "SSO_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = secs())]
        header_timeout_secs: u64,
        /// Seconds a request's body has to arrive after its headers; a slower body is cut
        /// off and answered as unreadable, in the protocol's own format.
        #[arg(long, env = "SSO_BODY_TIMEOUT_SECS", default_value_t = 15, value_parser = secs())]
        body_timeout_secs: u64,
        /// Seconds a kept-alive connection may wait for its next request before it is closed.
        #[arg(long, env = "SSO_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = secs())]
        idle_timeout_secs: u64,
        /// Connections served at once; more wait to be accepted [default: 1024, or the
        /// open-file limit less a reserve of a quarter of it (16 to 64) if that is lower].
        #[arg(long, env = "SSO_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
        max_connections: Option<u32>,
    },
    /// Import a directory file (TOML) into the store: checked as a whole before anything is
    /// written; one transaction on the embedded store, transactions of up to 100 items on
    /// DynamoDB (a failure midway leaves whole records written; the same import run again
    /// completes it). A record already in the store is refused unless --on-conflict says
    /// otherwise.
    ///
    /// Example: sso import crates/sso-store/import/demo.toml
    Import {
        /// The file.
        file: PathBuf,
        /// What to do with a record already in the store: refuse the file (naming every
        /// such record), keep the stored one, or overwrite it.
        #[arg(long, value_enum, default_value = "fail")]
        on_conflict: ConflictArg,
        /// Print what would be added, replaced or skipped, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the directory as an import file (the same TOML `sso import` reads), sorted, so
    /// export → import into an empty store → export gives the same bytes. Password verifiers
    /// and key hashes stay hashes, vendor passwords stay sealed (importing them needs the same
    /// SSO_SECRET_KEY); --no-secrets leaves them out. Needs no secret key.
    ///
    /// Example: sso export --output directory.toml
    Export {
        /// Write here (created with mode 0600) instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Leave out password hashes, key hashes and sealed passwords (the file is then for
        /// reading; importing it is refused).
        #[arg(long)]
        no_secrets: bool,
        /// Only this tenant's records (no groups, agents or administrators).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The directory's records and the audit trail.
    #[command(flatten)]
    Admin(AdminCommand),
    /// Print a signed-link URL (vendor password on stdin).
    ///
    /// Example: echo vendorpass | sso link --base-url http://demoaws.localhost:8080 --vendor 1001 --client-id 1234
    Link(sso_cli::partner::LinkArgs),
    /// Call the help-desk or call-center API as a partner and print the answer.
    #[command(subcommand)]
    Call(sso_cli::partner::CallCmd),
    /// Turn a vendor's integration test mode on or off: a refused signed link then lands on
    /// a page that says which check failed and why (never the expected digest). Refused on a
    /// vendor whose links signed clients in within 30 days, unless --force.
    ///
    /// Example: sso test-mode --tenant acme --vendor 1001 on
    TestMode(sso_cli::test_mode::TestModeArgs),
    /// Re-seal every vendor secret (and the readiness canary) under the current key.
    ///
    /// With SSO_SECRET_KEY="NEW,OLD" (current, then previous) what OLD sealed is re-sealed
    /// under NEW; then deploy NEW alone. An embedded store without SSO_SECRET_KEY gets a new
    /// key of its own (the old one stays in secret.key.previous until all is re-sealed).
    ///
    /// Example: SSO_SECRET_KEY="$NEW,$OLD" sso rotate-key --store dynamodb --table sso
    RotateKey,
    /// Create the DynamoDB table exactly as the SAM template declares it.
    ///
    /// Example: sso create-table --endpoint-url http://127.0.0.1:5000 --table sso
    CreateTable,
}

/// The admin commands: each opens the store and changes or lists one kind of record.
#[derive(Subcommand)]
enum AdminCommand {
    /// Tenants: add, show, list, update, enable, disable, delete.
    #[command(subcommand)]
    Tenant(sso_cli::admin::TenantCmd),
    /// Signed-link vendors: add, show, list, update, enable, disable, delete, rotate-secret, retire-secret.
    #[command(subcommand)]
    Vendor(sso_cli::admin::VendorCmd),
    /// Signed-link clients: add, show, list, update, enable, disable, delete.
    #[command(subcommand)]
    Client(sso_cli::admin::ClientCmd),
    /// Help-desk users: add, add-api-key, show, list, update, enable, disable, delete.
    #[command(subcommand, name = "helpdesk-user")]
    HelpdeskUser(sso_cli::admin::HelpdeskCmd),
    /// Call-center Platform-Keys: add, show, list, update, enable, disable, delete.
    #[command(subcommand, name = "platform-key")]
    PlatformKey(sso_cli::admin::PlatformKeyCmd),
    /// Portal groups: add, link, show, list, update, disable, delete.
    #[command(subcommand)]
    Group(sso_cli::admin::GroupCmd),
    /// Portal agents: add, show, list, update, enable, disable, delete.
    #[command(subcommand)]
    Agent(sso_cli::admin::AgentCmd),
    /// Portal administrators: add, show, list, update, enable, disable, delete.
    #[command(subcommand)]
    Administrator(sso_cli::admin::AdministratorCmd),
    /// A tenant's or an agent's audit events, newest first.
    ///
    /// Example: sso audit --tenant demoaws --subject agent1
    Audit(sso_cli::admin::AuditArgs),
}

/// `--listen`: an address, or a name and port resolved here (IPv4 first, as browsers try
/// `localhost`), so `localhost:8080` works as it does in every other server.
fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("{s}: expected IP:PORT or HOST:PORT ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

/// What a newcomer needs after `sso serve --demo`: where each tenant and the portal are, and
/// the demo's sign-ins (DEMO.md; public demo data, printed only with --demo).
async fn print_demo_banner(app: &App, base_domain: &str, https: bool) -> Result<(), CliError> {
    use sso_store::port::DirectoryAdmin;
    let scheme = if https { "https" } else { "http" };
    let port = app.port();
    let origin = |label: &str| format!("{scheme}://{label}.{base_domain}:{port}");
    println!("sso serve --demo: listening on port {port}; hosts are routed by name:");
    for t in app.store().list_tenants().await? {
        if t.enabled {
            println!("  tenant {:<12} {}", t.name, origin(&t.name));
        }
    }
    println!("  agent portal        {}", origin("my"));
    println!("demo sign-ins (shared/spec/DEMO.md):");
    println!("  signed link     vendor 1001 / vendorpass, clientID 1234 (see README)");
    println!(
        "  sign-in form    client@example.com / clientpass at {}/login",
        origin("demoaws")
    );
    println!("  help desk API   admin / test123 (API key demo-api-key), user joe / acjoe123");
    println!("  call center     Platform-Key demo-platform-key, from loopback");
    println!("  portal          agent1 / agentpass; administrator admin@example.com / adminpass");
    if base_domain == "localhost" {
        println!(
            "  (browsers resolve *.localhost themselves; for curl add --resolve HOST:{port}:127.0.0.1)"
        );
    }
    Ok(())
}

/// Whole seconds, at least one (a zero timeout would refuse every client).
fn secs() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=86_400)
}

fn init_logging(directive: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .finish()
        .with(sso_web::log_filter(directive))
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

impl AdminCommand {
    /// Whether the command only reads: then it needs no secret key and creates no store.
    fn read_only(&self) -> bool {
        use sso_cli::admin::*;
        matches!(
            self,
            AdminCommand::Tenant(TenantCmd::List | TenantCmd::Show { .. })
                | AdminCommand::Vendor(VendorCmd::List { .. } | VendorCmd::Show(_))
                | AdminCommand::Client(ClientCmd::List { .. } | ClientCmd::Show(_))
                | AdminCommand::HelpdeskUser(HelpdeskCmd::List { .. } | HelpdeskCmd::Show { .. })
                | AdminCommand::PlatformKey(
                    PlatformKeyCmd::List { .. } | PlatformKeyCmd::Show { .. }
                )
                | AdminCommand::Group(GroupCmd::List | GroupCmd::Show { .. })
                | AdminCommand::Agent(AgentCmd::List { .. } | AgentCmd::Show { .. })
                | AdminCommand::Administrator(
                    AdministratorCmd::List | AdministratorCmd::Show { .. }
                )
                | AdminCommand::Audit(_)
        )
    }
}

/// The store an admin command works on. An embedded store that does not exist yet is never
/// created silently: a read-only command refuses, naming the path; a write says where it is
/// creating it (a mistyped or forgotten --data would otherwise start an empty directory).
async fn admin_store(
    args: &StoreArgs,
    secret_key: &Option<String>,
    reading: bool,
) -> Result<sso_store::Store, CliError> {
    if matches!(args.store, StoreKind::Embedded) && !stores::embedded_exists(&args.data) {
        let at = std::path::absolute(&args.data).unwrap_or_else(|_| args.data.clone());
        if reading {
            return Err(CliError::Config(format!(
                "no store at {}: pass --data DIR (or set SSO_DATA), or create one with `sso import FILE`",
                at.display()
            )));
        }
        eprintln!("creating a new embedded store at {}", at.display());
    }
    if reading {
        stores::open_reading(&args.choice()?, secret_key.as_deref()).await
    } else {
        stores::open(&args.choice()?, secret_key.as_deref()).await
    }
}

/// Every setting, read once: `serve`'s flags (which clap also fills from their environment
/// variables) under their variable names, everything else from the environment.
fn settings(cli: &Cli) -> Result<Settings, CliError> {
    let mut flags: Vec<(&str, Option<String>)> =
        vec![(settings::TABLE, Some(cli.store.table.clone()))];
    if let Command::Serve {
        base_domain,
        https,
        single_tenant,
        trusted_proxies,
        ..
    } = &cli.command
    {
        flags.push((settings::BASE_DOMAIN, Some(base_domain.clone())));
        flags.push((settings::HTTPS, https.then(|| "true".to_owned())));
        flags.push((settings::SINGLE_TENANT, single_tenant.clone()));
        flags.push((settings::TRUSTED_PROXIES, trusted_proxies.clone()));
    }
    let lookup = |name: &str| match flags.iter().find(|(n, _)| *n == name) {
        Some((_, v)) => v.clone(),
        None => std::env::var(name).ok(),
    };
    Ok(Settings::read(lookup, Deployment::Local)?)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn run(cli: Cli, settings: Settings, change: Option<Change>) -> Result<(), CliError> {
    let secret_key = settings.secret_key.clone();
    let actor = trail::actor(cli.actor.clone());
    let record = async |store: &sso_store::Store, change: Option<Change>| match change {
        Some(c) => trail::record(store, &c, &actor, unix_now()).await,
        None => Ok(()),
    };
    match cli.command {
        Command::Serve {
            listen,
            demo,
            base_domain,
            https,
            header_timeout_secs,
            body_timeout_secs,
            idle_timeout_secs,
            max_connections,
            ..
        } => {
            let defaults = Limits::default();
            let limits = Limits {
                header_timeout: Duration::from_secs(header_timeout_secs),
                body_timeout: Duration::from_secs(body_timeout_secs),
                idle_timeout: Duration::from_secs(idle_timeout_secs),
                max_connections: max_connections
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(defaults.max_connections),
            };
            let config = ServeConfig {
                listen,
                web: settings.web(),
                store: cli.store.choice()?,
                secret_key,
                demo,
                clock: Arc::new(SystemClock),
                limits,
            };
            let app = App::build(config).await?;
            tracing::info!(port = app.port(), "listening");
            if demo {
                print_demo_banner(&app, &base_domain, https).await?;
            }
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Import {
            file,
            on_conflict,
            dry_run,
        } => {
            use sso_store::import::{OnConflict, PlanAction};
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Io(format!("{}: {e}", file.display())))?;
            let store = admin_store(&cli.store, &secret_key, false).await?;
            let policy = match on_conflict {
                ConflictArg::Fail => OnConflict::Fail,
                ConflictArg::Skip => OnConflict::Skip,
                ConflictArg::Replace => OnConflict::Replace,
            };
            let progress = sso_cli::progress::for_import();
            let plan = store
                .import_observed(
                    &file.display().to_string(),
                    &text,
                    policy,
                    dry_run,
                    progress.as_ref(),
                )
                .await?;
            drop(progress);
            if dry_run {
                for (action, label) in &plan.records {
                    let verb = match action {
                        PlanAction::Add => "add",
                        PlanAction::Replace => "replace",
                        PlanAction::Skip => "skip",
                    };
                    println!("{verb} {label}");
                }
            }
            let counts = format!(
                "{} added, {} replaced, {} skipped",
                plan.count(PlanAction::Add),
                plan.count(PlanAction::Replace),
                plan.count(PlanAction::Skip),
            );
            eprintln!(
                "{} {} from {}: {counts} (already in the store)",
                if dry_run { "would import" } else { "imported" },
                plan.records.len(),
                file.display(),
            );
            let change = change.map(|c| Change {
                detail: Some(counts),
                ..c
            });
            record(&store, change).await
        }
        Command::Export {
            output,
            no_secrets,
            tenant,
        } => {
            use sso_store::export::{Scope, Secrets};
            let store = admin_store(&cli.store, &secret_key, true).await?;
            let secrets = if no_secrets {
                Secrets::Leave
            } else {
                Secrets::Keep
            };
            let exported = store.export(&Scope { tenant }, secrets).await?;
            match output {
                Some(path) => {
                    sso_cli::export::write_private(&path, &exported.text)?;
                    eprintln!(
                        "exported {} record(s) to {}",
                        exported.records,
                        path.display()
                    );
                }
                None => print!("{}", exported.text),
            }
            Ok(())
        }
        Command::Link(args) => report(sso_cli::partner::link(args).await?),
        Command::Call(cmd) => report(sso_cli::partner::call(cmd).await?),
        Command::CreateTable => create_table(&cli.store).await,
        Command::TestMode(args) => {
            let store = admin_store(&cli.store, &secret_key, false).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            println!("{}", sso_cli::test_mode::run(&store, args, now).await?);
            record(&store, change).await
        }
        Command::RotateKey => {
            rotate_key(&cli.store, secret_key.as_deref()).await?;
            let store = stores::open(&cli.store.choice()?, secret_key.as_deref()).await?;
            record(&store, change).await
        }
        Command::Admin(cmd) => {
            use sso_cli::admin;
            let store = admin_store(&cli.store, &secret_key, cmd.read_only()).await?;
            let done = match cmd {
                AdminCommand::Tenant(cmd) => admin::tenant(&store, cmd).await,
                AdminCommand::Vendor(cmd) => admin::vendor(&store, cmd).await,
                AdminCommand::Client(cmd) => admin::client(&store, cmd).await,
                AdminCommand::HelpdeskUser(cmd) => admin::helpdesk(&store, cmd).await,
                AdminCommand::PlatformKey(cmd) => admin::platform_key(&store, cmd).await,
                AdminCommand::Group(cmd) => admin::group(&store, cmd).await,
                AdminCommand::Agent(cmd) => admin::agent(&store, cmd).await,
                AdminCommand::Administrator(cmd) => admin::administrator(&store, cmd).await,
                AdminCommand::Audit(args) => admin::audit(&store, args, unix_now()).await,
            };
            done?;
            record(&store, change).await
        }
    }
}

/// Prints a partner helper's outcome; a protocol refusal is an error of its own kind.
fn report(outcome: sso_cli::partner::Outcome) -> Result<(), CliError> {
    for line in &outcome.stderr {
        eprintln!("{line}");
    }
    println!("{}", outcome.stdout.trim_end());
    match outcome.refused {
        Some(why) => Err(CliError::Refused(why)),
        None => Ok(()),
    }
}

async fn rotate_key(args: &StoreArgs, ring: Option<&str>) -> Result<(), CliError> {
    let own_key = match (args.store, ring) {
        (StoreKind::Embedded, None) => {
            // Refused before any key file changes if a running server holds the store.
            drop(stores::open(&args.choice()?, None).await?);
            stores::rotate_local_key(&args.data)?;
            true
        }
        _ => false,
    };
    let store = stores::open(&args.choice()?, ring).await?;
    let done = store.reseal().await?;
    if own_key {
        stores::finish_local_rotation(&args.data)?;
    }
    eprintln!(
        "re-sealed {} vendor(s) under the current key; {} already were",
        done.vendors, done.current
    );
    Ok(())
}

#[cfg(feature = "dynamodb")]
async fn create_table(args: &StoreArgs) -> Result<(), CliError> {
    let dynamo = stores::dynamo(&args.dynamo()).await;
    dynamo.create_table().await?;
    eprintln!("table {} is ready", args.table);
    Ok(())
}

#[cfg(not(feature = "dynamodb"))]
async fn create_table(_: &StoreArgs) -> Result<(), CliError> {
    Err(stores::without_dynamodb())
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let change = trail::change_of(&matches);
    let settings = match settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sso: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&settings.log);
    match run(cli, settings, change).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ CliError::Refused(_)) => {
            eprintln!("sso: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("sso: {e}");
            ExitCode::FAILURE
        }
    }
}
