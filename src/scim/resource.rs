//! Turning what a client sent into the canonical stored attributes of a
//! resource: canonical attribute names, real JSON types, readOnly and unknown
//! attributes dropped, `null` and `""` read as unassigned (RFC 7643 §2.5).
//!
//! Lenient on input in the ways real IdPs need (Entra's `"False"`, a manager
//! sent as a bare id, a single object where an array belongs), strict on what
//! is stored: every stored value has the type its schema says.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::schema::{AttrDef, AttrType, COMMON_ATTRIBUTES, Mutability, ResourceTypeDef, SchemaDef};
use super::{ProtocolError, ProtocolResult};

/// Most values one multi-valued attribute may hold (a group's members, which
/// are rows and not stored here, are not bound by this).
pub const MAX_VALUES: usize = 1000;
/// Longest value, in bytes, of an attribute that is an indexed identifier
/// (`userName`, `externalId`, `displayName`, `emails.value`): the indexes
/// that answer filters on them have a bounded entry size.
pub const MAX_IDENTIFIER_BYTES: usize = 1024;

/// What a POST/PUT body (or a patched resource) becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// Stored attributes: core and common (`externalId`) at the top level, each
    /// extension under its URN. Never `id`, `meta`, `schemas` or `password`.
    pub attributes: Map<String, Value>,
    /// The write-only `password`, to be hashed and never stored as sent.
    pub password: Option<String>,
}

/// Normalises a whole resource body for `rt`. `required` checks REQUIRED
/// attributes (RFC 7643 §2.2); it is on for every full resource.
pub fn normalize(rt: &ResourceTypeDef, input: &Value) -> ProtocolResult<Normalized> {
    let Value::Object(input) = input else {
        return Err(ProtocolError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    let mut attributes = Map::new();
    let mut password = None;

    // Common attributes first, then the core schema, in schema order.
    for def in COMMON_ATTRIBUTES.iter().chain(rt.core.attributes) {
        let Some(raw) = get_ci(input, def.name) else {
            continue;
        };
        if def.name == "password" {
            password = normalize_password(raw)?;
            continue;
        }
        if def.mutability == Mutability::ReadOnly {
            // RFC 7644 §3.5.1: readOnly values in a request SHALL be ignored.
            continue;
        }
        if let Some(v) = normalize_value(def, raw, def.name)? {
            attributes.insert(def.name.to_string(), v);
        }
    }
    for ext in rt.extensions {
        let Some(raw) = get_ci(input, ext.id) else {
            continue;
        };
        if let Some(v) = normalize_extension(ext, raw)? {
            attributes.insert(ext.id.to_string(), v);
        }
    }
    for key in input.keys() {
        let known = key.eq_ignore_ascii_case("schemas")
            || COMMON_ATTRIBUTES
                .iter()
                .chain(rt.core.attributes)
                .any(|d| d.name.eq_ignore_ascii_case(key))
            || rt.extension(key).is_some();
        if !known {
            log::debug!("ignoring unknown attribute {key:?}");
        }
    }
    check_identifier_lengths(&attributes)?;
    check_required(rt.core.attributes, &attributes, "")?;
    for ext in rt.extensions {
        if let Some(Value::Object(ext_attrs)) = attributes.get(ext.id) {
            check_required(ext.attributes, ext_attrs, ext.id)?;
        }
    }
    Ok(Normalized {
        attributes,
        password,
    })
}

fn check_identifier_lengths(attrs: &Map<String, Value>) -> ProtocolResult<()> {
    let too_long = |name: &str, v: &str| {
        (v.len() > MAX_IDENTIFIER_BYTES).then(|| {
            ProtocolError::invalid_value(format!(
                "{name} is longer than {MAX_IDENTIFIER_BYTES} bytes"
            ))
        })
    };
    for name in ["userName", "externalId", "displayName"] {
        if let Some(e) = attrs
            .get(name)
            .and_then(Value::as_str)
            .and_then(|v| too_long(name, v))
        {
            return Err(e);
        }
    }
    for email in attrs
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(e) = email
            .get("value")
            .and_then(Value::as_str)
            .and_then(|v| too_long("emails.value", v))
        {
            return Err(e);
        }
    }
    Ok(())
}

fn check_required(
    defs: &[AttrDef],
    attrs: &Map<String, Value>,
    prefix: &str,
) -> ProtocolResult<()> {
    for def in defs.iter().filter(|d| d.required) {
        if !attrs.contains_key(def.name) {
            let name = if prefix.is_empty() {
                def.name.to_string()
            } else {
                format!("{prefix}:{}", def.name)
            };
            return Err(ProtocolError::invalid_value(format!(
                "{name} is required and must not be empty"
            )));
        }
    }
    Ok(())
}

fn normalize_password(raw: &Value) -> ProtocolResult<Option<String>> {
    match raw {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ProtocolError::invalid_value("password must be a string")),
    }
}

/// An extension object, normalised against its schema.
pub fn normalize_extension(ext: &SchemaDef, raw: &Value) -> ProtocolResult<Option<Value>> {
    let obj = match raw {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => {
            return Err(ProtocolError::invalid_value(format!(
                "{} must be an object",
                ext.id
            )));
        }
    };
    let mut out = Map::new();
    for def in ext.attributes {
        let Some(raw) = get_ci(obj, def.name) else {
            continue;
        };
        if def.mutability == Mutability::ReadOnly {
            continue;
        }
        let path = format!("{}:{}", ext.id, def.name);
        if let Some(v) = normalize_value(def, raw, &path)? {
            out.insert(def.name.to_string(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// Case-insensitive lookup of an attribute in a JSON object (RFC 7643 §2.1).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Normalises one attribute value. `Ok(None)` means unassigned.
pub fn normalize_value(def: &AttrDef, raw: &Value, path: &str) -> ProtocolResult<Option<Value>> {
    if def.multi_valued {
        let items: Vec<&Value> = match raw {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            // A single value where a list belongs: read it as a list of one.
            other => vec![other],
        };
        if items.len() > MAX_VALUES {
            return Err(ProtocolError::invalid_value(format!(
                "{path} has more than {MAX_VALUES} values"
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            if let Some(v) = normalize_single(def, item, &format!("{path}[{i}]"))?
                && !out.contains(&v)
            {
                out.push(v);
            }
        }
        keep_one_primary(&mut out);
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    normalize_single(def, raw, path)
}

/// RFC 7643 §2.4: "primary" true appears at most once; the first one wins.
fn keep_one_primary(items: &mut [Value]) {
    let mut seen = false;
    for item in items.iter_mut() {
        if let Some(obj) = item.as_object_mut()
            && obj.get("primary") == Some(&Value::Bool(true))
        {
            if seen {
                obj.insert("primary".into(), Value::Bool(false));
            }
            seen = true;
        }
    }
}

fn normalize_single(def: &AttrDef, raw: &Value, path: &str) -> ProtocolResult<Option<Value>> {
    if raw.is_null() {
        return Ok(None);
    }
    match def.ty {
        AttrType::Complex => {
            let obj = match raw {
                Value::Object(o) => o.clone(),
                // Entra sends `manager` as the bare id; emails may arrive as bare strings.
                Value::String(_) | Value::Number(_) if def.value_sub().is_some() => {
                    let mut o = Map::new();
                    o.insert("value".into(), raw.clone());
                    o
                }
                _ => {
                    return Err(ProtocolError::invalid_value(format!(
                        "{path} must be an object"
                    )));
                }
            };
            let mut out = Map::new();
            for sub in def.sub_attributes {
                let Some(v) = get_ci(&obj, sub.name) else {
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly && def.mutability != Mutability::ReadOnly
                {
                    continue;
                }
                if let Some(v) = normalize_single(sub, v, &format!("{path}.{}", sub.name))? {
                    out.insert(sub.name.to_string(), v);
                }
            }
            // A complex value with nothing but `type`/`primary`/`display` left
            // has lost its value (Entra clears a manager with `{"value": ""}`).
            let has_payload = out
                .keys()
                .any(|k| !matches!(k.as_str(), "type" | "primary" | "display"));
            Ok(has_payload.then_some(Value::Object(out)))
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => match raw {
            Value::String(s) if s.is_empty() => Ok(None),
            // PostgreSQL text cannot hold U+0000, and no attribute needs it.
            Value::String(s) if s.contains('\0') => Err(ProtocolError::invalid_value(format!(
                "{path} contains a NUL character"
            ))),
            Value::String(_) => Ok(Some(raw.clone())),
            Value::Number(n) => Ok(Some(Value::String(n.to_string()))),
            Value::Bool(b) => Ok(Some(Value::String(b.to_string()))),
            _ => Err(ProtocolError::invalid_value(format!(
                "{path} must be a string"
            ))),
        },
        AttrType::Boolean => match raw {
            Value::Bool(_) => Ok(Some(raw.clone())),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            Value::String(s) if s.is_empty() => Ok(None),
            _ => Err(ProtocolError::invalid_value(format!(
                "{path} must be a boolean"
            ))),
        },
        AttrType::Integer => match raw {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(raw.clone())),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|i| Some(Value::from(i)))
                .map_err(|_| ProtocolError::invalid_value(format!("{path} must be an integer"))),
            _ => Err(ProtocolError::invalid_value(format!(
                "{path} must be an integer"
            ))),
        },
        AttrType::Decimal => match raw {
            Value::Number(_) => Ok(Some(raw.clone())),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| ProtocolError::invalid_value(format!("{path} must be a decimal"))),
            _ => Err(ProtocolError::invalid_value(format!(
                "{path} must be a decimal"
            ))),
        },
        AttrType::DateTime => match raw {
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => parse_datetime(s)
                .map(|dt| Some(Value::String(format_datetime(dt))))
                .ok_or_else(|| {
                    ProtocolError::invalid_value(format!(
                        "{path} must be an xsd:dateTime such as 2024-05-01T12:00:00Z"
                    ))
                }),
            _ => Err(ProtocolError::invalid_value(format!(
                "{path} must be a dateTime string"
            ))),
        },
    }
}

pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|dt| dt.with_timezone(&Utc))
}

/// The one way scimlink writes a dateTime: RFC 3339, UTC, milliseconds.
pub fn format_datetime(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_URN, USER_RESOURCE_TYPE};
    use serde_json::json;

    fn norm(v: Value) -> ProtocolResult<Normalized> {
        normalize(&USER_RESOURCE_TYPE, &v)
    }

    #[test]
    fn rfc_example_user_keeps_its_attributes_in_canonical_form() {
        let n = norm(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "UserName": "bjensen", "externalId": "bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "FamilyName": "Jensen", "givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "id": "ignored", "meta": {"version": "W/\"9\""}, "groups": [{"value": "x"}],
            "password": "t1meMa$heen", "nonsense": 1
        }))
        .unwrap();
        assert_eq!(n.password.as_deref(), Some("t1meMa$heen"));
        let a = &n.attributes;
        assert_eq!(a["userName"], "bjensen");
        assert_eq!(a["name"]["familyName"], "Jensen");
        for absent in ["id", "meta", "groups", "password", "nonsense", "schemas"] {
            assert!(!a.contains_key(absent), "{absent} must not be stored");
        }
    }

    #[test]
    fn missing_or_empty_user_name_is_invalid_value() {
        for body in [
            json!({}),
            json!({"userName": ""}),
            json!({"userName": null}),
        ] {
            let e = norm(body).unwrap_err();
            assert_eq!(e.scim_type, crate::scim::ScimType::InvalidValue);
        }
    }

    #[test]
    fn wrong_types_are_invalid_value() {
        assert!(norm(json!({"userName": "a", "active": "maybe"})).is_err());
        assert!(norm(json!({"userName": "a", "name": 5})).is_err());
        assert!(norm(json!({"userName": ["a"]})).is_err());
        assert!(norm(json!("text")).is_err());
    }

    #[test]
    fn entra_and_onelogin_leniency() {
        let n = norm(json!({
            "userName": "a", "active": "False", "title": "", "displayName": null,
            ENTERPRISE_USER_URN: {"manager": "mgr-1", "department": ""},
            "emails": {"value": "a@example.com", "primary": "True"}
        }))
        .unwrap();
        let a = &n.attributes;
        assert_eq!(a["active"], false);
        assert!(!a.contains_key("title") && !a.contains_key("displayName"));
        assert_eq!(a[ENTERPRISE_USER_URN]["manager"]["value"], "mgr-1");
        assert!(a[ENTERPRISE_USER_URN].get("department").is_none());
        assert_eq!(a["emails"][0]["primary"], true);
    }

    #[test]
    fn limits_protect_the_indexes() {
        assert!(norm(json!({"userName": "a\u{0}b"})).is_err());
        assert!(norm(json!({"userName": "x".repeat(MAX_IDENTIFIER_BYTES + 1)})).is_err());
        assert!(norm(json!({"userName": "x".repeat(MAX_IDENTIFIER_BYTES)})).is_ok());
        let emails: Vec<Value> = (0..=MAX_VALUES)
            .map(|i| json!({"value": format!("e{i}@x")}))
            .collect();
        assert!(norm(json!({"userName": "a", "emails": emails})).is_err());
        let long_email = json!([{"value": "y".repeat(MAX_IDENTIFIER_BYTES + 1)}]);
        assert!(norm(json!({"userName": "a", "emails": long_email})).is_err());
    }

    #[test]
    fn empty_manager_value_removes_the_manager() {
        let n = norm(json!({"userName": "a", ENTERPRISE_USER_URN: {"manager": {"value": ""}}}))
            .unwrap();
        assert!(!n.attributes.contains_key(ENTERPRISE_USER_URN));
    }

    #[test]
    fn only_the_first_primary_stays_primary_and_duplicates_collapse() {
        let n = norm(json!({"userName": "a", "emails": [
            {"value": "x@e.com", "primary": true}, {"value": "y@e.com", "primary": true}, {"value": "x@e.com", "primary": true}
        ]}))
        .unwrap();
        let emails = n.attributes["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[1]["primary"], false);
    }
}
