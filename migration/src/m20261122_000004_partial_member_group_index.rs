//! A group's parent groups are found through `group_members.member_group_id`,
//! which is NULL on every row that holds a user: nearly all of them. A full
//! index on it is one huge run of NULLs, and once the planner has statistics
//! it reads that index as useless and scans the whole table for each user's
//! `groups` attribute. Indexing only the rows that hold a group keeps the
//! index as small as the nesting is, and the lookup cheap whatever the
//! statistics say.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    MemberGroupId,
}

const INDEX: &str = "ix_group_members_member_group";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate_index(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate_index(manager, false).await
    }
}

/// Drops the index and creates it again, over the rows that hold a group
/// (`partial`) or over every row (as migration 2 made it).
async fn recreate_index(manager: &SchemaManager<'_>, partial: bool) -> Result<(), DbErr> {
    manager
        .drop_index(
            Index::drop()
                .name(INDEX)
                .table(GroupMembers::Table)
                .to_owned(),
        )
        .await?;
    let mut index = Index::create();
    index
        .name(INDEX)
        .table(GroupMembers::Table)
        .col(GroupMembers::MemberGroupId);
    if partial {
        index.and_where(Expr::col(GroupMembers::MemberGroupId).is_not_null());
    }
    manager.create_index(index.to_owned()).await
}
