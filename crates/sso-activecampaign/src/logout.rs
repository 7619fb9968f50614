//! `GET|POST /admin/logout`: end the help-desk session (its cookie's secret checked first).

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use sso_web::extract::TenantPage;
use sso_web::{cookies, page};

use crate::error::Error;
use crate::{AppState, LOGIN};

/// `GET|POST /admin/logout`.
pub async fn handle(
    State(state): State<AppState>,
    TenantPage(tenant): TenantPage,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let p = &state.platform;
    p.end_session(&headers, &tenant.name).await?;
    Ok(page::redirect(
        LOGIN,
        &[cookies::clear_session(p.config.https)],
    ))
}
