//! Benchmark: one meeting announcement fanned out to many devices through the real
//! server (the `scheduleMeeting` mutation over HTTP, the push worker, the FCM HTTP v1
//! client) against the local fake FCM.
//!
//! ```sh
//! cargo run --release -p beatline-tests --bin push_bench -- --devices 100000 --db sqlite
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --release -p beatline-tests --bin push_bench -- --devices 100000 --db postgres
//! ```
//!
//! Prints progress every second, then: the latency of the mutation (target under
//! 50 ms: the fan-out happens in the worker, not the request), the end-to-end rate
//! (target at least 5,000 messages per second), and how many devices got the message
//! (every one, no loss; duplicates counted). Exits with status 1 when a device was
//! missed or the run exceeds `--timeout-secs`, and, in a release build, when a target
//! is missed. `RUST_LOG=info` shows the worker's log.

#![expect(clippy::expect_used, reason = "a benchmark fails loudly")]

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use beatline_server::config::Profile;
use beatline_server::push::{PushConfig, PushMode};
use beatline_tests::fake_fcm::FakeFcm;
use beatline_tests::{Backend, DEMO_PASSWORD, TestApp, TestDatabase};
use entity::enums::{DeliveryStatus, DevicePlatform, UserRole};
use entity::{beat, beat_follower, device, notification, notification_fanout, push_delivery, user};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel as _, PaginatorTrait as _,
    QueryFilter, QuerySelect, RelationTrait as _,
};
use serde_json::json;
use uuid::Uuid;

/// Target latency of the triggering mutation.
const MUTATION_TARGET: Duration = Duration::from_millis(50);
/// Target end-to-end rate, messages per second.
const RATE_TARGET: f64 = 5_000.0;
/// The beat the bench residents follow (a demo beat with an officer account).
const BEAT: &str = "1011";
/// The officer who schedules the meeting.
const OFFICER: &str = "officer.1011@demo.beatline.city";
/// The prefix of the bench devices' tokens.
const TOKEN_PREFIX: &str = "bench-token-";

struct Args {
    devices: usize,
    backend: Backend,
    timeout: Duration,
    concurrency: usize,
    batch: u64,
}

const USAGE: &str = "usage: push_bench [--devices N] [--db sqlite|postgres] [--timeout-secs S] \
                     [--concurrency C] [--batch B]\n\
                     (postgres needs TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)";

fn parse_args() -> Result<Args, String> {
    let defaults = PushConfig::default();
    let mut args = Args {
        devices: 100_000,
        backend: Backend::Sqlite,
        timeout: Duration::from_secs(600),
        concurrency: defaults.push_concurrency,
        batch: defaults.push_batch_size,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .replace(['_', ','], "")
                .parse::<u64>()
                .map_err(|_| format!("{flag} {value:?} is not a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--devices" => args.devices = usize::try_from(number()?).unwrap_or(usize::MAX),
            "--db" => {
                args.backend = match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    other => return Err(format!("--db {other:?}: use sqlite or postgres")),
                }
            }
            "--timeout-secs" => args.timeout = Duration::from_secs(number()?),
            "--concurrency" => args.concurrency = usize::try_from(number()?).unwrap_or(256),
            "--batch" => args.batch = number()?,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.devices == 0 {
        return Err("--devices must be at least 1".to_owned());
    }
    if args.backend == Backend::Postgres
        && !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
    {
        return Err(format!("--db postgres needs TEST_DATABASE_URL\n{USAGE}"));
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let fake = FakeFcm::start().await;
    fake.state.record.store(false, Ordering::SeqCst);
    let (database, url) = TestDatabase::create(args.backend).await;
    let outcome = run(&args, &fake, url).await;
    database.drop_now().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            println!("FAILED: {failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, fake: &FakeFcm, url: String) -> Result<(), String> {
    let tag = format!("[{:?}]", args.backend);
    let build = if cfg!(debug_assertions) {
        "debug build: the targets are for a release build"
    } else {
        "release build"
    };
    println!(
        "{tag} {} devices, push concurrency {}, batch {}; {build}",
        args.devices, args.concurrency, args.batch
    );
    let (mut common, mut serve) = beatline_tests::server_config(url.clone());
    common.db_max_connections = 10;
    serve.profile = Profile::Production;
    serve.demo = true;
    serve.push = PushConfig {
        mode: PushMode::Fcm,
        fcm_credentials: Some(fake.credentials.clone()),
        fcm_endpoint: Some(fake.base.clone()),
        push_poll_ms: 100,
        push_concurrency: args.concurrency,
        push_batch_size: args.batch,
        ..PushConfig::default()
    };
    let server = beatline_server::start(&common, &serve, false)
        .await
        .map_err(|e| format!("the server did not start: {e:#}"))?;
    let app = TestApp {
        base: format!("http://{}", server.addr),
        client: reqwest::Client::new(),
        backend: args.backend,
        db: server.db.clone(),
        events: server.events.clone(),
        database_url: url,
    };
    let result = bench(args, fake, &app, &tag).await;
    let _ = server.shutdown().await;
    result
}

async fn bench(args: &Args, fake: &FakeFcm, app: &TestApp, tag: &str) -> Result<(), String> {
    let db = &app.db;
    let devices = args.devices;
    let beat = beat::Entity::find()
        .filter(beat::Column::Code.eq(BEAT))
        .one(db)
        .await
        .expect("beats")
        .ok_or_else(|| format!("the demo city has no beat {BEAT}"))?;
    settle(db, tag).await?;

    let setup = Instant::now();
    insert_residents(db, beat.id, devices).await;
    println!(
        "{tag} set-up: {devices} residents following beat {}, one phone each, in {:.1} s",
        beat.code,
        setup.elapsed().as_secs_f64()
    );

    // Sign in first, so that the mutation's time does not include the connection.
    let officer = app.login(OFFICER, DEMO_PASSWORD).await;
    let starts = chrono::Utc::now() + chrono::TimeDelta::days(7);
    let schedule = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";
    let input = json!({ "i": {
        "beatId": beat.id,
        "title": "Beat 1011 community meeting",
        "startsAt": starts.to_rfc3339(),
        "endsAt": (starts + chrono::TimeDelta::hours(1)).to_rfc3339(),
        "timeZone": "America/Chicago",
        "placeName": "Library",
        "idempotencyKey": Uuid::now_v7().to_string(),
    }});
    let started = Instant::now();
    let body = app.gql_as(Some(&officer), schedule, input).await;
    let mutation = started.elapsed();
    let meeting: Uuid = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("scheduleMeeting failed: {body}"))?;
    println!(
        "{tag} scheduleMeeting answered in {:.1} ms",
        mutation.as_secs_f64() * 1e3
    );

    let mut first_push = None;
    let mut all_reached = None;
    let mut last_report = Instant::now();
    let mut last_distinct = 0_usize;
    let recorded = loop {
        let distinct = fake.state.distinct.load(Ordering::SeqCst);
        if first_push.is_none() && distinct > 0 {
            first_push = Some(started.elapsed());
        }
        if all_reached.is_none() && distinct >= devices {
            all_reached = Some(started.elapsed());
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            let p = progress(db, meeting).await;
            let rate = (distinct - last_distinct) as f64 / last_report.elapsed().as_secs_f64();
            println!(
                "{tag} {:>6.1} s: fan-out {}/{devices} written, {distinct} devices reached ({rate:.0}/s), {} recorded SENT, {} pending",
                started.elapsed().as_secs_f64(),
                p.expanded,
                p.sent,
                p.pending,
            );
            last_report = Instant::now();
            last_distinct = distinct;
        }
        // Done when every device was reached and the worker recorded everything.
        if all_reached.is_some() && distinct >= devices {
            let p = progress(db, meeting).await;
            if p.fanout_done && p.pending == 0 {
                break started.elapsed();
            }
        }
        if started.elapsed() > args.timeout {
            let p = progress(db, meeting).await;
            return Err(format!(
                "{tag} timed out after {} s: {distinct} of {devices} devices reached; the fan-out wrote {} notifications ({}); {} deliveries SENT, {} pending. Run with RUST_LOG=info for the worker's log.",
                args.timeout.as_secs(),
                p.expanded,
                if p.fanout_done { "done" } else { "not done" },
                p.sent,
                p.pending,
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Exact accounting per bench device.
    let (reached, duplicates, extra) = {
        let accepted = fake
            .state
            .accepted
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut reached = 0_usize;
        let mut duplicates = 0_u64;
        let mut extra = 0_u64;
        for (token, count) in accepted.iter() {
            if token.starts_with(TOKEN_PREFIX) {
                reached += 1;
                duplicates += u64::from(count.saturating_sub(1));
            } else {
                extra += u64::from(*count);
            }
        }
        (reached, duplicates, extra)
    };
    let lost = devices.saturating_sub(reached);
    let p = progress(db, meeting).await;
    let reached_at = all_reached.unwrap_or(recorded);
    let first = first_push.unwrap_or(reached_at);
    let rate = devices as f64 / reached_at.as_secs_f64();
    println!("{tag} ---");
    println!(
        "{tag} mutation (scheduleMeeting, over HTTP): {:.1} ms (target < {} ms)",
        mutation.as_secs_f64() * 1e3,
        MUTATION_TARGET.as_millis()
    );
    println!(
        "{tag} first push {:.0} ms after the mutation started",
        first.as_secs_f64() * 1e3
    );
    println!(
        "{tag} all {devices} devices reached after {:.2} s: {rate:.0} messages/s end to end (target >= {RATE_TARGET:.0}); {:.0} messages/s after the first push",
        reached_at.as_secs_f64(),
        devices as f64 / (reached_at - first).as_secs_f64().max(1e-3)
    );
    println!(
        "{tag} all deliveries recorded after {:.2} s: {} SENT, {} DEAD, {} DISABLED, {} pending",
        recorded.as_secs_f64(),
        p.sent,
        p.dead,
        p.disabled,
        p.pending
    );
    let attempted_again = push_delivery::Entity::find()
        .join(
            sea_orm::JoinType::InnerJoin,
            push_delivery::Relation::Notification.def(),
        )
        .filter(notification::Column::MeetingId.eq(meeting))
        .filter(push_delivery::Column::Attempts.gt(1))
        .count(db)
        .await
        .expect("count retried deliveries");
    println!(
        "{tag} delivered {reached} of {devices}, lost {lost}, duplicates {duplicates}; {attempted_again} deliveries took more than one attempt; {extra} messages to other (demo) devices"
    );
    let mut failures = Vec::new();
    if lost > 0 {
        failures.push(format!("{lost} devices never got the announcement"));
    }
    if duplicates > 0 {
        failures.push(format!(
            "{duplicates} duplicates without any crash (expected none)"
        ));
    }
    if !cfg!(debug_assertions) {
        if mutation >= MUTATION_TARGET {
            failures.push(format!(
                "the mutation took {:.1} ms",
                mutation.as_secs_f64() * 1e3
            ));
        }
        if rate < RATE_TARGET {
            failures.push(format!("{rate:.0} messages/s is under the target"));
        }
    }
    if failures.is_empty() {
        println!("{tag} OK");
        Ok(())
    } else {
        Err(format!("{tag} {}", failures.join("; ")))
    }
}

/// Waits until the demo city's own notifications (meeting reminders) are out, so that
/// the bench measures its announcement alone.
async fn settle(db: &DatabaseConnection, tag: &str) -> Result<(), String> {
    let since = Instant::now();
    loop {
        let fanouts = notification_fanout::Entity::find()
            .filter(notification_fanout::Column::DoneAt.is_null())
            .count(db)
            .await
            .expect("count fan-outs");
        let due = push_delivery::Entity::find()
            .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
            .filter(push_delivery::Column::NextAttemptAt.lte(graphql_schema::domain::now()))
            .count(db)
            .await
            .expect("count deliveries");
        if fanouts == 0 && due == 0 {
            return Ok(());
        }
        if since.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "{tag} the demo city's notifications did not settle in 60 s ({fanouts} fan-outs, {due} deliveries due)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Residents following the beat, one Android phone each, straight in the database.
async fn insert_residents(db: &DatabaseConnection, beat_id: Uuid, devices: usize) {
    let at = graphql_schema::domain::now();
    let ids: Vec<Uuid> = (0..devices).map(|_| Uuid::now_v7()).collect();
    for chunk in ids.chunks(1_000) {
        let users = chunk.iter().enumerate().map(|(i, id)| {
            user::Model {
                id: *id,
                role: UserRole::Resident,
                display_name: format!("Bench {i}"),
                email: Some(format!("bench-{id}@example.org")),
                phone: None,
                password_hash: None,
                locale: if i % 3 == 0 { "es".into() } else { "en".into() },
                time_zone: "America/Chicago".into(),
                home_neighborhood_id: None,
                created_at: at,
                updated_at: at,
                deleted_at: None,
            }
            .into_active_model()
        });
        user::Entity::insert_many(users)
            .exec_without_returning(db)
            .await
            .expect("users");
        let devs = chunk.iter().map(|id| {
            device::Model {
                id: Uuid::now_v7(),
                user_id: *id,
                token: format!("{TOKEN_PREFIX}{}", id.simple()),
                platform: DevicePlatform::Android,
                locale: "en".into(),
                app_version: None,
                disabled_at: None,
                disabled_reason: None,
                last_seen_at: at,
                created_at: at,
                updated_at: at,
            }
            .into_active_model()
        });
        device::Entity::insert_many(devs)
            .exec_without_returning(db)
            .await
            .expect("devices");
        let follows = chunk.iter().map(|id| {
            beat_follower::Model {
                beat_id,
                user_id: *id,
                created_at: at,
            }
            .into_active_model()
        });
        beat_follower::Entity::insert_many(follows)
            .exec_without_returning(db)
            .await
            .expect("followers");
    }
}

/// Where the announcement of one meeting stands, from the database.
#[derive(Debug, Default)]
struct Progress {
    expanded: i64,
    fanout_done: bool,
    sent: i64,
    pending: i64,
    dead: i64,
    disabled: i64,
}

async fn progress(db: &DatabaseConnection, meeting: Uuid) -> Progress {
    let fanouts = notification_fanout::Entity::find()
        .filter(notification_fanout::Column::MeetingId.eq(meeting))
        .all(db)
        .await
        .expect("fan-outs");
    let inline = notification::Entity::find()
        .filter(notification::Column::MeetingId.eq(meeting))
        .count(db)
        .await
        .expect("notifications");
    let mut p = Progress {
        // Small audiences are written inline, without a fan-out.
        expanded: if fanouts.is_empty() {
            i64::try_from(inline).unwrap_or(i64::MAX)
        } else {
            fanouts.iter().map(|f| i64::from(f.expanded)).sum()
        },
        fanout_done: fanouts.iter().all(|f| f.done_at.is_some()),
        ..Progress::default()
    };
    let by_status: Vec<(DeliveryStatus, i64)> = push_delivery::Entity::find()
        .select_only()
        .column(push_delivery::Column::Status)
        .column_as(
            Expr::col((push_delivery::Entity, push_delivery::Column::Id)).count(),
            "n",
        )
        .join(
            sea_orm::JoinType::InnerJoin,
            push_delivery::Relation::Notification.def(),
        )
        .filter(notification::Column::MeetingId.eq(meeting))
        .group_by(push_delivery::Column::Status)
        .into_tuple()
        .all(db)
        .await
        .expect("deliveries by status");
    for (status, n) in by_status {
        match status {
            DeliveryStatus::Pending => p.pending = n,
            DeliveryStatus::Sent => p.sent = n,
            DeliveryStatus::Dead => p.dead = n,
            DeliveryStatus::Disabled => p.disabled = n,
        }
    }
    p
}
