//! Microsoft Entra ID's /Users conversations, replayed from `fixtures/entra/`
//! (format: see `replay.rs`). Written from Microsoft's "Tutorial: Develop and
//! plan provisioning for a SCIM endpoint in Microsoft Entra ID" and "Known
//! issues and resolutions with SCIM 2.0 protocol compliance"; every value in
//! them is made up. Groups are not implemented yet, so only user flows.

use crate::helpers::spawn_app;
use crate::replay::{self, replay};

const CONVERSATIONS: &[&str] = &[
    "test_connection",
    "matching",
    "create_user",
    "patch_user",
    "disable_then_delete",
    "path_quirks",
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
