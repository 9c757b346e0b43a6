//! A fake of the FCM HTTP v1 API and of Google's OAuth2 token endpoint, on loopback,
//! speaking the real protocol: the token endpoint checks the RS256 JWT assertion
//! against the public half of a freshly generated service-account key, and the send
//! endpoint checks the bearer tokens it issued. Replies can be scripted per device
//! token (errors, `Retry-After`), and every request is recorded.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use poem::http::{StatusCode, Version};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Server};
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

/// The project id of the fake.
pub const PROJECT: &str = "beatline-test";
/// The service account's e-mail.
pub const CLIENT_EMAIL: &str = "push@beatline-test.iam.gserviceaccount.com";

/// A scripted reply of the send endpoint.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The FCM error code (`UNREGISTERED`...), empty for success.
    pub error_code: &'static str,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// Whether the error is about the token (`fieldViolations` on `message.token`).
    pub about_token: bool,
}

impl Reply {
    /// An error reply.
    pub fn error(status: u16, error_code: &'static str) -> Self {
        Self {
            status,
            error_code,
            retry_after: None,
            about_token: false,
        }
    }
}

/// A message the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The device token.
    pub token: String,
    /// The whole `message` object.
    pub message: Value,
    /// The HTTP version of the request.
    pub version: Version,
    /// The bearer token presented.
    pub bearer: String,
    /// When it arrived.
    pub at: Instant,
    /// The status the fake answered.
    pub status: u16,
    /// Size of the request body in bytes.
    pub bytes: usize,
}

/// What the fake has seen and will answer.
#[derive(Default)]
pub struct FakeState {
    /// Every send request, in order of arrival.
    pub received: Mutex<Vec<Received>>,
    /// Count of successful token exchanges.
    pub token_requests: AtomicUsize,
    /// Count of send requests.
    pub sends: AtomicUsize,
    /// Messages accepted (answered 200), per device token; kept even when `record`
    /// is off, so that a benchmark can tell lost messages from duplicates.
    pub accepted: Mutex<HashMap<String, u32>>,
    /// Device tokens that had at least one message accepted.
    pub distinct: AtomicUsize,
    issued: Mutex<HashMap<String, Instant>>,
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Lifetime of issued access tokens (`expires_in`), seconds.
    pub token_lifetime: Mutex<u64>,
    /// Delay before answering each send.
    pub latency: Mutex<Duration>,
    /// Whether to record requests (off for benchmarks).
    pub record: std::sync::atomic::AtomicBool,
    /// The fake's base URL, the audience of the JWT assertions.
    base: Mutex<String>,
}

/// The running fake.
pub struct FakeFcm {
    /// Base URL, e.g. `http://127.0.0.1:4711`.
    pub base: String,
    /// Its state.
    pub state: Arc<FakeState>,
    /// Path of the service-account JSON key to give the server.
    pub credentials: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeFcm {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.credentials);
    }
}

struct Keys {
    private_pem: String,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

/// One RSA key per test process: generating 2048-bit keys is slow.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .unwrap_or_else(|e| panic!("RSA key generation failed: {e}"));
        let private_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap_or_else(|e| panic!("PKCS#8 encoding failed: {e}"))
            .to_string();
        let public = key.to_public_key();
        Keys {
            private_pem,
            modulus: public.n().to_bytes_be(),
            exponent: public.e().to_bytes_be(),
        }
    })
}

impl FakeFcm {
    /// Starts the fake on a free loopback port and writes a service-account key whose
    /// `token_uri` points at it.
    pub async fn start() -> Self {
        let keys = keys();
        let state = Arc::new(FakeState::default());
        *state
            .token_lifetime
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = 3_600;
        state.record.store(true, Ordering::SeqCst);
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap_or_else(|e| panic!("cannot bind the fake FCM: {e}"));
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or_else(|| panic!("the fake FCM has no address"));
        let base = format!("http://{addr}");
        *state.base.lock().unwrap_or_else(|p| p.into_inner()) = base.clone();
        let endpoint_state = state.clone();
        let endpoint = poem::endpoint::make(move |req: Request| {
            let state = endpoint_state.clone();
            async move { handle(state, req).await }
        });
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        let credentials = std::env::temp_dir().join(format!(
            "beatline-fcm-{}.json",
            uuid::Uuid::now_v7().simple()
        ));
        let key = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "test-key",
            "private_key": keys.private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "1",
            "auth_uri": format!("{base}/auth"),
            "token_uri": format!("{base}/token"),
        });
        std::fs::write(&credentials, key.to_string())
            .unwrap_or_else(|e| panic!("cannot write the key file: {e}"));
        Self {
            base,
            state,
            credentials,
            task,
        }
    }

    /// Scripts the next replies for a device token (then 200 again).
    pub fn script(&self, token: &str, replies: Vec<Reply>) {
        self.state
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_owned(), replies.into());
    }

    /// Sets the delay before each send is answered.
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().unwrap_or_else(|p| p.into_inner()) = latency;
    }

    /// Sets the lifetime of the access tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        *self
            .state
            .token_lifetime
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = seconds;
    }

    /// Every send received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The sends for one device token.
    pub fn received_for(&self, token: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.token == token)
            .collect()
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(body.to_string())
}

async fn handle(state: Arc<FakeState>, mut req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let version = req.version();
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let body = req.take_body().into_bytes().await.unwrap_or_default();
    if path == "/token" {
        return token(&state, &body);
    }
    if path == format!("/v1/projects/{PROJECT}/messages:send") {
        return send(&state, &bearer, &body, version).await;
    }
    json_response(
        404,
        json!({ "error": { "code": 404, "message": "no such path", "status": "NOT_FOUND" } }),
    )
}

fn token(state: &FakeState, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url_decode(body);
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return json_response(400, json!({ "error": "unsupported_grant_type" }));
    }
    let Some(assertion) = form.get("assertion") else {
        return json_response(400, json!({ "error": "invalid_request" }));
    };
    let base = state.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[format!("{base}/token")]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    let key = jsonwebtoken::DecodingKey::from_rsa_raw_components(&keys().modulus, &keys().exponent);
    // Google accepts segments with base64 padding (gcp_auth sends them); the JWT
    // library wants them without.
    let assertion = assertion.replace('=', "");
    let claims = match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            eprintln!("fake OAuth: invalid assertion: {e}");
            return json_response(
                400,
                json!({ "error": "invalid_grant", "error_description": e.to_string() }),
            );
        }
    };
    let scope = claims["scope"].as_str().unwrap_or_default();
    if !scope
        .split(' ')
        .any(|s| s == "https://www.googleapis.com/auth/firebase.messaging")
    {
        return json_response(400, json!({ "error": "invalid_scope" }));
    }
    let n = state.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let lifetime = *state
        .token_lifetime
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let access = format!("ya29.fake-{n}-{}", uuid::Uuid::now_v7().simple());
    state
        .issued
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            access.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        );
    json_response(
        200,
        json!({ "access_token": access, "expires_in": lifetime, "token_type": "Bearer" }),
    )
}

async fn send(state: &FakeState, bearer: &str, body: &[u8], version: Version) -> Response {
    let n = state.sends.fetch_add(1, Ordering::SeqCst);
    let latency = *state.latency.lock().unwrap_or_else(|p| p.into_inner());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let valid = state
        .issued
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(bearer)
        .is_some_and(|expiry| *expiry > Instant::now());
    if !valid {
        return json_response(
            401,
            json!({ "error": { "code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED" } }),
        );
    }
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = parsed["message"].clone();
    let device = message["token"].as_str().unwrap_or_default().to_owned();
    let reply = state
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(&device)
        .and_then(VecDeque::pop_front);
    let status = reply.as_ref().map_or(200, |r| r.status);
    if state.record.load(Ordering::SeqCst) {
        state
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Received {
                token: device.clone(),
                message,
                version,
                bearer: bearer.to_owned(),
                at: Instant::now(),
                status,
                bytes: body.len(),
            });
    }
    let Some(reply) = reply else {
        let first = {
            let mut accepted = state.accepted.lock().unwrap_or_else(|p| p.into_inner());
            let count = accepted.entry(device).or_default();
            *count += 1;
            *count == 1
        };
        if first {
            state.distinct.fetch_add(1, Ordering::SeqCst);
        }
        return json_response(
            200,
            json!({ "name": format!("projects/{PROJECT}/messages/{n}") }),
        );
    };
    let mut details = vec![json!({
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": reply.error_code,
    })];
    if reply.about_token {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{ "field": "message.token", "description": "Invalid registration token" }],
        }));
    }
    let status_name = match reply.status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let mut response = json_response(
        reply.status,
        json!({ "error": { "code": reply.status, "message": format!("scripted {}", reply.error_code), "status": status_name, "details": details } }),
    );
    if let Some(secs) = reply.retry_after
        && let Ok(value) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// Decodes an `application/x-www-form-urlencoded` body.
fn url_decode(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
