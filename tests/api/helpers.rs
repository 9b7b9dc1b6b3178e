//! `spawn_app()`: a real server on port 0 over a real, migrated, isolated
//! database (a temporary SQLite file, or a fresh PostgreSQL database when
//! `SCIMLINK_TEST_DATABASE_URL` names a server), and typed request helpers.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use scimlink::clock::Clock;
use scimlink::domain::sealing::SecretKeys;
use scimlink::domain::{AdminRole, OrgSlug};
use scimlink::service;
use scimlink::settings::Settings;
use scimlink::startup::Application;
use scimlink::store::Db;
use scimlink::store::orgs::OrgRow;

pub const SCIM: &str = "application/scim+json";
/// A `--metrics-token` for servers that serve `/metrics`.
pub const METRICS_TOKEN: &str = "metrics-token-for-tests-0123456789";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A SCIM token of `org`.
    pub token: String,
    pub org: OrgRow,
    /// Admin API tokens of `org`, one per role.
    pub admin_token: String,
    pub support_token: String,
    /// The server's clock; `advance` it to expire sessions and links.
    pub clock: Clock,
    pub db: Db,
    pub _dir: Option<tempfile::TempDir>,
}

/// A fresh database URL: a new PostgreSQL database, or a SQLite file in `dir`.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("SCIMLINK_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use sea_orm::ConnectionTrait;
            let name = format!("scimlink_t_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .expect("connect to the PostgreSQL test server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create a test database");
            admin.close().await.ok();
            let base = admin_url.split('?').next().unwrap_or(&admin_url);
            let (server, _) = base
                .rsplit_once('/')
                .expect("a PostgreSQL URL with a database path");
            (format!("{server}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("scimlink.db").display()
            );
            (url, Some(dir))
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let (database_url, dir) = fresh_database().await;
    let mut settings = Settings::new(database_url.clone());
    settings.bind = "127.0.0.1:0".into();
    settings.secret_keys = Some(std::sync::Arc::new(
        SecretKeys::parse(&SecretKeys::generate(), None).expect("a key"),
    ));
    configure(&mut settings);
    let clock = settings.clock.clone();
    let db = Db::connect(&settings.database_url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let app = Application::build_with_db(settings, db.clone()).expect("build the application");
    let address = app.base_url().to_string();
    tokio::spawn(app.run_until_stopped());
    let org = service::orgs::create(&db, &OrgSlug::parse("acme").unwrap(), "Acme")
        .await
        .expect("create org");
    let (_, token) = service::tokens::create(&db, &org, "test")
        .await
        .expect("create token");
    let (_, admin_token) = service::admin_tokens::create(&db, &org, AdminRole::Admin, "admin")
        .await
        .expect("create admin token");
    let (_, support_token) =
        service::admin_tokens::create(&db, &org, AdminRole::Support, "support")
            .await
            .expect("create support token");
    TestApp {
        address,
        client: reqwest::Client::new(),
        token,
        org,
        admin_token,
        support_token,
        clock,
        db,
        _dir: dir,
    }
}

fn init_logging() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = env_logger::builder().is_test(true).try_init();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Another organisation with its own token.
    pub async fn other_org(&self, slug: &str) -> (OrgRow, String) {
        let org = service::orgs::create(&self.db, &OrgSlug::parse(slug).unwrap(), slug)
            .await
            .expect("create org");
        let (_, token) = service::tokens::create(&self.db, &org, "other")
            .await
            .expect("create token");
        (org, token)
    }

    /// An admin API call with `token`: the status and the JSON body (Null when empty).
    pub async fn api(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request_as(token, method, path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("admin API request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, body)
    }

    /// Adds a password account (email `<user_name>@example.com`) through the admin API; its id.
    pub async fn new_account(&self, user_name: &str) -> String {
        let body = serde_json::json!({"user_name": user_name, "email": format!("{user_name}@example.com")});
        let (status, body) = self
            .admin(Method::POST, "/api/v1/accounts", Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an id").to_string()
    }

    /// An admin API call with the admin token.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.api(&self.admin_token, method, path, body).await
    }

    /// A request carrying this app's token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.token, method, path)
    }

    pub fn request_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET")
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.request(method, path)
            .header("content-type", SCIM)
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE")
    }

    /// POSTs a User and returns its body; panics unless 201.
    pub async fn create_user(&self, body: &Value) -> Value {
        let response = self.post("/scim/v2/Users", body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create {body}");
        response.json().await.expect("json")
    }

    /// GET /Users?filter=... and the ListResponse body; panics unless 200.
    pub async fn list_users(&self, query: &[(&str, &str)]) -> Value {
        let response = self
            .request(Method::GET, "/scim/v2/Users")
            .query(query)
            .send()
            .await
            .expect("list");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "list {query:?}: {body}");
        body
    }
}

/// A PatchOp body from a list of operations.
pub fn patch_op(operations: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

/// Asserts an RFC 7644 §3.12 error body with `status` and (if given) `scimType`.
pub async fn assert_scim_error(
    response: Response,
    status: StatusCode,
    scim_type: Option<&str>,
) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = content_type(&response);
    assert!(
        content_type.starts_with(SCIM),
        "content-type {content_type}"
    );
    let body: Value = response.json().await.expect("an error body in JSON");
    assert_eq!(
        body["schemas"],
        serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16().to_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    if let Some(t) = scim_type {
        assert_eq!(body["scimType"], t, "{body}");
    }
    body
}

/// The response's Content-Type, or "" when it has none.
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
