//! `openapi.yaml` against the route table and the running server: the spec
//! names every served route and nothing else, each documented operation
//! answers over HTTP with a status and headers the spec declares, and the
//! document is served at `/openapi.yaml`.

use std::collections::BTreeSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{SCIM, TestApp, content_type, patch_op, spawn_app};

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

    /// The operation's own `security`, else the document's.
    fn requires_token(&self, spec: &Value) -> bool {
        let security = self.op.get("security").unwrap_or(&spec["security"]);
        security
            .as_array()
            .is_some_and(|reqs| reqs.iter().any(|r| r.get("scimBearer").is_some()))
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
fn handler_names() -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = ROUTES_SOURCE;
    while let Some(at) = rest.find("r(Method::") {
        rest = &rest[at + "r(Method::".len()..];
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

/// A concrete path for a spec path: `{id}` becomes something worth asking for
/// (an unknown id for a User or Group).
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

/// A small, valid body for a method that takes one.
fn body_for(method: &str, path: &str) -> Option<Value> {
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

async fn send(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.header("content-type", SCIM).body(body.to_string());
    }
    request.send().await.expect("the request is sent")
}

/// What a response carried, with its body as text.
struct Answer {
    status: StatusCode,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: String,
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
        }
    }

    fn detail(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|b| b["detail"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The router's answer for a path no route serves.
    fn is_unknown_route(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.detail().starts_with("no route for")
    }
}

/// Asserts `answer` is a response the spec declares for `operation`: its
/// status is listed, its content type is one the response declares, and
/// every header the response declares is present.
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
    if let Some(content) = response.get("content").and_then(Value::as_object) {
        let media = answer
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        assert!(
            content.contains_key(&media),
            "{name} ({context}) answered {} with Content-Type {:?}, but openapi.yaml declares {:?}",
            answer.status,
            answer.content_type,
            content.keys().collect::<Vec<_>>()
        );
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
}

fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> Operation<'a> {
    operations(spec)
        .into_iter()
        .find(|o| o.method == method && o.path == path)
        .unwrap_or_else(|| panic!("openapi.yaml has no {method} {path}"))
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
async fn every_error_response_is_a_scim_error() {
    let spec = spec();
    for operation in operations(&spec) {
        let name = operation.name();
        assert!(
            operation.op["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{name} declares no responses"
        );
        if operation.requires_token(&spec) {
            assert!(
                operation.op["responses"].get("401").is_some(),
                "{name} needs a token, so it must declare 401"
            );
        } else {
            assert!(
                operation.op["responses"].get("401").is_none(),
                "{name} needs no token, so it cannot answer 401"
            );
        }
        for status in operation.declared_statuses() {
            let code: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{name}: response key {status:?} is not a status code"));
            if code < 400 {
                continue;
            }
            let response = resolve(&spec, &operation.op["responses"][&status]);
            let content = &response["content"];
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

/// Calls one spec operation on concrete ids (an unknown User or Group for `{id}`),
/// with or without the token; returns its name, the path sent and the answer.
async fn call(
    app: &TestApp,
    token: Option<&str>,
    operation: &Operation<'_>,
    unknown_user: &str,
) -> (String, String, Answer) {
    let path = concrete_path(&operation.path, unknown_user);
    let body = body_for(&operation.method, &operation.path);
    let response = send(app, token, &operation.method, &path, body.as_ref()).await;
    (operation.name(), path, Answer::of(response).await)
}

#[tokio::test]
async fn every_spec_operation_answers_over_http() {
    let app = spawn_app().await;
    let spec = spec();
    let unknown_user = uuid::Uuid::new_v4().to_string();
    for operation in operations(&spec) {
        let (name, path, answer) = call(&app, Some(&app.token), &operation, &unknown_user).await;
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
    }
}

#[tokio::test]
async fn the_spec_security_is_what_the_server_enforces() {
    let app = spawn_app().await;
    let spec = spec();
    let unknown_user = uuid::Uuid::new_v4().to_string();
    for operation in operations(&spec) {
        let (name, _, answer) = call(&app, None, &operation, &unknown_user).await;
        if operation.requires_token(&spec) {
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{name} requires scimBearer in openapi.yaml, but without a token it answered: {}",
                answer.body
            );
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
            && description.contains("ScimError"),
        "info.description must say that any route answers 404 and 405 with a ScimError"
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
