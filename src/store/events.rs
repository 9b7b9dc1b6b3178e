//! The product events feed: rows written in the transaction of their change,
//! sequenced into a per-organisation commit order after they commit.

use chrono::{DateTime, Utc};
use entity::{event, event_head};
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};

pub use entity::event::Model as EventRow;

/// One event to append (unsequenced).
pub struct NewEvent<'a> {
    pub event_id: &'a str,
    pub org_id: &'a str,
    pub event_type: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub body: String,
}

pub async fn append(conn: &impl ConnectionTrait, new: NewEvent<'_>) -> Result<(), DbErr> {
    event::ActiveModel {
        event_id: Set(new.event_id.to_string()),
        org_id: Set(new.org_id.to_string()),
        event_type: Set(new.event_type.to_string()),
        occurred_at: Set(new.occurred_at),
        position: Set(None),
        body: Set(new.body),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Whether the organisation has committed events still waiting for a position.
pub async fn has_unsequenced(conn: &impl ConnectionTrait, org_id: &str) -> Result<bool, DbErr> {
    Ok(event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::OrgId.eq(org_id))
        .filter(event::Column::Position.is_null())
        .limit(1)
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

/// The organisations with events waiting for a position.
pub async fn orgs_with_unsequenced(conn: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    event::Entity::find()
        .select_only()
        .column(event::Column::OrgId)
        .distinct()
        .filter(event::Column::Position.is_null())
        .into_tuple::<String>()
        .all(conn)
        .await
}

/// Gives the organisation's committed, unsequenced events (at most `batch`)
/// the next positions, in insertion order; how many. Call it in a write
/// transaction of its own: the head row stays locked until it ends
/// (PostgreSQL), so sequencers of one organisation run one at a time and
/// each sees the positions the previous one committed (under READ
/// COMMITTED every statement reads a fresh snapshot). Rows of transactions
/// still open are invisible here and get a higher position later.
pub async fn sequence(conn: &impl ConnectionTrait, org_id: &str, batch: u64) -> Result<u64, DbErr> {
    event_head::Entity::insert(event_head::ActiveModel {
        org_id: Set(org_id.to_string()),
        position: Set(0),
    })
    .on_conflict(
        OnConflict::column(event_head::Column::OrgId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let head = event_head::Entity::find_by_id(org_id.to_string())
        .lock_exclusive()
        .one(conn)
        .await?
        .map_or(0, |h| h.position);
    let backend = conn.get_database_backend();
    let p = |i: usize| match backend {
        DbBackend::Postgres => format!("${i}"),
        _ => "?".to_string(),
    };
    // One statement for the batch; both databases have UPDATE ... FROM and
    // window functions (SQLite since 3.33).
    let sql = format!(
        "UPDATE events SET position = {head} + r.rn FROM (\
           SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM events \
           WHERE org_id = {} AND position IS NULL ORDER BY id LIMIT {}\
         ) AS r WHERE events.id = r.id",
        p(1),
        p(2),
    );
    let done = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [org_id.into(), (batch as i64).into()],
        ))
        .await?
        .rows_affected();
    if done > 0 {
        event_head::Entity::update_many()
            .col_expr(
                event_head::Column::Position,
                sea_orm::sea_query::Expr::value(head + done as i64),
            )
            .filter(event_head::Column::OrgId.eq(org_id))
            .exec(conn)
            .await?;
    }
    Ok(done)
}

/// The last position handed out in the organisation (0 before the first).
pub async fn head(conn: &impl ConnectionTrait, org_id: &str) -> Result<i64, DbErr> {
    Ok(event_head::Entity::find_by_id(org_id.to_string())
        .one(conn)
        .await?
        .map_or(0, |h| h.position))
}

/// The lowest position still stored (retention deletes the oldest).
pub async fn oldest_position(
    conn: &impl ConnectionTrait,
    org_id: &str,
) -> Result<Option<i64>, DbErr> {
    event::Entity::find()
        .select_only()
        .column(event::Column::Position)
        .filter(event::Column::OrgId.eq(org_id))
        .filter(event::Column::Position.is_not_null())
        .order_by_asc(event::Column::Position)
        .limit(1)
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await
        .map(Option::flatten)
}

/// A type an event listing keeps: exact, or a prefix (`account.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    Exact(String),
    Prefix(String),
}

/// Sequenced events after `after`, in position order, at most `limit`.
pub async fn list(
    conn: &impl ConnectionTrait,
    org_id: &str,
    after: i64,
    types: &[TypeFilter],
    limit: u64,
) -> Result<Vec<EventRow>, DbErr> {
    let mut query = event::Entity::find()
        .filter(event::Column::OrgId.eq(org_id))
        .filter(event::Column::Position.gt(after));
    if !types.is_empty() {
        let mut any = Condition::any();
        for t in types {
            any = any.add(match t {
                TypeFilter::Exact(name) => event::Column::EventType.eq(name.as_str()),
                TypeFilter::Prefix(prefix) => event::Column::EventType.starts_with(prefix),
            });
        }
        query = query.filter(any);
    }
    query
        .order_by_asc(event::Column::Position)
        .limit(limit)
        .all(conn)
        .await
}

/// Deletes sequenced events that occurred before `before`; how many.
/// Unsequenced ones wait for their position first, so a consumer learns
/// (410) of every event it could not read.
pub async fn delete_before(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(event::Entity::delete_many()
        .filter(event::Column::OccurredAt.lt(before))
        .filter(event::Column::Position.is_not_null())
        .exec(conn)
        .await?
        .rows_affected)
}
