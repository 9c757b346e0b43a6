//! Push notifications: the senders (a log for the embedded set-up, FCM HTTP v1 for
//! real phones) and the worker that drains the outbox (`push_deliveries`) written by
//! `graphql_schema::domain::notify`.

pub mod fcm;
pub mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use entity::enums::DevicePlatform;
use futures::future::BoxFuture;

/// Which push provider the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PushMode {
    /// Log what would be sent, send nothing (the embedded set-up).
    #[default]
    Log,
    /// Firebase Cloud Messaging, HTTP v1 API.
    Fcm,
}

/// Settings of push delivery.
#[derive(Debug, Clone, Args)]
pub struct PushConfig {
    /// Push provider: `log` (logs what it would send) or `fcm` (needs
    /// `BEATLINE_FCM_CREDENTIALS`).
    #[arg(long = "push", env = "BEATLINE_PUSH", value_enum, default_value_t = PushMode::Log)]
    pub mode: PushMode,
    /// Path of the Firebase service-account JSON key (with `project_id`, `client_email`,
    /// `private_key` and `token_uri`).
    #[arg(long, env = "BEATLINE_FCM_CREDENTIALS")]
    pub fcm_credentials: Option<PathBuf>,
    /// Base URL of the FCM API (default `https://fcm.googleapis.com`); for tests and
    /// proxies.
    #[arg(long, env = "BEATLINE_FCM_ENDPOINT")]
    pub fcm_endpoint: Option<String>,
    /// Most pushes in flight at once.
    #[arg(long, env = "BEATLINE_PUSH_CONCURRENCY", default_value_t = 256)]
    pub push_concurrency: usize,
    /// Deliveries a worker claims at a time.
    #[arg(long, env = "BEATLINE_PUSH_BATCH_SIZE", default_value_t = 500)]
    pub push_batch_size: u64,
    /// Seconds a claim lasts: deliveries of a worker that died go out again after it.
    /// Sends start only in its first half, so keep it above twice the provider's
    /// 15-second timeout (30 s or more) in production.
    #[arg(long, env = "BEATLINE_PUSH_LEASE_SECS", default_value_t = 60)]
    pub push_lease_secs: u64,
    /// First retry delay in milliseconds; doubled at each attempt, with jitter.
    #[arg(long, env = "BEATLINE_PUSH_RETRY_BASE_MS", default_value_t = 2_000)]
    pub push_retry_base_ms: u64,
    /// Seconds after which a delivery that keeps failing is given up (marked DEAD).
    #[arg(
        long,
        env = "BEATLINE_PUSH_RETRY_WINDOW_SECS",
        default_value_t = 86_400
    )]
    pub push_retry_window_secs: u64,
    /// Milliseconds between looks at the outbox when nothing woke the worker.
    #[arg(long, env = "BEATLINE_PUSH_POLL_MS", default_value_t = 1_000)]
    pub push_poll_ms: u64,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            mode: PushMode::Log,
            fcm_credentials: None,
            fcm_endpoint: None,
            push_concurrency: 256,
            push_batch_size: 500,
            push_lease_secs: 60,
            push_retry_base_ms: 2_000,
            push_retry_window_secs: 86_400,
            push_poll_ms: 1_000,
        }
    }
}

/// One push message to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// The device's registration token.
    pub token: String,
    /// The device's platform.
    pub platform: DevicePlatform,
    /// Headline.
    pub title: String,
    /// Text.
    pub body: String,
    /// Key-value data for the app (notification id, kind, problem or meeting id).
    pub data: BTreeMap<String, String>,
    /// Collapse key: one per problem or meeting.
    pub collapse_key: Option<String>,
}

/// What became of one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted by the provider.
    Sent,
    /// A passing failure (429, 500, 503, network): try again later, not before
    /// `retry_after` when the provider said so.
    Retry {
        /// The provider's `Retry-After`.
        retry_after: Option<Duration>,
        /// What went wrong.
        error: String,
    },
    /// The platform credentials (APNs, web push) are broken: operators must act; retry
    /// slowly.
    CredentialsBroken {
        /// What went wrong.
        error: String,
    },
    /// The token is dead or belongs to another project: disable the device.
    DeviceGone {
        /// Why.
        error: String,
    },
    /// The provider refused the message itself: never retry.
    Rejected {
        /// Why.
        error: String,
    },
}

/// Sends push messages.
pub trait PushSender: Send + Sync {
    /// Sends one message.
    fn send<'a>(&'a self, message: &'a PushMessage) -> BoxFuture<'a, SendOutcome>;
}

/// Logs what it would send.
#[derive(Debug, Default)]
pub struct LogSender;

impl PushSender for LogSender {
    fn send<'a>(&'a self, message: &'a PushMessage) -> BoxFuture<'a, SendOutcome> {
        Box::pin(async move {
            let token: String = message.token.chars().take(8).collect();
            tracing::info!(
                token = %format!("{token}…"),
                title = %message.title,
                collapse_key = ?message.collapse_key,
                "push (BEATLINE_PUSH=log, not sent)"
            );
            SendOutcome::Sent
        })
    }
}

/// The sender chosen by the configuration.
pub async fn sender(config: &PushConfig) -> anyhow::Result<Arc<dyn PushSender>> {
    match config.mode {
        PushMode::Log => Ok(Arc::new(LogSender)),
        PushMode::Fcm => {
            let Some(path) = &config.fcm_credentials else {
                anyhow::bail!(
                    "BEATLINE_PUSH=fcm needs BEATLINE_FCM_CREDENTIALS: the path of the Firebase service-account JSON key"
                );
            };
            let client = fcm::FcmClient::from_file(path, config.fcm_endpoint.as_deref())?;
            Ok(Arc::new(client))
        }
    }
}
