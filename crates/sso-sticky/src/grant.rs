//! The body of `/sso/0`, checked field by field, and the issuing of the one-time login URL:
//! one code path for partners' servers and for the portal's pop URLs.

use serde::Deserialize;
use serde_json::{Map, Value};
use sso_core::callcenter::{CallCenterError, Campaigns, parse_campaigns};
use sso_core::ident::OneTimeToken;
use sso_store::model::{
    AgentProfile, AuditEvent, Claims, LoginPlan, NewToken, Protocol, Tenant, TokenPurpose,
};
use sso_web::{Platform, random_bytes};

use crate::error::IssueError;

/// What an agent is signed in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Unique username (activity is tracked by it).
    pub username: String,
    /// Full name.
    pub fullname: String,
    /// Department on the platform.
    pub department: u64,
    /// Campaigns it may use.
    pub campaigns: Campaigns,
    /// Email, if given.
    pub email: Option<String>,
    /// The number the customer called.
    pub call_center_did: Option<String>,
    /// The customer's caller ID.
    pub customer_cid: Option<String>,
}

fn text(
    obj: &Map<String, Value>,
    name: &'static str,
    required: bool,
    max: usize,
) -> Result<Option<String>, CallCenterError> {
    match obj.get(name) {
        None | Some(Value::Null) if required => Err(CallCenterError::MissingField(name)),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() && required => {
            Err(CallCenterError::MissingField(name))
        }
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() > max || s.chars().any(char::is_control) => {
            Err(CallCenterError::InvalidField(name))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(CallCenterError::InvalidField(name)),
    }
}

/// Parses a `/sso/0` body as JSON, refusing a repeated key in any object (`{"username":
/// "agent1", …, "username": "evil"}` would otherwise sign in whoever came last): every
/// malformed body is `INVALID_REQUEST`.
pub fn parse_body(bytes: &[u8]) -> Result<Value, CallCenterError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = strict::Strict::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v.0))
        .map_err(|_| CallCenterError::InvalidRequest)?;
    Ok(value)
}

/// JSON without repeated keys.
mod strict {
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    /// A JSON value read with every object's keys unique.
    pub struct Strict(pub Value);

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StrictVisitor).map(Strict)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON without repeated keys")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| E::custom("not a finite number"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(Strict(v)) = seq.next_element()? {
                items.push(v);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut obj = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let Strict(v) = map.next_value()?;
                if obj.insert(key, v).is_some() {
                    return Err(de::Error::custom("repeated key"));
                }
            }
            Ok(Value::Object(obj))
        }
    }
}

/// Checks a parsed JSON body: required fields present, then field types (PROTOCOLS.md §3a
/// order). Unknown fields are ignored; optional fields may be `null`.
pub fn from_json(body: &Value) -> Result<Grant, CallCenterError> {
    let Some(obj) = body.as_object() else {
        return Err(CallCenterError::InvalidRequest);
    };
    for name in ["username", "fullname", "department_id"] {
        match obj.get(name) {
            None | Some(Value::Null) => return Err(CallCenterError::MissingField(name)),
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(CallCenterError::MissingField(name));
            }
            _ => {}
        }
    }
    let username = text(obj, "username", true, 128)?.unwrap_or_default();
    let fullname = text(obj, "fullname", true, 256)?.unwrap_or_default();
    let department = match obj.get("department_id") {
        Some(Value::Number(n)) => n.as_u64().filter(|d| *d > 0),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .filter(|d| *d > 0 && !s.starts_with('0') && !s.starts_with('+'))
        }
        _ => None,
    }
    .ok_or(CallCenterError::InvalidField("department_id"))?;
    let campaigns = match obj.get("campaign_id") {
        None | Some(Value::Null) => Campaigns::All,
        Some(Value::String(s)) => parse_campaigns(s)?,
        Some(Value::Number(n)) => match n.as_u64().filter(|c| *c > 0) {
            Some(c) => Campaigns::Only(vec![c]),
            None => return Err(CallCenterError::InvalidField("campaign_id")),
        },
        Some(_) => return Err(CallCenterError::InvalidField("campaign_id")),
    };
    Ok(Grant {
        username,
        fullname,
        department,
        campaigns,
        email: text(obj, "email", false, 256)?,
        call_center_did: text(obj, "call_center_did", false, 64)?,
        customer_cid: text(obj, "customer_cid", false, 64)?,
    })
}

/// Checks the grant against the tenant (department and campaigns exist), stores a one-time
/// token for it (and `audit`, the event of its issue, with it) and returns the login URL on
/// the tenant host.
pub async fn issue(
    p: &Platform,
    tenant: &Tenant,
    issuer: &str,
    grant: &Grant,
    audit: Option<&AuditEvent>,
) -> Result<String, IssueError> {
    if !tenant.departments.contains(&grant.department) {
        return Err(CallCenterError::DepartmentNotFound.into());
    }
    let campaigns = match &grant.campaigns {
        // "All campaigns" is stored as such, not as the tenant's list, so the item stays
        // small whatever the tenant.
        Campaigns::All => None,
        Campaigns::Only(list) => {
            if list.iter().any(|c| !tenant.campaigns.contains(c)) {
                return Err(CallCenterError::CampaignNotFound.into());
            }
            Some(list.clone())
        }
    };
    let token = OneTimeToken::from_random_bytes(random_bytes()?);
    // The token carries the session it starts (one write redeems it).
    let claims = Claims::CallCenter(AgentProfile {
        fullname: grant.fullname.clone(),
        email: grant.email.clone(),
        department: grant.department,
        campaigns,
        call_center_did: grant.call_center_did.clone(),
        customer_cid: grant.customer_cid.clone(),
    });
    let now = p.now();
    let new = NewToken {
        tenant: tenant.name.clone(),
        subject: grant.username.clone(),
        purpose: TokenPurpose::Login(LoginPlan {
            protocol: Protocol::CallCenter,
            issuer: issuer.to_owned(),
            idle_secs: tenant.session_idle_secs,
            lifetime_secs: tenant.session_absolute_secs,
        }),
        reusable: false,
        claims,
        issued_at: now,
        expires_at: now.saturating_add(tenant.login_url_secs),
        replace_slot: None,
        bound_addr: None,
    };
    p.tokens
        .issue_audited(&token.storage_key(), &new, audit)
        .await?;
    Ok(format!(
        "{}/sso/login?token={}",
        p.config.tenant_origin(&tenant.name),
        token.to_hex()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_key_anywhere_is_an_invalid_request() {
        let ok = parse_body(br#"{"username":"agent1","fullname":"A","department_id":1,"x":{"a":[1,2.5,null,true]}}"#).unwrap();
        assert_eq!(ok["username"], "agent1");
        for bad in [
            &br#"{"username":"agent1","fullname":"A","department_id":1,"username":"evil"}"#[..],
            br#"{"username":"a","x":{"k":1,"k":2}}"#,
            br#"{"username":"a"} trailing"#,
            b"not json",
        ] {
            assert_eq!(parse_body(bad), Err(CallCenterError::InvalidRequest));
        }
    }

    #[test]
    fn a_php_json_encode_body_parses_with_nulls_and_unknown_fields() {
        let body = json!({
            "username": "agent1", "fullname": "Agent One", "department_id": "1",
            "campaign_id": "1,2", "email": null, "call_center_did": "8005550100",
            "customer_cid": null, "extra": [1, 2]
        });
        let g = from_json(&body).unwrap();
        assert_eq!(g.department, 1);
        assert_eq!(g.campaigns, Campaigns::Only(vec![1, 2]));
        assert_eq!(g.email, None);
    }

    #[test]
    fn missing_fields_come_before_type_errors_and_are_named() {
        let e = from_json(&json!({"username": 5, "department_id": 1})).unwrap_err();
        assert_eq!(e, CallCenterError::MissingField("fullname"));
        let e =
            from_json(&json!({"username": "", "fullname": "x", "department_id": 1})).unwrap_err();
        assert_eq!(e, CallCenterError::MissingField("username"));
    }

    #[test]
    fn wrong_types_are_invalid_fields() {
        let base = json!({"username": "a", "fullname": "b", "department_id": 1});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            from_json(&b).unwrap_err()
        };
        assert_eq!(
            with("username", json!(12)),
            CallCenterError::InvalidField("username")
        );
        assert_eq!(
            with("fullname", json!(["x"])),
            CallCenterError::InvalidField("fullname")
        );
        assert_eq!(
            with("department_id", json!("one")),
            CallCenterError::InvalidField("department_id")
        );
        assert_eq!(
            with("department_id", json!(-1)),
            CallCenterError::InvalidField("department_id")
        );
        assert_eq!(
            with("campaign_id", json!("1,,2")),
            CallCenterError::InvalidField("campaign_id")
        );
        assert_eq!(
            with("campaign_id", json!({"a": 1})),
            CallCenterError::InvalidField("campaign_id")
        );
        assert_eq!(
            with("email", json!(false)),
            CallCenterError::InvalidField("email")
        );
        assert_eq!(
            from_json(&json!([1])).unwrap_err(),
            CallCenterError::InvalidRequest
        );
        let mut single = base.clone();
        single["campaign_id"] = json!(3);
        assert_eq!(
            from_json(&single).unwrap().campaigns,
            Campaigns::Only(vec![3])
        );
    }
}
