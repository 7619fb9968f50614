//! `/logout.php`: end the session, then go where its vendor asked.

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use sso_web::{Platform, cookies, home, page};

pub async fn handle(State(p): State<Platform>, headers: HeaderMap) -> Response {
    let tenant = match p.tenant_for_page(&headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    // The destination is decided from the cookie's vendor, so it works after the session item
    // is gone; the session is marked ended, not deleted (it may be a link's replay record).
    let destination = home::signed_out_destination(&p, &tenant.name, &headers).await;
    if let Err(e) = p.end_session(&headers, &tenant.name).await {
        tracing::warn!(error = %e, "logout: store unavailable");
        return page::unavailable();
    }
    page::redirect(&destination, &[cookies::clear_session(p.config.https)])
}
