//! The Beatline server: configuration, HTTP routes and CLI sub-commands around the
//! `graphql-schema` crate. The binary (`src/main.rs`) is a thin shell over this library,
//! which the end-to-end tests start in-process on port 0.

pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod export;
pub mod http;
pub mod live;
pub mod metrics;
pub mod photos;
pub mod push;
pub mod seed_problems;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use graphql_schema::{ApiContext, SchemaOptions, TokenKeys, build_schema};
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{CommonConfig, Profile, ServeConfig};
use crate::http::AppState;
use crate::metrics::Metrics;

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server that is listening.
pub struct RunningServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The connection pool it uses.
    pub db: DatabaseConnection,
    /// The bus on which changes are announced to live subscribers (on every replica).
    pub events: std::sync::Arc<dyn graphql_schema::domain::events::EventBus>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    push: Option<push::worker::PushWorker>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits for the end.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(push) = self.push.take() {
            push.shutdown().await;
        }
        let result = (&mut self.task).await.context("the server task failed")?;
        self.db
            .clone()
            .close()
            .await
            .context("cannot close the database pool")?;
        result
    }

    /// Stops at once, as a crash would: in-flight requests and pushes are dropped
    /// unrecorded. For tests of durability.
    pub fn kill(mut self) {
        if let Some(push) = self.push.take() {
            push.abort();
        }
        self.task.abort();
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("the server task failed")?
    }
}

/// Connects, migrates, and starts serving on `serve.listen`. The server stops on
/// SIGINT/SIGTERM (when `signals` is true) or on [`RunningServer::shutdown`].
pub async fn start(
    common: &CommonConfig,
    serve: &ServeConfig,
    signals: bool,
) -> anyhow::Result<RunningServer> {
    let metrics = Metrics::new()?;
    // Before the database: a photo store that cannot be used stops the server at once.
    let photo_store = photos::store(&serve.photos).await?;
    let db = db::connect(common, Some(metrics.clone())).await?;
    db::migrate(&db).await?;
    db::refresh_statistics(&db).await;
    if serve.demo {
        demo::seed_if_empty(&db).await?;
    }
    // Before serving, so that the first requests do not race it for SQLite's write lock.
    if let Err(error) = graphql_schema::domain::meetings::extend_all_series(&db).await {
        tracing::warn!(?error, "extending meeting series failed");
    }
    spawn_meeting_horizon(db.clone());
    let mut api = ApiContext::new(db.clone(), token_keys(serve)?);
    api.events = live::event_bus(&db).await?;
    let events = api.events.clone();
    if let Some(store) = photo_store {
        api.photos = store;
    }
    api.photo_url_ttl = serve.photos.url_ttl();
    let push_sender = push::sender(&serve.push).await?;
    let push_events = api.events.clone();
    let schema = build_schema(
        api.clone(),
        &SchemaOptions {
            introspection: serve.introspection_enabled(),
            ..SchemaOptions::default()
        },
    );
    let push_metrics = metrics.clone();
    let state = AppState {
        sessions: live::SessionWatch::start(api.events.as_ref()),
        schema,
        api,
        db: db.clone(),
        metrics,
        ws_init_timeout: serve.sessions.ws_init_timeout(),
    };
    let routes = http::routes(state, serve.graphiql_enabled());
    spawn_idempotency_purge(db.clone());
    let acceptor = TcpListener::bind(serve.listen)
        .into_acceptor()
        .await
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("the listener has no address")?;
    // The worker has a small pool of its own: its polling never takes a connection a
    // request needs, and does not count in the per-request statement metrics.
    let push_db = db::connect(
        &CommonConfig {
            db_max_connections: common.db_max_connections.clamp(1, 4),
            ..common.clone()
        },
        None,
    )
    .await?;
    let push = push::worker::PushWorker::start(
        push_db,
        push_sender,
        push_events,
        push_metrics,
        (&serve.push).into(),
    );
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stop = async move {
            if signals {
                tokio::select! {
                    _ = stop_rx => {}
                    () = shutdown_signal() => tracing::info!("shutdown signal received; finishing in-flight requests"),
                }
            } else {
                let _ = stop_rx.await;
            }
        };
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(routes, stop, Some(SHUTDOWN_GRACE))
            .await
            .context("the HTTP server failed")
    });
    Ok(RunningServer {
        addr,
        db,
        events,
        stop: Some(stop_tx),
        task,
        push: Some(push),
    })
}

/// Keeps recurring meeting series materialised a rolling year ahead: daily.
fn spawn_meeting_horizon(db: sea_orm::DatabaseConnection) {
    tokio::spawn(async move {
        let day = std::time::Duration::from_secs(24 * 3600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + day, day);
        loop {
            tick.tick().await;
            match graphql_schema::domain::meetings::extend_all_series(&db).await {
                Ok(added) if added > 0 => tracing::info!(added, "meeting occurrences added"),
                Ok(_) => {}
                Err(error) => tracing::warn!(?error, "extending meeting series failed"),
            }
        }
    });
}

/// The keys that sign access tokens: from `BEATLINE_JWT_SECRET`, or (outside
/// production) a random secret made at start.
fn token_keys(serve: &ServeConfig) -> anyhow::Result<TokenKeys> {
    if let Some(secret) = &serve.jwt_secret {
        return Ok(TokenKeys::from_secret(secret.expose().as_bytes())
            .with_access_ttl(serve.sessions.access_token_ttl()));
    }
    if serve.profile == Profile::Production {
        anyhow::bail!(
            "BEATLINE_JWT_SECRET is required in production: set it to a random string of at least 32 bytes"
        );
    }
    let mut secret = [0_u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    tracing::warn!(
        "BEATLINE_JWT_SECRET is not set: signing tokens with a random secret generated at start; sessions end when the server restarts"
    );
    Ok(TokenKeys::from_secret(&secret).with_access_ttl(serve.sessions.access_token_ttl()))
}

/// Removes expired idempotency keys once an hour, and refreshes SQLite's planner
/// statistics.
fn spawn_idempotency_purge(db: DatabaseConnection) {
    tokio::spawn(async move {
        let hour = Duration::from_secs(3600);
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
        loop {
            every.tick().await;
            match graphql_schema::domain::idempotency::purge_expired(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired idempotency keys removed"),
                Err(e) => tracing::warn!(error = ?e, "cannot purge idempotency keys"),
            }
            crate::db::refresh_statistics(&db).await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
