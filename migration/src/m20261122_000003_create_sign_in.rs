//! Sign-in: organisation policy columns, the account's External user ID and
//! provenance, admin tokens, identity links, password reset links, sessions,
//! the mail outbox, failed sign-in attempts (for throttling), workspace
//! membership and the append-only audit log.

use sea_orm_migration::sea_orm::{DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::{create_indexes, drop_columns, drop_tables};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    SsoEnabled,
    SsoRequired,
    JitProvisioning,
    ScimAdoptExisting,
    SessionTtlSeconds,
    SessionIdleSeconds,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    OrgId,
    ExternalUserId,
    ExternalUserIdKey,
    Source,
}

#[derive(DeriveIden)]
enum AdminTokens {
    Table,
    Id,
    OrgId,
    Label,
    Role,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdentityLinks {
    Table,
    Id,
    OrgId,
    AccountId,
    Issuer,
    Subject,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    OrgId,
    AccountId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    OrgId,
    AccountId,
    TokenHash,
    Method,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
    EndedAt,
    EndReason,
    ClientAddress,
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    Id,
    OrgId,
    AccountId,
    ResetId,
    Recipient,
    Subject,
    Body,
    Status,
    Error,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SignInFailures {
    Table,
    Id,
    Key,
    At,
}

#[derive(DeriveIden)]
enum WorkspaceMembers {
    Table,
    WorkspaceId,
    AccountId,
    OrgId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrgId,
    OccurredAt,
    ActorType,
    ActorId,
    ActorLabel,
    Action,
    TargetType,
    TargetId,
    Summary,
    RequestId,
    ClientAddress,
}

fn fk_org<T: IntoIden>(table: T, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn fk_account<T: IntoIden>(table: T, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Accounts::Table, Accounts::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// The organisation columns, one `ALTER TABLE` each (SQLite takes one change per statement).
fn organization_columns() -> Vec<ColumnDef> {
    vec![
        boolean(Organizations::SsoEnabled).default(false).to_owned(),
        // DESIGN invariant 4 needs SSO to exist before it can be required.
        boolean(Organizations::SsoRequired)
            .default(false)
            .check(
                Expr::col(Organizations::SsoRequired)
                    .eq(false)
                    .or(Expr::col(Organizations::SsoEnabled).eq(true)),
            )
            .to_owned(),
        boolean(Organizations::JitProvisioning)
            .default(false)
            .to_owned(),
        boolean(Organizations::ScimAdoptExisting)
            .default(false)
            .to_owned(),
        big_integer(Organizations::SessionTtlSeconds)
            .default(12 * 3600)
            .check(Expr::col(Organizations::SessionTtlSeconds).gt(0))
            .to_owned(),
        big_integer(Organizations::SessionIdleSeconds)
            .default(3600)
            .check(Expr::col(Organizations::SessionIdleSeconds).gt(0))
            .to_owned(),
    ]
}

fn account_columns() -> Vec<ColumnDef> {
    vec![
        // Set by support staff; NULL: derived (externalId, else email, else userName).
        string_null(Accounts::ExternalUserId).to_owned(),
        // The effective External user ID as SSO subjects are compared with it
        // (lower-cased when it is an email).
        string_null(Accounts::ExternalUserIdKey).to_owned(),
        // Who created the account: 'scim' (an IdP owns it), 'admin', 'cli' or 'jit'.
        string(Accounts::Source)
            .default("scim")
            .check(Expr::col(Accounts::Source).is_in(["scim", "admin", "cli", "jit"]))
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in organization_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in account_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        create_indexes(
            manager,
            Accounts::Table,
            vec![(
                "ix_accounts_org_external_user_id",
                vec![Accounts::OrgId, Accounts::ExternalUserIdKey],
                false,
            )],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AdminTokens::Table)
                    .col(string(AdminTokens::Id).primary_key())
                    .col(string(AdminTokens::OrgId))
                    .col(string(AdminTokens::Label))
                    .col(
                        string(AdminTokens::Role)
                            .check(Expr::col(AdminTokens::Role).is_in(["admin", "support"])),
                    )
                    // SHA-256 of the secret; the secret itself is never stored.
                    .col(string_uniq(AdminTokens::TokenHash))
                    .col(timestamp_with_time_zone(AdminTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(AdminTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(AdminTokens::RevokedAt))
                    .foreign_key(&mut fk_org(AdminTokens::Table, AdminTokens::OrgId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdentityLinks::Table)
                    .col(string(IdentityLinks::Id).primary_key())
                    .col(string(IdentityLinks::OrgId))
                    .col(string(IdentityLinks::AccountId))
                    .col(string(IdentityLinks::Issuer))
                    .col(string(IdentityLinks::Subject))
                    .col(timestamp_with_time_zone(IdentityLinks::CreatedAt))
                    .foreign_key(&mut fk_org(IdentityLinks::Table, IdentityLinks::OrgId))
                    .foreign_key(&mut fk_account(
                        IdentityLinks::Table,
                        IdentityLinks::AccountId,
                    ))
                    .to_owned(),
            )
            .await?;
        // DESIGN invariant 6: one subject of an IdP reaches at most one account
        // of the organisation; an account has at most one subject per IdP.
        create_indexes(
            manager,
            IdentityLinks::Table,
            vec![
                (
                    "ux_identity_links_subject",
                    vec![
                        IdentityLinks::OrgId,
                        IdentityLinks::Issuer,
                        IdentityLinks::Subject,
                    ],
                    true,
                ),
                (
                    "ux_identity_links_account_issuer",
                    vec![IdentityLinks::AccountId, IdentityLinks::Issuer],
                    true,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordResets::Table)
                    .col(string(PasswordResets::Id).primary_key())
                    .col(string(PasswordResets::OrgId))
                    .col(string(PasswordResets::AccountId))
                    .col(string_uniq(PasswordResets::TokenHash))
                    .col(timestamp_with_time_zone(PasswordResets::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordResets::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResets::UsedAt))
                    .foreign_key(&mut fk_org(PasswordResets::Table, PasswordResets::OrgId))
                    .foreign_key(&mut fk_account(
                        PasswordResets::Table,
                        PasswordResets::AccountId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            PasswordResets::Table,
            vec![(
                "ix_password_resets_account",
                vec![PasswordResets::AccountId],
                false,
            )],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::Id).primary_key())
                    .col(string(Sessions::OrgId))
                    .col(string(Sessions::AccountId))
                    .col(string_uniq(Sessions::TokenHash))
                    .col(
                        string(Sessions::Method)
                            .check(Expr::col(Sessions::Method).is_in(["password", "sso"])),
                    )
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone_null(Sessions::EndedAt))
                    .col(string_null(Sessions::EndReason))
                    .col(string_null(Sessions::ClientAddress))
                    .foreign_key(&mut fk_org(Sessions::Table, Sessions::OrgId))
                    .foreign_key(&mut fk_account(Sessions::Table, Sessions::AccountId))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            Sessions::Table,
            vec![("ix_sessions_account", vec![Sessions::AccountId], false)],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(string(OutboxMessages::Id).primary_key())
                    .col(string(OutboxMessages::OrgId))
                    .col(string(OutboxMessages::AccountId))
                    // The reset link the message carries; its text is redacted
                    // once the link is used, replaced or purged.
                    .col(string_null(OutboxMessages::ResetId))
                    .col(string_null(OutboxMessages::Recipient))
                    .col(string(OutboxMessages::Subject))
                    .col(text(OutboxMessages::Body))
                    .col(string(OutboxMessages::Status).check(
                        Expr::col(OutboxMessages::Status).is_in(["sent", "failed", "not_sent"]),
                    ))
                    .col(string_null(OutboxMessages::Error))
                    .col(timestamp_with_time_zone(OutboxMessages::CreatedAt))
                    .foreign_key(&mut fk_org(OutboxMessages::Table, OutboxMessages::OrgId))
                    .foreign_key(&mut fk_account(
                        OutboxMessages::Table,
                        OutboxMessages::AccountId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            OutboxMessages::Table,
            vec![(
                "ix_outbox_org_created",
                vec![OutboxMessages::OrgId, OutboxMessages::CreatedAt],
                false,
            )],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SignInFailures::Table)
                    .col(big_pk_auto(SignInFailures::Id))
                    // `account:<id>` or `address:<ip>`.
                    .col(string(SignInFailures::Key))
                    .col(timestamp_with_time_zone(SignInFailures::At))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            SignInFailures::Table,
            vec![(
                "ix_sign_in_failures_key_at",
                vec![SignInFailures::Key, SignInFailures::At],
                false,
            )],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(WorkspaceMembers::Table)
                    .col(string(WorkspaceMembers::WorkspaceId))
                    .col(string(WorkspaceMembers::AccountId))
                    .col(string(WorkspaceMembers::OrgId))
                    .col(string(WorkspaceMembers::Role).check(
                        Expr::col(WorkspaceMembers::Role).is_in(["admin", "member", "viewer"]),
                    ))
                    .col(timestamp_with_time_zone(WorkspaceMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(WorkspaceMembers::WorkspaceId)
                            .col(WorkspaceMembers::AccountId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WorkspaceMembers::Table, WorkspaceMembers::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut fk_account(
                        WorkspaceMembers::Table,
                        WorkspaceMembers::AccountId,
                    ))
                    .foreign_key(&mut fk_org(
                        WorkspaceMembers::Table,
                        WorkspaceMembers::OrgId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            WorkspaceMembers::Table,
            vec![(
                "ix_workspace_members_account",
                vec![WorkspaceMembers::AccountId],
                false,
            )],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(string(AuditEvents::OrgId))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string(AuditEvents::ActorType).check(
                        Expr::col(AuditEvents::ActorType).is_in([
                            "scim_token",
                            "admin_token",
                            "account",
                            "system",
                            "cli",
                        ]),
                    ))
                    .col(string_null(AuditEvents::ActorId))
                    .col(string_null(AuditEvents::ActorLabel))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::TargetType))
                    .col(string_null(AuditEvents::TargetId))
                    .col(text(AuditEvents::Summary))
                    .col(string_null(AuditEvents::RequestId))
                    .col(string_null(AuditEvents::ClientAddress))
                    // No cascade: the log outlives what it talks about.
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            AuditEvents::Table,
            vec![
                (
                    "ix_audit_events_org_id",
                    vec![AuditEvents::OrgId, AuditEvents::Id],
                    false,
                ),
                (
                    "ix_audit_events_org_target",
                    vec![AuditEvents::OrgId, AuditEvents::TargetId],
                    false,
                ),
            ],
        )
        .await?;
        // Append-only, enforced by the database: no UPDATE, no DELETE.
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let statements: &[&str] = match backend {
            DbBackend::Postgres => &[
                "CREATE FUNCTION scimlink_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$",
                "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION scimlink_audit_append_only()",
            ],
            _ => &[
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
                "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
            ],
        };
        for sql in statements {
            db.execute_raw(Statement::from_string(backend, String::from(*sql)))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                AuditEvents::Table.into_iden(),
                WorkspaceMembers::Table.into_iden(),
                SignInFailures::Table.into_iden(),
                OutboxMessages::Table.into_iden(),
                Sessions::Table.into_iden(),
                PasswordResets::Table.into_iden(),
                IdentityLinks::Table.into_iden(),
                AdminTokens::Table.into_iden(),
            ],
        )
        .await?;
        let backend = manager.get_database_backend();
        if backend == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_raw(Statement::from_string(
                    backend,
                    "DROP FUNCTION IF EXISTS scimlink_audit_append_only()".to_string(),
                ))
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_accounts_org_external_user_id")
                    .table(Accounts::Table)
                    .to_owned(),
            )
            .await?;
        // SQLite drops a column only when no other CHECK or index names it:
        // the index is gone, and sso_required (whose CHECK names
        // sso_enabled) goes before sso_enabled.
        drop_columns(
            manager,
            Accounts::Table,
            vec![
                Accounts::Source.into_iden(),
                Accounts::ExternalUserIdKey.into_iden(),
                Accounts::ExternalUserId.into_iden(),
            ],
        )
        .await?;
        drop_columns(
            manager,
            Organizations::Table,
            vec![
                Organizations::SessionIdleSeconds.into_iden(),
                Organizations::SessionTtlSeconds.into_iden(),
                Organizations::ScimAdoptExisting.into_iden(),
                Organizations::JitProvisioning.into_iden(),
                Organizations::SsoRequired.into_iden(),
                Organizations::SsoEnabled.into_iden(),
            ],
        )
        .await
    }
}
