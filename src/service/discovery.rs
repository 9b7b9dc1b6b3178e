//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7644 §4),
//! built from the schema definitions and the settings, so they describe
//! exactly what the server does.

use serde_json::{Value, json};

use super::AppState;
use crate::error::{AppError, AppResult};
use crate::scim::schema::{self, LIST_RESPONSE_URN, RESOURCE_TYPES, SPC_URN};

fn scim_base(state: &AppState) -> String {
    format!("{}/scim/v2", state.base_url)
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub fn service_provider_config(state: &AppState) -> Value {
    json!({
        "schemas": [SPC_URN],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": state.settings.max_bulk_operations,
            "maxPayloadSize": state.settings.max_body_bytes,
        },
        "filter": {"supported": true, "maxResults": state.settings.max_page_size},
        // RFC 9865 §4: how lists page.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": state.settings.default_page_size,
            "maxPageSize": state.settings.max_page_size,
        },
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a SCIM bearer token issued by scimlink (scimlink scim-token create).",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", scim_base(state)),
        },
    })
}

pub fn resource_types(state: &AppState) -> Value {
    list(
        RESOURCE_TYPES
            .iter()
            .map(|rt| {
                schema::resource_type_json(
                    rt,
                    &format!("{}/ResourceTypes/{}", scim_base(state), rt.id),
                )
            })
            .collect(),
    )
}

pub fn resource_type(state: &AppState, id: &str) -> AppResult<Value> {
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.id.eq_ignore_ascii_case(id))
        .map(|rt| {
            schema::resource_type_json(rt, &format!("{}/ResourceTypes/{}", scim_base(state), rt.id))
        })
        .ok_or_else(|| AppError::NotFound(format!("no resource type {id:?}")))
}

pub fn schemas(state: &AppState) -> Value {
    list(
        schema::all_schemas()
            .into_iter()
            .map(|s| schema::schema_json(s, &format!("{}/Schemas/{}", scim_base(state), s.id)))
            .collect(),
    )
}

pub fn schema(state: &AppState, id: &str) -> AppResult<Value> {
    schema::all_schemas()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| schema::schema_json(s, &format!("{}/Schemas/{}", scim_base(state), s.id)))
        .ok_or_else(|| AppError::NotFound(format!("no schema {id:?}")))
}

/// Whether the database answers (`/readyz`).
pub async fn ready(state: &AppState) -> AppResult<()> {
    Ok(state.db.ping().await?)
}
