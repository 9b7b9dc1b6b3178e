//! Append-only schema migrations for scimlink. Each migration is self-contained
//! (it never imports `entity`) and has a `down()`; CI runs up, down, up.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_core_tables;
mod m20261122_000002_create_groups;
mod m20261122_000003_create_sign_in;
mod m20261122_000004_partial_member_group_index;
mod m20261122_000005_create_sso_connections;
mod m20261122_000006_create_saml_assertion_ids;
mod m20261122_000007_account_org_role;
mod m20261122_000008_sso_request_test_by;
mod m20261207_000009_sign_in_abuse_bounds;
mod m20261207_000011_create_saml_keys_and_logout;
mod m20261207_000016_create_events;
mod m20261207_000017_create_webhooks;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_core_tables::Migration),
            Box::new(m20261122_000002_create_groups::Migration),
            Box::new(m20261122_000003_create_sign_in::Migration),
            Box::new(m20261122_000004_partial_member_group_index::Migration),
            Box::new(m20261122_000005_create_sso_connections::Migration),
            Box::new(m20261122_000006_create_saml_assertion_ids::Migration),
            Box::new(m20261122_000007_account_org_role::Migration),
            Box::new(m20261122_000008_sso_request_test_by::Migration),
            Box::new(m20261207_000009_sign_in_abuse_bounds::Migration),
            Box::new(m20261207_000011_create_saml_keys_and_logout::Migration),
            Box::new(m20261207_000016_create_events::Migration),
            Box::new(m20261207_000017_create_webhooks::Migration),
        ]
    }
}
