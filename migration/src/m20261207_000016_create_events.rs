//! The product events feed (a transactional outbox):
//! - `events`: one row per change a product cares about, written in the
//!   transaction of the change. `position` is NULL until the row is
//!   sequenced after its commit (see `src/service/events.rs`), so a reader
//!   paging by position never skips a row that commits late;
//! - `event_heads`: per organisation, the last position handed out. It
//!   never goes back, even when retention deletes every event, and its row
//!   lock serialises the sequencers of one organisation.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_core_tables::{create_indexes, drop_tables};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    EventId,
    OrgId,
    EventType,
    OccurredAt,
    Position,
    Body,
}

#[derive(DeriveIden)]
enum EventHeads {
    Table,
    OrgId,
    Position,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    // Insertion order: keeps the events of one transaction in
                    // the order they were written when they are sequenced.
                    .col(big_pk_auto(Events::Id))
                    // `evt_…`, what consumers see and deduplicate on.
                    .col(string(Events::EventId))
                    .col(string(Events::OrgId))
                    .col(string(Events::EventType))
                    .col(timestamp_with_time_zone(Events::OccurredAt))
                    .col(big_integer_null(Events::Position))
                    // The event as served, JSON text.
                    .col(text(Events::Body))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            Events::Table,
            vec![
                ("ux_events_event_id", vec![Events::EventId], true),
                // Readers page on it; unsequenced rows (NULL) are found on it.
                (
                    "ux_events_org_position",
                    vec![Events::OrgId, Events::Position],
                    true,
                ),
                ("ix_events_occurred_at", vec![Events::OccurredAt], false),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventHeads::Table)
                    .col(string(EventHeads::OrgId).primary_key())
                    .col(big_integer(EventHeads::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventHeads::Table, EventHeads::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![EventHeads::Table.into_iden(), Events::Table.into_iden()],
        )
        .await
    }
}
