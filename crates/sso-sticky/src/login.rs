//! `GET /sso/login?token=`: the agent's browser consumes the one-time URL, and the token
//! becomes the agent's platform session (one conditional write).

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{Method, StatusCode};
use sso_store::model::Protocol;
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::form::query_value;
use sso_web::{Door, page};

use crate::api::AppState;
use crate::error::Error;

/// `GET /sso/login?token=`.
pub async fn handle(
    State(state): State<AppState>,
    TenantPage(tenant): TenantPage,
    SourceIp(source_ip): SourceIp,
    method: Method,
    RawQuery(query): RawQuery,
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
    let token = query_value(query.as_deref(), "token");
    match state
        .platform
        .redeem(&tenant, door, token.as_deref(), source_ip)
        .await?
    {
        Some(cookie) => Ok(page::redirect(&tenant.home_path, &[cookie])),
        None => Err(Error::BadToken),
    }
}
