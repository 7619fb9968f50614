//! Partner-side helpers, for integrators and for our own tests: make a signed link, call the
//! help-desk and call-center APIs, print what comes back. Secrets come from stdin.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use sso_core::helpdesk::password_digest;
use sso_core::signed_link::{Scheme, VendorSecret, sign};

use crate::{CliError, secrets};

/// `sso link`: print a signed-link URL.
#[derive(Args)]
pub struct LinkArgs {
    /// The tenant's origin, e.g. http://demoaws.localhost:8080
    #[arg(long)]
    base_url: String,
    /// Vendor id.
    #[arg(long)]
    vendor: String,
    /// Sign in by clientID…
    #[arg(long, conflicts_with = "email", required_unless_present = "email")]
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
}

/// Makes the URL (vendor password from stdin).
pub fn link(args: LinkArgs) -> Result<String, CliError> {
    let scheme = match args.scheme.as_str() {
        "md5" => Scheme::Md5,
        "hmac-sha256" => Scheme::HmacSha256,
        _ => return Err(CliError::Config("--scheme is md5 or hmac-sha256".into())),
    };
    let (field, id) = match (&args.client_id, &args.email) {
        (Some(c), _) => ("clientID", c.clone()),
        (None, Some(e)) => ("email", e.clone()),
        (None, None) => return Err(CliError::Config("give --client-id or --email".into())),
    };
    let ts = args.timestamp.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    let pw = secrets::read("vendor password")?;
    let token = sign(scheme, &id, &ts.to_string(), &VendorSecret::new(pw));
    let base = args.base_url.trim_end_matches('/');
    let mut url = reqwest::Url::parse(&format!("{base}/signin.php"))
        .map_err(|e| CliError::Config(format!("--base-url: {e}")))?;
    url.query_pairs_mut()
        .append_pair(field, &id)
        .append_pair("vendorid", &args.vendor)
        .append_pair("timestamp", &ts.to_string())
        .append_pair("token", &token);
    Ok(url.to_string())
}

/// `sso call …`.
#[derive(Subcommand)]
pub enum CallCmd {
    /// Call api.php; stdin: the admin's password (or, with --api-key, the admin's API key),
    /// then the user's password (one per line).
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
    },
    /// POST /sso/0; stdin: the Platform-Key.
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
    },
}

/// Makes the call and returns the HTTP status and the body.
pub async fn call(cmd: CallCmd) -> Result<(u16, String), CliError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Io(e.to_string()))?;
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.map_err(|e| CliError::Io(e.to_string()))?;
        let status = resp.status().as_u16();
        Ok::<_, CliError>((
            status,
            resp.text().await.map_err(|e| CliError::Io(e.to_string()))?,
        ))
    };
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
        } => {
            let credentials = match (api_key, api_user) {
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
            let duration = duration.to_string();
            let rest = [
                ("api_output", output.as_str()),
                ("api_action", action.as_str()),
                ("sso_addr", sso_addr.as_str()),
                ("sso_user", sso_user.as_str()),
                ("sso_pass", user.as_str()),
                ("sso_duration", duration.as_str()),
            ];
            let body = credentials
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain(rest)
                .map(|(k, v)| format!("{k}={}", url_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            send(
                http.post(format!("{}/api.php", base_url.trim_end_matches('/')))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
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
        } => {
            let key = secrets::read("Platform-Key")?;
            let body = serde_json::json!({
                "username": username, "fullname": fullname, "department_id": department,
                "campaign_id": campaigns, "call_center_did": call_center_did, "customer_cid": customer_cid,
            });
            send(
                http.post(format!("{}/sso/0", base_url.trim_end_matches('/')))
                    .header("content-type", "application/json")
                    .header("platform-key", key)
                    .body(body.to_string()),
            )
            .await
        }
    }
}

fn url_encode(v: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", v)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches("v=").to_owned()))
        .unwrap_or_default()
}
