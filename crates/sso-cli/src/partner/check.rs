//! `sso link --check URL`: the vendor-side view of a signed link, offline, with the same
//! explanation a vendor in test mode sees on the gateway (`sso_core::signed_link::diagnose`).

use sso_core::expiry::ExpiryPolicy;
use sso_core::signed_link::{Scheme, SecretSet, VendorKeys, VendorSecret, diagnose};

use crate::CliError;

/// The report, and the refusal when the link would be refused.
pub struct Report {
    /// One finding per line.
    pub text: String,
    /// The refusal, with its errorID.
    pub refused: Option<String>,
}

/// Checks `url` (a `/signin.php` link, or just its query string) signed with `secret` under
/// the seed's default expiry rule (10 h on Central Standard Time).
pub fn check_url(
    url: &str,
    scheme: Scheme,
    secret: &VendorSecret,
    now: i64,
) -> Result<Report, CliError> {
    let query = match url.split_once('?') {
        Some((_, q)) => q,
        None if url.contains('=') => url,
        None => {
            return Err(CliError::Config(format!(
                "--check {url}: expected a /signin.php link with its query string"
            )));
        }
    };
    let query = query.split('#').next().unwrap_or_default();
    let keys = VendorKeys {
        scheme,
        secrets: SecretSet::single(secret.clone()),
        policy: ExpiryPolicy::default(),
        enabled: true,
    };
    let d = diagnose(query.as_bytes(), &keys, now);
    let mut text = d.lines.join("\n");
    text.push('\n');
    Ok(Report {
        text,
        refused: d.error.map(|e| {
            format!(
                "the link would be refused: {e} (errorID {})",
                e.error_id().code()
            )
        }),
    })
}
