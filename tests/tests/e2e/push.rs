//! Push notifications: devices, the inbox, preferences, and delivery through the real
//! FCM HTTP v1 client against a fake FCM and OAuth server on loopback.

#![expect(clippy::panic, clippy::expect_used, reason = "tests fail loudly")]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use beatline_server::RunningServer;
use beatline_server::push::{PushConfig, PushMode};
use beatline_tests::fake_fcm::{FakeFcm, Reply};
use beatline_tests::{
    Backend, Options, TestApp, TestDatabase, each_backend, error_code, error_message, server_config,
};
use entity::enums::DeliveryStatus;
use entity::{beat, beat_follower, device, notification, problem, push_delivery};
use futures::FutureExt as _;
use graphql_schema::domain::notify::{self, Audience, Notice, NoticeKind};
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel as _, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

const STRONG: &str = "lantern orbit pickle harbor";
const REGISTER: &str =
    "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }";
const REGISTER_DEVICE: &str = "mutation($t: String!, $p: DevicePlatform!, $l: String, $v: String) { registerDevice(token: $t, platform: $p, locale: $l, appVersion: $v) { id platform locale appVersion disabled disabledReason } }";
const MY_DEVICES: &str = "{ myDevices { id platform disabled disabledReason } }";
const INBOX: &str = "query($f: Int, $a: String, $u: Boolean) { notifications(first: $f, after: $a, unreadOnly: $u) { edges { cursor node { id kind title body read problemId data } } pageInfo { hasNextPage endCursor } } unreadCount }";

/// A signed-in user made through the API.
struct User {
    token: String,
    id: Uuid,
}

async fn resident(app: &TestApp, email: &str, locale: &str) -> User {
    let data = app
        .data(
            REGISTER,
            json!({ "i": { "email": email, "password": STRONG, "displayName": "R", "locale": locale, "timeZone": "America/Chicago" } }),
        )
        .await;
    User {
        token: data["register"]["accessToken"].as_str().unwrap().to_owned(),
        id: data["register"]["user"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    }
}

async fn register_device(app: &TestApp, user: &User, token: &str, platform: &str) -> Value {
    app.data_as(
        Some(&user.token),
        REGISTER_DEVICE,
        json!({ "t": token, "p": platform }),
    )
    .await["registerDevice"]
        .clone()
}

async fn any_problem(app: &TestApp) -> problem::Model {
    problem::Entity::find()
        .order_by_asc(problem::Column::CreatedAt)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the demo city has problems")
}

/// What a service does when a problem changes: the notice in the change's transaction.
async fn status_changed(
    app: &TestApp,
    problem: &problem::Model,
    recipients: Vec<Uuid>,
    actor: Option<Uuid>,
) {
    let txn = app.db.begin().await.unwrap();
    notify::enqueue(
        &txn,
        Notice {
            kind: NoticeKind::ProblemStatusChanged,
            recipients,
            actor,
            problem_id: Some(problem.id),
            meeting_id: None,
            params: json!({ "reference": problem.reference, "status": "RESOLVED", "title": problem.title }),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

async fn deliveries(app: &TestApp) -> Vec<push_delivery::Model> {
    push_delivery::Entity::find().all(&app.db).await.unwrap()
}

/// Waits until `check` holds, up to `timeout`.
async fn eventually<F, Fut>(timeout: Duration, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        if start.elapsed() > timeout {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The deliveries of notifications of one kind (the demo city's own meeting reminders
/// may run alongside a test).
async fn deliveries_of(app: &TestApp, kind: NoticeKind) -> Vec<push_delivery::Model> {
    push_delivery::Entity::find()
        .inner_join(notification::Entity)
        .filter(notification::Column::Kind.eq(kind.as_str()))
        .all(&app.db)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------
// Devices, inbox and preferences (log provider).

#[tokio::test]
async fn devices_move_between_users_and_are_checked() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            let ana = resident(&app, "ana@example.org", "es").await;
            let ben = resident(&app, "ben@example.org", "en").await;

            let first = register_device(&app, &ana, "tok-ana-1", "ANDROID").await;
            assert_eq!(first["locale"], "es", "the account's language by default");
            let again = app
                .data_as(
                    Some(&ana.token),
                    REGISTER_DEVICE,
                    json!({ "t": "tok-ana-1", "p": "ANDROID", "l": "en-US", "v": "2.3.1" }),
                )
                .await["registerDevice"]
                .clone();
            assert_eq!(
                again["id"], first["id"],
                "the same token is the same device"
            );
            assert_eq!(again["locale"], "en-US");
            assert_eq!(again["appVersion"], "2.3.1");
            register_device(&app, &ana, "tok-ana-2", "IOS").await;
            let mine = app.data_as(Some(&ana.token), MY_DEVICES, json!({})).await;
            assert_eq!(mine["myDevices"].as_array().unwrap().len(), 2, "{mine}");

            // A token registered by someone else moves to them.
            let moved = register_device(&app, &ben, "tok-ana-2", "IOS").await;
            let ana_devices = app.data_as(Some(&ana.token), MY_DEVICES, json!({})).await;
            assert_eq!(ana_devices["myDevices"].as_array().unwrap().len(), 1);
            let ben_devices = app.data_as(Some(&ben.token), MY_DEVICES, json!({})).await;
            assert_eq!(ben_devices["myDevices"][0]["id"], moved["id"]);

            // Unregistering someone else's token does nothing; one's own removes it.
            let unreg = "mutation($t: String!) { unregisterDevice(token: $t) }";
            let other = app
                .data_as(Some(&ana.token), unreg, json!({ "t": "tok-ana-2" }))
                .await;
            assert_eq!(other["unregisterDevice"], false);
            let own = app
                .data_as(Some(&ben.token), unreg, json!({ "t": "tok-ana-2" }))
                .await;
            assert_eq!(own["unregisterDevice"], true);
            assert!(
                app.data_as(Some(&ben.token), MY_DEVICES, json!({})).await["myDevices"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            );

            // Bad input.
            let cases = [
                (json!({ "t": "   ", "p": "WEB" }), "empty"),
                (json!({ "t": "has space", "p": "WEB" }), "spaces"),
                (json!({ "t": "x".repeat(5000), "p": "WEB" }), "at most"),
                (
                    json!({ "t": "ok", "p": "WEB", "l": "en US!" }),
                    "language tag",
                ),
                (json!({ "t": "ok", "p": "WEB", "v": "" }), "appVersion"),
            ];
            for (vars, words) in cases {
                let body = app.gql_as(Some(&ana.token), REGISTER_DEVICE, vars).await;
                assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
                assert!(error_message(&body).contains(words), "{words}: {body}");
            }
            let body = app
                .gql(REGISTER_DEVICE, json!({ "t": "tok", "p": "WEB" }))
                .await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
            assert!(error_message(&body).contains("sign in"), "{body}");
            let body = app
                .gql_as(
                    Some(&ana.token),
                    REGISTER_DEVICE,
                    json!({ "t": "tok", "p": "BLACKBERRY" }),
                )
                .await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        },
    )
    .await;
}

#[tokio::test]
async fn inbox_pages_counts_and_marks_read() {
    each_backend(Options::default(), |app| async move {
        let ana = resident(&app, "ana@example.org", "es").await;
        let ben = resident(&app, "ben@example.org", "en").await;
        let problem = any_problem(&app).await;
        for _ in 0..3 {
            status_changed(&app, &problem, vec![ana.id, ben.id], Some(ben.id)).await;
        }
        let page = app
            .data_as(Some(&ana.token), INBOX, json!({ "f": 2 }))
            .await;
        let edges = page["notifications"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 2);
        assert_eq!(page["unreadCount"], 3);
        assert_eq!(page["notifications"]["pageInfo"]["hasNextPage"], true);
        let node = &edges[0]["node"];
        assert_eq!(node["kind"], "PROBLEM_STATUS_CHANGED");
        assert!(
            node["title"]
                .as_str()
                .unwrap()
                .ends_with("ahora está resuelto"),
            "Spanish for ana: {node}"
        );
        assert_eq!(node["problemId"], problem.id.to_string());
        let after = page["notifications"]["pageInfo"]["endCursor"].clone();
        let rest = app
            .data_as(Some(&ana.token), INBOX, json!({ "f": 2, "a": after }))
            .await;
        let rest_edges = rest["notifications"]["edges"].as_array().unwrap();
        assert_eq!(rest_edges.len(), 1);
        assert_eq!(rest["notifications"]["pageInfo"]["hasNextPage"], false);
        assert_ne!(rest_edges[0]["node"]["id"], edges[1]["node"]["id"]);
        // The actor (ben) got nothing.
        let bens = app.data_as(Some(&ben.token), INBOX, json!({})).await;
        assert_eq!(bens["unreadCount"], 0);

        let mark =
            "mutation($ids: [ID!], $all: Boolean) { markNotificationsRead(ids: $ids, all: $all) }";
        let one = edges[0]["node"]["id"].clone();
        let marked = app
            .data_as(Some(&ana.token), mark, json!({ "ids": [one] }))
            .await;
        assert_eq!(marked["markNotificationsRead"], 1);
        // Someone else's ids are ignored.
        let marked = app
            .data_as(
                Some(&ben.token),
                mark,
                json!({ "ids": [edges[1]["node"]["id"]] }),
            )
            .await;
        assert_eq!(marked["markNotificationsRead"], 0);
        let unread = app
            .data_as(Some(&ana.token), INBOX, json!({ "u": true }))
            .await;
        assert_eq!(unread["unreadCount"], 2);
        assert_eq!(
            unread["notifications"]["edges"].as_array().unwrap().len(),
            2
        );
        let all = app
            .data_as(Some(&ana.token), mark, json!({ "all": true }))
            .await;
        assert_eq!(all["markNotificationsRead"], 2);
        assert_eq!(
            app.data_as(Some(&ana.token), "{ unreadCount }", json!({}))
                .await["unreadCount"],
            0
        );

        // Bad input.
        let body = app.gql_as(Some(&ana.token), mark, json!({})).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("say which"), "{body}");
        let body = app
            .gql_as(Some(&ana.token), mark, json!({ "ids": [one], "all": true }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("not both"), "{body}");
        let body = app
            .gql_as(Some(&ana.token), mark, json!({ "ids": ["nope"] }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            error_message(&body).contains("not a valid notification id"),
            "{body}"
        );
        let body = app
            .gql_as(Some(&ana.token), INBOX, json!({ "a": "garbage" }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("cursor"), "{body}");
        let body = app
            .gql_as(Some(&ana.token), INBOX, json!({ "f": 101 }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        let body = app.gql("{ unreadCount }", json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    })
    .await;
}

#[tokio::test]
async fn preferences_are_saved_and_checked() {
    each_backend(Options { demo: false, ..Options::default() }, |app| async move {
        let ana = resident(&app, "ana@example.org", "en").await;
        let read = "{ notificationPreferences { disabledKinds quietHoursStart quietHoursEnd } }";
        let update = "mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { disabledKinds quietHoursStart quietHoursEnd } }";
        let empty = app.data_as(Some(&ana.token), read, json!({})).await;
        assert_eq!(empty["notificationPreferences"], json!({ "disabledKinds": [], "quietHoursStart": null, "quietHoursEnd": null }));
        let saved = app
            .data_as(Some(&ana.token), update, json!({ "i": { "disabledKinds": ["PROBLEM_COMMENT", "MEETING_REMINDER"], "quietHoursStart": "22:00", "quietHoursEnd": "7:00" } }))
            .await;
        let expected = json!({ "disabledKinds": ["MEETING_REMINDER", "PROBLEM_COMMENT"], "quietHoursStart": "22:00", "quietHoursEnd": "07:00" });
        assert_eq!(saved["updateNotificationPreferences"], expected);
        assert_eq!(app.data_as(Some(&ana.token), read, json!({})).await["notificationPreferences"], expected);
        // Replacing clears what is not given.
        let cleared = app.data_as(Some(&ana.token), update, json!({ "i": { "disabledKinds": [] } })).await;
        assert_eq!(cleared["updateNotificationPreferences"]["quietHoursStart"], Value::Null);

        let cases = [
            (json!({ "disabledKinds": [], "quietHoursStart": "22:00" }), "both a start and an end"),
            (json!({ "disabledKinds": [], "quietHoursStart": "25:00", "quietHoursEnd": "07:00" }), "not a time"),
            (json!({ "disabledKinds": [], "quietHoursStart": "07:00", "quietHoursEnd": "07:00" }), "same time"),
        ];
        for (input, words) in cases {
            let body = app.gql_as(Some(&ana.token), update, json!({ "i": input })).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains(words), "{words}: {body}");
        }
        let body = app.gql_as(Some(&ana.token), update, json!({ "i": { "disabledKinds": ["NOPE"] } })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Delivery through FCM HTTP v1, against the fake.

/// Delivery tuning for tests: quick polls and retries.
#[derive(Clone, Copy)]
struct Tuning {
    concurrency: usize,
    batch: u64,
    lease_secs: u64,
    retry_base_ms: u64,
    window_secs: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            concurrency: 32,
            batch: 100,
            lease_secs: 2,
            retry_base_ms: 100,
            window_secs: 60,
        }
    }
}

async fn start_server(
    url: &str,
    fake: &FakeFcm,
    tuning: Tuning,
    backend: Backend,
) -> RunningServer {
    let (common, mut serve) = server_config(url);
    serve.demo = true;
    serve.push = PushConfig {
        mode: PushMode::Fcm,
        fcm_credentials: Some(fake.credentials.clone()),
        fcm_endpoint: Some(fake.base.clone()),
        push_concurrency: tuning.concurrency,
        push_batch_size: tuning.batch,
        push_lease_secs: tuning.lease_secs,
        push_retry_base_ms: tuning.retry_base_ms,
        push_retry_window_secs: tuning.window_secs,
        push_poll_ms: 50,
    };
    beatline_server::start(&common, &serve, false)
        .await
        .unwrap_or_else(|e| panic!("[{backend:?}] the server did not start: {e:#}"))
}

/// A server with `BEATLINE_PUSH=fcm` pointed at a fresh fake, on a fresh database.
struct PushEnv {
    app: TestApp,
    fake: FakeFcm,
    server: Option<RunningServer>,
    url: String,
    tuning: Tuning,
}

impl PushEnv {
    /// Kills the server as a crash would, and starts a new one on the same database.
    async fn crash_and_restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
        let server = start_server(&self.url, &self.fake, self.tuning, self.app.backend).await;
        self.app.base = format!("http://{}", server.addr);
        self.app.db = server.db.clone();
        self.server = Some(server);
    }
}

async fn with_fcm<F, Fut>(tuning: Tuning, test: F)
where
    F: Fn(PushEnv) -> Fut,
    Fut: Future<Output = PushEnv>,
{
    let mut backends = vec![Backend::Sqlite];
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        let fake = FakeFcm::start().await;
        let (database, url) = TestDatabase::create(backend).await;
        let server = start_server(&url, &fake, tuning, backend).await;
        let app = TestApp {
            base: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            backend,
            db: server.db.clone(),
            events: server.events.clone(),
            database_url: url.clone(),
        };
        let env = PushEnv {
            app,
            fake,
            server: Some(server),
            url,
            tuning,
        };
        let outcome = AssertUnwindSafe(test(env)).catch_unwind().await;
        match outcome {
            Ok(mut env) => {
                if let Some(server) = env.server.take() {
                    let _ = server.shutdown().await;
                }
                database.drop_now().await;
            }
            Err(panic) => {
                database.drop_now().await;
                eprintln!("the test failed on {backend:?}");
                std::panic::resume_unwind(panic);
            }
        }
    }
}

#[tokio::test]
async fn a_status_change_reaches_every_follower_device_once() {
    with_fcm(Tuning::default(), |env| async move {
        let app = &env.app;
        let ana = resident(app, "ana@example.org", "es").await;
        let ben = resident(app, "ben@example.org", "en").await;
        let officer = resident(app, "actor@example.org", "en").await;
        let quiet = resident(app, "quiet@example.org", "en").await;
        let muted = resident(app, "muted@example.org", "en").await;
        register_device(app, &ana, "ana-android", "ANDROID").await;
        register_device(app, &ana, "ana-ios", "IOS").await;
        register_device(app, &ben, "ben-web", "WEB").await;
        register_device(app, &officer, "actor-phone", "ANDROID").await;
        register_device(app, &quiet, "quiet-phone", "ANDROID").await;
        register_device(app, &muted, "muted-phone", "ANDROID").await;
        let prefs = "mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { disabledKinds } }";
        // Quiet all day but one minute, so the test cannot fall outside it.
        let now = chrono::Utc::now().with_timezone(&chrono_tz_chicago());
        let start = (now - chrono::TimeDelta::hours(1)).format("%H:%M").to_string();
        let end = (now + chrono::TimeDelta::hours(2)).format("%H:%M").to_string();
        app.data_as(Some(&quiet.token), prefs, json!({ "i": { "disabledKinds": [], "quietHoursStart": start, "quietHoursEnd": end } })).await;
        app.data_as(Some(&muted.token), prefs, json!({ "i": { "disabledKinds": ["PROBLEM_STATUS_CHANGED"] } })).await;

        let problem = any_problem(app).await;
        status_changed(app, &problem, vec![ana.id, ben.id, officer.id, quiet.id, muted.id], Some(officer.id)).await;

        eventually(Duration::from_secs(10), "three pushes", || async { env.fake.received().len() >= 3 }).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let received = env.fake.received();
        let mut tokens: Vec<&str> = received.iter().map(|r| r.token.as_str()).collect();
        tokens.sort_unstable();
        assert_eq!(tokens, ["ana-android", "ana-ios", "ben-web"], "each follower device once, never the actor's, none in quiet hours or for a muted kind");
        for r in &received {
            assert_eq!(r.version, poem::http::Version::HTTP_2, "HTTP/2 to FCM");
            assert!(r.bearer.starts_with("ya29.fake-"), "a token from the fake OAuth endpoint");
            assert!(r.bytes < 4096);
            assert_eq!(r.message["data"]["problemId"], problem.id.to_string());
        }
        let key = format!("problem-{}", problem.id.simple());
        let ana_android = &env.fake.received_for("ana-android")[0].message;
        assert_eq!(ana_android["android"]["collapse_key"], key.as_str());
        assert_eq!(ana_android["android"]["notification"]["tag"], key.as_str(), "a newer push or a duplicate replaces the one shown");
        assert!(ana_android["notification"]["title"].as_str().unwrap().ends_with("ahora está resuelto"), "{ana_android}");
        assert_eq!(env.fake.received_for("ana-ios")[0].message["apns"]["headers"]["apns-collapse-id"], key.as_str());
        let ben_web = &env.fake.received_for("ben-web")[0].message;
        assert_eq!(ben_web["webpush"]["headers"]["Topic"].as_str().unwrap().len(), 32);
        assert!(ben_web["notification"]["title"].as_str().unwrap().contains("is now resolved"), "{ben_web}");
        assert_eq!(env.fake.state.token_requests.load(std::sync::atomic::Ordering::SeqCst), 1, "the access token is reused");

        // Inbox rows exist for the muted and the quiet user too.
        for u in [&quiet, &muted] {
            assert_eq!(app.data_as(Some(&u.token), "{ unreadCount }", json!({})).await["unreadCount"], 1);
        }
        let all = deliveries(app).await;
        let held: Vec<_> = all.iter().filter(|d| d.status == DeliveryStatus::Pending).collect();
        assert_eq!(held.len(), 1, "the quiet user's push is held");
        assert!(held[0].next_attempt_at > chrono::Utc::now() + chrono::TimeDelta::minutes(100));
        assert_eq!(all.iter().filter(|d| d.status == DeliveryStatus::Sent).count(), 3);
        env
    })
    .await;
}

fn chrono_tz_chicago() -> chrono::FixedOffset {
    // The test users live in America/Chicago; quiet hours are checked against the
    // real zone by the server; a span of three hours around now is safe whatever the
    // daylight-saving offset (-5 or -6).
    chrono::FixedOffset::west_opt(6 * 3600).unwrap()
}

#[tokio::test]
async fn fcm_errors_are_handled_per_class() {
    let tuning = Tuning {
        window_secs: 4,
        ..Tuning::default()
    };
    with_fcm(tuning, |env| async move {
        let app = &env.app;
        let problem = any_problem(app).await;
        let mut users = Vec::new();
        let cases = [
            ("dead", vec![Reply::error(404, "UNREGISTERED")]),
            ("mismatch", vec![Reply::error(403, "SENDER_ID_MISMATCH")]),
            (
                "invalid",
                vec![Reply {
                    about_token: true,
                    ..Reply::error(400, "INVALID_ARGUMENT")
                }],
            ),
            ("badpayload", vec![Reply::error(400, "INVALID_ARGUMENT")]),
            (
                "thirdparty",
                vec![Reply::error(401, "THIRD_PARTY_AUTH_ERROR")],
            ),
            (
                "storm",
                vec![
                    Reply::error(503, "UNAVAILABLE"),
                    Reply::error(500, "INTERNAL"),
                    Reply::error(503, "UNAVAILABLE"),
                ],
            ),
            (
                "quota",
                vec![Reply {
                    retry_after: Some(2),
                    ..Reply::error(429, "QUOTA_EXCEEDED")
                }],
            ),
            ("forever", vec![Reply::error(503, "UNAVAILABLE"); 100]),
        ];
        for (i, (token, replies)) in cases.iter().enumerate() {
            let u = resident(app, &format!("u{i}@example.org"), "en").await;
            register_device(app, &u, token, "ANDROID").await;
            env.fake.script(token, replies.clone());
            users.push(u);
        }
        status_changed(app, &problem, users.iter().map(|u| u.id).collect(), None).await;

        let status_of = |token: &'static str| {
            let db = app.db.clone();
            async move {
                let d = device::Entity::find()
                    .filter(device::Column::Token.eq(token))
                    .one(&db)
                    .await
                    .unwrap()
                    .unwrap();
                let p = push_delivery::Entity::find()
                    .filter(push_delivery::Column::DeviceId.eq(d.id))
                    .one(&db)
                    .await
                    .unwrap()
                    .unwrap();
                (d, p)
            }
        };
        eventually(
            Duration::from_secs(20),
            "storm and quota drained, forever given up",
            || async {
                status_of("storm").await.1.status == DeliveryStatus::Sent
                    && status_of("quota").await.1.status == DeliveryStatus::Sent
                    && status_of("forever").await.1.status == DeliveryStatus::Dead
            },
        )
        .await;

        for token in ["dead", "mismatch", "invalid"] {
            let (d, p) = status_of(token).await;
            assert!(d.disabled_at.is_some(), "{token}: device disabled");
            assert_eq!(p.status, DeliveryStatus::Disabled, "{token}");
            assert_eq!(
                env.fake.received_for(token).len(),
                1,
                "{token}: never retried"
            );
        }
        assert!(
            status_of("dead")
                .await
                .0
                .disabled_reason
                .unwrap()
                .contains("UNREGISTERED")
        );
        let (d, p) = status_of("badpayload").await;
        assert!(
            d.disabled_at.is_none(),
            "a bad payload is not the device's fault"
        );
        assert_eq!(p.status, DeliveryStatus::Dead);
        assert_eq!(env.fake.received_for("badpayload").len(), 1);
        // Broken APNs or web-push credentials are not retried hot: the next try is 15
        // minutes away, beyond this test's 4-second window, so it is given up at once.
        let (d, p) = status_of("thirdparty").await;
        assert!(d.disabled_at.is_none(), "not the device's fault");
        assert_eq!(p.status, DeliveryStatus::Dead);
        assert!(p.last_error.unwrap().contains("THIRD_PARTY_AUTH_ERROR"));
        assert_eq!(env.fake.received_for("thirdparty").len(), 1);
        assert_eq!(
            env.fake.received_for("storm").len(),
            4,
            "three failures, then success"
        );
        assert_eq!(status_of("storm").await.1.attempts, 4);
        let quota = env.fake.received_for("quota");
        assert_eq!(quota.len(), 2);
        assert!(
            quota[1].at.duration_since(quota[0].at) >= Duration::from_secs(2),
            "Retry-After honoured"
        );
        let (_, p) = status_of("forever").await;
        assert!(
            p.last_error.unwrap().contains("gave up"),
            "dead after the retry window"
        );
        let tries = env.fake.received_for("forever").len();
        assert!(
            (3..30).contains(&tries),
            "backoff spaces the attempts: {tries}"
        );

        // /metrics counts each outcome: 2 sent (storm and quota, in the end), 3 tokens
        // gone, 3 given up (bad payload, broken credentials, the endless storm), 1 auth
        // error, and every passing failure retried.
        let retried = 3 + 1 + (tries - 1);
        let sends = env.fake.received().len();
        eventually(Duration::from_secs(5), "the push metrics", || async {
            let text = app.get("/metrics").await.text().await.unwrap();
            let outcome = |o: &str| {
                metric(
                    &text,
                    &format!("beatline_push_deliveries_total{{outcome=\"{o}\"}}"),
                )
            };
            outcome("sent") == Some(2.0)
                && outcome("device_disabled") == Some(3.0)
                && outcome("dead") == Some(3.0)
                && outcome("auth_error") == Some(1.0)
                && outcome("retried") == Some(retried as f64)
                && metric(&text, "beatline_push_send_duration_seconds_count") == Some(sends as f64)
                && metric(&text, "beatline_push_outbox_deliveries{state=\"due\"}") == Some(0.0)
                && metric(&text, "beatline_push_outbox_oldest_due_seconds") == Some(0.0)
        })
        .await;

        // The disabled device shows as such, and registering it again turns it back on.
        let dead_user = &users[0];
        let mine = app
            .data_as(Some(&dead_user.token), MY_DEVICES, json!({}))
            .await;
        assert_eq!(mine["myDevices"][0]["disabled"], true);
        let again = register_device(app, dead_user, "dead", "ANDROID").await;
        assert_eq!(again["disabled"], false);
        env
    })
    .await;
}

/// The value of one series (`name{labels}`, as Prometheus writes it) in `/metrics`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn the_access_token_is_refreshed_when_it_runs_out() {
    with_fcm(Tuning::default(), |env| async move {
        // gcp_auth renews 20 s before expiry: a 22-second token lasts about 2 seconds.
        env.fake.set_token_lifetime(22);
        let app = &env.app;
        let u = resident(app, "ana@example.org", "en").await;
        register_device(app, &u, "phone", "ANDROID").await;
        let problem = any_problem(app).await;
        status_changed(app, &problem, vec![u.id], None).await;
        eventually(Duration::from_secs(10), "first push", || async {
            env.fake.received().len() == 1
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        status_changed(app, &problem, vec![u.id], None).await;
        eventually(Duration::from_secs(10), "second push", || async {
            env.fake.received().len() == 2
        })
        .await;
        let received = env.fake.received();
        assert_ne!(received[0].bearer, received[1].bearer, "a new access token");
        assert!(received.iter().all(|r| r.status == 200));
        assert_eq!(
            env.fake
                .state
                .token_requests
                .load(std::sync::atomic::Ordering::SeqCst),
            2
        );
        env
    })
    .await;
}

#[tokio::test]
async fn a_crash_mid_fan_out_loses_nothing() {
    let tuning = Tuning {
        concurrency: 8,
        batch: 40,
        lease_secs: 1,
        ..Tuning::default()
    };
    with_fcm(tuning, |mut env| async move {
        const N: usize = 300;
        let backend = env.app.backend;
        env.fake.set_latency(Duration::from_millis(5));
        let beat = beat::Entity::find()
            .one(&env.app.db)
            .await
            .unwrap()
            .unwrap();
        // Residents who follow a beat, each with a phone (set-up straight in the
        // database: following beats is another branch's API).
        let people = residents_with_phones(&env.app, N, "fan").await;
        let at = graphql_schema::domain::now();
        let follows: Vec<_> = people
            .iter()
            .map(|(id, _)| beat_follower::Model {
                beat_id: beat.id,
                user_id: *id,
                created_at: at,
            })
            .collect();
        for chunk in follows.chunks(100) {
            beat_follower::Entity::insert_many(
                chunk.iter().cloned().map(|m| m.into_active_model()),
            )
            .exec_without_returning(&env.app.db)
            .await
            .unwrap();
        }
        let txn = env.app.db.begin().await.unwrap();
        notify::enqueue_audience(
            &txn,
            Notice {
                kind: NoticeKind::MeetingScheduled,
                recipients: Vec::new(),
                actor: None,
                problem_id: None,
                meeting_id: None,
                params: json!({ "title": "Beat meeting", "when": "Thursday 18:30" }),
            },
            Audience::BeatFollowers(beat.id),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();

        let announced = |fake: &FakeFcm| {
            fake.received()
                .into_iter()
                .filter(|r| r.message["data"]["kind"] == "MEETING_SCHEDULED")
                .collect::<Vec<_>>()
        };
        eventually(Duration::from_secs(20), "part of the fan-out", || async {
            announced(&env.fake).len() >= 60
        })
        .await;
        env.crash_and_restart().await;
        let at_crash = announced(&env.fake).len();
        assert!(
            at_crash < N,
            "[{backend:?}] the crash came mid fan-out ({at_crash} sent)"
        );

        let app = &env.app;
        eventually(
            Duration::from_secs(40),
            "every delivery settled",
            || async {
                let all = deliveries_of(app, NoticeKind::MeetingScheduled).await;
                all.len() >= N && all.iter().all(|d| d.status == DeliveryStatus::Sent)
            },
        )
        .await;
        let received = announced(&env.fake);
        let mut per_device = std::collections::HashMap::<String, usize>::new();
        for r in &received {
            *per_device.entry(r.token.clone()).or_default() += 1;
        }
        assert_eq!(per_device.len(), N, "every device got the announcement");
        let most = per_device.values().max().copied().unwrap_or(0);
        assert!(most <= 2, "at most one duplicate per device: {most}");
        let duplicates = received.len() - N;
        assert!(
            duplicates <= 2 * tuning.batch as usize,
            "duplicates only from the batches in flight: {duplicates}"
        );
        assert_eq!(
            deliveries_of(app, NoticeKind::MeetingScheduled).await.len(),
            N,
            "one notification and delivery per follower, even across the crash"
        );
        eprintln!("[{backend:?}] crash after {at_crash} pushes; {duplicates} sent twice");
        env
    })
    .await;
}

#[tokio::test]
async fn a_provider_slower_than_the_lease_never_gets_a_push_twice() {
    // A batch of 20 at 2 in flight, 300 ms each, takes 3 seconds: three leases. Sends
    // start only in the first half of the lease; the rest of the batch is handed back,
    // so no delivery is claimed again while its push is in flight.
    let tuning = Tuning {
        concurrency: 2,
        batch: 20,
        lease_secs: 1,
        ..Tuning::default()
    };
    with_fcm(tuning, |env| async move {
        const N: usize = 30;
        let app = &env.app;
        env.fake.set_latency(Duration::from_millis(300));
        let people = residents_with_phones(app, N, "slow").await;
        let problem = any_problem(app).await;
        status_changed(
            app,
            &problem,
            people.iter().map(|(id, _)| *id).collect(),
            None,
        )
        .await;
        eventually(Duration::from_secs(30), "every push recorded", || async {
            let all = deliveries_of(app, NoticeKind::ProblemStatusChanged).await;
            all.len() == N && all.iter().all(|d| d.status == DeliveryStatus::Sent)
        })
        .await;
        for (_, token) in &people {
            assert_eq!(
                env.fake.received_for(token).len(),
                1,
                "[{:?}] {token} got its push exactly once",
                app.backend
            );
        }
        env
    })
    .await;
}

#[tokio::test]
async fn meeting_reminders_go_out_once_a_day_ahead() {
    with_fcm(Tuning::default(), |env| async move {
        let app = &env.app;
        let u = resident(app, "ana@example.org", "es").await;
        register_device(app, &u, "ana-phone", "ANDROID").await;
        let beat = beat::Entity::find().one(&app.db).await.unwrap().unwrap();
        let at = graphql_schema::domain::now();
        beat_follower::Entity::insert(
            beat_follower::Model {
                beat_id: beat.id,
                user_id: u.id,
                created_at: at,
            }
            .into_active_model(),
        )
        .exec_without_returning(&app.db)
        .await
        .unwrap();
        let meeting = entity::meeting::Model {
            id: Uuid::now_v7(),
            series_id: None,
            beat_id: beat.id,
            title: "Reunión del sector".into(),
            starts_at: at + chrono::TimeDelta::hours(23),
            ends_at: at + chrono::TimeDelta::hours(24),
            time_zone: "America/Chicago".into(),
            place_name: Some("Library".into()),
            place_address: None,
            lat: None,
            lon: None,
            online_url: None,
            languages: json!(["en", "es"]),
            accessibility_notes: None,
            status: entity::enums::MeetingStatus::Scheduled,
            recurrence_id: None,
            is_exception: false,
            attendance_residents: None,
            attendance_officers: None,
            reminder_sent_at: None,
            version: 1,
            created_by: None,
            created_at: at,
            updated_at: at,
        };
        entity::meeting::Entity::insert(meeting.clone().into_active_model())
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        let reminders = |fake: &FakeFcm| {
            fake.received_for("ana-phone")
                .into_iter()
                .filter(|r| r.message["data"]["meetingId"] == meeting.id.to_string())
                .collect::<Vec<_>>()
        };
        eventually(Duration::from_secs(15), "the reminder", || async {
            !reminders(&env.fake).is_empty()
        })
        .await;
        let got = &reminders(&env.fake)[0].message;
        assert!(
            got["notification"]["title"]
                .as_str()
                .unwrap()
                .starts_with("Mañana"),
            "{got}"
        );
        assert_eq!(got["data"]["kind"], "MEETING_REMINDER");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(reminders(&env.fake).len(), 1, "reminded once");
        let stored = entity::meeting::Entity::find_by_id(meeting.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert!(stored.reminder_sent_at.is_some());
        env
    })
    .await;
}

#[tokio::test]
async fn meeting_times_are_shown_in_each_recipients_zone_and_language() {
    each_backend(Options::default(), |app| async move {
        let register = |email: &'static str, locale: &'static str, zone: &'static str| {
            let app = &app;
            async move {
                let data = app
                    .data(
                        REGISTER,
                        json!({ "i": { "email": email, "password": STRONG, "displayName": "R", "locale": locale, "timeZone": zone } }),
                    )
                    .await;
                data["register"]["accessToken"].as_str().unwrap().to_owned()
            }
        };
        let chicago_en = register("ben@example.org", "en", "America/Chicago").await;
        let chicago_es = register("ana@example.org", "es", "America/Chicago").await;
        let madrid_es = register("eva@example.org", "es-ES", "Europe/Madrid").await;
        let beat = beat::Entity::find()
            .filter(beat::Column::Code.eq("1011"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        for token in [&chicago_en, &chicago_es, &madrid_es] {
            app.data_as(
                Some(token),
                "mutation($b: ID!) { followBeat(beatId: $b) { id } }",
                json!({ "b": beat.id }),
            )
            .await;
        }
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        // 18:30 on Monday 9 December 2030 in Chicago (CST, UTC-6).
        app.data_as(
            Some(&officer),
            "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
            json!({ "i": {
                "beatId": beat.id,
                "title": "Beat 1011 community meeting",
                "startsAt": "2030-12-10T00:30:00Z",
                "endsAt": "2030-12-10T02:00:00Z",
                "timeZone": "America/Chicago",
                "placeName": "Library",
                "idempotencyKey": Uuid::now_v7().to_string(),
            }}),
        )
        .await;
        let body_for = |token: String| {
            let app = &app;
            async move {
                let inbox = app.data_as(Some(&token), INBOX, json!({ "f": 10 })).await;
                let edges = inbox["notifications"]["edges"].as_array().unwrap().clone();
                let meeting = edges
                    .iter()
                    .find(|e| e["node"]["kind"] == "MEETING_SCHEDULED")
                    .unwrap_or_else(|| panic!("[{:?}] no meeting notice: {inbox}", app.backend));
                meeting["node"]["body"].as_str().unwrap().to_owned()
            }
        };
        assert_eq!(body_for(chicago_en).await, "Mon, Dec 9, 6:30 PM, Library");
        assert_eq!(body_for(chicago_es).await, "lun 9 dic, 18:30, Library");
        assert_eq!(
            body_for(madrid_es).await,
            "mar 10 dic, 01:30, Library",
            "past midnight in Madrid"
        );
    })
    .await;
}

/// Inserts `n` residents with one Android phone each (set-up straight in the database);
/// returns their ids and phone tokens.
async fn residents_with_phones(app: &TestApp, n: usize, prefix: &str) -> Vec<(Uuid, String)> {
    let at = graphql_schema::domain::now();
    let mut out = Vec::with_capacity(n);
    let mut users = Vec::with_capacity(n);
    let mut phones = Vec::with_capacity(n);
    for i in 0..n {
        let id = Uuid::now_v7();
        let token = format!("{prefix}-{i}");
        users.push(entity::user::Model {
            id,
            role: entity::enums::UserRole::Resident,
            display_name: format!("{prefix} {i}"),
            email: Some(format!("{prefix}-{i}@example.org")),
            phone: None,
            password_hash: None,
            locale: "en".into(),
            time_zone: "UTC".into(),
            home_neighborhood_id: None,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        });
        phones.push(device::Model {
            id: Uuid::now_v7(),
            user_id: id,
            token: token.clone(),
            platform: entity::enums::DevicePlatform::Android,
            locale: "en".into(),
            app_version: None,
            disabled_at: None,
            disabled_reason: None,
            last_seen_at: at,
            created_at: at,
            updated_at: at,
        });
        out.push((id, token));
    }
    for chunk in users.chunks(500) {
        entity::user::Entity::insert_many(chunk.iter().cloned().map(|m| m.into_active_model()))
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    for chunk in phones.chunks(500) {
        device::Entity::insert_many(chunk.iter().cloned().map(|m| m.into_active_model()))
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    out
}

#[tokio::test]
async fn long_recipient_lists_are_fanned_out_by_the_worker_in_chunks() {
    let tuning = Tuning {
        concurrency: 64,
        batch: 500,
        ..Tuning::default()
    };
    with_fcm(tuning, |env| async move {
        const N: usize = 1_200; // more than one chunk of 1,000
        let app = &env.app;
        let people = residents_with_phones(app, N, "many").await;
        let actor = people[7].0;
        let problem = any_problem(app).await;
        let txn = app.db.begin().await.unwrap();
        let written = notify::enqueue(
            &txn,
            Notice {
                kind: NoticeKind::ProblemComment,
                recipients: people.iter().map(|p| p.0).collect(),
                actor: Some(actor),
                problem_id: Some(problem.id),
                meeting_id: None,
                params: json!({ "reference": problem.reference, "body": "We cleaned it up today." }),
            },
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        assert!(written.is_empty(), "over the inline limit, the worker writes them");

        eventually(Duration::from_secs(60), "every comment pushed", || async {
            let all = deliveries_of(app, NoticeKind::ProblemComment).await;
            all.len() == N - 1 && all.iter().all(|d| d.status == DeliveryStatus::Sent)
        })
        .await;
        let mut per_device = std::collections::HashMap::<String, usize>::new();
        for r in env.fake.received() {
            if r.message["data"]["kind"] == "PROBLEM_COMMENT" {
                *per_device.entry(r.token).or_default() += 1;
            }
        }
        assert_eq!(per_device.len(), N - 1, "everyone but the actor");
        assert!(per_device.values().all(|c| *c == 1), "exactly once each");
        assert!(!per_device.contains_key(&people[7].1), "never the actor");
        let inbox = notification::Entity::find()
            .filter(notification::Column::Kind.eq("PROBLEM_COMMENT"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(inbox.len(), N - 1, "one inbox notification each");
        env
    })
    .await;
}
