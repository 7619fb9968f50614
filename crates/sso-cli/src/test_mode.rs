//! `sso test-mode`: a vendor's integration test mode, in which a refused signed link lands on
//! a page that explains it instead of the failure URL. Turning it on for a vendor whose links
//! sign real clients in is refused without `--force`: its users would see the explanations.

use clap::{Args, ValueEnum};
use sso_store::Store;
use sso_store::model::{Outcome, Protocol};
use sso_store::port::{Audit, Directory, DirectoryAdmin};

use crate::CliError;

/// Seconds back that count as live traffic.
pub const LIVE_WINDOW_SECS: i64 = 30 * 86_400;
/// Audit events read back at most to look for live traffic.
const SCAN_MAX: usize = 20_000;

/// On or off.
#[derive(Clone, Copy, ValueEnum)]
pub enum Switch {
    /// Explain refused links on a page.
    On,
    /// Back to the failure URL (the default).
    Off,
}

/// `sso test-mode`.
#[derive(Args)]
pub struct TestModeArgs {
    /// Tenant (host label).
    #[arg(long)]
    tenant: String,
    /// Vendor id.
    #[arg(long)]
    vendor: String,
    /// `on` or `off`.
    switch: Switch,
    /// Turn it on even though the vendor's links signed clients in recently.
    #[arg(long)]
    force: bool,
}

/// Switches the vendor's test mode; `now` is Unix seconds.
pub async fn run(store: &Store, args: TestModeArgs, now: i64) -> Result<String, CliError> {
    let (tenant, id) = (&args.tenant, &args.vendor);
    let mut vendor = store
        .vendor(tenant, id)
        .await?
        .ok_or_else(|| CliError::Config(format!("tenant `{tenant}` has no vendor `{id}`")))?;
    let on = matches!(args.switch, Switch::On);
    if on
        && !args.force
        && let Some((count, latest)) = live_sign_ins(store, tenant, id, now).await?
    {
        return Err(CliError::Config(format!(
            "vendor `{id}` of tenant `{tenant}` has live traffic: {count} sign-in(s) in the \
             last 30 days, the latest {} s ago; test mode would show its users why their \
             links fail. Pass --force to turn it on anyway",
            now - latest
        )));
    }
    let before = vendor.test_mode;
    vendor.test_mode = on;
    store.put_vendor(&vendor).await?;
    Ok(format!(
        "vendor `{id}` of tenant `{tenant}`: test_mode {before} -> {on}"
    ))
}

/// Successful signed-link sign-ins by the vendor within [`LIVE_WINDOW_SECS`]: how many and
/// the latest time, or `None`.
async fn live_sign_ins(
    store: &Store,
    tenant: &str,
    vendor: &str,
    now: i64,
) -> Result<Option<(usize, i64)>, CliError> {
    let (mut count, mut latest, mut seen) = (0, None, 0);
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list(
                tenant,
                None,
                now - LIVE_WINDOW_SECS,
                now,
                500,
                cursor.as_deref(),
            )
            .await?;
        for e in &page.events {
            if e.protocol == Protocol::SignedLink
                && e.issuer == vendor
                && matches!(e.outcome, Outcome::Ok | Outcome::SameBrowser)
            {
                count += 1;
                latest = latest.max(Some(e.at));
            }
        }
        seen += page.events.len();
        match page.next {
            Some(next) if seen < SCAN_MAX => cursor = Some(next),
            _ => break,
        }
    }
    Ok(latest.map(|l| (count, l)))
}
