//! Webhooks (signed deliveries of the product events):
//! - `webhooks`: an organisation's endpoints, each with its secret sealed at
//!   rest (and the previous one while a rotation's overlap lasts) and its
//!   cursor into the organisation's event positions;
//! - `webhook_deliveries`: one row per (webhook, event), created from the
//!   feed in the transaction that advances the cursor, then claimed by a
//!   worker with a lease (`lease_until`) so an instance that dies leaves its
//!   work to the others.

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
enum Webhooks {
    Table,
    Id,
    OrgId,
    Url,
    Description,
    EventTypes,
    Enabled,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    Cursor,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    OrgId,
    EventId,
    EventType,
    Position,
    Subject,
    Body,
    Status,
    Attempts,
    LastStatus,
    LastError,
    NextAttemptAt,
    LeaseUntil,
    LeaseToken,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(string(Webhooks::Id).primary_key())
                    .col(string(Webhooks::OrgId))
                    .col(text(Webhooks::Url))
                    .col(text(Webhooks::Description))
                    // JSON array of types and prefixes; empty: every type.
                    .col(text(Webhooks::EventTypes))
                    .col(boolean(Webhooks::Enabled))
                    // Sealed (`SCIMLINK_SECRET_KEY`), never in clear.
                    .col(text(Webhooks::Secret))
                    .col(text_null(Webhooks::PreviousSecret))
                    .col(timestamp_with_time_zone_null(Webhooks::PreviousSecretUntil))
                    // The last event position turned into deliveries.
                    .col(big_integer(Webhooks::Cursor))
                    // Since when every attempt has failed (NULL: not failing).
                    .col(timestamp_with_time_zone_null(Webhooks::FailingSince))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            Webhooks::Table,
            vec![("ix_webhooks_org", vec![Webhooks::OrgId], false)],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    // Insertion order, which is the event order per webhook.
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(string(WebhookDeliveries::WebhookId))
                    .col(string(WebhookDeliveries::OrgId))
                    .col(string(WebhookDeliveries::EventId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(big_integer(WebhookDeliveries::Position))
                    // `account:<id>` / `group:<id>`: the order key.
                    .col(string_null(WebhookDeliveries::Subject))
                    .col(text(WebhookDeliveries::Body))
                    // pending, delivered, failed
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(integer_null(WebhookDeliveries::LastStatus))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    .col(string_null(WebhookDeliveries::LeaseToken))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            WebhookDeliveries::Table,
            vec![
                (
                    "ux_webhook_deliveries_event",
                    vec![WebhookDeliveries::WebhookId, WebhookDeliveries::EventId],
                    true,
                ),
                (
                    "ix_webhook_deliveries_due",
                    vec![WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt],
                    false,
                ),
                (
                    "ix_webhook_deliveries_subject",
                    vec![
                        WebhookDeliveries::WebhookId,
                        WebhookDeliveries::Subject,
                        WebhookDeliveries::Status,
                    ],
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
                WebhookDeliveries::Table.into_iden(),
                Webhooks::Table.into_iden(),
            ],
        )
        .await
    }
}
