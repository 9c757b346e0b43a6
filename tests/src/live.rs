//! A real WebSocket client speaking graphql-transport-ws, as the apps do.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: failing loudly is the point"
)]

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How a connection attempt ended.
#[derive(Debug)]
pub enum Handshake {
    /// The server acknowledged `connection_init`.
    Acked(Box<LiveClient>),
    /// The server closed the connection, with this close code and reason.
    Closed(u16, String),
}

/// One WebSocket connection to `/graphql/ws`.
pub struct LiveClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Messages that arrived while [`LiveClient::ping`] waited for its pong.
    pending: VecDeque<Value>,
}

impl std::fmt::Debug for LiveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveClient").finish_non_exhaustive()
    }
}

/// What came from the server.
enum Incoming {
    /// A protocol message other than `ping` (answered) and `pong`.
    Message(Value),
    /// A `pong`.
    Pong,
    /// The connection closed, with this code and reason.
    Closed(u16, String),
}

impl LiveClient {
    /// Opens a WebSocket to the server at `base` (`http://host:port`) with the
    /// graphql-transport-ws subprotocol, and sends nothing yet.
    pub async fn open(base: &str) -> Self {
        let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("websocket url");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        Self {
            ws,
            next_id: 0,
            pending: VecDeque::new(),
        }
    }

    /// Sends one protocol message.
    pub async fn send(&mut self, msg: Value) {
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send a message");
    }

    /// Sends `connection_init` with `payload` and waits for the server's answer.
    pub async fn init(mut self, payload: Value) -> Handshake {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        loop {
            match self.incoming(Duration::from_secs(10)).await {
                Some(Incoming::Message(msg)) if msg["type"] == "connection_ack" => {
                    return Handshake::Acked(Box::new(self));
                }
                Some(Incoming::Message(msg)) => {
                    panic!("unexpected message before connection_ack: {msg}")
                }
                Some(Incoming::Pong) => {}
                Some(Incoming::Closed(code, reason)) => return Handshake::Closed(code, reason),
                None => panic!("no connection_ack within 10 s"),
            }
        }
    }

    /// Connects to the server at `base` and sends `connection_init` with `payload`.
    pub async fn handshake(base: &str, payload: Value) -> Handshake {
        Self::open(base).await.init(payload).await
    }

    /// Connects with an access token (or none) and expects the connection to be
    /// acknowledged.
    pub async fn connect(base: &str, token: Option<&str>) -> Self {
        let payload = match token {
            Some(t) => json!({ "authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        match Self::handshake(base, payload).await {
            Handshake::Acked(client) => *client,
            Handshake::Closed(code, reason) => panic!("connection refused: {code} {reason}"),
        }
    }

    /// Starts an operation; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.send(json!({ "id": id, "type": "subscribe",
                          "payload": { "query": query, "variables": variables } }))
            .await;
        id
    }

    /// Starts an operation and makes a round trip, so that the server has read the
    /// `subscribe` (and started the subscription) before a test changes anything.
    pub async fn subscribe_synced(&mut self, query: &str, variables: Value) -> String {
        let id = self.subscribe(query, variables).await;
        assert!(
            self.ping(Duration::from_secs(10)).await,
            "no pong within 10 s"
        );
        id
    }

    /// Sends a `ping` and waits for the `pong`; other messages that come meanwhile
    /// are kept for [`LiveClient::next_message`]. False when no pong came in time.
    pub async fn ping(&mut self, timeout: Duration) -> bool {
        self.send(json!({ "type": "ping" })).await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.incoming(left).await {
                Some(Incoming::Pong) => return true,
                Some(Incoming::Message(msg)) => self.pending.push_back(msg),
                Some(Incoming::Closed(code, reason)) => {
                    panic!("connection closed while waiting for a pong: {code} {reason}")
                }
                None => return false,
            }
        }
    }

    /// The next `next`, `error` or `complete` message within `timeout` (answering
    /// pings), or `None` when nothing came.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(msg) = self.pending.pop_front() {
            return Some(msg);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.incoming(left).await {
                Some(Incoming::Message(msg)) => return Some(msg),
                Some(Incoming::Pong) => {}
                Some(Incoming::Closed(code, reason)) => {
                    panic!("connection closed: {code} {reason}")
                }
                None => return None,
            }
        }
    }

    /// Like [`LiveClient::next_message`], but the message must come and be a `next`;
    /// returns its `payload`.
    pub async fn expect_next(&mut self, timeout: Duration) -> Value {
        let msg = self
            .next_message(timeout)
            .await
            .unwrap_or_else(|| panic!("no message within {timeout:?}"));
        assert_eq!(msg["type"], "next", "expected a `next` message, got {msg}");
        msg["payload"].clone()
    }

    /// Asserts that nothing but pongs comes within `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        if let Some(msg) = self.next_message(quiet).await {
            panic!("expected nothing, got {msg}");
        }
    }

    /// Waits for the server to close the connection; returns the close code and
    /// reason. Any other message fails the test.
    pub async fn expect_close(&mut self, timeout: Duration) -> (u16, String) {
        if let Some(msg) = self.pending.pop_front() {
            panic!("expected the connection to close, got {msg}");
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.incoming(left).await {
                Some(Incoming::Closed(code, reason)) => return (code, reason),
                Some(Incoming::Pong) => {}
                Some(Incoming::Message(msg)) => {
                    panic!("expected the connection to close, got {msg}")
                }
                None => panic!("the connection was not closed within {timeout:?}"),
            }
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// The next frame that matters within `timeout`, answering pings.
    async fn incoming(&mut self, timeout: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let msg: Value = serde_json::from_str(&text).expect("message is JSON");
                    match msg["type"].as_str() {
                        Some("ping") => {
                            self.send(json!({ "type": "pong" })).await;
                        }
                        Some("pong") => return Some(Incoming::Pong),
                        _ => return Some(Incoming::Message(msg)),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Incoming::Closed(code, reason));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Some(Incoming::Closed(1006, error.to_string())),
                None => return Some(Incoming::Closed(1006, "stream ended".to_owned())),
            }
        }
    }
}
