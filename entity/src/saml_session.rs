//! The `saml_sessions` table: the SAML subject a session was opened for (single logout).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    pub org_id: String,
    pub connection_id: String,
    pub account_id: String,
    #[sea_orm(column_type = "Text")]
    pub name_id: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub name_id_format: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub session_index: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
