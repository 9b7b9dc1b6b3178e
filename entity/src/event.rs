//! The `events` table: the product events feed (a transactional outbox).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Insertion order, internal.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `evt_…`, as consumers see it.
    pub event_id: String,
    pub org_id: String,
    pub event_type: String,
    pub occurred_at: DateTimeUtc,
    /// Commit order within the organisation; NULL until sequenced.
    pub position: Option<i64>,
    /// The event as served, JSON text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
