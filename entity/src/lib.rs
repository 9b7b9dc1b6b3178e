//! sea-orm entities: one module per table, no business logic.

pub mod account;
pub mod account_email;
pub mod group;
pub mod group_member;
pub mod organization;
pub mod scim_token;
pub mod workspace;
