//! Property tests of the pure core: the rules of PROTOCOLS.md §1 and §2, for any input.

use proptest::prelude::*;
use sso_core::expiry::{self, ExpiryError, ExpiryPolicy};
use sso_core::helpdesk::ApiResult;
use sso_core::signed_link::{Scheme, SecretSet, VendorSecret, sign, verify_token};

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![Just(Scheme::Md5), Just(Scheme::HmacSha256)]
}

/// A valid policy, anywhere in the range the constructor allows.
fn policy() -> impl Strategy<Value = ExpiryPolicy> {
    (
        1..=expiry::MAX_WINDOW_PART,
        -expiry::MAX_REFERENCE_OFFSET..=expiry::MAX_REFERENCE_OFFSET,
        0..=expiry::MAX_WINDOW_PART,
    )
        .prop_map(|(age, off, fut)| ExpiryPolicy::new(age, off, fut).unwrap())
}

/// Changes one character of `s` at `at` (modulo its length) to a different character.
fn mutate(s: &str, at: usize, to: char) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let i = at % chars.len();
    chars[i] = if chars[i] == to {
        if to == 'a' { 'b' } else { 'a' }
    } else {
        to
    };
    chars.into_iter().collect()
}

/// Any `now`, with the i64 limits and today's range drawn as often as the rest (a uniform
/// i64 would almost never land near either limit).
fn any_now() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        i64::MIN..=i64::MIN + 200_000,
        i64::MAX - 200_000..=i64::MAX,
        1_000_000_000i64..=10_000_000_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_signed_link_verifies_with_its_own_secret(
        scheme in scheme(), id in "\\PC{1,40}", ts in "[1-9][0-9]{0,18}", secret in "\\PC{0,40}",
    ) {
        let secret = VendorSecret::new(secret);
        let token = sign(scheme, &id, &ts, &secret);
        prop_assert_eq!(token.len(), scheme.token_len());
        prop_assert!(token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let set = SecretSet::single(secret);
        prop_assert!(verify_token(scheme, &id, &ts, &token, &set).is_some());
        prop_assert!(verify_token(scheme, &id, &ts, &token.to_ascii_uppercase(), &set).is_some());
    }

    #[test]
    fn changing_any_character_of_any_field_fails_verification(
        scheme in scheme(), id in "\\PC{1,40}", ts in "[1-9][0-9]{0,18}", secret in "\\PC{1,40}",
        field in 0..4u8, at in any::<usize>(), to in any::<char>(), hex_to in 0..16u32,
    ) {
        let s = VendorSecret::new(secret.clone());
        let token = sign(scheme, &id, &ts, &s);
        let set = SecretSet::single(s);
        let ok = match field {
            0 => verify_token(scheme, &mutate(&id, at, to), &ts, &token, &set),
            1 => verify_token(scheme, &id, &mutate(&ts, at, to), &token, &set),
            2 => {
                let other = SecretSet::single(VendorSecret::new(mutate(&secret, at, to)));
                verify_token(scheme, &id, &ts, &token, &other)
            }
            _ => {
                // A different hex digit (not merely another case of the same one).
                let i = at % token.len();
                let old = token.as_bytes()[i];
                let mut new = char::from_digit(hex_to, 16).unwrap() as u8;
                if new == old { new = if old == b'0' { b'1' } else { b'0' }; }
                let mut t = token.clone().into_bytes();
                t[i] = new;
                verify_token(scheme, &id, &ts, &String::from_utf8(t).unwrap(), &set)
            }
        };
        prop_assert!(ok.is_none());
    }

    #[test]
    fn the_age_boundary_holds_to_the_second_for_any_now(now in any_now(), p in policy()) {
        let now_ref = i128::from(now) + i128::from(p.reference_offset());
        let youngest_expired = now_ref - i128::from(p.max_age());
        if let Ok(ts) = i64::try_from(youngest_expired + 1) {
            prop_assert!(p.check_value(ts, now).is_ok(), "age max_age-1 must pass");
        }
        if let Ok(ts) = i64::try_from(youngest_expired) {
            let expired = matches!(p.check_value(ts, now), Err(ExpiryError::Expired { .. }));
            prop_assert!(expired, "age max_age must be expired");
        }
    }

    #[test]
    fn the_future_boundary_holds_to_the_second_for_any_now(now in any_now(), p in policy()) {
        let edge = i128::from(now) + i128::from(p.reference_offset()) + i128::from(p.max_future());
        if let Ok(ts) = i64::try_from(edge) {
            prop_assert!(p.check_value(ts, now).is_ok());
        }
        if let Ok(ts) = i64::try_from(edge + 1) {
            let future = matches!(p.check_value(ts, now), Err(ExpiryError::TooFarInFuture { .. }));
            prop_assert!(future);
        }
    }

    #[test]
    fn the_default_policy_pins_ten_hours_of_age(now in any_now()) {
        let p = ExpiryPolicy::default();
        let base = i128::from(now) - 21_600;
        if let Ok(ts) = i64::try_from(base - 35_999) {
            prop_assert!(p.check_value(ts, now).is_ok());
        }
        if let Ok(ts) = i64::try_from(base - 36_000) {
            prop_assert!(p.check_value(ts, now).is_err());
        }
    }

    #[test]
    fn the_timestamp_parser_never_panics_and_accepts_only_canonical_digits(s in "\\PC{0,24}|[+ 0-9-]{0,22}") {
        let canonical = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && !s.starts_with('0');
        match expiry::parse_timestamp(&s) {
            Ok(v) => {
                prop_assert!(canonical);
                prop_assert_eq!(v.to_string(), s);
            }
            Err(_) => prop_assert!(!canonical || s.parse::<i64>().is_err()),
        }
    }

    #[test]
    fn no_two_splits_of_one_signed_string_both_pass(
        now in 1_000_000_000i64..=10_000_000_000,
        p in policy(),
        id_head in "[a-z@.]{0,8}",
        id_digits in "[0-9]{0,12}",
        offset_in_window in any::<u64>(),
    ) {
        // A timestamp that passes at `now`, and an identifier that ends in digits, so that
        // other splits of the same string have plausible timestamps.
        let lo = i128::from(now) + i128::from(p.reference_offset()) - i128::from(p.max_age()) + 1;
        let width = (i128::from(p.max_age()) + i128::from(p.max_future())) as u128;
        let ts = lo + (u128::from(offset_in_window) % width) as i128;
        let ts = ts.to_string();
        prop_assume!(p.check(&ts, now).is_ok());
        let id = format!("{id_head}{id_digits}");
        prop_assume!(!id.is_empty());
        let signed = format!("{id}{ts}");
        for split in 1..signed.len() {
            if split == id.len() { continue; }
            let (other_id, other_ts) = signed.split_at(split);
            prop_assert!(
                p.check(other_ts, now).is_err(),
                "split ({other_id:?}, {other_ts:?}) also passes beside ({id:?}, {ts:?})"
            );
        }
    }

    #[test]
    fn serialize_lengths_are_byte_exact_for_any_text(values in proptest::collection::vec("\\PC{0,20}", 1..6)) {
        let mut r = ApiResult::new();
        let keys: Vec<String> = (0..values.len()).map(|i| format!("k{i}")).collect();
        for (k, v) in keys.iter().zip(&values) {
            r = r.with(k, v.as_str());
        }
        let out = r.to_php_serialize();
        // Walk the output by the declared byte lengths: any miscount derails the walk.
        let bytes = out.as_bytes();
        let header = format!("a:{}:{{", values.len());
        prop_assert!(out.starts_with(&header));
        let mut pos = header.len();
        let mut read = Vec::new();
        while bytes[pos] != b'}' {
            prop_assert_eq!(&bytes[pos..pos + 2], b"s:");
            let colon = pos + 2 + bytes[pos + 2..].iter().position(|&b| b == b':').unwrap();
            let len: usize = out[pos + 2..colon].parse().unwrap();
            let start = colon + 2;
            read.push(std::str::from_utf8(&bytes[start..start + len]).unwrap().to_owned());
            prop_assert_eq!(&bytes[start + len..start + len + 2], b"\";");
            pos = start + len + 2;
        }
        prop_assert_eq!(pos + 1, bytes.len());
        let expected: Vec<String> = keys.iter().zip(&values).flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
        prop_assert_eq!(read, expected);
    }
}
