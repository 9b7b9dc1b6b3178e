//! Webhook delivery across real `scimlink serve` processes on one database:
//! a process killed with SIGKILL in the middle of deliveries loses nothing
//! (another takes its leased work over), and two instances running the
//! worker at once share the deliveries without sending one twice.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use scimlink::domain::sealing::SecretKeys;
use scimlink::domain::{AdminRole, OrgSlug};
use scimlink::service;
use scimlink::store::Db;

use crate::helpers::fresh_database;
use crate::webhooks::Receiver;

/// A running `scimlink serve`, killed (SIGKILL) when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn serve(database_url: &str, key: &str) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimlink"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env("SCIMLINK_SECRET_KEY", key)
        .env_remove("SCIMLINK_SECRET_KEY_PREVIOUS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scimlink serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("a log line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    // Keep draining the log, or the process blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve {
        child,
        url: url.expect("scimlink serve said where it listens"),
    }
}

/// A migrated database with an organisation, its admin and SCIM tokens.
async fn prepared() -> (String, Option<tempfile::TempDir>, Db, String, String) {
    let (url, dir) = fresh_database().await;
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let org = service::orgs::create(&db, &OrgSlug::parse("acme").unwrap(), "Acme")
        .await
        .unwrap();
    let (_, admin) = service::admin_tokens::create(&db, &org, AdminRole::Admin, "admin")
        .await
        .unwrap();
    let (_, scim) = service::tokens::create(&db, &org, "idp").await.unwrap();
    (url, dir, db, admin, scim)
}

async fn create_webhook(server: &str, admin: &str, receiver: &Receiver) -> String {
    let response = reqwest::Client::new()
        .post(format!("{server}/api/v1/webhooks"))
        .bearer_auth(admin)
        .json(&json!({"url": format!("{}/hook", receiver.url)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["secret"].as_str().unwrap().to_string()
}

/// SCIM traffic: `n` users, each renamed twice; then every event of the
/// feed, in order.
async fn traffic(server: &str, scim: &str, admin: &str, prefix: &str, n: usize) -> Vec<Value> {
    let http = reqwest::Client::new();
    for i in 0..n {
        let user: Value = http
            .post(format!("{server}/scim/v2/Users"))
            .bearer_auth(scim)
            .header("content-type", "application/scim+json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": format!("{prefix}{i}")})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = user["id"].as_str().expect("a user id");
        for n in 0..2 {
            let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": format!("u{i} {n}")}]});
            let r = http
                .patch(format!("{server}/scim/v2/Users/{id}"))
                .bearer_auth(scim)
                .header("content-type", "application/scim+json")
                .body(patch.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let page: Value = http
        .get(format!("{server}/api/v1/events?limit=1000"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

async fn wait_until(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every event arrived, verified, each account's in commit order (by first
/// arrival); how many times each webhook-id arrived.
fn check_arrivals(events: &[Value], received: &[Value]) -> HashMap<String, usize> {
    let position: HashMap<&str, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e["id"].as_str().unwrap(), i))
        .collect();
    let mut count: HashMap<String, usize> = HashMap::new();
    let mut last: HashMap<String, usize> = HashMap::new();
    for r in received {
        assert_eq!(r["verified_by"], json!([0]), "{r}");
        let id = r["webhook_id"].as_str().unwrap().to_string();
        assert_eq!(r["event"]["id"].as_str(), Some(id.as_str()));
        let first = !count.contains_key(&id);
        *count.entry(id.clone()).or_default() += 1;
        if let (true, Some(account)) = (first, r["event"]["data"]["account"]["id"].as_str()) {
            let at = position[id.as_str()];
            if let Some(before) = last.insert(account.to_string(), at) {
                assert!(
                    before < at,
                    "account {account}: {at} arrived after {before}"
                );
            }
        }
    }
    let want: HashSet<&str> = position.keys().copied().collect();
    let got: HashSet<&str> = count.keys().map(String::as_str).collect();
    assert_eq!(got, want, "every event, once at least");
    count
}

#[tokio::test]
async fn a_process_killed_mid_delivery_loses_nothing() {
    let (url, _dir, db, admin, scim) = prepared().await;
    let key = SecretKeys::generate();
    let receiver = Receiver::start().await;
    let first = serve(&url, &key);
    let secret = create_webhook(&first.url, &admin, &receiver).await;
    // Slow answers: deliveries are in flight when the process dies.
    receiver
        .control(json!({"secrets": [secret], "delay_ms": 1500}))
        .await;
    let events = traffic(&first.url, &scim, &admin, "user", 10).await;
    wait_until("deliveries in flight", 30, async || {
        !receiver.received().await.is_empty()
    })
    .await;
    drop(first); // SIGKILL
    let arrived_before = receiver.received().await.len();
    assert!(
        arrived_before < events.len(),
        "the kill came too late to test anything"
    );
    // Its leases would run out after 60 s; make that time pass at once.
    db.write
        .execute_unprepared(
            "UPDATE webhook_deliveries SET lease_until = NULL, lease_token = NULL \
             WHERE status = 'pending'",
        )
        .await
        .unwrap();
    receiver.control(json!({"delay_ms": 0})).await;
    let _second = serve(&url, &key);
    wait_until("every event after the restart", 60, async || {
        let got: HashSet<String> = receiver
            .received()
            .await
            .iter()
            .filter_map(|r| r["webhook_id"].as_str().map(str::to_string))
            .collect();
        got.len() == events.len()
    })
    .await;
    let count = check_arrivals(&events, &receiver.received().await);
    // A repeat is only what was in flight at the kill, with its same id.
    let repeats: usize = count.values().map(|n| n - 1).sum();
    assert!(repeats <= arrived_before, "{repeats} repeats");
}

#[tokio::test]
async fn two_instances_share_the_deliveries_and_send_none_twice() {
    let (url, dir, _db, admin, scim) = prepared().await;
    if dir.is_some() {
        // Several instances are a PostgreSQL setup: two processes on one
        // SQLite file contend for its write lock. Run with
        // SCIMLINK_TEST_DATABASE_URL to test this.
        return;
    }
    let key = SecretKeys::generate();
    let receiver = Receiver::start().await;
    let one = serve(&url, &key);
    let two = serve(&url, &key);
    let secret = create_webhook(&one.url, &admin, &receiver).await;
    receiver
        .control(json!({"secrets": [secret], "delay_ms": 50}))
        .await;
    // Traffic through both instances.
    traffic(&one.url, &scim, &admin, "one", 6).await;
    let events = traffic(&two.url, &scim, &admin, "two", 6).await;
    wait_until("every event", 60, async || {
        receiver.received().await.len() >= events.len()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = check_arrivals(&events, &receiver.received().await);
    assert!(count.values().all(|n| *n == 1), "sent twice: {count:?}");
}
