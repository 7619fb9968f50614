//! Partner-side helpers, for integrators and for our own tests: make (and check, and open) a
//! signed link, call the help-desk and call-center APIs, and say plainly whether the protocol
//! said yes. Secrets come from stdin.

pub mod check;
pub mod transport;
pub mod verdict;

use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use reqwest::{Method, Url};
use sso_core::helpdesk::password_digest;
use sso_core::signed_link::{Scheme, VendorSecret, sign};

use crate::{CliError, secrets};
use transport::{Answer, Body, ConnectArgs, Transport};
use verdict::Refusal;

/// `sso link`: print a signed-link URL, or open it, or check one.
#[derive(Args)]
pub struct LinkArgs {
    /// The tenant's origin, e.g. http://demoaws.localhost:8080
    #[arg(long, required_unless_present = "check")]
    base_url: Option<String>,
    /// Vendor id.
    #[arg(long, required_unless_present = "check")]
    vendor: Option<String>,
    /// Sign in by clientID…
    #[arg(long, conflicts_with = "email")]
    client_id: Option<String>,
    /// …or by email.
    #[arg(long)]
    email: Option<String>,
    /// `md5` or `hmac-sha256`.
    #[arg(long, default_value = "md5")]
    scheme: String,
    /// Timestamp to sign (default: now, as PHP's time()).
    #[arg(long)]
    timestamp: Option<i64>,
    /// Also open the link (as a browser would, without following the redirect) and say
    /// whether it signed in; a refusal exits 3 with its errorID and meaning.
    #[arg(long, conflicts_with = "check")]
    open: bool,
    /// Check a link offline instead (vendor password on stdin): which check fails and why,
    /// never the expected digest. Exits 3 when the link would be refused.
    #[arg(long, value_name = "URL")]
    check: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// What a partner helper did: its text for stdout, and whether the protocol refused.
pub struct Outcome {
    /// What to print on stdout (the URL, the answer's body, the check's report).
    pub stdout: String,
    /// Lines for stderr (the HTTP status, a summary).
    pub stderr: Vec<String>,
    /// `Some` when the protocol's answer is a failure: the command exits 3 and says why.
    pub refused: Option<String>,
}

impl Outcome {
    fn of(stdout: String, stderr: Vec<String>, verdict: Result<(), Refusal>) -> Self {
        Self {
            stdout,
            stderr,
            refused: verdict.err().map(|r| r.0),
        }
    }
}

/// `sso link`.
pub async fn link(args: LinkArgs) -> Result<Outcome, CliError> {
    let scheme = match args.scheme.as_str() {
        "md5" => Scheme::Md5,
        "hmac-sha256" => Scheme::HmacSha256,
        _ => return Err(CliError::Config("--scheme is md5 or hmac-sha256".into())),
    };
    let now = unix_now();
    if let Some(url) = &args.check {
        let pw = secrets::read("vendor password")?;
        let report = check::check_url(url, scheme, &VendorSecret::new(pw), now)?;
        return Ok(Outcome {
            stdout: report.text,
            stderr: vec![],
            refused: report.refused,
        });
    }
    let (field, id) = match (&args.client_id, &args.email) {
        (Some(c), _) => ("clientID", c.clone()),
        (None, Some(e)) => ("email", e.clone()),
        (None, None) => return Err(CliError::Config("give --client-id or --email".into())),
    };
    let ts = args.timestamp.unwrap_or(now);
    let pw = secrets::read("vendor password")?;
    let token = sign(scheme, &id, &ts.to_string(), &VendorSecret::new(pw));
    let mut url = endpoint(args.base_url.as_deref().unwrap_or_default(), "/signin.php")?;
    url.query_pairs_mut()
        .append_pair(field, &id)
        .append_pair("vendorid", args.vendor.as_deref().unwrap_or_default())
        .append_pair("timestamp", &ts.to_string())
        .append_pair("token", &token);
    if !args.open {
        return Ok(Outcome::of(url.to_string(), vec![], Ok(())));
    }
    let answer = Transport::for_url(&url, &args.connect)?
        .send(Method::GET, &url, &[], None)
        .await?;
    let verdict = verdict::signed_link(&answer);
    let summary = match (&verdict, &answer.location) {
        (Ok(()), Some(l)) => format!("signed in: HTTP {}, session set, to {l}", answer.status),
        _ => format!("HTTP {}", answer.status),
    };
    Ok(Outcome::of(url.to_string(), vec![summary], verdict))
}

/// `sso call …`.
#[derive(Subcommand)]
pub enum CallCmd {
    /// Call api.php; stdin: the admin's password (or, with --api-key, the admin's API key),
    /// then the user's password (one per line). Exits 3 on `result_code 0`.
    /// Example: printf 'test123\nacjoe123\n' | sso call helpdesk --base-url http://demoaws.localhost:8080 --api-user admin --sso-user joe --sso-addr 127.0.0.1
    /// Example: printf 'demo-api-key\nacjoe123\n' | sso call helpdesk --base-url http://demoaws.localhost:8080 --api-key --sso-user joe --sso-addr 127.0.0.1
    Helpdesk {
        /// The tenant's origin, e.g. http://demoaws.localhost:8080.
        #[arg(long)]
        base_url: String,
        /// The API admin (with its password on stdin).
        #[arg(long, required_unless_present = "api_key", conflicts_with = "api_key")]
        api_user: Option<String>,
        /// Authenticate with the admin's API key (read from stdin) instead.
        #[arg(long)]
        api_key: bool,
        /// The help-desk user to sign in.
        #[arg(long)]
        sso_user: String,
        /// The visitor's IP the token is bound to.
        #[arg(long)]
        sso_addr: String,
        /// `singlesignon` or `singlesignon_sameserver`.
        #[arg(long, default_value = "singlesignon")]
        action: String,
        /// `serialize`, `xml` or `json`.
        #[arg(long, default_value = "json")]
        output: String,
        /// Minutes.
        #[arg(long, default_value_t = 30)]
        duration: u32,
        /// Then open the `_ssot` link (from this machine, so --sso-addr must be its address)
        /// and say whether it signed in.
        #[arg(long)]
        open: bool,
        /// How to reach the server.
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// POST /sso/0; stdin: the Platform-Key. Exits 3 unless `success` is 1.
    /// Example: echo demo-platform-key | sso call callcenter --base-url http://demoaws.localhost:8080 --username agent1 --fullname "Agent One" --department 1
    Callcenter {
        /// The tenant's origin, e.g. http://demoaws.localhost:8080.
        #[arg(long)]
        base_url: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// Full name.
        #[arg(long)]
        fullname: String,
        /// Department id.
        #[arg(long)]
        department: u64,
        /// Campaign CSV (default: all).
        #[arg(long)]
        campaigns: Option<String>,
        /// Inbound number the customer called.
        #[arg(long)]
        call_center_did: Option<String>,
        /// Customer's caller-ID number.
        #[arg(long)]
        customer_cid: Option<String>,
        /// Then open the one-time login `url` and say whether it signed in.
        #[arg(long)]
        open: bool,
        /// How to reach the server.
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// Makes the call; the outcome says whether the protocol refused.
pub async fn call(cmd: CallCmd) -> Result<Outcome, CliError> {
    match cmd {
        CallCmd::Helpdesk {
            base_url,
            api_user,
            api_key,
            sso_user,
            sso_addr,
            action,
            output,
            duration,
            open,
            connect,
        } => {
            let mut pairs: Vec<(&str, String)> = match (api_key, api_user) {
                (true, _) => vec![("api_key", secrets::read("API key")?)],
                (false, Some(user)) => vec![
                    ("api_user", user),
                    (
                        "api_pass_h",
                        password_digest(&secrets::read("admin password")?),
                    ),
                ],
                (false, None) => {
                    return Err(CliError::Config("--api-user or --api-key is needed".into()));
                }
            };
            let user = password_digest(&secrets::read("user password")?);
            pairs.extend([
                ("api_output", output),
                ("api_action", action),
                ("sso_addr", sso_addr),
                ("sso_user", sso_user),
                ("sso_pass", user),
                ("sso_duration", duration.to_string()),
            ]);
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let url = endpoint(&base_url, "/api.php")?;
            let transport = Transport::for_url(&url, &connect)?;
            let answer = transport
                .send(Method::POST, &url, &[], Some(Body::form(&pairs)))
                .await?;
            let verdict = verdict::helpdesk(&answer);
            let token = verdict::field(&answer, "token");
            finish(
                &transport,
                &url,
                answer,
                verdict,
                open.then_some(token),
                |t| format!("/admin/main.php?_ssot={t}"),
            )
            .await
        }
        CallCmd::Callcenter {
            base_url,
            username,
            fullname,
            department,
            campaigns,
            call_center_did,
            customer_cid,
            open,
            connect,
        } => {
            let key = secrets::read("Platform-Key")?;
            let body = serde_json::json!({
                "username": username, "fullname": fullname, "department_id": department,
                "campaign_id": campaigns, "call_center_did": call_center_did, "customer_cid": customer_cid,
            });
            let url = endpoint(&base_url, "/sso/0")?;
            let transport = Transport::for_url(&url, &connect)?;
            let answer = transport
                .send(
                    Method::POST,
                    &url,
                    &[("platform-key", &key)],
                    Some(Body::json(&body)),
                )
                .await?;
            let verdict = verdict::callcenter(&answer);
            let login = verdict::field(&answer, "url");
            finish(
                &transport,
                &url,
                answer,
                verdict,
                open.then_some(login),
                |u| u.to_owned(),
            )
            .await
        }
    }
}

/// The call's outcome, after opening the link it returned when `--open` asked for it.
async fn finish(
    transport: &Transport,
    base: &Url,
    answer: Answer,
    verdict: Result<(), Refusal>,
    open: Option<Option<String>>,
    link: impl Fn(&str) -> String,
) -> Result<Outcome, CliError> {
    let status = format!("HTTP {}", answer.status);
    let (Ok(()), Some(found)) = (&verdict, open) else {
        return Ok(Outcome::of(answer.body, vec![status], verdict));
    };
    let Some(value) = found else {
        return Ok(Outcome::of(
            answer.body,
            vec![status],
            Err(Refusal("the answer has no link to open".into())),
        ));
    };
    let target = base
        .join(&link(&value))
        .map_err(|e| CliError::Config(format!("the link in the answer: {e}")))?;
    let opened = transport.send(Method::GET, &target, &[], None).await?;
    let opened_verdict = verdict::one_time_link(&opened);
    let summary = match (&opened_verdict, &opened.location) {
        (Ok(()), Some(l)) => format!(
            "opened the link: HTTP {}, session set, to {l}",
            opened.status
        ),
        _ => format!("opened the link: HTTP {}", opened.status),
    };
    Ok(Outcome::of(
        answer.body,
        vec![status, summary],
        opened_verdict,
    ))
}

fn endpoint(base_url: &str, path: &str) -> Result<Url, CliError> {
    let base = base_url.trim_end_matches('/');
    let url = Url::parse(&format!("{base}{path}"))
        .map_err(|e| CliError::Config(format!("--base-url {base_url}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CliError::Config(format!(
            "--base-url {base_url}: expected an http:// or https:// origin"
        )));
    }
    Ok(url)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
