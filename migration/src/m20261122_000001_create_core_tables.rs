//! Organisations, workspaces, SCIM tokens, accounts (the SCIM User) and the
//! account email side table that makes `emails.value` filters indexed.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    OrgId,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    Id,
    OrgId,
    Label,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    OrgId,
    UserName,
    UserNameLower,
    ExternalId,
    DisplayName,
    DisplayNameLower,
    PrimaryEmail,
    PrimaryEmailLower,
    Active,
    AuthMode,
    PasswordHash,
    BreakGlass,
    Resource,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccountEmails {
    Table,
    Id,
    AccountId,
    OrgId,
    Value,
    ValueLower,
    TypeLower,
    IsPrimary,
}

/// A text column compared with `<`/`>` or sorted on. On PostgreSQL it gets
/// the "C" collation, so ordering is by code point as on SQLite and in the
/// in-memory filter evaluator; SQLite's default (BINARY) already is.
pub(crate) fn ordered_text(mut column: ColumnDef, backend: DbBackend) -> ColumnDef {
    if backend == DbBackend::Postgres {
        column.extra("COLLATE \"C\"");
    }
    column
}

/// Creates one index per `(name, columns, unique)` on `table`.
pub(crate) async fn create_indexes<T: IntoIden, C: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    indexes: Vec<(&str, Vec<C>, bool)>,
) -> Result<(), DbErr> {
    let table = table.into_iden();
    for (name, cols, unique) in indexes {
        let mut index = Index::create();
        index.name(name).table(table.clone());
        for col in cols {
            index.col(col);
        }
        if unique {
            index.unique();
        }
        manager.create_index(index.to_owned()).await?;
    }
    Ok(())
}

/// Drops these tables, in this order.
pub(crate) async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: Vec<DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).to_owned())
            .await?;
    }
    Ok(())
}

/// Drops these columns of `table`, one statement each (SQLite takes one change per statement).
pub(crate) async fn drop_columns<T: IntoIden>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: Vec<DynIden>,
) -> Result<(), DbErr> {
    let table = table.into_iden();
    for column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(string(Organizations::Id).primary_key())
                    .col(string_uniq(Organizations::Slug))
                    .col(string(Organizations::Name))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Workspaces::Table)
                    .col(string(Workspaces::Id).primary_key())
                    .col(string(Workspaces::OrgId))
                    .col(string(Workspaces::Slug))
                    .col(string(Workspaces::Name))
                    .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Workspaces::Table, Workspaces::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_workspaces_org_slug")
                    .table(Workspaces::Table)
                    .col(Workspaces::OrgId)
                    .col(Workspaces::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScimTokens::Table)
                    .col(string(ScimTokens::Id).primary_key())
                    .col(string(ScimTokens::OrgId))
                    .col(string(ScimTokens::Label))
                    // SHA-256 of the secret, hex. The secret itself is never stored.
                    .col(string_uniq(ScimTokens::TokenHash))
                    .col(timestamp_with_time_zone(ScimTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ScimTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ScimTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScimTokens::Table, ScimTokens::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_tokens_org")
                    .table(ScimTokens::Table)
                    .col(ScimTokens::OrgId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(ordered_text(string(Accounts::Id), backend).primary_key())
                    .col(string(Accounts::OrgId))
                    .col(string(Accounts::UserName))
                    // Lower-cased in Rust (full Unicode), because userName is
                    // caseExact=false (RFC 7643 §4.1.1) and SQLite's lower() is ASCII only.
                    .col(ordered_text(string(Accounts::UserNameLower), backend))
                    .col(ordered_text(string_null(Accounts::ExternalId), backend))
                    .col(string_null(Accounts::DisplayName))
                    .col(ordered_text(
                        string_null(Accounts::DisplayNameLower),
                        backend,
                    ))
                    .col(string_null(Accounts::PrimaryEmail))
                    .col(ordered_text(
                        string_null(Accounts::PrimaryEmailLower),
                        backend,
                    ))
                    .col(boolean(Accounts::Active))
                    .col(
                        string(Accounts::AuthMode)
                            .default("password")
                            .check(Expr::col(Accounts::AuthMode).is_in(["password", "sso"])),
                    )
                    .col(string_null(Accounts::PasswordHash))
                    .col(boolean(Accounts::BreakGlass).default(false))
                    .col(text(Accounts::Resource))
                    .col(big_integer(Accounts::Version))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                    // DESIGN invariant 1: an account in `sso` mode holds no password hash.
                    .check(
                        Expr::col(Accounts::AuthMode)
                            .eq("password")
                            .or(Expr::col(Accounts::PasswordHash).is_null()),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Accounts::Table, Accounts::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // DESIGN invariant 6: userName unique per organisation, case-insensitively;
        // externalId unique per organisation when present (NULLs never collide).
        create_indexes(
            manager,
            Accounts::Table,
            vec![
                (
                    "ux_accounts_org_user_name",
                    vec![Accounts::OrgId, Accounts::UserNameLower],
                    true,
                ),
                (
                    "ux_accounts_org_external_id",
                    vec![Accounts::OrgId, Accounts::ExternalId],
                    true,
                ),
                (
                    "ix_accounts_org_display_name",
                    vec![Accounts::OrgId, Accounts::DisplayNameLower],
                    false,
                ),
                (
                    "ix_accounts_org_primary_email",
                    vec![Accounts::OrgId, Accounts::PrimaryEmailLower],
                    false,
                ),
                (
                    "ix_accounts_org_active",
                    vec![Accounts::OrgId, Accounts::Active],
                    false,
                ),
                (
                    "ix_accounts_org_created",
                    vec![Accounts::OrgId, Accounts::CreatedAt, Accounts::Id],
                    false,
                ),
                (
                    "ix_accounts_org_updated",
                    vec![Accounts::OrgId, Accounts::UpdatedAt],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountEmails::Table)
                    .col(big_pk_auto(AccountEmails::Id))
                    .col(string(AccountEmails::AccountId))
                    .col(string(AccountEmails::OrgId))
                    .col(string(AccountEmails::Value))
                    .col(ordered_text(string(AccountEmails::ValueLower), backend))
                    .col(ordered_text(string_null(AccountEmails::TypeLower), backend))
                    // NULL when the email does not say: `emails.primary pr` must not match it.
                    .col(boolean_null(AccountEmails::IsPrimary))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccountEmails::Table, AccountEmails::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            AccountEmails::Table,
            vec![
                (
                    "ix_account_emails_org_value",
                    vec![AccountEmails::OrgId, AccountEmails::ValueLower],
                    false,
                ),
                (
                    "ix_account_emails_account",
                    vec![AccountEmails::AccountId],
                    false,
                ),
            ],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                AccountEmails::Table.into_iden(),
                Accounts::Table.into_iden(),
                ScimTokens::Table.into_iden(),
                Workspaces::Table.into_iden(),
                Organizations::Table.into_iden(),
            ],
        )
        .await
    }
}
