//! `GET|POST /logout.php`: end the session, then go where its vendor asked.

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use sso_web::extract::TenantPage;
use sso_web::{Platform, cookies, home, page};

use crate::Error;

/// `GET|POST /logout.php`.
pub async fn handle(
    State(p): State<Platform>,
    TenantPage(tenant): TenantPage,
    headers: HeaderMap,
) -> Result<Response, Error> {
    // The destination is decided from the cookie's vendor, so it works after the session item
    // is gone; the session is marked ended, not deleted (it may be a link's replay record).
    let destination = home::signed_out_destination(&p, &tenant.name, &headers).await;
    p.end_session(&headers, &tenant.name).await?;
    Ok(page::redirect(
        &destination,
        &[cookies::clear_session(p.config.https)],
    ))
}
