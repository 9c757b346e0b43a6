//! Live updates: the GraphQL-over-WebSocket endpoint (`/graphql/ws`, the
//! graphql-transport-ws protocol, and the older graphql-ws one) and the event bus that
//! carries changes between replicas.
//!
//! A connection goes through the graphql-transport-ws handshake here, before
//! async-graphql serves its subscriptions, because the library's handshake falls short
//! of the protocol: it has no `connection_init` timeout (4408), and refuses a bad
//! token with 1002 rather than 4403. Once accepted, a connection lives no longer than
//! its access token (closed with 4401 when the token expires, or at once when its
//! session ends: sign-out, a refresh token used twice, an erased account).
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
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use async_graphql_poem::GraphQLProtocol;
use futures::{SinkExt as _, StreamExt as _};
use graphql_schema::api::live::{LiveSession, bearer_from_init_payload, prepare_connection};
use graphql_schema::domain::events::{DomainEvent, EventBus, LocalBus};
use graphql_schema::{AppError, RequestMeta};
use poem::web::Data;
use poem::web::websocket::{Message, WebSocket, WebSocketStream};
use poem::{IntoResponse, Request, handler};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use uuid::Uuid;

use crate::http::AppState;

/// The PostgreSQL notification channel of domain events.
pub const CHANNEL: &str = "beatline_events";

/// Close codes of the graphql-transport-ws protocol.
mod close {
    /// A message the protocol does not allow, or that is not JSON.
    pub const BAD_REQUEST: u16 = 4400;
    /// A subscription before the connection was acknowledged, or a connection whose
    /// access token expired or whose session ended.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `connection_init` refused: its token is not valid.
    pub const FORBIDDEN: u16 = 4403;
    /// No `connection_init` in time.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// The server failed.
    pub const INTERNAL: u16 = 4500;
}

/// Serves GraphQL subscriptions over WebSocket. The access token travels in the
/// `connection_init` payload (`{"authorization": "Bearer …"}` or
/// `{"accessToken": "…"}`), since browsers cannot set headers on a WebSocket.
#[handler]
pub async fn graphql_ws(
    req: &Request,
    protocol: GraphQLProtocol,
    websocket: WebSocket,
    Data(state): Data<&Arc<AppState>>,
) -> impl IntoResponse {
    let state = Arc::clone(state);
    let client_addr: Option<IpAddr> = req.remote_addr().as_socket_addr().map(|a| a.ip());
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| serve_connection(stream, state, protocol.0, client_addr))
}

/// A close frame; the reason is cut to the 123 bytes a frame can carry.
fn close_frame(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::close_with(code, &reason[..end])
}

/// A client message, as far as the handshake needs to read it.
#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

/// How the handshake ended.
enum Handshake {
    /// `connection_init` arrived: its raw message (to replay to async-graphql) and
    /// payload.
    Init(Vec<u8>, serde_json::Value),
    /// The connection is over (closed by either side).
    Over,
}

/// Serves one WebSocket connection: the handshake, then its subscriptions until the
/// client leaves, its token expires or its session ends.
async fn serve_connection(
    stream: WebSocketStream,
    state: Arc<AppState>,
    protocol: WebSocketProtocols,
    client_addr: Option<IpAddr>,
) {
    let (mut sink, mut source) = stream.split();
    let init_deadline = Instant::now() + state.ws_init_timeout;
    let (init, payload) = match handshake(&mut sink, &mut source, protocol, init_deadline).await {
        Handshake::Init(init, payload) => (init, payload),
        Handshake::Over => return,
    };
    let meta = RequestMeta {
        bearer: bearer_from_init_payload(&payload),
        client_addr,
    };
    // Listen before checking the session, so that an end between the two is not missed.
    let signals = state.sessions.subscribe();
    let connection = match prepare_connection(&state.api, meta).await {
        Ok(connection) => connection,
        Err(error) => {
            let code = match error {
                AppError::Unauthenticated(_) | AppError::Forbidden(_) => close::FORBIDDEN,
                _ => close::INTERNAL,
            };
            let reason = match code {
                close::FORBIDDEN => error.message(),
                _ => {
                    tracing::error!(?error, "cannot accept a live connection");
                    "Internal server error".to_owned()
                }
            };
            if protocol == WebSocketProtocols::SubscriptionsTransportWS {
                // The older protocol says why in a message, then the socket closes.
                let refusal = serde_json::json!({
                    "type": "connection_error",
                    "payload": { "message": reason },
                });
                let _ = sink.send(Message::Text(refusal.to_string())).await;
            }
            let _ = sink.send(close_frame(code, &reason)).await;
            return;
        }
    };
    let session = connection.session;
    let data = connection.data;
    // The rest of the conversation, `connection_init` first, goes to async-graphql.
    let incoming = futures::stream::once(futures::future::ready(init)).chain(
        source
            .take_while(|frame| futures::future::ready(frame.is_ok()))
            .filter_map(|frame| {
                futures::future::ready(match frame {
                    Ok(msg) if msg.is_text() || msg.is_binary() => Some(msg.into_bytes()),
                    _ => None,
                })
            }),
    );
    let outgoing = async_graphql::http::WebSocket::new(state.schema.clone(), incoming, protocol)
        .on_connection_init(move |_| async move { Ok(data) });
    futures::pin_mut!(outgoing);

    let expiry = async {
        match &session {
            Some(session) => {
                let left = (session.expires_at - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                tokio::time::sleep(left).await;
            }
            None => std::future::pending().await,
        }
    };
    futures::pin_mut!(expiry);
    let mut signals = session.as_ref().map(|_| signals);

    loop {
        tokio::select! {
            msg = outgoing.next() => {
                let frame = match msg {
                    Some(WsMessage::Text(text)) => Message::Text(text),
                    // After the handshake the library closes only on a message it
                    // cannot read; the protocol's code for that is 4400.
                    Some(WsMessage::Close(1002, reason))
                        if protocol == WebSocketProtocols::GraphQLWS =>
                    {
                        close_frame(close::BAD_REQUEST, &reason)
                    }
                    Some(WsMessage::Close(code, reason)) => close_frame(code, &reason),
                    None => return,
                };
                let closing = matches!(frame, Message::Close(_));
                if sink.send(frame).await.is_err() || closing {
                    return;
                }
            }
            () = &mut expiry => {
                let reason = "the access token has expired: call `refreshSession`, then reconnect with the new token";
                let _ = sink.send(close_frame(close::UNAUTHORIZED, reason)).await;
                return;
            }
            signal = next_signal(&mut signals) => {
                if matches!(signal, Err(broadcast::error::RecvError::Closed)) {
                    signals = None;
                    continue;
                }
                if let Some(session) = &session
                    && let Some(reason) = session_over(&state, session, signal).await
                {
                    let _ = sink.send(close_frame(close::UNAUTHORIZED, &reason)).await;
                    return;
                }
            }
        }
    }
}

/// Reads the client's messages until `connection_init`, answering pings, closing the
/// connection when the client sends anything else or nothing in time.
async fn handshake(
    sink: &mut futures::stream::SplitSink<WebSocketStream, Message>,
    source: &mut futures::stream::SplitStream<WebSocketStream>,
    protocol: WebSocketProtocols,
    deadline: Instant,
) -> Handshake {
    loop {
        let frame = match tokio::time::timeout_at(deadline, source.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(_) => return Handshake::Over,
            Err(_) => {
                let reason = "Connection initialisation timeout";
                let _ = sink.send(close_frame(close::INIT_TIMEOUT, reason)).await;
                return Handshake::Over;
            }
        };
        if let Message::Close(_) = frame {
            return Handshake::Over;
        }
        if !(frame.is_text() || frame.is_binary()) {
            continue; // WebSocket pings are answered by the WebSocket layer
        }
        let raw = frame.into_bytes();
        let refusal = match serde_json::from_slice::<ClientMessage>(&raw) {
            Ok(msg) => match (msg.kind.as_str(), protocol) {
                ("connection_init", _) => {
                    let payload = msg.payload.unwrap_or(serde_json::Value::Null);
                    return Handshake::Init(raw, payload);
                }
                ("ping", WebSocketProtocols::GraphQLWS) => {
                    let pong = serde_json::json!({ "type": "pong" }).to_string();
                    if sink.send(Message::Text(pong)).await.is_err() {
                        return Handshake::Over;
                    }
                    continue;
                }
                ("pong", WebSocketProtocols::GraphQLWS) => continue,
                ("connection_terminate", WebSocketProtocols::SubscriptionsTransportWS) => {
                    return Handshake::Over;
                }
                ("subscribe" | "start", _) => (close::UNAUTHORIZED, "Unauthorized".to_owned()),
                (other, _) => (
                    close::BAD_REQUEST,
                    format!("Invalid message: `{other}` before `connection_init`"),
                ),
            },
            Err(error) => (close::BAD_REQUEST, format!("Invalid message: {error}")),
        };
        let _ = sink.send(close_frame(refusal.0, &refusal.1)).await;
        return Handshake::Over;
    }
}

/// The next session signal, or never when the connection has no session to watch.
async fn next_signal(
    signals: &mut Option<broadcast::Receiver<SessionSignal>>,
) -> Result<SessionSignal, broadcast::error::RecvError> {
    match signals {
        Some(signals) => signals.recv().await,
        None => std::future::pending().await,
    }
}

/// Why a connection's session is over after `signal`, if it is.
async fn session_over(
    state: &AppState,
    session: &LiveSession,
    signal: Result<SessionSignal, broadcast::error::RecvError>,
) -> Option<String> {
    match signal {
        Ok(SessionSignal::Ended {
            user_id,
            session_id,
        }) if session.ended_by(user_id, session_id) => {
            Some("this session has ended: sign in again, then reconnect".to_owned())
        }
        Ok(SessionSignal::Ended { .. }) | Err(broadcast::error::RecvError::Closed) => None,
        // Signals were missed: check the session itself.
        Ok(SessionSignal::Recheck) | Err(broadcast::error::RecvError::Lagged(_)) => {
            match session.check(&state.api).await {
                Ok(()) => None,
                Err(error @ AppError::Unauthenticated(_)) => Some(error.message()),
                Err(error) => {
                    tracing::warn!(?error, "cannot check the session of a live connection");
                    None
                }
            }
        }
    }
}

/// What live connections hear about sessions.
#[derive(Debug, Clone, Copy)]
pub enum SessionSignal {
    /// A session (or every session of a user) ended.
    Ended {
        /// The user.
        user_id: Uuid,
        /// The session, or `None` for all of the user's.
        session_id: Option<Uuid>,
    },
    /// Signals may have been missed: every connection checks its session again.
    Recheck,
}

/// Tells live connections when sessions end, on every replica: one task per server
/// picks [`DomainEvent::SessionsEnded`] out of the bus, so that connections do not
/// each wake for every problem change.
#[derive(Debug, Clone)]
pub struct SessionWatch {
    sender: broadcast::Sender<SessionSignal>,
}

impl SessionWatch {
    /// Starts watching `events`; stops with the bus, or on the first event after the
    /// watch is dropped.
    pub fn start(events: &dyn EventBus) -> Self {
        let (sender, _) = broadcast::channel(256);
        let weak = sender.downgrade();
        let mut events = events.subscribe();
        tokio::spawn(async move {
            loop {
                let signal = match events.recv().await {
                    Ok(DomainEvent::SessionsEnded {
                        user_id,
                        session_id,
                    }) => SessionSignal::Ended {
                        user_id,
                        session_id,
                    },
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "live connections fell behind the event bus");
                        SessionSignal::Recheck
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(sender) = weak.upgrade() else {
                    return;
                };
                // No connection listening is not an error.
                let _ = sender.send(signal);
            }
        });
        Self { sender }
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionSignal> {
        self.sender.subscribe()
    }
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

    fn subscribe_counted(&self) -> (u64, broadcast::Receiver<DomainEvent>) {
        self.local.subscribe_counted()
    }

    fn delivered(&self) -> u64 {
        self.local.delivered()
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
