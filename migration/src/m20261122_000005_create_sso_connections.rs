//! SSO connections: an organisation's SAML and OIDC identity providers, the
//! sign-in requests scimlink has sent and waits to see answered, and what an
//! identity link and an account remember of their last sign-in.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::{create_indexes, drop_columns, drop_tables};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum IdentityLinks {
    Table,
    ConnectionId,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
    OrgId,
    Kind,
    DisplayName,
    Enabled,
    MatchOn,
    Jit,
    EmailDomains,
    WorkspaceId,
    Role,
    Issuer,
    OidcClientId,
    OidcClientSecret,
    OidcScopes,
    SamlIdpMetadataXml,
    SamlIdpSsoUrl,
    SamlIdpCertificates,
    SamlAllowIdpInitiated,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SsoRequests {
    Table,
    Id,
    StateHash,
    BrowserHash,
    OrgId,
    ConnectionId,
    Nonce,
    PkceVerifier,
    ReturnTo,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SsoConnections::Table)
                    .col(string(SsoConnections::Id).primary_key())
                    .col(string(SsoConnections::OrgId))
                    .col(
                        string(SsoConnections::Kind)
                            .check(Expr::col(SsoConnections::Kind).is_in(["saml", "oidc"])),
                    )
                    .col(string(SsoConnections::DisplayName))
                    .col(boolean(SsoConnections::Enabled).default(false))
                    .col(string(SsoConnections::MatchOn).check(
                        Expr::col(SsoConnections::MatchOn).is_in([
                            "external_user_id",
                            "email",
                            "user_name",
                        ]),
                    ))
                    .col(
                        string(SsoConnections::Jit)
                            .check(Expr::col(SsoConnections::Jit).is_in(["inherit", "on", "off"])),
                    )
                    // A JSON array of lower-cased domains; empty: any.
                    .col(text(SsoConnections::EmailDomains))
                    .col(string_null(SsoConnections::WorkspaceId))
                    .col(string(SsoConnections::Role).check(
                        Expr::col(SsoConnections::Role).is_in(["admin", "member", "viewer"]),
                    ))
                    // The OIDC issuer or the SAML IdP's entity id: the issuer
                    // of the identity links this connection makes.
                    .col(string(SsoConnections::Issuer))
                    .col(string_null(SsoConnections::OidcClientId))
                    // Needed in clear for the code exchange; never returned.
                    .col(string_null(SsoConnections::OidcClientSecret))
                    .col(string_null(SsoConnections::OidcScopes))
                    .col(text_null(SsoConnections::SamlIdpMetadataXml))
                    .col(string_null(SsoConnections::SamlIdpSsoUrl))
                    // A JSON array of base64 DER certificates.
                    .col(text_null(SsoConnections::SamlIdpCertificates))
                    .col(boolean(SsoConnections::SamlAllowIdpInitiated).default(false))
                    .col(timestamp_with_time_zone(SsoConnections::CreatedAt))
                    .col(timestamp_with_time_zone(SsoConnections::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoConnections::Table, SsoConnections::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoConnections::Table, SsoConnections::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SsoConnections::Table,
            vec![("ix_sso_connections_org", vec![SsoConnections::OrgId], false)],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SsoRequests::Table)
                    .col(string(SsoRequests::Id).primary_key())
                    // SHA-256 of the OIDC state (or SAML request id): what
                    // comes back from the IdP finds the request.
                    .col(string_uniq(SsoRequests::StateHash))
                    // SHA-256 of the cookie set in the browser that started
                    // the sign-in: the answer must come back to that browser.
                    .col(string(SsoRequests::BrowserHash))
                    .col(string(SsoRequests::OrgId))
                    .col(string(SsoRequests::ConnectionId))
                    .col(string_null(SsoRequests::Nonce))
                    .col(string_null(SsoRequests::PkceVerifier))
                    .col(string(SsoRequests::ReturnTo))
                    .col(timestamp_with_time_zone(SsoRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SsoRequests::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoRequests::Table, SsoRequests::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SsoRequests::Table,
            vec![(
                "ix_sso_requests_expires",
                vec![SsoRequests::ExpiresAt],
                false,
            )],
        )
        .await?;

        for column in [
            string_null(IdentityLinks::ConnectionId).to_owned(),
            timestamp_with_time_zone_null(IdentityLinks::LastUsedAt).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IdentityLinks::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(timestamp_with_time_zone_null(Accounts::LastSignInAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Accounts::Table,
            vec![Accounts::LastSignInAt.into_iden()],
        )
        .await?;
        drop_columns(
            manager,
            IdentityLinks::Table,
            vec![
                IdentityLinks::LastUsedAt.into_iden(),
                IdentityLinks::ConnectionId.into_iden(),
            ],
        )
        .await?;
        drop_tables(
            manager,
            vec![
                SsoRequests::Table.into_iden(),
                SsoConnections::Table.into_iden(),
            ],
        )
        .await
    }
}
