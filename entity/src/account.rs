//! The `accounts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub user_name: String,
    pub user_name_lower: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub display_name_lower: Option<String>,
    pub primary_email: Option<String>,
    pub primary_email_lower: Option<String>,
    pub active: bool,
    pub auth_mode: String,
    pub password_hash: Option<String>,
    pub break_glass: bool,
    /// The SCIM attributes as JSON text (no id, meta, schemas or password).
    #[sea_orm(column_type = "Text")]
    pub resource: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set by support staff; `None`: derived from externalId, email or userName.
    pub external_user_id: Option<String>,
    /// The effective External user ID as SSO subjects are compared with it.
    pub external_user_id_key: Option<String>,
    /// `scim`, `admin`, `cli` or `jit`.
    pub source: String,
    /// The last SSO sign-in.
    pub last_sign_in_at: Option<DateTimeUtc>,
    /// `none`, `support` or `admin`: who may use the dashboard.
    pub org_role: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
