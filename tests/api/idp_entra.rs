//! Microsoft Entra ID's /Users and /Groups conversations, replayed from
//! `fixtures/idp/entra/` (format: see `replay.rs`). Written from Microsoft's
//! "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
//! Entra ID" and "Known issues and resolutions with SCIM 2.0 protocol
//! compliance"; every value in them is made up.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::replay::{self, replay};

const CONVERSATIONS: &[&str] = &[
    "test_connection",
    "matching",
    "create_user",
    "patch_user",
    "disable_then_delete",
    "path_quirks",
    "group_matching",
    "group_membership",
    "group_delete",
];

#[test]
fn every_entra_fixture_has_a_test() {
    replay::assert_fixture_set("entra", CONVERSATIONS);
}

#[tokio::test]
async fn entra_test_connection() {
    let app = spawn_app().await;
    replay(&app, "entra/test_connection.json").await;
}

#[tokio::test]
async fn entra_matching_by_user_name_external_id_and_work_email() {
    let app = spawn_app().await;
    replay(&app, "entra/matching.json").await;
}

#[tokio::test]
async fn entra_create_user_with_enterprise_extension() {
    let app = spawn_app().await;
    replay(&app, "entra/create_user.json").await;
}

#[tokio::test]
async fn entra_patch_user() {
    let app = spawn_app().await;
    replay(&app, "entra/patch_user.json").await;
}

#[tokio::test]
async fn entra_disable_then_hard_delete() {
    let app = spawn_app().await;
    replay(&app, "entra/disable_then_delete.json").await;
}

#[tokio::test]
async fn entra_lower_case_paths_trailing_slashes_and_extra_query_parameters() {
    let app = spawn_app().await;
    replay(&app, "entra/path_quirks.json").await;
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
async fn entra_group_matching_by_display_name_without_members() {
    let app = spawn_app().await;
    replay(&app, "entra/group_matching.json").await;
}

#[tokio::test]
async fn entra_group_membership_remove_takes_only_the_listed_member() {
    let app = spawn_app().await;
    let transcript = replay(&app, "entra/group_membership.json").await;

    for (step, expected) in [
        ("add two members", &["u1", "u2"][..]),
        ("remove one member", &["u2"][..]),
        ("rename the group", &["u2"][..]),
        ("the group is unchanged", &["u2"][..]),
        ("add and remove in one request", &["u1", "u3"][..]),
        ("remove the last members", &[][..]),
    ] {
        let exchange = transcript
            .named(step)
            .next()
            .unwrap_or_else(|| panic!("no step {step:?}"));
        assert_eq!(
            member_ids(&exchange.body),
            ids(&transcript, expected),
            "members after {step:?}"
        );
    }
}

#[tokio::test]
async fn entra_delete_group_with_members() {
    let app = spawn_app().await;
    replay(&app, "entra/group_delete.json").await;
}
