//! The `sso_requests` table: SP-initiated sign-ins waiting for the IdP's answer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 of the OIDC `state` (or the SAML request id).
    #[sea_orm(unique)]
    pub state_hash: String,
    /// SHA-256 of the cookie of the browser that started the sign-in.
    pub browser_hash: String,
    pub org_id: String,
    pub connection_id: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub return_to: String,
    /// The administrator testing the connection; `None` for a real sign-in.
    pub test_by: Option<String>,
    /// The address the sign-in was started from (pending ones are capped per address).
    pub client_address: Option<String>,
    /// SHA-256 of the session cookie the browser had when it started; that
    /// session ends when the sign-in completes.
    pub previous_session_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
