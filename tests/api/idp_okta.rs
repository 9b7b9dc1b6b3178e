//! Okta's /Users and /Groups conversations, replayed from `fixtures/idp/okta/`
//! (format: see `replay.rs`). Written from Okta's "SCIM 2.0 provisioning"
//! developer guide and its SCIM spec test; every value in them is made up.

use std::collections::{BTreeMap, BTreeSet};

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
    "connection_test_groups",
    "group_push",
    "group_duplicate_member_add",
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
async fn okta_spec_test_all_twelve_steps() {
    let app = spawn_app().await;
    let transcript = replay(&app, "okta/spec_test.json").await;

    // Every step of Okta's suite is in the fixture, once and in its order
    // (the replay has already checked each answer).
    let numbers: Vec<u32> = transcript
        .named("spec ")
        .map(|e| {
            let (number, _) = e.name["spec ".len()..]
                .split_once(':')
                .unwrap_or_else(|| panic!("{:?} is not named 'spec N: ...'", e.name));
            number.parse().expect("a step number")
        })
        .collect();
    assert_eq!(
        numbers,
        (1..=12).collect::<Vec<_>>(),
        "the spec test steps in the fixture"
    );
}

/// The member ids of a Group body (none when `members` is absent).
fn member_ids(body: &Value) -> BTreeSet<String> {
    match body.get("members") {
        None => BTreeSet::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| m["value"].as_str().expect("a member value").to_string())
            .collect(),
        Some(other) => panic!("members is not an array: {other}"),
    }
}

/// The captured ids `names`, as a set.
fn ids(transcript: &replay::Transcript, names: &[&str]) -> BTreeSet<String> {
    names
        .iter()
        .map(|n| {
            transcript
                .capture(n)
                .as_str()
                .expect("a string id")
                .to_string()
        })
        .collect()
}

/// The one exchange whose step name starts with `prefix`.
fn only<'a>(transcript: &'a replay::Transcript, prefix: &'a str) -> &'a replay::Exchange {
    let mut found = transcript.named(prefix);
    let exchange = found.next().unwrap_or_else(|| panic!("no step {prefix:?}"));
    assert!(found.next().is_none(), "more than one step {prefix:?}");
    exchange
}

#[tokio::test]
async fn okta_connection_test_lists_groups() {
    let app = spawn_app().await;
    replay(&app, "okta/connection_test_groups.json").await;
}

#[tokio::test]
async fn okta_push_group_rename_membership_and_delete() {
    let app = spawn_app().await;
    let transcript = replay(&app, "okta/group_push.json").await;

    // Each membership step leaves exactly the members it should, and no
    // member appears twice.
    for (step, expected) in [
        ("push the group", &["u1", "u2"][..]),
        ("rename the group", &["u1", "u2"][..]),
        ("membership push", &["u3"][..]),
        ("replace the whole membership", &["u2", "u4"][..]),
        ("read the group back", &["u2", "u4"][..]),
    ] {
        let body = &only(&transcript, step).body;
        let members = body["members"].as_array().expect("members");
        assert_eq!(
            member_ids(body),
            ids(&transcript, expected),
            "members after {step:?}"
        );
        assert_eq!(
            members.len(),
            expected.len(),
            "duplicate members after {step:?}"
        );
    }
}

#[tokio::test]
async fn okta_adding_an_existing_member_is_not_an_error_and_no_duplicate() {
    let app = spawn_app().await;
    let transcript = replay(&app, "okta/group_duplicate_member_add.json").await;

    for (step, expected) in [
        ("push the group with one member listed twice", &["u1"][..]),
        ("add the existing member again", &["u1"][..]),
        (
            "add an existing and a new member together",
            &["u1", "u2"][..],
        ),
        ("the same add in two operations", &["u1", "u2"][..]),
        ("read the group back", &["u1", "u2"][..]),
    ] {
        let body = &only(&transcript, step).body;
        let members = body["members"].as_array().expect("members");
        assert_eq!(
            member_ids(body),
            ids(&transcript, expected),
            "members after {step:?}"
        );
        assert_eq!(
            members.len(),
            expected.len(),
            "duplicate members after {step:?}"
        );
    }
}
