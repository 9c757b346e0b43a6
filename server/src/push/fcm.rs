//! A small typed client of the FCM HTTP v1 API: `POST
//! {endpoint}/v1/projects/{project}/messages:send`, one message per request over a
//! pooled HTTP/2 connection, with an OAuth2 bearer token from the service account
//! (`gcp_auth` signs the JWT assertion and exchanges it at the key's `token_uri`,
//! caching the token until shortly before it expires).
//!
//! Errors are classified after the v1 error table: UNREGISTERED, SENDER_ID_MISMATCH and
//! an INVALID_ARGUMENT about the token disable the device; QUOTA_EXCEEDED (429),
//! UNAVAILABLE (503) and INTERNAL (500) are retried, honouring `Retry-After`;
//! THIRD_PARTY_AUTH_ERROR is logged for operators and retried slowly; any other
//! INVALID_ARGUMENT means our message is wrong and is never retried.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use entity::enums::DevicePlatform;
use futures::future::BoxFuture;
use gcp_auth::{CustomServiceAccount, Token, TokenProvider as _};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};

use super::{PushMessage, PushSender, SendOutcome};

/// The production base URL.
pub const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";

/// The OAuth2 scope FCM needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// Largest message FCM accepts, in bytes.
pub const MAX_PAYLOAD: usize = 4_096;

/// A client of one Firebase project.
pub struct FcmClient {
    auth: CustomServiceAccount,
    /// The current access token, shared by every send.
    cached: std::sync::RwLock<Option<Arc<Token>>>,
    /// Held while a new token is fetched, so that hundreds of sends in flight when the
    /// token runs out cause one exchange, not one each.
    refresh: tokio::sync::Mutex<()>,
    http: reqwest::Client,
    url: String,
}

impl FcmClient {
    /// A client for the service account in the JSON key file at `path`, talking to
    /// `endpoint` (the production API when `None`).
    pub fn from_file(path: &Path, endpoint: Option<&str>) -> anyhow::Result<Self> {
        let json = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read BEATLINE_FCM_CREDENTIALS {}", path.display()))?;
        Self::from_json(&json, endpoint)
    }

    /// A client for a service account given as JSON.
    pub fn from_json(json: &str, endpoint: Option<&str>) -> anyhow::Result<Self> {
        let auth = CustomServiceAccount::from_json(json)
            .context("BEATLINE_FCM_CREDENTIALS is not a usable service-account key")?;
        let project = auth
            .project_id()
            .context("the service-account key has no project_id")?
            .to_owned();
        let endpoint = endpoint.unwrap_or(DEFAULT_ENDPOINT).trim_end_matches('/');
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .http2_adaptive_window(true);
        // Over TLS, HTTP/2 is negotiated; a plain-HTTP endpoint (a local fake or a
        // proxy) is spoken to in HTTP/2 directly.
        if endpoint.starts_with("http://") {
            http = http.http2_prior_knowledge();
        }
        Ok(Self {
            auth,
            cached: std::sync::RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            http: http.build().context("cannot build the HTTP client")?,
            url: format!("{endpoint}/v1/projects/{project}/messages:send"),
        })
    }

    fn current_token(&self) -> Option<Arc<Token>> {
        let cached = self.cached.read().unwrap_or_else(|p| p.into_inner());
        cached.as_ref().filter(|t| !t.has_expired()).cloned()
    }

    /// The access token, fetched once for all concurrent callers when it runs out.
    async fn access_token(&self) -> Result<Arc<Token>, gcp_auth::Error> {
        if let Some(token) = self.current_token() {
            return Ok(token);
        }
        let _refreshing = self.refresh.lock().await;
        if let Some(token) = self.current_token() {
            return Ok(token);
        }
        let token = self.auth.token(&[SCOPE]).await?;
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(token)
    }

    async fn send_one(&self, message: &PushMessage) -> SendOutcome {
        let token = match self.access_token().await {
            Ok(token) => token,
            Err(error) => {
                tracing::warn!(%error, "cannot get an FCM access token");
                return SendOutcome::Retry {
                    retry_after: None,
                    error: format!("OAuth token: {error}"),
                };
            }
        };
        let body = wire_message(message);
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(error) => {
                return SendOutcome::Retry {
                    retry_after: None,
                    error: format!("network: {}", error_chain(&error)),
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            // Read the (small) answer to its end: dropping a response whose body is
            // still arriving resets the HTTP/2 stream, and a server that sees many
            // resets closes the connection with every push in flight on it.
            if let Err(error) = response.bytes().await {
                tracing::debug!(error = %error_chain(&error), "cannot read FCM's answer to an accepted push");
            }
            return SendOutcome::Sent;
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await.unwrap_or_default();
        classify(status, retry_after, &text)
    }
}

impl PushSender for FcmClient {
    fn send<'a>(&'a self, message: &'a PushMessage) -> BoxFuture<'a, SendOutcome> {
        Box::pin(self.send_one(message))
    }
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own text leaves out
/// the cause that tells a refused connection from a reset stream).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` in seconds (FCM does not send HTTP dates).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// What an FCM error response means for the delivery.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> SendOutcome {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let details = error["details"].as_array().cloned().unwrap_or_default();
    let fcm_code = details
        .iter()
        .find_map(|d| d["errorCode"].as_str())
        .or_else(|| error["status"].as_str())
        .unwrap_or("")
        .to_owned();
    let message = error["message"].as_str().unwrap_or("").to_owned();
    let text = format!("{} {fcm_code}: {message}", status.as_u16());
    match (status.as_u16(), fcm_code.as_str()) {
        (_, "UNREGISTERED") | (_, "SENDER_ID_MISMATCH") => SendOutcome::DeviceGone { error: text },
        (_, "INVALID_ARGUMENT") | (400, _) => {
            let about_token = details.iter().any(|d| {
                d["fieldViolations"].as_array().is_some_and(|v| {
                    v.iter()
                        .any(|f| f["field"].as_str() == Some("message.token"))
                })
            }) || message.to_lowercase().contains("registration token");
            if about_token {
                SendOutcome::DeviceGone { error: text }
            } else {
                tracing::error!(error = %text, "FCM refused a message as malformed: not retried");
                SendOutcome::Rejected { error: text }
            }
        }
        (_, "THIRD_PARTY_AUTH_ERROR") => {
            tracing::error!(
                error = %text,
                "FCM reports THIRD_PARTY_AUTH_ERROR: the APNs certificate or web-push credentials of the Firebase project are broken; fix them in the Firebase console"
            );
            SendOutcome::CredentialsBroken { error: text }
        }
        (429 | 500 | 502 | 503 | 504, _) | (_, "QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL") => {
            SendOutcome::Retry {
                retry_after,
                error: text,
            }
        }
        (401, _) => {
            // Our own access token was refused (expired or revoked): a new one is
            // fetched when it runs out; retry.
            tracing::warn!(error = %text, "FCM refused the access token");
            SendOutcome::Retry {
                retry_after,
                error: text,
            }
        }
        (403 | 404, _) => {
            tracing::error!(error = %text, "FCM refused the request: check the project id and the service account's permissions");
            SendOutcome::Retry {
                retry_after,
                error: text,
            }
        }
        _ => SendOutcome::Retry {
            retry_after,
            error: text,
        },
    }
}

/// The JSON body of a v1 `messages:send` request, at most [`MAX_PAYLOAD`] bytes: the
/// body text is shortened until it fits.
pub fn wire_message(message: &PushMessage) -> String {
    let mut body = message.body.clone();
    loop {
        let json = message_json(message, &body).to_string();
        if json.len() <= MAX_PAYLOAD || body.is_empty() {
            return json;
        }
        let keep = body.chars().count() / 2;
        body = graphql_schema::domain::notify::shorten(&body, keep.max(1));
        if keep == 0 {
            body.clear();
        }
    }
}

fn message_json(message: &PushMessage, body: &str) -> Value {
    let mut m = json!({
        "token": message.token,
        "notification": { "title": message.title, "body": body },
        "data": message.data,
    });
    if let Some(key) = &message.collapse_key {
        match message.platform {
            DevicePlatform::Android => {
                // collapse_key keeps one message per key while the phone is offline;
                // the tag makes a newer one (or a duplicate after a crash) replace the
                // notification already shown, as apns-collapse-id does on iOS.
                m["android"] = json!({ "collapse_key": key, "notification": { "tag": key } });
            }
            DevicePlatform::Ios => {
                // apns-collapse-id is at most 64 bytes; our keys are 40 to 41.
                m["apns"] = json!({ "headers": { "apns-collapse-id": key } });
            }
            DevicePlatform::Web => {
                // The web-push Topic header is at most 32 URL-safe characters.
                let topic: String = key
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .rev()
                    .take(32)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                m["webpush"] = json!({ "headers": { "Topic": topic } });
            }
        }
    }
    json!({ "message": m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> PushMessage {
        PushMessage {
            token: "t".repeat(200),
            platform: DevicePlatform::Android,
            title: "BL-2026-000001 is now RESOLVED".into(),
            body: body.into(),
            data: [("notificationId".to_owned(), "x".to_owned())].into(),
            collapse_key: Some("problem-0123".into()),
        }
    }

    #[test]
    fn payload_stays_under_4_kb() {
        let long = "ñ".repeat(10_000);
        let wire = wire_message(&message(&long));
        assert!(wire.len() <= MAX_PAYLOAD, "{}", wire.len());
        let v: Value = serde_json::from_str(&wire).unwrap_or(Value::Null);
        assert_eq!(v["message"]["android"]["collapse_key"], "problem-0123");
        assert_eq!(
            v["message"]["android"]["notification"]["tag"],
            "problem-0123"
        );
        let short = wire_message(&message("hello"));
        assert!(short.contains("\"hello\""));
    }

    #[test]
    fn errors_are_classified_after_the_v1_table() {
        let body = |status: &str, code: &str| {
            format!(
                r#"{{"error":{{"code":0,"message":"m","status":"{status}","details":[{{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"{code}"}}]}}}}"#
            )
        };
        assert!(matches!(
            classify(
                StatusCode::NOT_FOUND,
                None,
                &body("NOT_FOUND", "UNREGISTERED")
            ),
            SendOutcome::DeviceGone { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::FORBIDDEN,
                None,
                &body("PERMISSION_DENIED", "SENDER_ID_MISMATCH")
            ),
            SendOutcome::DeviceGone { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                None,
                &body("INVALID_ARGUMENT", "INVALID_ARGUMENT")
            ),
            SendOutcome::Rejected { .. }
        ));
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(7)),
                &body("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")
            ),
            SendOutcome::Retry {
                retry_after: Some(Duration::from_secs(7)),
                error: "429 QUOTA_EXCEEDED: m".into()
            }
        );
        assert!(matches!(
            classify(
                StatusCode::UNAUTHORIZED,
                None,
                &body("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")
            ),
            SendOutcome::CredentialsBroken { .. }
        ));
    }
}
