//! PATCH (RFC 7644 §3.5.2): every operation of a request applied in order to
//! a copy of the stored attributes, then the whole result normalised again.
//! The caller saves the result or nothing, so a request applies whole or not
//! at all.
//!
//! Accepts what IdPs send beyond the RFC: capitalised ops (Entra), pathless
//! values with dotted and URN-prefixed keys (Entra), pathless `replace` of
//! `active` (Okta), `add` to `emails[type eq "work"].value` creating the entry.

use scim_v2::filter::{PatchPath, PatchValuePath};
use serde_json::{Map, Value};

use super::filter::{
    Cond, Op, Operand, compile_val_filter, element_matches, resolve_multi_complex,
};
use super::resource::{Normalized, get_ci, normalize, normalize_extension, normalize_value};
use super::schema::{
    AttrDef, AttrRef, Mutability, PATCH_OP_URN, PathTarget, ResourceTypeDef, SchemaDef,
};
use super::{ProtocolError, ProtocolResult, ScimType};

/// The three PATCH operations (RFC 7644 §3.5.2), whatever their case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

/// One operation of a PatchOp body, checked for shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: Kind,
    /// `None` for a pathless operation (its value is then an object).
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Reads a PatchOp body into its operations: the `schemas` URN (when
/// present), a non-empty `Operations` list, a known `op` in any case, a
/// string `path`, a `value` where add and replace need one, an object value
/// where there is no path, and no pathless remove.
pub fn parse_operations(body: &Value) -> ProtocolResult<Vec<Operation>> {
    let Value::Object(body) = body else {
        return Err(ProtocolError::invalid_syntax(
            "a PATCH body must be a JSON object",
        ));
    };
    if let Some(schemas) = get_ci(body, "schemas") {
        let names_patch_op = schemas.as_array().is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))
            })
        });
        if !names_patch_op {
            return Err(ProtocolError::invalid_syntax(format!(
                "schemas must contain {PATCH_OP_URN}"
            )));
        }
    }
    let operations = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(ProtocolError::invalid_syntax(
                "Operations must be a non-empty array of operations",
            ));
        }
    };
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            parse_operation(op).map_err(|e| ProtocolError {
                detail: format!("Operations[{i}]: {}", e.detail),
                ..e
            })
        })
        .collect()
}

fn parse_operation(operation: &Value) -> ProtocolResult<Operation> {
    let Value::Object(operation) = operation else {
        return Err(ProtocolError::invalid_syntax(
            "each operation must be an object",
        ));
    };
    let kind = match get_ci(operation, "op").and_then(Value::as_str) {
        Some(op) if op.eq_ignore_ascii_case("add") => Kind::Add,
        Some(op) if op.eq_ignore_ascii_case("replace") => Kind::Replace,
        Some(op) if op.eq_ignore_ascii_case("remove") => Kind::Remove,
        Some(op) => {
            return Err(ProtocolError::invalid_syntax(format!(
                "unknown op {op:?}; use add, replace or remove"
            )));
        }
        None => return Err(ProtocolError::invalid_syntax("op is required")),
    };
    let value = get_ci(operation, "value").cloned();
    let path = match get_ci(operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(ProtocolError::invalid_path("path must be a string")),
    };
    if kind != Kind::Remove && value.is_none() {
        return Err(ProtocolError::invalid_value(
            format!("{kind:?} needs a value (RFC 7644 §3.5.2)").to_lowercase(),
        ));
    }
    if path.is_none() {
        match (kind, &value) {
            // RFC 7644 §3.5.2.2: remove without a path fails with noTarget.
            (Kind::Remove, _) => {
                return Err(ProtocolError::new(
                    ScimType::NoTarget,
                    "remove needs a path",
                ));
            }
            (_, Some(Value::Object(_))) => {}
            _ => {
                return Err(ProtocolError::invalid_value(
                    "without a path, the value must be an object of attributes",
                ));
            }
        }
    }
    Ok(Operation { kind, path, value })
}

/// Applies a PatchOp body to `current` (stored attributes). Returns the new
/// normalised attributes and a new password if an operation set one.
pub fn apply(
    rt: &ResourceTypeDef,
    current: &Map<String, Value>,
    body: &Value,
) -> ProtocolResult<Normalized> {
    apply_operations(rt, current, &parse_operations(body)?)
}

/// Applies parsed operations in order to a copy of `current`.
pub fn apply_operations(
    rt: &ResourceTypeDef,
    current: &Map<String, Value>,
    operations: &[Operation],
) -> ProtocolResult<Normalized> {
    let mut doc = Patcher {
        rt,
        attrs: current.clone(),
        password: None,
    };
    for (i, operation) in operations.iter().enumerate() {
        doc.apply_one(operation).map_err(|e| ProtocolError {
            detail: format!("Operations[{i}]: {}", e.detail),
            ..e
        })?;
    }
    let mut normalized = normalize(rt, &Value::Object(doc.attrs))?;
    normalized.password = doc.password;
    Ok(normalized)
}

struct Patcher<'a> {
    rt: &'a ResourceTypeDef,
    attrs: Map<String, Value>,
    password: Option<String>,
}

impl Patcher<'_> {
    fn apply_one(&mut self, operation: &Operation) -> ProtocolResult<()> {
        let kind = operation.kind;
        let value = operation.value.as_ref();
        let Some(path) = operation.path.as_deref() else {
            return match value {
                Some(Value::Object(map)) => self.apply_pathless(kind, map),
                _ => Err(ProtocolError::invalid_value(
                    "without a path, the value must be an object",
                )),
            };
        };
        let parsed: PatchPath = path.parse().map_err(|e| {
            ProtocolError::invalid_path(format!("the path {path:?} is not valid: {e}"))
        })?;
        let unknown = || {
            ProtocolError::invalid_path(format!("{path} is not an attribute of {}", self.rt.name))
        };
        match parsed {
            PatchPath::Attr(a) => {
                match self
                    .rt
                    .resolve(a.uri.as_deref(), &a.name, a.sub_attr.as_deref())
                {
                    Some(PathTarget::Extension(ext)) => self.apply_extension(kind, ext, value),
                    Some(PathTarget::Attr(target)) => {
                        if target.leaf().mutability == Mutability::ReadOnly
                            || target.attr.mutability == Mutability::ReadOnly
                        {
                            return Err(ProtocolError::new(
                                ScimType::Mutability,
                                format!("{path} is readOnly"),
                            ));
                        }
                        self.apply_attr(kind, target, value)
                    }
                    None => Err(unknown()),
                }
            }
            PatchPath::Value(vp) => self.apply_value_path(kind, &vp, value, path),
        }
    }

    /// `{"op": "replace", "value": {"active": false, "name.givenName": "B"}}`.
    fn apply_pathless(&mut self, kind: Kind, map: &Map<String, Value>) -> ProtocolResult<()> {
        for (key, value) in map {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            match self.rt.resolve_key(key) {
                Some(PathTarget::Extension(ext)) => self.apply_extension(kind, ext, Some(value))?,
                // Okta re-sends `id` and other readOnly values; RFC 7644 §3.5.1 says ignore them.
                Some(PathTarget::Attr(t)) if t.attr.mutability == Mutability::ReadOnly => {}
                Some(PathTarget::Attr(t)) => self.apply_attr(kind, t, Some(value))?,
                None => log::debug!("PATCH ignores unknown attribute {key:?}"),
            }
        }
        Ok(())
    }

    fn apply_extension(
        &mut self,
        kind: Kind,
        ext: &'static SchemaDef,
        value: Option<&Value>,
    ) -> ProtocolResult<()> {
        if kind == Kind::Remove {
            self.attrs.remove(ext.id);
            return Ok(());
        }
        let Some(Value::Object(new)) = normalize_extension(ext, value.unwrap_or(&Value::Null))?
        else {
            return Ok(());
        };
        let existing = self
            .attrs
            .entry(ext.id)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(existing) = existing {
            for (k, v) in new {
                existing.insert(k, v);
            }
        }
        Ok(())
    }

    fn container(&mut self, target: &AttrRef) -> &mut Map<String, Value> {
        let Some(ext) = target.extension else {
            return &mut self.attrs;
        };
        let slot = self
            .attrs
            .entry(ext)
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot {
            Value::Object(m) => m,
            _ => unreachable!("made an object on the line above"),
        }
    }

    fn apply_attr(
        &mut self,
        kind: Kind,
        target: AttrRef,
        value: Option<&Value>,
    ) -> ProtocolResult<()> {
        let attr = target.attr;
        if attr.name == "password" && target.extension.is_none() {
            return self.apply_password(kind, value);
        }
        let path = target.display_name();
        let container = self.container(&target);
        match (target.sub, kind) {
            (None, Kind::Remove) if attr.multi_valued && value.is_some_and(|v| !v.is_null()) => {
                // Entra and JumpCloud: remove exactly the listed values.
                let listed = normalize_value(attr, value.unwrap_or(&Value::Null), &path)?;
                if let (Some(Value::Array(listed)), Some(Value::Array(items))) =
                    (listed, container.get_mut(attr.name))
                {
                    items.retain(|item| !listed.iter().any(|l| same_value(l, item)));
                }
            }
            (None, Kind::Remove) => {
                container.remove(attr.name);
            }
            (None, _) => {
                let new = normalize_value(attr, value.unwrap_or(&Value::Null), &path)?;
                match (new, container.get_mut(attr.name)) {
                    (None, _) => {
                        container.remove(attr.name);
                    }
                    (Some(Value::Array(new)), Some(Value::Array(items))) if kind == Kind::Add => {
                        // RFC 7644 §3.5.2.1: add to a multi-valued attribute appends.
                        for v in new {
                            if !items.contains(&v) {
                                items.push(v);
                                let last = items.len() - 1;
                                prefer_primary(items, last);
                            }
                        }
                    }
                    (Some(Value::Object(new)), Some(Value::Object(existing)))
                        if !attr.multi_valued =>
                    {
                        // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
                        for (k, v) in new {
                            existing.insert(k, v);
                        }
                    }
                    (Some(new), _) => {
                        container.insert(attr.name.to_string(), new);
                    }
                }
            }
            (Some(sub), _) => {
                let new = match kind {
                    Kind::Remove => None,
                    _ => normalize_value(sub, value.unwrap_or(&Value::Null), &path)?,
                };
                let slot = container.entry(attr.name).or_insert_with(|| {
                    if attr.multi_valued {
                        Value::Array(Vec::new())
                    } else {
                        Value::Object(Map::new())
                    }
                });
                let set = |obj: &mut Map<String, Value>| match &new {
                    Some(v) => {
                        obj.insert(sub.name.to_string(), v.clone());
                    }
                    None => {
                        obj.remove(sub.name);
                    }
                };
                match slot {
                    Value::Array(items) if items.is_empty() && new.is_some() => {
                        let mut obj = Map::new();
                        set(&mut obj);
                        items.push(Value::Object(obj));
                    }
                    Value::Array(items) => items
                        .iter_mut()
                        .filter_map(Value::as_object_mut)
                        .for_each(set),
                    Value::Object(obj) => set(obj),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn apply_password(&mut self, kind: Kind, value: Option<&Value>) -> ProtocolResult<()> {
        match (kind, value) {
            (Kind::Remove, _) => Err(ProtocolError::new(
                ScimType::Mutability,
                "password cannot be removed; set a new one instead",
            )),
            (_, Some(Value::String(p))) if !p.is_empty() => {
                self.password = Some(p.clone());
                Ok(())
            }
            _ => Err(ProtocolError::invalid_value(
                "password must be a non-empty string",
            )),
        }
    }

    /// `emails[type eq "work"]` and `emails[type eq "work"].value`.
    fn apply_value_path(
        &mut self,
        kind: Kind,
        vp: &PatchValuePath,
        value: Option<&Value>,
        path: &str,
    ) -> ProtocolResult<()> {
        let as_path_error =
            |e: ProtocolError| ProtocolError::invalid_path(format!("{path}: {}", e.detail));
        let parent = resolve_multi_complex(self.rt, &vp.attr).map_err(as_path_error)?;
        if parent.attr.mutability == Mutability::ReadOnly {
            return Err(ProtocolError::new(
                ScimType::Mutability,
                format!("{} is readOnly", parent.attr.name),
            ));
        }
        let filter = compile_val_filter(parent, &vp.filter).map_err(as_path_error)?;
        let sub = match &vp.sub_attr {
            Some(name) => Some(parent.attr.sub(name).ok_or_else(|| {
                ProtocolError::invalid_path(format!(
                    "{} has no sub-attribute {name}",
                    parent.attr.name
                ))
            })?),
            None => None,
        };
        let attr = parent.attr;
        let element_path = format!("{}[]", parent.display_name());
        let new_value = match (kind, sub) {
            (Kind::Remove, _) => None,
            (_, Some(sub)) => normalize_value(sub, value.unwrap_or(&Value::Null), path)?,
            (_, None) => single_element(attr, value.unwrap_or(&Value::Null), &element_path)?,
        };
        let container = self.container(&parent);
        let mut items = match container.remove(attr.name) {
            Some(Value::Array(items)) => items,
            Some(single) => vec![single],
            None => Vec::new(),
        };
        let matched: Vec<usize> = (0..items.len())
            .filter(|&i| element_matches(&filter, &items[i]))
            .collect();
        match kind {
            Kind::Remove => {
                for &i in matched.iter().rev() {
                    match sub {
                        Some(sub) => {
                            if let Some(obj) = items[i].as_object_mut() {
                                obj.remove(sub.name);
                            }
                        }
                        None => {
                            items.remove(i);
                        }
                    }
                }
            }
            Kind::Add | Kind::Replace if matched.is_empty() => {
                // Entra adds `emails[type eq "work"].value` to a user with no work
                // email: make the entry the filter describes, when it describes one.
                let Some(mut element) = element_from_equalities(&filter) else {
                    container.insert(attr.name.to_string(), Value::Array(items));
                    return Err(ProtocolError::new(
                        ScimType::NoTarget,
                        format!("no value of {} matches {path}", attr.name),
                    ));
                };
                merge_into(&mut element, sub, new_value);
                items.push(Value::Object(element));
                let last = items.len() - 1;
                prefer_primary(&mut items, last);
            }
            Kind::Add | Kind::Replace => {
                for &i in &matched {
                    if let Value::Object(element) = &mut items[i] {
                        merge_into(element, sub, new_value.clone());
                    }
                    prefer_primary(&mut items, i);
                }
            }
        }
        if !items.is_empty() {
            container.insert(attr.name.to_string(), Value::Array(items));
        }
        Ok(())
    }
}

/// One value of a multi-valued complex attribute, normalised.
fn single_element(attr: &AttrDef, raw: &Value, path: &str) -> ProtocolResult<Option<Value>> {
    match normalize_value(attr, raw, path)? {
        Some(Value::Array(mut items)) if items.len() == 1 => Ok(items.pop()),
        Some(_) => Err(ProtocolError::invalid_value(format!(
            "{path} takes one value here"
        ))),
        None => Ok(None),
    }
}

fn merge_into(element: &mut Map<String, Value>, sub: Option<&AttrDef>, new_value: Option<Value>) {
    match (sub, new_value) {
        (Some(sub), Some(v)) => {
            element.insert(sub.name.to_string(), v);
        }
        (Some(sub), None) => {
            element.remove(sub.name);
        }
        (None, Some(Value::Object(obj))) => {
            for (k, v) in obj {
                element.insert(k, v);
            }
        }
        (None, _) => {}
    }
}

/// The element `type eq "work" and primary eq true` describes, if the filter
/// is only `eq` tests joined by `and`.
fn element_from_equalities(filter: &Cond) -> Option<Map<String, Value>> {
    let mut element = Map::new();
    let mut stack = vec![filter];
    while let Some(cond) = stack.pop() {
        match cond {
            Cond::And(items) => stack.extend(items.iter()),
            Cond::Compare(target, Op::Eq, operand) => {
                let value = match operand {
                    Operand::Str { raw, .. } => Value::String(raw.clone()),
                    Operand::Bool(b) => Value::Bool(*b),
                    Operand::Num(n) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                    Operand::Date(_) => return None,
                };
                element.insert(target.leaf().name.to_string(), value);
            }
            _ => return None,
        }
    }
    Some(element)
}

/// When the value at `index` became primary, the others stop being primary.
fn prefer_primary(items: &mut [Value], index: usize) {
    if items.get(index).and_then(|v| v.get("primary")) != Some(&Value::Bool(true)) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if i != index
            && let Some(obj) = item.as_object_mut()
            && obj.get("primary") == Some(&Value::Bool(true))
        {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// Whether a listed value (from a remove) names `item`: by `value` when it has one.
fn same_value(listed: &Value, item: &Value) -> bool {
    match (listed.get("value"), item.get("value")) {
        (Some(a), Some(b)) => a == b,
        _ => listed == item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_URN, USER_RESOURCE_TYPE};
    use serde_json::json;

    fn user() -> Map<String, Value> {
        match json!({
            "externalId": "ext-1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [{"value": "b@example.com", "type": "work", "primary": true},
                       {"value": "b@home.org", "type": "home"}],
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn patch(ops: Value) -> ProtocolResult<Normalized> {
        apply(
            &USER_RESOURCE_TYPE,
            &user(),
            &json!({"schemas": [PATCH_OP_URN], "Operations": ops}),
        )
    }

    fn attrs(ops: Value) -> Map<String, Value> {
        patch(ops).unwrap_or_else(|e| panic!("{e}")).attributes
    }

    #[test]
    fn okta_pathless_deactivate() {
        let a = attrs(json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(a["active"], false);
        assert_eq!(a["name"]["givenName"], "Barbara");
    }

    #[test]
    fn entra_capitalised_ops_string_booleans_dotted_and_urn_keys() {
        let a = attrs(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "value": {"name.givenName": "Babs", "urn:ietf:params:scim:schemas:core:2.0:User:title": "Guide",
                                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tours"}},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-7"}
        ]));
        assert_eq!(a["active"], false);
        assert_eq!(a["name"]["givenName"], "Babs");
        assert_eq!(
            a["name"]["familyName"], "Jensen",
            "replace of a sub-attribute keeps its siblings"
        );
        assert_eq!(a["title"], "Guide");
        assert_eq!(a[ENTERPRISE_USER_URN]["department"], "Tours");
        assert_eq!(a[ENTERPRISE_USER_URN]["manager"]["value"], "mgr-7");
    }

    #[test]
    fn entra_empty_manager_removes_it() {
        let path = format!("{ENTERPRISE_USER_URN}:manager");
        let mut current = user();
        current.insert(
            ENTERPRISE_USER_URN.into(),
            json!({"manager": {"value": "m"}, "department": "D"}),
        );
        for empty in [json!(""), json!({"value": ""}), json!(null)] {
            let body = json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "Replace", "path": path, "value": empty}]});
            let a = apply(&USER_RESOURCE_TYPE, &current, &body)
                .unwrap()
                .attributes;
            assert!(a[ENTERPRISE_USER_URN].get("manager").is_none(), "{empty}");
            assert_eq!(a[ENTERPRISE_USER_URN]["department"], "D");
        }
    }

    #[test]
    fn value_path_replace_and_remove() {
        let a = attrs(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
        );
        assert_eq!(a["emails"][0]["value"], "new@example.com");
        assert_eq!(a["emails"][1]["value"], "b@home.org");
        let a = attrs(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
        assert_eq!(a["emails"].as_array().unwrap().len(), 1);
        let a = attrs(json!([{"op": "remove", "path": "emails[type eq \"nosuch\"]"}]));
        assert_eq!(
            a["emails"].as_array().unwrap().len(),
            2,
            "removing nothing is not an error"
        );
    }

    #[test]
    fn add_to_missing_work_email_creates_it() {
        let a = attrs(json!([
            {"op": "remove", "path": "emails"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}
        ]));
        assert_eq!(
            a["emails"],
            json!([{"value": "w@example.com", "type": "work"}])
        );
    }

    #[test]
    fn replace_without_match_on_a_complex_filter_is_no_target() {
        let e = patch(
            json!([{"op": "replace", "path": "emails[value co \"zzz\"].display", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, ScimType::NoTarget);
    }

    #[test]
    fn add_appends_and_new_primary_wins() {
        let a = attrs(
            json!([{"op": "add", "path": "emails", "value": [{"value": "c@example.com", "primary": true}]}]),
        );
        let emails = a["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 3);
        assert_eq!(emails[0]["primary"], false);
        assert_eq!(emails[2]["primary"], true);
    }

    #[test]
    fn replace_of_multi_valued_replaces_the_list() {
        let a = attrs(
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com"}]}]),
        );
        assert_eq!(a["emails"], json!([{"value": "only@example.com"}]));
    }

    #[test]
    fn remove_with_value_list_removes_exactly_those() {
        let a =
            attrs(json!([{"op": "remove", "path": "emails", "value": [{"value": "b@home.org"}]}]));
        assert_eq!(a["emails"].as_array().unwrap().len(), 1);
        assert_eq!(a["emails"][0]["value"], "b@example.com");
    }

    #[test]
    fn password_is_captured_never_stored() {
        let n = patch(json!([{"op": "replace", "path": "password", "value": "n3w-Secret-pass"}]))
            .unwrap();
        assert_eq!(n.password.as_deref(), Some("n3w-Secret-pass"));
        assert!(!n.attributes.contains_key("password"));
        let n = patch(json!([{"op": "replace", "value": {"password": "other-Secret-1"}}])).unwrap();
        assert_eq!(n.password.as_deref(), Some("other-Secret-1"));
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "meta.created", "value": "x"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "nosuch", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "emails[", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (json!([{"op": "remove"}]), ScimType::NoTarget),
            (
                json!([{"op": "move", "path": "title"}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([{"op": "add", "path": "title"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "remove", "path": "userName"}]),
                ScimType::InvalidValue,
            ),
            (json!([]), ScimType::InvalidSyntax),
        ];
        for (ops, expected) in cases {
            assert_eq!(patch(ops.clone()).unwrap_err().scim_type, expected, "{ops}");
        }
    }

    #[test]
    fn readonly_keys_in_pathless_values_are_ignored() {
        let a = attrs(
            json!([{"op": "replace", "value": {"id": "other", "meta": {}, "displayName": "B J"}}]),
        );
        assert_eq!(a["displayName"], "B J");
        assert!(!a.contains_key("id"));
    }
}
