//! The command line, run as the real binary.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::fresh_database;

fn scimlink(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_scimlink"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run scimlink");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[tokio::test]
async fn org_and_token_commands() {
    let (url, _dir) = fresh_database().await;
    let (ok, out, err) = scimlink(&url, &["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("migrations applied"));

    let (ok, out, err) = scimlink(
        &url,
        &["org", "create", "--slug", "initech", "--name", "Initech"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("initech\tInitech"), "{out}");
    let (ok, _, err) = scimlink(&url, &["org", "create", "--slug", "initech"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = scimlink(&url, &["org", "create", "--slug", "Bad Slug"]);
    assert!(!ok && err.contains("slug"), "{err}");
    let (ok, out, _) = scimlink(&url, &["org", "list"]);
    assert!(ok && out.contains("initech"));

    let (ok, out, err) = scimlink(
        &url,
        &[
            "scim-token",
            "create",
            "--org",
            "initech",
            "--label",
            "Okta",
        ],
    );
    assert!(ok, "{err}");
    let token = out.trim();
    assert_eq!(
        out.lines().count(),
        1,
        "the secret alone on stdout: {out:?}"
    );
    assert!(token.starts_with("scim_") && token.len() >= 48);
    let (ok, _, err) = scimlink(&url, &["scim-token", "create", "--org", "nosuch"]);
    assert!(!ok && err.contains("nosuch"), "{err}");

    let (ok, out, _) = scimlink(&url, &["scim-token", "list", "--org", "initech"]);
    assert!(ok && out.contains("Okta"));
    assert!(!out.contains(token), "list never shows the secret");
    let token_id = out
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();

    // The token works against a server on the same database, until revoked.
    let db = scimlink::store::Db::connect(&url).await.unwrap();
    let mut settings = scimlink::settings::Settings::new(url.clone());
    settings.bind = "127.0.0.1:0".into();
    let app = scimlink::startup::Application::build_with_db(settings, db).unwrap();
    let base = app.base_url().to_string();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let status = client
        .get(format!("{base}/scim/v2/Users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let (ok, out, err) = scimlink(&url, &["scim-token", "revoke", &token_id]);
    assert!(ok && out.contains("revoked"), "{err}");
    let status = client
        .get(format!("{base}/scim/v2/Users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn help_explains_every_command() {
    let (ok, out, _) = scimlink("sqlite::memory:", &["--help"]);
    assert!(ok);
    for word in ["serve", "migrate", "org", "scim-token", "DATABASE_URL"] {
        assert!(out.contains(word), "--help mentions {word}: {out}");
    }
    let (ok, out, _) = scimlink("sqlite::memory:", &["serve", "--help"]);
    assert!(ok);
    for word in [
        "SCIMLINK_BIND",
        "SCIMLINK_PUBLIC_URL",
        "SCIMLINK_MAX_BODY_BYTES",
        "SCIMLINK_METRICS_TOKEN",
        "SCIMLINK_METRICS_BIND",
        "SCIMLINK_SHUTDOWN_TIMEOUT",
    ] {
        assert!(out.contains(word), "serve --help mentions {word}");
    }
    // A metrics token anyone could guess is refused before anything starts.
    let (ok, _, err) = scimlink(
        "sqlite::memory:",
        &["serve", "--bind", "127.0.0.1:0", "--metrics-token", "short"],
    );
    assert!(!ok && err.contains("at least 16 characters"), "{err}");
}

/// Runs `scimlink serve` on port 0 until it prints its listening line; returns stdout so far.
fn serve_once(database_url: &str) -> String {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimlink"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start scimlink serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut stdout = String::new();
    // The server logs "listening on" to stderr once it has bound; by then
    // anything it prints on stdout at start has been printed.
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a log line");
        if line.contains("listening on") {
            break;
        }
    }
    child.kill().expect("stop the server");
    let mut out = child.stdout.take().expect("stdout");
    std::io::Read::read_to_string(&mut out, &mut stdout).expect("read stdout");
    child.wait().ok();
    stdout
}

#[tokio::test]
async fn serve_bootstraps_a_default_organisation_and_prints_its_token_once() {
    let (url, _dir) = fresh_database().await;
    let first = serve_once(&url);
    let token = first
        .lines()
        .find(|l| l.starts_with("scim_"))
        .unwrap_or_else(|| panic!("a token line in {first:?}"))
        .to_string();
    assert!(first.contains("Created organisation `default`"), "{first}");
    assert!(
        first.contains("/scim/v2") && first.contains("Authorization: Bearer"),
        "{first}"
    );
    let second = serve_once(&url);
    assert!(
        !second.contains("scim_"),
        "the token is printed only on the first start: {second:?}"
    );

    let db = scimlink::store::Db::connect(&url).await.unwrap();
    let orgs = scimlink::service::orgs::list(&db).await.unwrap();
    assert_eq!(
        orgs.iter().map(|o| o.slug.as_str()).collect::<Vec<_>>(),
        ["default"]
    );
    let scope = scimlink::service::tokens::authenticate(&db, Some(&token), Default::default())
        .await
        .expect("the printed token works");
    assert_eq!(scope.org_id, orgs[0].id);
}

#[tokio::test]
async fn org_create_with_an_owner_prints_the_link_that_sets_its_password() {
    let (url, _dir) = fresh_database().await;
    let (ok, _, err) = scimlink(&url, &["migrate"]);
    assert!(ok, "{err}");
    let (ok, out, err) = scimlink(
        &url,
        &[
            "org",
            "create",
            "--slug",
            "globex",
            "--owner-email",
            "hank@globex.example",
            "--public-url",
            "https://scim.globex.example/",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("organisation role admin, break-glass"),
        "{out}"
    );
    let link = out.lines().last().unwrap_or_default();
    assert!(
        link.starts_with("https://scim.globex.example/reset-password?token=reset_"),
        "{out}"
    );
    // A bad email leaves no owner, and says why.
    let (ok, _, err) = scimlink(
        &url,
        &[
            "org",
            "create",
            "--slug",
            "initrode",
            "--owner-email",
            "not an email",
        ],
    );
    assert!(!ok && err.contains("email"), "{err}");
    let (_, orgs, _) = scimlink(&url, &["org", "list"]);
    assert!(!orgs.contains("initrode"), "{orgs}");
}
