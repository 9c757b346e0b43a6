//! Live updates: the GraphQL-over-WebSocket endpoint (`/graphql/ws`, the
//! graphql-transport-ws protocol, and the older graphql-ws one) and the event bus that
//! carries changes between replicas.
//!
//! On PostgreSQL the bus relays every event through `NOTIFY beatline_events`, and each
//! replica `LISTEN`s and re-delivers what other replicas published to its own
//! subscribers, so a change made through replica A reaches a WebSocket open on
//! replica B. Events are delivered locally at once and tagged with the publishing
//! replica, which ignores its own echo. On SQLite (one process) the bus is in-process.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_poem::{GraphQLProtocol, GraphQLWebSocket};
use graphql_schema::RequestMeta;
use graphql_schema::api::live::{bearer_from_init_payload, prepare_connection};
use graphql_schema::domain::events::{DomainEvent, EventBus, LocalBus};
use poem::web::Data;
use poem::web::websocket::WebSocket;
use poem::{IntoResponse, Request, handler};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::http::AppState;

/// The PostgreSQL notification channel of domain events.
pub const CHANNEL: &str = "beatline_events";

/// Serves GraphQL subscriptions over WebSocket. The access token travels in the
/// `connection_init` payload (`{"authorization": "Bearer …"}` or
/// `{"accessToken": "…"}`), since browsers cannot set headers on a WebSocket; a bad
/// token closes the connection (code 1002) with the reason as the close reason.
#[handler]
pub async fn graphql_ws(
    req: &Request,
    protocol: GraphQLProtocol,
    websocket: WebSocket,
    Data(state): Data<&Arc<AppState>>,
) -> impl IntoResponse {
    let schema = state.schema.clone();
    let api = state.api.clone();
    let client_addr: Option<IpAddr> = req.remote_addr().as_socket_addr().map(|a| a.ip());
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let meta = RequestMeta {
                        bearer: bearer_from_init_payload(&payload),
                        client_addr,
                    };
                    Ok(prepare_connection(&api, meta).await?)
                })
                .serve()
        })
}

/// What travels through `NOTIFY`: the event and the replica that published it.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    origin: Uuid,
    event: DomainEvent,
}

/// The event bus for the database behind `db`: relayed through LISTEN/NOTIFY on
/// PostgreSQL, in-process on SQLite. On PostgreSQL it holds one pooled connection
/// for LISTEN and stops when the pool closes.
pub async fn event_bus(db: &DatabaseConnection) -> anyhow::Result<Arc<dyn EventBus>> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(Arc::new(LocalBus::default()));
    }
    let local = LocalBus::default();
    let origin = Uuid::now_v7();
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool())
        .await
        .context("cannot open the LISTEN connection for live updates")?;
    listener
        .listen(CHANNEL)
        .await
        .context("cannot LISTEN for live updates")?;
    tokio::spawn(relay_in(listener, local.clone(), origin));
    let (outbox, pending) = mpsc::unbounded_channel();
    tokio::spawn(relay_out(db.clone(), pending));
    Ok(Arc::new(PgBus {
        local,
        origin,
        outbox,
    }))
}

/// The bus of a replica on PostgreSQL.
struct PgBus {
    local: LocalBus,
    origin: Uuid,
    outbox: mpsc::UnboundedSender<String>,
}

impl EventBus for PgBus {
    fn publish(&self, event: DomainEvent) {
        let envelope = Envelope {
            origin: self.origin,
            event,
        };
        match serde_json::to_string(&envelope) {
            Ok(payload) => {
                // Fails only once the relay stopped, at shutdown.
                let _ = self.outbox.send(payload);
            }
            Err(error) => tracing::error!(%error, "cannot encode a domain event"),
        }
        self.local.deliver_locally(envelope.event);
    }

    fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.local.subscribe()
    }
}

/// Sends this replica's events to the others, in order.
async fn relay_out(db: DatabaseConnection, mut pending: mpsc::UnboundedReceiver<String>) {
    while let Some(payload) = pending.recv().await {
        let notify = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        if let Err(error) = db.execute_raw(notify).await {
            if db.get_postgres_connection_pool().is_closed() {
                return;
            }
            tracing::warn!(%error, "cannot relay a live update to other replicas");
        }
    }
}

/// Delivers the other replicas' events to this replica's subscribers.
async fn relay_in(mut listener: PgListener, local: LocalBus, origin: Uuid) {
    loop {
        match listener.recv().await {
            Ok(notification) => match serde_json::from_str::<Envelope>(notification.payload()) {
                Ok(envelope) if envelope.origin != origin => {
                    local.deliver_locally(envelope.event);
                }
                Ok(_) => {} // our own echo, delivered already
                Err(error) => tracing::warn!(%error, "ignoring a malformed live update"),
            },
            Err(sea_orm::sqlx::Error::PoolClosed) => return,
            Err(error) => {
                // `recv` reconnects by itself; events sent while it was away are lost.
                tracing::warn!(%error, "the LISTEN connection for live updates failed; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
