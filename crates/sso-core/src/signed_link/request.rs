//! Parsing `/signin.php` parameters: check 1 of PROTOCOLS.md §1.
//!
//! The parser takes the raw `application/x-www-form-urlencoded` bytes (a query string or a
//! body) rather than an already decoded map, because decoders in web frameworks silently keep
//! the last of two repeated names and replace invalid UTF-8, and both must be errors here.

use percent_encoding::percent_decode;

use super::LinkError;

/// Longest accepted value, in bytes after decoding.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Longest accepted form body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The client a link names, as sent: the token is computed over exactly this string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// `email=…`
    Email(String),
    /// `clientID=…`
    ClientId(String),
}

impl Identifier {
    /// The value as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Identifier::Email(s) | Identifier::ClientId(s) => s,
        }
    }

    /// The parameter name it came in, which is also the name the failure URL repeats it under.
    pub fn param_name(&self) -> &'static str {
        match self {
            Identifier::Email(_) => "email",
            Identifier::ClientId(_) => "clientID",
        }
    }
}

/// A well-formed sign-in request: every required parameter present once, within limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRequest {
    /// The client to sign in.
    pub identifier: Identifier,
    /// The vendor's id, as sent.
    pub vendor_id: String,
    /// The timestamp string as sent; it is signed as a string and parsed by the expiry check.
    pub timestamp: String,
    /// The token as sent.
    pub token: String,
}

impl LinkRequest {
    /// The token in lower case: the replay guard's key, so that changing the case of a hex
    /// letter cannot replay a link. Only meaningful once the link verified (it is then hex).
    pub fn replay_token(&self) -> String {
        self.token.to_ascii_lowercase()
    }
}

const NAMES: [&str; 5] = ["email", "clientID", "vendorid", "timestamp", "token"];

fn decode(raw: &[u8]) -> Result<String, LinkError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).map_err(|_| LinkError::NotUtf8)
}

/// Parses raw form bytes. Unknown parameters are ignored; a known one given twice, a value over
/// [`MAX_VALUE_BYTES`], bytes that are not UTF-8, a missing or empty required parameter, or both
/// identifiers at once is a [`LinkError`] with errorID 1.
pub fn parse_request(form: &[u8]) -> Result<LinkRequest, LinkError> {
    if form.len() > MAX_BODY_BYTES {
        return Err(LinkError::BodyTooLarge);
    }
    let mut values: [Option<String>; 5] = Default::default();
    for pair in form.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = decode(raw_name)?;
        let value = decode(raw_value)?;
        let Some(slot) = NAMES.iter().position(|n| *n == name) else {
            continue;
        };
        if values[slot].is_some() {
            return Err(LinkError::RepeatedParameter(NAMES[slot]));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(LinkError::ValueTooLong(NAMES[slot]));
        }
        values[slot] = Some(value);
    }
    let [email, client_id, vendor_id, timestamp, token] =
        values.map(|v| v.filter(|s| !s.is_empty()));
    let identifier = match (email, client_id) {
        (Some(_), Some(_)) => return Err(LinkError::BothIdentifiers),
        (Some(e), None) => Identifier::Email(e),
        (None, Some(c)) => Identifier::ClientId(c),
        (None, None) => return Err(LinkError::MissingParameter("email")),
    };
    Ok(LinkRequest {
        identifier,
        vendor_id: vendor_id.ok_or(LinkError::MissingParameter("vendorid"))?,
        timestamp: timestamp.ok_or(LinkError::MissingParameter("timestamp"))?,
        token: token.ok_or(LinkError::MissingParameter("token"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_php_style_query_parses() {
        let r = parse_request(
            b"email=client%40example.com&vendorid=1001&timestamp=1700000000&token=abc",
        )
        .unwrap();
        assert_eq!(r.identifier, Identifier::Email("client@example.com".into()));
        assert_eq!(r.vendor_id, "1001");
        assert_eq!(r.timestamp, "1700000000");
    }

    #[test]
    fn plus_is_a_space_and_unknown_parameters_are_ignored() {
        let r = parse_request(b"clientID=a+b&vendorid=1&timestamp=2&token=3&x=1&x=2").unwrap();
        assert_eq!(r.identifier, Identifier::ClientId("a b".into()));
    }

    #[test]
    fn check_one_failures_are_errorid_one() {
        let cases: [&[u8]; 8] = [
            b"vendorid=1&timestamp=2&token=3",
            b"email=&vendorid=1&timestamp=2&token=3",
            b"email=a&clientID=b&vendorid=1&timestamp=2&token=3",
            b"email=a&vendorid=1&vendorid=1&timestamp=2&token=3",
            b"email=a&vendorid=1&timestamp=2",
            b"email=%FF&vendorid=1&timestamp=2&token=3",
            b"email=a\xff&vendorid=1&timestamp=2&token=3",
            b"email=a&vendorid=1&timestamp=&token=3",
        ];
        for c in cases {
            let e = parse_request(c).unwrap_err();
            assert_eq!(e.error_id().code(), 1, "{}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn values_over_one_kib_and_bodies_over_sixteen_kib_are_refused() {
        let long = format!("email={}&vendorid=1&timestamp=2&token=3", "a".repeat(1025));
        assert_eq!(
            parse_request(long.as_bytes()),
            Err(LinkError::ValueTooLong("email"))
        );
        let ok = format!("email={}&vendorid=1&timestamp=2&token=3", "a".repeat(1024));
        assert!(parse_request(ok.as_bytes()).is_ok());
        let huge = vec![b'a'; MAX_BODY_BYTES + 1];
        assert_eq!(parse_request(&huge), Err(LinkError::BodyTooLarge));
    }
}
