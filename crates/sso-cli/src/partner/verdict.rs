//! Whether a protocol answer is a success, read as the partner's own code would read it:
//! `api.php` is always HTTP 200 and says `result_code`; `/sso/0` says `success` (and its HTTP
//! status); a signed link answers with a redirect that carries an `errorID` when refused.

use sso_core::signed_link::ErrorId;

use super::transport::Answer;

/// A refusal, in the protocol's own words.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// `api.php`: `result_code 1` in whichever of the three formats was asked for.
pub fn helpdesk(a: &Answer) -> Result<(), Refusal> {
    http_status(a)?;
    let (code, message) = if a.content_type.starts_with("application/json") {
        let v: serde_json::Value = serde_json::from_str(&a.body)
            .map_err(|_| Refusal(format!("the answer is not JSON: {}", first_line(&a.body))))?;
        let code = match &v["result_code"] {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let message = v["result_message"].as_str().unwrap_or_default().to_owned();
        (code, message)
    } else if a.content_type.starts_with("text/xml") {
        (
            xml_field(&a.body, "result_code").and_then(|c| c.trim().parse().ok()),
            xml_field(&a.body, "result_message").unwrap_or_default(),
        )
    } else {
        (
            php_int(&a.body, "result_code"),
            php_string(&a.body, "result_message").unwrap_or_default(),
        )
    };
    match code {
        Some(1) => Ok(()),
        Some(c) => Err(Refusal(format!("result_code {c}: {message}"))),
        None => Err(Refusal(format!(
            "no result_code in the answer: {}",
            first_line(&a.body)
        ))),
    }
}

/// `/sso/0`: `success 1` and HTTP 200; a refusal names its `code` and `descriptor`.
pub fn callcenter(a: &Answer) -> Result<(), Refusal> {
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
    if v["success"] == 1 && a.status == 200 {
        return Ok(());
    }
    match (v["message"].as_str(), v["descriptor"].as_str()) {
        (Some(m), Some(d)) => Err(Refusal(format!(
            "HTTP {} {d} (code {}): {m}",
            a.status, v["code"]
        ))),
        _ => Err(http_status(a).err().unwrap_or_else(|| {
            Refusal(format!(
                "HTTP {}, not a call-center answer: {}",
                a.status,
                first_line(&a.body)
            ))
        })),
    }
}

/// A signed link opened: a redirect that sets the session is a sign-in; one whose
/// `Location` carries `errorID` is the refusal the vendor's failure URL would receive.
pub fn signed_link(a: &Answer) -> Result<(), Refusal> {
    http_status(a)?;
    let Some(location) = &a.location else {
        return Err(Refusal(format!(
            "HTTP {} without a redirect: {}",
            a.status,
            first_line(&a.body)
        )));
    };
    if let Some(code) = query_value(location, "errorID") {
        let why = code.parse().ok().and_then(ErrorId::from_code).map_or(
            "an errorID this gateway does not send",
            ErrorId::explanation,
        );
        return Err(Refusal(format!(
            "errorID {code}: {why} (sent to {location})"
        )));
    }
    if !a.sets_cookie {
        return Err(Refusal(format!(
            "redirected to {location} without a session"
        )));
    }
    Ok(())
}

/// A one-time link opened (`_ssot`, `/sso/login`): a redirect with a session.
pub fn one_time_link(a: &Answer) -> Result<(), Refusal> {
    http_status(a)?;
    match (&a.location, a.sets_cookie) {
        (Some(_), true) => Ok(()),
        (Some(l), false) => Err(Refusal(format!("redirected to {l} without a session"))),
        (None, _) => Err(Refusal(format!(
            "HTTP {}: {}",
            a.status,
            page_title(&a.body).unwrap_or_else(|| first_line(&a.body))
        ))),
    }
}

/// A string field of an answer (`token`, `url`), in whichever format it came.
pub fn field(a: &Answer, name: &str) -> Option<String> {
    let value = if a.content_type.starts_with("application/json") {
        let v: serde_json::Value = serde_json::from_str(&a.body).ok()?;
        v[name].as_str().map(str::to_owned)
    } else if a.content_type.starts_with("text/xml") {
        xml_field(&a.body, name)
    } else {
        php_string(&a.body, name)
    };
    value.filter(|v| !v.is_empty())
}

fn http_status(a: &Answer) -> Result<(), Refusal> {
    if a.status >= 400 {
        let what = page_title(&a.body).unwrap_or_else(|| first_line(&a.body));
        return Err(Refusal(format!("HTTP {}: {what}", a.status)));
    }
    Ok(())
}

fn first_line(body: &str) -> String {
    body.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

fn page_title(body: &str) -> Option<String> {
    let start = body.find("<title>")? + "<title>".len();
    let end = body[start..].find("</title>")? + start;
    Some(html_escape::decode_html_entities(&body[start..end]).into_owned())
}

fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    let text = body[start..end]
        .trim_start_matches("<![CDATA[")
        .trim_end_matches("]]>");
    Some(html_escape::decode_html_entities(text).into_owned())
}

/// `s:N:"name";i:V;` in PHP's `serialize` format.
fn php_int(body: &str, name: &str) -> Option<i64> {
    let key = format!("s:{}:\"{name}\";", name.len());
    let rest = &body[body.find(&key)? + key.len()..];
    let v = rest.strip_prefix("i:")?;
    v[..v.find(';')?].parse().ok()
}

/// `s:N:"name";s:L:"value";` in PHP's `serialize` format (L counts bytes).
fn php_string(body: &str, name: &str) -> Option<String> {
    let key = format!("s:{}:\"{name}\";", name.len());
    let rest = body[body.find(&key)? + key.len()..].strip_prefix("s:")?;
    let colon = rest.find(':')?;
    let len: usize = rest[..colon].parse().ok()?;
    let value = rest[colon + 1..].strip_prefix('"')?;
    value.get(..len).map(str::to_owned)
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url)
        .or_else(|_| reqwest::Url::parse("http://relative.invalid/")?.join(url))
        .ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer {
            status,
            location: None,
            content_type: content_type.into(),
            sets_cookie: false,
            body: body.into(),
        }
    }

    #[test]
    fn helpdesk_answers_are_read_in_all_three_formats() {
        let json = answer(
            200,
            "application/json",
            r#"{"result_code":0,"result_message":"Login failed."}"#,
        );
        assert_eq!(
            helpdesk(&json),
            Err(Refusal("result_code 0: Login failed.".into()))
        );
        let xml = answer(
            200,
            "text/xml; charset=utf-8",
            "<?xml version=\"1.0\"?><root><result_code>1</result_code><result_message>User Found.</result_message></root>",
        );
        assert_eq!(helpdesk(&xml), Ok(()));
        let php = answer(
            200,
            "text/plain; charset=utf-8",
            r#"a:2:{s:11:"result_code";i:0;s:14:"result_message";s:13:"Login failed.";}"#,
        );
        assert_eq!(
            helpdesk(&php),
            Err(Refusal("result_code 0: Login failed.".into()))
        );
        let page = answer(404, "text/html", "<title>Not found</title>");
        assert_eq!(helpdesk(&page), Err(Refusal("HTTP 404: Not found".into())));
    }

    #[test]
    fn a_signed_link_refusal_names_its_error_id() {
        let mut a = answer(302, "text/html", "");
        a.location = Some("/login?errorID=3".into());
        let Err(Refusal(why)) = signed_link(&a) else {
            panic!("a refusal")
        };
        assert!(why.starts_with("errorID 3: "), "{why}");
        a.location = Some("/".into());
        a.sets_cookie = true;
        assert_eq!(signed_link(&a), Ok(()));
    }

    #[test]
    fn a_call_center_refusal_names_code_and_descriptor() {
        let a = answer(
            401,
            "application/json",
            r#"{"success":0,"code":401,"message":"Platform-Key is missing or invalid.","descriptor":"INVALID_PLATFORM_KEY"}"#,
        );
        assert_eq!(
            callcenter(&a),
            Err(Refusal(
                "HTTP 401 INVALID_PLATFORM_KEY (code 401): Platform-Key is missing or invalid."
                    .into()
            ))
        );
    }
}
