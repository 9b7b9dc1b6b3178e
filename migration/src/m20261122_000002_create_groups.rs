//! SCIM Groups and their membership rows. Membership is one row per
//! (group, member), never an array, so changing one member of a group of
//! 100,000 touches one row. A member is a user or a group (exactly one of the
//! two foreign keys is set), and deleting either removes its memberships.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::{create_indexes, drop_tables, ordered_text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    OrgId,
    DisplayName,
    DisplayNameLower,
    ExternalId,
    Resource,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    Id,
    OrgId,
    GroupId,
    MemberUserId,
    MemberGroupId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(ordered_text(string(Groups::Id), backend).primary_key())
                    .col(string(Groups::OrgId))
                    .col(string(Groups::DisplayName))
                    .col(ordered_text(string(Groups::DisplayNameLower), backend))
                    .col(ordered_text(string_null(Groups::ExternalId), backend))
                    .col(text(Groups::Resource))
                    .col(big_integer(Groups::Version))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Groups::Table, Groups::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            Groups::Table,
            vec![
                (
                    "ux_groups_org_external_id",
                    vec![Groups::OrgId, Groups::ExternalId],
                    true,
                ),
                (
                    "ix_groups_org_display_name",
                    vec![Groups::OrgId, Groups::DisplayNameLower],
                    false,
                ),
                (
                    "ix_groups_org_created",
                    vec![Groups::OrgId, Groups::CreatedAt, Groups::Id],
                    false,
                ),
                (
                    "ix_groups_org_updated",
                    vec![Groups::OrgId, Groups::UpdatedAt],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .col(big_pk_auto(GroupMembers::Id))
                    .col(string(GroupMembers::OrgId))
                    .col(string(GroupMembers::GroupId))
                    .col(ordered_text(
                        string_null(GroupMembers::MemberUserId),
                        backend,
                    ))
                    .col(ordered_text(
                        string_null(GroupMembers::MemberGroupId),
                        backend,
                    ))
                    // A member is a user or a group, never both, never neither.
                    .check(
                        Expr::col(GroupMembers::MemberUserId)
                            .is_null()
                            .and(Expr::col(GroupMembers::MemberGroupId).is_not_null())
                            .or(Expr::col(GroupMembers::MemberUserId)
                                .is_not_null()
                                .and(Expr::col(GroupMembers::MemberGroupId).is_null())),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, GroupMembers::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, GroupMembers::MemberUserId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, GroupMembers::MemberGroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Each lookup direction has its index: a group's members (and "is X a
        // member", unique so a member is listed once), and a member's groups.
        create_indexes(
            manager,
            GroupMembers::Table,
            vec![
                (
                    "ux_group_members_user",
                    vec![GroupMembers::GroupId, GroupMembers::MemberUserId],
                    true,
                ),
                (
                    "ux_group_members_group",
                    vec![GroupMembers::GroupId, GroupMembers::MemberGroupId],
                    true,
                ),
                (
                    "ix_group_members_member_user",
                    vec![GroupMembers::MemberUserId],
                    false,
                ),
                (
                    "ix_group_members_member_group",
                    vec![GroupMembers::MemberGroupId],
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
            vec![GroupMembers::Table.into_iden(), Groups::Table.into_iden()],
        )
        .await
    }
}
