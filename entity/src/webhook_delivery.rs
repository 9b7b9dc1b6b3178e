//! The `webhook_deliveries` table: one event to send to one webhook.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: String,
    pub org_id: String,
    pub event_id: String,
    pub event_type: String,
    pub position: i64,
    /// `account:<id>` / `group:<id>`: deliveries of one subject go in order.
    pub subject: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// `pending`, `delivered`, `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_token: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
