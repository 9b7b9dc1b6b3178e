//! scimlink: a SCIM 2.0 provisioning server with SSO account linking.

pub mod cli;
pub mod clock;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod scim;
pub mod service;
pub mod settings;
pub mod startup;
pub mod store;
