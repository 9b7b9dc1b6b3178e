//! Storage: the only module that imports sea-orm. Queries, row <-> domain
//! conversion, and filter -> SQL through an explicit attribute map.

pub mod accounts;
pub mod audit;
pub mod connections;
pub mod devices;
pub mod events;
pub mod filter_sql;
pub mod groups;
pub mod links;
pub mod orgs;
pub mod outbox;
pub mod resources;
pub mod sessions;
pub mod statistics;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod workspaces;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
pub use sea_orm::DbErr;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, TransactionTrait,
};

/// The database: a connection pool for reads and one for writes.
///
/// On SQLite the write pool has exactly one connection, so writers queue in
/// the pool instead of failing with `SQLITE_BUSY`, and WAL lets the read pool
/// run beside them. On PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    pub read: DatabaseConnection,
    pub write: DatabaseConnection,
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbErr> {
        if url.starts_with("sqlite:") {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let write = Database::connect(sqlite_options(url, 1)).await?;
            // Before the read pool opens: a connection loads the planner
            // statistics when it opens, and only then.
            if let Err(e) = statistics::refresh_if_stale(&write, statistics::MIN_ROWS).await {
                log::warn!("could not refresh SQLite planner statistics: {e}");
            }
            let read = if in_memory {
                // An in-memory database exists once per connection: share it.
                write.clone()
            } else {
                let mut options = sqlite_options(url, 4);
                // Recycled, so statistics gathered while serving reach the
                // readers (statistics::maintain).
                options.max_lifetime(statistics::CHECK_EVERY * 2);
                Database::connect(options).await?
            };
            Ok(Db { read, write })
        } else {
            let mut options = ConnectOptions::new(url);
            options
                .max_connections(16)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                // A ping on every checkout is a network round-trip per
                // query; only a connection idle long enough for a proxy or
                // a restart to have dropped it is worth one.
                .test_before_acquire_if_idle_for(Duration::from_secs(30))
                .sqlx_logging(false);
            let pool = Database::connect(options).await?;
            Ok(Db {
                read: pool.clone(),
                write: pool,
            })
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// A write transaction.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write.begin().await
    }

    /// A read transaction: one consistent snapshot for a multi-query read.
    pub async fn begin_read(&self) -> Result<DatabaseTransaction, DbErr> {
        self.read.begin().await
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.write, None).await
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.ping().await
    }
}

fn sqlite_options(url: &str, connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // A file has no connection to lose: pinging it on checkout would be
        // two thread hand-offs per query for nothing.
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // SCIM's caseExact attributes need a case-sensitive LIKE; the
                // case-insensitive ones are compared on lower-cased columns.
                .pragma("case_sensitive_like", "ON")
        });
    options
}

/// Serialises, within one organisation, the transactions that change group
/// memberships (PostgreSQL: a transaction-scoped advisory lock; SQLite's
/// single write connection already serialises every writer). Taken first,
/// before any row lock, it gives those transactions one lock order, so a
/// group PATCH racing a user or group DELETE cannot deadlock, and two
/// nestings that would together form a cycle cannot both pass the check.
pub async fn lock_memberships(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: &str,
) -> Result<(), DbErr> {
    advisory_lock(conn, &format!("scimlink.memberships:{org_id}")).await
}

/// A transaction-scoped lock on a name (PostgreSQL's advisory locks; on
/// SQLite the single write connection already serialises every writer, so
/// nothing is needed). Every instance on one database sees the same lock.
pub async fn advisory_lock(conn: &impl sea_orm::ConnectionTrait, name: &str) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        [sea_orm::Value::from(name)],
    ))
    .await?;
    Ok(())
}

/// Whether a database error is a foreign-key violation (a member deleted
/// while a request added it).
pub fn is_foreign_key_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
    )
}

/// Whether a database error is a unique-index violation (a lost race on userName, say).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A timestamp as stored: milliseconds, the precision the wire carries, so a
/// value read back from a response compares equal in a filter.
pub fn now_ms() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}

/// A row's position in creation order: (creation time, id). Keyset pages
/// and cursors are built on it.
pub type Key = (chrono::DateTime<chrono::Utc>, String);

/// Which way a keyset page reads from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    After,
    Before,
}

/// Placeholders for `n` bound values in raw SQL, numbered from `first`.
pub fn placeholders(backend: DbBackend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
