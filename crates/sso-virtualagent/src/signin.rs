//! `GET|POST /signin.php`: the checks of PROTOCOLS.md §1 in their order, then the session.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use sso_core::ident::StorageKey;
use sso_core::signed_link::{self, ErrorId, Identifier, LinkError, LinkRequest, VendorKeys};
use sso_store::model::{
    AuditEvent, Claims, Client, NewSession, Outcome, Protocol, Recorded, Tenant, Vendor,
};
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::{Platform, WebError, form, page, random_bytes};

use crate::Error;

/// What the request turned out to be, before the response is chosen in one place.
enum Checked {
    /// Signed in: set this cookie and go home.
    SignedIn(SessionCookie),
    /// The same browser used its own link again: just go home.
    AlreadySignedIn,
    /// Refused with this reason.
    Refused(LinkError),
}

/// `GET|POST /signin.php`.
pub async fn handle(
    State(p): State<Platform>,
    TenantPage(tenant): TenantPage,
    SourceIp(source_ip): SourceIp,
    req: Request,
) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::HEAD {
        // Link scanners probe with HEAD: answer, but never consume the link.
        return Ok(page::page(StatusCode::OK, "Sign in", ""));
    }
    let form = match read_form(&parts.method, &parts.headers, parts.uri.query(), body).await {
        Ok(form) => form,
        Err(e) => {
            let at = Refusal::new(&tenant, None, source_ip);
            return Err(refuse(&p, at, lenient_vendor(&[]), e, &[]).await);
        }
    };
    let req = match signed_link::parse_request(&form) {
        Ok(r) => r,
        Err(e) => {
            let at = Refusal::new(&tenant, None, source_ip);
            return Err(refuse(&p, at, lenient_vendor(&form), e, &form).await);
        }
    };
    let audit = |outcome| {
        p.attempt(Protocol::SignedLink, &tenant.name, source_ip)
            .issuer(&req.vendor_id)
            .subject(req.identifier.as_str())
            .record(outcome)
    };
    let vendor = match p.directory.vendor(&tenant.name, &req.vendor_id).await {
        Ok(v) => v.filter(|v| v.enabled),
        Err(e) => {
            audit(Outcome::Unavailable).await;
            return Err(e.into());
        }
    };
    let started = p
        .attempt(Protocol::SignedLink, &tenant.name, source_ip)
        .issuer(&req.vendor_id)
        .subject(req.identifier.as_str())
        .if_it_ends(Outcome::Ok);
    let checked = sign_in(
        &p,
        &tenant,
        vendor.as_ref(),
        &req,
        &parts.headers,
        started.to_store(),
    )
    .await;
    match checked {
        Ok(Checked::SignedIn(cookie)) => {
            started.stored(None);
            Ok(p.signed_in(&tenant, &cookie, &tenant.home_path))
        }
        Ok(Checked::AlreadySignedIn) => {
            audit(Outcome::SameBrowser).await;
            Ok(page::redirect(&tenant.home_path, &[]))
        }
        Ok(Checked::Refused(e)) => {
            let at = Refusal::new(&tenant, Some(&req), source_ip);
            Err(refuse(&p, at, vendor_for_failure(vendor, &req), e, &form).await)
        }
        Err(e) => {
            audit(Outcome::Unavailable).await;
            Err(e.into())
        }
    }
}

/// The failure URL belongs to the vendor named in the request, if it exists and is enabled.
fn vendor_for_failure(vendor: Option<Vendor>, req: &LinkRequest) -> VendorRef {
    match vendor {
        Some(v) => VendorRef::Known(Box::new(v)),
        None => VendorRef::Id(Some(req.vendor_id.clone())),
    }
}

/// A vendor for choosing the failure URL: looked up, or only its id (looked up later).
enum VendorRef {
    Known(Box<Vendor>),
    Id(Option<String>),
}

async fn read_form(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> Result<Vec<u8>, LinkError> {
    if method == Method::GET {
        return Ok(query.unwrap_or_default().as_bytes().to_vec());
    }
    if !form::is_form_encoded(headers) {
        return Err(LinkError::WrongContentType);
    }
    form::read_body(body)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| LinkError::BodyTooLarge)
}

/// The first `vendorid` of an unparseable request, to find its failure URL (errorID 1 then
/// carries no identifier).
fn lenient_vendor(form: &[u8]) -> VendorRef {
    let id = url::form_urlencoded::parse(form)
        .find(|(k, _)| k == "vendorid")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 1024 && !v.contains('\u{FFFD}'));
    VendorRef::Id(id)
}

async fn sign_in(
    p: &Platform,
    tenant: &Tenant,
    vendor: Option<&Vendor>,
    req: &LinkRequest,
    headers: &HeaderMap,
    audit: Option<&AuditEvent>,
) -> Result<Checked, WebError> {
    let now = p.now();
    let keys = vendor.map(|v| VendorKeys {
        scheme: v.scheme,
        secrets: v.secrets.clone(),
        policy: v.policy,
        enabled: v.enabled,
    });
    let verified = match signed_link::check_link(req, keys.as_ref(), now) {
        Ok(v) => v,
        Err(e) => return Ok(Checked::Refused(e)),
    };
    let Some(vendor) = vendor else {
        return Ok(Checked::Refused(LinkError::UnknownVendor));
    };
    let secret: [u8; 16] = random_bytes()?;
    let (key, keep_until) = if vendor.reusable {
        let random: [u8; 32] = random_bytes()?;
        (StorageKey::from_bytes(random), None)
    } else {
        let token = req.replay_token();
        let key = StorageKey::digest_of(&[
            tenant.name.as_bytes(),
            vendor.id.as_bytes(),
            token.as_bytes(),
        ]);
        (key, Some(verified.timestamp.usable_until))
    };
    // Checks 5 and 6 read the directory and write nothing. Should they fail for a link that
    // was already used (its client removed or duplicated since), check 4 comes first: one
    // read of the link's record, on this failure path only.
    let found = candidates(p, &tenant.name, &req.identifier).await?;
    let client = match choose_client(found, &vendor.id) {
        Ok(c) => c,
        Err(e) => {
            let used = !vendor.reusable && p.sessions.recorded(&tenant.name, &key, now).await?;
            return Ok(Checked::Refused(if used {
                LinkError::AlreadyUsed
            } else {
                e
            }));
        }
    };
    let cookie = SessionCookie::Link {
        key,
        secret,
        vendor: vendor.id.clone(),
    };
    let session = NewSession {
        tenant: tenant.name.clone(),
        subject: client.client_id.clone(),
        protocol: Protocol::SignedLink,
        issuer: vendor.id.clone(),
        created_at: now,
        idle_secs: tenant.session_idle_secs,
        absolute_expiry: now.saturating_add(tenant.session_absolute_secs),
        secret_sha256: Some(cookies::secret_hash(&secret)),
        keep_until,
        claims: Claims::SignedLink {
            client_id: client.client_id.clone(),
            email: client.email.clone(),
            vendor: Some(vendor.id.clone()),
        },
    };
    // The session is the link's replay guard; its audit event rides in the same commit.
    match p.sessions.create_audited(&key, &session, audit).await? {
        Recorded::First => Ok(Checked::SignedIn(cookie)),
        Recorded::Replay => {
            // Double clicks and reloads: the browser that holds the live session this very
            // link created simply goes home.
            let same_browser = match cookies::session(headers, p.config.https) {
                Some(c) if c.storage_key() == key => {
                    p.session_for(c, &tenant.name).await?.is_some()
                }
                _ => false,
            };
            Ok(if same_browser {
                Checked::AlreadySignedIn
            } else {
                Checked::Refused(LinkError::AlreadyUsed)
            })
        }
    }
}

/// The clients a link's identifier names: by clientID, or every client with that email.
async fn candidates(p: &Platform, tenant: &str, id: &Identifier) -> Result<Vec<Client>, WebError> {
    Ok(match id {
        Identifier::ClientId(c) => p.directory.client(tenant, c).await?.into_iter().collect(),
        Identifier::Email(e) => p.directory.clients_by_email(tenant, e).await?,
    })
}

/// Checks 5 and 6: the one client of `candidates` this vendor may sign in.
fn choose_client(candidates: Vec<Client>, vendor: &str) -> Result<Client, LinkError> {
    let mut allowed = candidates.into_iter().filter(|c| c.allows(vendor));
    match (allowed.next(), allowed.next()) {
        (None, _) => Err(LinkError::NoClient),
        (Some(c), None) => Ok(c),
        (Some(_), Some(_)) => Err(LinkError::DuplicateEmail),
    }
}

/// The failure redirect: the vendor's registered failure URL with the identifier as sent
/// (none for errorID 1) and the errorID, else the tenant's login page.
pub fn failure_location(
    failure_url: Option<&str>,
    identifier: Option<&Identifier>,
    id: ErrorId,
) -> String {
    match failure_url.and_then(|u| url::Url::parse(u).ok()) {
        Some(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(ident) = identifier {
                    q.append_pair(ident.param_name(), ident.as_str());
                }
                q.append_pair("errorID", &id.code().to_string());
            }
            url.to_string()
        }
        None => format!("/login?errorID={}", id.code()),
    }
}

/// A refused link: audited, then the redirect to the vendor's failure URL (or the login page).
/// Where a refusal happened: the tenant, the parsed request (if it parsed) and the source.
struct Refusal<'a> {
    tenant: &'a Tenant,
    req: Option<&'a LinkRequest>,
    source_ip: IpAddr,
}

impl<'a> Refusal<'a> {
    fn new(tenant: &'a Tenant, req: Option<&'a LinkRequest>, source_ip: IpAddr) -> Self {
        Self {
            tenant,
            req,
            source_ip,
        }
    }
}

/// Audits a refused link and chooses its answer: the failure redirect, or for a vendor in
/// test mode the page that explains it (`form` is what the link carried).
async fn refuse(
    p: &Platform,
    at: Refusal<'_>,
    vendor: VendorRef,
    e: LinkError,
    form: &[u8],
) -> Error {
    let Refusal {
        tenant,
        req,
        source_ip,
    } = at;
    let id = e.error_id();
    // The vendor named, even by a request too malformed to parse: its audit line and its
    // failure URL.
    let named_vendor = match &vendor {
        VendorRef::Known(v) => Some(v.id.clone()),
        VendorRef::Id(vid) => vid.clone(),
    };
    let vendor_id = req.map_or(named_vendor.as_deref().unwrap_or_default(), |r| {
        r.vendor_id.as_str()
    });
    let identifier = req
        .map(|r| &r.identifier)
        .filter(|_| id != ErrorId::MissingParameters);
    let attempt = p
        .attempt(Protocol::SignedLink, &tenant.name, source_ip)
        .issuer(vendor_id)
        .subject(identifier.map_or("", |i| i.as_str()));
    let vendor = match vendor {
        VendorRef::Known(v) => Some(*v),
        VendorRef::Id(Some(vid)) => match p.directory.vendor(&tenant.name, &vid).await {
            Ok(v) => v.filter(|v| v.enabled),
            Err(err) => {
                attempt.record(Outcome::Unavailable).await;
                return err.into();
            }
        },
        VendorRef::Id(None) => None,
    };
    attempt
        .record(Outcome::LinkRefused {
            error_id: id.code(),
            reason: e.reason().to_owned(),
        })
        .await;
    match vendor {
        Some(v) if v.test_mode => {
            let keys = VendorKeys {
                scheme: v.scheme,
                secrets: v.secrets.clone(),
                policy: v.policy,
                enabled: v.enabled,
            };
            let mut lines = signed_link::diagnose(form, &keys, p.now()).lines;
            lines.push(format!(
                "The server refused it: {e} (errorID {}). Out of test mode the browser goes to {}.",
                id.code(),
                v.failure_url.as_deref().unwrap_or("this tenant's /login")
            ));
            Error::TestMode { lines, reason: e }
        }
        v => Error::LinkRefused {
            location: failure_location(v.and_then(|v| v.failure_url).as_deref(), identifier, id),
            reason: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_url_gets_the_identifier_and_error_appended_correctly() {
        let id = Identifier::ClientId("1234".into());
        assert_eq!(
            failure_location(
                Some("https://partner.example/fail.php"),
                Some(&id),
                ErrorId::NoMatch
            ),
            "https://partner.example/fail.php?clientID=1234&errorID=2"
        );
        assert_eq!(
            failure_location(
                Some("https://partner.example/fail.php?lang=de"),
                Some(&id),
                ErrorId::NoMatch
            ),
            "https://partner.example/fail.php?lang=de&clientID=1234&errorID=2"
        );
        let email = Identifier::Email("a+b c@example.com".into());
        assert_eq!(
            failure_location(
                Some("https://partner.example/f"),
                Some(&email),
                ErrorId::Duplicate
            ),
            "https://partner.example/f?email=a%2Bb+c%40example.com&errorID=4"
        );
        assert_eq!(
            failure_location(None, Some(&id), ErrorId::Expired),
            "/login?errorID=3"
        );
        assert_eq!(
            failure_location(
                Some("https://partner.example/f"),
                None,
                ErrorId::MissingParameters
            ),
            "https://partner.example/f?errorID=1"
        );
    }
}
