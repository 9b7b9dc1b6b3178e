//! The `saml_assertion_ids` table: the SAML replay cache.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_assertion_ids")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub connection_id: String,
    /// SHA-256 of the assertion's `ID`; unique per connection.
    pub assertion_id_hash: String,
    pub created_at: DateTimeUtc,
    /// When the assertion stops being acceptable anyway; purged after.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
