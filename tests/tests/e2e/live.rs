//! Live updates over a real WebSocket (graphql-transport-ws): every change comes from
//! the real mutations over HTTP (reportProblem, updateProblemStatus, commentOnProblem,
//! assignProblem), which announce it after their commit. Covered: problem changes,
//! beat activity, notifications, their authorization, delivery across replicas on
//! PostgreSQL, and the connection's life: the `connection_init` timeout, refused
//! tokens, keep-alive pings, and closing when the token expires or the session ends.

#![expect(clippy::panic, clippy::expect_used, reason = "tests fail loudly")]

use std::time::{Duration, Instant};

use beatline_server::config::SessionConfig;
use beatline_tests::live::{Handshake, LiveClient};
use beatline_tests::{Backend, Options, TEST_JWT_SECRET, TestApp, each_backend, spawn_replica};
use serde_json::{Value, json};
use uuid::Uuid;

const PROBLEM_UPDATED: &str = "subscription($id: ID!) { problemUpdated(id: $id) {
  id status version reference photos { id }
  timeline(first: 50) { edges { node { kind body visibility } } } } }";
const BEAT_ACTIVITY: &str = "subscription($beat: ID!) { beatActivity(beatId: $beat) {
  kind problem { id status anonymous reporter { displayName } category { serviceCode }
    timeline(first: 10) { edges { node { kind byReporter actor { displayName } } } } } } }";
const MY_NOTIFICATIONS: &str = "subscription { myNotifications { id kind title body problemId } }";

const REPORT: &str = "mutation($i: ReportProblemInput!) { reportProblem(input: $i) {
  id version status assignedPartner { id name } } }";
const STATUS: &str = "mutation($i: UpdateProblemStatusInput!) { updateProblemStatus(input: $i) { id status version } }";
const COMMENT: &str =
    "mutation($i: CommentOnProblemInput!) { commentOnProblem(input: $i) { id visibility } }";
const ASSIGN: &str = "mutation($i: AssignProblemInput!) { assignProblem(input: $i) { id version assignedPartner { id } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  accessToken accessTokenExpiresAt refreshToken } }";

/// A password the rules accept.
const STRONG: &str = "lantern orbit pickle harbor";

/// How long a test waits for something that must come, and for silence.
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(500);

fn key() -> String {
    Uuid::now_v7().to_string()
}

/// The id of the beat with `code`.
async fn beat_id(app: &TestApp, code: &str) -> String {
    let beats = app.data("{ beats { id code } }", json!({})).await;
    beats["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .find(|b| b["code"] == code)
        .unwrap_or_else(|| panic!("no beat {code}"))["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// A point inside a beat: the location of one of its demo problems.
async fn point_in_beat(app: &TestApp, code: &str) -> (f64, f64) {
    let beat = beat_id(app, code).await;
    let data = app
        .data(
            "query($b: ID!) { problems(filter: { beatId: $b }, first: 1) { edges { node { lat lon } } } }",
            json!({ "b": beat }),
        )
        .await;
    let node = &data["problems"]["edges"][0]["node"];
    (
        node["lat"].as_f64().expect("lat"),
        node["lon"].as_f64().expect("lon"),
    )
}

/// Reports a problem through `reportProblem`; returns `{ id version status assignedPartner }`.
async fn report(
    app: &TestApp,
    token: &str,
    category: &str,
    (lat, lon): (f64, f64),
    description: &str,
    anonymous: bool,
) -> Value {
    app.data_as(
        Some(token),
        REPORT,
        json!({ "i": {
            "idempotencyKey": key(), "categoryCode": category, "description": description,
            "lat": lat, "lon": lon, "anonymous": anonymous,
        } }),
    )
    .await["reportProblem"]
        .clone()
}

/// Changes a problem's status through `updateProblemStatus`; returns the problem.
async fn set_status(
    app: &TestApp,
    token: &str,
    p: &Value,
    status: &str,
    note: Option<(&str, bool)>,
) -> Value {
    let mut input =
        json!({ "problemId": p["id"], "status": status, "expectedVersion": p["version"] });
    if let Some((text, internal)) = note {
        input["note"] = json!(text);
        input["internal"] = json!(internal);
    }
    app.data_as(Some(token), STATUS, json!({ "i": input }))
        .await["updateProblemStatus"]
        .clone()
}

/// Comments on a problem through `commentOnProblem`.
async fn comment(app: &TestApp, token: &str, p: &Value, body: &str, internal: bool) {
    app.data_as(
        Some(token),
        COMMENT,
        json!({ "i": { "idempotencyKey": key(), "problemId": p["id"], "body": body, "internal": internal } }),
    )
    .await;
}

/// Routes a problem to a partner organisation through `assignProblem`; returns the
/// problem.
async fn assign_partner(app: &TestApp, token: &str, p: &Value, partner: &Value) -> Value {
    app.data_as(
        Some(token),
        ASSIGN,
        json!({ "i": { "problemId": p["id"], "partnerId": partner, "expectedVersion": p["version"] } }),
    )
    .await["assignProblem"]
        .clone()
}

/// The first error of a `next` (or `error`) message.
fn error_of(msg: &Value) -> Value {
    match msg["type"].as_str() {
        Some("next") => msg["payload"]["errors"][0].clone(),
        Some("error") => msg["payload"][0].clone(),
        _ => panic!("expected an error, got {msg}"),
    }
}

/// Subscribes and expects the subscription to be refused with `code`; returns the
/// error message.
async fn refused(client: &mut LiveClient, query: &str, variables: Value, code: &str) -> String {
    client.subscribe(query, variables).await;
    let msg = client.next_message(WAIT).await.expect("an answer");
    let error = error_of(&msg);
    assert_eq!(error["extensions"]["code"], code, "{msg}");
    let done = client.next_message(WAIT).await.expect("complete");
    assert_eq!(done["type"], "complete", "{done}");
    error["message"].as_str().expect("message").to_owned()
}

/// The timeline entry kinds of a problem in a `problemUpdated` payload.
fn kinds(payload: &Value) -> Vec<String> {
    payload["data"]["problemUpdated"]["timeline"]["edges"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["node"]["kind"].as_str().expect("kind").to_owned())
        .collect()
}

/// `(problem id, kind)` of a `beatActivity` payload.
fn activity(payload: &Value) -> (String, String) {
    let a = &payload["data"]["beatActivity"];
    (
        a["problem"]["id"].as_str().expect("id").to_owned(),
        a["kind"].as_str().expect("kind").to_owned(),
    )
}

/// The next `count` beat activities a client receives.
async fn take(client: &mut LiveClient, count: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for _ in 0..count {
        seen.push(activity(&client.expect_next(WAIT).await));
    }
    seen
}

/// The next `count` beat activities a client receives, then silence.
async fn activities(client: &mut LiveClient, count: usize) -> Vec<(String, String)> {
    let seen = take(client, count).await;
    client.expect_silence(QUIET).await;
    seen
}

/// A client of the same database through the server at `base`.
fn served_by(app: &TestApp, base: &str) -> TestApp {
    TestApp {
        base: base.to_owned(),
        client: app.client.clone(),
        backend: app.backend,
        db: app.db.clone(),
        events: app.events.clone(),
        database_url: app.database_url.clone(),
    }
}

fn id_of(p: &Value) -> String {
    p["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn changes_reach_the_problem_subscriber_and_internal_notes_never_reach_residents() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let at = point_in_beat(&app, "1011").await;
        let p = report(
            &app,
            &resident,
            "ABANDONED_VEHICLE",
            at,
            "Grey van, no plates.",
            false,
        )
        .await;
        let other = report(&app, &resident, "NOISE", at, "Music after midnight.", false).await;

        let mut resident_ws = LiveClient::connect(&app.base, Some(&resident)).await;
        resident_ws
            .subscribe_synced(PROBLEM_UPDATED, json!({ "id": p["id"] }))
            .await;
        let mut officer_ws = LiveClient::connect(&app.base, Some(&officer)).await;
        officer_ws
            .subscribe_synced(PROBLEM_UPDATED, json!({ "id": p["id"] }))
            .await;

        // A status change with an internal note: the change is public, the note is not.
        let secret = "Plate traced to a repeat case";
        let p = set_status(&app, &officer, &p, "ACKNOWLEDGED", Some((secret, true))).await;
        let answered = Instant::now();
        let seen = resident_ws.expect_next(WAIT).await;
        assert!(
            answered.elapsed() < Duration::from_secs(1),
            "[{:?}] the change took {:?} to arrive",
            app.backend,
            answered.elapsed()
        );
        let live = &seen["data"]["problemUpdated"];
        assert_eq!(live["id"], p["id"]);
        assert_eq!(live["status"], "ACKNOWLEDGED");
        assert_eq!(live["version"], 2);
        assert_eq!(kinds(&seen), ["CREATED", "STATUS_CHANGED"]);
        assert!(!seen.to_string().contains(secret), "{seen}");
        // Staff working it do get the note, so the check above can fail.
        let staff = officer_ws.expect_next(WAIT).await;
        assert!(staff.to_string().contains(secret), "{staff}");

        // An internal comment: the resident is told the problem changed, never what.
        let whisper = "Owner is known to us";
        comment(&app, &officer, &p, whisper, true).await;
        let seen = resident_ws.expect_next(WAIT).await;
        assert!(!seen.to_string().contains(whisper), "{seen}");
        assert_eq!(kinds(&seen), ["CREATED", "STATUS_CHANGED"]);
        let staff = officer_ws.expect_next(WAIT).await;
        assert!(staff.to_string().contains(whisper), "{staff}");

        // A public comment reaches both.
        comment(&app, &officer, &p, "Tow truck booked for Friday.", false).await;
        let seen = resident_ws.expect_next(WAIT).await;
        assert_eq!(kinds(&seen), ["CREATED", "STATUS_CHANGED", "COMMENT"]);
        assert!(seen.to_string().contains("Tow truck booked"), "{seen}");
        officer_ws.expect_next(WAIT).await;

        // Changes of other problems are not sent.
        set_status(&app, &officer, &other, "ACKNOWLEDGED", None).await;
        resident_ws.expect_silence(QUIET).await;
        officer_ws.expect_silence(QUIET).await;
        resident_ws.close().await;
        officer_ws.close().await;
    })
    .await;
}

#[tokio::test]
async fn notifications_reach_only_their_recipient_and_internal_comments_notify_nobody() {
    each_backend(Options::default(), |app| async move {
        let reporter = app.demo_login("resident2@demo.beatline.city").await;
        let neighbour = app.demo_login("resident3@demo.beatline.city").await;
        let officer = app.demo_login("officer.1012@demo.beatline.city").await;
        let at = point_in_beat(&app, "1012").await;
        let p = report(
            &app,
            &reporter,
            "GRAFFITI",
            at,
            "Tags on the underpass.",
            false,
        )
        .await;

        let mut reporter_ws = LiveClient::connect(&app.base, Some(&reporter)).await;
        reporter_ws
            .subscribe_synced(MY_NOTIFICATIONS, json!({}))
            .await;
        let mut neighbour_ws = LiveClient::connect(&app.base, Some(&neighbour)).await;
        neighbour_ws
            .subscribe_synced(MY_NOTIFICATIONS, json!({}))
            .await;

        let whisper = "Same crew as last month";
        comment(&app, &officer, &p, whisper, true).await;
        reporter_ws.expect_silence(QUIET).await;

        let p = set_status(&app, &officer, &p, "ACKNOWLEDGED", None).await;
        let seen = reporter_ws.expect_next(WAIT).await;
        let n = &seen["data"]["myNotifications"];
        assert_eq!(n["kind"], "PROBLEM_STATUS_CHANGED", "{seen}");
        assert_eq!(n["problemId"], p["id"]);
        assert!(n["id"].is_string());

        comment(&app, &officer, &p, "Crew booked for Friday.", false).await;
        let seen = reporter_ws.expect_next(WAIT).await;
        assert_eq!(
            seen["data"]["myNotifications"]["kind"], "PROBLEM_COMMENT",
            "{seen}"
        );
        assert!(!seen.to_string().contains(whisper), "{seen}");
        reporter_ws.expect_silence(QUIET).await;
        // The neighbour follows nothing: nothing of it reaches them.
        neighbour_ws.expect_silence(QUIET).await;

        // Signed out, there is no inbox to watch.
        let mut anonymous = LiveClient::connect(&app.base, None).await;
        let message = refused(
            &mut anonymous,
            MY_NOTIFICATIONS,
            json!({}),
            "UNAUTHENTICATED",
        )
        .await;
        assert!(message.contains("sign in"), "{message}");
        anonymous.close().await;
        reporter_ws.close().await;
        neighbour_ws.close().await;
    })
    .await;
}

#[tokio::test]
async fn beat_activity_follows_the_beat_and_partners_see_only_routed_problems() {
    each_backend(Options::default(), |app| async move {
        let beat = beat_id(&app, "1011").await;
        let resident = app.demo_login("resident4@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let streets = app.demo_login("dispatch@streets.demo.beatline.city").await;
        let health = app.demo_login("outreach@health.demo.beatline.city").await;
        let mut watchers = Vec::new();
        for token in [Some(&officer), Some(&streets), Some(&health), None] {
            let mut ws = LiveClient::connect(&app.base, token.map(String::as_str)).await;
            ws.subscribe_synced(BEAT_ACTIVITY, json!({ "beat": beat }))
                .await;
            watchers.push(ws);
        }

        // In order: another beat's problem, a police problem, a public-health one, one
        // routed to the streets department; then police route theirs to streets too.
        let here = point_in_beat(&app, "1011").await;
        let there = point_in_beat(&app, "1012").await;
        report(
            &app,
            &resident,
            "ILLEGAL_DUMPING",
            there,
            "Mattresses by the bins.",
            false,
        )
        .await;
        let vehicle = report(
            &app,
            &resident,
            "ABANDONED_VEHICLE",
            here,
            "Burnt-out car.",
            false,
        )
        .await;
        let syringe = report(
            &app,
            &resident,
            "SYRINGE_FOUND",
            here,
            "Needles by the swings.",
            false,
        )
        .await;
        let light = report(
            &app,
            &resident,
            "STREETLIGHT_OUT",
            here,
            "Dark corner.",
            false,
        )
        .await;
        let streets_id = light["assignedPartner"]["id"].clone();
        assert!(streets_id.is_string(), "{light}");
        let reported = |p: &Value| (id_of(p), "REPORTED".to_owned());
        let changed = |p: &Value| (id_of(p), "CHANGED".to_owned());
        let [officer_ws, streets_ws, health_ws, anonymous_ws] = &mut watchers[..] else {
            unreachable!()
        };
        // Each event carries the problem as it is when the server sends it: wait until
        // the reports are out before routing one, so that it shows as a change.
        assert_eq!(
            take(officer_ws, 2).await,
            [reported(&vehicle), reported(&light)],
            "[{:?}] the officer sees the beat's non-sensitive problems",
            app.backend
        );
        assign_partner(&app, &officer, &vehicle, &streets_id).await;
        assert_eq!(activities(officer_ws, 1).await, [changed(&vehicle)]);
        assert_eq!(
            activities(streets_ws, 2).await,
            [reported(&light), changed(&vehicle)],
            "[{:?}] the streets department sees only what is routed to it",
            app.backend
        );
        assert_eq!(
            activities(health_ws, 1).await,
            [reported(&syringe)],
            "[{:?}] the health department sees only its public-health problem",
            app.backend
        );
        assert_eq!(
            activities(anonymous_ws, 3).await,
            [reported(&vehicle), reported(&light), changed(&vehicle)],
            "[{:?}] the public sees the beat's non-sensitive problems",
            app.backend
        );
        for ws in watchers {
            ws.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn watching_is_refused_as_reading_is() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident5@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        let health = app.demo_login("outreach@health.demo.beatline.city").await;
        let streets = app.demo_login("dispatch@streets.demo.beatline.city").await;
        let east = beat_id(&app, "2021").await;
        let at = point_in_beat(&app, "1011").await;
        let syringe = report(
            &app,
            &resident,
            "SYRINGE_FOUND",
            at,
            "Needles on the path.",
            false,
        )
        .await;
        let light = report(
            &app,
            &resident,
            "STREETLIGHT_OUT",
            at,
            "Flickering lamp.",
            false,
        )
        .await;

        // Officers watch only their beats, captains only their precincts.
        let mut officer_ws = LiveClient::connect(&app.base, Some(&officer)).await;
        let message = refused(
            &mut officer_ws,
            BEAT_ACTIVITY,
            json!({ "beat": east }),
            "FORBIDDEN",
        )
        .await;
        assert!(message.contains("beats they are assigned to"), "{message}");
        let mut captain_ws = LiveClient::connect(&app.base, Some(&captain)).await;
        let message = refused(
            &mut captain_ws,
            BEAT_ACTIVITY,
            json!({ "beat": east }),
            "FORBIDDEN",
        )
        .await;
        assert!(message.contains("beats of their precincts"), "{message}");

        // Police and the public never see public-health problems, live or not.
        let message = refused(
            &mut officer_ws,
            PROBLEM_UPDATED,
            json!({ "id": syringe["id"] }),
            "NOT_FOUND",
        )
        .await;
        assert!(message.contains("no problem"), "{message}");
        let mut anonymous = LiveClient::connect(&app.base, None).await;
        refused(
            &mut anonymous,
            PROBLEM_UPDATED,
            json!({ "id": syringe["id"] }),
            "NOT_FOUND",
        )
        .await;
        refused(
            &mut anonymous,
            PROBLEM_UPDATED,
            json!({ "id": Uuid::now_v7().to_string() }),
            "NOT_FOUND",
        )
        .await;
        let message = refused(
            &mut anonymous,
            PROBLEM_UPDATED,
            json!({ "id": "not-an-id" }),
            "BAD_USER_INPUT",
        )
        .await;
        assert!(message.contains("not a valid problem id"), "{message}");
        // Errors of the engine itself (an unknown field) carry a code too.
        let message = refused(
            &mut anonymous,
            "subscription { noSuchField }",
            json!({}),
            "BAD_USER_INPUT",
        )
        .await;
        assert!(message.contains("noSuchField"), "{message}");

        // A problem that becomes hidden stops showing: the health department routes its
        // problem to the streets department, and hears no more of it.
        let mut health_ws = LiveClient::connect(&app.base, Some(&health)).await;
        health_ws
            .subscribe_synced(PROBLEM_UPDATED, json!({ "id": syringe["id"] }))
            .await;
        let mut streets_ws = LiveClient::connect(&app.base, Some(&streets)).await;
        refused(
            &mut streets_ws,
            PROBLEM_UPDATED,
            json!({ "id": syringe["id"] }),
            "NOT_FOUND",
        )
        .await;
        let syringe = set_status(&app, &health, &syringe, "ACKNOWLEDGED", None).await;
        let seen = health_ws.expect_next(WAIT).await;
        assert_eq!(seen["data"]["problemUpdated"]["status"], "ACKNOWLEDGED");
        let syringe =
            assign_partner(&app, &health, &syringe, &light["assignedPartner"]["id"]).await;
        streets_ws
            .subscribe_synced(PROBLEM_UPDATED, json!({ "id": syringe["id"] }))
            .await;
        set_status(&app, &streets, &syringe, "IN_PROGRESS", None).await;
        let seen = streets_ws.expect_next(WAIT).await;
        assert_eq!(seen["data"]["problemUpdated"]["status"], "IN_PROGRESS");
        health_ws.expect_silence(QUIET).await;

        for ws in [officer_ws, captain_ws, anonymous, health_ws, streets_ws] {
            ws.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn anonymous_reporters_are_never_revealed_live() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident6@demo.beatline.city").await;
        let name = app
            .data_as(Some(&resident), "{ me { displayName } }", json!({}))
            .await["me"]["displayName"]
            .as_str()
            .expect("displayName")
            .to_owned();
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        let mut staff = Vec::new();
        for token in [&officer, &captain] {
            let mut ws = LiveClient::connect(&app.base, Some(token)).await;
            ws.subscribe_synced(BEAT_ACTIVITY, json!({ "beat": beat }))
                .await;
            staff.push(ws);
        }
        let at = point_in_beat(&app, "1011").await;

        let hidden = report(
            &app,
            &resident,
            "DRUG_ACTIVITY",
            at,
            "Sales by the lot.",
            true,
        )
        .await;
        for ws in &mut staff {
            let seen = ws.expect_next(WAIT).await;
            let p = &seen["data"]["beatActivity"]["problem"];
            assert_eq!(p["id"], hidden["id"]);
            assert_eq!(p["anonymous"], true);
            assert!(p["reporter"].is_null(), "{seen}");
            assert!(
                p["timeline"]["edges"][0]["node"]["actor"].is_null(),
                "{seen}"
            );
            assert!(!seen.to_string().contains(&name), "{seen}");
        }
        // Named reports do show the reporter to staff, so the checks above can fail.
        let named = report(
            &app,
            &resident,
            "GRAFFITI",
            at,
            "Tags on the bridge.",
            false,
        )
        .await;
        for ws in &mut staff {
            let seen = ws.expect_next(WAIT).await;
            let p = &seen["data"]["beatActivity"]["problem"];
            assert_eq!(p["id"], named["id"]);
            assert_eq!(p["reporter"]["displayName"], name.as_str(), "{seen}");
        }
        for ws in staff {
            ws.close().await;
        }
    })
    .await;
}

/// Two servers on one database: a change made through replica A reaches subscribers
/// connected to replica B (LISTEN/NOTIFY on PostgreSQL), with the same authorization,
/// and a sign-out through A closes B's connection of that session. SQLite serves one
/// process, so there both the change and the subscriber go through the replica.
#[tokio::test]
async fn a_change_through_one_replica_reaches_subscribers_of_another() {
    each_backend(Options::default(), |app| async move {
        let replica = spawn_replica(&app).await;
        let b = format!("http://{}", replica.addr);
        // Where changes are made: the other replica on PostgreSQL, the same on SQLite.
        let writer = match app.backend {
            Backend::Postgres => app.base.clone(),
            Backend::Sqlite => b.clone(),
        };
        let a = served_by(&app, &writer);
        let resident = a.demo_login("resident7@demo.beatline.city").await;
        let officer = a.demo_login("officer.1013@demo.beatline.city").await;
        let streets = a.demo_login("dispatch@streets.demo.beatline.city").await;
        let beat = beat_id(&a, "1013").await;
        let at = point_in_beat(&a, "1013").await;
        let mut officer_ws = LiveClient::connect(&b, Some(&officer)).await;
        officer_ws
            .subscribe_synced(BEAT_ACTIVITY, json!({ "beat": beat }))
            .await;
        let mut streets_ws = LiveClient::connect(&b, Some(&streets)).await;
        streets_ws
            .subscribe_synced(BEAT_ACTIVITY, json!({ "beat": beat }))
            .await;

        // A report through A reaches the officer on B.
        let p = report(
            &a,
            &resident,
            "ABANDONED_VEHICLE",
            at,
            "Van on blocks.",
            false,
        )
        .await;
        assert_eq!(
            take(&mut officer_ws, 1).await,
            [(id_of(&p), "REPORTED".to_owned())]
        );
        let mut resident_ws = LiveClient::connect(&b, Some(&resident)).await;
        resident_ws
            .subscribe_synced(PROBLEM_UPDATED, json!({ "id": p["id"] }))
            .await;

        let p = set_status(
            &a,
            &officer,
            &p,
            "ACKNOWLEDGED",
            Some(("Checked the VIN", true)),
        )
        .await;
        let answered = Instant::now();
        let seen = resident_ws.expect_next(WAIT).await;
        assert!(
            answered.elapsed() < Duration::from_secs(1),
            "[{:?}] the change took {:?} to cross replicas",
            app.backend,
            answered.elapsed()
        );
        assert_eq!(seen["data"]["problemUpdated"]["status"], "ACKNOWLEDGED");
        assert!(!seen.to_string().contains("Checked the VIN"), "{seen}");
        assert_eq!(
            activities(&mut officer_ws, 1).await,
            [(id_of(&p), "CHANGED".to_owned())]
        );

        // A new report through A: the officer on B sees it, the streets department
        // only the one routed to it.
        let light = report(&a, &resident, "STREETLIGHT_OUT", at, "Lamp out.", false).await;
        assert_eq!(
            activities(&mut officer_ws, 1).await,
            [(id_of(&light), "REPORTED".to_owned())]
        );
        assert_eq!(
            activities(&mut streets_ws, 1).await,
            [(id_of(&light), "REPORTED".to_owned())],
            "[{:?}] the partner sees only its problems, on every replica",
            app.backend
        );
        resident_ws.expect_silence(QUIET).await;

        // A change through B itself is delivered once, not again as an echo.
        let on_b = served_by(&app, &b);
        set_status(&on_b, &officer, &p, "IN_PROGRESS", None).await;
        let seen = resident_ws.expect_next(WAIT).await;
        assert_eq!(seen["data"]["problemUpdated"]["status"], "IN_PROGRESS");
        resident_ws.expect_silence(QUIET).await;

        // Signing out through A closes the session's connection on B.
        a.data_as(Some(&resident), "mutation { logout }", json!({}))
            .await;
        let (code, reason) = resident_ws.expect_close(WAIT).await;
        assert_eq!(code, 4401, "{reason}");
        assert!(reason.contains("session has ended"), "{reason}");
        assert!(officer_ws.ping(WAIT).await, "other sessions stay open");

        officer_ws.close().await;
        streets_ws.close().await;
        replica.shutdown().await.expect("replica shutdown");
    })
    .await;
}

#[tokio::test]
async fn the_handshake_follows_graphql_transport_ws() {
    let options = Options {
        sessions: SessionConfig {
            ws_init_timeout_ms: 600,
            ..SessionConfig::default()
        },
        ..Options::default()
    };
    each_backend(options, |app| async move {
        // No `connection_init` in time: 4408.
        let started = Instant::now();
        let mut silent = LiveClient::open(&app.base).await;
        let (code, reason) = silent.expect_close(WAIT).await;
        assert_eq!(
            (code, reason.as_str()),
            (4408, "Connection initialisation timeout")
        );
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "closed after {:?}, before the timeout",
            started.elapsed()
        );
        // Pings are answered before `connection_init`, but do not stand for it.
        let mut pinging = LiveClient::open(&app.base).await;
        assert!(pinging.ping(WAIT).await, "no pong before connection_init");
        assert_eq!(pinging.expect_close(WAIT).await.0, 4408);

        // Subscribing before the acknowledgement: 4401; not the protocol: 4400.
        let mut eager = LiveClient::open(&app.base).await;
        eager
            .subscribe("subscription { myNotifications { id } }", json!({}))
            .await;
        assert_eq!(
            eager.expect_close(WAIT).await,
            (4401, "Unauthorized".to_owned())
        );
        let mut confused = LiveClient::open(&app.base).await;
        confused.send(json!({ "type": "hello" })).await;
        let (code, reason) = confused.expect_close(WAIT).await;
        assert_eq!(code, 4400, "{reason}");

        // Bad, expired and revoked tokens: 4403 with the reason.
        let forbidden = |payload: Value| {
            let base = app.base.clone();
            async move {
                match LiveClient::handshake(&base, payload).await {
                    Handshake::Closed(code, reason) => {
                        assert_eq!(code, 4403, "{reason}");
                        reason
                    }
                    Handshake::Acked(_) => panic!("the connection was accepted"),
                }
            }
        };
        let reason = forbidden(json!({ "accessToken": "not-a-token" })).await;
        assert!(reason.contains("access token is not valid"), "{reason}");
        let token = app.demo_login("resident8@demo.beatline.city").await;
        let expired = reissued(&token, -60);
        let reason = forbidden(json!({ "authorization": format!("Bearer {expired}") })).await;
        assert!(reason.contains("expired"), "{reason}");
        let ended = app.demo_login("resident8@demo.beatline.city").await;
        app.data_as(Some(&ended), "mutation { logout }", json!({}))
            .await;
        let reason = forbidden(json!({ "authorization": format!("Bearer {ended}") })).await;
        assert!(reason.contains("session has ended"), "{reason}");

        // A good token, and no token, are acknowledged; the connection then stays
        // open past the initialisation timeout and answers pings.
        let mut client = LiveClient::connect(&app.base, Some(&token)).await;
        let mut anonymous = LiveClient::connect(&app.base, None).await;
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(client.ping(WAIT).await, "no pong after the handshake");
        assert!(anonymous.ping(WAIT).await, "no pong after the handshake");
        client.expect_silence(QUIET).await;
        // A second `connection_init`: 4429.
        client
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        assert_eq!(client.expect_close(WAIT).await.0, 4429);
        anonymous.close().await;
    })
    .await;
}

/// `token` signed again with its expiry moved `by_secs` from now.
fn reissued(token: &str, by_secs: i64) -> String {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    let mut claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a token of the test server")
    .claims;
    claims["exp"] = json!(chrono::Utc::now().timestamp() + by_secs);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn a_connection_ends_when_its_access_token_expires() {
    let options = Options {
        sessions: SessionConfig {
            access_token_ttl_secs: 3,
            ..SessionConfig::default()
        },
        ..Options::default()
    };
    each_backend(options, |app| async move {
        let login = app
            .data(
                LOGIN,
                json!({ "e": "resident9@demo.beatline.city", "p": beatline_tests::DEMO_PASSWORD }),
            )
            .await["login"]
            .clone();
        let token = login["accessToken"].as_str().expect("token").to_owned();
        let expires_at: chrono::DateTime<chrono::Utc> = login["accessTokenExpiresAt"]
            .as_str()
            .expect("expiry")
            .parse()
            .expect("an RFC 3339 time");
        let left = expires_at - chrono::Utc::now();
        assert!(
            left <= chrono::Duration::seconds(3),
            "the TTL is not applied: {left}"
        );

        let mut client = LiveClient::connect(&app.base, Some(&token)).await;
        client.subscribe_synced(MY_NOTIFICATIONS, json!({})).await;
        assert!(
            client.ping(WAIT).await,
            "the connection works before expiry"
        );
        let (code, reason) = client.expect_close(Duration::from_secs(8)).await;
        let late = chrono::Utc::now() - expires_at;
        assert_eq!(code, 4401, "{reason}");
        assert!(
            reason.contains("expired") && reason.contains("refreshSession"),
            "{reason}"
        );
        // JWT expiries are whole seconds, so the token may end up to a second early.
        assert!(
            late > chrono::Duration::milliseconds(-1100) && late < chrono::Duration::seconds(2),
            "[{:?}] closed {late} after the token's expiry",
            app.backend
        );

        // The expired token opens nothing, even within the API's clock-skew leeway;
        // a refreshed one does.
        match LiveClient::handshake(&app.base, json!({ "accessToken": token })).await {
            Handshake::Closed(code, reason) => {
                assert_eq!(code, 4403, "{reason}");
                assert!(reason.contains("expired"), "{reason}");
            }
            Handshake::Acked(_) => panic!("an expired token was accepted"),
        }
        let fresh = app
            .data(
                "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
                json!({ "t": login["refreshToken"] }),
            )
            .await["refreshSession"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        let mut client = LiveClient::connect(&app.base, Some(&fresh)).await;
        assert!(client.ping(WAIT).await);
        client.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_connection_ends_with_its_session() {
    each_backend(Options::default(), |app| async move {
        let login = |email: &'static str| {
            let app = &app;
            async move {
                app.data(
                    LOGIN,
                    json!({ "e": email, "p": beatline_tests::DEMO_PASSWORD }),
                )
                .await["login"]
                    .clone()
            }
        };
        let token = |l: &Value| l["accessToken"].as_str().expect("token").to_owned();

        // Signing out closes that session's connections only.
        let phone = login("resident10@demo.beatline.city").await;
        let laptop = login("resident10@demo.beatline.city").await;
        let mut phone_ws = LiveClient::connect(&app.base, Some(&token(&phone))).await;
        phone_ws.subscribe_synced(MY_NOTIFICATIONS, json!({})).await;
        let mut laptop_ws = LiveClient::connect(&app.base, Some(&token(&laptop))).await;
        app.data_as(Some(&token(&phone)), "mutation { logout }", json!({}))
            .await;
        let (code, reason) = phone_ws.expect_close(WAIT).await;
        assert_eq!(code, 4401, "{reason}");
        assert!(reason.contains("session has ended"), "{reason}");
        assert!(
            laptop_ws.ping(WAIT).await,
            "the other session's connection closed"
        );

        // A refresh token presented twice ends its session, and so its connections.
        let first = app
            .data(
                "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
                json!({ "t": laptop["refreshToken"] }),
            )
            .await["refreshSession"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        let mut refreshed_ws = LiveClient::connect(&app.base, Some(&first)).await;
        let reuse = app
            .gql(
                "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
                json!({ "t": laptop["refreshToken"] }),
            )
            .await;
        assert_eq!(
            beatline_tests::error_code(&reuse),
            "UNAUTHENTICATED",
            "{reuse}"
        );
        assert_eq!(refreshed_ws.expect_close(WAIT).await.0, 4401);
        assert_eq!(laptop_ws.expect_close(WAIT).await.0, 4401);

        // Erasing the account ends every session.
        let email = format!("live-{}@example.org", Uuid::now_v7().simple());
        let registered = app
            .data(
                "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
                json!({ "i": { "email": email, "password": STRONG, "displayName": "Lee" } }),
            )
            .await;
        let one = registered["register"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        let two = app.login(&email, STRONG).await;
        let mut one_ws = LiveClient::connect(&app.base, Some(&one)).await;
        let mut two_ws = LiveClient::connect(&app.base, Some(&two)).await;
        app.data_as(Some(&two), "mutation { deleteMyAccount }", json!({}))
            .await;
        assert_eq!(one_ws.expect_close(WAIT).await.0, 4401);
        assert_eq!(two_ws.expect_close(WAIT).await.0, 4401);
    })
    .await;
}
