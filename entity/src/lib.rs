//! sea-orm entities: one module per table, no business logic.

pub mod account;
pub mod account_email;
pub mod admin_token;
pub mod audit_event;
pub mod audit_suppression;
pub mod event;
pub mod event_head;
pub mod group;
pub mod group_member;
pub mod identity_link;
pub mod known_device;
pub mod organization;
pub mod outbox_message;
pub mod password_reset;
pub mod saml_assertion_id;
pub mod saml_logout_request;
pub mod saml_session;
pub mod saml_sp_key;
pub mod scim_token;
pub mod session;
pub mod sign_in_failure;
pub mod sso_connection;
pub mod sso_request;
pub mod workspace;
pub mod workspace_member;
