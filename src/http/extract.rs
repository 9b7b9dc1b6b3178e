//! Request extractors. Each failure is an `AppError`, so a client sees an
//! RFC 7644 §3.12 body for a bad token, a bad body or a bad query alike.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, AppError};
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceTypeDef;
use crate::service::{self, AppState, OrgScope, RequestMeta};

fn state(req: &HttpRequest) -> Result<Data<AppState>, AppError> {
    req.app_data::<Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state is not configured".into()))
}

/// The request id the middleware gave this request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Where a request came from, for the audit log and throttling. The client
/// address is the peer's: a `Forwarded` header is not trusted, since any
/// client could write one to dodge the sign-in throttle.
pub fn request_meta(req: &HttpRequest) -> RequestMeta {
    let cookie = |name: &str| {
        req.cookie(name)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    };
    // Its own statement: the extensions' borrow must end before the cookies
    // are parsed (actix caches them in the same extensions).
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    RequestMeta {
        request_id,
        client_address: req.peer_addr().map(|a| a.ip().to_string()),
        browser: service::Browser {
            session_hash: cookie(super::auth::SESSION_COOKIE)
                .map(|s| crate::domain::secret::hash(&s)),
            device: cookie(super::auth::DEVICE_COOKIE),
        },
    }
}

pub(crate) fn bearer_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
}

/// The organisation of the request's SCIM bearer token.
pub struct ScimAuth(pub OrgScope);

impl FromRequest for ScimAuth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let bearer = bearer_of(req);
        let meta = request_meta(req);
        let state = state(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state?;
            let scope = service::tokens::authenticate(&state.db, bearer.as_deref(), meta).await?;
            // For the metrics of SCIM writes by token (the middleware).
            req.extensions_mut().insert(scope.actor.clone());
            Ok(ScimAuth(scope))
        })
    }
}

/// The organisation and role of the request's admin bearer token.
pub struct AdminAuth(pub OrgScope);

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let bearer = bearer_of(req);
        let meta = request_meta(req);
        let state = state(req);
        Box::pin(async move {
            let state = state?;
            let scope =
                service::admin_tokens::authenticate(&state.db, bearer.as_deref(), meta).await?;
            Ok(AdminAuth(scope))
        })
    }
}

/// The query string of an admin API request, into `T` (unknown names are a 400).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // No filter or cursor holds a NUL, and PostgreSQL refuses it in text.
        let has_nul = url::form_urlencoded::parse(req.query_string().as_bytes())
            .any(|(k, v)| k.contains('\0') || v.contains('\0'));
        if has_nul {
            return std::future::ready(Err(ApiError(AppError::invalid_value(
                "the query string holds a NUL character (%00)",
            ))));
        }
        let parsed = serde_urlencoded::from_str::<T>(req.query_string())
            .map(ApiQuery)
            .map_err(|e| {
                ApiError(AppError::invalid_value(format!(
                    "the query string is not valid: {e}"
                )))
            });
        std::future::ready(parsed)
    }
}

/// A JSON request body: `application/scim+json` or `application/json` (with
/// any charset), at most `max_body_bytes`. Extracting it reads nothing; the
/// handler calls [`ScimBody::json`] once the other extractors (the token
/// above all) have passed, so an unauthenticated client gets 401 and the
/// server never buffers its body.
pub struct ScimBody {
    payload: Payload,
    content_type: Option<String>,
    declared_length: Option<usize>,
    limit: usize,
}

impl ScimBody {
    /// Refuses (415) a body sent without a Content-Type, which [`Self::json`]
    /// otherwise reads as JSON. The sign-in endpoints require one: a page of
    /// another site can post a body with none and no CORS preflight (a Blob
    /// without a type), while `application/json` always needs the preflight.
    pub fn typed(self) -> Result<Self, AppError> {
        if self.content_type.is_none() {
            return Err(AppError::UnsupportedMediaType(
                "the request has no Content-Type; send the body as application/json".into(),
            ));
        }
        Ok(self)
    }

    pub async fn json(mut self) -> Result<Value, AppError> {
        let limit = self.limit;
        if let Some(ct) = &self.content_type
            && ct != "application/scim+json"
            && ct != "application/json"
        {
            return Err(AppError::UnsupportedMediaType(format!(
                "Content-Type {ct} is not accepted; send application/scim+json or application/json"
            )));
        }
        if self.declared_length.is_some_and(|len| len > limit) {
            return Err(AppError::PayloadTooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = self.payload.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::invalid_syntax(format!("the request body could not be read: {e}"))
            })?;
            if body.len() + chunk.len() > limit {
                return Err(AppError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::invalid_syntax(
                "the request body is empty; send a JSON object",
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            AppError::invalid_syntax(format!("the request body is not valid JSON: {e}"))
        })
    }

    /// The body as a typed admin API request: unknown fields and wrong types are a 400.
    pub async fn parse<T: DeserializeOwned>(self) -> Result<T, AppError> {
        let value = self.json().await?;
        // No name, id or setting holds a NUL, and PostgreSQL refuses it in text.
        if holds_nul(&value) {
            return Err(AppError::invalid_value(
                "the request body holds a NUL character (\\u0000)",
            ));
        }
        serde_json::from_value(value)
            .map_err(|e| AppError::invalid_value(format!("the request body is not valid: {e}")))
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

impl FromRequest for ScimBody {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = state(req).map(|state| ScimBody {
            payload: payload.take(),
            content_type: req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                }),
            declared_length: req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok()),
            limit: state.settings.max_body_bytes,
        });
        std::future::ready(body)
    }
}

/// The query string, with parameter names compared case-insensitively and
/// unknown parameters ignored (Entra appends its own).
pub struct ScimQuery(HashMap<String, String>);

impl ScimQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, AppError> {
        self.get(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    AppError::invalid_value(format!("{name} must be an integer, not {s:?}"))
                })
            })
            .transpose()
    }

    pub fn projection(&self, rt: &ResourceTypeDef) -> Result<Projection, AppError> {
        Ok(Projection::parse(
            rt,
            self.get("attributes"),
            self.get("excludedAttributes"),
        )?)
    }

    pub fn list_params(
        &self,
        rt: &ResourceTypeDef,
    ) -> Result<service::listing::ListParams, AppError> {
        let descending = match self.get("sortOrder").map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(AppError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {o:?}"
                )));
            }
        };
        Ok(service::listing::ListParams {
            filter: self.get("filter").map(str::to_string),
            sort_by: self.get("sortBy").map(str::to_string),
            descending,
            start_index: self.integer("startIndex")?,
            count: self.integer("count")?,
            cursor: self.get("cursor").map(str::to_string),
            projection: self.projection(rt)?,
        })
    }
}

impl FromRequest for ScimQuery {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map(|pairs| {
                ScimQuery(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v))
                        .collect(),
                )
            })
            .map_err(|e| AppError::invalid_syntax(format!("the query string is malformed: {e}")));
        std::future::ready(parsed)
    }
}

/// A request header as text, if present and readable.
pub fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
