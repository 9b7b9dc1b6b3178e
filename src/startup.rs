//! Building the actix application and server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::http;
use crate::service::AppState;
use crate::settings::Settings;
use crate::store::Db;

pub struct Application {
    port: u16,
    base_url: String,
    server: Server,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

impl Application {
    /// Connects, migrates, binds and builds the server (not yet running).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = Db::connect(&settings.database_url).await?;
        db.migrate().await?;
        Self::build_with_db(settings, db)
    }

    /// Builds the server on an open, migrated database.
    pub fn build_with_db(settings: Settings, db: Db) -> Result<Self, StartupError> {
        let bind_error = |source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.bind).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let base_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"))
            .trim_end_matches('/')
            .to_string();
        let state = web::Data::new(AppState {
            db,
            settings: Arc::new(settings.clone()),
            base_url: base_url.clone(),
            oidc_providers: Default::default(),
        });
        // Events older than the retention go; the task ends with the runtime.
        tokio::spawn(crate::service::events::maintain(
            state.db.clone(),
            state.settings.clone(),
        ));
        // Forms (the dashboard's, a SAML post, pasted IdP metadata) take the
        // same body limit as the API, not actix's default 256 KiB.
        let form_limit = settings.max_body_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(form_limit))
                .wrap(from_fn(http::middleware::normalize_and_log))
                .configure(http::configure)
                .default_service(web::to(http::not_found))
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Self {
            port: address.port(),
            base_url,
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
