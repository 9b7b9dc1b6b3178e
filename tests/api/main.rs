//! The one integration-test binary: real HTTP against a real database.

mod helpers;

mod admin_api;
mod auth_modes;
mod bulk;
mod cli;
mod dashboard;
mod discovery;
mod errors;
mod events;
mod groups;
mod hardening;
mod idp_entra;
mod idp_jumpcloud;
mod idp_okta;
mod idp_onelogin;
mod limits;
mod metrics;
mod migrations;
mod oidc_cache;
mod oidc_idp;
mod openapi;
mod outbound;
mod races;
mod replay;
mod saml_idp;
mod saml_sp;
mod sealed_secrets;
mod search;
mod sso_oidc;
mod sso_saml;
mod statistics;
mod tenancy;
mod users_crud;
mod users_list;
mod users_patch;
