//! The ActiveCampaign Help Desk API result (PROTOCOLS.md §2) and its three encodings.
//!
//! A result is an ordered list of keys and values, as PHP's associative arrays are. The
//! official PHP client `unserialize()`s the default output, so [`ApiResult::to_php_serialize`]
//! reproduces `serialize()` byte for byte (lengths in bytes, integers as `i:N;`); XML and JSON
//! are for every other caller.

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, Serializer};
use thiserror::Error;

/// `result_message` of a successful `singlesignon`.
pub const MSG_USER_FOUND: &str = "User Found.";
/// `result_message` of a successful `singlesignon_sameserver`.
pub const MSG_USER_LOGGED_IN: &str = "User Logged In.";

/// A value in a result: PHP distinguishes integers from strings, and so must we.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Serialized as `i:N;`, a JSON number, XML text.
    Int(i64),
    /// Serialized as `s:LEN:"…";` with LEN in bytes.
    Str(String),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

/// The `api_output` a caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// PHP `serialize()`: the default when `api_output` is absent.
    Serialize,
    /// `<?xml …?><root>…</root>`.
    Xml,
    /// One JSON object.
    Json,
}

impl OutputFormat {
    /// The format named by `api_output`; `None` for an unknown name (answered in JSON).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "serialize" => Some(Self::Serialize),
            "xml" => Some(Self::Xml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The name echoed in `result_output`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Serialize => "serialize",
            Self::Xml => "xml",
            Self::Json => "json",
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Serialize => "text/plain; charset=utf-8",
            Self::Xml => "text/xml; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// The `api_action`s this provider implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// External server: returns a one-time `token` for `/admin/main.php?_ssot=`.
    SingleSignOn,
    /// Same server: creates the session at once and returns its `hash`.
    SingleSignOnSameServer,
}

impl Action {
    /// The action named by `api_action`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "singlesignon" => Some(Self::SingleSignOn),
            "singlesignon_sameserver" => Some(Self::SingleSignOnSameServer),
            _ => None,
        }
    }
}

/// Why an API call failed: each is `result_code 0` with a fixed `result_message`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApiFailure {
    /// The host names no account.
    #[error("the host names no help-desk account")]
    UnknownAccount,
    /// Wrong API credentials, or an admin without API rights.
    #[error("API credentials invalid, or the admin has no API rights")]
    InvalidCredentials,
    /// Unknown user or wrong `sso_pass`: one message for both.
    #[error("unknown user or wrong sso_pass")]
    LoginFailed,
    /// The user is the account's primary admin, whom SSO never signs in.
    #[error("the account's primary admin may not be signed in by SSO")]
    PrimaryAdmin,
    /// A required parameter is absent or empty.
    #[error("parameter {0} is missing or empty")]
    MissingParameter(&'static str),
    /// A parameter is present but not of its documented form.
    #[error("parameter {0} is malformed")]
    InvalidParameter(&'static str),
    /// A parameter was given more than once (query and body included).
    #[error("parameter {0} is given more than once")]
    RepeatedParameter(&'static str),
    /// The request itself is unreadable (not UTF-8, too large, wrong content type).
    #[error("the request is unreadable (encoding, size or content type)")]
    MalformedRequest,
    /// `api_action` names no action this provider knows.
    #[error("api_action names no known action")]
    UnknownAction,
    /// `api_output` names no format; the answer is then JSON.
    #[error("api_output names no known format")]
    UnknownOutput,
    /// Too many failed attempts from this caller.
    #[error("locked out after too many failures")]
    Throttled,
    /// The store could not be reached.
    #[error("the store is unavailable")]
    Unavailable,
}

/// `result_message` of [`ApiFailure::UnknownAccount`].
pub const MSG_UNKNOWN_ACCOUNT: &str = "Unknown account.";
/// `result_message` of [`ApiFailure::InvalidCredentials`].
pub const MSG_INVALID_CREDENTIALS: &str = "API credentials are invalid.";
/// `result_message` of [`ApiFailure::LoginFailed`].
pub const MSG_LOGIN_FAILED: &str = "Login failed.";
/// `result_message` of [`ApiFailure::PrimaryAdmin`].
pub const MSG_PRIMARY_ADMIN: &str = "The primary admin cannot be signed in by single sign-on.";
/// `result_message` of [`ApiFailure::MissingParameter`], before the parameter's name.
pub const MSG_MISSING_PARAMETER: &str = "Missing parameter: ";
/// `result_message` of [`ApiFailure::InvalidParameter`], before the parameter's name.
pub const MSG_INVALID_PARAMETER: &str = "Invalid parameter: ";
/// `result_message` of [`ApiFailure::RepeatedParameter`], before the parameter's name.
pub const MSG_REPEATED_PARAMETER: &str = "Repeated parameter: ";
/// `result_message` of [`ApiFailure::MalformedRequest`].
pub const MSG_MALFORMED_REQUEST: &str = "Malformed request.";
/// `result_message` of [`ApiFailure::UnknownAction`].
pub const MSG_UNKNOWN_ACTION: &str = "Unknown api_action.";
/// `result_message` of [`ApiFailure::UnknownOutput`].
pub const MSG_UNKNOWN_OUTPUT: &str = "Unknown api_output.";
/// `result_message` of [`ApiFailure::Throttled`].
pub const MSG_THROTTLED: &str = "Too many failed attempts; try again later.";
/// `result_message` of [`ApiFailure::Unavailable`].
pub const MSG_UNAVAILABLE: &str = "Temporarily unavailable; try again.";

impl ApiFailure {
    /// The `result_message` partners read (and some parse): wire text, kept apart from
    /// `Display` so that rewording a log line never changes an answer.
    pub fn result_message(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Self::UnknownAccount => Borrowed(MSG_UNKNOWN_ACCOUNT),
            Self::InvalidCredentials => Borrowed(MSG_INVALID_CREDENTIALS),
            Self::LoginFailed => Borrowed(MSG_LOGIN_FAILED),
            Self::PrimaryAdmin => Borrowed(MSG_PRIMARY_ADMIN),
            Self::MissingParameter(p) => Owned(format!("{MSG_MISSING_PARAMETER}{p}.")),
            Self::InvalidParameter(p) => Owned(format!("{MSG_INVALID_PARAMETER}{p}.")),
            Self::RepeatedParameter(p) => Owned(format!("{MSG_REPEATED_PARAMETER}{p}.")),
            Self::MalformedRequest => Borrowed(MSG_MALFORMED_REQUEST),
            Self::UnknownAction => Borrowed(MSG_UNKNOWN_ACTION),
            Self::UnknownOutput => Borrowed(MSG_UNKNOWN_OUTPUT),
            Self::Throttled => Borrowed(MSG_THROTTLED),
            Self::Unavailable => Borrowed(MSG_UNAVAILABLE),
        }
    }

    /// The short reason the audit trail records (`refused:<reason>`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownAccount => "unknown_account",
            Self::InvalidCredentials => "invalid_credentials",
            Self::LoginFailed => "login_failed",
            Self::PrimaryAdmin => "primary_admin",
            Self::MissingParameter(_) => "missing_parameter",
            Self::InvalidParameter(_) => "invalid_parameter",
            Self::RepeatedParameter(_) => "repeated_parameter",
            Self::MalformedRequest => "malformed_request",
            Self::UnknownAction => "unknown_action",
            Self::UnknownOutput => "unknown_output",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
        }
    }

    /// The result a failure is answered with.
    pub fn to_result(&self, format: OutputFormat) -> ApiResult {
        ApiResult::new()
            .with("result_code", 0)
            .with("result_message", self.result_message().into_owned())
            .with("result_output", format.name())
    }
}

/// What `api_pass_h` and `sso_pass` carry for a password: its md5 in lower-case hex, as PHP's
/// `md5()` prints it. Stored verifiers are Argon2id of this value.
pub fn password_digest(password: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(password.as_bytes()))
}

/// An ordered result, rendered in any [`OutputFormat`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiResult {
    entries: Vec<(String, Value)>,
}

impl ApiResult {
    /// An empty result.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a key (keys are expected to be unique; the caller builds fixed shapes).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.entries.push((key.to_owned(), value.into()));
        self
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }

    /// Renders in `format`.
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Serialize => self.to_php_serialize(),
            OutputFormat::Xml => self.to_xml(),
            OutputFormat::Json => self.to_json(),
        }
    }

    /// Exactly what PHP's `serialize()` makes of this array. A key that is a canonical decimal
    /// integer is written as an integer key, as PHP itself converts it.
    pub fn to_php_serialize(&self) -> String {
        let mut out = String::with_capacity(32 + self.entries.len() * 40);
        let _ = write!(out, "a:{}:{{", self.entries.len());
        for (k, v) in &self.entries {
            match php_int_key(k) {
                Some(n) => {
                    let _ = write!(out, "i:{n};");
                }
                None => php_str(&mut out, k),
            }
            match v {
                Value::Int(n) => {
                    let _ = write!(out, "i:{n};");
                }
                Value::Str(s) => php_str(&mut out, s),
            }
        }
        out.push('}');
        out
    }

    /// `<?xml version="1.0" encoding="utf-8"?>` and a `<root>` with one element per key. Text is
    /// escaped, and characters XML 1.0 cannot carry are replaced by U+FFFD.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<root>");
        for (k, v) in &self.entries {
            let text = match v {
                Value::Int(n) => n.to_string(),
                Value::Str(s) => xml_text(s),
            };
            let _ = write!(out, "<{k}>{text}</{k}>");
        }
        out.push_str("</root>\n");
        out
    }

    /// One JSON object, keys in order, integers as numbers.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

impl Serialize for ApiResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            match v {
                Value::Int(n) => map.serialize_entry(k, n)?,
                Value::Str(s) => map.serialize_entry(k, s)?,
            }
        }
        map.end()
    }
}

fn php_str(out: &mut String, s: &str) {
    let _ = write!(out, "s:{}:\"{}\";", s.len(), s);
}

/// PHP turns array keys like `"12"` (but not `"012"` or `"+1"`) into integers.
fn php_int_key(k: &str) -> Option<i64> {
    let digits = k.strip_prefix('-').unwrap_or(k);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && k != "-0";
    if canonical { k.parse().ok() } else { None }
}

fn xml_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| match c {
            '\t'
            | '\n'
            | '\r'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'.. => c,
            _ => '\u{FFFD}',
        })
        .collect();
    quick_xml::escape::escape(clean.as_str()).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn result_messages_are_fixed_and_apart_from_display() {
        let table = [
            (
                ApiFailure::UnknownAccount,
                "Unknown account.",
                "unknown_account",
            ),
            (
                ApiFailure::InvalidCredentials,
                "API credentials are invalid.",
                "invalid_credentials",
            ),
            (ApiFailure::LoginFailed, "Login failed.", "login_failed"),
            (
                ApiFailure::PrimaryAdmin,
                "The primary admin cannot be signed in by single sign-on.",
                "primary_admin",
            ),
            (
                ApiFailure::MissingParameter("sso_user"),
                "Missing parameter: sso_user.",
                "missing_parameter",
            ),
            (
                ApiFailure::InvalidParameter("sso_addr"),
                "Invalid parameter: sso_addr.",
                "invalid_parameter",
            ),
            (
                ApiFailure::RepeatedParameter("api_user"),
                "Repeated parameter: api_user.",
                "repeated_parameter",
            ),
            (
                ApiFailure::MalformedRequest,
                "Malformed request.",
                "malformed_request",
            ),
            (
                ApiFailure::UnknownAction,
                "Unknown api_action.",
                "unknown_action",
            ),
            (
                ApiFailure::UnknownOutput,
                "Unknown api_output.",
                "unknown_output",
            ),
            (
                ApiFailure::Throttled,
                "Too many failed attempts; try again later.",
                "throttled",
            ),
            (
                ApiFailure::Unavailable,
                "Temporarily unavailable; try again.",
                "unavailable",
            ),
        ];
        for (failure, wire, reason) in table {
            assert_eq!(failure.result_message(), wire);
            assert_eq!(failure.reason(), reason);
            assert_ne!(failure.to_string(), wire, "log text is not wire text");
            let json = failure.to_result(OutputFormat::Json).to_json();
            assert!(
                json.contains(&format!("\"result_message\":\"{wire}\"")),
                "{json}"
            );
        }
    }

    use super::*;

    fn found() -> ApiResult {
        ApiResult::new()
            .with("token", "7ed5fb6d44d6ac7ea413d2a599358e1b")
            .with("result_code", 1)
            .with("result_message", MSG_USER_FOUND)
            .with("result_output", "serialize")
    }

    #[test]
    fn serialize_matches_php_for_the_seed_example() {
        assert_eq!(
            found().to_php_serialize(),
            "a:4:{s:5:\"token\";s:32:\"7ed5fb6d44d6ac7ea413d2a599358e1b\";s:11:\"result_code\";i:1;\
             s:14:\"result_message\";s:11:\"User Found.\";s:13:\"result_output\";s:9:\"serialize\";}"
        );
    }

    #[test]
    fn serialize_counts_bytes_not_characters() {
        let r = ApiResult::new().with("u", "Zoë");
        assert_eq!(r.to_php_serialize(), "a:1:{s:1:\"u\";s:4:\"Zoë\";}");
    }

    #[test]
    fn numeric_keys_become_integer_keys_as_in_php() {
        let r = ApiResult::new()
            .with("12", "x")
            .with("012", "y")
            .with("-3", 4);
        assert_eq!(
            r.to_php_serialize(),
            "a:3:{i:12;s:1:\"x\";s:3:\"012\";s:1:\"y\";i:-3;i:4;}"
        );
    }

    #[test]
    fn xml_escapes_and_replaces_invalid_characters() {
        let r = ApiResult::new()
            .with("m", "a<b&\"c'\u{1}")
            .with("result_code", 0);
        assert_eq!(
            r.to_xml(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<root><m>a&lt;b&amp;&quot;c&apos;\u{FFFD}</m>\
             <result_code>0</result_code></root>\n"
        );
    }

    #[test]
    fn json_keeps_order_and_numbers() {
        assert_eq!(
            found().to_json(),
            "{\"token\":\"7ed5fb6d44d6ac7ea413d2a599358e1b\",\"result_code\":1,\
             \"result_message\":\"User Found.\",\"result_output\":\"serialize\"}"
        );
    }

    #[test]
    fn password_digests_are_php_md5_hex() {
        // php -r 'echo md5("test123");'
        assert_eq!(
            password_digest("test123"),
            "cc03e747a6afbbcbf8be7668acfebee5"
        );
    }

    #[test]
    fn failure_messages_are_the_documented_ones() {
        assert_eq!(
            ApiFailure::InvalidCredentials.result_message(),
            "API credentials are invalid."
        );
        assert_eq!(ApiFailure::LoginFailed.result_message(), "Login failed.");
        assert_eq!(
            ApiFailure::Throttled.result_message(),
            "Too many failed attempts; try again later."
        );
        assert_eq!(
            ApiFailure::Unavailable.result_message(),
            "Temporarily unavailable; try again."
        );
        assert_eq!(
            ApiFailure::MissingParameter("sso_user").result_message(),
            "Missing parameter: sso_user."
        );
        let r = ApiFailure::UnknownOutput.to_result(OutputFormat::Json);
        assert_eq!(r.entries()[0], ("result_code".to_owned(), Value::Int(0)));
    }
}
