//! Groups and their membership rows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{account, group, group_member};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, Set, Statement, TryInsertResult, Value as DbValue,
};
use serde_json::{Map, Value};

pub use entity::group::Model as GroupRow;

use crate::scim::members::MemberKind;

/// Ids per statement when a list of ids is bound, well under every database's limit.
const CHUNK: usize = 500;

fn display_name(attributes: &Map<String, Value>) -> String {
    attributes
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn external_id(attributes: &Map<String, Value>) -> Option<String> {
    attributes
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    id: &str,
    org_id: &str,
    attributes: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<GroupRow, DbErr> {
    let name = display_name(attributes);
    group::ActiveModel {
        id: Set(id.to_string()),
        org_id: Set(org_id.to_string()),
        display_name_lower: Set(name.to_lowercase()),
        display_name: Set(name),
        external_id: Set(external_id(attributes)),
        resource: Set(Value::Object(attributes.clone()).to_string()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
}

/// Writes a locked group's attributes (and a new version).
pub async fn update(
    conn: &impl ConnectionTrait,
    current: &GroupRow,
    attributes: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<GroupRow, DbErr> {
    let name = display_name(attributes);
    let mut row: group::ActiveModel = current.clone().into();
    row.display_name_lower = Set(name.to_lowercase());
    row.display_name = Set(name);
    row.external_id = Set(external_id(attributes));
    row.resource = Set(Value::Object(attributes.clone()).to_string());
    row.version = Set(current.version + 1);
    row.updated_at = Set(now);
    row.update(conn).await
}

/// A new version for groups whose membership changed without their own row being written.
pub async fn bump_versions(
    conn: &impl ConnectionTrait,
    org_id: &str,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in ids.chunks(CHUNK) {
        group::Entity::update_many()
            .col_expr(
                group::Column::Version,
                Expr::col(group::Column::Version).add(1),
            )
            .col_expr(group::Column::UpdatedAt, Expr::value(now))
            .filter(group::Column::OrgId.eq(org_id))
            .filter(group::Column::Id.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// The table Groups are rows of.
pub type Table = group::Entity;

pub async fn find(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<GroupRow>, DbErr> {
    super::resources::find::<Table>(conn, org_id, id, false).await
}

/// Reads a group to change it, holding its row (see `resources::find`):
/// concurrent changes to one group queue.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<GroupRow>, DbErr> {
    super::resources::find::<Table>(conn, org_id, id, true).await
}

/// Deletes a group; its membership rows, both ways, go by foreign key.
pub async fn delete(conn: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    let result = group::Entity::delete_many()
        .filter(group::Column::Id.eq(id))
        .filter(group::Column::OrgId.eq(org_id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Whether another group of the organisation has this externalId.
pub async fn external_id_taken(
    conn: &impl ConnectionTrait,
    org_id: &str,
    external_id: &str,
    except_id: Option<&str>,
) -> Result<bool, DbErr> {
    let mut q = group::Entity::find()
        .filter(group::Column::OrgId.eq(org_id))
        .filter(group::Column::ExternalId.eq(external_id));
    if let Some(id) = except_id {
        q = q.filter(group::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? > 0)
}

/// Finds each id among the organisation's users and groups. Returns the
/// members found, in the order asked, and the ids that are neither (or not
/// of the type the request said).
pub async fn resolve_members(
    conn: &impl ConnectionTrait,
    org_id: &str,
    wanted: &[(String, Option<MemberKind>)],
) -> Result<(Vec<(String, MemberKind)>, Vec<String>), DbErr> {
    let mut users = HashSet::new();
    let mut groups = HashSet::new();
    for chunk in wanted.chunks(CHUNK) {
        let ids = chunk.iter().map(|(id, _)| id.clone());
        let found: Vec<String> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::OrgId.eq(org_id))
            .filter(account::Column::Id.is_in(ids.clone()))
            .into_tuple()
            .all(conn)
            .await?;
        users.extend(found);
        let found: Vec<String> = group::Entity::find()
            .select_only()
            .column(group::Column::Id)
            .filter(group::Column::OrgId.eq(org_id))
            .filter(group::Column::Id.is_in(ids))
            .into_tuple()
            .all(conn)
            .await?;
        groups.extend(found);
    }
    let (mut found, mut unknown) = (Vec::new(), Vec::new());
    for (id, kind) in wanted {
        match (users.contains(id), groups.contains(id), kind) {
            (true, _, None | Some(MemberKind::User)) => found.push((id.clone(), MemberKind::User)),
            (_, true, None | Some(MemberKind::Group)) => {
                found.push((id.clone(), MemberKind::Group))
            }
            _ => unknown.push(id.clone()),
        }
    }
    Ok((found, unknown))
}

/// Adds members (those already present are skipped); returns how many rows were added.
pub async fn add_members(
    conn: &impl ConnectionTrait,
    org_id: &str,
    group_id: &str,
    members: &[(String, MemberKind)],
) -> Result<u64, DbErr> {
    let mut added = 0;
    for kind in [MemberKind::User, MemberKind::Group] {
        let ids: Vec<&String> = members
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(id, _)| id)
            .collect();
        for chunk in ids.chunks(CHUNK) {
            let rows = chunk.iter().map(|id| group_member::ActiveModel {
                org_id: Set(org_id.to_string()),
                group_id: Set(group_id.to_string()),
                member_user_id: Set((kind == MemberKind::User).then(|| id.to_string())),
                member_group_id: Set((kind == MemberKind::Group).then(|| id.to_string())),
                ..Default::default()
            });
            let column = match kind {
                MemberKind::User => group_member::Column::MemberUserId,
                MemberKind::Group => group_member::Column::MemberGroupId,
            };
            let result = group_member::Entity::insert_many(rows)
                .on_conflict_do_nothing_on([group_member::Column::GroupId, column])
                .exec_without_returning(conn)
                .await?;
            if let TryInsertResult::Inserted(n) = result {
                added += n;
            }
        }
    }
    Ok(added)
}

fn member_is(ids: &[String]) -> SimpleExpr {
    Expr::col(group_member::Column::MemberUserId)
        .is_in(ids.iter().cloned())
        .or(Expr::col(group_member::Column::MemberGroupId).is_in(ids.iter().cloned()))
}

/// Removes these members; returns how many rows went.
pub async fn remove_members(
    conn: &impl ConnectionTrait,
    group_id: &str,
    ids: &[String],
) -> Result<u64, DbErr> {
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        removed += group_member::Entity::delete_many()
            .filter(group_member::Column::GroupId.eq(group_id))
            .filter(member_is(chunk))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(removed)
}

/// Removes the members that satisfy `condition` (on membership columns), or all.
pub async fn remove_where(
    conn: &impl ConnectionTrait,
    group_id: &str,
    condition: Option<SimpleExpr>,
) -> Result<u64, DbErr> {
    let mut q =
        group_member::Entity::delete_many().filter(group_member::Column::GroupId.eq(group_id));
    if let Some(c) = condition {
        q = q.filter(c);
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// Every member id of a group (for a `replace`, which needs the difference).
pub async fn member_ids(
    conn: &impl ConnectionTrait,
    group_id: &str,
) -> Result<HashSet<String>, DbErr> {
    let rows: Vec<(Option<String>, Option<String>)> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::MemberUserId)
        .column(group_member::Column::MemberGroupId)
        .filter(group_member::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(u, g)| u.or(g)).collect())
}

/// A member as a response shows it.
pub struct MemberRow {
    pub id: String,
    pub kind: MemberKind,
    pub display: Option<String>,
}

/// A group's members with their display names, in the order they joined,
/// read in one query.
pub async fn members(conn: &impl ConnectionTrait, group_id: &str) -> Result<Vec<MemberRow>, DbErr> {
    let backend = conn.get_database_backend();
    let sql = format!(
        "SELECT gm.member_user_id AS user_id, gm.member_group_id AS group_id, \
         COALESCE(a.display_name, a.user_name) AS user_display, g.display_name AS group_display \
         FROM group_members gm \
         LEFT JOIN accounts a ON a.id = gm.member_user_id \
         LEFT JOIN groups g ON g.id = gm.member_group_id \
         WHERE gm.group_id = {} ORDER BY gm.id",
        super::placeholders(backend, 1, 1)
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [DbValue::from(group_id)],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let user: Option<String> = row.try_get("", "user_id")?;
        let group: Option<String> = row.try_get("", "group_id")?;
        let (id, kind, display) = match (user, group) {
            (Some(id), _) => (id, MemberKind::User, row.try_get("", "user_display")?),
            (None, Some(id)) => (id, MemberKind::Group, row.try_get("", "group_display")?),
            (None, None) => continue,
        };
        out.push(MemberRow { id, kind, display });
    }
    Ok(out)
}

/// `group_id` and every group that contains it, directly or through nesting:
/// making any of these a member of `group_id` would close a cycle.
///
/// The walk goes up, from a group to the groups holding it, through the
/// index on `group_members.member_group_id`: one index probe per ancestor,
/// whatever the size of the membership table. Each step must be a lookup
/// driven by the ancestor just found; left to their planners, both databases
/// may instead read every nested-group row at every step (PostgreSQL when
/// its statistics predate the nesting, SQLite when the index has none),
/// which made a Bulk of 1,000 chained groups take minutes. On PostgreSQL the
/// `LATERAL` subquery with `OFFSET 0` (which keeps it from being merged into
/// a join the planner may reorder) is that lookup; on SQLite `CROSS JOIN`
/// keeps the ancestors as the outer loop (sqlite.org/optoverview.html#crossjoin).
pub async fn ancestors(
    conn: &impl ConnectionTrait,
    org_id: &str,
    group_id: &str,
) -> Result<HashSet<String>, DbErr> {
    let backend = conn.get_database_backend();
    let p = |i| super::placeholders(backend, i, 1);
    let step = match backend {
        DbBackend::Postgres => format!(
            "SELECT up.group_id FROM above CROSS JOIN LATERAL ( \
               SELECT gm.group_id FROM group_members gm \
               WHERE gm.member_group_id = above.id AND gm.org_id = {} OFFSET 0) up",
            p(3)
        ),
        _ => format!(
            "SELECT gm.group_id FROM above CROSS JOIN group_members gm \
             WHERE gm.member_group_id = above.id AND gm.org_id = {}",
            p(3)
        ),
    };
    // UNION (not UNION ALL) stops on its own even if a cycle were stored.
    let sql = format!(
        "WITH RECURSIVE above(id) AS ( \
           SELECT id FROM groups WHERE org_id = {} AND id = {} \
           UNION {step}) \
         SELECT id FROM above",
        p(1),
        p(2)
    );
    let values = [
        DbValue::from(org_id),
        DbValue::from(group_id),
        DbValue::from(org_id),
    ];
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut out: HashSet<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "id"))
        .collect::<Result<_, _>>()?;
    out.insert(group_id.to_string());
    Ok(out)
}

/// The groups that contain `member_id` (a user or a group) directly: those
/// whose version changes when it is deleted.
pub async fn parents_of(
    conn: &impl ConnectionTrait,
    org_id: &str,
    member_id: &str,
) -> Result<Vec<String>, DbErr> {
    let rows: Vec<String> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::GroupId)
        .filter(group_member::Column::OrgId.eq(org_id))
        .filter(member_is(&[member_id.to_string()]))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows)
}

/// A group a user belongs to, as the user's `groups` attribute shows it.
#[derive(Debug, Clone)]
pub struct UserGroup {
    pub group_id: String,
    pub display: String,
    /// A member of the group itself, not only through a nested group.
    pub direct: bool,
}

/// The groups each user belongs to, directly or through nesting (RFC 7643 §4.1.2).
pub async fn groups_of_users(
    conn: &impl ConnectionTrait,
    org_id: &str,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<UserGroup>>, DbErr> {
    let backend = conn.get_database_backend();
    let mut out: HashMap<String, Vec<UserGroup>> = HashMap::new();
    for chunk in user_ids.chunks(CHUNK) {
        // depth 0: direct; 1: through nesting. UNION keeps the walk finite.
        let sql = format!(
            "WITH RECURSIVE up(user_id, group_id, depth) AS ( \
               SELECT member_user_id, group_id, 0 FROM group_members WHERE member_user_id IN ({}) \
               UNION \
               SELECT up.user_id, gm.group_id, 1 FROM group_members gm JOIN up ON gm.member_group_id = up.group_id \
               WHERE gm.member_group_id IS NOT NULL) \
             SELECT up.user_id AS user_id, up.group_id AS group_id, MIN(up.depth) AS depth, g.display_name AS display \
             FROM up JOIN groups g ON g.id = up.group_id AND g.org_id = {} \
             GROUP BY up.user_id, up.group_id, g.display_name \
             ORDER BY g.display_name, up.group_id",
            super::placeholders(backend, 1, chunk.len()),
            super::placeholders(backend, chunk.len() + 1, 1)
        );
        let mut values: Vec<DbValue> = chunk.iter().map(|id| DbValue::from(id.clone())).collect();
        values.push(DbValue::from(org_id));
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        for row in rows {
            let user: String = row.try_get("", "user_id")?;
            let depth: i64 = match backend {
                DbBackend::Postgres => row.try_get::<i32>("", "depth").map(i64::from)?,
                _ => row.try_get("", "depth")?,
            };
            out.entry(user).or_default().push(UserGroup {
                group_id: row.try_get("", "group_id")?,
                display: row.try_get("", "display")?,
                direct: depth == 0,
            });
        }
    }
    Ok(out)
}
