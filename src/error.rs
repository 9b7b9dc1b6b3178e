//! `AppError`: the one error type of the service and its one mapping to HTTP.
//! SCIM routes render it as an RFC 7644 §3.12 body; the admin API and the
//! sign-in routes render the same variants as `{"error", "detail"}` through
//! [`ApiError`].

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
    /// 409 for a state that forbids the request (not a uniqueness clash).
    #[error("{0}")]
    Conflict(String),
    /// 401 for a failed password sign-in: one sentence whatever was wrong.
    #[error("the user name or password is not correct")]
    InvalidCredentials,
    /// 403: the account signs in through SSO, at `sso_url`.
    #[error("{detail}")]
    SsoRequired { detail: String, sso_url: String },
    /// 403: the account is deactivated.
    #[error("this account is deactivated; ask your administrator")]
    AccountDisabled,
    /// 429: too many failed sign-ins; try again after this many seconds.
    #[error("too many failed sign-in attempts; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// 400: a reset link that is unknown, used or expired.
    #[error("this password reset link is not valid: it is unknown, used or expired")]
    InvalidResetToken,
    #[error("{0}")]
    NotImplemented(String),
    /// 410: what the request asks for existed but is gone for good (an
    /// events cursor older than the retention).
    #[error("{0}")]
    Gone(String),
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
            | AppError::Conflict(_)
            | AppError::InvalidCredentials
            | AppError::SsoRequired { .. }
            | AppError::AccountDisabled
            | AppError::TooManyAttempts { .. }
            | AppError::InvalidResetToken
            | AppError::NotImplemented(_)
            | AppError::Gone(_)
            | AppError::Database(_)
            | AppError::Internal(_) => None,
        }
    }

    /// The `error` code of the admin API's and sign-in routes' JSON body.
    fn api_code(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "invalid_request",
            AppError::Uniqueness(_) | AppError::Conflict(_) | AppError::BulkReference(_) => {
                "conflict"
            }
            AppError::Unauthorized(_) => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Forbidden(_) => "forbidden",
            AppError::SsoRequired { .. } => "sso_required",
            AppError::AccountDisabled => "account_disabled",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::PreconditionFailed(_) => "precondition_failed",
            AppError::PayloadTooLarge { .. } | AppError::TooManyOperations { .. } => {
                "payload_too_large"
            }
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::TooManyAttempts { .. } => "too_many_attempts",
            AppError::InvalidResetToken => "invalid_token",
            AppError::NotImplemented(_) => "not_implemented",
            AppError::Gone(_) => "gone",
            AppError::Database(_) | AppError::Internal(_) => "internal_error",
        }
    }

    /// The admin API's body: `{"error": code, "detail": sentence}`.
    pub fn api_body(&self) -> serde_json::Value {
        let mut body = json!({"error": self.api_code(), "detail": self.public_detail()});
        if let AppError::SsoRequired { sso_url, .. } = self {
            body["sso_url"] = json!(sso_url);
        }
        body
    }

    /// The headers some statuses carry, whichever body they have.
    fn extra_headers(&self, response: &mut actix_web::HttpResponseBuilder) {
        match self {
            AppError::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            AppError::Unauthorized(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"scimlink\""),
                ));
            }
            AppError::TooManyAttempts { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
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
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::SsoRequired { .. } | AppError::AccountDisabled => StatusCode::FORBIDDEN,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::InvalidResetToken => StatusCode::BAD_REQUEST,
            AppError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        log_server_error(self);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        self.extra_headers(&mut response);
        response.body(self.scim_body().to_string())
    }
}

fn log_server_error(error: &AppError) {
    let status = error.status_code();
    if status.is_server_error() {
        // Log the cause chain inside; the body carries none of it.
        log::error!("{status}: {error:?}");
    }
}

/// An [`AppError`] as the admin API and the sign-in routes answer it:
/// `application/json` with `{"error", "detail"}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        log_server_error(&self.0);
        let mut response = HttpResponse::build(self.0.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/json"));
        self.0.extra_headers(&mut response);
        response.body(self.0.api_body().to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
