//! Building the actix application and server, running it, and stopping it
//! gracefully on SIGTERM or SIGINT.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tokio::sync::watch;

use crate::http;
use crate::metrics::Metrics;
use crate::service::AppState;
use crate::settings::Settings;
use crate::store::{self, Db};

pub struct Application {
    port: u16,
    base_url: String,
    metrics_address: Option<SocketAddr>,
    /// The main server, then the metrics listener's (if any).
    servers: Vec<Server>,
    shutdown_timeout_seconds: u64,
    db: Db,
    /// What the webhook delivery worker works with.
    state: Arc<AppState>,
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
    #[error("{0}")]
    Outbound(String),
}

/// A listener on `bind`, and the address it got.
fn listen(bind: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind {
        bind: bind.to_string(),
        source,
    };
    let listener = TcpListener::bind(bind).map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    Ok((listener, address))
}

impl Application {
    /// Connects, migrates, binds and builds the server (not yet running).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = Db::connect(&settings.database_url).await?;
        db.migrate().await?;
        Self::build_with_db(settings, db)
    }

    /// Builds the server on an open, migrated database.
    pub fn build_with_db(settings: Settings, mut db: Db) -> Result<Self, StartupError> {
        let metrics = Metrics::new();
        db.observe(Arc::new(metrics.clone()));
        let (listener, address) = listen(&settings.bind)?;
        let bind_error = |source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        };
        let base_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"))
            .trim_end_matches('/')
            .to_string();
        let outbound = crate::service::outbound::Outbound::new(&settings.outbound)
            .map_err(StartupError::Outbound)?;
        let state = web::Data::new(AppState {
            db: db.clone(),
            outbound,
            settings: Arc::new(settings.clone()),
            base_url: base_url.clone(),
            oidc_providers: Default::default(),
            metrics,
        });
        // Events older than the retention go; the task ends with the runtime.
        tokio::spawn(crate::service::events::maintain(
            state.db.clone(),
            state.settings.clone(),
        ));
        // Forms (the dashboard's, a SAML post, pasted IdP metadata) take the
        // same body limit as the API, not actix's default 256 KiB.
        let form_limit = settings.max_body_bytes;
        let app_state = state.clone();
        let worker_state = state.clone().into_inner();
        // Signals are `run_until`'s: actix's own handling would make SIGINT
        // a forced stop, dropping requests in flight.
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(form_limit))
                .wrap(from_fn(http::middleware::normalize_and_log))
                .configure(http::configure)
                .default_service(web::to(http::not_found))
        })
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .listen(listener)
        .map_err(bind_error)?
        .run();
        let mut servers = vec![server];
        let mut metrics_address = None;
        if let Some(bind) = &settings.metrics_bind {
            let (listener, address) = listen(bind)?;
            let bind_error = |source| StartupError::Bind {
                bind: bind.clone(),
                source,
            };
            // Only `/metrics`, and no token: the address is the protection.
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(http::metrics::MetricsListener)
                    .wrap(from_fn(http::middleware::normalize_and_log))
                    .configure(http::configure_metrics_listener)
                    .default_service(web::to(http::not_found))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(settings.shutdown_timeout_seconds)
            .listen(listener)
            .map_err(bind_error)?
            .run();
            servers.push(server);
            metrics_address = Some(address);
        }
        Ok(Self {
            port: address.port(),
            base_url,
            metrics_address,
            servers,
            shutdown_timeout_seconds: settings.shutdown_timeout_seconds,
            db,
            state: worker_state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address of the metrics listener (`--metrics-bind`), if any.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_address
    }

    /// Serves until the servers stop by themselves (tests).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serves, with the background work, until `stop` resolves; then stops
    /// accepting connections, lets the requests in flight finish (for up to
    /// the shutdown timeout), stops the background work and returns.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let (stopping, stop_rx) = watch::channel(false);
        let statistics = tokio::spawn(store::statistics::maintain(
            self.db.clone(),
            stop_rx.clone(),
        ));
        // Webhook deliveries: every instance runs the worker (claims are
        // leased, so instances share the work).
        let webhooks = tokio::spawn(crate::service::webhook_worker::run(
            self.state.clone(),
            stop_rx,
        ));
        let handles: Vec<_> = self.servers.iter().map(Server::handle).collect();
        let servers = futures_util::future::try_join_all(self.servers);
        tokio::pin!(servers);
        let result = tokio::select! {
            result = &mut servers => result,
            () = stop => {
                log::info!(
                    "stopping: no new connections; requests in flight have up to {} s to finish",
                    self.shutdown_timeout_seconds
                );
                for handle in &handles {
                    // Sent at once; the servers, polled below, carry it out.
                    drop(handle.stop(true));
                }
                servers.await
            }
        };
        let _ = stopping.send(true);
        if let Err(e) = statistics.await {
            log::warn!("the statistics task ended badly: {e}");
        }
        if let Err(e) = webhooks.await {
            log::warn!("the webhook worker ended badly: {e}");
        }
        log::info!("stopped");
        result.map(|_| ())
    }
}

/// Resolves on SIGTERM (what service managers and container runtimes send)
/// or SIGINT (Ctrl-C).
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => log::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => log::info!("SIGINT received"),
                }
                return;
            }
            Err(e) => log::warn!("cannot listen for SIGTERM ({e}); stopping on SIGINT only"),
        }
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        log::info!("SIGINT received");
    } else {
        // Without a signal to wait for, run until killed.
        std::future::pending::<()>().await;
    }
}
