//! Checks of directory values shared by the import file, the admin CLI and the adapters
//! (a pop's `client_subdomain` must be a tenant name): no feature needed to use them.

use crate::StoreError;

pub(crate) fn err(location: impl Into<String>, message: impl Into<String>) -> StoreError {
    StoreError::Import {
        location: location.into(),
        message: message.into(),
    }
}

/// Whether `url` may be registered as a redirect target (`at` names it in the error): an
/// absolute https URL, or http on this machine. Parsed, not prefix-matched, so
/// `http://localhost@elsewhere.example/` is what it is: elsewhere.
pub fn check_url(at: String, url: &Option<String>) -> Result<(), StoreError> {
    let Some(u) = url else { return Ok(()) };
    let parsed = url::Url::parse(u).map_err(|e| err(&at, format!("not a URL: {e}")))?;
    let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        || parsed.host_str().is_some_and(|h| h.ends_with(".localhost"));
    if parsed.scheme() == "https" || (parsed.scheme() == "http" && local) {
        Ok(())
    } else {
        Err(err(
            at,
            "must be an absolute https URL (http only for localhost)",
        ))
    }
}

/// Whether `name` is a DNS label (`at` names it in the error).
pub fn check_name(at: String, name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(err(
            at,
            "must be a DNS label: lower-case letters, digits and inner hyphens",
        ))
    }
}

/// Whether `value` is a display text: 1–256 characters, no control characters.
pub fn check_text(at: String, value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        Err(err(
            at,
            "must be 1–256 characters without control characters",
        ))
    } else {
        Ok(())
    }
}

/// Host labels that can never be tenants (they are the portal's and the platform's own).
pub const RESERVED_TENANTS: [&str; 4] = ["my", "www", "api", "admin"];

/// Whether `name` may be a tenant: a DNS label, not a reserved host name. The admin CLI
/// checks names with this, as the import file does.
pub fn check_tenant_name(name: &str) -> Result<(), StoreError> {
    check_name("tenant".into(), name)?;
    if RESERVED_TENANTS.contains(&name) {
        return Err(err("tenant", "is a reserved host name"));
    }
    Ok(())
}

/// Whether `s` is an IP address or a CIDR range (v4 or v6).
pub fn is_ip_or_cidr(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok() || s.parse::<ipnet::IpNet>().is_ok()
}

/// Whether `email` looks like an address (`at` names it in the error): one `@` between a
/// non-empty local part and a domain with a dot, no spaces or control characters. Not RFC
/// 5322: enough to catch a name typed where an address was meant.
pub fn check_email(at: String, email: &str) -> Result<(), StoreError> {
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 254
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(err(at, format!("`{email}` is not an email address")))
    }
}

/// Whether `s` is an IP address or a CIDR range without host bits (`at` names it in the
/// error). `10.0.0.1/8` is refused with `10.0.0.0/8` suggested: a range written with a host
/// address is usually a typo for a single host or a much smaller range, and silently widening
/// it would let far more addresses in than meant.
pub fn check_allow_entry(at: String, s: &str) -> Result<(), StoreError> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    match s.parse::<ipnet::IpNet>() {
        Ok(net) if net.trunc() == net => Ok(()),
        Ok(net) => Err(err(
            at,
            format!(
                "{s} has host bits set: did you mean {} (the network) or {}/{} (one host)?",
                net.trunc(),
                net.addr(),
                net.max_prefix_len()
            ),
        )),
        Err(_) => Err(err(at, format!("{s} is not an IP address or CIDR range"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_with_host_bits_is_refused_with_the_network_suggested() {
        let e = check_allow_entry("--allow".into(), "10.0.0.1/8").unwrap_err();
        assert!(e.to_string().contains("did you mean 10.0.0.0/8"), "{e}");
        assert!(check_allow_entry("--allow".into(), "10.0.0.0/8").is_ok());
        assert!(check_allow_entry("--allow".into(), "::1").is_ok());
        assert!(check_allow_entry("--allow".into(), "nope").is_err());
    }

    #[test]
    fn an_email_needs_a_local_part_and_a_dotted_domain() {
        assert!(check_email("e".into(), "a@example.com").is_ok());
        for bad in [
            "not-an-email",
            "@example.com",
            "a@example",
            "a b@example.com",
        ] {
            assert!(check_email("e".into(), bad).is_err(), "{bad}");
        }
    }
}
