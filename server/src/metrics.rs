//! Prometheus metrics, one registry per server instance (so that tests running many
//! servers in one process each see their own numbers).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
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
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(db_statements.clone()))?;
        registry.register(Box::new(db_failed.clone()))?;
        registry.register(Box::new(db_duration.clone()))?;
        Ok(Self(Arc::new(Inner {
            registry,
            http_requests,
            http_duration,
            db_statements,
            db_failed,
            db_duration,
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

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.0.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}
