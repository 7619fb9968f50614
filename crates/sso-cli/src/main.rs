//! `sso`: run the gateway locally, administer its directory, act as a partner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use sso_cli::stores::{self, StoreChoice};
use sso_cli::{App, CliError, ServeConfig};
use sso_store::dynamo::{Dynamo, DynamoConfig};
use sso_web::{SystemClock, WebConfig};

/// The SSO gateway: signed-link, help-desk and call-center single sign-on.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreKind {
    /// A redb file under --data (the default; no server needed).
    Embedded,
    /// A DynamoDB table (--table; --endpoint-url for a local DynamoDB-compatible server).
    Dynamodb,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Which store.
    #[arg(long, env = "SSO_STORE", value_enum, default_value = "embedded")]
    store: StoreKind,
    /// Data directory of the embedded store.
    #[arg(long, env = "SSO_DATA", default_value = "./.sso-data")]
    data: PathBuf,
    /// DynamoDB table.
    #[arg(long, env = "SSO_TABLE", default_value = "sso")]
    table: String,
    /// A DynamoDB-compatible endpoint, e.g. http://127.0.0.1:5000 (moto).
    #[arg(long, env = "SSO_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

impl StoreArgs {
    fn choice(&self) -> StoreChoice {
        match self.store {
            StoreKind::Embedded => StoreChoice::Embedded(self.data.clone()),
            StoreKind::Dynamodb => StoreChoice::Dynamo(DynamoConfig {
                table: self.table.clone(),
                endpoint_url: self.endpoint_url.clone(),
                region: None,
            }),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve every protocol on one listener, routing by Host.
    ///
    /// Example: sso serve --demo   (then open http://demoaws.localhost:8080/login)
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SSO_LISTEN", default_value = "127.0.0.1:8080")]
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
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Import a directory file (TOML) into the store, all or nothing.
    ///
    /// Example: sso import crates/sso-store/import/demo.toml
    Import {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create the DynamoDB table exactly as the SAM template declares it.
    ///
    /// Example: sso create-table --endpoint-url http://127.0.0.1:5000 --table sso
    CreateTable {
        /// DynamoDB table.
        #[arg(long, env = "SSO_TABLE", default_value = "sso")]
        table: String,
        /// A DynamoDB-compatible endpoint.
        #[arg(long, env = "SSO_ENDPOINT_URL")]
        endpoint_url: Option<String>,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SSO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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

async fn run(cli: Cli) -> Result<(), CliError> {
    let secret_key = std::env::var("SSO_SECRET_KEY").ok();
    match cli.command {
        Command::Serve {
            listen,
            base_domain,
            https,
            demo,
            store,
        } => {
            let config = ServeConfig {
                listen,
                web: WebConfig {
                    base_domain,
                    https,
                    ..WebConfig::default()
                },
                store: store.choice(),
                secret_key,
                demo,
                clock: Arc::new(SystemClock),
            };
            let app = App::build(config).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Import { file, store } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Io(format!("{}: {e}", file.display())))?;
            let store = stores::open(&store.choice(), secret_key.as_deref()).await?;
            let summary = store.import(&file.display().to_string(), &text).await?;
            eprintln!(
                "imported {} records from {}",
                summary.records,
                file.display()
            );
            Ok(())
        }
        Command::CreateTable {
            table,
            endpoint_url,
        } => {
            let dynamo = Dynamo::connect(&DynamoConfig {
                table: table.clone(),
                endpoint_url,
                region: None,
            })
            .await;
            dynamo.create_table().await?;
            eprintln!("table {table} is ready");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sso: {e}");
            ExitCode::FAILURE
        }
    }
}
