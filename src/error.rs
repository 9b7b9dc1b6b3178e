//! `AppError`: the one error type of the service and its one mapping to HTTP.
//! Every error is an RFC 7644 §3.12 body (the admin API, when it comes, will
//! render the same variants as its own JSON).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::scim::ProtocolError;
pub use crate::scim::ScimType;

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A 400 the client can fix; `detail` says how.
    #[error("{detail}")]
    BadRequest { scim_type: ScimType, detail: String },
    /// 409: a uniqueness clash (RFC 7644 §3.3).
    #[error("{0}")]
    Uniqueness(String),
    /// 409 `invalidValue`: a Bulk operation's `bulkId` reference that cannot
    /// be resolved (RFC 7644 §3.7.3).
    #[error("{0}")]
    BulkReference(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 405; `allow` lists the methods the path serves.
    #[error("this path serves only {allow}")]
    MethodNotAllowed { allow: String },
    /// 412: `If-Match` did not match the current version (RFC 7644 §3.14).
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 413: a Bulk request with more operations than `maxOperations` (RFC 7644 §3.7.4).
    #[error("a Bulk request may carry at most {limit} operations")]
    TooManyOperations { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotImplemented(String),
    /// The database refused or failed; the text stays in the log, never in a body.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// Something on our side that is not the database (a panic in a blocking task, a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<ProtocolError> for AppError {
    fn from(e: ProtocolError) -> Self {
        AppError::BadRequest {
            scim_type: e.scim_type,
            detail: e.detail,
        }
    }
}

impl AppError {
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }

    fn scim_type(&self) -> Option<ScimType> {
        match self {
            AppError::BadRequest { scim_type, .. } => Some(*scim_type),
            AppError::Uniqueness(_) => Some(ScimType::Uniqueness),
            AppError::BulkReference(_) => Some(ScimType::InvalidValue),
            AppError::Unauthorized(_)
            | AppError::Forbidden(_)
            | AppError::NotFound(_)
            | AppError::MethodNotAllowed { .. }
            | AppError::PreconditionFailed(_)
            | AppError::PayloadTooLarge { .. }
            | AppError::TooManyOperations { .. }
            | AppError::UnsupportedMediaType(_)
            | AppError::NotImplemented(_)
            | AppError::Database(_)
            | AppError::Internal(_) => None,
        }
    }

    /// The RFC 7644 §3.12 body of this error, as responses and Bulk results carry it.
    pub fn scim_body(&self) -> serde_json::Value {
        let status = self.status_code();
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": status.as_u16().to_string(),
            "detail": self.public_detail(),
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = json!(scim_type.as_str());
        }
        body
    }

    /// What the client reads. Server-side failures get a fixed sentence.
    fn public_detail(&self) -> String {
        match self {
            AppError::Database(_) | AppError::Internal(_) => {
                "The server could not complete the request; it has been logged.".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Uniqueness(_) | AppError::BulkReference(_) => StatusCode::CONFLICT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            AppError::PayloadTooLarge { .. } | AppError::TooManyOperations { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // Log the cause chain inside; the body below carries none of it.
            log::error!("{status}: {self:?}");
        }
        let body = self.scim_body();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        if let AppError::MethodNotAllowed { allow } = self
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.insert_header((header::ALLOW, value));
        }
        if matches!(self, AppError::Unauthorized(_)) {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimlink\""),
            ));
        }
        response.body(body.to_string())
    }
}
