//! Benchmark of the live and analytics features at scale. Not a test: run it in a
//! release build, e.g.
//!
//! ```sh
//! cargo run --release -p beatline-tests --bin live-bench -- --backend sqlite --count 1000000
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p beatline-tests --bin live-bench -- --backend postgres --count 1000000
//! ```
//!
//! It starts the real server on a fresh database with the demo city, bulk-inserts
//! `--count` problems (copies of the demo's problems spread over a year), then
//! measures over HTTP and WebSocket:
//! 1. the captain's dashboard for one precinct (30-day window): p50/p95/max;
//! 2. one change reaching `--subscribers` WebSocket subscribers of one server: p50/p99/max;
//! 3. the staff CSV export of every problem: time, rows, and the growth of the
//!    process's anonymous resident memory (RssAnon) while it streams.
//!
//! `--dashboard-only` skips 2 and 3; `--keep` keeps the database and prints its URL
//! (to inspect query plans afterwards).

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a benchmark binary fails loudly"
)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use beatline_tests::live::LiveClient;
use beatline_tests::{Backend, Options, TestApp, spawn};
use chrono::Utc;
use entity::enums::ProblemStatus;
use entity::{precinct, problem};
use graphql_schema::domain::events::DomainEvent;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, TransactionTrait as _,
};
use serde_json::json;
use tokio::sync::mpsc;

/// The allocator of the `beatline` binary, so the embedded server runs as in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    backend: Backend,
    count: u64,
    subscribers: usize,
    runs: usize,
    keep: bool,
    dashboard_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        backend: Backend::Sqlite,
        count: 1_000_000,
        subscribers: 1000,
        runs: 40,
        keep: false,
        dashboard_only: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--backend" => {
                a.backend = match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    other => panic!("--backend sqlite|postgres, not {other}"),
                }
            }
            "--count" => a.count = value.parse().expect("--count N"),
            "--subscribers" => a.subscribers = value.parse().expect("--subscribers N"),
            "--runs" => a.runs = value.parse().expect("--runs N"),
            "--dashboard-only" => {
                a.dashboard_only = true;
                i += 1;
                continue;
            }
            "--keep" => {
                a.keep = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// A small deterministic generator (no dependency needed for spreading test data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound.max(1)
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                // Anonymous memory only: SQLite's memory map of the database file is
                // page cache shared with the kernel, not memory the process holds.
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn seed(app: &TestApp, count: u64) {
    let templates = problem::Entity::find().all(&app.db).await.unwrap();
    let now = Utc::now();
    let mut rng = Lcg(42);
    let started = Instant::now();
    let mut inserted = 0_u64;
    while inserted < count {
        let txn = app.db.begin().await.unwrap();
        for _ in 0..50 {
            let batch = 1000.min(count - inserted);
            if batch == 0 {
                break;
            }
            let rows: Vec<_> = (0..batch)
                .map(|k| {
                    let t = &templates[rng.next(templates.len() as u64) as usize];
                    let age_min = rng.next(365 * 24 * 60) as i64 + 30;
                    let created_at = now - chrono::Duration::minutes(age_min);
                    let status = match rng.next(100) {
                        0..8 => ProblemStatus::New,
                        8..12 => ProblemStatus::Acknowledged,
                        12..18 => ProblemStatus::InProgress,
                        18..60 => ProblemStatus::Resolved,
                        60..94 => ProblemStatus::Closed,
                        94..97 => ProblemStatus::Duplicate,
                        _ => ProblemStatus::NotActionable,
                    };
                    let ack = (status != ProblemStatus::New).then(|| {
                        created_at
                            + chrono::Duration::minutes(
                                (rng.next(48 * 60) as i64 + 5).min(age_min - 1),
                            )
                    });
                    let resolved =
                        matches!(status, ProblemStatus::Resolved | ProblemStatus::Closed).then(
                            || {
                                (ack.unwrap_or(created_at)
                                    + chrono::Duration::minutes(rng.next(20 * 24 * 60) as i64 + 30))
                                .min(now)
                            },
                        );
                    let mut p = t.clone();
                    p.id = uuid::Uuid::now_v7();
                    p.reference = format!("BENCH-{}", inserted + k);
                    p.status = status;
                    p.created_at = created_at;
                    p.updated_at = resolved.or(ack).unwrap_or(created_at);
                    p.acknowledged_at = ack;
                    p.resolved_at = resolved;
                    p.closed_at = (status == ProblemStatus::Closed).then_some(p.updated_at);
                    p.due_at = t.due_at.map(|d| created_at + (d - t.created_at));
                    p.support_count = rng.next(40) as i32;
                    p.into_active_model()
                })
                .collect();
            problem::Entity::insert_many(rows).exec(&txn).await.unwrap();
            inserted += batch;
        }
        txn.commit().await.unwrap();
        if inserted.is_multiple_of(100_000) || inserted == count {
            eprintln!("  seeded {inserted} problems in {:.0?}", started.elapsed());
        }
    }
    // Fresh statistics and visibility map, as autovacuum leaves a production database
    // (PostgreSQL's index-only scans need the latter).
    let analyze = match app.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    app.db.execute_unprepared(analyze).await.unwrap();
}

async fn bench_dashboard(app: &TestApp, runs: usize, label: &str) {
    let captain = app.demo_login("captain.west@demo.beatline.city").await;
    let p1 = precinct::Entity::find()
        .filter(precinct::Column::Code.eq("P1"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let query = "query($p: ID!, $from: DateTime!, $to: DateTime!) { dashboard(precinctId: $p, from: $from, to: $to) {
        openTotal overdueTotal openProblems { beatCode status count overdue } ageing { label count }
        responseTimes { toAcknowledge { count medianHours p90Hours } toResolve { count medianHours p90Hours } }
        responseTimesByBeat { name toResolve { medianHours p90Hours } }
        responseTimesByOfficer { name toResolve { medianHours p90Hours } }
        responseTimesByCategory { name toResolve { medianHours p90Hours } }
        satisfaction { count average } meetings { beatCode held residents }
        mostSupported { reference supportCount category { name } } } }";
    for days in [30, 365] {
        let now = Utc::now();
        let vars = json!({ "p": p1.to_string(),
            "from": (now - chrono::Duration::days(days)).to_rfc3339(), "to": now.to_rfc3339() });
        let mut times = Vec::new();
        let mut last = json!(null);
        for run in 0..runs + 3 {
            let started = Instant::now();
            last = app.data_as(Some(&captain), query, vars.clone()).await;
            if run >= 3 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        println!(
            "dashboard [{:?}, {label}] window {days} d: p50 {:.1?} p95 {:.1?} max {:.1?} over {} runs (open {}, resolved in window {})",
            app.backend,
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or_default(),
            times.len(),
            last["dashboard"]["openTotal"],
            last["dashboard"]["responseTimes"]["toResolve"]["count"],
        );
    }
}

async fn bench_fan_out(app: &TestApp, subscribers: usize) {
    let row = problem::Entity::find()
        .filter(problem::Column::Reference.eq("BENCH-0"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("seeded problem");
    let token = app.demo_login("resident1@demo.beatline.city").await;
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let opened = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..subscribers {
        let base = app.base.clone();
        let token = token.clone();
        let tx = tx.clone();
        let id = row.id.to_string();
        tasks.push(tokio::spawn(async move {
            let mut client = LiveClient::connect(&base, Some(&token)).await;
            client
                .subscribe(
                    "subscription($id: ID!) { problemUpdated(id: $id) { id status updatedAt } }",
                    json!({ "id": id }),
                )
                .await;
            while let Some(msg) = client.next_message(Duration::from_secs(3600)).await {
                if msg["type"] == "next" && tx.send((i, Instant::now())).is_err() {
                    break;
                }
            }
        }));
    }
    let event = DomainEvent::ProblemChanged {
        problem_id: row.id,
        beat_id: row.beat_id,
        created: false,
    };
    // Warm up until every subscription listens.
    let mut ready = HashSet::new();
    while ready.len() < subscribers {
        app.events.publish(event.clone());
        let until = Instant::now() + Duration::from_millis(500);
        while let Ok(Some((i, _))) = tokio::time::timeout_at(until.into(), rx.recv()).await {
            ready.insert(i);
        }
    }
    eprintln!(
        "  {subscribers} subscribers listening after {:.1?}",
        opened.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    while rx.try_recv().is_ok() {}
    let mut latencies = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        app.events.publish(event.clone());
        let mut got = 0;
        while got < subscribers {
            let (_, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("a subscriber missed the change")
                .unwrap();
            latencies.push(at - started);
            got += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    latencies.sort();
    println!(
        "fan-out [{:?}] one change to {subscribers} WebSocket subscribers, 10 rounds: p50 {:.1?} p99 {:.1?} max {:.1?}",
        app.backend,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    for t in tasks {
        t.abort();
    }
}

async fn bench_export(app: &TestApp) {
    let admin = app.demo_login("admin@demo.beatline.city").await;
    for path in ["/export/problems.csv", "/open-data/problems.geojson"] {
        let before = rss_kib();
        let peak = Arc::new(AtomicU64::new(before));
        let sampler = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let started = Instant::now();
        let resp = app
            .client
            .get(format!("{}{path}?from=2000-01-01&to=2100-01-01", app.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut resp = resp;
        let (mut bytes, mut lines) = (0_u64, 0_u64);
        while let Some(chunk) = resp.chunk().await.unwrap() {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        sampler.abort();
        println!(
            "export [{:?}] {path}: {lines} lines, {:.0} MiB in {:.1?}; anonymous resident memory {} MiB before, peak {} MiB while streaming",
            app.backend,
            bytes as f64 / 1_048_576.0,
            started.elapsed(),
            before / 1024,
            peak.load(Ordering::Relaxed) / 1024
        );
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let (server, database) = spawn(args.backend, Options::default()).await;
    let app = TestApp {
        base: format!("http://{}", server.addr),
        client: reqwest::Client::new(),
        backend: args.backend,
        db: server.db.clone(),
        events: server.events.clone(),
        database_url: String::new(),
    };
    eprintln!("seeding {} problems on {:?}...", args.count, args.backend);
    seed(&app, args.count).await;
    bench_dashboard(&app, args.runs, "server that seeded").await;
    // A real deployment loads data with `seed-problems` or over months, not through the
    // running server's pool in one burst: measure again on a server started over the
    // loaded database (the same file or PostgreSQL database).
    let url = match &database {
        beatline_tests::TestDatabase::Sqlite(path) => {
            let wal = std::fs::metadata(format!("{}-wal", path.display()))
                .map(|m| m.len())
                .unwrap_or(0);
            eprintln!("SQLite WAL after the bulk load: {} MiB", wal >> 20);
            format!("sqlite://{}", path.display())
        }
        beatline_tests::TestDatabase::Postgres { name, .. } => {
            let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
            let base = admin.split('?').next().unwrap_or(&admin).to_owned();
            match base.rfind('/') {
                Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
                _ => format!("{base}/{name}"),
            }
        }
    };
    let seeded_app = TestApp {
        base: app.base.clone(),
        client: app.client.clone(),
        backend: app.backend,
        db: app.db.clone(),
        events: app.events.clone(),
        database_url: url,
    };
    let fresh = beatline_tests::spawn_replica(&seeded_app).await;
    let fresh_app = TestApp {
        base: format!("http://{}", fresh.addr),
        db: fresh.db.clone(),
        events: fresh.events.clone(),
        ..seeded_app
    };
    bench_dashboard(&fresh_app, args.runs, "fresh server").await;
    let _ = fresh.shutdown().await;
    if !args.dashboard_only {
        bench_fan_out(&app, args.subscribers).await;
        bench_export(&app).await;
    }
    let _ = server.shutdown().await;
    if args.keep {
        match &database {
            beatline_tests::TestDatabase::Sqlite(path) => {
                eprintln!("kept the database: sqlite://{}", path.display())
            }
            beatline_tests::TestDatabase::Postgres { name, .. } => {
                eprintln!("kept the database: {name}")
            }
        }
    } else {
        database.drop_now().await;
    }
}
