//! A sign-in started as a test by an administrator ("Test sign-in" in the
//! dashboard): it shows what the IdP sent and which account it would reach,
//! and signs nobody in.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::drop_columns;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SsoRequests {
    Table,
    TestBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SsoRequests::Table)
                    // The account id of the administrator testing; null for a real sign-in.
                    .add_column(string_null(SsoRequests::TestBy))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            SsoRequests::Table,
            vec![SsoRequests::TestBy.into_iden()],
        )
        .await
    }
}
