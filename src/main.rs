//! Thin: parse the command line, build settings, run the chosen command.

use clap::Parser;

use scimlink::cli::{
    AccountCommand, AdminTokenCommand, Cli, Command, OrgCommand, ResetLinkArgs, ScimTokenCommand,
    SecretKeyArgs, SecretsCommand, ServeArgs,
};
use scimlink::domain::sealing::SecretKeys;
use scimlink::domain::{AdminRole, OrgSlug};
use scimlink::service;
use scimlink::settings::{self, KeySource, Settings};
use scimlink::startup::Application;
use scimlink::store::Db;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn open(database_url: &str) -> Result<Db, String> {
    let db = Db::connect(database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    Ok(db)
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(cli.database_url, args).await,
        Command::Migrate => {
            open(&cli.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Org(OrgCommand::Create {
            slug,
            name,
            owner_email,
            link,
        }) => {
            let db = open(&cli.database_url).await?;
            let slug = OrgSlug::parse(&slug)?;
            // Checked first, so a bad email leaves no organisation without its owner.
            if let Some(email) = owner_email.as_deref() {
                service::accounts::check_owner_email(email)
                    .map_err(|e| format!("--owner-email {email:?}: {e}"))?;
            }
            let name = name.unwrap_or_else(|| slug.to_string());
            let org = service::orgs::create(&db, &slug, &name)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}\t{}\t{}", org.id, org.slug, org.name);
            if let Some(email) = owner_email {
                let state = cli_state(db, cli.database_url.clone(), &link)?;
                let org = service::orgs::find(&state.db, &org.slug)
                    .await
                    .map_err(|e| e.to_string())?;
                let owner = service::accounts::create_owner(&state, &org, &email)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "created owner {} ({}), organisation role admin, break-glass",
                    owner.account.id, owner.account.user_name
                );
                if let Some(reset) = owner.reset {
                    println!(
                        "Set the owner's password with this one-time link (valid until {}), then sign in at {}/admin:",
                        reset.expires_at, state.base_url
                    );
                    println!("{}", reset.reset_url);
                }
            }
            Ok(())
        }
        Command::Org(OrgCommand::List) => {
            let db = open(&cli.database_url).await?;
            for org in service::orgs::list(&db).await.map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", org.id, org.slug, org.name);
            }
            Ok(())
        }
        Command::ScimToken(ScimTokenCommand::Create { org, label }) => {
            let db = open(&cli.database_url).await?;
            let org = service::orgs::find(&db, &org)
                .await
                .map_err(|e| e.to_string())?;
            let (_, secret) = service::tokens::create(&db, &org, &label)
                .await
                .map_err(|e| e.to_string())?;
            // Alone on stdout, so `TOKEN=$(scimlink scim-token create ...)` works.
            println!("{secret}");
            Ok(())
        }
        Command::ScimToken(ScimTokenCommand::List { org }) => {
            let db = open(&cli.database_url).await?;
            let org = service::orgs::find(&db, &org)
                .await
                .map_err(|e| e.to_string())?;
            println!("id\tlabel\tcreated\tlast_used\trevoked");
            for t in service::tokens::list(&db, &org)
                .await
                .map_err(|e| e.to_string())?
            {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map_or("-".to_string(), |t| t.to_rfc3339())
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.label,
                    t.created_at.to_rfc3339(),
                    when(t.last_used_at),
                    when(t.revoked_at)
                );
            }
            Ok(())
        }
        Command::AdminToken(command) => admin_token(&cli.database_url, command).await,
        Command::Secrets(SecretsCommand::Rotate { keys }) => {
            let keys = secret_keys(&cli.database_url, &keys)?.ok_or_else(|| {
                format!(
                    "SCIMLINK_SECRET_KEY is not set: there is no key to seal with ({})",
                    scimlink::domain::sealing::HOW_TO_GENERATE
                )
            })?;
            let db = open(&cli.database_url).await?;
            let rotation = service::secrets::rotate(&db, &keys).await?;
            println!(
                "{} client secret(s) re-sealed with key {}; {} already were",
                rotation.resealed,
                keys.current_id(),
                rotation.current
            );
            Ok(())
        }
        Command::Account(command) => account(&cli.database_url, command).await,
        Command::ScimToken(ScimTokenCommand::Revoke { id }) => {
            let db = open(&cli.database_url).await?;
            let token = service::tokens::revoke(&db, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!("revoked {} ({})", token.id, token.label);
            Ok(())
        }
    }
}

/// What a command that prints a one-time link acts with.
fn cli_state(
    db: Db,
    database_url: String,
    link: &ResetLinkArgs,
) -> Result<service::AppState, String> {
    let mut settings = Settings::new(database_url);
    settings.reset_link_ttl_seconds = link.reset_link_ttl;
    Ok(service::AppState {
        db,
        outbound: service::outbound::Outbound::new(&settings.outbound)?,
        settings: std::sync::Arc::new(settings),
        base_url: link.public_url.trim_end_matches('/').to_string(),
        oidc_providers: Default::default(),
        metrics: Default::default(),
    })
}

/// The sealing keys, their source said in the log.
fn secret_keys(database_url: &str, args: &SecretKeyArgs) -> Result<Option<SecretKeys>, String> {
    let (keys, source) = settings::secret_keys(
        database_url,
        args.secret_key.as_deref(),
        args.secret_key_previous.as_deref(),
    )?;
    let id = keys.as_ref().map(|k| k.current_id()).unwrap_or_default();
    match source {
        KeySource::Environment => {
            log::info!("stored secrets are sealed with SCIMLINK_SECRET_KEY (key {id})")
        }
        KeySource::File {
            path,
            created: true,
        } => log::warn!(
            "created {} (mode 0600) with the key that seals stored OIDC client secrets (key {id}): keep it with the database but out of its backups, as the secrets cannot be read without it; or set SCIMLINK_SECRET_KEY",
            path.display()
        ),
        KeySource::File {
            path,
            created: false,
        } => log::info!(
            "stored secrets are sealed with the key in {} (key {id})",
            path.display()
        ),
        KeySource::Ephemeral => log::info!(
            "an in-memory database: stored secrets are sealed with a key of this process"
        ),
        KeySource::Missing => log::info!(
            "SCIMLINK_SECRET_KEY is not set: OIDC connections cannot store a client secret until it is ({})",
            scimlink::domain::sealing::HOW_TO_GENERATE
        ),
    }
    Ok(keys)
}

async fn serve(database_url: String, args: ServeArgs) -> Result<(), String> {
    let keys = secret_keys(&database_url, &args.keys)?;
    let mut settings = Settings {
        bind: args.bind,
        database_url,
        public_url: args.public_url,
        max_body_bytes: args.max_body_bytes,
        default_page_size: args.default_page_size,
        max_page_size: args.max_page_size,
        max_filter_scan: args.max_filter_scan,
        max_bulk_operations: args.max_bulk_operations,
        reset_link_ttl_seconds: args.reset_link_ttl,
        smtp_url: args.smtp_url,
        mail_from: args.mail_from,
        sso_clock_skew_seconds: args.sso_clock_skew.clamp(0, 600),
        event_retention_days: args.event_retention_days,
        secret_keys: None,
        metrics_token: args.metrics_token,
        metrics_bind: args.metrics_bind,
        shutdown_timeout_seconds: args.shutdown_timeout,
        outbound: settings::OutboundSettings {
            allow_private: args.outbound_allow_private,
            ..Default::default()
        },
        clock: Default::default(),
    };
    if settings.outbound.allow_private {
        log::info!(
            "outgoing requests may reach private addresses (SCIMLINK_OUTBOUND_ALLOW_PRIVATE)"
        );
    }
    let db = open(&settings.database_url).await?;
    let check = service::secrets::seal_at_start(&db, keys.as_ref()).await?;
    if check.sealed > 0 {
        log::info!(
            "sealed {} secret(s) stored in clear (OIDC client secrets, SAML keys, webhook secrets)",
            check.sealed
        );
    }
    for (what, why) in &check.unreadable {
        log::warn!("{what}: {why}; sign-ins through it fail until that key is configured");
    }
    settings.secret_keys = keys.map(std::sync::Arc::new);
    let bootstrap_token = service::orgs::bootstrap(&db)
        .await
        .map_err(|e| e.to_string())?;
    let app = Application::build_with_db(settings, db).map_err(|e| e.to_string())?;
    let scim_base = format!("{}/scim/v2", app.base_url());
    if let Some(token) = bootstrap_token {
        println!("Created organisation `default`. Its SCIM bearer token, shown only this once:");
        println!("{token}");
        println!(
            "Give your identity provider the base URL {scim_base} and send `Authorization: Bearer <token>`."
        );
    }
    log::info!(
        "scimlink listening on {} (SCIM base URL {scim_base})",
        app.base_url()
    );
    if let Some(address) = app.metrics_address() {
        log::info!("metrics at http://{address}/metrics");
    }
    app.run_until(scimlink::startup::termination_signal())
        .await
        .map_err(|e| format!("server stopped: {e}"))
}

async fn admin_token(database_url: &str, command: AdminTokenCommand) -> Result<(), String> {
    let db = open(database_url).await?;
    match command {
        AdminTokenCommand::Create { org, role, label } => {
            let org = service::orgs::find(&db, &org)
                .await
                .map_err(|e| e.to_string())?;
            let role = AdminRole::parse(&role)?;
            let (_, secret) = service::admin_tokens::create(&db, &org, role, &label)
                .await
                .map_err(|e| e.to_string())?;
            // Alone on stdout, so `TOKEN=$(scimlink admin-token create ...)` works.
            println!("{secret}");
        }
        AdminTokenCommand::List { org } => {
            let org = service::orgs::find(&db, &org)
                .await
                .map_err(|e| e.to_string())?;
            println!("id\trole\tlabel\tcreated\trevoked");
            for t in service::admin_tokens::list(&db, &org)
                .await
                .map_err(|e| e.to_string())?
            {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    t.label,
                    t.created_at.to_rfc3339(),
                    t.revoked_at.map_or("-".to_string(), |t| t.to_rfc3339())
                );
            }
        }
        AdminTokenCommand::Revoke { id } => {
            let token = service::admin_tokens::revoke(&db, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!("revoked {} ({})", token.id, token.label);
        }
    }
    Ok(())
}

async fn account(database_url: &str, command: AccountCommand) -> Result<(), String> {
    let db = open(database_url).await?;
    match command {
        AccountCommand::Create {
            org,
            user_name,
            email,
            display_name,
            break_glass,
            link,
        } => {
            let org = service::orgs::find(&db, &org)
                .await
                .map_err(|e| e.to_string())?;
            let state = cli_state(db, database_url.to_string(), &link)?;
            let created = service::accounts::create_from_cli(
                &state,
                &org,
                service::accounts::NewAccountInput {
                    user_name,
                    display_name,
                    email,
                    active: None,
                    break_glass,
                    external_user_id: None,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "created account {} ({} sign-in{})",
                created.account.id,
                created.account.auth_mode,
                if created.account.break_glass {
                    ", break-glass"
                } else {
                    ""
                }
            );
            if let Some(reset) = created.reset {
                println!(
                    "Set its password with this one-time link (valid until {}):",
                    reset.expires_at
                );
                println!("{}", reset.reset_url);
            }
        }
    }
    Ok(())
}
