//! Thin: parse the command line, build settings, run the chosen command.

use clap::Parser;

use scimlink::cli::{Cli, Command, OrgCommand, ScimTokenCommand, ServeArgs};
use scimlink::domain::OrgSlug;
use scimlink::service;
use scimlink::settings::Settings;
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
        Command::Org(OrgCommand::Create { slug, name }) => {
            let db = open(&cli.database_url).await?;
            let slug = OrgSlug::parse(&slug)?;
            let name = name.unwrap_or_else(|| slug.to_string());
            let org = service::orgs::create(&db, &slug, &name)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}\t{}\t{}", org.id, org.slug, org.name);
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

async fn serve(database_url: String, args: ServeArgs) -> Result<(), String> {
    let settings = Settings {
        bind: args.bind,
        database_url,
        public_url: args.public_url,
        max_body_bytes: args.max_body_bytes,
        default_page_size: args.default_page_size,
        max_page_size: args.max_page_size,
        max_filter_scan: args.max_filter_scan,
        max_bulk_operations: args.max_bulk_operations,
    };
    let db = open(&settings.database_url).await?;
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
    app.run_until_stopped()
        .await
        .map_err(|e| format!("server stopped: {e}"))
}
