//! `GET /sso/login?token=`: the agent's browser consumes the one-time URL, and the token
//! becomes the agent's platform session (one conditional write).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use sso_store::model::Protocol;
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::one_time_link::{self, LinkRequest};
use sso_web::{Door, page};

use crate::api::AppState;
use crate::error::Error;

/// `GET /sso/login?token=`, and `POST /sso/login` with `token` in the form (what the
/// scanner-safe confirmation page sends).
pub async fn handle(
    State(state): State<AppState>,
    TenantPage(tenant): TenantPage,
    SourceIp(source_ip): SourceIp,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, Error> {
    if method == Method::HEAD {
        return Ok(page::page(StatusCode::OK, "Sign in", ""));
    }
    let door = Door {
        protocol: Protocol::CallCenter,
        name: "/sso/login",
        bound_to: None,
        reusable: false,
    };
    let scanner_safe = tenant.scanner_safe_links;
    let read = one_time_link::read(
        &method,
        &headers,
        query.as_deref(),
        body,
        "token",
        "/sso/login",
        scanner_safe,
    );
    let token = match read.await {
        LinkRequest::Confirm(page) => return Ok(page),
        LinkRequest::Consume(token) => token,
    };
    match state
        .platform
        .redeem(&tenant, door, token.as_deref(), source_ip)
        .await?
    {
        Some(cookie) => Ok(page::redirect(&tenant.home_path, &[cookie])),
        None => Err(Error::BadToken),
    }
}
