//! The SCIM Group use cases. A group's members are rows: a change touches
//! only the rows it adds or removes, and a response that leaves `members`
//! out never reads them.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use sea_orm::ConnectionTrait;

use super::listing::{self, Key, ListParams, Lister, Page};
use super::{AppState, Conditional, OrgScope, Resource, check_if_match};
use crate::error::{AppError, AppResult};
use crate::scim::filter::Cond;
use crate::scim::members::{self, MemberChange, MemberKind, MemberRef};
use crate::scim::projection::Projection;
use crate::scim::resource::{format_datetime, get_ci, normalize};
use crate::scim::schema::{GROUP_RESOURCE_TYPE, GROUP_URN};
use crate::scim::{etag, patch};
use crate::store::filter_sql::{Table, member_condition};
use crate::store::groups::{GroupRow, MemberRow};
use crate::store::{self, is_unique_violation, now_ms};

fn location(state: &AppState, id: &str) -> String {
    format!("{}/scim/v2/Groups/{id}", state.base_url)
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("Group {id} not found"))
}

fn attributes_of(row: &GroupRow) -> AppResult<Map<String, Value>> {
    serde_json::from_str(&row.resource).map_err(|e| {
        AppError::Internal(format!("group {} holds unreadable attributes: {e}", row.id))
    })
}

/// The wire form (RFC 7643 §4.2); `members` only when they were read. The
/// member rows are consumed as their JSON is built, so a group of 100,000
/// is held once, not twice.
fn to_wire(
    state: &AppState,
    row: &GroupRow,
    members: Option<Vec<MemberRow>>,
) -> AppResult<Map<String, Value>> {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_URN]));
    out.insert("id".into(), json!(row.id));
    out.extend(attributes_of(row)?);
    if let Some(members) = members {
        let values: Vec<Value> = members
            .into_iter()
            .map(|m| {
                let endpoint = match m.kind {
                    MemberKind::User => "Users",
                    MemberKind::Group => "Groups",
                };
                let mut v = Map::new();
                let reference = format!("{}/scim/v2/{endpoint}/{}", state.base_url, m.id);
                v.insert("value".into(), Value::String(m.id));
                v.insert("$ref".into(), Value::String(reference));
                if let Some(display) = m.display {
                    v.insert("display".into(), Value::String(display));
                }
                v.insert("type".into(), json!(m.kind.as_str()));
                Value::Object(v)
            })
            .collect();
        if !values.is_empty() {
            out.insert("members".into(), Value::Array(values));
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": format_datetime(row.created_at),
            "lastModified": format_datetime(row.updated_at),
            "location": location(state, &row.id),
            "version": etag(row.version),
        }),
    );
    Ok(out)
}

async fn respond(
    state: &AppState,
    conn: &impl sea_orm::ConnectionTrait,
    row: &GroupRow,
    projection: &Projection,
) -> AppResult<Resource> {
    let members = if projection.excludes("members") {
        None
    } else {
        Some(store::groups::members(conn, &row.id).await?)
    };
    let mut body = to_wire(state, row, members)?;
    projection.apply(&GROUP_RESOURCE_TYPE, &mut body);
    Ok(Resource {
        body: Value::Object(body),
        etag: etag(row.version),
        location: location(state, &row.id),
    })
}

async fn find_existing(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> AppResult<GroupRow> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found(id));
    }
    store::groups::find(conn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// A POST/PUT body: its attributes, and its member list apart, since members
/// are rows and not stored with the attributes.
fn split_body(body: &Value) -> AppResult<(Map<String, Value>, Vec<MemberRef>)> {
    let mut body = body.clone();
    let refs = match body.as_object_mut() {
        Some(obj) => {
            let key = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case("members"))
                .cloned();
            match key.and_then(|k| obj.remove(&k)) {
                Some(v) => members::member_refs(&v)?,
                None => Vec::new(),
            }
        }
        None => {
            return Err(AppError::invalid_syntax(
                "the request body must be a JSON object",
            ));
        }
    };
    let normalized = normalize(&GROUP_RESOURCE_TYPE, &body)?;
    Ok((normalized.attributes, refs))
}

async fn check_external_id(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    attributes: &Map<String, Value>,
    except: Option<&str>,
) -> AppResult<()> {
    if let Some(external_id) = get_ci(attributes, "externalId").and_then(Value::as_str)
        && store::groups::external_id_taken(conn, &scope.org_id, external_id, except).await?
    {
        return Err(AppError::Uniqueness(format!(
            "a Group with externalId {external_id:?} already exists"
        )));
    }
    Ok(())
}

/// Finds the members a request names; 400 `invalidValue` naming any that is
/// not a user or group of this organisation, or that would make a cycle.
async fn resolve(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    group_id: &str,
    refs: &[MemberRef],
) -> AppResult<Vec<(String, MemberKind)>> {
    let wanted: Vec<(String, Option<MemberKind>)> =
        refs.iter().map(|m| (m.value.clone(), m.kind)).collect();
    let (found, unknown) = store::groups::resolve_members(conn, &scope.org_id, &wanted).await?;
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(5).map(String::as_str).collect();
        let more = if unknown.len() > 5 {
            format!(" and {} more", unknown.len() - 5)
        } else {
            String::new()
        };
        return Err(AppError::invalid_value(format!(
            "members.value {}{more}: not a User or Group of this organisation (or not of the type given)",
            shown.join(", ")
        )));
    }
    if found.iter().any(|(_, kind)| *kind == MemberKind::Group) {
        // A member group closes a cycle when it is this group or holds it:
        // one walk up from this group answers for every member named.
        let above = store::groups::ancestors(conn, &scope.org_id, group_id).await?;
        if let Some((id, _)) = found
            .iter()
            .find(|(id, kind)| *kind == MemberKind::Group && above.contains(id))
        {
            return Err(AppError::invalid_value(format!(
                "members.value {id}: this group is, or contains, the group it would join; nested groups may not form a cycle"
            )));
        }
    }
    Ok(found)
}

/// Adds members; one deleted since it was found is 400 `invalidValue`, not a 500.
async fn add(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    group_id: &str,
    members: &[(String, MemberKind)],
) -> AppResult<u64> {
    match store::groups::add_members(conn, &scope.org_id, group_id, members).await {
        Ok(n) => Ok(n),
        Err(e) if store::is_foreign_key_violation(&e) => Err(AppError::invalid_value(
            "a member was deleted while this request added it",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Applies membership changes in order; returns whether any row changed.
async fn apply_member_changes(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    group_id: &str,
    changes: &[MemberChange],
) -> AppResult<bool> {
    let mut changed = 0u64;
    for change in changes {
        changed += match change {
            MemberChange::Add(refs) => {
                let found = resolve(conn, scope, group_id, refs).await?;
                add(conn, scope, group_id, &found).await?
            }
            MemberChange::Remove(ids) => store::groups::remove_members(conn, group_id, ids).await?,
            MemberChange::RemoveAll => store::groups::remove_where(conn, group_id, None).await?,
            MemberChange::RemoveMatching(cond) => {
                let condition = member_condition(&scope.org_id, cond).ok_or_else(|| {
                    AppError::invalid_path(
                        "a members[...] filter in a path may test value and type only",
                    )
                })?;
                store::groups::remove_where(conn, group_id, Some(condition)).await?
            }
            MemberChange::Replace(refs) => {
                // As a difference: only the rows that change are touched.
                let found = resolve(conn, scope, group_id, refs).await?;
                let current = store::groups::member_ids(conn, group_id).await?;
                let wanted: HashSet<&String> = found.iter().map(|(id, _)| id).collect();
                let gone: Vec<String> = current
                    .iter()
                    .filter(|id| !wanted.contains(id))
                    .cloned()
                    .collect();
                let new: Vec<(String, MemberKind)> = found
                    .into_iter()
                    .filter(|(id, _)| !current.contains(id))
                    .collect();
                store::groups::remove_members(conn, group_id, &gone).await?
                    + add(conn, scope, group_id, &new).await?
            }
        };
    }
    Ok(changed > 0)
}

/// Every SCIM write to a group leaves an audit event in its transaction.
async fn audit_group(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    action: &str,
    id: &str,
    summary: Value,
) -> AppResult<()> {
    super::audit::record(
        conn,
        scope,
        now_ms(),
        super::audit::Event {
            action,
            target_type: "group",
            target_id: Some(id),
            summary,
        },
    )
    .await
}

pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    body: &Value,
    projection: &Projection,
) -> AppResult<Resource> {
    let (attributes, refs) = split_body(body)?;
    let txn = state.db.begin().await?;
    store::lock_memberships(&txn, &scope.org_id).await?;
    check_external_id(&txn, scope, &attributes, None).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = match store::groups::insert(&txn, &id, &scope.org_id, &attributes, now_ms()).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Uniqueness(
                "a Group with this externalId was created at the same time".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    apply_member_changes(&txn, scope, &id, &[MemberChange::Add(refs)]).await?;
    let resource = respond(state, &txn, &row, projection).await?;
    audit_group(
        &txn,
        scope,
        "group.created",
        &id,
        json!({"display_name": row.display_name}),
    )
    .await?;
    let mut added: Vec<String> = store::groups::member_ids(&txn, &id)
        .await?
        .into_iter()
        .collect();
    added.sort_unstable();
    super::events::record_members_changed(&txn, scope, now_ms(), &id, &added, &[]).await?;
    txn.commit().await?;
    log::info!("created Group {id} in organisation {}", scope.org_id);
    Ok(resource)
}

pub async fn get(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    projection: &Projection,
    if_none_match: Option<&str>,
) -> AppResult<Conditional<Resource>> {
    let row = find_existing(&state.db.read, scope, id).await?;
    let current = etag(row.version);
    if if_none_match.is_some_and(|h| crate::scim::etag_matches(h, &current)) {
        return Ok(Conditional::NotModified { etag: current });
    }
    Ok(Conditional::Modified(
        respond(state, &state.db.read, &row, projection).await?,
    ))
}

/// Load (locked), change attributes and membership rows, save, in one
/// transaction: concurrent changes to one group queue and none is lost.
async fn write_locked(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    if_match: Option<&str>,
    projection: &Projection,
    attribute_change: impl FnOnce(&Map<String, Value>) -> AppResult<Map<String, Value>>,
    member_changes: &[MemberChange],
) -> AppResult<Resource> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found(id));
    }
    let txn = state.db.begin().await?;
    if !member_changes.is_empty() {
        store::lock_memberships(&txn, &scope.org_id).await?;
    }
    let current = store::groups::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(if_match, current.version)?;
    let current_attrs = attributes_of(&current)?;
    let current_version = current.version;
    let attributes = attribute_change(&current_attrs)?;
    // The members before and after, for `group.members_added` / `_removed`.
    let members_before = if member_changes.is_empty() {
        None
    } else {
        Some(store::groups::member_ids(&txn, id).await?)
    };
    let members_changed = apply_member_changes(&txn, scope, id, member_changes).await?;
    let row = if attributes != current_attrs {
        check_external_id(&txn, scope, &attributes, Some(id)).await?;
        match store::groups::update(&txn, &current, &attributes, now_ms()).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Uniqueness(
                    "another Group has this externalId".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    } else if members_changed {
        // RFC 7644 §3.14: the version changes with every change, membership included.
        store::groups::bump_versions(
            &txn,
            &scope.org_id,
            std::slice::from_ref(&current.id),
            now_ms(),
        )
        .await?;
        store::groups::find(&txn, &scope.org_id, id)
            .await?
            .ok_or_else(|| not_found(id))?
    } else {
        current
    };
    let resource = respond(state, &txn, &row, projection).await?;
    if row.version != current_version {
        let mut changed: Vec<&str> = attributes
            .keys()
            .chain(current_attrs.keys())
            .filter(|k| attributes.get(*k) != current_attrs.get(*k))
            .map(String::as_str)
            .collect();
        changed.sort_unstable();
        changed.dedup();
        audit_group(
            &txn,
            scope,
            "group.updated",
            id,
            json!({"changed": changed, "members_changed": members_changed}),
        )
        .await?;
    }
    if let (Some(before), true) = (members_before, members_changed) {
        let after = store::groups::member_ids(&txn, id).await?;
        let mut added: Vec<String> = after.difference(&before).cloned().collect();
        let mut removed: Vec<String> = before.difference(&after).cloned().collect();
        added.sort_unstable();
        removed.sort_unstable();
        super::events::record_members_changed(&txn, scope, now_ms(), id, &added, &removed).await?;
    }
    txn.commit().await?;
    log::info!("changed Group {id}, now version {}", row.version);
    Ok(resource)
}

pub async fn replace(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    projection: &Projection,
) -> AppResult<Resource> {
    // RFC 7644 §3.5.1: PUT replaces; the members become exactly those given.
    let (attributes, refs) = split_body(body)?;
    write_locked(
        state,
        scope,
        id,
        if_match,
        projection,
        |_| Ok(attributes),
        &[MemberChange::Replace(refs)],
    )
    .await
}

pub async fn patch(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    projection: &Projection,
) -> AppResult<Resource> {
    let plan = members::plan(&GROUP_RESOURCE_TYPE, body)?;
    let attribute_change = |current: &Map<String, Value>| -> AppResult<Map<String, Value>> {
        if plan.attribute_ops.is_empty() {
            return Ok(current.clone());
        }
        Ok(patch::apply_operations(&GROUP_RESOURCE_TYPE, current, &plan.attribute_ops)?.attributes)
    };
    write_locked(
        state,
        scope,
        id,
        if_match,
        projection,
        attribute_change,
        &plan.member_changes,
    )
    .await
}

pub async fn delete(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    if_match: Option<&str>,
) -> AppResult<()> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found(id));
    }
    let txn = state.db.begin().await?;
    store::lock_memberships(&txn, &scope.org_id).await?;
    let current = store::groups::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(if_match, current.version)?;
    // Its membership rows, both ways, go by foreign key; the groups it leaves change version.
    let parents = store::groups::parents_of(&txn, &scope.org_id, id).await?;
    store::groups::delete(&txn, &scope.org_id, id).await?;
    store::groups::bump_versions(&txn, &scope.org_id, &parents, now_ms()).await?;
    audit_group(
        &txn,
        scope,
        "group.deleted",
        id,
        json!({"display_name": current.display_name, "external_id": current.external_id}),
    )
    .await?;
    txn.commit().await?;
    log::info!("deleted Group {id} from organisation {}", scope.org_id);
    Ok(())
}

/// Groups as the listing engine reads them.
pub struct GroupLister<'a> {
    pub state: &'a AppState,
    pub scope: &'a OrgScope,
}

impl Lister for GroupLister<'_> {
    type Table = store::groups::Table;
    const WHAT: &'static str = "Groups";

    fn org_id(&self) -> &str {
        &self.scope.org_id
    }

    fn key(row: &GroupRow) -> Key {
        (row.created_at, row.id.clone())
    }

    async fn for_filter(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<GroupRow>,
        cond: &Cond,
    ) -> AppResult<Vec<(GroupRow, Value)>> {
        // Only a filter on members needs them read, one group at a time.
        let needs_members = cond.mentions("members");
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let members = match needs_members {
                true => Some(store::groups::members(conn, &row.id).await?),
                false => None,
            };
            let wire = to_wire(self.state, &row, members)?;
            out.push((row, Value::Object(wire)));
        }
        Ok(out)
    }

    async fn respond(
        &self,
        conn: &impl ConnectionTrait,
        rows: &[GroupRow],
        projection: &Projection,
    ) -> AppResult<Vec<Value>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(respond(self.state, conn, row, projection).await?.body);
        }
        Ok(out)
    }
}

pub async fn list(state: &AppState, scope: &OrgScope, params: &ListParams) -> AppResult<Page> {
    let lister = GroupLister { state, scope };
    listing::list(
        state,
        scope,
        &GROUP_RESOURCE_TYPE,
        Table::Groups,
        params,
        &lister,
    )
    .await
}
