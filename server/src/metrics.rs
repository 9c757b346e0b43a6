//! Prometheus metrics, one registry per server instance (so that tests running many
//! servers in one process each see their own numbers).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    db_statements: IntCounter,
    db_failed: IntCounter,
    db_duration: Histogram,
    push_deliveries: IntCounterVec,
    push_send_duration: Histogram,
    push_outbox: IntGaugeVec,
    push_oldest_due: Gauge,
}

/// What became of one push attempt, for `beatline_push_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted by the provider.
    Sent,
    /// A passing failure (429, 500, 503, network, an auth error): tried again later.
    Retried,
    /// Given up: refused as malformed, or still failing at the end of the retry window.
    Dead,
    /// Not sent, and never again to that device: the token is dead, belongs to another
    /// project, or the device was disabled or moved to another user.
    DeviceDisabled,
    /// THIRD_PARTY_AUTH_ERROR: the project's APNs or web-push credentials are broken
    /// (counted besides `retried` or `dead`; operators must act).
    AuthError,
}

impl PushOutcome {
    /// Every outcome.
    pub const ALL: [Self; 5] = [
        Self::Sent,
        Self::Retried,
        Self::Dead,
        Self::DeviceDisabled,
        Self::AuthError,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retried => "retried",
            Self::Dead => "dead",
            Self::DeviceDisabled => "device_disabled",
            Self::AuthError => "auth_error",
        }
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("beatline".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )?;
        let db_statements = IntCounter::new("db_statements_total", "SQL statements executed")?;
        let db_failed =
            IntCounter::new("db_statements_failed_total", "SQL statements that failed")?;
        let db_duration = Histogram::with_opts(
            HistogramOpts::new("db_statement_duration_seconds", "SQL statement latency").buckets(
                vec![0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
            ),
        )?;
        let push_deliveries = IntCounterVec::new(
            Opts::new(
                "push_deliveries_total",
                "Push attempts by outcome: sent, retried, dead (given up), device_disabled \
                 (token gone; never retried), auth_error (THIRD_PARTY_AUTH_ERROR: fix the \
                 APNs or web-push credentials)",
            ),
            &["outcome"],
        )?;
        for outcome in PushOutcome::ALL {
            // Every series from the start, so that rates and alerts see zeros.
            push_deliveries.with_label_values(&[outcome.label()]);
        }
        let push_send_duration = Histogram::with_opts(
            HistogramOpts::new(
                "push_send_duration_seconds",
                "Time for the push provider to answer one message",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
            ]),
        )?;
        let push_outbox = IntGaugeVec::new(
            Opts::new(
                "push_outbox_deliveries",
                "Pending push deliveries in the outbox (all replicas): due (waiting for a \
                 worker) and scheduled (held for quiet hours, a retry, or in flight)",
            ),
            &["state"],
        )?;
        for state in ["due", "scheduled"] {
            push_outbox.with_label_values(&[state]);
        }
        let push_oldest_due = Gauge::new(
            "push_outbox_oldest_due_seconds",
            "How long the longest-waiting due push delivery has waited (0 when none)",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(db_statements.clone()))?;
        registry.register(Box::new(db_failed.clone()))?;
        registry.register(Box::new(db_duration.clone()))?;
        registry.register(Box::new(push_deliveries.clone()))?;
        registry.register(Box::new(push_send_duration.clone()))?;
        registry.register(Box::new(push_outbox.clone()))?;
        registry.register(Box::new(push_oldest_due.clone()))?;
        Ok(Self(Arc::new(Inner {
            registry,
            http_requests,
            http_duration,
            db_statements,
            db_failed,
            db_duration,
            push_deliveries,
            push_send_duration,
            push_outbox,
            push_oldest_due,
        })))
    }

    /// Records one HTTP request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.0
            .http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.0
            .http_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// Records one SQL statement.
    pub fn observe_statement(&self, elapsed: Duration, failed: bool) {
        self.0.db_statements.inc();
        if failed {
            self.0.db_failed.inc();
        }
        self.0.db_duration.observe(elapsed.as_secs_f64());
    }

    /// Counts push attempts with one outcome.
    pub fn observe_push(&self, outcome: PushOutcome, count: u64) {
        self.0
            .push_deliveries
            .with_label_values(&[outcome.label()])
            .inc_by(count);
    }

    /// Records how long the push provider took to answer one message.
    pub fn observe_push_send(&self, elapsed: Duration) {
        self.0.push_send_duration.observe(elapsed.as_secs_f64());
    }

    /// Sets the outbox gauges: deliveries due and scheduled, and the wait of the
    /// oldest due one.
    pub fn set_push_outbox(&self, due: i64, scheduled: i64, oldest_due: Duration) {
        self.0.push_outbox.with_label_values(&["due"]).set(due);
        self.0
            .push_outbox
            .with_label_values(&["scheduled"])
            .set(scheduled);
        self.0.push_oldest_due.set(oldest_due.as_secs_f64());
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.0.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}
