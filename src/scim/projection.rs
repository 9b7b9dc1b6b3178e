//! `attributes` and `excludedAttributes` (RFC 7644 §3.9, §3.4.2.5): which
//! attributes of a resource a response carries.

use scim_v2::filter::{AttrExp, Filter};
use serde_json::{Map, Value};

use super::schema::{AttrDef, PathTarget, ResourceTypeDef, Returned};
use super::{ProtocolError, ProtocolResult};

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Default, Clone)]
pub struct Projection {
    include: Option<Vec<PathTarget>>,
    exclude: Vec<PathTarget>,
}

impl Projection {
    /// Parses both parameters. Names are in standard attribute notation
    /// (RFC 7644 §3.10); names that are not attributes of `rt` are ignored,
    /// since a client asking for an attribute we do not have gets it absent.
    pub fn parse(
        rt: &ResourceTypeDef,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ProtocolResult<Self> {
        let include = match attributes.map(str::trim).filter(|s| !s.is_empty()) {
            Some(list) => Some(parse_list(rt, list, "attributes")?),
            None => None,
        };
        let exclude = match excluded.map(str::trim).filter(|s| !s.is_empty()) {
            Some(list) => parse_list(rt, list, "excludedAttributes")?,
            None => Vec::new(),
        };
        Ok(Self { include, exclude })
    }

    /// Whether the response can leave out `name` entirely (lets storage skip reading it).
    pub fn excludes(&self, attr_name: &str) -> bool {
        let named = |t: &PathTarget| matches!(t, PathTarget::Attr(a) if a.extension.is_none() && a.sub.is_none() && a.attr.name == attr_name);
        match &self.include {
            Some(include) => !include.iter().any(|t| match t {
                PathTarget::Attr(a) => a.extension.is_none() && a.attr.name == attr_name,
                PathTarget::Extension(_) => false,
            }),
            None => self.exclude.iter().any(named),
        }
    }

    /// Applies the projection to a full wire resource (`schemas`, `id`, attributes, `meta`).
    pub fn apply(&self, rt: &ResourceTypeDef, resource: &mut Map<String, Value>) {
        if let Some(include) = &self.include {
            resource.retain(|key, value| {
                if key == "schemas" || key == "id" {
                    return true;
                }
                if let Some(ext) = rt.extension(key) {
                    if include
                        .iter()
                        .any(|t| matches!(t, PathTarget::Extension(e) if e.id == ext.id))
                    {
                        return true;
                    }
                    let wanted: Vec<_> = include
                        .iter()
                        .filter_map(|t| match t {
                            PathTarget::Attr(a) if a.extension == Some(ext.id) => Some(a),
                            _ => None,
                        })
                        .collect();
                    if let Value::Object(ext_obj) = value {
                        ext_obj.retain(|k, v| {
                            let subs: Vec<_> = wanted.iter().filter(|a| a.attr.name == k).collect();
                            if subs.iter().any(|a| a.sub.is_none()) {
                                return true;
                            }
                            keep_subs(v, subs.iter().filter_map(|a| a.sub))
                        });
                        return !ext_obj.is_empty();
                    }
                    return false;
                }
                let wanted: Vec<_> = include
                    .iter()
                    .filter_map(|t| match t {
                        PathTarget::Attr(a) if a.extension.is_none() && a.attr.name == key => {
                            Some(a)
                        }
                        _ => None,
                    })
                    .collect();
                if wanted.iter().any(|a| a.sub.is_none()) {
                    return true;
                }
                let always = find_def(rt, key).is_some_and(|d| d.returned == Returned::Always);
                always
                    || (!wanted.is_empty() && keep_subs(value, wanted.iter().filter_map(|a| a.sub)))
            });
        } else {
            for target in &self.exclude {
                match target {
                    PathTarget::Extension(ext) => {
                        resource.remove(ext.id);
                    }
                    PathTarget::Attr(a) if a.attr.returned == Returned::Always => {}
                    PathTarget::Attr(a) => {
                        let container = match a.extension {
                            Some(ext) => match resource.get_mut(ext) {
                                Some(Value::Object(o)) => o,
                                _ => continue,
                            },
                            None => &mut *resource,
                        };
                        match a.sub {
                            None => {
                                container.remove(a.attr.name);
                            }
                            Some(sub) => {
                                if let Some(v) = container.get_mut(a.attr.name) {
                                    drop_sub(v, sub.name);
                                }
                            }
                        }
                    }
                }
            }
            for ext in rt.extensions {
                if resource
                    .get(ext.id)
                    .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
                {
                    resource.remove(ext.id);
                }
            }
        }
        // RFC 7643 §3: `schemas` names the extensions the resource still carries.
        if let Some(Value::Array(schemas)) = resource.get("schemas").cloned() {
            let kept: Vec<Value> = schemas
                .into_iter()
                .filter(|s| {
                    s.as_str()
                        .is_none_or(|urn| rt.extension(urn).is_none() || resource.contains_key(urn))
                })
                .collect();
            resource.insert("schemas".into(), Value::Array(kept));
        }
    }
}

fn find_def(rt: &ResourceTypeDef, key: &str) -> Option<&'static AttrDef> {
    match rt.resolve(None, key, None)? {
        PathTarget::Attr(a) => Some(a.attr),
        PathTarget::Extension(_) => None,
    }
}

/// Keeps only the named sub-attributes of a complex value (or of each value of
/// a multi-valued one). Returns whether anything is left.
fn keep_subs<'a>(value: &mut Value, subs: impl Iterator<Item = &'a AttrDef> + Clone) -> bool {
    let keep = |obj: &mut Map<String, Value>| {
        obj.retain(|k, _| subs.clone().any(|s| s.name == k));
        !obj.is_empty()
    };
    match value {
        Value::Object(obj) => keep(obj),
        Value::Array(items) => {
            items.retain_mut(|item| item.as_object_mut().is_some_and(keep));
            !items.is_empty()
        }
        _ => false,
    }
}

fn drop_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(obj) => {
            obj.remove(sub);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| drop_sub(v, sub)),
        _ => {}
    }
}

/// Resolves `sortBy` (RFC 7644 §3.4.2.3), which must name an attribute.
pub fn resolve_sort_by(rt: &ResourceTypeDef, name: &str) -> ProtocolResult<super::schema::AttrRef> {
    let path = match format!("{name} pr").parse::<Filter>() {
        Ok(Filter::Attr(AttrExp::Present(path))) => path,
        _ => {
            return Err(ProtocolError::invalid_value(format!(
                "sortBy {name:?} is not in attribute notation"
            )));
        }
    };
    rt.resolve_attr(path.uri.as_deref(), &path.name, path.sub_attr.as_deref())
        .ok_or_else(|| {
            ProtocolError::invalid_value(format!(
                "sortBy {name:?} is not an attribute of {}",
                rt.name
            ))
        })
}

fn parse_list(rt: &ResourceTypeDef, list: &str, param: &str) -> ProtocolResult<Vec<PathTarget>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        // The filter grammar's attrPath is the standard attribute notation (§3.10);
        // reading `<name> pr` through it reuses that one parser.
        let path = match format!("{name} pr").parse::<Filter>() {
            Ok(Filter::Attr(AttrExp::Present(path))) => path,
            _ => {
                return Err(ProtocolError::invalid_value(format!(
                    "{param}: {name:?} is not in attribute notation such as name.givenName"
                )));
            }
        };
        match rt.resolve(path.uri.as_deref(), &path.name, path.sub_attr.as_deref()) {
            Some(target) => out.push(target),
            None => log::debug!(
                "{param}: ignoring {name:?}, not an attribute of {}",
                rt.name
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_URN, USER_RESOURCE_TYPE, USER_URN};
    use serde_json::json;

    fn user() -> Map<String, Value> {
        match json!({
            "schemas": [USER_URN, ENTERPRISE_USER_URN],
            "id": "1", "userName": "b", "displayName": "B",
            "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
            ENTERPRISE_USER_URN: {"department": "D", "costCenter": "C"},
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let p = Projection::parse(&USER_RESOURCE_TYPE, attributes, excluded).unwrap();
        let mut u = user();
        p.apply(&USER_RESOURCE_TYPE, &mut u);
        Value::Object(u)
    }

    #[test]
    fn attributes_keep_id_schemas_and_what_was_asked() {
        let v = project(Some("userName,name.givenName,emails.value"), None);
        assert_eq!(v["id"], "1");
        assert_eq!(v["userName"], "b");
        assert_eq!(v["name"], json!({"givenName": "G"}));
        assert_eq!(v["emails"], json!([{"value": "a@x"}, {"value": "b@x"}]));
        assert!(v.get("displayName").is_none() && v.get("meta").is_none());
        assert_eq!(
            v["schemas"],
            json!([USER_URN]),
            "extension dropped from schemas when its data is"
        );
    }

    #[test]
    fn extension_attributes_by_urn() {
        let v = project(Some(&format!("{ENTERPRISE_USER_URN}:department")), None);
        assert_eq!(v[ENTERPRISE_USER_URN], json!({"department": "D"}));
        let v = project(Some(ENTERPRISE_USER_URN), None);
        assert_eq!(v[ENTERPRISE_USER_URN]["costCenter"], "C");
    }

    #[test]
    fn excluded_attributes_never_drop_id() {
        let v = project(None, Some("id,emails,name.familyName,meta"));
        assert_eq!(v["id"], "1");
        assert!(v.get("emails").is_none() && v.get("meta").is_none());
        assert_eq!(v["name"], json!({"givenName": "G"}));
        let v = project(
            None,
            Some(&format!(
                "{ENTERPRISE_USER_URN}:department,{ENTERPRISE_USER_URN}:costCenter"
            )),
        );
        assert!(v.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(v["schemas"], json!([USER_URN]));
    }

    #[test]
    fn malformed_names_are_invalid_value_unknown_ones_ignored() {
        assert!(Projection::parse(&USER_RESOURCE_TYPE, Some("user name"), None).is_err());
        assert!(Projection::parse(&USER_RESOURCE_TYPE, Some("nosuch,userName"), None).is_ok());
    }
}
