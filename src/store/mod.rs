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
pub mod saml;
pub mod sessions;
pub mod statistics;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod workspaces;

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The pools' names in metrics: `read` and `write` on a SQLite file,
    /// `shared` for both when they are one pool.
    read_pool: &'static str,
    write_pool: &'static str,
    observer: Option<Arc<dyn DbObserver>>,
}

/// Told how long the database takes (the metrics; `store` knows nothing of
/// them).
pub trait DbObserver: Send + Sync {
    /// A transaction was opened on `pool` after `took`: the wait for a free
    /// connection plus the `BEGIN`.
    fn transaction_begun(&self, pool: &'static str, took: Duration);
    /// A statement ran on a connection of `pool` in `took` (the connection
    /// already held: the wait for it is not in `took`).
    fn statement_done(&self, pool: &'static str, took: Duration, failed: bool);
}

/// A connection pool's state now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub name: &'static str,
    /// Open connections, idle or in use.
    pub size: u32,
    pub idle: u32,
    /// The most connections it opens.
    pub max: u32,
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
            let (read, read_pool) = if in_memory {
                // An in-memory database exists once per connection: share it.
                (write.clone(), SHARED_POOL)
            } else {
                let mut options = sqlite_options(url, 4);
                // Recycled, so statistics gathered while serving reach the
                // readers (statistics::maintain).
                options.max_lifetime(statistics::CHECK_EVERY * 2);
                (Database::connect(options).await?, "read")
            };
            let write_pool = if in_memory { SHARED_POOL } else { "write" };
            Ok(Db {
                read,
                write,
                read_pool,
                write_pool,
                observer: None,
            })
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
                read_pool: SHARED_POOL,
                write_pool: SHARED_POOL,
                observer: None,
            })
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// A write transaction.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let started = Instant::now();
        let txn = self.write.begin().await?;
        if let Some(observer) = &self.observer {
            observer.transaction_begun(self.write_pool, started.elapsed());
        }
        Ok(txn)
    }

    /// A read transaction: one consistent snapshot for a multi-query read.
    pub async fn begin_read(&self) -> Result<DatabaseTransaction, DbErr> {
        let started = Instant::now();
        let txn = self.read.begin().await?;
        if let Some(observer) = &self.observer {
            observer.transaction_begun(self.read_pool, started.elapsed());
        }
        Ok(txn)
    }

    /// Reports to `observer` from now on: transactions opened and
    /// statements run through this `Db` (and its clones made after this).
    /// sqlx times the wait for a connection only into its trace log, so the
    /// wait is measured here, around opening a transaction; a single query
    /// outside a transaction waits inside sea-orm, where only the pool
    /// gauges (`pool_stats`) show it.
    pub fn observe(&mut self, observer: Arc<dyn DbObserver>) {
        for (conn, pool) in [
            (&mut self.read, self.read_pool),
            (&mut self.write, self.write_pool),
        ] {
            let observer = observer.clone();
            conn.set_metric_callback(move |info| {
                observer.statement_done(pool, info.elapsed, info.failed);
            });
        }
        self.observer = Some(observer);
    }

    /// Each pool's connections now (one entry when reads and writes share a pool).
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let mut out = vec![pool_stats(&self.write, self.write_pool)];
        if self.read_pool != self.write_pool {
            out.push(pool_stats(&self.read, self.read_pool));
        }
        out.into_iter().flatten().collect()
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.write, None).await
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.ping().await
    }
}

/// The name in metrics of a pool that serves reads and writes alike.
const SHARED_POOL: &str = "shared";

fn pool_stats(conn: &DatabaseConnection, name: &'static str) -> Option<PoolStats> {
    fn of<DB: sea_orm::sqlx::Database>(
        pool: &sea_orm::sqlx::Pool<DB>,
        name: &'static str,
    ) -> PoolStats {
        PoolStats {
            name,
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
    // The backend is checked first: the pool getters panic on another one.
    match conn.get_database_backend() {
        DbBackend::Sqlite => Some(of(conn.get_sqlite_connection_pool(), name)),
        DbBackend::Postgres => Some(of(conn.get_postgres_connection_pool(), name)),
        _ => None,
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

/// Where the client's text must appear in a LIKE comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeAt {
    Anywhere,
    Start,
    End,
}

/// `col LIKE pattern ESCAPE '\'`, the pattern built from `text` with its `%`,
/// `_` and `\` escaped so that they match themselves: the one way every LIKE
/// of scimlink is written (SQLite and PostgreSQL both honour the ESCAPE
/// clause; neither escapes anything by default). Case follows the column:
/// SQLite runs with `case_sensitive_like`, and callers pass a lower-cased
/// column with lower-cased text where case must not matter.
pub fn like(col: sea_orm::sea_query::Expr, at: LikeAt, text: &str) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{ExprTrait, LikeExpr};
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let pattern = match at {
        LikeAt::Anywhere => format!("%{escaped}%"),
        LikeAt::Start => format!("{escaped}%"),
        LikeAt::End => format!("%{escaped}"),
    };
    col.like(LikeExpr::new(pattern).escape('\\'))
}
