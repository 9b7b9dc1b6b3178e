//! A real OpenID provider on loopback for the SSO tests: npm's
//! `oidc-provider`, run by `tests/idp/oidc-provider.mjs` (installed by
//! `tests/idp/setup.sh`), and a cookie-keeping client that plays the
//! browser through scimlink, the provider's login and back.

use std::process::Stdio;
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::TestApp;

pub(crate) fn idp_dir() -> String {
    format!("{}/tests/idp", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the installer once per test process (parallel `npm install`s in one
/// folder would trip over each other).
pub(crate) fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let status = std::process::Command::new(format!("{}/setup.sh", idp_dir()))
            .status()
            .expect("run tests/idp/setup.sh");
        assert!(status.success(), "tests/idp/setup.sh failed");
    });
}

/// Installs the test IdPs (once), starts one, passes on what it says on
/// stderr (but lines starting with `quiet`), and returns it with the JSON
/// line it prints first (where it listens). It dies with the test: its
/// stdin is a pipe it watches, and the child is killed on drop.
pub(crate) async fn spawn_idp(
    mut command: Command,
    name: &'static str,
    quiet: Option<&'static str>,
) -> (Child, Value) {
    tokio::task::spawn_blocking(install).await.expect("install");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let stderr = child.stderr.take().expect("stderr");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if !quiet.is_some_and(|q| line.starts_with(q)) {
                eprintln!("{name}: {line}");
            }
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap_or_else(|e| panic!("{name}'s first line: {e}"));
    let started = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("{name}'s first line {line:?} is not JSON: {e}"));
    (child, started)
}

pub struct OidcIdp {
    pub issuer: String,
    http: reqwest::Client,
    _child: Child,
}

impl OidcIdp {
    pub async fn start() -> OidcIdp {
        let mut command = Command::new("node");
        command.arg(format!("{}/oidc-provider.mjs", idp_dir()));
        // The provider's own warnings (the Node version, its in-memory
        // store) are noise here.
        let (child, started) =
            spawn_idp(command, "oidc-provider", Some("oidc-provider WARNING")).await;
        OidcIdp {
            issuer: started["issuer"].as_str().expect("issuer").to_string(),
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    async fn post(&self, path: &str, body: &Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.issuer))
            .json(body)
            .send()
            .await
            .expect("test endpoint");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    /// Registers the clients (`client_id`, `client_secret`, redirect URI) and
    /// starts serving OpenID Connect.
    pub async fn setup(&self, clients: &[(&str, &str, &str)], id_token_ttl: u64) {
        let clients: Vec<Value> = clients
            .iter()
            .map(|(id, secret, uri)| json!({"client_id": id, "client_secret": secret, "redirect_uris": [uri]}))
            .collect();
        self.post(
            "/test/setup",
            &json!({"clients": clients, "id_token_ttl": id_token_ttl}),
        )
        .await;
    }

    /// How often the discovery document and the keys were read: (discovery, jwks).
    pub async fn requests(&self) -> (u64, u64) {
        let counts: Value = self
            .http
            .get(format!("{}/test/requests", self.issuer))
            .send()
            .await
            .expect("test endpoint")
            .json()
            .await
            .expect("JSON");
        (
            counts["discovery"].as_u64().unwrap_or_default(),
            counts["jwks"].as_u64().unwrap_or_default(),
        )
    }

    /// Signs from now on with a new key (a new `kid`), the only one listed.
    pub async fn rotate_keys(&self) {
        self.post("/test/rotate-keys", &json!({})).await;
    }

    /// The `Cache-Control` of the discovery document or the keys
    /// (`{"discovery": "no-store"}`).
    pub async fn cache_control(&self, headers: Value) {
        self.post("/test/cache-control", &headers).await;
    }

    /// Adds (or replaces) an account whose claims the provider asserts.
    pub async fn account(&self, claims: Value) {
        self.post("/test/accounts", &claims).await;
    }
}

/// Creates an OIDC connection for `idp` (its client registered there) and
/// enables it; returns the connection as the admin API shows it.
pub async fn connect(app: &TestApp, idp: &OidcIdp, name: &str, extra: Value) -> Value {
    connect_many(app, idp, &[(name, extra)]).await.remove(0)
}

/// Several connections to one provider (a client each), like sandbox and
/// production apps of one Okta.
pub async fn connect_many(app: &TestApp, idp: &OidcIdp, specs: &[(&str, Value)]) -> Vec<Value> {
    let mut made = Vec::new();
    for (i, (name, extra)) in specs.iter().enumerate() {
        let mut body = json!({
            "type": "oidc",
            "display_name": name,
            "issuer": idp.issuer,
            "client_id": format!("client-{i}"),
            "client_secret": format!("secret-{i}-{}", uuid::Uuid::new_v4()),
            "enabled": false,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if k != "enabled" {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        let (status, created) = app
            .admin(Method::POST, "/api/v1/connections", Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        made.push((
            created,
            body["client_secret"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    let clients: Vec<(String, String, String)> = made
        .iter()
        .map(|(c, secret)| {
            (
                c["client_id"].as_str().unwrap_or_default().to_string(),
                secret.clone(),
                c["redirect_uri"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = clients
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    idp.setup(&refs, 300).await;
    let mut enabled = Vec::new();
    for ((created, _), (_, extra)) in made.iter().zip(specs) {
        let on = extra
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let id = created["id"].as_str().expect("id");
        let (status, body) = patch_connection(app, id, &json!({"enabled": on})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        enabled.push(body);
    }
    enabled
}

/// `PATCH /api/v1/connections/{id}` as the organisation's admin.
pub async fn patch_connection(app: &TestApp, id: &str, body: &Value) -> (StatusCode, Value) {
    app.admin(
        Method::PATCH,
        &format!("/api/v1/connections/{id}"),
        Some(body),
    )
    .await
}

/// What a test changes on the way, as an attacker or a broken network would.
#[derive(Default, Clone)]
pub struct Tamper {
    /// Replaces the nonce scimlink put in the authorization request.
    pub nonce: Option<String>,
    /// Replaces the state of the answer.
    pub state: Option<String>,
    /// Replaces the `iss` of the answer.
    pub iss: Option<String>,
    /// Moves scimlink's clock forward before the answer arrives.
    pub delay: Option<chrono::TimeDelta>,
    /// Delivers the answer to another browser (a planted or stolen callback URL).
    pub other_browser: bool,
}

/// A browser: keeps cookies, follows no redirect on its own.
pub struct Browser {
    pub client: reqwest::Client,
    callback: std::sync::Mutex<Option<String>>,
}

pub(crate) fn location(response: &reqwest::Response, base: &str) -> String {
    let raw = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", response.status()))
        .to_str()
        .expect("a text location")
        .to_string();
    if raw.starts_with('/') {
        format!("{base}{raw}")
    } else {
        raw
    }
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == name {
                    value.to_string()
                } else {
                    v.to_string()
                },
            )
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

fn without_param(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            callback: Default::default(),
        }
    }

    /// The callback URL of the last sign-in, as the provider sent it.
    pub fn last_callback(&self) -> Option<String> {
        self.callback.lock().ok().and_then(|c| c.clone())
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.expect("GET")
    }

    /// Clicks "Sign in with ..." for `connection_id`, signs in at the
    /// provider as `sub`, and returns scimlink's answer to the callback
    /// (a 303 with the session cookie, or a refusal page).
    pub async fn sign_in(
        &self,
        app: &TestApp,
        idp: &OidcIdp,
        connection_id: &str,
        sub: &str,
        tamper: &Tamper,
    ) -> reqwest::Response {
        let start = self
            .get(&app.url(&format!("/sso/{connection_id}/start?return_to=/after")))
            .await;
        assert_eq!(
            start.status(),
            StatusCode::SEE_OTHER,
            "start: {}",
            start.status()
        );
        let authorize = location(&start, &app.address);
        self.at_provider(app, idp, authorize, sub, tamper).await
    }

    /// From the provider's authorization URL (scimlink's redirect): signs
    /// in there as `sub` and returns scimlink's answer to the callback.
    pub async fn at_provider(
        &self,
        app: &TestApp,
        idp: &OidcIdp,
        mut authorize: String,
        sub: &str,
        tamper: &Tamper,
    ) -> reqwest::Response {
        assert!(authorize.starts_with(&idp.issuer), "{authorize}");
        if let Some(nonce) = &tamper.nonce {
            authorize = replace_param(&authorize, "nonce", nonce);
        }
        let to_login = self.get(&authorize).await;
        assert_eq!(
            to_login.status(),
            StatusCode::SEE_OTHER,
            "authorize: {}",
            to_login.text().await.unwrap_or_default()
        );
        let interaction = location(&to_login, &idp.issuer);
        let uid = interaction.rsplit('/').next().expect("uid").to_string();
        let logged_in = self
            .get(&format!(
                "{}/test/login/{uid}?sub={}",
                idp.issuer,
                urlencode(sub)
            ))
            .await;
        assert_eq!(
            logged_in.status(),
            StatusCode::SEE_OTHER,
            "login: {}",
            logged_in.text().await.unwrap_or_default()
        );
        let resume = location(&logged_in, &idp.issuer);
        let back = self.get(&resume).await;
        assert_eq!(
            back.status(),
            StatusCode::SEE_OTHER,
            "resume: {}",
            back.text().await.unwrap_or_default()
        );
        let mut callback = location(&back, &idp.issuer);
        assert!(callback.starts_with(&app.address), "{callback}");
        if let Some(state) = &tamper.state {
            callback = replace_param(&callback, "state", state);
        }
        if let Ok(mut kept) = self.callback.lock() {
            *kept = Some(callback.clone());
        }
        match tamper.iss.as_deref() {
            Some("") => callback = without_param(&callback, "iss"),
            Some(iss) => callback = replace_param(&callback, "iss", iss),
            None => {}
        }
        if let Some(delay) = tamper.delay {
            app.clock.advance(delay);
        }
        if tamper.other_browser {
            Browser::new().get(&callback).await
        } else {
            self.get(&callback).await
        }
    }

    /// `GET /scim/v2/Me` with this browser's cookies.
    pub async fn me(&self, app: &TestApp) -> (StatusCode, Value) {
        let response = self.get(&app.url("/scim/v2/Me")).await;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The answer of a sign-in that must have succeeded: 303 to /after with the cookie.
pub fn assert_signed_in(response: &reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "not signed in");
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/after")
    );
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("scimlink_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

/// A refused sign-in: the status and the page's text.
pub async fn refusal(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    assert!(
        response.headers().get_all("set-cookie").iter().all(|v| !v
            .to_str()
            .unwrap_or_default()
            .starts_with("scimlink_session=")),
        "a refused sign-in set a session cookie"
    );
    (status, response.text().await.unwrap_or_default())
}

/// The newest audit events with this action.
pub async fn audit_events(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/api/v1/audit-events?action={action}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().cloned().unwrap_or_default()
}
