//! `openapi.yaml` against the route table and the running server: the spec
//! names every served route and nothing else, each documented operation
//! answers over HTTP with a status, headers, content type and (for the
//! admin API and sign-in) a JSON body the spec declares, the security the
//! spec names is the one the server enforces, and the document is served at
//! `/openapi.yaml`.
//!
//! Two families of routes: the SCIM ones (and the health checks) answer
//! errors as an RFC 7644 `ScimError`; those under `/api/` and `/auth/`
//! answer them as an `ApiError` in `application/json`.

use std::collections::BTreeSet;

use reqwest::{Method, Response, StatusCode};
use scimlink::domain::secret::ConfiguredSecret;
use serde_json::{Value, json};

use crate::helpers::{METRICS_TOKEN, SCIM, TestApp, content_type, patch_op, spawn_app_with};

/// The document the server embeds and serves.
const SPEC: &str = include_str!("../../openapi.yaml");
/// The route table's source, to read each route's handler name.
const ROUTES_SOURCE: &str = include_str!("../../src/http/mod.rs");
/// The HTTP methods an OpenAPI path item may hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const SCHEMA_USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCHEMA_GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const SCIM_ERROR_REF: &str = "#/components/schemas/ScimError";
const API_ERROR_REF: &str = "#/components/schemas/ApiError";
const INVALID_CREDENTIALS_REF: &str = "#/components/responses/InvalidCredentials";
/// The media type of every body of the admin API and sign-in.
const JSON: &str = "application/json";
const SESSION_COOKIE: &str = "scimlink_session";
/// The password the test accounts are given.
const PASSWORD: &str = "correct horse battery staple";

/// A server with the metrics token set, so `/metrics` answers like the
/// other operations.
async fn spawn_app() -> TestApp {
    spawn_app_with(|s| {
        s.metrics_token = Some(ConfiguredSecret::parse(METRICS_TOKEN).expect("a metrics token"))
    })
    .await
}

/// Whether `path` is of the admin API or sign-in (`ApiError` family).
fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/auth/")
}

/// A disabled OIDC connection (an enabled one must reach its provider).
fn connection_body() -> Value {
    json!({"type": "oidc", "display_name": unique("OpenAPI"), "issuer": "https://idp.example.com",
           "client_id": "openapi", "client_secret": "openapi-secret"})
}

/// Whether `path` is a page for a browser (`/login`, `/sso`, the dashboard
/// and its neighbours): HTML and redirects, errors included.
/// tests/api/sso_oidc.rs, sso_saml.rs and dashboard.rs drive these; here
/// they are held to answering `text/html` errors.
fn is_page_path(path: &str) -> bool {
    path.starts_with("/login/")
        || path.starts_with("/sso/")
        || path == "/admin"
        || path.starts_with("/admin/")
        || matches!(path, "/" | "/reset-password" | "/sign-out")
}

/// What an operation's `security` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Auth {
    /// `security: []`.
    None,
    /// `scimBearer`: a SCIM token.
    ScimBearer,
    /// `adminBearer: []` (an admin or a support token) or
    /// `adminBearer: [admin]` (admin-only: a support token gets 403).
    AdminBearer { admin_only: bool },
    /// `sessionCookie`; optional when an empty requirement `{}` is listed too.
    Session { optional: bool },
    /// `metricsBearer`: the metrics token the server was started with.
    MetricsBearer,
}

impl Auth {
    fn requires_credentials(self) -> bool {
        !matches!(self, Auth::None | Auth::Session { optional: true })
    }
}

/// One operation of the spec.
struct Operation<'a> {
    /// Upper case, as `Method::as_str` spells it.
    method: String,
    /// As in the spec, with `{id}`.
    path: String,
    op: &'a Value,
}

impl<'a> Operation<'a> {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn operation_id(&self) -> Option<&str> {
        self.op["operationId"].as_str()
    }

    fn is_api(&self) -> bool {
        is_api_path(&self.path)
    }

    fn has_request_body(&self) -> bool {
        self.op.get("requestBody").is_some()
    }

    /// The operation's own `security`, else the document's.
    fn auth(&self, spec: &Value) -> Auth {
        let name = self.name();
        let security = self.op.get("security").unwrap_or(&spec["security"]);
        let requirements = security
            .as_array()
            .unwrap_or_else(|| panic!("{name}: `security` must be a list, found {security}"));
        let optional = requirements
            .iter()
            .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
        let schemes: Vec<(&String, &Value)> = requirements
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| o.iter())
            .collect();
        let [(scheme, roles)] = schemes.as_slice() else {
            assert!(
                schemes.is_empty(),
                "{name}: one security scheme per operation is expected, found {security}"
            );
            assert!(
                !optional,
                "{name}: `security: [{{}}]` alone; write `security: []`"
            );
            return Auth::None;
        };
        let roles: Vec<&str> = roles
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {scheme} must list roles in an array"))
            .iter()
            .map(|r| r.as_str().expect("a role name"))
            .collect();
        match (scheme.as_str(), roles.as_slice(), optional) {
            ("scimBearer", [], false) => Auth::ScimBearer,
            ("adminBearer", [], false) => Auth::AdminBearer { admin_only: false },
            ("adminBearer", ["admin"], false) => Auth::AdminBearer { admin_only: true },
            ("sessionCookie", [], optional) => Auth::Session { optional },
            ("metricsBearer", [], false) => Auth::MetricsBearer,
            _ => panic!("{name}: security {security} is not one this test knows"),
        }
    }

    /// The response object (with its `$ref` followed) for `status`.
    fn response(&self, spec: &'a Value, status: StatusCode) -> Option<&'a Value> {
        let declared = self.op["responses"].get(status.as_str())?;
        Some(resolve(spec, declared))
    }

    fn declared_statuses(&self) -> Vec<String> {
        self.op["responses"]
            .as_object()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn declares(&self, status: &str) -> bool {
        self.op["responses"].get(status).is_some()
    }
}

fn spec() -> Value {
    serde_yaml_ng::from_str(SPEC).expect(
        "openapi.yaml must be valid YAML with string keys (quote status codes such as '200')",
    )
}

/// Follows local `$ref`s (`#/...`) until a value that is not a reference.
fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').unwrap_or_else(|| {
                    panic!("only local references are expected, found {reference}")
                });
                value = spec
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("openapi.yaml: {reference} points at nothing"));
            }
            None => return value,
        }
    }
    panic!("openapi.yaml: a $ref chain is too long (a cycle?)");
}

fn operations(spec: &Value) -> Vec<Operation<'_>> {
    let paths = spec["paths"]
        .as_object()
        .expect("openapi.yaml must have a `paths` object");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("openapi.yaml: paths.{path} must be an object"));
        for (key, op) in item {
            if METHODS.contains(&key.as_str()) {
                out.push(Operation {
                    method: key.to_ascii_uppercase(),
                    path: path.clone(),
                    op,
                });
            }
        }
    }
    out
}

fn spec_routes(spec: &Value) -> BTreeSet<(String, String)> {
    operations(spec)
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect()
}

fn served_routes() -> BTreeSet<(String, String)> {
    scimlink::http::routes()
        .into_iter()
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .collect()
}

fn list(routes: &BTreeSet<&(String, String)>) -> String {
    if routes.is_empty() {
        return "  (none)".into();
    }
    routes
        .iter()
        .map(|(m, p)| format!("  {m} {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The handler each route of `routes()` is built with, read from its source:
/// after `r(Method::GET, "/path"`, the function named by the next `.to(...)`.
/// Whitespace is dropped first, so however rustfmt breaks a call it reads the same.
fn handler_names() -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let source: String = ROUTES_SOURCE
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut rest = source.as_str();
    // rustfmt writes `r(Method::X, "...", ...)` on one line, or `r(` with
    // `Method::X,` on the next when the path is long: read both.
    while let Some(at) = rest
        .find("r(Method::")
        .into_iter()
        .chain(rest.find("r(\n"))
        .min()
    {
        rest = &rest[at + "r(".len()..];
        let Some(method_at) = rest.find("Method::") else {
            break;
        };
        rest = &rest[method_at + "Method::".len()..];
        let method_end = rest.find(',').expect("a method in r(Method::X, ...)");
        let method = rest[..method_end].trim().to_string();
        let path_start = rest.find('"').expect("a path literal after the method") + 1;
        let path_len = rest[path_start..].find('"').expect("a closed path literal");
        let path = rest[path_start..path_start + path_len].to_string();
        let to = rest.find(".to(").expect("a handler: .to(module::handler)") + ".to(".len();
        let handler_len = rest[to..].find(')').expect("a closed .to(...)");
        let handler = rest[to..to + handler_len].trim();
        let name = handler.rsplit("::").next().unwrap_or(handler).to_string();
        out.insert((method, path, name));
    }
    out
}

/// A concrete path for a SCIM spec path: `{id}` becomes something worth
/// asking for (an unknown id for a User or Group).
fn concrete_path(path: &str, unknown_id: &str) -> String {
    let id = if path.starts_with("/scim/v2/ResourceTypes/") {
        "User"
    } else if path.starts_with("/scim/v2/Schemas/") {
        SCHEMA_USER_URN
    } else if path.starts_with("/scim/v2/Users/") || path.starts_with("/scim/v2/Groups/") {
        unknown_id
    } else {
        "x"
    };
    let concrete = path.replace("{id}", id);
    assert!(
        !concrete.contains('{'),
        "{path} has a path parameter other than {{id}}; teach concrete_path about it"
    );
    concrete
}

/// The path parameters of the admin API: each is a UUID.
const API_PATH_PARAMETERS: &[&str] = &["{id}", "{link_id}", "{account_id}", "{session_id}"];

/// A concrete admin API path whose every id is a fresh UUID: nothing there.
fn unknown_api_path(path: &str) -> String {
    let mut concrete = path.to_string();
    for parameter in API_PATH_PARAMETERS {
        concrete = concrete.replace(parameter, &uuid::Uuid::new_v4().to_string());
    }
    assert!(
        !concrete.contains('{'),
        "{path} has a path parameter other than {API_PATH_PARAMETERS:?}; teach the test about it"
    );
    concrete
}

/// A small, valid body for a SCIM method that takes one.
fn scim_body_for(method: &str, path: &str) -> Option<Value> {
    match method {
        "POST" if path.ends_with("/.search") => Some(json!({"schemas": [SEARCH_REQUEST_URN]})),
        "POST" if path == "/scim/v2/Bulk" => Some(json!({
            "schemas": [BULK_REQUEST_URN],
            "Operations": [{
                "method": "POST",
                "path": "/Users",
                "bulkId": "probe",
                "data": {
                    "schemas": [SCHEMA_USER_URN],
                    "userName": format!("openapi-{}@example.com", uuid::Uuid::new_v4().simple()),
                },
            }],
        })),
        "POST" | "PUT" if path.starts_with("/scim/v2/Users") => Some(json!({
            "schemas": [SCHEMA_USER_URN],
            "userName": format!("openapi-{}@example.com", uuid::Uuid::new_v4().simple()),
            "active": true,
        })),
        "POST" | "PUT" if path.starts_with("/scim/v2/Groups") => Some(json!({
            "schemas": [SCHEMA_GROUP_URN],
            "displayName": "OpenAPI Probe",
        })),
        "PATCH" => Some(patch_op(
            json!([{"op": "replace", "path": "displayName", "value": "OpenAPI Probe"}]),
        )),
        "POST" | "PUT" => Some(json!({})),
        _ => None,
    }
}

/// A name no other call of the test uses.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// What a request carries to authenticate.
#[derive(Clone, Debug)]
enum Creds {
    Nothing,
    Bearer(String),
    /// The value of the `scimlink_session` cookie.
    Cookie(String),
}

/// Sends `body` (if any) as `application/json` under `/api/` and `/auth/`,
/// as `application/scim+json` elsewhere.
async fn send(
    app: &TestApp,
    creds: &Creds,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = app.client.request(method, app.url(path));
    match creds {
        Creds::Nothing => {}
        Creds::Bearer(token) => request = request.bearer_auth(token),
        Creds::Cookie(value) => {
            request = request.header("cookie", format!("{SESSION_COOKIE}={value}"));
        }
    }
    if let Some(body) = body {
        let media = if is_api_path(path) { JSON } else { SCIM };
        request = request.header("content-type", media).body(body.to_string());
    }
    request.send().await.expect("the request is sent")
}

/// What a response carried, with its body as text.
struct Answer {
    status: StatusCode,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: String,
    /// The answer to a HEAD: no body to check.
    head: bool,
}

impl Answer {
    async fn of(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.text().await.expect("a readable body");
        Self {
            status,
            content_type,
            headers,
            body,
            head: false,
        }
    }

    async fn head(response: Response) -> Self {
        Self {
            head: true,
            ..Self::of(response).await
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("a JSON body ({e}), got {:?}", self.body))
    }

    fn detail(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|b| b["detail"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// An `ApiError`'s `error`.
    fn error(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|b| b["error"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The router's answer for a path no route serves.
    fn is_unknown_route(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.detail().starts_with("no route for")
    }
}

/// The `ApiError` codes each status may carry (the contract's list).
fn api_error_codes(status: StatusCode) -> &'static [&'static str] {
    match status.as_u16() {
        400 => &["invalid_request", "invalid_token"],
        401 => &["unauthorized", "invalid_credentials"],
        403 => &["forbidden", "sso_required", "account_disabled"],
        404 => &["not_found"],
        405 => &["method_not_allowed"],
        409 => &["conflict"],
        413 => &["payload_too_large"],
        415 => &["unsupported_media_type"],
        429 => &["too_many_attempts"],
        500 => &["internal_error"],
        _ => &[],
    }
}

/// Asserts `answer` is a response the spec declares for `operation`: its
/// status is listed, its content type is one the response declares, every
/// header the response declares is present, and a JSON body matches the
/// declared schema (and, for an `ApiError`, carries a code of its status).
fn assert_documented<'a>(
    spec: &'a Value,
    operation: &Operation<'a>,
    answer: &Answer,
    context: &str,
) {
    let name = operation.name();
    let Some(response) = operation.response(spec, answer.status) else {
        panic!(
            "{name} ({context}) answered {} but openapi.yaml declares only {:?} for it; body: {}",
            answer.status,
            operation.declared_statuses(),
            answer.body
        );
    };
    let media = answer
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match response.get("content").and_then(Value::as_object) {
        Some(content) => {
            assert!(
                content.contains_key(&media),
                "{name} ({context}) answered {} with Content-Type {:?}, but openapi.yaml declares {:?}",
                answer.status,
                answer.content_type,
                content.keys().collect::<Vec<_>>()
            );
            if media == JSON && !answer.head {
                let body: Value = serde_json::from_str(&answer.body).unwrap_or_else(|e| {
                    panic!(
                        "{name} ({context}) answered {} with a body that is not JSON ({e}): {:?}",
                        answer.status, answer.body
                    )
                });
                let schema = &content[JSON]["schema"];
                if let Err(mismatch) = check_schema(spec, schema, &body, "body") {
                    panic!(
                        "{name} ({context}) answered {} with a body openapi.yaml does not allow: \
                         {mismatch}\nbody: {body}",
                        answer.status
                    );
                }
            }
        }
        None => assert!(
            answer.body.is_empty(),
            "{name} ({context}) answered {} with a body, but openapi.yaml declares none: {:?}",
            answer.status,
            answer.body
        ),
    }
    if let Some(headers) = response.get("headers").and_then(Value::as_object) {
        for header in headers.keys() {
            assert!(
                answer
                    .headers
                    .contains_key(header.to_ascii_lowercase().as_str()),
                "{name} ({context}) answered {} without the {header} header openapi.yaml declares",
                answer.status
            );
        }
    }
    if operation.is_api() && answer.status.as_u16() >= 400 && !answer.head {
        let error = answer.error();
        assert!(
            api_error_codes(answer.status).contains(&error.as_str()),
            "{name} ({context}) answered {} with error {error:?}; the contract allows {:?} for it",
            answer.status,
            api_error_codes(answer.status)
        );
        assert_eq!(
            answer.json().get("sso_url").is_some(),
            error == "sso_required",
            "{name} ({context}): `sso_url` comes with `sso_required`, and only with it: {}",
            answer.body
        );
    }
}

/// Whether `value` is an RFC 3339 UTC time with milliseconds, as the admin
/// API writes every time: `2026-11-22T10:00:00.000Z`.
fn is_timestamp(value: &str) -> bool {
    let shape = value.len() == 24
        && value.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    shape && chrono::DateTime::parse_from_rfc3339(value).is_ok()
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("openapi.yaml: unknown JSON Schema type {other:?}"),
    }
}

/// Checks `value` against `schema` (a schema of openapi.yaml, `$ref`s
/// followed). Knows the keywords the admin API and sign-in schemas use and
/// fails the test on any other, so no constraint is skipped in silence.
/// `pattern` is accepted only beside `format: date-time`, whose check
/// (`is_timestamp`) is the pattern's.
fn check_schema(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(spec, schema);
    let keywords = schema
        .as_object()
        .unwrap_or_else(|| panic!("openapi.yaml: the schema at {at} is not an object: {schema}"));
    for (keyword, expected) in keywords {
        match keyword.as_str() {
            "description" | "example" | "examples" | "default" | "readOnly" | "writeOnly"
            | "title" => {}
            "type" => {
                let types: Vec<&str> = match expected {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    other => panic!("openapi.yaml: `type` {other} at {at}"),
                };
                if !types.iter().any(|t| is_type(value, t)) {
                    return Err(format!("{at}: {value} is not of type {expected}"));
                }
            }
            "enum" => {
                let allowed = expected.as_array().expect("`enum` is a list");
                if !allowed.contains(value) {
                    return Err(format!("{at}: {value} is not one of {expected}"));
                }
            }
            "const" => {
                if value != expected {
                    return Err(format!("{at}: {value} is not {expected}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for field in expected.as_array().expect("`required` is a list") {
                        let field = field.as_str().expect("a field name");
                        if !object.contains_key(field) {
                            return Err(format!("{at}: the required field `{field}` is missing"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    let properties = expected.as_object().expect("`properties` is an object");
                    for (field, sub) in properties {
                        if let Some(v) = object.get(field) {
                            check_schema(spec, sub, v, &format!("{at}.{field}"))?;
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let listed = keywords.get("properties").and_then(Value::as_object);
                    for (field, v) in object {
                        if listed.is_some_and(|l| l.contains_key(field)) {
                            continue;
                        }
                        match expected {
                            Value::Bool(true) => {}
                            Value::Bool(false) => {
                                return Err(format!("{at}: `{field}` is not allowed"));
                            }
                            sub => check_schema(spec, sub, v, &format!("{at}.{field}"))?,
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        check_schema(spec, expected, item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let Some(items) = value.as_array() {
                    let bound = expected.as_u64().expect("a count") as usize;
                    let fits = if keyword == "minItems" {
                        items.len() >= bound
                    } else {
                        items.len() <= bound
                    };
                    if !fits {
                        return Err(format!(
                            "{at}: {} items break {keyword} {bound}",
                            items.len()
                        ));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let Some(n) = value.as_f64() {
                    let bound = expected.as_f64().expect("a number");
                    let fits = if keyword == "minimum" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !fits {
                        return Err(format!("{at}: {n} breaks {keyword} {bound}"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let Some(s) = value.as_str() {
                    let bound = expected.as_u64().expect("a length") as usize;
                    let length = s.chars().count();
                    let fits = if keyword == "minLength" {
                        length >= bound
                    } else {
                        length <= bound
                    };
                    if !fits {
                        return Err(format!("{at}: {s:?} breaks {keyword} {bound}"));
                    }
                }
            }
            "format" => {
                if let Some(s) = value.as_str() {
                    let fits = match expected.as_str().expect("a format name") {
                        "date-time" => is_timestamp(s),
                        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
                        "uri-reference" | "password" => true,
                        other => {
                            panic!("openapi.yaml: format {other:?} at {at}; teach check_schema")
                        }
                    };
                    if !fits {
                        return Err(format!("{at}: {s:?} is not a {expected}"));
                    }
                }
            }
            "pattern" => assert_eq!(
                keywords.get("format").and_then(Value::as_str),
                Some("date-time"),
                "openapi.yaml: `pattern` at {at}: this test checks patterns only through `format: date-time`"
            ),
            "oneOf" | "anyOf" | "allOf" => {
                let branches = expected.as_array().expect("a list of schemas");
                let results: Vec<Result<(), String>> = branches
                    .iter()
                    .map(|b| check_schema(spec, b, value, at))
                    .collect();
                let passed = results.iter().filter(|r| r.is_ok()).count();
                let fits = match keyword.as_str() {
                    "oneOf" => passed == 1,
                    "anyOf" => passed >= 1,
                    _ => passed == branches.len(),
                };
                if !fits {
                    let reasons: Vec<String> =
                        results.into_iter().filter_map(Result::err).collect();
                    return Err(format!(
                        "{at}: {value} does not fit {keyword} ({passed} of {} branches fit: {reasons:?})",
                        branches.len()
                    ));
                }
            }
            other => panic!("openapi.yaml uses `{other}` at {at}; teach check_schema about it"),
        }
    }
    Ok(())
}

fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> Operation<'a> {
    operations(spec)
        .into_iter()
        .find(|o| o.method == method && o.path == path)
        .unwrap_or_else(|| panic!("openapi.yaml has no {method} {path}"))
}

/// Sends `body` with the app's admin token and returns the answer.
async fn admin_call(app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let creds = Creds::Bearer(app.admin_token.clone());
    Answer::of(send(app, &creds, method, path, body).await).await
}

/// `admin_call` that must succeed; its JSON body (null when it has none).
async fn admin_ok(app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> Value {
    let answer = admin_call(app, method, path, body).await;
    assert!(
        answer.status.is_success(),
        "{method} {path} with the admin token answered {}: {}",
        answer.status,
        answer.body
    );
    if answer.body.is_empty() {
        Value::Null
    } else {
        answer.json()
    }
}

/// The `token` of a reset link, which must be `<public URL>/reset-password?token=...`.
fn reset_token_of(app: &TestApp, url: &str) -> String {
    let prefix = format!("{}/reset-password?", app.address);
    let query = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("a reset link is {prefix}token=..., got {url:?}"));
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).expect("a reset link's query string");
    pairs
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("a reset link carries token=...: {url:?}"))
}

/// A new reset link's token for a password account, through the admin API.
async fn reset_token(app: &TestApp, account_id: &str) -> String {
    let link = admin_ok(
        app,
        "POST",
        &format!("/api/v1/accounts/{account_id}/password-reset"),
        None,
    )
    .await;
    reset_token_of(app, link["reset_url"].as_str().expect("a reset_url"))
}

/// The value `Set-Cookie` gives the session cookie, if it sets it.
fn session_cookie_of(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
}

fn identity_body() -> Value {
    json!({"issuer": "https://idp.example.com", "subject": unique("subject")})
}

fn workspace_body() -> Value {
    json!({"slug": unique("ws"), "name": "OpenAPI Probe"})
}

/// An account that signs in with a password, and ways to make whatever
/// the admin API and sign-in operations need to answer with success.
struct Fixture<'a> {
    app: &'a TestApp,
    account_id: String,
    user_name: String,
}

impl<'a> Fixture<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let (account_id, user_name) = password_account(app, "openapi-signin").await;
        Self {
            app,
            account_id,
            user_name,
        }
    }

    async fn new_account(&self) -> String {
        new_account(self.app).await
    }

    /// A new session of the fixture's account: the cookie's value.
    async fn login(&self) -> String {
        let body = json!({
            "org": self.app.org.slug,
            "user_name": self.user_name,
            "password": PASSWORD,
        });
        let answer = Answer::of(
            send(
                self.app,
                &Creds::Nothing,
                "POST",
                "/auth/password/login",
                Some(&body),
            )
            .await,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "login: {}", answer.body);
        session_cookie_of(&answer).expect("login sets the session cookie")
    }

    /// The credentials the spec asks `operation` for, valid ones.
    async fn credentials(&self, spec: &Value, operation: &Operation<'_>) -> Creds {
        match operation.auth(spec) {
            Auth::None => Creds::Nothing,
            Auth::ScimBearer => Creds::Bearer(self.app.token.clone()),
            Auth::AdminBearer { .. } => Creds::Bearer(self.app.admin_token.clone()),
            Auth::Session { .. } => Creds::Cookie(self.login().await),
            Auth::MetricsBearer => Creds::Bearer(METRICS_TOKEN.to_string()),
        }
    }

    /// A small, valid body for an admin API or sign-in operation that takes
    /// one (a fresh reset token for a reset, the fixture's password for a
    /// login), none for those that take none.
    async fn body_for(&self, operation: &Operation<'_>) -> Option<Value> {
        let name = operation.name();
        let body = match (operation.method.as_str(), operation.path.as_str()) {
            ("PATCH", "/api/v1/org") => json!({"name": "Acme"}),
            ("POST", "/api/v1/accounts") => {
                json!({"user_name": format!("{}@example.com", unique("openapi"))})
            }
            ("PATCH", "/api/v1/accounts/{id}") => json!({"display_name": "OpenAPI Probe"}),
            ("PUT", "/api/v1/accounts/{id}/auth-mode") => json!({"mode": "password"}),
            ("PUT", "/api/v1/accounts/{id}/break-glass") => json!({"enabled": true}),
            ("PUT", "/api/v1/accounts/{id}/org-role") => json!({"role": "support"}),
            ("PUT", "/api/v1/accounts/{id}/external-user-id") => json!({"value": unique("ext")}),
            ("POST", "/api/v1/accounts/{id}/identities") => identity_body(),
            ("POST", "/api/v1/workspaces") => workspace_body(),
            ("PATCH", "/api/v1/workspaces/{id}") => json!({"name": "OpenAPI Probe"}),
            ("PUT", "/api/v1/workspaces/{id}/members/{account_id}") => json!({"role": "member"}),
            ("POST", "/api/v1/scim-tokens") => json!({"label": "openapi probe"}),
            ("POST", "/api/v1/connections") => connection_body(),
            ("PATCH", "/api/v1/connections/{id}") => json!({"display_name": "OpenAPI Probe"}),
            ("POST", "/api/v1/webhooks") => json!({"url": "https://hooks.example.com/openapi"}),
            ("PATCH", "/api/v1/webhooks/{id}") => json!({"description": "OpenAPI Probe"}),
            ("POST", "/api/v1/webhooks/{id}/replay") => json!({"after": "0"}),
            ("POST", "/auth/password/login") => json!({
                "org": self.app.org.slug,
                "user_name": self.user_name,
                "password": PASSWORD,
            }),
            ("POST", "/auth/password/reset") => json!({
                "token": reset_token(self.app, &self.account_id).await,
                "new_password": PASSWORD,
            }),
            _ => {
                assert!(
                    !operation.has_request_body(),
                    "{name} takes a requestBody in openapi.yaml; teach Fixture::body_for one"
                );
                return None;
            }
        };
        assert!(
            operation.has_request_body(),
            "{name} has no requestBody in openapi.yaml, but the test sends one"
        );
        Some(body)
    }

    /// A concrete path for an admin API or sign-in operation whose ids are
    /// those of fresh resources made for it (a password account for a
    /// password reset, a member for a member's removal), and its body.
    async fn prepare(&self, operation: &Operation<'_>) -> (String, Option<Value>) {
        let app = self.app;
        let spec_path = operation.path.as_str();
        let mut path = spec_path.to_string();
        if spec_path.starts_with("/api/v1/accounts/{id}/sessions") {
            // The fixture's own account, with a session to list or end.
            self.login().await;
            path = path.replace("{id}", &self.account_id);
            if spec_path.contains("{session_id}") {
                let live = admin_ok(
                    app,
                    "GET",
                    &format!("/api/v1/accounts/{}/sessions", self.account_id),
                    None,
                )
                .await;
                let id = live["sessions"][0]["id"].as_str().expect("a live session");
                path = path.replace("{session_id}", id);
            }
        } else if spec_path.starts_with("/api/v1/accounts/{id}") {
            let account = self.new_account().await;
            if spec_path.ends_with("/password-reset") {
                admin_ok(
                    app,
                    "PUT",
                    &format!("/api/v1/accounts/{account}/auth-mode"),
                    Some(&json!({"mode": "password"})),
                )
                .await;
            }
            path = path.replace("{id}", &account);
            if spec_path.contains("{link_id}") {
                let link = admin_ok(
                    app,
                    "POST",
                    &format!("/api/v1/accounts/{account}/identities"),
                    Some(&identity_body()),
                )
                .await;
                path = path.replace("{link_id}", link["id"].as_str().expect("a link id"));
            }
        } else if spec_path.starts_with("/api/v1/workspaces/{id}") {
            let workspace =
                admin_ok(app, "POST", "/api/v1/workspaces", Some(&workspace_body())).await;
            let workspace = workspace["id"]
                .as_str()
                .expect("a workspace id")
                .to_string();
            path = path.replace("{id}", &workspace);
            if spec_path.contains("{account_id}") {
                let account = self.new_account().await;
                if operation.method == "DELETE" {
                    admin_ok(
                        app,
                        "PUT",
                        &format!("/api/v1/workspaces/{workspace}/members/{account}"),
                        Some(&json!({"role": "member"})),
                    )
                    .await;
                }
                path = path.replace("{account_id}", &account);
            }
        } else if spec_path.starts_with("/api/v1/connections/{id}") {
            let connection =
                admin_ok(app, "POST", "/api/v1/connections", Some(&connection_body())).await;
            path = path.replace("{id}", connection["id"].as_str().expect("a connection id"));
        } else if spec_path.starts_with("/api/v1/webhooks/{id}") {
            let webhook = admin_ok(
                app,
                "POST",
                "/api/v1/webhooks",
                Some(&json!({"url": "https://hooks.example.com/openapi"})),
            )
            .await;
            path = path.replace("{id}", webhook["id"].as_str().expect("a webhook id"));
        } else if spec_path.starts_with("/api/v1/scim-tokens/{id}") {
            let token = admin_ok(
                app,
                "POST",
                "/api/v1/scim-tokens",
                Some(&json!({"label": "openapi probe"})),
            )
            .await;
            path = path.replace("{id}", token["id"].as_str().expect("a token id"));
        }
        assert!(
            !path.contains('{'),
            "{} has a path parameter Fixture::prepare does not know; teach it",
            operation.name()
        );
        (path, self.body_for(operation).await)
    }
}

/// A new account of `app.org`, made with the admin API: its id.
async fn new_account(app: &TestApp) -> String {
    let user_name = format!("{}@example.com", unique("openapi"));
    let body = json!({"user_name": user_name});
    let account = admin_ok(app, "POST", "/api/v1/accounts", Some(&body)).await;
    account["id"].as_str().expect("an account id").to_string()
}

/// A new account of `app.org` that signs in with the password `PASSWORD`,
/// set through a reset link: its id and user name.
async fn password_account(app: &TestApp, prefix: &str) -> (String, String) {
    let user_name = format!("{}@example.com", unique(prefix));
    let account = admin_ok(
        app,
        "POST",
        "/api/v1/accounts",
        Some(&json!({"user_name": user_name})),
    )
    .await;
    let id = account["id"].as_str().expect("an account id").to_string();
    admin_ok(
        app,
        "PUT",
        &format!("/api/v1/accounts/{id}/auth-mode"),
        Some(&json!({"mode": "password"})),
    )
    .await;
    set_password(app, &reset_token(app, &id).await).await;
    (id, user_name)
}

async fn set_password(app: &TestApp, token: &str) {
    let answer = Answer::of(
        send(
            app,
            &Creds::Nothing,
            "POST",
            "/auth/password/reset",
            Some(&json!({"token": token, "new_password": PASSWORD})),
        )
        .await,
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "set a password: {}",
        answer.body
    );
}

#[tokio::test]
async fn every_route_is_in_the_spec_and_every_spec_path_is_served() {
    let spec = spec();
    let documented = spec_routes(&spec);
    let served = served_routes();
    let undocumented: BTreeSet<_> = served.difference(&documented).collect();
    let unserved: BTreeSet<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "openapi.yaml and scimlink::http::routes() disagree.\n\
         Served but missing from openapi.yaml:\n{}\n\
         In openapi.yaml but not served:\n{}",
        list(&undocumented),
        list(&unserved),
    );
}

#[tokio::test]
async fn every_operation_id_is_its_handler_name() {
    let spec = spec();
    let handlers = handler_names();
    assert_eq!(
        handlers.len(),
        scimlink::http::routes().len(),
        "could not read one handler per route from src/http/mod.rs: {handlers:?}"
    );
    let mut seen = BTreeSet::new();
    for operation in operations(&spec) {
        let name = operation.name();
        let id = operation
            .operation_id()
            .unwrap_or_else(|| panic!("{name} has no operationId in openapi.yaml"));
        assert!(
            seen.insert(id.to_string()),
            "operationId {id} is used twice"
        );
        let handler = handlers
            .iter()
            .find(|(m, p, _)| *m == operation.method && *p == operation.path)
            .map(|(_, _, h)| h.as_str());
        assert_eq!(
            Some(id),
            handler,
            "{name}: operationId must be the handler's function name in routes()"
        );
    }
}

#[tokio::test]
async fn the_security_schemes_are_the_ones_the_server_knows() {
    let spec = spec();
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["scimBearer"]["type"], "http");
    assert_eq!(schemes["scimBearer"]["scheme"], "bearer");
    assert_eq!(schemes["adminBearer"]["type"], "http");
    assert_eq!(schemes["adminBearer"]["scheme"], "bearer");
    assert_eq!(schemes["sessionCookie"]["type"], "apiKey");
    assert_eq!(schemes["sessionCookie"]["in"], "cookie");
    assert_eq!(schemes["sessionCookie"]["name"], SESSION_COOKIE);
    assert_eq!(schemes["metricsBearer"]["type"], "http");
    assert_eq!(schemes["metricsBearer"]["scheme"], "bearer");
    assert_eq!(
        schemes.as_object().map(|s| s.len()),
        Some(4),
        "openapi.yaml declares a security scheme the tests do not know: {schemes}"
    );
    let tags: BTreeSet<&str> = spec["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for operation in operations(&spec) {
        let name = operation.name();
        let auth = operation.auth(&spec);
        let op_tags: Vec<&str> = operation.op["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if operation.path.starts_with("/api/v1/") {
            assert!(
                matches!(auth, Auth::AdminBearer { .. }),
                "{name}: every /api/v1 operation takes adminBearer, found {auth:?}"
            );
            assert_eq!(op_tags, ["Admin API"], "{name}: tags");
        } else if operation.path.starts_with("/auth/") {
            assert!(
                matches!(auth, Auth::None | Auth::Session { .. }),
                "{name}: /auth operations take no credentials or sessionCookie, found {auth:?}"
            );
            assert_eq!(op_tags, ["Sign-in"], "{name}: tags");
        } else if operation.path == "/metrics" {
            assert_eq!(auth, Auth::MetricsBearer, "{name}: takes metricsBearer");
            assert_eq!(op_tags, ["Operations"], "{name}: tags");
        } else {
            assert!(
                matches!(auth, Auth::None | Auth::ScimBearer),
                "{name}: only /api/v1 and /auth take adminBearer or sessionCookie, found {auth:?}"
            );
        }
        for tag in ["Admin API", "Sign-in"] {
            if op_tags.contains(&tag) {
                assert!(
                    tags.contains(tag),
                    "the tag {tag} must be declared in `tags`"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_error_response_is_its_familys_error_body() {
    let spec = spec();
    for operation in operations(&spec) {
        let name = operation.name();
        let auth = operation.auth(&spec);
        assert!(
            operation.op["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{name} declares no responses"
        );
        if is_page_path(&operation.path) {
            assert_eq!(auth, Auth::None, "{name}: a page needs no credentials");
            for status in operation.declared_statuses() {
                let response = resolve(&spec, &operation.op["responses"][&status]);
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]
                            .as_object()
                            .map(|c| c.keys().collect::<Vec<_>>()),
                        Some(vec![&"text/html".to_string()]),
                        "{name} {status}: a page answers errors as a page"
                    );
                }
            }
            assert!(operation.declares("500"), "{name} must declare 500");
            continue;
        }
        if auth.requires_credentials() {
            assert!(
                operation.declares("401"),
                "{name} needs credentials, so it must declare 401"
            );
        } else if operation.declares("401") {
            assert_eq!(
                operation.op["responses"]["401"]["$ref"].as_str(),
                Some(INVALID_CREDENTIALS_REF),
                "{name} needs no credentials, so its only 401 can be a sign-in's invalid credentials"
            );
        }
        if let Auth::AdminBearer { admin_only } = auth {
            assert_eq!(
                operation.declares("403"),
                admin_only,
                "{name}: an admin-only operation (adminBearer: [admin]) answers a support token \
                 403, one open to both roles has no 403"
            );
            let unauthorized = resolve(&spec, &operation.op["responses"]["401"]);
            assert!(
                unauthorized["headers"].get("WWW-Authenticate").is_some(),
                "{name}: its 401 carries WWW-Authenticate"
            );
        }
        if operation.is_api() {
            if operation.has_request_body() {
                for status in ["400", "413", "415"] {
                    assert!(
                        operation.declares(status),
                        "{name} reads a JSON body, so it must declare {status}"
                    );
                }
                let content = &operation.op["requestBody"]["content"];
                assert_eq!(
                    content.as_object().map(|c| c.keys().collect::<Vec<_>>()),
                    Some(vec![&JSON.to_string()]),
                    "{name}: the admin API and sign-in read application/json only"
                );
            }
            if operation.path.contains('{') {
                assert!(
                    operation.declares("404"),
                    "{name} has ids, so it must declare 404"
                );
            }
            assert!(operation.declares("500"), "{name} must declare 500");
        }
        for status in operation.declared_statuses() {
            let code: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{name}: response key {status:?} is not a status code"));
            let response = resolve(&spec, &operation.op["responses"][&status]);
            let content = &response["content"];
            if code < 400 {
                if operation.is_api()
                    && let Some(media) = content.as_object()
                {
                    assert_eq!(
                        media.keys().collect::<Vec<_>>(),
                        [JSON],
                        "{name} {status}: the admin API and sign-in answer application/json"
                    );
                    assert!(
                        media[JSON].get("schema").is_some(),
                        "{name} {status} has no schema"
                    );
                }
                continue;
            }
            if operation.is_api() {
                assert_eq!(
                    content.as_object().map(|c| c.len()),
                    Some(1),
                    "{name} {status} must be application/json only, found {response}"
                );
                assert_eq!(
                    content[JSON]["schema"]["$ref"].as_str(),
                    Some(API_ERROR_REF),
                    "{name} {status} must be an application/json ApiError, found {response}"
                );
                continue;
            }
            if content.get("text/plain").is_some() {
                // The health checks answer in plain text, errors included.
                assert!(
                    !operation.path.starts_with("/scim/"),
                    "{name} {status}: a SCIM route must answer errors in application/scim+json"
                );
                continue;
            }
            let schema = &content[SCIM]["schema"];
            assert_eq!(
                schema["$ref"].as_str(),
                Some(SCIM_ERROR_REF),
                "{name} {status} must be an application/scim+json ScimError, found {response}"
            );
        }
    }
}

/// Calls one SCIM spec operation on concrete ids (an unknown User or Group
/// for `{id}`), with the credentials given; returns its name, the path sent
/// and the answer.
async fn call_scim(
    app: &TestApp,
    creds: &Creds,
    operation: &Operation<'_>,
    unknown_user: &str,
) -> (String, String, Answer) {
    let path = concrete_path(&operation.path, unknown_user);
    let body = scim_body_for(&operation.method, &operation.path);
    let response = send(app, creds, &operation.method, &path, body.as_ref()).await;
    (operation.name(), path, Answer::of(response).await)
}

/// HEAD on the path of a GET answers the GET's status, without a body.
async fn assert_head_like_get(
    app: &TestApp,
    spec: &Value,
    operation: &Operation<'_>,
    creds: &Creds,
    path: &str,
    get: &Answer,
) {
    let name = operation.name();
    let head = Answer::head(send(app, creds, "HEAD", path, None).await).await;
    assert_eq!(
        head.status, get.status,
        "HEAD {path} answered {} where GET answered {} (the description says HEAD is GET \
         without the body)",
        head.status, get.status
    );
    assert!(
        head.body.is_empty(),
        "HEAD {path} has a body: {}",
        head.body
    );
    assert_documented(spec, operation, &head, &format!("HEAD of {name}"));
}

#[tokio::test]
async fn every_spec_operation_answers_over_http() {
    let app = spawn_app().await;
    let spec = spec();
    let fixture = Fixture::new(&app).await;
    let unknown_user = uuid::Uuid::new_v4().to_string();
    for operation in operations(&spec) {
        if is_page_path(&operation.path) {
            continue;
        }
        let name = operation.name();
        let creds = fixture.credentials(&spec, &operation).await;
        if operation.is_api() {
            // Every operation succeeds on resources that exist...
            let (path, body) = fixture.prepare(&operation).await;
            let response = send(&app, &creds, &operation.method, &path, body.as_ref()).await;
            let answer = Answer::of(response).await;
            assert!(
                answer.status.is_success(),
                "{name} (as {path}) answered {}: {}",
                answer.status,
                answer.body
            );
            assert_documented(&spec, &operation, &answer, "on resources that exist");
            if operation.method == "GET" {
                assert_head_like_get(&app, &spec, &operation, &creds, &path, &answer).await;
            }
            // ...and answers 404 `not_found` on ids that are not there.
            if operation.path.contains('{') {
                let path = unknown_api_path(&operation.path);
                let body = fixture.body_for(&operation).await;
                let response = send(&app, &creds, &operation.method, &path, body.as_ref()).await;
                let answer = Answer::of(response).await;
                assert_eq!(
                    (answer.status, answer.error().as_str()),
                    (StatusCode::NOT_FOUND, "not_found"),
                    "{name} (as {path}) on unknown ids: {}",
                    answer.body
                );
                assert_documented(&spec, &operation, &answer, "on unknown ids");
            }
            continue;
        }
        let (name, path, answer) = call_scim(&app, &creds, &operation, &unknown_user).await;
        assert!(
            !answer.is_unknown_route(),
            "{name} (as {path}) is in openapi.yaml but the router does not serve it: {}",
            answer.body
        );
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{name} (as {path}) is in openapi.yaml but the server refuses the method: {}",
            answer.body
        );
        if answer.status == StatusCode::NOT_FOUND {
            let kind = if operation.path.starts_with("/scim/v2/Users/") {
                "User "
            } else if operation.path.starts_with("/scim/v2/Groups/") {
                "Group "
            } else {
                panic!(
                    "{name} (as {path}) answered 404 for a resource that exists: {}",
                    answer.body
                )
            };
            assert!(
                answer.detail().starts_with(kind) && answer.detail().ends_with(" not found"),
                "{name} (as {path}): a 404 must be for the unknown {kind}, got {}",
                answer.body
            );
        } else if operation.path == "/scim/v2/Me" {
            // RFC 7644 §3.11: /Me is a signed-in person's; a SCIM token gets 501.
            assert_eq!(
                answer.status,
                StatusCode::NOT_IMPLEMENTED,
                "{name}: {}",
                answer.body
            );
        } else {
            assert!(
                answer.status.is_success(),
                "{name} (as {path}) answered {}: {}",
                answer.status,
                answer.body
            );
        }
        assert_documented(&spec, &operation, &answer, "with a token");
        if operation.method == "GET" {
            assert_head_like_get(&app, &spec, &operation, &creds, &path, &answer).await;
        }
    }
}

#[tokio::test]
async fn the_spec_security_is_what_the_server_enforces() {
    let app = spawn_app().await;
    let spec = spec();
    let fixture = Fixture::new(&app).await;
    let session = fixture.login().await;
    let unknown_user = uuid::Uuid::new_v4().to_string();
    for operation in operations(&spec) {
        if is_page_path(&operation.path) {
            continue;
        }
        let name = operation.name();
        match operation.auth(&spec) {
            Auth::ScimBearer | Auth::None if !operation.is_api() => {
                let (_, _, answer) =
                    call_scim(&app, &Creds::Nothing, &operation, &unknown_user).await;
                if operation.auth(&spec) == Auth::ScimBearer {
                    assert_eq!(
                        answer.status,
                        StatusCode::UNAUTHORIZED,
                        "{name} requires scimBearer in openapi.yaml, but without a token it answered: {}",
                        answer.body
                    );
                    // An admin token is not a SCIM token.
                    let admin = Creds::Bearer(app.admin_token.clone());
                    let (_, _, as_admin) = call_scim(&app, &admin, &operation, &unknown_user).await;
                    assert_eq!(
                        as_admin.status,
                        StatusCode::UNAUTHORIZED,
                        "{name} with an admin token answered: {}",
                        as_admin.body
                    );
                    assert_documented(&spec, &operation, &as_admin, "with an admin token");
                } else {
                    assert!(
                        answer.status.is_success(),
                        "{name} has `security: []` in openapi.yaml, but without a token it answered {}: {}",
                        answer.status,
                        answer.body
                    );
                }
                assert_documented(&spec, &operation, &answer, "without a token");
            }
            Auth::AdminBearer { .. } => {
                // Refused before anything is looked up: the ids need not exist.
                let path = unknown_api_path(&operation.path);
                let body = fixture.body_for(&operation).await;
                let attempts = [
                    (Creds::Nothing, "without a token"),
                    (Creds::Bearer(unique("adm_nope")), "with an unknown token"),
                    (Creds::Bearer(app.token.clone()), "with a SCIM token"),
                    (Creds::Cookie(session.clone()), "with a session cookie"),
                ];
                for (creds, context) in attempts {
                    let response =
                        send(&app, &creds, &operation.method, &path, body.as_ref()).await;
                    let answer = Answer::of(response).await;
                    assert_eq!(
                        (answer.status, answer.error().as_str()),
                        (StatusCode::UNAUTHORIZED, "unauthorized"),
                        "{name} requires adminBearer in openapi.yaml, but {context} it answered: {}",
                        answer.body
                    );
                    assert_eq!(
                        answer.header("www-authenticate"),
                        "Bearer realm=\"scimlink\"",
                        "{name} {context}"
                    );
                    assert_documented(&spec, &operation, &answer, context);
                }
            }
            Auth::Session { optional } => {
                let attempts = [
                    (Creds::Nothing, "without a cookie"),
                    (
                        Creds::Cookie(unique("not-a-session")),
                        "with an unknown session",
                    ),
                    (
                        Creds::Bearer(app.admin_token.clone()),
                        "with an admin token",
                    ),
                ];
                for (creds, context) in attempts {
                    let body = fixture.body_for(&operation).await;
                    let response = send(
                        &app,
                        &creds,
                        &operation.method,
                        &operation.path,
                        body.as_ref(),
                    )
                    .await;
                    let answer = Answer::of(response).await;
                    if optional {
                        assert!(
                            answer.status.is_success(),
                            "{name} takes an optional session in openapi.yaml, but {context} it \
                             answered {}: {}",
                            answer.status,
                            answer.body
                        );
                    } else {
                        assert_eq!(
                            (answer.status, answer.error().as_str()),
                            (StatusCode::UNAUTHORIZED, "unauthorized"),
                            "{name} requires sessionCookie in openapi.yaml, but {context} it answered: {}",
                            answer.body
                        );
                    }
                    assert_documented(&spec, &operation, &answer, context);
                }
            }
            Auth::None => {
                // Sign-in itself: the body is all it takes.
                let body = fixture.body_for(&operation).await;
                let response = send(
                    &app,
                    &Creds::Nothing,
                    &operation.method,
                    &operation.path,
                    body.as_ref(),
                )
                .await;
                let answer = Answer::of(response).await;
                assert!(
                    answer.status.is_success(),
                    "{name} has `security: []` in openapi.yaml, but without credentials it \
                     answered {}: {}",
                    answer.status,
                    answer.body
                );
                assert_documented(&spec, &operation, &answer, "without credentials");
            }
            Auth::ScimBearer => panic!("{name}: scimBearer on an admin API or sign-in route"),
            Auth::MetricsBearer => {
                let attempts = [
                    (Creds::Nothing, "without a token"),
                    (Creds::Bearer(unique("metrics-nope")), "with a wrong token"),
                    (Creds::Bearer(app.token.clone()), "with a SCIM token"),
                    (
                        Creds::Bearer(app.admin_token.clone()),
                        "with an admin token",
                    ),
                ];
                for (creds, context) in attempts {
                    let (_, _, answer) = call_scim(&app, &creds, &operation, &unknown_user).await;
                    assert_eq!(
                        answer.status,
                        StatusCode::UNAUTHORIZED,
                        "{name} requires metricsBearer in openapi.yaml, but {context} it answered: {}",
                        answer.body
                    );
                    assert_documented(&spec, &operation, &answer, context);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_support_token_is_refused_exactly_the_admin_only_operations() {
    let app = spawn_app().await;
    let spec = spec();
    let fixture = Fixture::new(&app).await;
    let support = Creds::Bearer(app.support_token.clone());
    let mut admin_only = 0;
    for operation in operations(&spec) {
        let Auth::AdminBearer {
            admin_only: only_admin,
        } = operation.auth(&spec)
        else {
            continue;
        };
        let name = operation.name();
        let (path, body) = fixture.prepare(&operation).await;
        let response = send(&app, &support, &operation.method, &path, body.as_ref()).await;
        let answer = Answer::of(response).await;
        if only_admin {
            admin_only += 1;
            assert_eq!(
                (answer.status, answer.error().as_str()),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{name} is admin-only in openapi.yaml, but a support token got: {}",
                answer.body
            );
        } else {
            assert!(
                answer.status.is_success(),
                "{name} is open to support tokens in openapi.yaml, but one got {}: {}",
                answer.status,
                answer.body
            );
        }
        assert_documented(&spec, &operation, &answer, "with a support token");
    }
    assert!(admin_only > 0, "openapi.yaml marks no operation admin-only");
}

#[tokio::test]
async fn a_user_lifecycle_answers_as_documented() {
    let app = spawn_app().await;
    let spec = spec();
    let users = "/scim/v2/Users";
    let user = "/scim/v2/Users/{id}";
    let new_user = json!({
        "schemas": [SCHEMA_USER_URN],
        "userName": "lifecycle@example.com",
        "name": {"givenName": "Life", "familyName": "Cycle"},
    });

    let create = operation(&spec, "POST", users);
    let created = Answer::of(app.post(users, &new_user).await).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "create: {}",
        created.body
    );
    assert_documented(&spec, &create, &created, "create");
    let id = serde_json::from_str::<Value>(&created.body).expect("a JSON User")["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let path = format!("{users}/{id}");
    let etag = created.headers["etag"]
        .to_str()
        .expect("an ETag")
        .to_string();

    let duplicate = Answer::of(app.post(users, &new_user).await).await;
    assert_eq!(
        duplicate.status,
        StatusCode::CONFLICT,
        "duplicate: {}",
        duplicate.body
    );
    assert_documented(&spec, &create, &duplicate, "duplicate userName");

    let wrong_type = Answer::of(
        app.request(Method::POST, users)
            .header("content-type", "text/plain")
            .body("userName=x")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_documented(&spec, &create, &wrong_type, "text/plain body");
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let missing = Answer::of(
        app.post(users, &json!({"schemas": [SCHEMA_USER_URN]}))
            .await,
    )
    .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "no userName: {}",
        missing.body
    );
    assert_documented(&spec, &create, &missing, "no userName");

    let get = operation(&spec, "GET", user);
    let read = Answer::of(app.get(&path).await).await;
    assert_eq!(read.status, StatusCode::OK, "get: {}", read.body);
    assert_documented(&spec, &get, &read, "get");
    let not_modified = Answer::of(
        app.request(Method::GET, &path)
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(
        not_modified.status,
        StatusCode::NOT_MODIFIED,
        "If-None-Match: {}",
        not_modified.body
    );
    assert_documented(&spec, &get, &not_modified, "If-None-Match");
    let bad_attributes = Answer::of(
        app.request(Method::GET, &path)
            .query(&[("attributes", "name given")])
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(
        bad_attributes.status,
        StatusCode::BAD_REQUEST,
        "attributes: {}",
        bad_attributes.body
    );
    assert_documented(
        &spec,
        &get,
        &bad_attributes,
        "attributes not in attribute notation",
    );

    let list = operation(&spec, "GET", users);
    let listed = Answer::of(
        app.request(Method::GET, users)
            .query(&[("filter", "userName eq \"lifecycle@example.com\"")])
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "list: {}", listed.body);
    assert_documented(&spec, &list, &listed, "list");
    let bad_filter = Answer::of(
        app.request(Method::GET, users)
            .query(&[("filter", "userName zz")])
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(
        bad_filter.status,
        StatusCode::BAD_REQUEST,
        "bad filter: {}",
        bad_filter.body
    );
    assert_documented(&spec, &list, &bad_filter, "bad filter");

    let replace = operation(&spec, "PUT", user);
    let stale = Answer::of(
        app.request(Method::PUT, &path)
            .header("content-type", SCIM)
            .header("if-match", "W/\"999\"")
            .body(new_user.to_string())
            .send()
            .await
            .expect("PUT"),
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "stale If-Match: {}",
        stale.body
    );
    assert_documented(&spec, &replace, &stale, "stale If-Match");
    let replaced = Answer::of(app.put(&path, &new_user).await).await;
    assert_eq!(replaced.status, StatusCode::OK, "put: {}", replaced.body);
    assert_documented(&spec, &replace, &replaced, "put");

    let patch = operation(&spec, "PATCH", user);
    let patched = Answer::of(
        app.patch(
            &path,
            &patch_op(json!([{"op": "Replace", "path": "active", "value": false}])),
        )
        .await,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "patch: {}", patched.body);
    assert_documented(&spec, &patch, &patched, "patch");
    let bad_op = Answer::of(
        app.patch(&path, &patch_op(json!([{"op": "move", "path": "active"}])))
            .await,
    )
    .await;
    assert_eq!(
        bad_op.status,
        StatusCode::BAD_REQUEST,
        "bad op: {}",
        bad_op.body
    );
    assert_documented(&spec, &patch, &bad_op, "unknown op");

    let delete = operation(&spec, "DELETE", user);
    let deleted = Answer::of(app.delete(&path).await).await;
    assert_eq!(
        deleted.status,
        StatusCode::NO_CONTENT,
        "delete: {}",
        deleted.body
    );
    assert_documented(&spec, &delete, &deleted, "delete");
    let gone = Answer::of(app.delete(&path).await).await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "delete again: {}",
        gone.body
    );
    assert_documented(&spec, &delete, &gone, "delete again");

    let schema = operation(&spec, "GET", "/scim/v2/Schemas/{id}");
    let no_schema = Answer::of(app.get("/scim/v2/Schemas/urn:nope").await).await;
    assert_eq!(
        no_schema.status,
        StatusCode::NOT_FOUND,
        "unknown schema: {}",
        no_schema.body
    );
    assert_documented(&spec, &schema, &no_schema, "unknown schema");
}

/// Calls checked against the spec: each asserts its status and that the
/// answer is one openapi.yaml documents for the operation.
struct Checked<'a> {
    app: &'a TestApp,
    spec: Value,
}

/// No request body.
const NO_BODY: Value = Value::Null;

impl<'a> Checked<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, spec: spec() }
    }

    /// `op` ("METHOD /spec/path") on `path`, a concrete instance of it, with
    /// `creds` and `body` (none when `NO_BODY`).
    async fn call_as(
        &self,
        creds: &Creds,
        status: u16,
        op: &str,
        path: &str,
        body: Value,
    ) -> Answer {
        let (method, spec_path) = op.split_once(' ').expect("METHOD /path");
        let body = (!body.is_null()).then_some(body);
        let answer = Answer::of(send(self.app, creds, method, path, body.as_ref()).await).await;
        let sent = body.map(|b| b.to_string()).unwrap_or_default();
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{method} {path} {sent}: {}",
            answer.body
        );
        let operation = operation(&self.spec, method, spec_path);
        assert_documented(
            &self.spec,
            &operation,
            &answer,
            &format!("as {path} {sent}"),
        );
        answer
    }

    /// With the admin token.
    async fn admin(&self, status: u16, op: &str, path: &str, body: Value) -> Answer {
        let creds = Creds::Bearer(self.app.admin_token.clone());
        self.call_as(&creds, status, op, path, body).await
    }

    /// Sign-in, which takes no credentials, on `op`'s own path.
    async fn anonymous(&self, status: u16, op: &str, body: Value) -> Answer {
        let path = op.split_once(' ').expect("METHOD /path").1;
        self.call_as(&Creds::Nothing, status, op, path, body).await
    }
}

/// Sends a raw body with the admin token.
async fn admin_raw(app: &TestApp, method: &str, path: &str, media: &str, body: String) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.admin_token)
        .header("content-type", media)
        .body(body)
        .send()
        .await
        .expect("the request is sent");
    Answer::of(response).await
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .expect("encodable")
        .trim_start_matches("v=")
        .to_string()
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_string())
        .collect()
}

const ACCOUNTS: &str = "/api/v1/accounts";
const LIST_ACCOUNTS: &str = "GET /api/v1/accounts";
const CREATE_ACCOUNT: &str = "POST /api/v1/accounts";
const GET_ACCOUNT: &str = "GET /api/v1/accounts/{id}";
const UPDATE_ACCOUNT: &str = "PATCH /api/v1/accounts/{id}";
const DELETE_ACCOUNT: &str = "DELETE /api/v1/accounts/{id}";
const SET_AUTH_MODE: &str = "PUT /api/v1/accounts/{id}/auth-mode";
const NEW_RESET_LINK: &str = "POST /api/v1/accounts/{id}/password-reset";
const SET_BREAK_GLASS: &str = "PUT /api/v1/accounts/{id}/break-glass";
const SET_EXTERNAL_ID: &str = "PUT /api/v1/accounts/{id}/external-user-id";
const LIST_LINKS: &str = "GET /api/v1/accounts/{id}/identities";
const CREATE_LINK: &str = "POST /api/v1/accounts/{id}/identities";
const GET_LINK: &str = "GET /api/v1/accounts/{id}/identities/{link_id}";
const DELETE_LINK: &str = "DELETE /api/v1/accounts/{id}/identities/{link_id}";
const WORKSPACES: &str = "/api/v1/workspaces";
const LIST_WORKSPACES: &str = "GET /api/v1/workspaces";
const CREATE_WORKSPACE: &str = "POST /api/v1/workspaces";
const GET_WORKSPACE: &str = "GET /api/v1/workspaces/{id}";
const UPDATE_WORKSPACE: &str = "PATCH /api/v1/workspaces/{id}";
const DELETE_WORKSPACE: &str = "DELETE /api/v1/workspaces/{id}";
const LIST_MEMBERS: &str = "GET /api/v1/workspaces/{id}/members";
const SET_MEMBER: &str = "PUT /api/v1/workspaces/{id}/members/{account_id}";
const DELETE_MEMBER: &str = "DELETE /api/v1/workspaces/{id}/members/{account_id}";
const TOKENS: &str = "/api/v1/scim-tokens";
const LIST_TOKENS: &str = "GET /api/v1/scim-tokens";
const CREATE_TOKEN: &str = "POST /api/v1/scim-tokens";
const REVOKE_TOKEN: &str = "DELETE /api/v1/scim-tokens/{id}";
const ORG: &str = "/api/v1/org";
const GET_ORG: &str = "GET /api/v1/org";
const UPDATE_ORG: &str = "PATCH /api/v1/org";
const SSO_PREVIEW: &str = "GET /api/v1/org/require-sso-preview";
const LIST_OUTBOX: &str = "GET /api/v1/outbox";
const EVENTS: &str = "/api/v1/audit-events";
const LIST_EVENTS: &str = "GET /api/v1/audit-events";
const LOGIN: &str = "POST /auth/password/login";
const RESET: &str = "POST /auth/password/reset";
const SESSION: &str = "GET /auth/session";
const LOGOUT: &str = "POST /auth/logout";

#[tokio::test]
async fn accounts_answer_as_documented() {
    let app = spawn_app().await;
    let api = Checked::new(&app);
    let bjensen = json!({
        "user_name": "bjensen@example.com",
        "display_name": "Barbara Jensen",
        "email": "bjensen@example.com",
    });

    let created = api
        .admin(201, CREATE_ACCOUNT, ACCOUNTS, bjensen.clone())
        .await;
    let account = created.json();
    let id = account["id"].as_str().expect("an id").to_string();
    let one = format!("{ACCOUNTS}/{id}");
    assert_eq!(created.header("location"), one);
    for (field, value) in [
        ("user_name", json!("bjensen@example.com")),
        ("display_name", json!("Barbara Jensen")),
        ("email", json!("bjensen@example.com")),
        ("source", json!("admin")),
        ("active", json!(true)),
        ("break_glass", json!(false)),
        ("has_password", json!(false)),
    ] {
        assert_eq!(account[field], value, "{field} of a new account: {account}");
    }
    let clash = api.admin(409, CREATE_ACCOUNT, ACCOUNTS, bjensen).await;
    assert_eq!(clash.error(), "conflict");
    for wrong in [
        json!({"display_name": "No Name"}),
        json!({"user_name": "colour@example.com", "colour": "blue"}),
        json!({"user_name": "mail@example.com", "email": "not an address"}),
    ] {
        let answer = api.admin(400, CREATE_ACCOUNT, ACCOUNTS, wrong).await;
        assert_eq!(answer.error(), "invalid_request");
    }
    let create = operation(&api.spec, "POST", ACCOUNTS);
    let too_large = json!({"user_name": "x".repeat(1_100_000)}).to_string();
    for (media, body, status) in [
        (JSON, "{not json".to_string(), StatusCode::BAD_REQUEST),
        (
            "text/plain",
            "user_name=x".to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (JSON, too_large, StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let answer = admin_raw(&app, "POST", ACCOUNTS, media, body).await;
        assert_eq!(answer.status, status, "{media}: {}", answer.body);
        assert_documented(&api.spec, &create, &answer, media);
    }

    // Listing: query, limits, cursors.
    for n in 0..3 {
        let body = json!({"user_name": format!("pager-{n}@example.com")});
        api.admin(201, CREATE_ACCOUNT, ACCOUNTS, body).await;
    }
    let found = api
        .admin(200, LIST_ACCOUNTS, "/api/v1/accounts?query=JENSEN", NO_BODY)
        .await
        .json();
    assert_eq!(
        ids_of(&found["accounts"]),
        [id.as_str()],
        "query=JENSEN: {found}"
    );
    assert_eq!(found["next_cursor"], Value::Null);
    for query in [
        "limit=0",
        "limit=201",
        "limit=ten",
        "cursor=not-a-cursor",
        "colour=blue",
    ] {
        let path = format!("{ACCOUNTS}?{query}");
        let answer = api.admin(400, LIST_ACCOUNTS, &path, NO_BODY).await;
        assert_eq!(answer.error(), "invalid_request", "{query}");
    }
    let mut seen = Vec::new();
    let mut page = format!("{ACCOUNTS}?limit=1&query=pager-");
    for _ in 0..10 {
        let answer = api.admin(200, LIST_ACCOUNTS, &page, NO_BODY).await.json();
        let ids = ids_of(&answer["accounts"]);
        assert!(ids.len() <= 1, "limit=1: {answer}");
        seen.extend(ids);
        let Some(cursor) = answer["next_cursor"].as_str() else {
            break;
        };
        page = format!(
            "{ACCOUNTS}?limit=1&query=pager-&cursor={}",
            urlencode(cursor)
        );
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(
        (seen.len(), distinct.len()),
        (3, 3),
        "a cursor walk sees each pager account once: {seen:?}"
    );

    // One account: read, change, clash.
    let read = api.admin(200, GET_ACCOUNT, &one, NO_BODY).await;
    assert_eq!(read.json(), account, "GET answers what POST did");
    let rename = json!({"display_name": "Babs Jensen"});
    let renamed = api.admin(200, UPDATE_ACCOUNT, &one, rename).await.json();
    assert_eq!(renamed["display_name"], "Babs Jensen");
    let taken = json!({"user_name": "pager-0@example.com"});
    api.admin(409, UPDATE_ACCOUNT, &one, taken).await;
    let mistyped = json!({"active": "maybe"});
    api.admin(400, UPDATE_ACCOUNT, &one, mistyped).await;

    // External user id: explicit, then back to the default.
    let path = format!("{one}/external-user-id");
    let explicit = json!({"value": "00u1bjensen"});
    let set = api
        .admin(200, SET_EXTERNAL_ID, &path, explicit)
        .await
        .json();
    assert_eq!(set["external_user_id"], "00u1bjensen");
    assert_eq!(set["external_user_id_source"], "explicit");
    let default = json!({"value": null});
    let reset = api.admin(200, SET_EXTERNAL_ID, &path, default).await.json();
    assert_ne!(reset["external_user_id_source"], "explicit", "{reset}");
    api.admin(400, SET_EXTERNAL_ID, &path, json!({})).await;

    // Deleting.
    api.admin(204, DELETE_ACCOUNT, &one, NO_BODY).await;
    api.admin(404, GET_ACCOUNT, &one, NO_BODY).await;
    api.admin(404, DELETE_ACCOUNT, &one, NO_BODY).await;
}

#[tokio::test]
async fn identity_links_answer_as_documented() {
    let app = spawn_app().await;
    let api = Checked::new(&app);
    let account = new_account(&app).await;
    let other = new_account(&app).await;
    let links = format!("{ACCOUNTS}/{account}/identities");
    let okta = json!({"issuer": "https://acme.okta.com", "subject": "00u1bjensen"});

    let link = api
        .admin(201, CREATE_LINK, &links, okta.clone())
        .await
        .json();
    assert_eq!(link["account_id"], account.as_str());
    assert_eq!(
        (&link["issuer"], &link["subject"]),
        (&okta["issuer"], &okta["subject"])
    );
    let same_issuer = json!({"issuer": "https://acme.okta.com", "subject": "other"});
    let clash = api.admin(409, CREATE_LINK, &links, same_issuer).await;
    assert_eq!(clash.error(), "conflict");
    let elsewhere = format!("{ACCOUNTS}/{other}/identities");
    api.admin(409, CREATE_LINK, &elsewhere, okta).await;
    let no_subject = json!({"issuer": "https://acme.okta.com"});
    api.admin(400, CREATE_LINK, &links, no_subject).await;

    let listed = api.admin(200, LIST_LINKS, &links, NO_BODY).await.json();
    assert_eq!(listed["identities"], json!([link]));
    let link_id = link["id"].as_str().expect("a link id");
    let one = format!("{links}/{link_id}");
    assert_eq!(api.admin(200, GET_LINK, &one, NO_BODY).await.json(), link);
    let not_its = format!("{elsewhere}/{link_id}");
    api.admin(404, GET_LINK, &not_its, NO_BODY).await;
    api.admin(404, DELETE_LINK, &not_its, NO_BODY).await;
    api.admin(204, DELETE_LINK, &one, NO_BODY).await;
    api.admin(404, GET_LINK, &one, NO_BODY).await;
}

#[tokio::test]
async fn workspaces_and_members_answer_as_documented() {
    let app = spawn_app().await;
    let api = Checked::new(&app);
    let account = new_account(&app).await;

    let tours = json!({"slug": "tours", "name": "Tours"});
    let tours = api
        .admin(201, CREATE_WORKSPACE, WORKSPACES, tours)
        .await
        .json();
    assert_eq!(
        (&tours["slug"], &tours["member_count"]),
        (&json!("tours"), &json!(0))
    );
    api.admin(409, CREATE_WORKSPACE, WORKSPACES, json!({"slug": "tours"}))
        .await;
    api.admin(
        400,
        CREATE_WORKSPACE,
        WORKSPACES,
        json!({"name": "No Slug"}),
    )
    .await;
    let ws = format!("{WORKSPACES}/{}", tours["id"].as_str().expect("an id"));
    api.admin(409, UPDATE_WORKSPACE, &ws, json!({"slug": "default"}))
        .await;
    let renamed = json!({"name": "Tour Operations"});
    let renamed = api.admin(200, UPDATE_WORKSPACE, &ws, renamed).await.json();
    assert_eq!(renamed["name"], "Tour Operations");

    let member = format!("{ws}/members/{account}");
    api.admin(400, SET_MEMBER, &member, json!({"role": "owner"}))
        .await;
    let nobody = format!("{ws}/members/{}", uuid::Uuid::new_v4());
    api.admin(404, SET_MEMBER, &nobody, json!({"role": "member"}))
        .await;
    let viewer = api
        .admin(200, SET_MEMBER, &member, json!({"role": "viewer"}))
        .await
        .json();
    assert_eq!(
        (&viewer["account_id"], &viewer["role"]),
        (&json!(account), &json!("viewer"))
    );
    let admin = api
        .admin(200, SET_MEMBER, &member, json!({"role": "admin"}))
        .await
        .json();
    assert_eq!(admin["role"], "admin");
    let members = format!("{ws}/members");
    let listed = api.admin(200, LIST_MEMBERS, &members, NO_BODY).await.json();
    assert_eq!(listed["members"], json!([admin]));
    let read = api.admin(200, GET_WORKSPACE, &ws, NO_BODY).await.json();
    assert_eq!(read["member_count"], 1);
    let of_account = api
        .admin(200, GET_ACCOUNT, &format!("{ACCOUNTS}/{account}"), NO_BODY)
        .await
        .json();
    assert!(
        of_account["workspaces"]
            .as_array()
            .expect("workspaces")
            .iter()
            .any(|w| w["id"] == tours["id"] && w["role"] == "admin"),
        "the account lists its workspace and role: {of_account}"
    );
    api.admin(204, DELETE_MEMBER, &member, NO_BODY).await;
    api.admin(404, DELETE_MEMBER, &member, NO_BODY).await;

    let all = api
        .admin(200, LIST_WORKSPACES, WORKSPACES, NO_BODY)
        .await
        .json();
    let all = ids_of(&all["workspaces"]);
    assert!(all.len() >= 2, "default and tours: {all:?}");
    let (last, rest) = all.split_last().expect("workspaces");
    for workspace in rest {
        let path = format!("{WORKSPACES}/{workspace}");
        api.admin(204, DELETE_WORKSPACE, &path, NO_BODY).await;
    }
    let path = format!("{WORKSPACES}/{last}");
    let refused = api.admin(409, DELETE_WORKSPACE, &path, NO_BODY).await;
    assert_eq!(refused.error(), "conflict", "the last workspace stays");
}

#[tokio::test]
async fn scim_tokens_org_settings_and_the_audit_log_answer_as_documented() {
    let app = spawn_app().await;
    let api = Checked::new(&app);

    // SCIM tokens: the secret works until the token is revoked.
    let label = json!({"label": "Okta production"});
    let token = api.admin(201, CREATE_TOKEN, TOKENS, label).await.json();
    let secret = Creds::Bearer(token["secret"].as_str().expect("a secret").into());
    assert_eq!(
        (&token["label"], &token["revoked_at"]),
        (&json!("Okta production"), &Value::Null)
    );
    api.admin(400, CREATE_TOKEN, TOKENS, json!({})).await;
    let users = Answer::of(send(&app, &secret, "GET", "/scim/v2/Users", None).await).await;
    assert_eq!(
        users.status,
        StatusCode::OK,
        "the new SCIM token works: {}",
        users.body
    );
    let listed = api.admin(200, LIST_TOKENS, TOKENS, NO_BODY).await.json();
    let entry = listed["scim_tokens"]
        .as_array()
        .expect("scim_tokens")
        .iter()
        .find(|t| t["id"] == token["id"])
        .cloned()
        .expect("the new token is listed");
    assert!(
        entry.get("secret").is_none(),
        "a listed token shows no secret: {entry}"
    );
    let one = format!("{TOKENS}/{}", token["id"].as_str().expect("an id"));
    api.admin(204, REVOKE_TOKEN, &one, NO_BODY).await;
    let users = Answer::of(send(&app, &secret, "GET", "/scim/v2/Users", None).await).await;
    assert_eq!(
        users.status,
        StatusCode::UNAUTHORIZED,
        "a revoked SCIM token: {}",
        users.body
    );
    let listed = api.admin(200, LIST_TOKENS, TOKENS, NO_BODY).await.json();
    let entry = listed["scim_tokens"]
        .as_array()
        .expect("scim_tokens")
        .iter()
        .find(|t| t["id"] == token["id"])
        .cloned()
        .expect("a revoked token stays listed");
    assert!(entry["revoked_at"].is_string(), "{entry}");

    // Organisation settings.
    api.admin(200, UPDATE_ORG, ORG, json!({"sso_enabled": false}))
        .await;
    for body in [
        json!({"sso_required": true}),
        json!({"colour": "blue"}),
        json!({"session_ttl_seconds": 59}),
        json!({"session_idle_seconds": 2_592_001}),
        json!({"name": 7}),
    ] {
        let answer = api.admin(400, UPDATE_ORG, ORG, body).await;
        assert_eq!(answer.error(), "invalid_request");
    }
    let ttl = json!({"session_ttl_seconds": 60});
    let changed = api.admin(200, UPDATE_ORG, ORG, ttl).await.json();
    assert_eq!(changed["org"]["session_ttl_seconds"], 60);
    assert_eq!(changed["switched_to_sso"], 0);
    let org = api.admin(200, GET_ORG, ORG, NO_BODY).await.json();
    assert_eq!(
        org, changed["org"],
        "GET /api/v1/org answers what PATCH did"
    );
    assert_eq!(org["slug"], app.org.slug.as_str());

    // The audit log: filters and paging.
    let token_id = token["id"].as_str().expect("an id");
    let path = format!("{EVENTS}?target_id={token_id}");
    let about = api.admin(200, LIST_EVENTS, &path, NO_BODY).await.json();
    let about = about["events"].as_array().expect("events").clone();
    assert!(
        about.len() >= 2,
        "the token's creation and revocation are audited: {about:?}"
    );
    assert!(
        about.iter().all(|e| e["target_id"] == token_id),
        "target_id filters: {about:?}"
    );
    assert!(
        about.iter().all(|e| e["actor_type"] == "admin_token"),
        "an admin token did it: {about:?}"
    );
    let times: Vec<&str> = about
        .iter()
        .map(|e| e["occurred_at"].as_str().expect("a time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    for query in ["limit=0", "limit=501", "cursor=not-a-cursor"] {
        let path = format!("{EVENTS}?{query}");
        let answer = api.admin(400, LIST_EVENTS, &path, NO_BODY).await;
        assert_eq!(answer.error(), "invalid_request", "{query}");
    }
    let path = format!("{EVENTS}?limit=1");
    let first = api.admin(200, LIST_EVENTS, &path, NO_BODY).await.json();
    let cursor = first["next_cursor"]
        .as_str()
        .expect("more than one event: a next_cursor");
    let path = format!("{EVENTS}?limit=1&cursor={}", urlencode(cursor));
    let second = api.admin(200, LIST_EVENTS, &path, NO_BODY).await.json();
    assert_ne!(
        first["events"][0]["id"], second["events"][0]["id"],
        "the next page is another event"
    );
}

/// The README's "Switching a user between SSO and password", step by step.
#[tokio::test]
async fn switching_between_sso_and_password_answers_as_documented() {
    let app = spawn_app().await;
    let api = Checked::new(&app);
    let user_name = "switch@example.com";
    let new = json!({"user_name": user_name, "email": user_name});
    let account = api.admin(201, CREATE_ACCOUNT, ACCOUNTS, new).await.json();
    let id = account["id"].as_str().expect("an id").to_string();
    let mode = format!("{ACCOUNTS}/{id}/auth-mode");
    let sso = json!({"mode": "sso"});
    let password = json!({"mode": "password"});

    // To SSO first, so that the switch to password below is a change.
    let to_sso = api
        .admin(200, SET_AUTH_MODE, &mode, sso.clone())
        .await
        .json();
    assert_eq!(to_sso["account"]["auth_mode"], "sso");
    assert_eq!(
        (&to_sso["reset_url"], &to_sso["reset_expires_at"]),
        (&Value::Null, &Value::Null)
    );
    let again = api
        .admin(200, SET_AUTH_MODE, &mode, sso.clone())
        .await
        .json();
    assert_eq!(again["changed"], false, "{again}");
    api.admin(400, SET_AUTH_MODE, &mode, json!({"mode": "passkey"}))
        .await;
    let new_link = format!("{ACCOUNTS}/{id}/password-reset");
    let refused = api.admin(409, NEW_RESET_LINK, &new_link, NO_BODY).await;
    assert_eq!(refused.error(), "conflict");

    // Back to password: a reset link, in the response and in the outbox.
    let to_password = api.admin(200, SET_AUTH_MODE, &mode, password).await.json();
    assert_eq!(to_password["changed"], true, "{to_password}");
    assert_eq!(to_password["account"]["auth_mode"], "password");
    assert_eq!(to_password["account"]["has_password"], false);
    assert!(to_password["reset_expires_at"].is_string(), "{to_password}");
    let reset_url = to_password["reset_url"]
        .as_str()
        .expect("a reset_url")
        .to_string();
    let token = reset_token_of(&app, &reset_url);
    let outbox = format!("/api/v1/outbox?account_id={id}");
    let messages = api.admin(200, LIST_OUTBOX, &outbox, NO_BODY).await.json();
    let newest = &messages["messages"][0];
    assert_eq!(newest["account_id"], id.as_str(), "{messages}");
    assert_eq!(newest["reset_url"], reset_url.as_str(), "{messages}");
    assert_eq!(
        newest["status"], "not_sent",
        "no mail server is configured: {newest}"
    );
    assert!(
        messages["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .all(|m| m["account_id"] == id.as_str()),
        "account_id filters: {messages}"
    );

    // The person sets a password through the link.
    for short in ["short", user_name] {
        let body = json!({"token": token, "new_password": short});
        let answer = api.anonymous(400, RESET, body).await;
        assert_eq!(answer.error(), "invalid_request", "{short}");
    }
    let body = json!({"token": token, "new_password": PASSWORD});
    let done = api.anonymous(200, RESET, body.clone()).await.json();
    assert_eq!(done["account_id"], id.as_str());
    let unknown = json!({"token": "not-a-token", "new_password": PASSWORD});
    for body in [body, unknown] {
        let answer = api.anonymous(400, RESET, body).await;
        assert_eq!(answer.error(), "invalid_token", "a used or unknown link");
    }
    let used = api.admin(200, LIST_OUTBOX, &outbox, NO_BODY).await.json();
    assert_eq!(
        used["messages"][0]["reset_url"],
        Value::Null,
        "a used link leaves the outbox: {used}"
    );
    let one = format!("{ACCOUNTS}/{id}");
    assert_eq!(
        api.admin(200, GET_ACCOUNT, &one, NO_BODY).await.json()["has_password"],
        true
    );

    // Signing in.
    let org = app.org.slug.as_str();
    for (org, user_name, password) in [
        (org, user_name, "wrong password!"),
        ("no-such-org", user_name, PASSWORD),
        (org, "nobody@example.com", PASSWORD),
    ] {
        let body = json!({"org": org, "user_name": user_name, "password": password});
        let answer = api.anonymous(401, LOGIN, body).await;
        assert_eq!(answer.error(), "invalid_credentials");
    }
    let credentials = json!({"org": org, "user_name": user_name, "password": PASSWORD});
    let login = api.anonymous(200, LOGIN, credentials.clone()).await;
    assert_eq!(login.json()["account_id"], id.as_str());
    let set_cookie = login.header("set-cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "the session cookie is {attribute}: {set_cookie}"
        );
    }
    assert!(
        !set_cookie.contains("Secure"),
        "no Secure on an http public URL: {set_cookie}"
    );
    let cookie = Creds::Cookie(session_cookie_of(&login).expect("the session cookie"));
    let session = api
        .call_as(&cookie, 200, SESSION, "/auth/session", NO_BODY)
        .await
        .json();
    assert_eq!(session["account_id"], id.as_str(), "{session}");
    assert_eq!(session["method"], "password", "{session}");
    assert_eq!(session["org"]["slug"], org, "{session}");

    // To SSO: the password and the session go.
    let to_sso = api.admin(200, SET_AUTH_MODE, &mode, sso).await.json();
    assert_eq!(to_sso["changed"], true, "{to_sso}");
    assert_eq!(to_sso["sessions_ended"], 1, "{to_sso}");
    assert_eq!(to_sso["account"]["has_password"], false, "{to_sso}");
    api.call_as(&cookie, 401, SESSION, "/auth/session", NO_BODY)
        .await;
    let refused = api.anonymous(403, LOGIN, credentials).await;
    assert_eq!(refused.error(), "sso_required", "login of an sso account");

    // The audit log tells the story.
    let path = format!("{EVENTS}?target_id={id}");
    let events = api.admin(200, LIST_EVENTS, &path, NO_BODY).await.json();
    let events = events["events"].as_array().expect("events");
    assert!(
        events.len() >= 4,
        "the creation and three switches are audited: {events:?}"
    );
}

#[tokio::test]
async fn requiring_sso_spares_only_break_glass_accounts() {
    let app = spawn_app().await;
    let api = Checked::new(&app);
    let (everyday, everyday_name) = password_account(&app, "everyday").await;
    let (glass, glass_name) = password_account(&app, "glass").await;
    let path = format!("{ACCOUNTS}/{glass}/break-glass");
    let marked = api
        .admin(200, SET_BREAK_GLASS, &path, json!({"enabled": true}))
        .await
        .json();
    assert_eq!(marked["break_glass"], true);

    api.admin(200, UPDATE_ORG, ORG, json!({"sso_enabled": true}))
        .await;
    let preview = "/api/v1/org/require-sso-preview";
    let before = api.admin(200, SSO_PREVIEW, preview, NO_BODY).await.json();
    let listed = ids_of(&before["accounts"]);
    assert!(
        listed.contains(&everyday) && !listed.contains(&glass),
        "{before}"
    );
    assert_eq!(before["count"], listed.len(), "{before}");
    assert_eq!(before["truncated"], false, "{before}");

    let required = json!({"sso_required": true});
    let switched = api.admin(200, UPDATE_ORG, ORG, required).await.json();
    assert_eq!(
        switched["switched_to_sso"], before["count"],
        "as the preview said: {switched}"
    );
    assert_eq!(switched["org"]["sso_required"], true);
    let path = format!("{EVENTS}?target_id={everyday}&action=account.auth_mode_changed");
    let events = api.admin(200, LIST_EVENTS, &path, NO_BODY).await.json();
    assert_eq!(events["events"][0]["actor_type"], "system", "{events}");
    let off = api
        .admin(400, UPDATE_ORG, ORG, json!({"sso_enabled": false}))
        .await;
    assert_eq!(
        off.error(),
        "invalid_request",
        "SSO off while it is required"
    );
    let after = api.admin(200, SSO_PREVIEW, preview, NO_BODY).await.json();
    assert_eq!(after["count"], 0, "{after}");
    let path = format!("{ACCOUNTS}/{everyday}");
    assert_eq!(
        api.admin(200, GET_ACCOUNT, &path, NO_BODY).await.json()["auth_mode"],
        "sso"
    );

    let org = app.org.slug.as_str();
    let body = json!({"org": org, "user_name": everyday_name, "password": PASSWORD});
    let refused = api.anonymous(403, LOGIN, body).await;
    assert_eq!(refused.error(), "sso_required");
    let glass_login = json!({"org": org, "user_name": glass_name, "password": PASSWORD});
    api.anonymous(200, LOGIN, glass_login.clone()).await;

    let path = format!("{ACCOUNTS}/{everyday}/auth-mode");
    let back = api
        .admin(409, SET_AUTH_MODE, &path, json!({"mode": "password"}))
        .await;
    assert_eq!(back.error(), "conflict");

    let path = format!("{ACCOUNTS}/{glass}");
    api.admin(200, UPDATE_ACCOUNT, &path, json!({"active": false}))
        .await;
    let disabled = api.anonymous(403, LOGIN, glass_login).await;
    assert_eq!(disabled.error(), "account_disabled");
}

#[tokio::test]
async fn logging_out_ends_the_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    let api = Checked::new(&app);
    let fixture = Fixture::new(&app).await;
    let cookie = Creds::Cookie(fixture.login().await);
    api.call_as(&cookie, 200, SESSION, "/auth/session", NO_BODY)
        .await;
    let out = api
        .call_as(&cookie, 204, LOGOUT, "/auth/logout", NO_BODY)
        .await;
    let cleared = out.header("set-cookie");
    assert!(
        session_cookie_of(&out).as_deref() == Some("")
            || cleared.to_ascii_lowercase().contains("max-age=0"),
        "logout clears the session cookie: {cleared:?}"
    );
    api.call_as(&cookie, 401, SESSION, "/auth/session", NO_BODY)
        .await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled() {
    let app = spawn_app().await;
    let spec = spec();
    let login = operation(&spec, "POST", "/auth/password/login");
    let (_, user_name) = password_account(&app, "throttled").await;
    let wrong =
        json!({"org": app.org.slug, "user_name": user_name, "password": "not the password"});
    for attempt in 1..=50 {
        let response = send(
            &app,
            &Creds::Nothing,
            "POST",
            "/auth/password/login",
            Some(&wrong),
        );
        let answer = Answer::of(response.await).await;
        assert_documented(&spec, &login, &answer, "a wrong password");
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            let seconds = answer.header("retry-after");
            assert!(
                seconds.parse::<u64>().is_ok(),
                "Retry-After is in seconds: {seconds:?}"
            );
            return;
        }
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            answer.body
        );
    }
    panic!("50 wrong passwords in a row were never answered 429");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_as_the_description_says() {
    let app = spawn_app().await;
    let description = spec()["info"]["description"]
        .as_str()
        .expect("info.description")
        .to_string();
    assert!(
        description.contains("404")
            && description.contains("405")
            && description.contains("ScimError")
            && description.contains("ApiError"),
        "info.description must say that any route answers 404 and 405 with a ScimError or an ApiError"
    );
    let unknown = Answer::of(app.get("/scim/v2/Widgets").await).await;
    assert!(
        unknown.is_unknown_route(),
        "unknown path: {} {}",
        unknown.status,
        unknown.body
    );
    assert!(
        unknown.content_type.starts_with(SCIM),
        "unknown path: {}",
        unknown.content_type
    );
    let wrong = Answer::of(app.delete("/scim/v2/Users").await).await;
    assert_eq!(
        wrong.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method: {}",
        wrong.body
    );
    assert!(
        wrong.content_type.starts_with(SCIM),
        "wrong method: {}",
        wrong.content_type
    );
    for path in ["/api/v1/widgets", "/auth/widgets"] {
        let unknown = admin_call(&app, "GET", path, None).await;
        assert_eq!(
            (unknown.status, unknown.error(), unknown.detail()),
            (
                StatusCode::NOT_FOUND,
                "not_found".to_string(),
                format!("no route for GET {path}")
            ),
            "unknown path {path}: {}",
            unknown.body
        );
        assert!(
            unknown.content_type.starts_with(JSON),
            "{path}: {}",
            unknown.content_type
        );
    }
    for (method, path, allow) in [
        ("DELETE", "/api/v1/org", "GET, HEAD, PATCH"),
        ("GET", "/auth/password/login", "POST"),
    ] {
        let wrong = admin_call(&app, method, path, None).await;
        assert_eq!(
            (wrong.status, wrong.error().as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            "{method} {path}: {}",
            wrong.body
        );
        assert!(
            wrong.content_type.starts_with(JSON),
            "{method} {path}: {}",
            wrong.content_type
        );
        let mut allowed: Vec<&str> = Vec::new();
        let header = wrong.header("allow");
        allowed.extend(header.split(',').map(str::trim));
        allowed.sort_unstable();
        assert_eq!(
            allowed.join(", "),
            allow,
            "{method} {path}: the Allow header"
        );
    }
}

#[tokio::test]
async fn openapi_yaml_is_served() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .expect("GET /openapi.yaml");
    assert_eq!(response.status(), StatusCode::OK, "GET /openapi.yaml");
    let content_type = content_type(&response);
    assert!(
        content_type.starts_with("application/yaml"),
        "GET /openapi.yaml Content-Type is {content_type:?}"
    );
    let body = response.text().await.expect("a text body");
    assert_eq!(
        body, SPEC,
        "the served document must be openapi.yaml as it is in the repository"
    );
    let served: Value = serde_yaml_ng::from_str(&body).expect("the served document parses as YAML");
    let version = served["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1"),
        "the served document's `openapi` must be 3.1.x, found {:?}",
        served["openapi"]
    );
    assert_eq!(served["info"]["title"], "scimlink");
}
