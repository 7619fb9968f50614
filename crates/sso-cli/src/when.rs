//! Times as an operator types and reads them (`sso audit --since 7d`): RFC 3339
//! (`2026-12-01T10:00:00Z`), a date (`2026-12-01`, midnight UTC) or an age (`90s`, `30m`, `2h`,
//! `7d`, `2w` before now); printed back as RFC 3339 UTC. Audit events keep Unix seconds.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::CliError;

/// Unix seconds of `text` (see the module docs), ages counted back from `now`.
pub fn parse(text: &str, now: i64) -> Result<i64, CliError> {
    let bad = || {
        CliError::Config(format!(
            "`{text}`: expected an RFC 3339 time (2026-12-01T10:00:00Z), a date (2026-12-01) \
             or an age (30m, 2h, 7d)"
        ))
    };
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    if let Some(date) = parse_date(text) {
        return Ok(PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp());
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_secs)
        .and_then(|age| now.checked_sub(age))
        .ok_or_else(bad)
}

fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// `at` (Unix seconds) as RFC 3339 UTC (`2026-12-01T10:00:00Z`); out of range: the number.
pub fn format(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_119_200; // 2026-12-01T10:00:00Z

    #[test]
    fn every_form_an_operator_types_is_read() {
        assert_eq!(parse("2026-12-01T10:00:00Z", 0).unwrap(), NOW);
        assert_eq!(parse("2026-12-01T11:00:00+01:00", 0).unwrap(), NOW);
        assert_eq!(parse("2026-12-01", 0).unwrap(), NOW - 10 * 3600);
        assert_eq!(parse("2h", NOW).unwrap(), NOW - 7200);
        assert_eq!(parse("7d", NOW).unwrap(), NOW - 7 * 86_400);
        assert_eq!(parse("90s", NOW).unwrap(), NOW - 90);
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2x",
            "h",
            "99999999999999999999d",
        ] {
            assert!(parse(bad, NOW).is_err(), "{bad}");
        }
        assert_eq!(format(NOW), "2026-12-01T10:00:00Z");
    }
}
