//! Planner statistics for SQLite.
//!
//! SQLite chooses indexes from what `ANALYZE` leaves in `sqlite_stat1`.
//! Without it, it guesses that an equality on an index's first column finds
//! about ten rows, so `org_id = ?` looks selective even when one organisation
//! holds every row. A work-email filter then walks the organisation's
//! creation-order index and probes every account (143 ms at 100,000 users)
//! instead of going from the email index to the primary key (under 1 ms).
//! PostgreSQL's autovacuum keeps its own statistics; on SQLite scimlink keeps
//! them: when a database is opened, and every few minutes while it serves.
//!
//! A connection reads the statistics when it opens, so the read pool is
//! opened after this check and its connections are recycled (see `Db`).

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::Db;

/// The tables whose size decides the plans of SCIM reads and filters.
const WATCHED: [&str; 4] = ["accounts", "account_emails", "groups", "group_members"];

/// Below this many rows in every watched table, any plan is fast.
pub const MIN_ROWS: u64 = 1_000;

/// How often a serving instance checks whether the statistics are stale.
pub const CHECK_EVERY: Duration = Duration::from_secs(300);

/// Runs `ANALYZE` when the statistics are missing or out of date: a watched
/// table holds at least `min_rows` rows and has no statistics, or twice or
/// half as many rows as when they were gathered. Returns whether it ran.
/// (`ANALYZE` reads every index: about 0.2 s per 100,000 users, holding the
/// write connection meanwhile.) A no-op on PostgreSQL.
pub async fn refresh_if_stale(conn: &DatabaseConnection, min_rows: u64) -> Result<bool, DbErr> {
    if conn.get_database_backend() != DbBackend::Sqlite {
        return Ok(false);
    }
    let recorded = recorded_rows(conn).await?;
    let mut stale = Vec::new();
    for table in WATCHED {
        let Some(rows) = row_count(conn, table).await? else {
            continue; // not migrated yet
        };
        let outdated = match recorded.get(table) {
            None => rows >= min_rows,
            Some(&then) => rows >= min_rows && (rows >= then.saturating_mul(2) || rows * 2 <= then),
        };
        if outdated {
            stale.push(format!("{table} ({rows} rows)"));
        }
    }
    if stale.is_empty() {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    conn.execute_unprepared("ANALYZE").await?;
    log::info!(
        "gathered SQLite planner statistics in {} ms: {} changed in size",
        started.elapsed().as_millis(),
        stale.join(", ")
    );
    Ok(true)
}

/// Checks the statistics every `CHECK_EVERY` until `stop` turns true (the
/// server is stopping; an `ANALYZE` under way finishes first).
pub async fn maintain(db: Db, mut stop: tokio::sync::watch::Receiver<bool>) {
    if db.backend() != DbBackend::Sqlite {
        return;
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            // A change, or the sender gone: either way the server is stopping.
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        if let Err(e) = refresh_if_stale(&db.write, MIN_ROWS).await {
            log::warn!("could not refresh SQLite planner statistics: {e}");
        }
    }
}

/// Rows per table when `ANALYZE` last ran: the first number of each of its
/// indexes' `stat` (every index covers every row).
async fn recorded_rows(conn: &DatabaseConnection) -> Result<HashMap<String, u64>, DbErr> {
    let mut out = HashMap::new();
    if !table_exists(conn, "sqlite_stat1").await? {
        return Ok(out);
    }
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT tbl, stat FROM sqlite_stat1",
        ))
        .await?;
    for row in rows {
        let table: String = row.try_get("", "tbl")?;
        let stat: String = row.try_get("", "stat")?;
        if let Some(n) = stat.split(' ').next().and_then(|n| n.parse::<u64>().ok()) {
            let entry = out.entry(table).or_insert(0);
            *entry = (*entry).max(n);
        }
    }
    Ok(out)
}

async fn row_count(conn: &DatabaseConnection, table: &str) -> Result<Option<u64>, DbErr> {
    if !table_exists(conn, table).await? {
        return Ok(None);
    }
    // `table` is one of WATCHED, never input.
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .map(|n| n.max(0) as u64))
}

async fn table_exists(conn: &DatabaseConnection, table: &str) -> Result<bool, DbErr> {
    Ok(conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = ?",
            [table.into()],
        ))
        .await?
        .is_some())
}
