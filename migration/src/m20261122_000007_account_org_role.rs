//! An account's role in its organisation: `admin` and `support` people sign
//! in to the dashboard (`/admin`); `none`, the default, is everyone else.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::drop_columns;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    OrgRole,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(
                        string(Accounts::OrgRole)
                            .default("none")
                            .check(Expr::col(Accounts::OrgRole).is_in(["none", "support", "admin"]))
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Accounts::Table,
            vec![Accounts::OrgRole.into_iden()],
        )
        .await
    }
}
