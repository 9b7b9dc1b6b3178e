//! The SAML replay cache: every assertion ID a connection has accepted, kept
//! until the assertion could no longer be accepted anyway, so a captured
//! response cannot sign anyone in a second time.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::{create_indexes, drop_tables};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SamlAssertionIds {
    Table,
    Id,
    ConnectionId,
    AssertionIdHash,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SamlAssertionIds::Table)
                    .col(string(SamlAssertionIds::Id).primary_key())
                    .col(string(SamlAssertionIds::ConnectionId))
                    // SHA-256 of the assertion's ID: a fixed width, whatever
                    // the IdP sends.
                    .col(string(SamlAssertionIds::AssertionIdHash))
                    .col(timestamp_with_time_zone(SamlAssertionIds::CreatedAt))
                    .col(timestamp_with_time_zone(SamlAssertionIds::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SamlAssertionIds::Table, SamlAssertionIds::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SamlAssertionIds::Table,
            vec![
                // The unique pair is the replay check itself: a second
                // insert of the same assertion fails, even when two
                // requests race.
                (
                    "ux_saml_assertion_ids_connection_hash",
                    vec![
                        SamlAssertionIds::ConnectionId,
                        SamlAssertionIds::AssertionIdHash,
                    ],
                    true,
                ),
                (
                    "ix_saml_assertion_ids_expires",
                    vec![SamlAssertionIds::ExpiresAt],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![SamlAssertionIds::Table.into_iden()]).await
    }
}
