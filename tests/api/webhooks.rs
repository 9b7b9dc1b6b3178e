//! Webhooks: the admin API (admin-only writes, organisation scope, a secret
//! shown once, URLs refused by scheme and by address), and deliveries to a
//! real receiver on loopback that checks every signature with npm's
//! `standardwebhooks`, driven by real SCIM traffic, through an outage.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::{TestApp, patch_op, spawn_app, spawn_app_with};
use crate::oidc_idp::{idp_dir, spawn_idp};

/// The receiver (`tests/idp/webhook-receiver.mjs`).
pub(crate) struct Receiver {
    pub url: String,
    http: reqwest::Client,
    _child: Child,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let mut command = Command::new("node");
        command.arg(format!("{}/webhook-receiver.mjs", idp_dir()));
        let (child, started) = spawn_idp(command, "webhook-receiver", None).await;
        Receiver {
            url: started["url"].as_str().expect("url").to_string(),
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    pub async fn control(&self, body: Value) {
        let r = self
            .http
            .post(format!("{}/_control", self.url))
            .json(&body)
            .send()
            .await
            .expect("control");
        assert_eq!(r.status(), StatusCode::OK);
    }

    pub async fn received(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/_received", self.url))
            .send()
            .await
            .expect("received")
            .json()
            .await
            .expect("JSON")
    }
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, created) = app
        .admin(Method::POST, "/api/v1/webhooks", Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Every event of the feed, in order.
async fn feed(app: &TestApp) -> Vec<Value> {
    let (status, body) = app
        .admin(Method::GET, "/api/v1/events?limit=1000", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().expect("data").clone()
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_secret_is_shown_once_writes_are_admin_only_and_scoped() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"url": "https://hooks.example.com/scim", "description": "CRM",
               "event_types": ["account.*", "group.created"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let key = base64_len(&secret["whsec_".len()..]);
    assert!(key >= 24, "{key} bytes");
    assert_eq!(created["enabled"], json!(true));
    assert_eq!(
        created["event_types"],
        json!(["account.*", "group.created"])
    );

    // Never again: not in GET, the list, or anywhere in the audit log.
    let (_, got) = app
        .admin(Method::GET, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    let (_, list) = app.admin(Method::GET, "/api/v1/webhooks", None).await;
    let (_, audit) = app.admin(Method::GET, "/api/v1/audit-events", None).await;
    for body in [&got, &list, &audit] {
        assert!(
            !body.to_string().contains(&secret["whsec_".len()..]),
            "{body}"
        );
        assert!(body.get("secret").is_none());
    }
    assert_eq!(got["url"], json!("https://hooks.example.com/scim"));
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(audit.to_string().contains("webhook.created"), "{audit}");
    // The database keeps it sealed, not in clear.
    let row = scimlink::store::webhooks::find(&app.db.read, &app.org.id, id)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.secret.contains(&secret["whsec_".len()..]));

    // Support reads, but writes nothing.
    let support = &app.support_token;
    let writes = [
        (
            Method::POST,
            "/api/v1/webhooks".to_string(),
            Some(json!({"url": "https://x.example.com/"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/api/v1/webhooks/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{id}/replay"),
            Some(json!({"after": "0"})),
        ),
    ];
    for (method, path, body) in &writes {
        let (status, answer) = app.api(support, method.clone(), path, body.as_ref()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
    }
    let (status, _) = app
        .api(
            support,
            Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Another organisation's admin does not see it or reach it.
    let (other, _) = app.other_org("globex").await;
    let (_, other_admin) = scimlink::service::admin_tokens::create(
        &app.db,
        &other,
        scimlink::domain::AdminRole::Admin,
        "globex admin",
    )
    .await
    .unwrap();
    let (_, theirs) = app
        .api(&other_admin, Method::GET, "/api/v1/webhooks", None)
        .await;
    assert_eq!(theirs["data"], json!([]));
    for (method, path, body) in writes.iter().skip(1) {
        let (status, answer) = app
            .api(&other_admin, method.clone(), path, body.as_ref())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    for path in [
        format!("/api/v1/webhooks/{id}"),
        format!("/api/v1/webhooks/{id}/deliveries"),
    ] {
        let (status, _) = app.api(&other_admin, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }

    // Rotation: a new secret, shown once; the old one still signs a day.
    let (status, rotated) = app
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["secret"], created["secret"]);
    assert!(
        rotated["previous_secret_expires_at"].is_string(),
        "{rotated}"
    );

    // Edits, bad input, delete.
    let (status, patched) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            Some(&json!({"enabled": false, "event_types": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["enabled"], json!(false));
    for bad in [
        json!({"event_types": ["Account"]}),
        json!({"secret": "x"}),
        json!({"url": 3}),
    ] {
        let (status, answer) = app
            .admin(Method::PATCH, &format!("/api/v1/webhooks/{id}"), Some(&bad))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/replay"),
            Some(&json!({"after": "99"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .admin(Method::GET, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn base64_len(encoded: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64")
        .len()
}

#[tokio::test]
async fn urls_must_be_https_and_never_private_link_local_or_metadata() {
    let app = spawn_app_with(|s| {
        s.outbound.resolve = scimlink::service::outbound::fixed_answers(&[(
            "hooks.internal.test",
            "10.0.0.7".parse().unwrap(),
        )]);
    })
    .await;
    for url in [
        "http://hooks.example.com/",
        "https://10.1.2.3/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/",
    ] {
        let (status, body) = app
            .admin(Method::POST, "/api/v1/webhooks", Some(&json!({"url": url})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    }
    // A name is checked against the address it resolves to when connecting.
    let created = create(&app, json!({"url": "https://hooks.internal.test/hook"})).await;
    let id = created["id"].as_str().unwrap();
    app.create_user(&json!({"userName": "grace"})).await;
    let path = format!("/api/v1/webhooks/{id}/deliveries");
    wait_for("a refused attempt", async || {
        let (_, body) = app.admin(Method::GET, &path, None).await;
        body["data"][0]["attempts"].as_i64().unwrap_or(0) >= 1
    })
    .await;
    let (_, body) = app.admin(Method::GET, &path, None).await;
    let delivery = &body["data"][0];
    assert_eq!(delivery["status"], json!("pending"), "{body}");
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("does not connect to such an address"),
        "{body}"
    );
    assert!(delivery["next_attempt_at"].is_string());
}

#[tokio::test]
async fn every_event_arrives_signed_once_and_in_order_through_an_outage() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let created = create(&app, json!({"url": format!("{}/hook", receiver.url)})).await;
    let id = created["id"].as_str().unwrap().to_string();
    let first_secret = created["secret"].as_str().unwrap().to_string();
    receiver
        .control(json!({"secrets": [first_secret], "down": true}))
        .await;

    // Real SCIM traffic while the receiver is down.
    let mut users = Vec::new();
    for name in ["ada", "alan", "grace"] {
        let user = app.create_user(&json!({"userName": name})).await;
        users.push(user["id"].as_str().unwrap().to_string());
    }
    for (i, user) in users.iter().enumerate() {
        for n in 0..3 {
            let rename = patch_op(json!([{"op": "replace", "path": "displayName",
                "value": format!("name {i} {n}")}]));
            let r = app.patch(&format!("/scim/v2/Users/{user}"), &rename).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let group = app
        .post(
            "/scim/v2/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "eng", "members": [{"value": users[0]}]}),
        )
        .await;
    assert_eq!(group.status(), StatusCode::CREATED);
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = app
        .patch(&format!("/scim/v2/Users/{}", users[1]), &off)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Attempts fail (503) and are retried on the schedule.
    let path = format!("/api/v1/webhooks/{id}/deliveries");
    wait_for("refused attempts", async || {
        let (_, body) = app.admin(Method::GET, &path, None).await;
        body["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["attempts"].as_i64() >= Some(2)))
    })
    .await;
    let (_, body) = app.admin(Method::GET, &path, None).await;
    let failing = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attempts"].as_i64() >= Some(2))
        .unwrap()
        .clone();
    assert_eq!(failing["status"], json!("pending"));
    assert_eq!(failing["last_http_status"], json!(503));

    // A rotation while down: from now on both secrets sign.
    let (status, rotated) = app
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let second_secret = rotated["secret"].as_str().unwrap().to_string();
    receiver
        .control(json!({"secrets": [first_secret, second_secret], "down": false}))
        .await;
    // The backoff is skipped on the server's clock, not waited for.
    app.clock.advance(TimeDelta::hours(3));

    let events = feed(&app).await;
    let want: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(want.len() >= 13, "{}", want.len());
    wait_for("every event", async || {
        let got: HashSet<String> = receiver
            .received()
            .await
            .iter()
            .filter_map(|r| r["webhook_id"].as_str().map(str::to_string))
            .collect();
        got == want
    })
    .await;
    // Let any stray retry land before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received().await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &received {
        let id = r["webhook_id"].as_str().unwrap();
        assert_eq!(
            r["event"]["id"].as_str(),
            Some(id),
            "webhook-id is the event id"
        );
        // Signed with both live secrets, each verified independently.
        assert_eq!(r["verified_by"], json!([0, 1]), "{r}");
        assert_eq!(r["signatures"], json!(2), "{r}");
        *seen.entry(id.to_string()).or_default() += 1;
    }
    assert!(
        seen.values().all(|n| *n == 1),
        "a webhook-id twice: {seen:?}"
    );

    // Per account (and group), in commit order.
    let position: HashMap<&str, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e["id"].as_str().unwrap(), i))
        .collect();
    let mut last: HashMap<String, usize> = HashMap::new();
    for r in &received {
        let event = &r["event"];
        let subject = match (
            event["data"]["account"]["id"].as_str(),
            event["data"]["group"]["id"].as_str(),
        ) {
            (Some(a), _) => format!("account:{a}"),
            (None, Some(g)) => format!("group:{g}"),
            _ => continue,
        };
        let at = position[event["id"].as_str().unwrap()];
        if let Some(before) = last.insert(subject.clone(), at) {
            assert!(before < at, "{subject}: event {at} arrived after {before}");
        }
    }

    let (_, body) = app.admin(Method::GET, &path, None).await;
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == json!("delivered") && d["last_http_status"] == json!(204)),
        "{body}"
    );

    // A replay sends the same events again, with the same webhook-ids.
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/replay"),
            Some(&json!({"after": "0"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_for("the replay", async || {
        receiver.received().await.len() == 2 * want.len()
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_disabled_with_an_event() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let created = create(&app, json!({"url": format!("{}/hook", receiver.url)})).await;
    let id = created["id"].as_str().unwrap().to_string();
    receiver.control(json!({"down": true})).await;
    app.create_user(&json!({"userName": "ada"})).await;
    let get = format!("/api/v1/webhooks/{id}");
    let path = format!("{get}/deliveries");
    // Day by day the attempts keep failing; after 24 h the delivery is
    // failed, after 3 days the endpoint is disabled.
    let mut attempts = 0;
    for _ in 0..40 {
        wait_for("an attempt", async || {
            let (_, body) = app.admin(Method::GET, &path, None).await;
            body["data"][0]["attempts"].as_i64().unwrap_or(0) > attempts
        })
        .await;
        let (_, body) = app.admin(Method::GET, &path, None).await;
        attempts = body["data"][0]["attempts"].as_i64().unwrap();
        if body["data"][0]["status"] == json!("failed") {
            break;
        }
        app.clock.advance(TimeDelta::hours(3));
    }
    let (_, body) = app.admin(Method::GET, &path, None).await;
    assert_eq!(body["data"][0]["status"], json!("failed"), "{body}");
    let (_, hook) = app.admin(Method::GET, &get, None).await;
    assert_eq!(hook["enabled"], json!(true), "one day is not three: {hook}");
    // Two more days of failures on a new event.
    app.create_user(&json!({"userName": "alan"})).await;
    wait_for("the webhook disabled", async || {
        app.clock.advance(TimeDelta::hours(3));
        let (_, hook) = app.admin(Method::GET, &get, None).await;
        hook["enabled"] == json!(false)
    })
    .await;
    let events = feed(&app).await;
    let disabled = events
        .iter()
        .find(|e| e["type"] == json!("webhook.disabled"))
        .expect("a webhook.disabled event");
    assert_eq!(disabled["data"]["webhook"]["id"], json!(id));
    let (_, audit) = app.admin(Method::GET, "/api/v1/audit-events", None).await;
    assert!(audit.to_string().contains("webhook.disabled"), "{audit}");
}

#[tokio::test]
async fn secrets_rotate_reseals_webhook_secrets_with_the_new_key() {
    use scimlink::domain::sealing::SecretKeys;
    let old = SecretKeys::generate();
    let old_for_app = old.clone();
    let app = spawn_app_with(move |s| {
        s.secret_keys = Some(std::sync::Arc::new(
            SecretKeys::parse(&old_for_app, None).unwrap(),
        ));
    })
    .await;
    let created = create(&app, json!({"url": "https://hooks.example.com/a"})).await;
    let id = created["id"].as_str().unwrap();
    // A rotation of the webhook's own secret: the previous one is kept too.
    let (status, rotated) = app
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let new = SecretKeys::generate();
    let keys = SecretKeys::parse(&new, Some(&old)).unwrap();
    let rotation = scimlink::service::secrets::rotate(&app.db, &keys)
        .await
        .unwrap();
    assert_eq!(rotation.resealed, 2, "{rotation:?}");
    let row = scimlink::store::webhooks::find(&app.db.read, &app.org.id, id)
        .await
        .unwrap()
        .unwrap();
    let only_new = SecretKeys::parse(&new, None).unwrap();
    for (stored, context, plain) in [
        (
            &row.secret,
            format!("webhooks.secret:{id}"),
            &rotated["secret"],
        ),
        (
            row.previous_secret.as_ref().unwrap(),
            format!("webhooks.previous_secret:{id}"),
            &created["secret"],
        ),
    ] {
        assert!(only_new.is_current(stored));
        let opened = only_new
            .open(stored, &context)
            .expect("opens with the new key");
        assert_eq!(json!(opened.expose()), *plain);
    }
}
