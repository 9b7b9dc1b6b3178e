//! Migrations run up, down and up again on both databases, leaving the
//! invariants the database itself enforces in place.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::fresh_database;

async fn table_count(db: &scimlink::store::Db) -> i64 {
    let sql = match db.backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
    };
    let row = db
        .write
        .query_one_raw(Statement::from_string(db.backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let (url, _dir) = fresh_database().await;
    let db = scimlink::store::Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let tables = table_count(&db).await;
    assert!(tables >= 5, "{tables} tables after up");
    Migrator::down(&db.write, None).await.unwrap();
    assert_eq!(table_count(&db).await, 0, "down removes every table");
    db.migrate().await.unwrap();
    assert_eq!(table_count(&db).await, tables);
    assert!(
        Migrator::get_pending_migrations(&db.write)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_database_refuses_a_password_hash_on_an_sso_account() {
    // DESIGN invariant 1, enforced by a CHECK constraint, not only by code.
    let (url, _dir) = fresh_database().await;
    let db = scimlink::store::Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let org =
        scimlink::service::orgs::create(&db, &scimlink::domain::OrgSlug::parse("o").unwrap(), "O")
            .await
            .unwrap();
    let insert = |mode: &str, hash: &str| {
        format!(
            "INSERT INTO accounts (id, org_id, user_name, user_name_lower, active, auth_mode, password_hash, break_glass, resource, version, created_at, updated_at) \
             VALUES ('{mode}-1', '{}', '{mode}', '{mode}', TRUE, '{mode}', {hash}, FALSE, '{{}}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            org.id
        )
    };
    db.write
        .execute_unprepared(&insert("sso", "NULL"))
        .await
        .expect("an sso account without a hash is fine");
    db.write
        .execute_unprepared(&insert("password", "'$argon2id$x'"))
        .await
        .expect("a password account with a hash is fine");
    assert!(
        db.write
            .execute_unprepared(
                "UPDATE accounts SET password_hash = '$argon2id$x' WHERE id = 'sso-1'"
            )
            .await
            .is_err()
    );
    assert!(
        db.write
            .execute_unprepared("UPDATE accounts SET auth_mode = 'sso' WHERE id = 'password-1'")
            .await
            .is_err()
    );
    assert!(
        db.write
            .execute_unprepared("UPDATE accounts SET auth_mode = 'magic' WHERE id = 'sso-1'")
            .await
            .is_err()
    );
}
