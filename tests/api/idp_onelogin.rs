//! OneLogin's /Users and /Groups conversations, replayed from
//! `fixtures/idp/onelogin/` (format: see `replay.rs`). Written from OneLogin's
//! developer docs ("Define Your SCIM User Schema", "Implement RESTful SCIM
//! APIs for Your App", "Test Your SCIM Implementation") and the SCIM JSON
//! templates service providers publish for OneLogin; every value in them is
//! made up.
//!
//! OneLogin sends what an admin-written template renders to: `"id": null`,
//! `""` for every unset macro, `"active": "true"` / `"false"` as strings, and
//! keys that are not SCIM attributes.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::replay::{self, replay};

const CONVERSATIONS: &[&str] = &[
    "connection_test",
    "create_user_from_template",
    "update_user_put",
    "deactivate_reactivate",
    "groups",
];

#[test]
fn every_onelogin_fixture_has_a_test() {
    replay::assert_fixture_set("onelogin", CONVERSATIONS);
}

/// Every string anywhere in `value`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(obj) => obj.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// A string captured as `name`, checked to be a real id.
fn id(transcript: &replay::Transcript, name: &str) -> String {
    match transcript.capture(name) {
        Value::String(s) if !s.is_empty() => s.clone(),
        other => panic!("{name} is not a non-empty string id: {other}"),
    }
}

#[tokio::test]
async fn onelogin_connection_test() {
    let app = spawn_app().await;
    replay(&app, "onelogin/connection_test.json").await;
}

#[tokio::test]
async fn onelogin_create_user_from_template() {
    let app = spawn_app().await;
    let transcript = replay(&app, "onelogin/create_user_from_template.json").await;

    // The template's `"id": null` did not become the id, and no empty string
    // the template sent came back as a value.
    let user_id = id(&transcript, "user_id");
    for exchange in transcript
        .named("create user")
        .chain(transcript.named("get user by id"))
    {
        let mut texts = Vec::new();
        strings(&exchange.body, &mut texts);
        assert!(
            !texts.iter().any(|s| s.trim().is_empty()),
            "{}: an empty or blank string was stored: {}",
            exchange.name,
            exchange.body
        );
        assert_eq!(exchange.body["id"], Value::String(user_id.clone()));
    }
}

#[tokio::test]
async fn onelogin_update_user_with_put_from_the_template() {
    let app = spawn_app().await;
    replay(&app, "onelogin/update_user_put.json").await;
}

#[tokio::test]
async fn onelogin_suspend_and_restore_keep_the_id() {
    let app = spawn_app().await;
    let transcript = replay(&app, "onelogin/deactivate_reactivate.json").await;

    let user_id = id(&transcript, "user_id");
    assert_eq!(
        id(&transcript, "found_id"),
        user_id,
        "the userName lookup found another user"
    );
    let ids: BTreeSet<&str> = transcript
        .exchanges
        .iter()
        .filter_map(|e| e.body.get("id").and_then(Value::as_str))
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([user_id.as_str()]),
        "every answer is about the one user"
    );
}

#[tokio::test]
async fn onelogin_group_create_and_membership_patch() {
    let app = spawn_app().await;
    replay(&app, "onelogin/groups.json").await;
}
