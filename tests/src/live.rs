//! A real WebSocket client speaking graphql-transport-ws, as the apps do.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: failing loudly is the point"
)]

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
}

impl std::fmt::Debug for LiveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveClient").finish_non_exhaustive()
    }
}

impl LiveClient {
    /// Connects to the server at `base` (`http://host:port`) and sends
    /// `connection_init` with `payload`.
    pub async fn handshake(base: &str, payload: Value) -> Handshake {
        let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("websocket url");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        ws.send(Message::text(
            json!({ "type": "connection_init", "payload": payload }).to_string(),
        ))
        .await
        .expect("send connection_init");
        let mut client = Self { ws, next_id: 0 };
        match client.raw_next(Duration::from_secs(10)).await {
            Some(Ok(msg)) if msg["type"] == "connection_ack" => Handshake::Acked(Box::new(client)),
            Some(Ok(msg)) => panic!("unexpected message before connection_ack: {msg}"),
            Some(Err((code, reason))) => Handshake::Closed(code, reason),
            None => panic!("no connection_ack within 10 s"),
        }
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
        self.ws
            .send(Message::text(
                json!({ "id": id, "type": "subscribe",
                        "payload": { "query": query, "variables": variables } })
                .to_string(),
            ))
            .await
            .expect("send subscribe");
        id
    }

    /// The next `next`, `error` or `complete` message within `timeout` (answering
    /// pings), or `None` when nothing came.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        match self.raw_next(timeout).await {
            Some(Ok(msg)) => Some(msg),
            Some(Err((code, reason))) => panic!("connection closed: {code} {reason}"),
            None => None,
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

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    async fn raw_next(&mut self, timeout: Duration) -> Option<Result<Value, (u16, String)>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let msg: Value = serde_json::from_str(&text).expect("message is JSON");
                    if msg["type"] == "ping" {
                        let pong = json!({ "type": "pong" }).to_string();
                        self.ws.send(Message::text(pong)).await.expect("pong");
                        continue;
                    }
                    if msg["type"] == "pong" {
                        continue;
                    }
                    return Some(Ok(msg));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Err((code, reason)));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Some(Err((1006, error.to_string()))),
                None => return Some(Err((1006, "stream ended".to_owned()))),
            }
        }
    }
}
