//! Replays recorded IdP conversations (`tests/api/fixtures/idp/<idp>/*.json`:
//! one folder per IdP, one JSON file per conversation) against a fresh
//! server and checks every answer. Fixture paths given to [`load`] and
//! [`replay`] are relative to `tests/api/fixtures/idp/`, e.g.
//! `"okta/spec_test.json"`.
//!
//! # Fixture format
//!
//! ```json
//! {
//!   "description": "what the IdP is doing, and where the conversation comes from",
//!   "notes": ["optional free text: steps left out, and why"],
//!   "steps": [
//!     {
//!       "name": "create the user",
//!       "comment": "optional free text",
//!       "token": "bad",
//!       "request": {
//!         "method": "POST",
//!         "path": "/scim/v2/Users?filter=userName%20eq%20%22x%22",
//!         "headers": {"Accept": "application/scim+json"},
//!         "body": {"userName": "x"}
//!       },
//!       "expect": {
//!         "status": 201,
//!         "headers": {"content-type": "application/scim+json"},
//!         "body_contains": {"userName": "x", "emails": [{"type": "work"}]},
//!         "body_present": ["/id", "/meta/created"],
//!         "body_absent": ["/password"],
//!         "total_results": 0,
//!         "capture": {"user_id": "/id"}
//!       }
//!     }
//!   ]
//! }
//! ```
//!
//! Request:
//! - `path` is sent byte for byte as written (after placeholders): the query
//!   keeps the IdP's own encoding (`%20`, `+`, `%22`, `%5B`). The engine fails
//!   the step if the HTTP client would have re-encoded it.
//! - `headers` are added as given. A `body` is sent as JSON text with
//!   `Content-Type: application/scim+json` unless `headers` names another.
//! - `token` (step level): absent sends the test organisation's valid bearer
//!   token; `"bad"` sends a well-formed bearer token that no organisation
//!   owns; `"none"` sends no `Authorization` header at all.
//!
//! Expect (only `status` is required):
//! - `status`: the HTTP status code.
//! - `headers`: each named response header (name case-insensitive) must equal
//!   the value, or start with it followed by `;` (media-type parameters).
//! - `body_contains`: a JSON subset of the response body. Objects: every
//!   expected key is present and its value matches, recursively; other keys
//!   may be there too. Arrays: every expected element matches a different
//!   element of the actual array, in any order; the actual array may hold
//!   more. Scalars: equal.
//! - `body_present` / `body_absent`: JSON pointers (RFC 6901) that must /
//!   must not resolve in the response body.
//! - `total_results`: the body is a ListResponse whose `totalResults` is N,
//!   whose `Resources` (absent counts as empty) holds at most N values, and
//!   whose `itemsPerPage`, when present, is the number of `Resources`.
//! - `capture`: name -> JSON pointer into the response body; the value is
//!   kept for later steps and must exist.
//!
//! Always checked: a response with a body carries `Content-Type:
//! application/scim+json` (RFC 7644 §3.1/§8.1).
//!
//! Placeholders: `{{name}}` in the request path, header values, body and in
//! `expect.headers` / `expect.body_contains` is replaced by a captured value
//! (captures of this step are taken before its other checks), or by the
//! built-in `{{base_url}}` (the server's address, no trailing slash). A JSON
//! string that is exactly one placeholder becomes the captured JSON value
//! (a number stays a number); elsewhere the value is inserted as text. An
//! unknown placeholder fails the step.
//!
//! Unknown keys anywhere in a fixture are an error, so a misspelt expectation
//! cannot silently check nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::helpers::{SCIM, TestApp};

/// A bearer token no organisation has (the `"bad"` override).
const BAD_TOKEN: &str = "scimlink-replay-invalid-token-0000000000000000";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub description: String,
    #[serde(default)]
    pub notes: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub token: Option<TokenOverride>,
    pub request: Request,
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenOverride {
    Bad,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body_contains: Option<Value>,
    #[serde(default)]
    pub body_present: Vec<String>,
    #[serde(default)]
    pub body_absent: Vec<String>,
    #[serde(default)]
    pub total_results: Option<u64>,
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

/// One request and its answer, as replayed.
#[derive(Debug)]
pub struct Exchange {
    pub name: String,
    pub status: u16,
    pub body: Value,
}

/// What a replay leaves for a test's own checks.
#[derive(Debug)]
pub struct Transcript {
    pub exchanges: Vec<Exchange>,
    pub captures: BTreeMap<String, Value>,
}

impl Transcript {
    /// The exchanges whose step name starts with `prefix`.
    pub fn named<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Exchange> + 'a {
        self.exchanges
            .iter()
            .filter(move |e| e.name.starts_with(prefix))
    }

    pub fn capture(&self, name: &str) -> &Value {
        self.captures
            .get(name)
            .unwrap_or_else(|| panic!("nothing captured as {name:?}"))
    }
}

/// The IdPs with recorded conversations: one folder each under
/// [`fixtures_dir`], one test module each (`idp_<name>.rs`).
pub const IDPS: &[&str] = &["okta", "entra", "onelogin", "jumpcloud"];

/// `tests/api/fixtures/idp/`: one folder per IdP.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/fixtures/idp")
}

pub fn load(fixture: &str) -> Fixture {
    let path = fixtures_dir().join(fixture);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {fixture} is not valid: {e}"))
}

/// Asserts that `fixtures/idp/<idp>/` holds exactly the conversations `names`
/// (file stems), so no fixture file is left without a test.
pub fn assert_fixture_set(idp: &str, names: &[&str]) {
    let dir = fixtures_dir().join(idp);
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        found,
        expected,
        "fixture files in {} vs conversations with a test",
        dir.display()
    );
    for name in names {
        let fixture = load(&format!("{idp}/{name}.json"));
        assert!(
            !fixture.description.trim().is_empty(),
            "{idp}/{name}: empty description"
        );
        assert!(!fixture.steps.is_empty(), "{idp}/{name}: no steps");
        let texts = fixture
            .notes
            .iter()
            .chain(fixture.steps.iter().filter_map(|s| s.comment.as_ref()));
        for text in texts {
            assert!(
                !text.trim().is_empty(),
                "{idp}/{name}: an empty note or comment"
            );
        }
        for step in &fixture.steps {
            assert!(
                !step.name.trim().is_empty(),
                "{idp}/{name}: a step without a name"
            );
        }
    }
}

#[test]
fn every_idp_folder_is_a_known_idp() {
    let dir = fixtures_dir();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry"))
        .map(|entry| {
            let path = entry.path();
            assert!(
                path.is_dir(),
                "{}: only IdP folders belong directly under {}",
                path.display(),
                dir.display()
            );
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect();
    found.sort();
    let mut expected: Vec<String> = IDPS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "IdP folders in {}", dir.display());
}

/// Replays `fixture` (a path under `tests/api/fixtures/idp/`) against `app`,
/// panicking at the first step whose answer is not as expected.
pub async fn replay(app: &TestApp, fixture: &str) -> Transcript {
    let loaded = load(fixture);
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    vars.insert(
        "base_url".into(),
        Value::String(app.address.trim_end_matches('/').to_string()),
    );
    let mut exchanges = Vec::with_capacity(loaded.steps.len());
    for (index, step) in loaded.steps.iter().enumerate() {
        let at = format!("{fixture} step {} ({:?})", index + 1, step.name);
        let exchange = run_step(app, step, &mut vars, &at).await;
        exchanges.push(exchange);
    }
    vars.remove("base_url");
    Transcript {
        exchanges,
        captures: vars,
    }
}

async fn run_step(
    app: &TestApp,
    step: &Step,
    vars: &mut BTreeMap<String, Value>,
    at: &str,
) -> Exchange {
    let req = &step.request;
    let method = Method::from_bytes(req.method.as_bytes())
        .unwrap_or_else(|_| panic!("{at}: bad method {:?}", req.method));
    let path = substitute_text(&req.path, vars, at);
    assert!(
        path.starts_with('/'),
        "{at}: the path must start with '/': {path}"
    );
    let url = format!("{}{path}", app.address.trim_end_matches('/'));

    let mut builder = app.client.request(method.clone(), &url);
    builder = match step.token {
        None => builder.bearer_auth(&app.token),
        Some(TokenOverride::Bad) => builder.bearer_auth(BAD_TOKEN),
        Some(TokenOverride::None) => builder,
    };
    let mut has_content_type = false;
    for (name, value) in &req.headers {
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        builder = builder.header(name.as_str(), substitute_text(value, vars, at));
    }
    let body_text = req
        .body
        .as_ref()
        .map(|b| substitute(b, vars, at).to_string());
    if let Some(text) = &body_text {
        if !has_content_type {
            builder = builder.header("content-type", SCIM);
        }
        builder = builder.body(text.clone());
    }
    let request = builder
        .build()
        .unwrap_or_else(|e| panic!("{at}: cannot build the request: {e}"));
    let sent = match request.url().query() {
        Some(q) => format!("{}?{q}", request.url().path()),
        None => request.url().path().to_string(),
    };
    assert_eq!(
        sent, path,
        "{at}: the HTTP client would re-encode the path; write it as the IdP sends it"
    );

    let response = app
        .client
        .execute(request)
        .await
        .unwrap_or_else(|e| panic!("{at}: {method} {path} failed: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{at}: reading the body: {e}"));
    let body: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{at}: the response body is not JSON ({e}): {text}"))
    };
    let context = format!(
        "{at}\n  request: {method} {path}{}\n  response: {status} {}",
        body_text
            .as_deref()
            .map(|b| format!("\n  request body: {b}"))
            .unwrap_or_default(),
        if text.is_empty() { "(no body)" } else { &text }
    );

    let expect = &step.expect;
    assert_eq!(status, expect.status, "status\n{context}");

    for (name, pointer) in &expect.capture {
        let value = body
            .pointer(pointer)
            .unwrap_or_else(|| panic!("capture {name:?}: nothing at {pointer}\n{context}"));
        vars.insert(name.clone(), value.clone());
    }

    if !text.trim().is_empty() {
        let content_type = header_text(&headers, "content-type").unwrap_or_default();
        assert!(
            media_type_matches(&content_type, SCIM),
            "a body with Content-Type {content_type:?}, not {SCIM}\n{context}"
        );
    }
    for (name, expected) in &expect.headers {
        let expected = substitute_text(expected, vars, at);
        let actual = header_text(&headers, name);
        assert!(
            actual
                .as_deref()
                .is_some_and(|a| media_type_matches(a, &expected)),
            "header {name}: expected {expected:?}, got {actual:?}\n{context}"
        );
    }
    if let Some(subset) = &expect.body_contains {
        let subset = substitute(subset, vars, at);
        if let Err(why) = contains(&body, &subset, "") {
            panic!("body_contains: {why}\n  expected subset: {subset}\n{context}");
        }
    }
    for pointer in &expect.body_present {
        assert!(
            body.pointer(pointer).is_some(),
            "body_present: nothing at {pointer}\n{context}"
        );
    }
    for pointer in &expect.body_absent {
        assert!(
            body.pointer(pointer).is_none(),
            "body_absent: {pointer} is {}\n{context}",
            body.pointer(pointer).unwrap()
        );
    }
    if let Some(n) = expect.total_results {
        check_list_response(&body, n)
            .unwrap_or_else(|why| panic!("total_results: {why}\n{context}"));
    }

    Exchange {
        name: step.name.clone(),
        status,
        body,
    }
}

fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `actual` is `expected`, or `expected` followed by `;` parameters.
fn media_type_matches(actual: &str, expected: &str) -> bool {
    actual == expected
        || actual
            .strip_prefix(expected)
            .is_some_and(|rest| rest.trim_start().starts_with(';'))
}

fn check_list_response(body: &Value, n: u64) -> Result<(), String> {
    let total = body.get("totalResults").ok_or("no totalResults")?;
    if total.as_u64() != Some(n) {
        return Err(format!("totalResults is {total}, expected {n}"));
    }
    let resources = match body.get("Resources") {
        None => 0,
        Some(Value::Array(items)) => items.len(),
        Some(other) => return Err(format!("Resources is not an array: {other}")),
    };
    if resources as u64 > n {
        return Err(format!("{resources} Resources but totalResults {n}"));
    }
    if let Some(per_page) = body.get("itemsPerPage")
        && per_page.as_u64() != Some(resources as u64)
    {
        return Err(format!(
            "itemsPerPage is {per_page} but {resources} Resources came"
        ));
    }
    Ok(())
}

/// Whether `actual` holds the JSON subset `expected` (see the module docs).
pub fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, want_value) in want {
                let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                let have_value = have.get(key).ok_or_else(|| format!("{here} is missing"))?;
                contains(have_value, want_value, &here)?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            let mut used = vec![false; have.len()];
            for (i, want_item) in want.iter().enumerate() {
                let found = have.iter().enumerate().position(|(j, have_item)| {
                    !used[j] && contains(have_item, want_item, "").is_ok()
                });
                match found {
                    Some(j) => used[j] = true,
                    None => {
                        return Err(format!(
                            "{at}: no element matches expected element {i}: {want_item}"
                        ));
                    }
                }
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!(
            "{} is {actual}, expected {expected}",
            if at.is_empty() { "the body" } else { at }
        )),
    }
}

/// `value` with every placeholder replaced.
fn substitute(value: &Value, vars: &BTreeMap<String, Value>, at: &str) -> Value {
    match value {
        Value::String(s) => {
            if let Some(name) = whole_placeholder(s) {
                return lookup(vars, name, at).clone();
            }
            Value::String(substitute_text(s, vars, at))
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute(v, vars, at)).collect())
        }
        Value::Object(obj) => Value::Object(
            obj.iter()
                .map(|(k, v)| (substitute_text(k, vars, at), substitute(v, vars, at)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn whole_placeholder(s: &str) -> Option<&str> {
    let name = s.strip_prefix("{{")?.strip_suffix("}}")?;
    (!name.contains("{{") && !name.contains("}}")).then_some(name.trim())
}

fn substitute_text(text: &str, vars: &BTreeMap<String, Value>, at: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("{at}: unclosed placeholder in {text:?}"));
        match lookup(vars, after[..end].trim(), at) {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn lookup<'a>(vars: &'a BTreeMap<String, Value>, name: &str, at: &str) -> &'a Value {
    vars.get(name).unwrap_or_else(|| {
        panic!(
            "{at}: placeholder {{{{{name}}}}} has no captured value (known: {:?})",
            vars.keys()
        )
    })
}
