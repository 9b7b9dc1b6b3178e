//! Listing resources (RFC 7644 §3.4.2): filter, sort, index pages and cursor
//! pages (RFC 9865), the same for every resource type.
//!
//! A filter on indexed attributes runs in SQL. A filter that names anything
//! else is evaluated in memory over batches, narrowed by its indexed parts;
//! that holds one batch and one page in memory, never the organisation, and
//! past `max_filter_scan` rows it answers 400 `tooMany`. Cursor pages are
//! keyset pages on (creation time, id): the last page of a million costs what
//! the first does, and a walk sees every surviving resource once while others
//! are created and deleted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};
use sea_orm::sea_query::{Order, SimpleExpr};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use super::{AppState, OrgScope};
use crate::error::{AppError, AppResult, ScimType};
use crate::scim::filter::{self, Cond};
use crate::scim::projection::Projection;
use crate::scim::schema::{LIST_RESPONSE_URN, ResourceTypeDef};
use crate::store::filter_sql::{Table, prefilter, sort_expr, sort_order, translate};
use crate::store::resources::{self, ResourceTable};

/// The parameters of a list or search request (RFC 7644 §3.4.2, RFC 9865 §3).
#[derive(Debug, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// `Some("")` starts a cursor walk; `Some(token)` continues one.
    pub cursor: Option<String>,
    pub projection: Projection,
}

pub use crate::store::{Direction, Key};

/// One page of a list, before it becomes a ListResponse.
pub struct Page {
    pub total: Option<u64>,
    pub start_index: Option<u64>,
    pub resources: Vec<Value>,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

impl Page {
    /// RFC 7644 §3.4.2 ListResponse, with RFC 9865's cursors when paging by cursor.
    pub fn into_response(self) -> Value {
        let mut out = json!({"schemas": [LIST_RESPONSE_URN]});
        if let Some(total) = self.total {
            out["totalResults"] = json!(total);
        }
        if let Some(start) = self.start_index {
            out["startIndex"] = json!(start);
        }
        out["itemsPerPage"] = json!(self.resources.len());
        if let Some(next) = self.next_cursor {
            out["nextCursor"] = json!(next);
        }
        if let Some(previous) = self.previous_cursor {
            out["previousCursor"] = json!(previous);
        }
        out["Resources"] = Value::Array(self.resources);
        out
    }
}

/// A row of the table a lister reads.
pub type Row<L> = <<L as Lister>::Table as EntityTrait>::Model;

/// What differs between resource types when listing them: their table, and
/// how a row becomes JSON.
// Used only inside this crate, from actix handlers, which run on one thread
// each and need no `Send` futures.
#[allow(async_fn_in_trait)]
pub trait Lister {
    type Table: ResourceTable;
    /// "Users", "Groups": for messages.
    const WHAT: &'static str;
    fn org_id(&self) -> &str;
    fn key(row: &Row<Self>) -> Key;
    /// The wire form of each row, with what evaluating `cond` needs (a user's groups, a group's members).
    async fn for_filter(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<Row<Self>>,
        cond: &Cond,
    ) -> AppResult<Vec<(Row<Self>, Value)>>;
    /// The responses for a page of rows.
    async fn respond(
        &self,
        conn: &impl ConnectionTrait,
        rows: &[Row<Self>],
        projection: &Projection,
    ) -> AppResult<Vec<Value>>;
}

/// Rows read per batch when a filter is evaluated in memory.
pub const SCAN_BATCH: u64 = 500;

pub async fn list<L: Lister>(
    state: &AppState,
    scope: &OrgScope,
    rt: &ResourceTypeDef,
    table: Table,
    params: &ListParams,
    lister: &L,
) -> AppResult<Page> {
    let settings = &state.settings;
    let cond = match params
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        Some(text) => Some(filter::parse(rt, text)?),
        None => None,
    };
    let sql = cond.as_ref().map(|c| translate(table, &scope.org_id, c));
    // Some(None): a filter with unindexed parts, evaluated in memory.
    let (sql, residual) = match (sql, &cond) {
        (Some(Some(sql)), _) => (Some(sql), None),
        (Some(None), Some(cond)) => (prefilter(table, &scope.org_id, cond), Some(cond)),
        _ => (None, None),
    };
    let count = params
        .count
        .map_or(settings.default_page_size, |c| c.max(0) as u64)
        .min(settings.max_page_size);

    if let Some(cursor) = &params.cursor {
        if params
            .sort_by
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            return Err(AppError::invalid_value(
                "sortBy cannot be combined with cursor: cursor pages follow creation order",
            ));
        }
        if params.start_index.is_some() {
            return Err(AppError::invalid_value(
                "startIndex and cursor are two ways to page; send one",
            ));
        }
        let from = decode_cursor(cursor)?;
        return cursor_page(
            state,
            sql,
            residual,
            from,
            count,
            &params.projection,
            lister,
        )
        .await;
    }

    let mut order = Vec::new();
    if let Some(sort_by) = params
        .sort_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let target = crate::scim::projection::resolve_sort_by(rt, sort_by)?;
        let expr = sort_expr(table, &target, state.db.backend()).ok_or_else(|| {
            AppError::invalid_value(format!(
                "sortBy {sort_by} names an attribute that cannot be sorted on"
            ))
        })?;
        order.push((expr, sort_order(params.descending)));
    }
    // RFC 7644 §3.4.2.4: startIndex below 1 is read as 1; count below 0 as 0.
    let start_index = params.start_index.unwrap_or(1).max(1) as u64;
    let conn = &state.db.read;
    let (total, rows) = match residual {
        None => {
            let total = resources::count::<L::Table>(conn, lister.org_id(), sql.clone()).await?;
            let rows = if count == 0 || start_index > total {
                Vec::new()
            } else {
                let org_id = lister.org_id();
                resources::page::<L::Table>(conn, org_id, sql, &order, start_index - 1, count)
                    .await?
            };
            (total, rows)
        }
        Some(cond) => {
            let txn = state.db.begin_read().await?;
            let mut scan = Scan::new(lister, &txn, sql, cond, settings.max_filter_scan);
            let found = if order.is_empty() {
                scan.keyset(None, Direction::After, start_index, count, false)
                    .await?
            } else {
                scan.offset(&order, start_index, count).await?
            };
            txn.commit().await?;
            found
        }
    };
    let resources = lister.respond(conn, &rows, &params.projection).await?;
    Ok(Page {
        total: Some(total),
        start_index: Some(start_index),
        resources,
        next_cursor: None,
        previous_cursor: None,
    })
}

/// One cursor page: `count` rows from `from`, plus one more read to know
/// whether another page follows in that direction.
async fn cursor_page<L: Lister>(
    state: &AppState,
    sql: Option<SimpleExpr>,
    residual: Option<&Cond>,
    from: Option<(Key, Direction)>,
    count: u64,
    projection: &Projection,
    lister: &L,
) -> AppResult<Page> {
    let direction = from.as_ref().map_or(Direction::After, |(_, d)| *d);
    let txn = state.db.begin_read().await?;
    let (total, mut rows) = match residual {
        None => {
            let total = resources::count::<L::Table>(&txn, lister.org_id(), sql.clone()).await?;
            (
                Some(total),
                resources::page_from::<L::Table>(
                    &txn,
                    lister.org_id(),
                    sql,
                    from.clone(),
                    count + 1,
                )
                .await?,
            )
        }
        Some(cond) => {
            let mut scan = Scan::new(lister, &txn, sql, cond, state.settings.max_filter_scan);
            let key = from.clone().map(|(k, _)| k);
            let (_, rows) = scan.keyset(key, direction, 1, count + 1, true).await?;
            (None, rows)
        }
    };
    txn.commit().await?;
    let more = rows.len() as u64 > count;
    rows.truncate(count as usize);
    if direction == Direction::Before {
        rows.reverse();
    }
    // Forward: another page follows if more rows were read, and one precedes
    // if the walk did not start at the beginning. Backward: the mirror.
    let (has_next, has_previous) = match direction {
        Direction::After => (more, from.is_some()),
        Direction::Before => (true, more),
    };
    let next_cursor = rows
        .last()
        .filter(|_| has_next)
        .map(|r| encode_cursor(&L::key(r), Direction::After));
    let previous_cursor = rows
        .first()
        .filter(|_| has_previous)
        .map(|r| encode_cursor(&L::key(r), Direction::Before));
    let resources = lister.respond(&state.db.read, &rows, projection).await?;
    Ok(Page {
        total,
        start_index: None,
        resources,
        next_cursor,
        previous_cursor,
    })
}

/// An in-memory filter evaluation over batches.
struct Scan<'a, L: Lister, C: ConnectionTrait> {
    lister: &'a L,
    conn: &'a C,
    narrowing: Option<SimpleExpr>,
    cond: &'a Cond,
    max_scan: u64,
    scanned: u64,
}

impl<'a, L: Lister, C: ConnectionTrait> Scan<'a, L, C> {
    fn new(
        lister: &'a L,
        conn: &'a C,
        narrowing: Option<SimpleExpr>,
        cond: &'a Cond,
        max_scan: u64,
    ) -> Self {
        Self {
            lister,
            conn,
            narrowing,
            cond,
            max_scan,
            scanned: 0,
        }
    }

    /// Counts a batch and keeps its matches; 400 `tooMany` past the budget.
    fn take(
        &mut self,
        batch: Vec<(Row<L>, Value)>,
        matched: &mut u64,
        start: u64,
        count: u64,
        page: &mut Vec<Row<L>>,
    ) -> AppResult<()> {
        self.scanned += batch.len() as u64;
        for (row, wire) in batch {
            if filter::matches(self.cond, &wire) {
                *matched += 1;
                if *matched >= start && (page.len() as u64) < count {
                    page.push(row);
                }
            }
        }
        if self.scanned > self.max_scan {
            return Err(AppError::bad(
                ScimType::TooMany,
                format!(
                    "this filter names attributes without an index and would examine more than {} {}; \
                     narrow it with an indexed attribute (id, externalId, displayName, or userName and emails for Users)",
                    self.max_scan,
                    L::WHAT
                ),
            ));
        }
        Ok(())
    }

    /// Keyset batches from `key` in `direction`: each costs the same wherever
    /// it falls. Counts every match (`start`/`count` pick the page) unless
    /// `stop_when_full`: a cursor page needs its rows, not a total.
    async fn keyset(
        &mut self,
        mut key: Option<Key>,
        direction: Direction,
        start: u64,
        count: u64,
        stop_when_full: bool,
    ) -> AppResult<(u64, Vec<Row<L>>)> {
        let (mut matched, mut page) = (0, Vec::new());
        loop {
            let from = key.take().map(|k| (k, direction));
            let org_id = self.lister.org_id();
            let rows = resources::page_from::<L::Table>(
                self.conn,
                org_id,
                self.narrowing.clone(),
                from,
                SCAN_BATCH,
            )
            .await?;
            let len = rows.len() as u64;
            key = rows.last().map(L::key);
            let batch = self.lister.for_filter(self.conn, rows, self.cond).await?;
            self.take(batch, &mut matched, start, count, &mut page)?;
            if len < SCAN_BATCH || (stop_when_full && page.len() as u64 >= count) {
                return Ok((matched, page));
            }
        }
    }

    /// Offset batches in a requested sort order.
    async fn offset(
        &mut self,
        order: &[(SimpleExpr, Order)],
        start: u64,
        count: u64,
    ) -> AppResult<(u64, Vec<Row<L>>)> {
        let (mut matched, mut page) = (0, Vec::new());
        loop {
            let org_id = self.lister.org_id();
            let rows = resources::page::<L::Table>(
                self.conn,
                org_id,
                self.narrowing.clone(),
                order,
                self.scanned,
                SCAN_BATCH,
            )
            .await?;
            let len = rows.len() as u64;
            let batch = self.lister.for_filter(self.conn, rows, self.cond).await?;
            self.take(batch, &mut matched, start, count, &mut page)?;
            if len < SCAN_BATCH {
                return Ok((matched, page));
            }
        }
    }
}

/// A cursor is opaque to clients; inside it is the key of the row the next
/// page starts after (or the previous page ends before).
fn encode_cursor(key: &Key, direction: Direction) -> String {
    let tag = match direction {
        Direction::After => 'a',
        Direction::Before => 'b',
    };
    URL_SAFE_NO_PAD.encode(format!("{tag}:{}:{}", key.0.timestamp_micros(), key.1))
}

/// `""` starts a walk; anything else must be a cursor this server issued.
fn decode_cursor(cursor: &str) -> AppResult<Option<(Key, Direction)>> {
    let cursor = cursor.trim();
    if cursor.is_empty() {
        return Ok(None);
    }
    // RFC 9865 §3: an unusable cursor is 400 invalidCursor.
    let invalid = || {
        AppError::bad(
            ScimType::InvalidCursor,
            "the cursor is not one this server issued; start again with cursor=",
        )
    };
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let mut parts = text.splitn(3, ':');
    let direction = match parts.next() {
        Some("a") => Direction::After,
        Some("b") => Direction::Before,
        _ => return Err(invalid()),
    };
    let micros: i64 = parts
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(invalid)?;
    // Only instants a row can carry (both databases store years 1970-9999 here).
    let at = DateTime::<Utc>::from_timestamp_micros(micros)
        .filter(|at| (1970..=9999).contains(&at.year()))
        .ok_or_else(invalid)?;
    let id = parts
        .next()
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(invalid)?;
    Ok(Some(((at, id.to_string()), direction)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let key = (
            DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_000).unwrap(),
            uuid::Uuid::new_v4().to_string(),
        );
        for direction in [Direction::After, Direction::Before] {
            let token = encode_cursor(&key, direction);
            assert_eq!(
                decode_cursor(&token).unwrap(),
                Some((key.clone(), direction))
            );
        }
        assert_eq!(decode_cursor("").unwrap(), None);
        for bad in [
            "nope",
            "YTox",
            &URL_SAFE_NO_PAD.encode("a:12:not-a-uuid"),
            &URL_SAFE_NO_PAD.encode("z:1:x"),
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
