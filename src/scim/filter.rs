//! SCIM filters (RFC 7644 §3.4.2.2): parsed by `scim_v2`, compiled here
//! against a resource type into [`Cond`], a tree whose every attribute is
//! resolved and every comparison value typed. One [`Cond`] is evaluated in
//! memory by [`matches`] and translated to SQL by `store`, so both read a
//! filter the same way.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use serde_json::Value;

use super::resource::{MAX_IDENTIFIER_BYTES, parse_datetime};
use super::schema::{AttrDef, AttrRef, AttrType, PathTarget, ResourceTypeDef, Returned};
use super::{ProtocolError, ProtocolResult, excerpt, quoted};

/// A comparison after `ne` has been folded into `not eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A typed comparison value. Strings of a `caseExact: false` attribute carry
/// their lower-cased form in `cmp` (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Str { raw: String, cmp: String },
    Bool(bool),
    Num(f64),
    Date(DateTime<Utc>),
}

#[derive(Debug, Clone)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Present(AttrRef),
    Compare(AttrRef, Op, Operand),
    /// `attr[inner]`: some value of the multi-valued `attr` satisfies `inner`,
    /// whose references all name sub-attributes of `attr`.
    Any(AttrRef, Box<Cond>),
}

/// Most comparisons one filter may hold. IdPs send one or two; the bound
/// keeps the SQL a filter becomes within every database's expression limits.
pub const MAX_TERMS: usize = 100;

/// Longest string, in bytes, one comparison may carry: as long as the
/// longest value of an indexed identifier (`userName`, `emails.value`...),
/// so every stored identifier can still be matched with `eq`. It keeps the
/// LIKE pattern of `co`/`sw`/`ew` far below SQLite's 50,000-byte bound on
/// patterns (beyond which the query fails).
pub const MAX_VALUE_BYTES: usize = MAX_IDENTIFIER_BYTES;

/// Parses and compiles a `filter` query parameter.
pub fn parse(rt: &ResourceTypeDef, text: &str) -> ProtocolResult<Cond> {
    let filter = match text.parse::<Filter>() {
        Ok(f) => f,
        Err(first_error) => rewrite_value_path_sub_attr(text)
            .and_then(|t| t.parse::<Filter>().ok())
            .ok_or_else(|| {
                ProtocolError::invalid_filter(format!(
                    "the filter {} is not valid: {}",
                    quoted(text),
                    excerpt(&first_error.to_string())
                ))
            })?,
    };
    let cond = compile(rt, &filter)?;
    if cond.terms() > MAX_TERMS {
        return Err(ProtocolError::invalid_filter(format!(
            "the filter has more than {MAX_TERMS} comparisons"
        )));
    }
    Ok(cond)
}

impl Cond {
    /// How many presence tests and comparisons the filter holds.
    pub fn terms(&self) -> usize {
        match self {
            Cond::And(items) | Cond::Or(items) => items.iter().map(Cond::terms).sum(),
            Cond::Not(inner) | Cond::Any(_, inner) => inner.terms(),
            Cond::Present(_) | Cond::Compare(..) => 1,
        }
    }

    /// Whether the filter names the top-level attribute `name` (so that
    /// evaluating it needs that attribute's values).
    pub fn mentions(&self, name: &str) -> bool {
        match self {
            Cond::And(items) | Cond::Or(items) => items.iter().any(|c| c.mentions(name)),
            Cond::Not(inner) => inner.mentions(name),
            Cond::Any(target, _) | Cond::Present(target) | Cond::Compare(target, ..) => {
                target.extension.is_none() && target.attr.name == name
            }
        }
    }
}

/// Entra matches users with `emails[type eq "work"].value eq "x"`, a form the
/// RFC 7644 grammar does not have. It means `emails[type eq "work" and value eq "x"]`;
/// this rewrites the text to that, for the same parser to read. Quote-aware.
fn rewrite_value_path_sub_attr(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    let (mut open, mut close) = (None, None);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' if open.is_none() => open = Some(i),
            b']' if open.is_some() => {
                close = Some(i);
                break;
            }
            _ => {}
        }
    }
    let (open, close) = (open?, close?);
    let after = text.get(close + 1..)?.strip_prefix('.')?;
    let name_len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$'))
        .unwrap_or(after.len());
    let (sub, rest) = after.split_at(name_len);
    if sub.is_empty() || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(format!(
        "{}[({}) and {sub}{rest}]",
        &text[..open],
        &text[open + 1..close]
    ))
}

pub fn compile(rt: &ResourceTypeDef, filter: &Filter) -> ProtocolResult<Cond> {
    Ok(match filter {
        Filter::And(items) => Cond::And(
            items
                .iter()
                .map(|f| compile(rt, f))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Or(items) => Cond::Or(
            items
                .iter()
                .map(|f| compile(rt, f))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Not(inner) => Cond::Not(Box::new(compile(rt, inner)?)),
        Filter::Attr(exp) => compile_attr_exp(exp, |path| resolve_top(rt, path))?,
        Filter::ValuePath(vp) => {
            let parent = resolve_multi_complex(rt, &vp.attr)?;
            Cond::Any(parent, Box::new(compile_val_filter(parent, &vp.filter)?))
        }
    })
}

/// Compiles the filter inside `attr[...]`, scoped to `parent`'s sub-attributes.
pub fn compile_val_filter(parent: AttrRef, filter: &ValFilter) -> ProtocolResult<Cond> {
    Ok(match filter {
        ValFilter::And(items) => Cond::And(
            items
                .iter()
                .map(|f| compile_val_filter(parent, f))
                .collect::<Result<_, _>>()?,
        ),
        ValFilter::Or(items) => Cond::Or(
            items
                .iter()
                .map(|f| compile_val_filter(parent, f))
                .collect::<Result<_, _>>()?,
        ),
        ValFilter::Not(inner) => Cond::Not(Box::new(compile_val_filter(parent, inner)?)),
        ValFilter::Attr(exp) => compile_attr_exp(exp, |path| {
            let sub = (path.uri.is_none() && path.sub_attr.is_none())
                .then(|| parent.attr.sub(&path.name))
                .flatten()
                .ok_or_else(|| {
                    ProtocolError::invalid_filter(format!(
                        "{} has no sub-attribute {}",
                        parent.attr.name,
                        shown(path)
                    ))
                })?;
            Ok(AttrRef {
                sub: Some(sub),
                ..parent
            })
        })?,
    })
}

/// Resolves the multi-valued complex attribute of a value path (`emails` in `emails[...]`).
pub fn resolve_multi_complex(rt: &ResourceTypeDef, path: &AttrPath) -> ProtocolResult<AttrRef> {
    let parent = resolve_top(rt, path)?;
    if parent.sub.is_some() || !parent.attr.is_complex() {
        return Err(ProtocolError::invalid_filter(format!(
            "{} is not a complex attribute and cannot take a [filter]",
            shown(path)
        )));
    }
    Ok(parent)
}

fn resolve_top(rt: &ResourceTypeDef, path: &AttrPath) -> ProtocolResult<AttrRef> {
    match rt.resolve(path.uri.as_deref(), &path.name, path.sub_attr.as_deref()) {
        Some(PathTarget::Attr(a)) => Ok(a),
        Some(PathTarget::Extension(ext)) => Err(ProtocolError::invalid_filter(format!(
            "{} is a schema, not an attribute; filter on one of its attributes",
            ext.id
        ))),
        None => Err(ProtocolError::invalid_filter(format!(
            "{} is not an attribute of {}",
            shown(path),
            rt.name
        ))),
    }
}

/// An attribute path as an error message names it: a client's text, cut.
fn shown(path: &AttrPath) -> String {
    excerpt(&path.to_string())
}

fn compile_attr_exp(
    exp: &AttrExp,
    resolve: impl Fn(&AttrPath) -> ProtocolResult<AttrRef>,
) -> ProtocolResult<Cond> {
    let (path, op, value) = match exp {
        AttrExp::Present(path) => {
            let target = resolve(path)?;
            refuse_never_returned(&target)?;
            return Ok(Cond::Present(target));
        }
        AttrExp::Comparison(path, op, value) => (path, op, value),
    };
    let mut target = resolve(path)?;
    refuse_never_returned(&target)?;
    if target.leaf().is_complex() {
        // RFC 7644 §3.4.2.2: a complex attribute compared as a whole means its `value`.
        let value_sub = target.leaf().value_sub().filter(|_| target.sub.is_none());
        match value_sub {
            Some(sub) => target.sub = Some(sub),
            None => {
                return Err(ProtocolError::invalid_filter(format!(
                    "{} is complex; compare one of its sub-attributes",
                    shown(path)
                )));
            }
        }
    }
    // `eq null` asks for absence, `ne null` for presence.
    if matches!(value, CompValue::Null) {
        return match op {
            CompareOp::Eq => Ok(Cond::Not(Box::new(Cond::Present(target)))),
            CompareOp::Ne => Ok(Cond::Present(target)),
            _ => Err(ProtocolError::invalid_filter(format!(
                "{op} cannot compare with null"
            ))),
        };
    }
    let (negate, op) = match op {
        CompareOp::Eq => (false, Op::Eq),
        CompareOp::Ne => (true, Op::Eq),
        CompareOp::Co => (false, Op::Co),
        CompareOp::Sw => (false, Op::Sw),
        CompareOp::Ew => (false, Op::Ew),
        CompareOp::Gt => (false, Op::Gt),
        CompareOp::Ge => (false, Op::Ge),
        CompareOp::Lt => (false, Op::Lt),
        CompareOp::Le => (false, Op::Le),
    };
    let operand = typed_operand(target.leaf(), op, value, path)?;
    let cond = Cond::Compare(target, op, operand);
    Ok(if negate {
        Cond::Not(Box::new(cond))
    } else {
        cond
    })
}

fn refuse_never_returned(target: &AttrRef) -> ProtocolResult<()> {
    if target.leaf().returned == Returned::Never {
        return Err(ProtocolError::invalid_filter(format!(
            "{} cannot be used in a filter",
            target.display_name()
        )));
    }
    Ok(())
}

fn typed_operand(
    def: &AttrDef,
    op: Op,
    value: &CompValue,
    path: &AttrPath,
) -> ProtocolResult<Operand> {
    let ordering = matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le);
    let substring = matches!(op, Op::Co | Op::Sw | Op::Ew);
    let path = shown(path);
    let mismatch = |want: &str| {
        ProtocolError::invalid_filter(format!(
            "{path} is {want}; the value {} does not fit",
            excerpt(&value.to_string())
        ))
    };
    match def.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            CompValue::Str(s) if s.contains('\0') => Err(ProtocolError::invalid_filter(format!(
                "the value for {path} contains a NUL character"
            ))),
            CompValue::Str(s) if s.len() > MAX_VALUE_BYTES => {
                Err(ProtocolError::invalid_filter(format!(
                    "the value for {path} is {} bytes long; a filter compares strings of at most {MAX_VALUE_BYTES} bytes",
                    s.len()
                )))
            }
            CompValue::Str(s) => Ok(Operand::Str {
                raw: s.clone(),
                cmp: if def.case_exact {
                    s.clone()
                } else {
                    s.to_lowercase()
                },
            }),
            _ => Err(mismatch("a string")),
        },
        AttrType::Boolean => {
            if ordering || substring {
                return Err(ProtocolError::invalid_filter(format!(
                    "{path} is a boolean; only eq, ne and pr apply"
                )));
            }
            match value {
                CompValue::True => Ok(Operand::Bool(true)),
                CompValue::False => Ok(Operand::Bool(false)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Operand::Bool(true)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Operand::Bool(false)),
                _ => Err(mismatch("a boolean")),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if substring {
                return Err(ProtocolError::invalid_filter(format!(
                    "{path} is a number; co, sw and ew do not apply"
                )));
            }
            match value {
                CompValue::Number(n) => n
                    .as_f64()
                    .map(Operand::Num)
                    .ok_or_else(|| mismatch("a number")),
                _ => Err(mismatch("a number")),
            }
        }
        AttrType::DateTime => {
            if substring {
                return Err(ProtocolError::invalid_filter(format!(
                    "{path} is a dateTime; co, sw and ew do not apply"
                )));
            }
            match value {
                CompValue::Str(s) => parse_datetime(s)
                    .map(Operand::Date)
                    .ok_or_else(|| mismatch("a dateTime")),
                _ => Err(mismatch("a dateTime")),
            }
        }
        AttrType::Complex => Err(mismatch("complex")),
    }
}

/// Whether `resource` (the wire JSON, canonical attribute names) satisfies `cond`.
pub fn matches(cond: &Cond, resource: &Value) -> bool {
    eval(cond, resource, false)
}

/// Whether one value of a multi-valued attribute satisfies a value filter
/// compiled by [`compile_val_filter`].
pub fn element_matches(cond: &Cond, element: &Value) -> bool {
    eval(cond, element, true)
}

fn eval(cond: &Cond, root: &Value, scoped: bool) -> bool {
    match cond {
        Cond::And(items) => items.iter().all(|c| eval(c, root, scoped)),
        Cond::Or(items) => items.iter().any(|c| eval(c, root, scoped)),
        Cond::Not(inner) => !eval(inner, root, scoped),
        Cond::Present(target) => lookup(target, root, scoped).into_iter().any(is_present),
        Cond::Compare(target, op, operand) => lookup(target, root, scoped)
            .into_iter()
            .any(|v| compare(target.leaf(), v, *op, operand)),
        Cond::Any(parent, inner) => {
            let container = container(parent, root);
            match container.and_then(|c| c.get(parent.attr.name)) {
                Some(Value::Array(items)) => items.iter().any(|e| eval(inner, e, true)),
                Some(single @ Value::Object(_)) => eval(inner, single, true),
                _ => false,
            }
        }
    }
}

fn container<'a>(target: &AttrRef, root: &'a Value) -> Option<&'a Value> {
    match target.extension {
        Some(urn) => root.get(urn),
        None => Some(root),
    }
}

/// Every leaf value `target` names in `root`, flattening multi-valued attributes.
fn lookup<'a>(target: &AttrRef, root: &'a Value, scoped: bool) -> Vec<&'a Value> {
    if scoped {
        let name = target.sub.map_or(target.attr.name, |s| s.name);
        return root.get(name).into_iter().collect();
    }
    let Some(value) = container(target, root).and_then(|c| c.get(target.attr.name)) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    match target.sub {
        Some(sub) => items.into_iter().filter_map(|v| v.get(sub.name)).collect(),
        None => items,
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(def: &AttrDef, value: &Value, op: Op, operand: &Operand) -> bool {
    match operand {
        Operand::Str { cmp, .. } => {
            let Some(s) = value.as_str() else {
                return false;
            };
            let lowered;
            let s = if def.case_exact {
                s
            } else {
                lowered = s.to_lowercase();
                lowered.as_str()
            };
            match op {
                Op::Eq => s == cmp,
                Op::Co => s.contains(cmp.as_str()),
                Op::Sw => s.starts_with(cmp.as_str()),
                Op::Ew => s.ends_with(cmp.as_str()),
                _ => ordered(s.cmp(cmp.as_str()), op),
            }
        }
        Operand::Bool(b) => value.as_bool() == Some(*b),
        Operand::Num(n) => value
            .as_f64()
            .and_then(|v| v.partial_cmp(n))
            .is_some_and(|o| ordered(o, op)),
        Operand::Date(d) => value
            .as_str()
            .and_then(parse_datetime)
            .is_some_and(|v| ordered(v.cmp(d), op)),
    }
}

fn ordered(ordering: Ordering, op: Op) -> bool {
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimType;
    use crate::scim::schema::USER_RESOURCE_TYPE;
    use serde_json::json;

    fn bjensen() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "bjensen",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations"},
            "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T21:32:44.882Z"}
        })
    }

    fn check(filter: &str) -> bool {
        let cond = parse(&USER_RESOURCE_TYPE, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        matches(&cond, &bjensen())
    }

    #[test]
    fn rfc_7644_examples() {
        // RFC 7644 §3.4.2.2, the filter examples, against the RFC's own user.
        let table = [
            (r#"userName Eq "BJENSEN@example.com""#, true),
            (r#"name.familyName co "O'Malley""#, false),
            (r#"name.familyName co "ens""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "bj""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#,
                true,
            ),
            ("title pr", true),
            ("nickName pr", false),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified ge "2011-08-01T21:32:44.882Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-08-01T21:32:44.882Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                true,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "home" and value co "@example.com"]"#,
                false,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ];
        for (filter, expected) in table {
            assert_eq!(check(filter), expected, "{filter}");
        }
    }

    #[test]
    fn case_exactness_follows_the_schema() {
        assert!(check(r#"externalId eq "bjensen""#));
        assert!(
            !check(r#"externalId eq "BJENSEN""#),
            "externalId is caseExact"
        );
        assert!(check(r#"emails.value eq "BJENSEN@EXAMPLE.COM""#));
        assert!(
            !check(r#"id eq "2819C223-7F76-453A-919D-413861904646""#),
            "id is caseExact"
        );
    }

    #[test]
    fn extension_attributes_and_booleans() {
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
        ));
        assert!(check("active eq true"));
        assert!(check(r#"active eq "True""#), "Entra's string booleans");
        assert!(!check("active ne true"));
    }

    #[test]
    fn ne_and_null() {
        assert!(
            check(r#"nickName ne "x""#),
            "ne matches an absent attribute: it is not x"
        );
        assert!(check("nickName eq null"));
        assert!(!check("title eq null"));
        assert!(check("title ne null"));
    }

    #[test]
    fn entra_value_path_with_sub_attribute() {
        assert!(check(
            r#"emails[type eq "work"].value eq "bjensen@example.com""#
        ));
        assert!(!check(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert_eq!(
            rewrite_value_path_sub_attr(r#"emails[type eq "a]b"].value eq "x""#).as_deref(),
            Some(r#"emails[(type eq "a]b") and value eq "x"]"#)
        );
    }

    #[test]
    fn escapes_in_strings() {
        let cond = parse(&USER_RESOURCE_TYPE, r#"title eq "Tour \"Guide\"""#).unwrap();
        let mut user = bjensen();
        user["title"] = json!("Tour \"Guide\"");
        assert!(matches(&cond, &user));
    }

    #[test]
    fn invalid_filters_are_refused() {
        for bad in [
            r#"nosuch eq "x""#,
            r#"name.nosuch eq "x""#,
            r#"userName eq"#,
            r#"userName xx "x""#,
            r#"name eq "x""#,
            "active gt true",
            r#"active eq "maybe""#,
            r#"userName eq 5"#,
            r#"meta.created gt "yesterday""#,
            r#"emails[nosuch eq "x"]"#,
            r#"password eq "secret""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq "x""#,
            r#"urn:example:unknown:userName eq "x""#,
            "((((userName pr",
        ] {
            let err = parse(&USER_RESOURCE_TYPE, bad).expect_err(bad);
            assert_eq!(err.scim_type, ScimType::InvalidFilter, "{bad}");
        }
    }

    #[test]
    fn long_filters_are_refused() {
        let terms: Vec<String> = (0..=MAX_TERMS)
            .map(|i| format!("userName eq \"u{i}\""))
            .collect();
        assert!(parse(&USER_RESOURCE_TYPE, &terms.join(" or ")).is_err());
        assert!(parse(&USER_RESOURCE_TYPE, &terms[..MAX_TERMS].join(" or ")).is_ok());
        assert!(parse(&USER_RESOURCE_TYPE, "userName eq \"a\\u0000\"").is_err());
    }

    #[test]
    fn long_values_are_refused_and_errors_quote_little() {
        let at_most = "x".repeat(MAX_VALUE_BYTES);
        let over = "x".repeat(MAX_VALUE_BYTES + 1);
        for op in ["eq", "co", "sw", "ew"] {
            assert!(parse(&USER_RESOURCE_TYPE, &format!("userName {op} \"{at_most}\"")).is_ok());
            let err = parse(&USER_RESOURCE_TYPE, &format!("title {op} \"{over}\"")).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidFilter);
            assert!(
                err.detail.contains(&MAX_VALUE_BYTES.to_string()),
                "{}",
                err.detail
            );
        }
        let inside = format!("emails[value co \"{over}\"]");
        assert!(parse(&USER_RESOURCE_TYPE, &inside).is_err());
        // Whatever is wrong, the detail quotes at most a short excerpt.
        let huge = "y".repeat(1_000_000);
        for bad in [
            format!("userName eq \"{huge}"),
            format!("userName eq \"a\" {huge}"),
            format!("{huge} eq \"a\""),
            format!("emails[{huge} eq \"a\"]"),
            format!("meta.created gt \"{huge}\""),
            format!("active eq \"{huge}\""),
            format!("userName eq \"{huge}\""),
        ] {
            let err = parse(&USER_RESOURCE_TYPE, &bad).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidFilter);
            assert!(err.detail.len() < 600, "{}", &err.detail[..600]);
        }
    }

    #[test]
    fn deep_filters_are_refused_not_overflowed() {
        let deep = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&USER_RESOURCE_TYPE, &deep).is_err());
        let nots = format!("{}userName pr{}", "not (".repeat(5000), ")".repeat(5000));
        assert!(parse(&USER_RESOURCE_TYPE, &nots).is_err());
    }
}
