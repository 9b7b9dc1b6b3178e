//! The `sso_connections` table: an organisation's SAML and OIDC identity providers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// `saml` or `oidc`.
    pub kind: String,
    pub display_name: String,
    pub enabled: bool,
    /// `external_user_id`, `email` or `user_name`.
    pub match_on: String,
    /// `inherit`, `on` or `off`.
    pub jit: String,
    /// JSON array of lower-cased domains; empty accepts any.
    #[sea_orm(column_type = "Text")]
    pub email_domains: String,
    pub workspace_id: Option<String>,
    pub role: String,
    /// The OIDC issuer or the SAML IdP entity id.
    pub issuer: String,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<String>,
    pub oidc_scopes: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub saml_idp_metadata_xml: Option<String>,
    pub saml_idp_sso_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub saml_idp_certificates: Option<String>,
    pub saml_allow_idp_initiated: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
