//! The errorID of the signed-link protocol and the reasons behind each.

use thiserror::Error;

use crate::expiry::ExpiryError;

/// The wire code a failed sign-in is redirected with (`…&errorID=N`), numbered as the Virtual
/// Agent Connect document numbers them. The numbers never change: partners match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ErrorId {
    /// The vendor is unknown or disabled, or the token does not match.
    Unauthorized = 0,
    /// A parameter is missing, repeated, too long or unreadable.
    MissingParameters = 1,
    /// No client with that email or clientID that this vendor may sign in.
    NoMatch = 2,
    /// The link is too old, too far in the future, malformed in time, or already used.
    Expired = 3,
    /// The email belongs to more than one client.
    Duplicate = 4,
}

impl ErrorId {
    /// Every code, in wire order.
    pub const ALL: [ErrorId; 5] = [
        ErrorId::Unauthorized,
        ErrorId::MissingParameters,
        ErrorId::NoMatch,
        ErrorId::Expired,
        ErrorId::Duplicate,
    ];

    /// The number sent as `errorID`.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The code for a wire number, for the login page that explains it.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// A sentence for a person, shown on the standard login page. Says no more than the code.
    pub fn explanation(self) -> &'static str {
        match self {
            ErrorId::Unauthorized => {
                "The partner site that sent you here could not be verified. Please sign in below."
            }
            ErrorId::MissingParameters => {
                "The sign-in link was incomplete. Please sign in below or ask the partner site for a new link."
            }
            ErrorId::NoMatch => "No account matches the sign-in link. Please sign in below.",
            ErrorId::Expired => {
                "The sign-in link has expired or was already used. Please go back to the partner site and try again."
            }
            ErrorId::Duplicate => {
                "More than one account uses that email address. Please sign in below with your own credentials."
            }
        }
    }
}

/// Why a signed-link sign-in failed. Each reason maps to exactly one [`ErrorId`]; the finer
/// reason is for logs and the audit trail, never for the partner or the browser.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A required parameter is missing or empty.
    #[error("parameter `{0}` is missing")]
    MissingParameter(&'static str),
    /// Both `email` and `clientID` were given.
    #[error("both `email` and `clientID` were given")]
    BothIdentifiers,
    /// A parameter was given more than once.
    #[error("parameter `{0}` was given more than once")]
    RepeatedParameter(&'static str),
    /// A value is longer than [`crate::signed_link::request::MAX_VALUE_BYTES`].
    #[error("parameter `{0}` is too long")]
    ValueTooLong(&'static str),
    /// A name or value is not UTF-8 after percent-decoding.
    #[error("the request is not UTF-8")]
    NotUtf8,
    /// The form body is larger than [`crate::signed_link::request::MAX_BODY_BYTES`].
    #[error("the request body is too large")]
    BodyTooLarge,
    /// A `POST` whose content type is not `application/x-www-form-urlencoded`.
    #[error("the request body is not form-encoded")]
    WrongContentType,
    /// The vendor id is unknown to this tenant, or the vendor is disabled.
    #[error("unknown or disabled vendor")]
    UnknownVendor,
    /// The token does not match any of the vendor's secrets.
    #[error("the token does not match")]
    BadSignature,
    /// The timestamp is malformed, too old or too far ahead.
    #[error(transparent)]
    Timestamp(#[from] ExpiryError),
    /// The link was already used (replay guard).
    #[error("the link was already used")]
    AlreadyUsed,
    /// No client matches that this vendor may sign in.
    #[error("no matching client")]
    NoClient,
    /// The email belongs to more than one client this vendor may sign in.
    #[error("the email matches more than one client")]
    DuplicateEmail,
}

impl LinkError {
    /// The wire code of this failure.
    pub fn error_id(&self) -> ErrorId {
        match self {
            LinkError::MissingParameter(_)
            | LinkError::BothIdentifiers
            | LinkError::RepeatedParameter(_)
            | LinkError::ValueTooLong(_)
            | LinkError::NotUtf8
            | LinkError::BodyTooLarge
            | LinkError::WrongContentType => ErrorId::MissingParameters,
            LinkError::UnknownVendor | LinkError::BadSignature => ErrorId::Unauthorized,
            LinkError::Timestamp(_) | LinkError::AlreadyUsed => ErrorId::Expired,
            LinkError::NoClient => ErrorId::NoMatch,
            LinkError::DuplicateEmail => ErrorId::Duplicate,
        }
    }

    /// A short stable name for the audit trail and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            LinkError::MissingParameter(_) => "missing_parameter",
            LinkError::BothIdentifiers => "both_identifiers",
            LinkError::RepeatedParameter(_) => "repeated_parameter",
            LinkError::ValueTooLong(_) => "value_too_long",
            LinkError::NotUtf8 => "not_utf8",
            LinkError::BodyTooLarge => "body_too_large",
            LinkError::WrongContentType => "wrong_content_type",
            LinkError::UnknownVendor => "unknown_vendor",
            LinkError::BadSignature => "bad_signature",
            LinkError::Timestamp(ExpiryError::Malformed) => "timestamp_malformed",
            LinkError::Timestamp(ExpiryError::TooFarInFuture { .. }) => "timestamp_future",
            LinkError::Timestamp(_) => "timestamp_expired",
            LinkError::AlreadyUsed => "already_used",
            LinkError::NoClient => "no_client",
            LinkError::DuplicateEmail => "duplicate_email",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_ids_are_the_documented_numbers_and_never_change() {
        let wire: Vec<u8> = ErrorId::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(wire, [0, 1, 2, 3, 4]);
        for id in ErrorId::ALL {
            assert_eq!(ErrorId::from_code(id.code()), Some(id));
        }
        assert_eq!(ErrorId::from_code(5), None);
    }

    #[test]
    fn each_reason_maps_to_its_documented_error_id() {
        assert_eq!(LinkError::NotUtf8.error_id().code(), 1);
        assert_eq!(LinkError::BadSignature.error_id().code(), 0);
        assert_eq!(LinkError::NoClient.error_id().code(), 2);
        assert_eq!(LinkError::AlreadyUsed.error_id().code(), 3);
        assert_eq!(
            LinkError::Timestamp(ExpiryError::Malformed)
                .error_id()
                .code(),
            3
        );
        assert_eq!(LinkError::DuplicateEmail.error_id().code(), 4);
    }
}
