//! Okta's /Users conversations, replayed from `fixtures/okta/` (format: see
//! `replay.rs`). Written from Okta's "SCIM 2.0 provisioning" developer guide
//! and its SCIM spec test; every value in them is made up.
//!
//! Left out until Groups exist: the `GET /scim/v2/Groups?startIndex=1&count=2`
//! step of Okta's connection test (with Push Groups on) and the spec test's
//! Groups steps. Pending the Groups work.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::replay::{self, replay};

const CONVERSATIONS: &[&str] = &[
    "connection_test",
    "create_user",
    "profile_update",
    "deactivate_reactivate",
    "import_users",
    "spec_test",
];

#[test]
fn every_okta_fixture_has_a_test() {
    replay::assert_fixture_set("okta", CONVERSATIONS);
}

#[tokio::test]
async fn okta_connection_test() {
    let app = spawn_app().await;
    replay(&app, "okta/connection_test.json").await;
}

#[tokio::test]
async fn okta_create_user() {
    let app = spawn_app().await;
    replay(&app, "okta/create_user.json").await;
}

#[tokio::test]
async fn okta_profile_update_with_put() {
    let app = spawn_app().await;
    replay(&app, "okta/profile_update.json").await;
}

#[tokio::test]
async fn okta_deactivate_and_reactivate() {
    let app = spawn_app().await;
    replay(&app, "okta/deactivate_reactivate.json").await;
}

#[tokio::test]
async fn okta_import_users_page_by_page() {
    let app = spawn_app().await;
    let transcript = replay(&app, "okta/import_users.json").await;

    // The pages together hold every user exactly once.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let pages: Vec<_> = transcript.named("import page").collect();
    assert_eq!(pages.len(), 3, "import pages in the fixture");
    for page in pages {
        assert_eq!(page.status, 200, "{}", page.name);
        for resource in page.body["Resources"].as_array().expect("Resources") {
            let id = resource["id"].as_str().expect("a string id").to_string();
            *seen.entry(id).or_default() += 1;
        }
    }
    let created: BTreeMap<String, usize> = (1..=5)
        .map(|i| match transcript.capture(&format!("user_{i}")) {
            Value::String(id) => (id.clone(), 1),
            other => panic!("user_{i} id is not a string: {other}"),
        })
        .collect();
    assert_eq!(
        seen, created,
        "ids seen across the import pages vs the users created"
    );
}

#[tokio::test]
async fn okta_spec_test_user_steps() {
    let app = spawn_app().await;
    replay(&app, "okta/spec_test.json").await;
}
