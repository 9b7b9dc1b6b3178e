//! `/Bulk` (RFC 7644 §3.7): many operations in one request, each committed
//! whole or not at all on its own, with `bulkId` references between them.

use std::collections::{HashMap, HashSet};

use actix_web::ResponseError;
use serde_json::{Map, Value, json};

use super::{AppState, OrgScope, Resource, groups, users};
use crate::error::{AppError, AppResult};
use crate::scim::projection::Projection;
use crate::scim::resource::get_ci;
use crate::scim::schema::{GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE};

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Users,
    Groups,
}

/// One operation of a BulkRequest, read.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    bulk_id: Option<String>,
    path: String,
    version: Option<String>,
    data: Option<Value>,
    /// The bulkIds this operation refers to (`bulkId:X` in its path or data).
    needs: HashSet<String>,
}

const REFERENCE_PREFIX: &str = "bulkId:";

fn references(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(REFERENCE_PREFIX) {
                out.insert(id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// Replaces every `bulkId:X` with the id the operation that declared X created.
fn substitute(value: &mut Value, created: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s
                .strip_prefix(REFERENCE_PREFIX)
                .and_then(|b| created.get(b))
            {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, created)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, created)),
        _ => {}
    }
}

fn substitute_path(path: &str, created: &HashMap<String, String>) -> String {
    let mut out = Value::String(path.to_string());
    if let Some((head, tail)) = path.rsplit_once('/') {
        let mut last = Value::String(tail.to_string());
        substitute(&mut last, created);
        out = Value::String(format!("{head}/{}", last.as_str().unwrap_or(tail)));
    }
    out.as_str().unwrap_or(path).to_string()
}

/// A BulkRequest, read and checked for shape; 413 past `max_operations`.
struct BulkRequest {
    fail_on_errors: Option<u64>,
    operations: Vec<Result<Operation, AppError>>,
}

fn read_request(body: &Value, max_operations: usize) -> AppResult<BulkRequest> {
    let Value::Object(body) = body else {
        return Err(AppError::invalid_syntax(
            "a BulkRequest must be a JSON object",
        ));
    };
    if let Some(schemas) = get_ci(body, "schemas")
        && !schemas.as_array().is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST_URN))
            })
        })
    {
        return Err(AppError::invalid_syntax(format!(
            "schemas must contain {BULK_REQUEST_URN}"
        )));
    }
    let fail_on_errors = match get_ci(body, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => n.as_u64(),
        // JSON has one number type: 2.0 is the integer 2.
        Some(Value::Number(n))
            if n.as_f64()
                .is_some_and(|f| f >= 1.0 && f.fract() == 0.0 && f < 1e15) =>
        {
            n.as_f64().map(|f| f as u64)
        }
        Some(_) => {
            return Err(AppError::invalid_value(
                "failOnErrors must be a positive integer",
            ));
        }
    };
    let operations = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(AppError::invalid_syntax(
                "Operations must be a non-empty array",
            ));
        }
    };
    if operations.len() > max_operations {
        // RFC 7644 §3.7.4: more operations than maxOperations is 413.
        return Err(AppError::TooManyOperations {
            limit: max_operations,
        });
    }
    let mut seen = HashSet::new();
    let operations = operations
        .iter()
        .map(|op| {
            let op = read_operation(op)?;
            if let Some(bulk_id) = &op.bulk_id
                && !seen.insert(bulk_id.clone())
            {
                return Err(AppError::invalid_value(format!(
                    "bulkId {bulk_id:?} is used by more than one operation"
                )));
            }
            Ok(op)
        })
        .collect();
    Ok(BulkRequest {
        fail_on_errors,
        operations,
    })
}

fn read_operation(op: &Value) -> AppResult<Operation> {
    let Value::Object(op) = op else {
        return Err(AppError::invalid_syntax("each operation must be an object"));
    };
    let text = |name: &str| get_ci(op, name).and_then(Value::as_str).map(str::to_string);
    let method = match text("method")
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("PATCH") => Method::Patch,
        Some("DELETE") => Method::Delete,
        Some(other) => {
            return Err(AppError::invalid_syntax(format!(
                "method {other} is not one of POST, PUT, PATCH, DELETE"
            )));
        }
        None => return Err(AppError::invalid_syntax("method is required")),
    };
    let path = text("path").ok_or_else(|| AppError::invalid_syntax("path is required"))?;
    let data = get_ci(op, "data").filter(|v| !v.is_null()).cloned();
    if method != Method::Delete && data.is_none() {
        return Err(AppError::invalid_syntax(format!(
            "{} needs data",
            method.as_str()
        )));
    }
    let mut needs = HashSet::new();
    // In a path the reference is a segment: `/Users/bulkId:X`.
    for segment in path.split('/') {
        references(&Value::String(segment.to_string()), &mut needs);
    }
    if let Some(data) = &data {
        references(data, &mut needs);
    }
    Ok(Operation {
        method,
        bulk_id: text("bulkId"),
        path,
        version: text("version"),
        data,
        needs,
    })
}

/// `/Users`, `/Groups/{id}`: the endpoint and the id, if any.
fn route(path: &str) -> AppResult<(Endpoint, Option<String>)> {
    let trimmed = path.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_prefix('/').unwrap_or(trimmed);
    let (endpoint, id) = match trimmed.split_once('/') {
        Some((e, id)) => (e, Some(id.to_string())),
        None => (trimmed, None),
    };
    let endpoint = if endpoint.eq_ignore_ascii_case("Users") {
        Endpoint::Users
    } else if endpoint.eq_ignore_ascii_case("Groups") {
        Endpoint::Groups
    } else {
        return Err(AppError::NotFound(format!(
            "no resource endpoint {path:?} (use /Users or /Groups)"
        )));
    };
    Ok((endpoint, id))
}

async fn execute(
    state: &AppState,
    scope: &OrgScope,
    op: &Operation,
    created: &HashMap<String, String>,
) -> AppResult<(u16, Option<Resource>)> {
    let path = substitute_path(&op.path, created);
    let mut data = op.data.clone().unwrap_or(Value::Null);
    substitute(&mut data, created);
    let (endpoint, id) = route(&path)?;
    // Bulk results carry a location and a version, never a body: leave out
    // what would cost reads (a group's members, a user's groups).
    let projection = match endpoint {
        Endpoint::Users => Projection::parse(&USER_RESOURCE_TYPE, None, Some("groups"))?,
        Endpoint::Groups => Projection::parse(&GROUP_RESOURCE_TYPE, None, Some("members"))?,
    };
    let version = op.version.as_deref();
    let needs_id = || {
        id.clone().ok_or_else(|| {
            AppError::invalid_value(format!("{} needs a path with an id", op.method.as_str()))
        })
    };
    Ok(match (op.method, endpoint) {
        (Method::Post, _) if id.is_some() => {
            return Err(AppError::invalid_value(
                "POST goes to /Users or /Groups, without an id",
            ));
        }
        (Method::Post, Endpoint::Users) => (
            201,
            Some(users::create(state, scope, &data, &projection).await?),
        ),
        (Method::Post, Endpoint::Groups) => (
            201,
            Some(groups::create(state, scope, &data, &projection).await?),
        ),
        (Method::Put, Endpoint::Users) => (
            200,
            Some(users::replace(state, scope, &needs_id()?, &data, version, &projection).await?),
        ),
        (Method::Put, Endpoint::Groups) => (
            200,
            Some(groups::replace(state, scope, &needs_id()?, &data, version, &projection).await?),
        ),
        (Method::Patch, Endpoint::Users) => (
            200,
            Some(users::patch(state, scope, &needs_id()?, &data, version, &projection).await?),
        ),
        (Method::Patch, Endpoint::Groups) => (
            200,
            Some(groups::patch(state, scope, &needs_id()?, &data, version, &projection).await?),
        ),
        (Method::Delete, Endpoint::Users) => {
            users::delete(state, scope, &needs_id()?, version).await?;
            (204, None)
        }
        (Method::Delete, Endpoint::Groups) => {
            groups::delete(state, scope, &needs_id()?, version).await?;
            (204, None)
        }
    })
}

fn result_entry(
    op: Option<&Operation>,
    status: u16,
    resource: Option<&Resource>,
    error: Option<&AppError>,
) -> Value {
    let mut entry = Map::new();
    if let Some(op) = op {
        entry.insert("method".into(), json!(op.method.as_str()));
        if let Some(bulk_id) = &op.bulk_id {
            entry.insert("bulkId".into(), json!(bulk_id));
        }
    }
    if let Some(resource) = resource {
        entry.insert("location".into(), json!(resource.location));
        entry.insert("version".into(), json!(resource.etag));
    }
    entry.insert("status".into(), json!(status.to_string()));
    if let Some(error) = error {
        entry.insert("response".into(), error.scim_body());
    }
    Value::Object(entry)
}

/// Runs a BulkRequest in request order. An operation that refers to
/// `bulkId:X` before the POST declaring X has run waits, and runs right after
/// it. A reference to a bulkId no operation declares, to one whose POST
/// failed, or in a cycle is that operation's 409 `invalidValue`. After
/// `failOnErrors` errors the rest is not run (RFC 7644 §3.7.3).
pub async fn run(
    state: &AppState,
    scope: &OrgScope,
    body: &Value,
    max_operations: usize,
) -> AppResult<Value> {
    let request = read_request(body, max_operations)?;
    let mut bulk = Run {
        state,
        scope,
        declared: request
            .operations
            .iter()
            // Only a POST creates what a bulkId names (RFC 7644 §3.7).
            .filter_map(|op| {
                op.as_ref()
                    .ok()
                    .filter(|op| op.method == Method::Post)
                    .and_then(|op| op.bulk_id.clone())
            })
            .collect(),
        results: vec![None; request.operations.len()],
        created: HashMap::new(),
        failed: HashSet::new(),
        errors: 0,
        fail_on_errors: request.fail_on_errors,
    };
    let mut waiting: Vec<usize> = Vec::new();
    for i in 0..request.operations.len() {
        if bulk.stopped() {
            break;
        }
        let op = match &request.operations[i] {
            Ok(op) => op,
            Err(e) => {
                bulk.fail(i, None, e);
                continue;
            }
        };
        if op.needs.iter().any(|b| bulk.pending(b)) {
            waiting.push(i);
            continue;
        }
        bulk.run_one(i, op, None).await;
        // Whatever this operation unblocked runs now, in request order.
        while let Some(pos) = waiting.iter().position(|&w| {
            request.operations[w]
                .as_ref()
                .is_ok_and(|op| !op.needs.iter().any(|b| bulk.pending(b)))
        }) {
            if bulk.stopped() {
                break;
            }
            let w = waiting.remove(pos);
            if let Ok(op) = &request.operations[w] {
                bulk.run_one(w, op, None).await;
            }
        }
    }
    // Still waiting: each waits, directly or not, on itself.
    for w in waiting {
        if bulk.stopped() {
            break;
        }
        if let Ok(op) = &request.operations[w] {
            let b = op
                .needs
                .iter()
                .find(|b| bulk.pending(b))
                .cloned()
                .unwrap_or_default();
            bulk.run_one(
                w,
                op,
                Some(AppError::BulkReference(format!(
                    "bulkId {b} is part of a circular reference"
                ))),
            )
            .await;
        }
    }
    log::info!(
        "Bulk: {} of {} operations run, {} failed, in organisation {}",
        bulk.results.iter().filter(|r| r.is_some()).count(),
        bulk.results.len(),
        bulk.errors,
        scope.org_id
    );
    Ok(json!({
        "schemas": [BULK_RESPONSE_URN],
        "Operations": bulk.results.into_iter().flatten().collect::<Vec<_>>(),
    }))
}

/// The state of one Bulk request as it runs.
struct Run<'a> {
    state: &'a AppState,
    scope: &'a OrgScope,
    declared: HashSet<String>,
    results: Vec<Option<Value>>,
    /// bulkId -> the id its POST created.
    created: HashMap<String, String>,
    /// bulkIds whose POST failed.
    failed: HashSet<String>,
    errors: u64,
    fail_on_errors: Option<u64>,
}

impl Run<'_> {
    fn stopped(&self) -> bool {
        self.fail_on_errors
            .is_some_and(|limit| self.errors >= limit)
    }

    /// A bulkId that some operation declares and that has not run yet.
    fn pending(&self, bulk_id: &str) -> bool {
        self.declared.contains(bulk_id)
            && !self.created.contains_key(bulk_id)
            && !self.failed.contains(bulk_id)
    }

    fn fail(&mut self, i: usize, op: Option<&Operation>, error: &AppError) {
        self.errors += 1;
        if let Some(bulk_id) = op
            .filter(|op| op.method == Method::Post)
            .and_then(|op| op.bulk_id.as_ref())
        {
            self.failed.insert(bulk_id.clone());
        }
        self.results[i] = Some(result_entry(
            op,
            error.status_code().as_u16(),
            None,
            Some(error),
        ));
    }

    /// Runs one operation (or records `refusal` for it) and its result.
    async fn run_one(&mut self, i: usize, op: &Operation, refusal: Option<AppError>) {
        let unresolved = refusal.or_else(|| {
            op.needs
                .iter()
                .find(|b| !self.created.contains_key(*b))
                .map(|b| {
                    let why = if self.failed.contains(b) {
                        "was declared by an operation that failed"
                    } else {
                        "is not declared by any POST in this request"
                    };
                    AppError::BulkReference(format!("bulkId {b} {why}"))
                })
        });
        let outcome = match unresolved {
            Some(e) => Err(e),
            None => execute(self.state, self.scope, op, &self.created).await,
        };
        match outcome {
            Ok((status, resource)) => {
                if let (Some(bulk_id), Some(resource)) = (&op.bulk_id, &resource)
                    && let Some(id) = resource.body.get("id").and_then(Value::as_str)
                {
                    self.created.insert(bulk_id.clone(), id.to_string());
                }
                self.results[i] = Some(result_entry(Some(op), status, resource.as_ref(), None));
            }
            Err(e) => self.fail(i, Some(op), &e),
        }
    }
}
