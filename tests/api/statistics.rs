//! SQLite planner statistics (`store::statistics`): gathered once a table is
//! big enough, again when it doubles or halves, not otherwise; the partial
//! index on nested-group membership is what a user's `groups` lookup uses.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::spawn_app;
use scimlink::store::statistics::refresh_if_stale;

async fn recorded_accounts(app: &crate::helpers::TestApp) -> Option<String> {
    let row = app
        .db
        .write
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT stat FROM sqlite_stat1 WHERE idx = 'ux_accounts_org_user_name'",
        ))
        .await
        .ok()??;
    row.try_get::<String>("", "stat").ok()
}

async fn add_users(app: &crate::helpers::TestApp, from: usize, to: usize) {
    for i in from..to {
        app.create_user(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("stat{i}@example.com"),
            "emails": [{"value": format!("stat{i}@example.com"), "type": "work"}],
        }))
        .await;
    }
}

#[actix_web::test]
async fn sqlite_statistics_follow_the_size_of_the_tables() {
    let app = spawn_app().await;
    let db = &app.db.write;
    if app.db.backend() != DbBackend::Sqlite {
        // PostgreSQL keeps its own (autovacuum): nothing to do.
        assert!(!refresh_if_stale(db, 1).await.unwrap());
        return;
    }
    assert!(
        !refresh_if_stale(db, 1_000).await.unwrap(),
        "an empty database is below any threshold"
    );
    add_users(&app, 0, 4).await;
    assert!(refresh_if_stale(db, 4).await.unwrap(), "no statistics yet");
    let first = recorded_accounts(&app)
        .await
        .expect("statistics for accounts");
    assert!(first.starts_with("4 "), "{first}");
    assert!(
        !refresh_if_stale(db, 4).await.unwrap(),
        "nothing changed: no second ANALYZE"
    );
    add_users(&app, 4, 7).await;
    assert!(
        !refresh_if_stale(db, 4).await.unwrap(),
        "7 rows is under twice 4"
    );
    add_users(&app, 7, 8).await;
    assert!(refresh_if_stale(db, 4).await.unwrap(), "8 rows is twice 4");
    let second = recorded_accounts(&app).await.expect("statistics");
    assert!(second.starts_with("8 "), "{second}");
}

#[actix_web::test]
async fn nested_group_membership_has_a_partial_index() {
    let app = spawn_app().await;
    let sql = match app.db.backend() {
        DbBackend::Postgres => {
            "SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'ix_group_members_member_group'"
        }
        _ => "SELECT sql AS def FROM sqlite_master WHERE name = 'ix_group_members_member_group'",
    };
    let row = app
        .db
        .write
        .query_one_raw(Statement::from_string(app.db.backend(), sql))
        .await
        .unwrap()
        .expect("the index exists");
    let definition: String = row.try_get("", "def").unwrap();
    assert!(
        definition.contains("IS NOT NULL"),
        "only rows that hold a group are indexed: {definition}"
    );
}
