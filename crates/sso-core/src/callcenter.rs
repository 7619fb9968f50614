//! The sticky.io call-center SSO answer table (PROTOCOLS.md §3a).
//!
//! Every `/sso/0` answer is JSON with `success`, `code`, `url`, `message`, `status` and
//! `descriptor`, and the HTTP status equals `code`. Partners branch on `descriptor`, so those
//! strings are constants that never change.

use thiserror::Error;

/// `status` of a success.
pub const STATUS_SUCCESS: &str = "SUCCESS";
/// `status` of every failure.
pub const STATUS_FAILURE: &str = "FAILURE";
/// `descriptor` of a success.
pub const SSO_TOKEN_CREATED: &str = "SSO_TOKEN_CREATED";

/// `message` of a success.
pub const MSG_TOKEN_CREATED: &str = "SSO token created.";
/// `message` of [`CallCenterError::UnknownPlatform`].
pub const MSG_UNKNOWN_PLATFORM: &str = "Unknown platform.";
/// `message` of [`CallCenterError::InvalidPlatformKey`].
pub const MSG_INVALID_PLATFORM_KEY: &str = "Platform-Key is missing or invalid.";
/// `message` of [`CallCenterError::IpNotWhitelisted`].
pub const MSG_IP_NOT_WHITELISTED: &str = "Source IP is not allowed for this Platform-Key.";
/// `message` of [`CallCenterError::RateLimited`].
pub const MSG_RATE_LIMITED: &str = "Too many requests; slow down.";
/// `message` of [`CallCenterError::MethodNotAllowed`].
pub const MSG_METHOD_NOT_ALLOWED: &str = "Only POST creates an SSO token.";
/// `message` of [`CallCenterError::InvalidRequest`].
pub const MSG_INVALID_REQUEST: &str =
    "Request body must be a JSON object sent as application/json.";
/// `message` of [`CallCenterError::MissingField`], before the field's name.
pub const MSG_MISSING_FIELD: &str = "Missing required field: ";
/// `message` of [`CallCenterError::InvalidField`], before the field's name.
pub const MSG_INVALID_FIELD: &str = "Invalid field: ";
/// `message` of [`CallCenterError::DepartmentNotFound`].
pub const MSG_DEPARTMENT_NOT_FOUND: &str = "Department not found.";
/// `message` of [`CallCenterError::CampaignNotFound`].
pub const MSG_CAMPAIGN_NOT_FOUND: &str = "Campaign not found.";
/// `message` of [`CallCenterError::Unavailable`].
pub const MSG_UNAVAILABLE: &str = "Temporarily unavailable; try again.";

/// Why `/sso/0` refused a call, in the order its checks run. Each variant has a fixed HTTP
/// status / `code` and `descriptor`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CallCenterError {
    /// The tenant host is unknown.
    #[error("the host names no platform")]
    UnknownPlatform,
    /// `Platform-Key` is missing or not a key of this tenant.
    #[error("Platform-Key missing, unknown or disabled")]
    InvalidPlatformKey,
    /// The source IP is not on the key's allow-list.
    #[error("source address not on the key's allow-list")]
    IpNotWhitelisted,
    /// Too many calls.
    #[error("over the key's rate limit")]
    RateLimited,
    /// A method other than `POST` (after the key, address and rate checks).
    #[error("method other than POST")]
    MethodNotAllowed,
    /// The body is not JSON or the content type is not `application/json`.
    #[error("body is not a JSON object sent as application/json")]
    InvalidRequest,
    /// A required field is missing or empty.
    #[error("required field {0} is missing or empty")]
    MissingField(&'static str),
    /// A field has the wrong type, or the campaign CSV is malformed.
    #[error("field {0} has the wrong type or form")]
    InvalidField(&'static str),
    /// The department is not one of the tenant's.
    #[error("the platform has no such department")]
    DepartmentNotFound,
    /// A campaign is not one of the tenant's.
    #[error("the platform has no such campaign")]
    CampaignNotFound,
    /// The store could not be reached.
    #[error("the store is unavailable")]
    Unavailable,
}

impl CallCenterError {
    /// One of each refusal (fields named by example), for documents and tests that must
    /// cover every code and descriptor: the match below stops compiling when a variant is
    /// added, until it is listed here too.
    pub fn every() -> [Self; 11] {
        let every = [
            Self::UnknownPlatform,
            Self::InvalidPlatformKey,
            Self::IpNotWhitelisted,
            Self::RateLimited,
            Self::MethodNotAllowed,
            Self::InvalidRequest,
            Self::MissingField("username"),
            Self::InvalidField("department_id"),
            Self::DepartmentNotFound,
            Self::CampaignNotFound,
            Self::Unavailable,
        ];
        for e in &every {
            match e {
                Self::UnknownPlatform
                | Self::InvalidPlatformKey
                | Self::IpNotWhitelisted
                | Self::RateLimited
                | Self::MethodNotAllowed
                | Self::InvalidRequest
                | Self::MissingField(_)
                | Self::InvalidField(_)
                | Self::DepartmentNotFound
                | Self::CampaignNotFound
                | Self::Unavailable => {}
            }
        }
        every
    }

    /// The HTTP status, which is also the body's `code`.
    pub fn code(&self) -> u16 {
        match self {
            Self::InvalidRequest | Self::MissingField(_) => 400,
            Self::InvalidPlatformKey => 401,
            Self::IpNotWhitelisted => 403,
            Self::UnknownPlatform | Self::DepartmentNotFound | Self::CampaignNotFound => 404,
            Self::InvalidField(_) => 422,
            Self::RateLimited => 429,
            Self::MethodNotAllowed => 405,
            Self::Unavailable => 503,
        }
    }

    /// The body's `message`: wire text, kept apart from `Display` (log wording).
    pub fn message(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Self::UnknownPlatform => Borrowed(MSG_UNKNOWN_PLATFORM),
            Self::InvalidPlatformKey => Borrowed(MSG_INVALID_PLATFORM_KEY),
            Self::IpNotWhitelisted => Borrowed(MSG_IP_NOT_WHITELISTED),
            Self::RateLimited => Borrowed(MSG_RATE_LIMITED),
            Self::MethodNotAllowed => Borrowed(MSG_METHOD_NOT_ALLOWED),
            Self::InvalidRequest => Borrowed(MSG_INVALID_REQUEST),
            Self::MissingField(f) => Owned(format!("{MSG_MISSING_FIELD}{f}.")),
            Self::InvalidField(f) => Owned(format!("{MSG_INVALID_FIELD}{f}.")),
            Self::DepartmentNotFound => Borrowed(MSG_DEPARTMENT_NOT_FOUND),
            Self::CampaignNotFound => Borrowed(MSG_CAMPAIGN_NOT_FOUND),
            Self::Unavailable => Borrowed(MSG_UNAVAILABLE),
        }
    }

    /// The body's `descriptor`.
    pub fn descriptor(&self) -> &'static str {
        match self {
            Self::UnknownPlatform => "UNKNOWN_PLATFORM",
            Self::InvalidPlatformKey => "INVALID_PLATFORM_KEY",
            Self::IpNotWhitelisted => "IP_NOT_WHITELISTED",
            Self::RateLimited => "RATE_LIMITED",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::MissingField(_) => "MISSING_FIELD",
            Self::InvalidField(_) => "INVALID_FIELD",
            Self::DepartmentNotFound => "DEPARTMENT_NOT_FOUND",
            Self::CampaignNotFound => "CAMPAIGN_NOT_FOUND",
            Self::Unavailable => "UNAVAILABLE",
        }
    }
}

/// Most campaigns one grant may list: keeps session items well under 1 KB.
pub const MAX_CAMPAIGNS: usize = 64;

/// The campaigns an agent may use: all of the tenant's, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Campaigns {
    /// `campaign_id` absent, `null` or blank.
    All,
    /// Distinct campaign ids, ascending.
    Only(Vec<u64>),
}

/// Parses the `campaign_id` CSV. Blank (or only spaces) is [`Campaigns::All`]; otherwise every
/// item must be a positive decimal integer (spaces around it allowed), with no empty items and
/// no repeats, and at most [`MAX_CAMPAIGNS`] of them.
pub fn parse_campaigns(csv: &str) -> Result<Campaigns, CallCenterError> {
    if csv.trim().is_empty() {
        return Ok(Campaigns::All);
    }
    let mut ids = Vec::new();
    for item in csv.split(',') {
        let item = item.trim();
        let valid = !item.is_empty()
            && item.len() <= 19
            && item.bytes().all(|b| b.is_ascii_digit())
            && !item.starts_with('0');
        let id: u64 = match item.parse() {
            Ok(id) if valid => id,
            _ => return Err(CallCenterError::InvalidField("campaign_id")),
        };
        if ids.contains(&id) || ids.len() == MAX_CAMPAIGNS {
            return Err(CallCenterError::InvalidField("campaign_id"));
        }
        ids.push(id);
    }
    ids.sort_unstable();
    Ok(Campaigns::Only(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<CallCenterError> {
        vec![
            CallCenterError::UnknownPlatform,
            CallCenterError::InvalidPlatformKey,
            CallCenterError::IpNotWhitelisted,
            CallCenterError::RateLimited,
            CallCenterError::MethodNotAllowed,
            CallCenterError::InvalidRequest,
            CallCenterError::MissingField("username"),
            CallCenterError::InvalidField("department_id"),
            CallCenterError::DepartmentNotFound,
            CallCenterError::CampaignNotFound,
            CallCenterError::Unavailable,
        ]
    }

    #[test]
    fn wire_messages_are_fixed_and_apart_from_display() {
        let messages: Vec<String> = all().iter().map(|e| e.message().into_owned()).collect();
        assert_eq!(
            messages,
            [
                "Unknown platform.",
                "Platform-Key is missing or invalid.",
                "Source IP is not allowed for this Platform-Key.",
                "Too many requests; slow down.",
                "Only POST creates an SSO token.",
                "Request body must be a JSON object sent as application/json.",
                "Missing required field: username.",
                "Invalid field: department_id.",
                "Department not found.",
                "Campaign not found.",
                "Temporarily unavailable; try again.",
            ]
        );
        for e in all() {
            assert_ne!(
                e.to_string(),
                e.message(),
                "log text is not wire text: {e:?}"
            );
        }
    }

    #[test]
    fn the_table_of_codes_and_descriptors_never_changes() {
        let table: Vec<(u16, &str)> = all().iter().map(|e| (e.code(), e.descriptor())).collect();
        assert_eq!(
            table,
            [
                (404, "UNKNOWN_PLATFORM"),
                (401, "INVALID_PLATFORM_KEY"),
                (403, "IP_NOT_WHITELISTED"),
                (429, "RATE_LIMITED"),
                (405, "METHOD_NOT_ALLOWED"),
                (400, "INVALID_REQUEST"),
                (400, "MISSING_FIELD"),
                (422, "INVALID_FIELD"),
                (404, "DEPARTMENT_NOT_FOUND"),
                (404, "CAMPAIGN_NOT_FOUND"),
                (503, "UNAVAILABLE"),
            ]
        );
        let mut descriptors: Vec<&str> = all().iter().map(|e| e.descriptor()).collect();
        descriptors.push(SSO_TOKEN_CREATED);
        let n = descriptors.len();
        descriptors.sort_unstable();
        descriptors.dedup();
        assert_eq!(descriptors.len(), n, "descriptors must be unique");
    }

    #[test]
    fn campaign_csv_rules() {
        assert_eq!(parse_campaigns(""), Ok(Campaigns::All));
        assert_eq!(parse_campaigns("  "), Ok(Campaigns::All));
        assert_eq!(
            parse_campaigns("3, 1,2"),
            Ok(Campaigns::Only(vec![1, 2, 3]))
        );
        for bad in [
            "1,,2",
            "1,1",
            "a",
            "1,-2",
            "01",
            "0",
            "1.5",
            ",",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse_campaigns(bad),
                Err(CallCenterError::InvalidField("campaign_id")),
                "{bad}"
            );
        }
        let many: Vec<String> = (1..=65).map(|i| i.to_string()).collect();
        assert!(parse_campaigns(&many.join(",")).is_err());
    }
}
