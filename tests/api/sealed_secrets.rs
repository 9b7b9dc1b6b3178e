//! OIDC client secrets are stored sealed (AES-256-GCM under
//! `SCIMLINK_SECRET_KEY`), never in clear: sign-in opens them, a key that
//! does not open them is a clear refusal, `serve` seals what an older
//! version left in clear, and `scimlink secrets rotate` re-seals them with a
//! new key. The commands run as the real binary.

use std::process::Command;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use scimlink::domain::sealing::SecretKeys;
use scimlink::settings::Settings;
use scimlink::store::{self, Db, connections::ConnectionRow};

use crate::helpers::{fresh_database, spawn_app, spawn_app_with};
use crate::oidc_idp::{
    Browser, OidcIdp, Tamper, assert_signed_in, audit_events, connect, patch_connection, refusal,
};
use crate::sso_oidc::{failures, scim_user};

async fn stored_secret(db: &Db, id: &str) -> Option<String> {
    let row = db
        .read
        .query_one_raw(Statement::from_string(
            db.backend(),
            format!("SELECT oidc_client_secret FROM sso_connections WHERE id = '{id}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "oidc_client_secret").unwrap()
}

async fn set_stored_secret(db: &Db, id: &str, value: &str) {
    db.write
        .execute_raw(Statement::from_string(
            db.backend(),
            format!("UPDATE sso_connections SET oidc_client_secret = '{value}' WHERE id = '{id}'"),
        ))
        .await
        .unwrap();
}

fn keys(current: &str, previous: Option<&str>) -> SecretKeys {
    SecretKeys::parse(current, previous).unwrap()
}

#[tokio::test]
async fn the_client_secret_is_stored_sealed_and_sign_in_opens_it() {
    let key = SecretKeys::generate();
    let app = spawn_app_with(|s| s.secret_keys = Some(std::sync::Arc::new(keys(&key, None)))).await;
    let idp = OidcIdp::start().await;
    // `connect` gives the connection the secret `secret-0-<uuid>`, and the
    // provider takes only that one (client_secret_basic).
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    let stored = stored_secret(&app.db, cid).await.expect("a stored secret");
    let key_id = keys(&key, None).current_id().to_string();
    assert!(stored.starts_with(&format!("v1:{key_id}:")), "{stored}");
    assert!(!stored.contains("secret-0-"), "{stored}");

    scim_user(&app, "carol@example.com", "00u-carol").await;
    idp.account(json!({"sub": "00u-carol", "email": "carol@example.com", "email_verified": true}))
        .await;
    assert_signed_in(
        &Browser::new()
            .sign_in(&app, &idp, cid, "00u-carol", &Tamper::default())
            .await,
    );

    // Neither the API nor the audit log shows it, sealed or not.
    let (_, shown) = app
        .admin(Method::GET, &format!("/api/v1/connections/{cid}"), None)
        .await;
    let audit = audit_events(&app, "").await;
    for text in [shown.to_string(), Value::from(audit).to_string()] {
        assert!(
            !text.contains("secret-0-") && !text.contains(&stored),
            "{text}"
        );
    }
    // The same secret again changes nothing; a new one is sealed anew.
    let (status, _) = patch_connection(&app, cid, &json!({"client_secret": "another"})).await;
    assert_eq!(status, StatusCode::OK);
    let changed = stored_secret(&app.db, cid).await.unwrap();
    assert!(changed.starts_with("v1:") && changed != stored && !changed.contains("another"));
    let (status, _) = patch_connection(&app, cid, &json!({"client_secret": "another"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored_secret(&app.db, cid).await.unwrap(), changed);
    let updates = audit_events(&app, "connection.updated").await;
    assert_eq!(
        updates.len(),
        2,
        "enabling, then the new secret: {updates:?}"
    );
    assert_eq!(updates[0]["summary"]["client_secret_changed"], true);
}

#[tokio::test]
async fn a_secret_the_keys_cannot_open_is_a_clear_refusal() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    scim_user(&app, "dave@example.com", "00u-dave").await;
    idp.account(json!({"sub": "00u-dave", "email": "dave@example.com", "email_verified": true}))
        .await;
    // Sealed with a key this server does not have (a wrong SCIMLINK_SECRET_KEY).
    let other = keys(&SecretKeys::generate(), None);
    set_stored_secret(&app.db, cid, &other.seal("x", "y").unwrap()).await;
    let (status, page) = refusal(
        Browser::new()
            .sign_in(&app, &idp, cid, "00u-dave", &Tamper::default())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert!(page.contains("Tell your administrator"), "{page}");
    assert_eq!(failures(&app).await, vec!["client_secret_unusable"]);
    let detail = audit_events(&app, "auth.sign_in_failed").await[0]["summary"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains(other.current_id()) && detail.contains("SCIMLINK_SECRET_KEY_PREVIOUS"),
        "{detail}"
    );
}

#[tokio::test]
async fn without_a_key_a_client_secret_is_refused_clearly() {
    let app = spawn_app_with(|s| s.secret_keys = None).await;
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/connections",
            Some(
                &json!({"type": "oidc", "display_name": "Okta", "issuer": "https://idp.example.com",
                         "client_id": "c", "client_secret": "s"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("SCIMLINK_SECRET_KEY"), "{body}");
}

// ---- the commands -------------------------------------------------------

fn scimlink(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_scimlink"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        .env_remove("SCIMLINK_SECRET_KEY")
        .env_remove("SCIMLINK_SECRET_KEY_PREVIOUS")
        .envs(env.iter().copied())
        .output()
        .expect("run scimlink");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// An organisation with two OIDC connections whose secrets are `stored`.
async fn connections_storing(db: &Db, stored: [&str; 2]) -> [String; 2] {
    let org = scimlink::service::orgs::create(
        db,
        &scimlink::domain::OrgSlug::parse("initech").unwrap(),
        "Initech",
    )
    .await
    .unwrap();
    let mut ids = [String::new(), String::new()];
    for (i, value) in stored.iter().enumerate() {
        let now = Utc::now();
        let row = ConnectionRow {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: org.id.clone(),
            kind: "oidc".into(),
            display_name: format!("IdP {i}"),
            enabled: false,
            match_on: "external_user_id".into(),
            jit: "inherit".into(),
            email_domains: "[]".into(),
            workspace_id: None,
            role: "member".into(),
            issuer: "https://idp.example.com".into(),
            oidc_client_id: Some("c".into()),
            oidc_client_secret: Some(value.to_string()),
            oidc_scopes: Some("openid".into()),
            saml_idp_metadata_xml: None,
            saml_idp_sso_url: None,
            saml_idp_certificates: None,
            saml_allow_idp_initiated: false,
            created_at: now,
            updated_at: now,
        };
        ids[i] = store::connections::insert(&db.write, row).await.unwrap().id;
    }
    ids
}

/// The secret a server with `keys` reads from connection `id`.
async fn opened(db: &Db, keys: &str, previous: Option<&str>, id: &str) -> Result<String, String> {
    let mut settings = Settings::new("unused");
    settings.secret_keys = Some(std::sync::Arc::new(
        SecretKeys::parse(keys, previous).unwrap(),
    ));
    let stored = stored_secret(db, id).await.unwrap();
    scimlink::service::secrets::open(&settings, id, &stored).map(|s| s.expose().to_string())
}

#[tokio::test]
async fn secrets_rotate_reseals_every_secret_with_the_new_key() {
    let (url, _dir) = fresh_database().await;
    let (ok, _, err) = scimlink(&url, &[], &["migrate"]);
    assert!(ok, "{err}");
    let db = Db::connect(&url).await.unwrap();
    let (old, new) = (SecretKeys::generate(), SecretKeys::generate());
    // One secret sealed with the old key, one left in clear by an older version.
    let ids = connections_storing(&db, ["placeholder", "in-clear-secret"]).await;
    // Sealed for its connection, as the API does.
    let sealed_old = keys(&old, None)
        .seal(
            "first-secret",
            &format!("sso_connections.oidc_client_secret:{}", ids[0]),
        )
        .unwrap();
    set_stored_secret(&db, &ids[0], &sealed_old).await;
    assert_eq!(
        opened(&db, &old, None, &ids[0]).await.unwrap(),
        "first-secret"
    );

    // The new key alone does not open the old secret: nothing changes.
    let (ok, _, err) = scimlink(
        &url,
        &[("SCIMLINK_SECRET_KEY", &new)],
        &["secrets", "rotate"],
    );
    assert!(!ok);
    assert!(
        err.contains(&ids[0])
            && err.contains(keys(&old, None).current_id())
            && err.contains("nothing was changed")
            && !err.contains("first-secret"),
        "{err}"
    );
    assert_eq!(stored_secret(&db, &ids[0]).await.unwrap(), sealed_old);
    assert_eq!(
        stored_secret(&db, &ids[1]).await.unwrap(),
        "in-clear-secret"
    );

    // A malformed key is a clear error, not a panic.
    let (ok, _, err) = scimlink(
        &url,
        &[("SCIMLINK_SECRET_KEY", "not-a-key")],
        &["secrets", "rotate"],
    );
    assert!(
        !ok && err.contains("openssl rand -base64 32") && !err.contains("panicked"),
        "{err}"
    );

    // With the old key as previous: both sealed with the new one.
    let env = [
        ("SCIMLINK_SECRET_KEY", new.as_str()),
        ("SCIMLINK_SECRET_KEY_PREVIOUS", old.as_str()),
    ];
    let (ok, out, err) = scimlink(&url, &env, &["secrets", "rotate"]);
    assert!(ok, "{err}");
    let new_id = keys(&new, None).current_id().to_string();
    assert!(
        out.contains(&format!("2 client secret(s) re-sealed with key {new_id}")),
        "{out}"
    );
    for (id, secret) in ids.iter().zip(["first-secret", "in-clear-secret"]) {
        let stored = stored_secret(&db, id).await.unwrap();
        assert!(stored.starts_with(&format!("v1:{new_id}:")), "{stored}");
        assert_eq!(
            opened(&db, &new, None, id).await.unwrap(),
            secret,
            "without the old key"
        );
    }
    let (ok, out, _) = scimlink(&url, &env, &["secrets", "rotate"]);
    assert!(
        ok && out.contains("0 client secret(s) re-sealed") && out.contains("2 already were"),
        "{out}"
    );
}

/// Runs `scimlink serve` until it listens (then stops it) or exits; its
/// stderr, and whether it listened.
fn serve_once(database_url: &str, env: &[(&str, &str)]) -> (bool, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimlink"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        .env_remove("SCIMLINK_SECRET_KEY")
        .env_remove("SCIMLINK_SECRET_KEY_PREVIOUS")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start scimlink serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut log = String::new();
    let mut listened = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a log line");
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening on") {
            listened = true;
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    (listened, log)
}

#[tokio::test]
async fn serve_seals_secrets_an_older_version_stored_in_clear() {
    let (url, dir) = fresh_database().await;
    let (ok, _, err) = scimlink(&url, &[], &["migrate"]);
    assert!(ok, "{err}");
    let db = Db::connect(&url).await.unwrap();
    let ids = connections_storing(&db, ["clear-one", "clear-two"]).await;
    let key = SecretKeys::generate();
    match &dir {
        // SQLite out of the box: a key file beside the database, private.
        Some(dir) => {
            let (listened, log) = serve_once(&url, &[]);
            assert!(listened, "{log}");
            let path = dir.path().join("scimlink.db.key");
            assert!(log.contains(&path.display().to_string()), "{log}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let file_key = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                opened(&db, file_key.trim(), None, &ids[0]).await.unwrap(),
                "clear-one"
            );
        }
        // PostgreSQL without a key: it will not run with secrets in clear.
        None => {
            let (listened, log) = serve_once(&url, &[]);
            assert!(
                !listened && log.contains("holds 2 secret(s)") && log.contains("in clear"),
                "{log}"
            );
            assert_eq!(stored_secret(&db, &ids[0]).await.unwrap(), "clear-one");
            let (listened, log) = serve_once(&url, &[("SCIMLINK_SECRET_KEY", &key)]);
            assert!(listened, "{log}");
            assert_eq!(opened(&db, &key, None, &ids[0]).await.unwrap(), "clear-one");
        }
    }
    assert!(
        stored_secret(&db, &ids[1])
            .await
            .unwrap()
            .starts_with("v1:")
    );
}

#[tokio::test]
async fn help_says_how_to_make_and_rotate_the_key() {
    let (ok, out, _) = scimlink("sqlite::memory:", &[], &["serve", "--help"]);
    assert!(ok);
    for word in [
        "SCIMLINK_SECRET_KEY",
        "SCIMLINK_SECRET_KEY_PREVIOUS",
        "openssl rand -base64 32",
        ".key",
    ] {
        assert!(out.contains(word), "serve --help mentions {word}: {out}");
    }
    let (ok, out, _) = scimlink("sqlite::memory:", &[], &["secrets", "rotate", "--help"]);
    assert!(ok && out.contains("SCIMLINK_SECRET_KEY_PREVIOUS"), "{out}");
}
