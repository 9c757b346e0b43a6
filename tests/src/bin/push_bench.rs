//! Benchmark: one meeting announcement fanned out to many devices through the real
//! server's push worker and FCM client, against the local fake FCM.
//!
//! ```sh
//! cargo run --release -p beatline-tests --bin push_bench -- 100000 sqlite
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --release -p beatline-tests --bin push_bench -- 100000 postgres
//! ```
//!
//! Prints the time of the transaction that announces the meeting (what a mutation adds
//! to its own work), and the rate at which pushes reach the fake.

#![expect(clippy::expect_used, reason = "a benchmark fails loudly")]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use beatline_server::config::{CommonConfig, LogFormat, Profile, ServeConfig};
use beatline_server::push::{PushConfig, PushMode};
use beatline_tests::fake_fcm::FakeFcm;
use beatline_tests::{Backend, TEST_JWT_SECRET, TestDatabase};
use entity::enums::{DeliveryStatus, DevicePlatform, UserRole};
use entity::{beat, beat_follower, device, push_delivery, user};
use graphql_schema::domain::notify::{self, Audience, Notice, NoticeKind};
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel as _, PaginatorTrait as _, QueryFilter,
    TransactionTrait as _,
};
use uuid::Uuid;

#[tokio::main]
async fn main() {
    let devices: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let backend = match std::env::args().nth(2).as_deref() {
        Some("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let fake = FakeFcm::start().await;
    fake.state.record.store(false, Ordering::SeqCst);
    let (database, url) = TestDatabase::create(backend).await;
    let common = CommonConfig {
        database_url: url,
        db_max_connections: 10,
        log: "warn".into(),
        log_format: LogFormat::Pretty,
    };
    let serve = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        profile: Profile::Production,
        graphiql: None,
        introspection: None,
        demo: true,
        jwt_secret: Some(TEST_JWT_SECRET.parse().expect("secret")),
        photo_dir: None,
        push: PushConfig {
            mode: PushMode::Fcm,
            fcm_credentials: Some(fake.credentials.clone()),
            fcm_endpoint: Some(fake.base.clone()),
            push_poll_ms: 100,
            ..PushConfig::default()
        },
        sessions: beatline_server::config::SessionConfig::default(),
    };
    let server = beatline_server::start(&common, &serve, false)
        .await
        .expect("server start");
    let db = server.db.clone();
    let beat = beat::Entity::find()
        .one(&db)
        .await
        .expect("beats")
        .expect("a beat");

    let setup = Instant::now();
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
            .exec_without_returning(&db)
            .await
            .expect("users");
        let devs = chunk.iter().map(|id| {
            device::Model {
                id: Uuid::now_v7(),
                user_id: *id,
                token: format!("bench-token-{}", id.simple()),
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
            .exec_without_returning(&db)
            .await
            .expect("devices");
        let follows = chunk.iter().map(|id| {
            beat_follower::Model {
                beat_id: beat.id,
                user_id: *id,
                created_at: at,
            }
            .into_active_model()
        });
        beat_follower::Entity::insert_many(follows)
            .exec_without_returning(&db)
            .await
            .expect("followers");
    }
    println!(
        "[{backend:?}] set-up: {devices} residents following beat {}, one phone each, in {:.1} s",
        beat.code,
        setup.elapsed().as_secs_f64()
    );
    let before = fake.state.sends.load(Ordering::SeqCst);

    // What the meeting mutation adds to its transaction: one fan-out row.
    let started = Instant::now();
    let txn = db.begin().await.expect("begin");
    notify::enqueue_audience(
        &txn,
        Notice {
            kind: NoticeKind::MeetingScheduled,
            recipients: Vec::new(),
            actor: None,
            problem_id: None,
            meeting_id: None,
            params: serde_json::json!({ "title": "Beat 1011 community meeting", "when": "Thu 18:30, Library" }),
        },
        Audience::BeatFollowers(beat.id),
    )
    .await
    .expect("enqueue");
    txn.commit().await.expect("commit");
    let enqueue = started.elapsed();

    let mut first_push = None;
    loop {
        let sent = fake.state.sends.load(Ordering::SeqCst) - before;
        if first_push.is_none() && sent > 0 {
            first_push = Some(started.elapsed());
        }
        if sent >= devices {
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            println!("gave up after 15 minutes with {sent} pushes");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    // Wait for the last batch to be recorded.
    loop {
        let pending = push_delivery::Entity::find()
            .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
            .count(&db)
            .await
            .expect("count");
        if pending == 0 || started.elapsed() > Duration::from_secs(960) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recorded = started.elapsed();
    let sent_rows = push_delivery::Entity::find()
        .filter(push_delivery::Column::Status.eq(DeliveryStatus::Sent))
        .count(&db)
        .await
        .expect("count");
    let sends = fake.state.sends.load(Ordering::SeqCst) - before;
    let first = first_push.unwrap_or(total);
    println!(
        "[{backend:?}] announcement transaction: {:.1} ms",
        enqueue.as_secs_f64() * 1e3
    );
    println!(
        "[{backend:?}] first push after {:.0} ms",
        first.as_secs_f64() * 1e3
    );
    println!(
        "[{backend:?}] {sends} pushes in {:.2} s: {:.0} messages/s overall (fan-out, sending and recording), {:.0} messages/s after the first push",
        total.as_secs_f64(),
        sends as f64 / total.as_secs_f64(),
        sends as f64 / (total - first).as_secs_f64().max(1e-3)
    );
    println!(
        "[{backend:?}] all {sent_rows} deliveries recorded SENT after {:.2} s; {} extra sends (duplicates)",
        recorded.as_secs_f64(),
        sends.saturating_sub(devices)
    );
    let _ = server.shutdown().await;
    database.drop_now().await;
}
