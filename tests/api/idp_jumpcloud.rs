//! JumpCloud's /Users and /Groups conversations, replayed from
//! `fixtures/idp/jumpcloud/` (format: see `replay.rs`). Written from
//! JumpCloud's support article "Identity Management using a Custom SCIM
//! Integration" and service providers' JumpCloud setup guides; every value in
//! them is made up.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::replay::{self, replay};

const CONVERSATIONS: &[&str] = &["connection_test", "group_membership"];

#[test]
fn every_jumpcloud_fixture_has_a_test() {
    replay::assert_fixture_set("jumpcloud", CONVERSATIONS);
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

#[tokio::test]
async fn jumpcloud_connection_test_creates_and_deletes_a_test_user_and_group() {
    let app = spawn_app().await;
    let transcript = replay(&app, "jumpcloud/connection_test.json").await;

    // The DELETEs answer 204 with no body.
    for exchange in transcript.named("delete ") {
        assert_eq!(exchange.status, 204, "{}", exchange.name);
        assert!(exchange.body.is_null(), "{}: a body", exchange.name);
    }
    // The second run made new resources rather than bringing back the old.
    assert!(
        ids(&transcript, &["user_id", "user_id_again"]).len() == 2,
        "the re-created test user got the deleted user's id"
    );
    assert!(
        ids(&transcript, &["group_id", "group_id_again"]).len() == 2,
        "the re-created test group got the deleted group's id"
    );
}

#[tokio::test]
async fn jumpcloud_member_removal_with_a_value_list_takes_only_those() {
    let app = spawn_app().await;
    let transcript = replay(&app, "jumpcloud/group_membership.json").await;

    for (step, expected) in [
        ("push the group with its first member", &["u1"][..]),
        ("add two members", &["u1", "u2", "u3"][..]),
        ("remove two members", &["u2"][..]),
        ("read the group back", &["u2"][..]),
        ("remove the last member", &[][..]),
    ] {
        let exchange = transcript
            .named(step)
            .next()
            .unwrap_or_else(|| panic!("no step {step:?}"));
        let members = exchange.body["members"].as_array().map_or(0, Vec::len);
        assert_eq!(
            member_ids(&exchange.body),
            ids(&transcript, expected),
            "members after {step:?}"
        );
        assert_eq!(members, expected.len(), "duplicate members after {step:?}");
    }
}
