//! SAML as a full service provider: each connection's own key pairs (one
//! signs AuthnRequests and logout messages, one receives encrypted
//! assertions), the SAML subject of every session a connection opened
//! (single logout finds sessions by NameID), and the LogoutRequests sent to
//! IdPs that wait for their LogoutResponse.

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
enum Sessions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SamlSpKeys {
    Table,
    Id,
    OrgId,
    ConnectionId,
    KeyUse,
    PrivateKeyPem,
    CertificateDer,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SamlSessions {
    Table,
    SessionId,
    OrgId,
    ConnectionId,
    AccountId,
    NameId,
    NameIdFormat,
    SessionIndex,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SamlLogoutRequests {
    Table,
    Id,
    RequestIdHash,
    OrgId,
    ConnectionId,
    CreatedAt,
    ExpiresAt,
}

fn cascade_to_connection<T: IntoIden + 'static, C: IntoIden + 'static>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(SsoConnections::Table, SsoConnections::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SamlSpKeys::Table)
                    .col(string(SamlSpKeys::Id).primary_key())
                    .col(string(SamlSpKeys::OrgId))
                    .col(string(SamlSpKeys::ConnectionId))
                    // `signing` or `encryption` (the KeyDescriptor use).
                    .col(string(SamlSpKeys::KeyUse))
                    // PKCS#8 PEM. A secret: never shown, never logged.
                    .col(text(SamlSpKeys::PrivateKeyPem))
                    // Base64 DER of the self-signed certificate the SP metadata publishes.
                    .col(text(SamlSpKeys::CertificateDer))
                    .col(timestamp_with_time_zone(SamlSpKeys::CreatedAt))
                    .foreign_key(&mut cascade_to_connection(
                        SamlSpKeys::Table,
                        SamlSpKeys::ConnectionId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SamlSpKeys::Table,
            vec![(
                // One key per use: two first requests racing make one.
                "ux_saml_sp_keys_connection_use",
                vec![SamlSpKeys::ConnectionId, SamlSpKeys::KeyUse],
                true,
            )],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SamlSessions::Table)
                    .col(string(SamlSessions::SessionId).primary_key())
                    .col(string(SamlSessions::OrgId))
                    .col(string(SamlSessions::ConnectionId))
                    .col(string(SamlSessions::AccountId))
                    .col(text(SamlSessions::NameId))
                    .col(text_null(SamlSessions::NameIdFormat))
                    .col(text_null(SamlSessions::SessionIndex))
                    .col(timestamp_with_time_zone(SamlSessions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SamlSessions::Table, SamlSessions::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut cascade_to_connection(
                        SamlSessions::Table,
                        SamlSessions::ConnectionId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SamlSessions::Table,
            vec![(
                "ix_saml_sessions_connection",
                vec![SamlSessions::ConnectionId],
                false,
            )],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SamlLogoutRequests::Table)
                    .col(string(SamlLogoutRequests::Id).primary_key())
                    // SHA-256 of the LogoutRequest's ID.
                    .col(string(SamlLogoutRequests::RequestIdHash))
                    .col(string(SamlLogoutRequests::OrgId))
                    .col(string(SamlLogoutRequests::ConnectionId))
                    .col(timestamp_with_time_zone(SamlLogoutRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SamlLogoutRequests::ExpiresAt))
                    .foreign_key(&mut cascade_to_connection(
                        SamlLogoutRequests::Table,
                        SamlLogoutRequests::ConnectionId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SamlLogoutRequests::Table,
            vec![
                (
                    "ux_saml_logout_requests_hash",
                    vec![SamlLogoutRequests::RequestIdHash],
                    true,
                ),
                (
                    "ix_saml_logout_requests_expires",
                    vec![SamlLogoutRequests::ExpiresAt],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                SamlLogoutRequests::Table.into_iden(),
                SamlSessions::Table.into_iden(),
                SamlSpKeys::Table.into_iden(),
            ],
        )
        .await
    }
}
