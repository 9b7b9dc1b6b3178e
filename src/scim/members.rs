//! Group membership in requests: reading member lists, and planning a Group
//! PATCH (RFC 7644 §3.5.2) into attribute operations, which the PATCH engine
//! applies to the stored attributes, and membership changes, which storage
//! applies to membership rows one by one. A group's members are never one
//! array in memory, so a change to one member of 100,000 touches one row.

use scim_v2::filter::{AttrExp, CompValue, CompareOp, PatchPath, ValFilter};
use serde_json::{Map, Value};

use super::filter::{Cond, compile_val_filter};
use super::patch::{Kind, Operation, parse_operations};
use super::resource::get_ci;
use super::schema::{GROUP_URN, PathTarget, ResourceTypeDef};
use super::{ProtocolError, ProtocolResult, ScimType};

/// What a member is, when the client says (`type`); otherwise storage finds out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// A member named in a request: its id and, if given, its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<MemberKind>,
}

/// One change to a group's membership rows, applied in request order.
#[derive(Debug, Clone)]
pub enum MemberChange {
    /// Add these (members already present are not an error).
    Add(Vec<MemberRef>),
    /// Remove exactly these ids (absent ones are not an error).
    Remove(Vec<String>),
    /// Remove the members a `members[...]` filter selects.
    RemoveMatching(Cond),
    /// Remove every member.
    RemoveAll,
    /// Make the membership exactly this list (applied as a difference).
    Replace(Vec<MemberRef>),
}

/// A Group PATCH, split.
#[derive(Debug, Clone, Default)]
pub struct GroupPatchPlan {
    /// Operations on attributes other than `members`, for the PATCH engine.
    pub attribute_ops: Vec<Operation>,
    pub member_changes: Vec<MemberChange>,
}

/// Reads a `members` value: a list of `{"value", "type", "display", "$ref"}`
/// objects (or one such object, or bare ids). `display` and `$ref` are the
/// server's to compute and are ignored.
pub fn member_refs(value: &Value) -> ProtocolResult<Vec<MemberRef>> {
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out: Vec<MemberRef> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let (id, kind) = match item {
            Value::String(id) => (id.clone(), None),
            Value::Object(obj) => {
                let id = match get_ci(obj, "value") {
                    Some(Value::String(id)) => id.clone(),
                    _ => {
                        return Err(ProtocolError::invalid_value(format!(
                            "members[{i}].value must be the id of a User or Group"
                        )));
                    }
                };
                let kind = match get_ci(obj, "type").and_then(Value::as_str) {
                    None | Some("") => None,
                    Some(t) if t.eq_ignore_ascii_case("user") => Some(MemberKind::User),
                    Some(t) if t.eq_ignore_ascii_case("group") => Some(MemberKind::Group),
                    Some(t) => {
                        return Err(ProtocolError::invalid_value(format!(
                            "members[{i}].type must be User or Group, not {t:?}"
                        )));
                    }
                };
                (id, kind)
            }
            _ => {
                return Err(ProtocolError::invalid_value(format!(
                    "members[{i}] must be an object with a value"
                )));
            }
        };
        if id.is_empty() || id.contains('\0') {
            return Err(ProtocolError::invalid_value(format!(
                "members[{i}].value is not an id"
            )));
        }
        if seen.insert(id.clone()) {
            out.push(MemberRef { value: id, kind });
        }
    }
    Ok(out)
}

/// Whether a path names the `members` attribute (bare or URN-qualified).
fn names_members(uri: Option<&str>, name: &str) -> bool {
    name.eq_ignore_ascii_case("members") && uri.is_none_or(|u| u.eq_ignore_ascii_case(GROUP_URN))
}

/// `value eq "a"`, `value eq "a" or value eq "b"`: the ids, when that is all the filter says.
fn ids_of(filter: &ValFilter) -> Option<Vec<String>> {
    match filter {
        ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(id)))
            if path.uri.is_none()
                && path.sub_attr.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        ValFilter::Or(items) => {
            let mut ids = Vec::new();
            for item in items.iter() {
                ids.extend(ids_of(item)?);
            }
            Some(ids)
        }
        _ => None,
    }
}

/// Splits a PatchOp body for a Group.
pub fn plan(rt: &ResourceTypeDef, body: &Value) -> ProtocolResult<GroupPatchPlan> {
    let mut plan = GroupPatchPlan::default();
    for (i, op) in parse_operations(body)?.into_iter().enumerate() {
        plan_one(rt, op, &mut plan).map_err(|e| ProtocolError {
            detail: format!("Operations[{i}]: {}", e.detail),
            ..e
        })?;
    }
    Ok(plan)
}

fn plan_one(rt: &ResourceTypeDef, op: Operation, plan: &mut GroupPatchPlan) -> ProtocolResult<()> {
    let Some(path) = op.path.as_deref() else {
        // Pathless: `{"members": [...]}` inside the value is a membership
        // change; every other key (Okta re-sends `id` and `displayName`) is an
        // attribute operation. A value without `members` never touches members.
        let Some(Value::Object(map)) = &op.value else {
            return Ok(());
        };
        let mut rest = Map::new();
        for (key, value) in map {
            match rt.resolve_key(key) {
                Some(PathTarget::Attr(a)) if a.attr.name == "members" && a.sub.is_none() => {
                    let refs = member_refs(value)?;
                    plan.member_changes.push(match op.kind {
                        Kind::Replace => MemberChange::Replace(refs),
                        _ => MemberChange::Add(refs),
                    });
                }
                _ => {
                    rest.insert(key.clone(), value.clone());
                }
            }
        }
        if !rest.is_empty() {
            plan.attribute_ops.push(Operation {
                value: Some(Value::Object(rest)),
                ..op
            });
        }
        return Ok(());
    };
    let parsed: PatchPath = path
        .parse()
        .map_err(|e| ProtocolError::invalid_path(format!("the path {path:?} is not valid: {e}")))?;
    match parsed {
        PatchPath::Attr(a) if names_members(a.uri.as_deref(), &a.name) => {
            if a.sub_attr.is_some() {
                return Err(ProtocolError::invalid_path(format!(
                    "{path}: members are added and removed whole; use the path members or members[value eq \"id\"]"
                )));
            }
            let value = op.value.as_ref().filter(|v| !v.is_null());
            plan.member_changes.push(match (op.kind, value) {
                (Kind::Add, Some(v)) => MemberChange::Add(member_refs(v)?),
                (Kind::Replace, Some(v)) => MemberChange::Replace(member_refs(v)?),
                (Kind::Replace, None) => MemberChange::RemoveAll,
                // Entra (without its compatibility flag) and JumpCloud: remove
                // exactly the listed members. No value: remove them all.
                (Kind::Remove, Some(v)) => {
                    MemberChange::Remove(member_refs(v)?.into_iter().map(|m| m.value).collect())
                }
                (Kind::Remove, None) => MemberChange::RemoveAll,
                (Kind::Add, None) => return Err(ProtocolError::invalid_value("add needs a value")),
            });
        }
        PatchPath::Value(vp) if names_members(vp.attr.uri.as_deref(), &vp.attr.name) => {
            if op.kind != Kind::Remove || vp.sub_attr.is_some() {
                return Err(ProtocolError::new(
                    ScimType::Mutability,
                    format!(
                        "{path}: a member's value and type are immutable; remove the member and add another"
                    ),
                ));
            }
            plan.member_changes.push(match ids_of(&vp.filter) {
                Some(ids) => MemberChange::Remove(ids),
                None => {
                    let parent = rt.resolve_attr(None, "members", None).ok_or_else(|| {
                        ProtocolError::invalid_path("this resource has no members")
                    })?;
                    let cond = compile_val_filter(parent, &vp.filter).map_err(|e| {
                        ProtocolError::invalid_path(format!("{path}: {}", e.detail))
                    })?;
                    MemberChange::RemoveMatching(cond)
                }
            });
        }
        _ => plan.attribute_ops.push(op),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP_RESOURCE_TYPE, PATCH_OP_URN};
    use serde_json::json;

    fn plan_of(ops: Value) -> ProtocolResult<GroupPatchPlan> {
        plan(
            &GROUP_RESOURCE_TYPE,
            &json!({"schemas": [PATCH_OP_URN], "Operations": ops}),
        )
    }

    fn ids(refs: &[MemberRef]) -> Vec<&str> {
        refs.iter().map(|m| m.value.as_str()).collect()
    }

    #[test]
    fn okta_removes_then_add_in_order() {
        let p = plan_of(json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "remove", "path": "members[value eq \"u2\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u3", "display": "x"}]}
        ]))
        .unwrap();
        assert!(p.attribute_ops.is_empty());
        assert!(matches!(&p.member_changes[0], MemberChange::Remove(v) if v == &["u1"]));
        assert!(matches!(&p.member_changes[1], MemberChange::Remove(v) if v == &["u2"]));
        assert!(matches!(&p.member_changes[2], MemberChange::Add(v) if ids(v) == ["u3"]));
    }

    #[test]
    fn okta_pathless_rename_never_touches_members() {
        let p =
            plan_of(json!([{"op": "replace", "value": {"id": "g1", "displayName": "New name"}}]))
                .unwrap();
        assert!(p.member_changes.is_empty());
        assert_eq!(p.attribute_ops.len(), 1);
    }

    #[test]
    fn entra_remove_with_a_value_list_removes_exactly_those() {
        let p = plan_of(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}])).unwrap();
        assert!(matches!(&p.member_changes[0], MemberChange::Remove(v) if v == &["u1", "u2"]));
        let p = plan_of(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert!(matches!(p.member_changes[0], MemberChange::RemoveAll));
    }

    #[test]
    fn replace_and_pathless_members() {
        let p = plan_of(json!([{"op": "replace", "path": "members", "value": [{"value": "u1", "type": "User"}]}])).unwrap();
        assert!(
            matches!(&p.member_changes[0], MemberChange::Replace(v) if v[0].kind == Some(MemberKind::User))
        );
        let p = plan_of(json!([{"op": "Add", "value": {"members": [{"value": "g2", "type": "group"}], "displayName": "D"}}])).unwrap();
        assert!(
            matches!(&p.member_changes[0], MemberChange::Add(v) if v[0].kind == Some(MemberKind::Group))
        );
        assert_eq!(p.attribute_ops.len(), 1);
    }

    #[test]
    fn other_member_filters_compile_for_storage() {
        let p = plan_of(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}])).unwrap();
        assert!(matches!(
            p.member_changes[0],
            MemberChange::RemoveMatching(_)
        ));
        let p =
            plan_of(json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]))
                .unwrap();
        assert!(matches!(&p.member_changes[0], MemberChange::Remove(v) if v == &["a", "b"]));
    }

    #[test]
    fn refusals() {
        for (ops, scim_type) in [
            (
                json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "add", "path": "members.value", "value": "a"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"type": "User"}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": "a", "type": "Robot"}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "remove", "path": "members[nosuch eq \"a\"]"}]),
                ScimType::InvalidPath,
            ),
        ] {
            assert_eq!(
                plan_of(ops.clone()).unwrap_err().scim_type,
                scim_type,
                "{ops}"
            );
        }
    }
}
