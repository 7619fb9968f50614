//! Request set-up written once, as extractors (Kanidm's `https/extractors`): which tenant or
//! host a request is for, and where it comes from. An adapter's state only has to give the
//! [`Platform`] (`FromRef`).

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use sso_store::model::Tenant;

use crate::host::{self, HostKind};
use crate::{PageError, Platform, ip};

/// `impl FromRequestParts` for an extractor that needs only the request's parts and the
/// [`Platform`] the state gives.
macro_rules! platform_extractor {
    ($ty:ty, $rejection:ty, |$parts:ident, $p:ident| $body:expr) => {
        impl<S> FromRequestParts<S> for $ty
        where
            Platform: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = $rejection;

            async fn from_request_parts(
                $parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let $p = Platform::from_ref(state);
                $body
            }
        }
    };
}

/// The enabled tenant a page request's `Host` names. Rejected with the plain 404 page for
/// hosts that name none, the 503 page when the store is unavailable. (Protocol endpoints
/// with answers of their own, `api.php` and `/sso/0`, take [`Host`] instead.)
#[derive(Debug, Clone)]
pub struct TenantPage(pub Tenant);

platform_extractor!(TenantPage, PageError, |parts, p| p
    .page_tenant(&parts.headers)
    .await
    .map(TenantPage));

/// What the request's `Host` is: a tenant label, the portal, or nothing of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(pub HostKind);

platform_extractor!(Host, Infallible, |parts, p| Ok(Host(
    host::classify_headers(&parts.headers, &p.config)
)));

/// The portal host (`my.<base-domain>`); anything else is the plain 404.
#[derive(Debug, Clone, Copy)]
pub struct PortalHost;

platform_extractor!(
    PortalHost,
    PageError,
    |parts, p| match host::classify_headers(&parts.headers, &p.config) {
        HostKind::Portal => Ok(PortalHost),
        _ => Err(PageError::NotFound),
    }
);

/// The source IP the platform saw ([`ip::source_ip`]: the socket peer or API Gateway's
/// request context; `X-Forwarded-For` only from a configured proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

platform_extractor!(SourceIp, Infallible, |parts, p| Ok(SourceIp(
    ip::source_ip(parts, &p.config)
)));

impl std::fmt::Display for SourceIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
