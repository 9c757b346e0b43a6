//! Live updates over a real WebSocket (graphql-transport-ws): problem changes, beat
//! activity, notifications, their authorization, and delivery across replicas on
//! PostgreSQL.
//!
//! The mutations that change problems are built in another branch; until they merge,
//! a test changes a row directly and announces it on the server's bus, as those
//! mutations will after their commit.

#![expect(clippy::panic, clippy::expect_used, reason = "tests fail loudly")]

use std::time::{Duration, Instant};

use beatline_tests::live::{Handshake, LiveClient};
use beatline_tests::{Backend, Options, TestApp, each_backend, spawn_replica};
use entity::enums::ProblemStatus;
use entity::{beat, category, notification, problem, user};
use graphql_schema::domain::events::DomainEvent;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

const PROBLEM_UPDATED: &str = "subscription($id: ID!) { problemUpdated(id: $id) { id status reference category { serviceCode } } }";
const BEAT_ACTIVITY: &str =
    "subscription($beat: ID!) { beatActivity(beatId: $beat) { kind problem { id status } } }";
const MY_NOTIFICATIONS: &str = "subscription { myNotifications { id kind title problemId } }";

/// The id of the beat with `code`.
async fn beat_id(app: &TestApp, code: &str) -> Uuid {
    beat::Entity::find()
        .filter(beat::Column::Code.eq(code))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// An open problem of beat `beat` whose category has `service_code`.
async fn open_problem(app: &TestApp, beat: &str, service_code: &str) -> problem::Model {
    let beat = beat_id(app, beat).await;
    let cat = category::Entity::find()
        .filter(category::Column::ServiceCode.eq(service_code))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    problem::Entity::find()
        .filter(problem::Column::BeatId.eq(beat))
        .filter(problem::Column::CategoryId.eq(cat.id))
        .filter(problem::Column::Status.is_in([
            ProblemStatus::New,
            ProblemStatus::Acknowledged,
            ProblemStatus::InProgress,
        ]))
        .order_by_asc(problem::Column::CreatedAt)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no open {service_code} problem in the demo city"))
}

/// A police-routed, non-sensitive open problem in beat `beat`.
async fn open_police_problem(app: &TestApp, beat: &str) -> problem::Model {
    let beat = beat_id(app, beat).await;
    let sensitive_or_partner: Vec<Uuid> = category::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.sensitive || c.partner_id.is_some())
        .map(|c| c.id)
        .collect();
    problem::Entity::find()
        .filter(problem::Column::BeatId.eq(beat))
        .filter(problem::Column::CategoryId.is_not_in(sensitive_or_partner))
        .order_by_asc(problem::Column::CreatedAt)
        .one(&app.db)
        .await
        .unwrap()
        .expect("a police problem in the beat")
}

/// Sets a problem's status in the database, as a mutation would.
async fn set_status(app: &TestApp, row: &problem::Model, status: ProblemStatus) {
    let mut active = row.clone().into_active_model();
    active.status = Set(status);
    active.version = Set(row.version + 1);
    active.update(&app.db).await.unwrap();
}

fn changed(row: &problem::Model) -> DomainEvent {
    DomainEvent::ProblemChanged {
        problem_id: row.id,
        beat_id: row.beat_id,
        created: false,
    }
}

/// Publishes `event` on `app`'s bus until `client` receives a message (a subscription
/// starts asynchronously after its `subscribe` message, so the first publications may
/// come before it listens); returns the payload of the first `next`.
async fn publish_until_received(
    app: &TestApp,
    client: &mut LiveClient,
    event: DomainEvent,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        app.events.publish(event.clone());
        if let Some(msg) = client.next_message(Duration::from_millis(300)).await {
            assert_eq!(msg["type"], "next", "[{:?}] unexpected {msg}", app.backend);
            return msg["payload"].clone();
        }
    }
    panic!(
        "[{:?}] the subscriber received nothing within 15 s",
        app.backend
    );
}

#[tokio::test]
async fn a_status_change_reaches_the_problem_subscriber() {
    each_backend(Options::default(), |app| async move {
        let row = open_police_problem(&app, "1011").await;
        let token = app.demo_login("resident1@demo.beatline.city").await;
        let mut client = LiveClient::connect(&app.base, Some(&token)).await;
        client
            .subscribe(PROBLEM_UPDATED, json!({ "id": row.id.to_string() }))
            .await;
        set_status(&app, &row, ProblemStatus::InProgress).await;
        let payload = publish_until_received(&app, &mut client, changed(&row)).await;
        let p = &payload["data"]["problemUpdated"];
        assert_eq!(p["id"], row.id.to_string());
        assert_eq!(p["status"], "IN_PROGRESS");
        assert_eq!(p["reference"], row.reference.as_str());

        // Once subscribed, a single change arrives well within a second.
        set_status(&app, &row, ProblemStatus::Resolved).await;
        // Drain the echoes of the retries above.
        while client
            .next_message(Duration::from_millis(300))
            .await
            .is_some()
        {}
        let started = Instant::now();
        app.events.publish(changed(&row));
        let payload = client.expect_next(Duration::from_secs(1)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(payload["data"]["problemUpdated"]["status"], "RESOLVED");

        // Changes of other problems are not sent.
        let other = open_police_problem(&app, "1012").await;
        app.events.publish(changed(&other));
        assert!(
            client
                .next_message(Duration::from_millis(500))
                .await
                .is_none(),
            "received a change of another problem"
        );
        client.close().await;
    })
    .await;
}

#[tokio::test]
async fn anonymous_watchers_work_and_bad_tokens_are_refused() {
    each_backend(Options::default(), |app| async move {
        let row = open_police_problem(&app, "2021").await;
        let mut anonymous = LiveClient::connect(&app.base, None).await;
        anonymous
            .subscribe(PROBLEM_UPDATED, json!({ "id": row.id.to_string() }))
            .await;
        let payload = publish_until_received(&app, &mut anonymous, changed(&row)).await;
        assert_eq!(payload["data"]["problemUpdated"]["id"], row.id.to_string());

        // myNotifications needs a signed-in user.
        anonymous.subscribe(MY_NOTIFICATIONS, json!({})).await;
        let msg = anonymous
            .next_message(Duration::from_secs(5))
            .await
            .unwrap();
        let error = error_of(&msg);
        assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{msg}");
        assert!(
            error["message"].as_str().unwrap().contains("sign in"),
            "{msg}"
        );
        anonymous.close().await;

        // A bad token closes the connection with the reason.
        match LiveClient::handshake(&app.base, json!({ "accessToken": "not-a-token" })).await {
            Handshake::Closed(code, reason) => {
                // async-graphql closes a refused `connection_init` with 1002.
                assert_eq!(code, 1002, "{reason}");
                assert!(reason.contains("access token is not valid"), "{reason}");
            }
            Handshake::Acked(_) => panic!("a bad token was accepted"),
        }
    })
    .await;
}

/// The first error of a `next` (or `error`) message.
fn error_of(msg: &Value) -> Value {
    match msg["type"].as_str() {
        Some("next") => msg["payload"]["errors"][0].clone(),
        Some("error") => msg["payload"][0].clone(),
        _ => panic!("expected an error, got {msg}"),
    }
}

#[tokio::test]
async fn bad_input_and_hidden_problems_are_refused() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let mut client = LiveClient::connect(&app.base, Some(&officer)).await;

        // Errors of the engine itself (an unknown field) carry a code too.
        client
            .subscribe("subscription { noSuchField }", json!({}))
            .await;
        let msg = client.next_message(Duration::from_secs(5)).await.unwrap();
        let error = error_of(&msg);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{msg}");
        assert!(error["message"].as_str().unwrap().contains("noSuchField"));
        while client
            .next_message(Duration::from_millis(200))
            .await
            .is_some()
        {}

        client
            .subscribe(PROBLEM_UPDATED, json!({ "id": "not-an-id" }))
            .await;
        let msg = client.next_message(Duration::from_secs(5)).await.unwrap();
        let error = error_of(&msg);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{msg}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not a valid problem id")
        );
        while client
            .next_message(Duration::from_millis(200))
            .await
            .is_some()
        {}

        client
            .subscribe(PROBLEM_UPDATED, json!({ "id": Uuid::now_v7().to_string() }))
            .await;
        let msg = client.next_message(Duration::from_secs(5)).await.unwrap();
        assert_eq!(error_of(&msg)["extensions"]["code"], "NOT_FOUND", "{msg}");
        while client
            .next_message(Duration::from_millis(200))
            .await
            .is_some()
        {}

        // Police never see sensitive problems, live or not.
        let syringe = open_problem(&app, "1011", "SYRINGE_FOUND").await;
        client
            .subscribe(PROBLEM_UPDATED, json!({ "id": syringe.id.to_string() }))
            .await;
        let msg = client.next_message(Duration::from_secs(5)).await.unwrap();
        let error = error_of(&msg);
        assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{msg}");
        assert!(error["message"].as_str().unwrap().contains("no problem"));
        while client
            .next_message(Duration::from_millis(200))
            .await
            .is_some()
        {}

        // An officer may not watch another precinct's beat.
        client
            .subscribe(
                BEAT_ACTIVITY,
                json!({ "beat": beat_id(&app, "2021").await.to_string() }),
            )
            .await;
        let msg = client.next_message(Duration::from_secs(5)).await.unwrap();
        let error = error_of(&msg);
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{msg}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("beats they are assigned to")
        );
        client.close().await;
    })
    .await;
}

#[tokio::test]
async fn beat_activity_follows_the_beat_and_partners_see_only_routed_problems() {
    each_backend(Options::default(), |app| async move {
        let beat = beat_id(&app, "1011").await;
        let police = open_police_problem(&app, "1011").await;
        let elsewhere = open_police_problem(&app, "1012").await;
        let streetlight = open_problem(&app, "1011", "STREETLIGHT_OUT").await;
        let syringe = open_problem(&app, "1011", "SYRINGE_FOUND").await;

        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let mut officer_ws = LiveClient::connect(&app.base, Some(&officer)).await;
        officer_ws
            .subscribe(BEAT_ACTIVITY, json!({ "beat": beat.to_string() }))
            .await;
        let partner = app.demo_login("dispatch@streets.demo.beatline.city").await;
        let mut partner_ws = LiveClient::connect(&app.base, Some(&partner)).await;
        partner_ws
            .subscribe(BEAT_ACTIVITY, json!({ "beat": beat.to_string() }))
            .await;

        // Warm up: both subscriptions listen once the officer sees the police problem
        // and the partner its streetlight.
        let first = publish_until_received(&app, &mut officer_ws, changed(&police)).await;
        assert_eq!(
            first["data"]["beatActivity"]["problem"]["id"],
            police.id.to_string()
        );
        assert_eq!(first["data"]["beatActivity"]["kind"], "CHANGED");
        let first = publish_until_received(&app, &mut partner_ws, changed(&streetlight)).await;
        assert_eq!(
            first["data"]["beatActivity"]["problem"]["id"],
            streetlight.id.to_string()
        );
        while officer_ws
            .next_message(Duration::from_millis(300))
            .await
            .is_some()
        {}
        while partner_ws
            .next_message(Duration::from_millis(300))
            .await
            .is_some()
        {}

        // In order: another beat's problem, a police problem, a sensitive one, a
        // partner-routed one, then a newly reported one.
        app.events.publish(changed(&elsewhere));
        app.events.publish(changed(&police));
        app.events.publish(changed(&syringe));
        app.events.publish(changed(&streetlight));
        app.events.publish(DomainEvent::ProblemChanged {
            problem_id: police.id,
            beat_id: beat,
            created: true,
        });

        let ids = |msgs: &[Value]| -> Vec<(String, String)> {
            msgs.iter()
                .map(|m| {
                    let a = &m["data"]["beatActivity"];
                    (
                        a["problem"]["id"].as_str().unwrap().to_owned(),
                        a["kind"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(officer_ws.expect_next(Duration::from_secs(5)).await);
        }
        assert_eq!(
            ids(&seen),
            vec![
                (police.id.to_string(), "CHANGED".to_owned()),
                (streetlight.id.to_string(), "CHANGED".to_owned()),
                (police.id.to_string(), "REPORTED".to_owned()),
            ],
            "[{:?}] the officer sees the beat's non-sensitive problems only",
            app.backend
        );
        assert!(
            officer_ws
                .next_message(Duration::from_millis(500))
                .await
                .is_none()
        );

        let only = partner_ws.expect_next(Duration::from_secs(5)).await;
        assert_eq!(
            ids(&[only]),
            vec![(streetlight.id.to_string(), "CHANGED".to_owned())],
            "[{:?}] the partner sees only what is routed to it",
            app.backend
        );
        assert!(
            partner_ws
                .next_message(Duration::from_millis(500))
                .await
                .is_none()
        );
        officer_ws.close().await;
        partner_ws.close().await;
    })
    .await;
}

#[tokio::test]
async fn notifications_reach_only_their_recipient() {
    each_backend(Options::default(), |app| async move {
        let find = |email: &'static str| {
            let db = app.db.clone();
            async move {
                user::Entity::find()
                    .filter(user::Column::Email.eq(email))
                    .one(&db)
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            }
        };
        let me = find("resident1@demo.beatline.city").await;
        let someone_else = find("resident2@demo.beatline.city").await;
        let insert = |user_id: Uuid, title: &'static str| {
            let db = app.db.clone();
            async move {
                let n = notification::Model {
                    id: Uuid::now_v7(),
                    user_id,
                    kind: "PROBLEM_STATUS_CHANGED".into(),
                    title: title.into(),
                    body: "Broken streetlight".into(),
                    data: json!({}),
                    problem_id: None,
                    meeting_id: None,
                    collapse_key: None,
                    read_at: None,
                    created_at: chrono::Utc::now(),
                };
                notification::Entity::insert(n.clone().into_active_model())
                    .exec(&db)
                    .await
                    .unwrap();
                DomainEvent::NotificationCreated {
                    user_id,
                    notification_id: n.id,
                }
            }
        };
        let token = app.demo_login("resident1@demo.beatline.city").await;
        let mut client = LiveClient::connect(&app.base, Some(&token)).await;
        client.subscribe(MY_NOTIFICATIONS, json!({})).await;
        let warm_up = insert(me, "warm-up").await;
        publish_until_received(&app, &mut client, warm_up).await;
        while client
            .next_message(Duration::from_millis(300))
            .await
            .is_some()
        {}

        let theirs = insert(someone_else, "not yours").await;
        let mine = insert(me, "BL-1 is now RESOLVED").await;
        app.events.publish(theirs);
        app.events.publish(mine.clone());
        let payload = client.expect_next(Duration::from_secs(5)).await;
        let n = &payload["data"]["myNotifications"];
        assert_eq!(n["title"], "BL-1 is now RESOLVED");
        assert_eq!(n["kind"], "PROBLEM_STATUS_CHANGED");
        let DomainEvent::NotificationCreated {
            notification_id, ..
        } = mine
        else {
            unreachable!()
        };
        assert_eq!(n["id"], notification_id.to_string());
        assert!(
            client
                .next_message(Duration::from_millis(500))
                .await
                .is_none()
        );
        client.close().await;
    })
    .await;
}

/// Two servers on one database: a change published through replica A reaches a
/// subscriber connected to replica B (LISTEN/NOTIFY on PostgreSQL). SQLite runs one
/// process, so there the check is that a replica's own subscribers are served.
#[tokio::test]
async fn a_change_through_one_replica_reaches_subscribers_of_another() {
    each_backend(Options::default(), |app| async move {
        let replica = spawn_replica(&app).await;
        let replica_base = format!("http://{}", replica.addr);
        let row = open_police_problem(&app, "1013").await;
        let token = app.demo_login("resident3@demo.beatline.city").await;
        let mut client = LiveClient::connect(&replica_base, Some(&token)).await;
        client
            .subscribe(PROBLEM_UPDATED, json!({ "id": row.id.to_string() }))
            .await;
        set_status(&app, &row, ProblemStatus::Acknowledged).await;
        if app.backend == Backend::Postgres {
            // Published on A (the test app's server), received through B.
            let payload = publish_until_received(&app, &mut client, changed(&row)).await;
            assert_eq!(payload["data"]["problemUpdated"]["status"], "ACKNOWLEDGED");
            while client
                .next_message(Duration::from_millis(300))
                .await
                .is_some()
            {}
            set_status(&app, &row, ProblemStatus::InProgress).await;
            let started = Instant::now();
            app.events.publish(changed(&row));
            let payload = client.expect_next(Duration::from_secs(1)).await;
            assert!(started.elapsed() < Duration::from_secs(1));
            assert_eq!(payload["data"]["problemUpdated"]["status"], "IN_PROGRESS");
            // B's own publications are not delivered twice.
            replica.events.publish(changed(&row));
            client.expect_next(Duration::from_secs(1)).await;
            assert!(
                client
                    .next_message(Duration::from_millis(500))
                    .await
                    .is_none()
            );
        } else {
            let deadline = Instant::now() + Duration::from_secs(15);
            let payload = loop {
                replica.events.publish(changed(&row));
                if let Some(msg) = client.next_message(Duration::from_millis(300)).await {
                    break msg["payload"].clone();
                }
                assert!(Instant::now() < deadline, "nothing received on SQLite");
            };
            assert_eq!(payload["data"]["problemUpdated"]["status"], "ACKNOWLEDGED");
        }
        client.close().await;
        replica.shutdown().await.unwrap();
    })
    .await;
}
