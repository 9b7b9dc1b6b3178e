//! The `saml_sp_keys` table: a SAML connection's own key pairs (signing, encryption).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_sp_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub connection_id: String,
    /// `signing` or `encryption`.
    pub key_use: String,
    /// PKCS#8 PEM; a secret.
    #[sea_orm(column_type = "Text")]
    pub private_key_pem: String,
    /// Base64 DER of the self-signed certificate.
    #[sea_orm(column_type = "Text")]
    pub certificate_der: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
