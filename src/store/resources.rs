//! What every table of SCIM resources shares: rows scoped by organisation,
//! keyed by id, ordered by creation. One implementation of finding, locking,
//! counting and paging serves Users and Groups alike.

use sea_orm::sea_query::{Expr, ExprTrait, Order, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use super::{Direction, Key};
use entity::{account, group};

/// A table of SCIM resources.
pub trait ResourceTable: EntityTrait<Model: Sync> {
    const ID: Self::Column;
    const ORG: Self::Column;
    const CREATED: Self::Column;
}

impl ResourceTable for account::Entity {
    const ID: account::Column = account::Column::Id;
    const ORG: account::Column = account::Column::OrgId;
    const CREATED: account::Column = account::Column::CreatedAt;
}

impl ResourceTable for group::Entity {
    const ID: group::Column = group::Column::Id;
    const ORG: group::Column = group::Column::OrgId;
    const CREATED: group::Column = group::Column::CreatedAt;
}

/// The organisation's rows that satisfy `condition`.
pub fn scoped<E: ResourceTable>(org_id: &str, condition: Option<SimpleExpr>) -> Select<E> {
    let q = E::find().filter(E::ORG.eq(org_id));
    match condition {
        Some(c) => q.filter(c),
        None => q,
    }
}

/// One row of the organisation. With `for_update`, the row stays locked
/// (`FOR UPDATE`) until the transaction ends on PostgreSQL, so concurrent
/// read-modify-writes queue; SQLite's single write connection already
/// serialises them (sea-query writes no lock clause for SQLite).
pub async fn find<E: ResourceTable>(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    for_update: bool,
) -> Result<Option<E::Model>, DbErr> {
    let q = E::find().filter(E::ID.eq(id)).filter(E::ORG.eq(org_id));
    let q = if for_update { q.lock_exclusive() } else { q };
    q.one(conn).await
}

pub async fn count<E: ResourceTable>(
    conn: &impl ConnectionTrait,
    org_id: &str,
    condition: Option<SimpleExpr>,
) -> Result<u64, DbErr> {
    scoped::<E>(org_id, condition).count(conn).await
}

/// One page in `order`, then by creation and id, so pages are stable.
pub async fn page<E: ResourceTable>(
    conn: &impl ConnectionTrait,
    org_id: &str,
    condition: Option<SimpleExpr>,
    order: &[(SimpleExpr, Order)],
    offset: u64,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr> {
    let mut query = scoped::<E>(org_id, condition);
    for (expr, dir) in order {
        // Unassigned values sort last in either direction.
        query = query.order_by(Expr::expr(expr.clone()).is_null(), Order::Asc);
        query = query.order_by(expr.clone(), dir.clone());
    }
    query
        .order_by_asc(E::CREATED)
        .order_by_asc(E::ID)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await
}

/// A keyset page: the `limit` rows after (or before) `from`'s key (creation
/// time, id), in that direction; from the start without one. Costs the same
/// at the end of a table as at its start.
pub async fn page_from<E: ResourceTable>(
    conn: &impl ConnectionTrait,
    org_id: &str,
    condition: Option<SimpleExpr>,
    from: Option<(Key, Direction)>,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr> {
    let mut query = scoped::<E>(org_id, condition);
    let direction = from.as_ref().map_or(Direction::After, |(_, d)| *d);
    if let Some(((at, last_id), direction)) = from {
        let (beyond_at, beyond_id) = match direction {
            Direction::After => (Expr::col(E::CREATED).gt(at), Expr::col(E::ID).gt(last_id)),
            Direction::Before => (Expr::col(E::CREATED).lt(at), Expr::col(E::ID).lt(last_id)),
        };
        query = query.filter(beyond_at.or(Expr::col(E::CREATED).eq(at).and(beyond_id)));
    }
    let order = match direction {
        Direction::After => Order::Asc,
        Direction::Before => Order::Desc,
    };
    query
        .order_by(E::CREATED, order.clone())
        .order_by(E::ID, order)
        .limit(limit)
        .all(conn)
        .await
}
