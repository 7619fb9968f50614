//! `GET /admin/main.php[?_ssot=TOKEN]`: the `_ssot` redemption, and the signed-in page.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use sso_store::model::Protocol;
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::form::query_value;
use sso_web::one_time_link::{self, LinkRequest};
use sso_web::{Door, home, page};

use crate::error::Error;
use crate::{AppState, LOGIN};

/// `GET /admin/main.php[?_ssot=TOKEN]`.
pub async fn handle(
    State(state): State<AppState>,
    TenantPage(tenant): TenantPage,
    SourceIp(source_ip): SourceIp,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, Error> {
    let p = &state.platform;
    let ssot = query_value(query.as_deref(), "_ssot");
    if ssot.is_some() || method == Method::POST {
        if method == Method::HEAD {
            return Ok(page::page(StatusCode::OK, "Help desk", ""));
        }
        let read = one_time_link::read(
            &method,
            &headers,
            query.as_deref(),
            body,
            "_ssot",
            "/admin/main.php",
            tenant.scanner_safe_links,
        );
        let token = match read.await {
            LinkRequest::Confirm(page) => return Ok(page),
            LinkRequest::Consume(token) => token,
        };
        // One conditional write turns the token into the session, bound to `sso_addr`
        // unless the account switched the binding off. Any refusal is the same answer.
        let door = Door {
            protocol: Protocol::Helpdesk,
            name: "_ssot",
            bound_to: tenant.helpdesk_ip_binding.then(|| source_ip.to_string()),
            reusable: tenant.helpdesk_token_reusable,
        };
        return match p.redeem(&tenant, door, token.as_deref(), source_ip).await? {
            Some(cookie) => Ok(page::redirect("/admin/main.php", &[cookie])),
            None => Err(Error::BadToken),
        };
    }
    Ok(match p.current_session(&headers, &tenant.name).await? {
        Some(cs) if cs.session.protocol == Protocol::Helpdesk => {
            home::signed_in_page(&tenant.name, &cs, &tenant.frame_ancestors)
        }
        _ => page::redirect(LOGIN, &[]),
    })
}
