//! Bounds on what unauthenticated callers can make the server store, and the
//! browsers a person has signed in from:
//! - `known_devices`: a browser (its device cookie, stored hashed) that has
//!   signed in to an account with a password; such a browser has a throttle
//!   of its own, so strangers guessing at an account cannot lock its owner out;
//! - `audit_suppressions`: per organisation, client address and window, how
//!   many refused sign-ins were counted instead of each writing an audit row;
//! - `sso_requests.client_address`: pending SSO sign-ins are capped per address;
//!   `sso_requests.previous_session_hash`: the session a sign-in replaces.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::{create_indexes, drop_columns, drop_tables};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KnownDevices {
    Table,
    TokenHash,
    AccountId,
    OrgId,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum AuditSuppressions {
    Table,
    OrgId,
    ClientAddress,
    WindowStart,
    Count,
}

#[derive(DeriveIden)]
enum SsoRequests {
    Table,
    ClientAddress,
    PreviousSessionHash,
    BrowserHash,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnownDevices::Table)
                    // SHA-256 of the device cookie; one browser may be known
                    // to several accounts (a shared computer).
                    .col(string(KnownDevices::TokenHash))
                    .col(string(KnownDevices::AccountId))
                    .col(string(KnownDevices::OrgId))
                    .col(timestamp_with_time_zone(KnownDevices::CreatedAt))
                    .col(timestamp_with_time_zone(KnownDevices::LastUsedAt))
                    .primary_key(
                        Index::create()
                            .col(KnownDevices::TokenHash)
                            .col(KnownDevices::AccountId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KnownDevices::Table, KnownDevices::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KnownDevices::Table, KnownDevices::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            KnownDevices::Table,
            vec![(
                "ix_known_devices_account_used",
                vec![KnownDevices::AccountId, KnownDevices::LastUsedAt],
                false,
            )],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditSuppressions::Table)
                    .col(string(AuditSuppressions::OrgId))
                    .col(string(AuditSuppressions::ClientAddress))
                    .col(timestamp_with_time_zone(AuditSuppressions::WindowStart))
                    // Every refused sign-in of the window, recorded or not.
                    .col(big_integer(AuditSuppressions::Count))
                    .primary_key(
                        Index::create()
                            .col(AuditSuppressions::OrgId)
                            .col(AuditSuppressions::ClientAddress)
                            .col(AuditSuppressions::WindowStart),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditSuppressions::Table, AuditSuppressions::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            AuditSuppressions::Table,
            vec![(
                "ix_audit_suppressions_org_window",
                vec![AuditSuppressions::OrgId, AuditSuppressions::WindowStart],
                false,
            )],
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(SsoRequests::Table)
                    .add_column(string_null(SsoRequests::ClientAddress))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SsoRequests::Table)
                    .add_column(string_null(SsoRequests::PreviousSessionHash))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SsoRequests::Table,
            vec![
                (
                    "ix_sso_requests_address_expires",
                    vec![SsoRequests::ClientAddress, SsoRequests::ExpiresAt],
                    false,
                ),
                (
                    "ix_sso_requests_browser_expires",
                    vec![SsoRequests::BrowserHash, SsoRequests::ExpiresAt],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ix_sso_requests_address_expires",
            "ix_sso_requests_browser_expires",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(SsoRequests::Table)
                        .to_owned(),
                )
                .await?;
        }
        drop_columns(
            manager,
            SsoRequests::Table,
            vec![
                SsoRequests::ClientAddress.into_iden(),
                SsoRequests::PreviousSessionHash.into_iden(),
            ],
        )
        .await?;
        drop_tables(
            manager,
            vec![
                AuditSuppressions::Table.into_iden(),
                KnownDevices::Table.into_iden(),
            ],
        )
        .await
    }
}
