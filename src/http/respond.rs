//! Building SCIM responses: `application/scim+json`, `ETag`, `Location`.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use serde_json::Value;

use crate::error::SCIM_CONTENT_TYPE;
use crate::service::Resource;

pub fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE))
        .body(body.to_string())
}

/// A resource with its version in `ETag` (RFC 7644 §3.14); a 201 also
/// carries `Location`, equal to `meta.location` (§3.3).
pub fn resource(status: StatusCode, resource: &Resource) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE))
        .insert_header((header::ETAG, resource.etag.clone()));
    if status == StatusCode::CREATED {
        response.insert_header((header::LOCATION, resource.location.clone()));
    }
    response.body(resource.body.to_string())
}

pub fn not_modified(etag: String) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, etag))
        .finish()
}
