//! Reporting and working problems: reporting and routing, the lifecycle with
//! optimistic locking, timeline and comments, assignment, follow and support,
//! duplicates, ratings, idempotency under concurrency, anonymity, photos.

use std::collections::HashSet;

use beatline_tests::{Options, TestApp, each_backend, error_code, error_message};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    PaginatorTrait as _, QueryFilter as _,
};
use serde_json::{Value, json};

const REPORT: &str = "mutation($i: ReportProblemInput!) { reportProblem(input: $i) {
  id reference status version supportCount dueAt createdAt anonymous
  category { serviceCode slaHours } beat { code } neighborhood { name }
  assignedPartner { name } reporter { displayName } } }";

const PROBLEM: &str = "query($id: ID!) { problem(id: $id) {
  id reference status version supportCount anonymous
  reporter { displayName } assignedOfficer { displayName } assignedPartner { name }
  rating { rating comment }
  timeline(first: 100) { edges { node { kind actor { displayName } byReporter fromStatus toStatus body visibility rating } }
    pageInfo { hasNextPage endCursor } } } }";

const STATUS: &str = "mutation($i: UpdateProblemStatusInput!) { updateProblemStatus(input: $i) { id status version } }";
const COMMENT: &str = "mutation($i: CommentOnProblemInput!) { commentOnProblem(input: $i) { id kind body visibility actor { displayName } } }";
const ASSIGN: &str = "mutation($i: AssignProblemInput!) { assignProblem(input: $i) { id version assignedOfficer { displayName } assignedPartner { name } } }";
const SUPPORT: &str = "mutation($id: ID!) { supportProblem(problemId: $id) { id supportCount } }";
const RATE: &str = "mutation($i: RateResolutionInput!) { rateResolution(input: $i) { id rating { rating comment } } }";

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A point inside a beat: the location of one of its demo problems.
pub(crate) async fn point_in_beat(app: &TestApp, code: &str) -> (f64, f64) {
    let beats = app.data("{ beats { id code } }", json!({})).await;
    let beat = beats["beats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == code)
        .unwrap()
        .clone();
    let data = app
        .data(
            "query($b: ID!) { problems(filter: { beatId: $b }, first: 1) { edges { node { lat lon } } } }",
            json!({ "b": beat["id"] }),
        )
        .await;
    let node = &data["problems"]["edges"][0]["node"];
    (node["lat"].as_f64().unwrap(), node["lon"].as_f64().unwrap())
}

pub(crate) fn report_input(category: &str, (lat, lon): (f64, f64), description: &str) -> Value {
    json!({
        "idempotencyKey": key(),
        "categoryCode": category,
        "description": description,
        "lat": lat,
        "lon": lon,
        "address": "1200 Maple Ave",
    })
}

async fn report(app: &TestApp, token: &str, input: Value) -> Value {
    app.data_as(Some(token), REPORT, json!({ "i": input }))
        .await["reportProblem"]
        .clone()
}

async fn problem(app: &TestApp, token: Option<&str>, id: &Value) -> Value {
    app.data_as(token, PROBLEM, json!({ "id": id })).await["problem"].clone()
}

async fn set_status(app: &TestApp, token: &str, p: &Value, status: &str) -> Value {
    app.gql_as(
        Some(token),
        STATUS,
        json!({ "i": { "problemId": p["id"], "status": status, "expectedVersion": p["version"] } }),
    )
    .await
}

async fn my_id(app: &TestApp, token: &str) -> Value {
    app.data_as(Some(token), "{ me { id } }", json!({})).await["me"]["id"].clone()
}

fn kinds(p: &Value) -> Vec<String> {
    p["timeline"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_report_is_routed_and_worked_to_resolution_with_a_full_timeline() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let at = point_in_beat(&app, "1011").await;

        // A police category stays with the beat.
        let p = report(
            &app,
            &resident,
            report_input(
                "ABANDONED_VEHICLE",
                at,
                "Grey van without plates for two weeks.",
            ),
        )
        .await;
        assert_eq!(p["status"], "NEW");
        assert_eq!(p["version"], 1);
        assert_eq!(p["beat"]["code"], "1011");
        assert!(p["assignedPartner"].is_null(), "{p}");
        let year = chrono::Utc::now().format("%Y").to_string();
        let reference = p["reference"].as_str().unwrap();
        assert!(reference.starts_with(&format!("BL-{year}-")), "{reference}");
        assert_eq!(reference.len(), "BL-2026-000123".len());
        let created: chrono::DateTime<chrono::Utc> =
            p["createdAt"].as_str().unwrap().parse().unwrap();
        let due: chrono::DateTime<chrono::Utc> = p["dueAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            (due - created).num_hours(),
            p["category"]["slaHours"].as_i64().unwrap()
        );
        assert!(
            p["reporter"]["displayName"].is_string(),
            "the reporter sees themselves"
        );

        // A partner category goes to its partner at once.
        let light = report(
            &app,
            &resident,
            report_input("STREETLIGHT_OUT", at, "Dark for a week."),
        )
        .await;
        assert_eq!(light["assignedPartner"]["name"], "Streets and Sanitation");
        let n1: u64 = reference[8..].parse().unwrap();
        let n2: u64 = light["reference"].as_str().unwrap()[8..].parse().unwrap();
        assert_eq!(n2, n1 + 1, "references count up");

        // The officer works it through to resolution.
        let mut current = p.clone();
        for status in ["ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED"] {
            let body = set_status(&app, &officer, &current, status).await;
            assert!(body.get("errors").is_none(), "{body}");
            let next = body["data"]["updateProblemStatus"].clone();
            assert_eq!(next["status"], status);
            assert_eq!(next["version"], current["version"].as_i64().unwrap() + 1);
            current = next;
        }

        // The resident sees every change in the timeline.
        let seen = problem(&app, Some(&resident), &p["id"]).await;
        assert_eq!(
            kinds(&seen),
            [
                "CREATED",
                "STATUS_CHANGED",
                "STATUS_CHANGED",
                "STATUS_CHANGED"
            ]
        );
        let last = &seen["timeline"]["edges"][3]["node"];
        assert_eq!(last["fromStatus"], "IN_PROGRESS");
        assert_eq!(last["toStatus"], "RESOLVED");
        assert!(last["actor"]["displayName"].is_string());
        assert_eq!(seen["timeline"]["edges"][0]["node"]["byReporter"], true);

        // The reporter follows automatically and was notified of each change, by the
        // outbox, in the same transactions.
        let pid: uuid::Uuid = p["id"].as_str().unwrap().parse().unwrap();
        let notes = entity::notification::Entity::find()
            .filter(entity::notification::Column::ProblemId.eq(pid))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes.iter().all(|n| n.kind == "PROBLEM_STATUS_CHANGED"));

        // Within 14 days the reporter may reopen it; the officer may close it afterwards.
        let reopened = set_status(&app, &resident, &current, "IN_PROGRESS").await;
        assert!(reopened.get("errors").is_none(), "{reopened}");
        let seen = problem(&app, Some(&resident), &p["id"]).await;
        assert_eq!(kinds(&seen).last().unwrap(), "REOPENED");
    })
    .await;
}

#[tokio::test]
async fn bad_reports_are_refused_with_actionable_messages() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident2@demo.beatline.city").await;
        let at = point_in_beat(&app, "2021").await;
        let cases = [
            (
                report_input("NOISE", (0.0, 0.0), "Loud"),
                "outside the service area",
            ),
            (report_input("NO_SUCH_THING", at, "Loud"), "categories"),
            (report_input("NOISE", at, "   "), "empty"),
            (report_input("NOISE", (91.0, 0.0), "Loud"), "latitude"),
            (
                report_input("SUSPICIOUS_PERSON", at, "Tall man in a hoodie"),
                "what the person is doing",
            ),
        ];
        for (input, words) in cases {
            let body = app
                .gql_as(Some(&resident), REPORT, json!({ "i": input }))
                .await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains(words), "{words}: {body}");
        }
        let mut bad_key = report_input("NOISE", at, "Loud music every night");
        bad_key["idempotencyKey"] = json!("x");
        let body = app
            .gql_as(Some(&resident), REPORT, json!({ "i": bad_key }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("idempotencyKey"), "{body}");
        // Signed out: nobody to follow the report.
        let body = app
            .gql(
                REPORT,
                json!({ "i": report_input("NOISE", at, "Loud music") }),
            )
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        // A behaviour description is accepted.
        let ok = report(
            &app,
            &resident,
            report_input(
                "SUSPICIOUS_PERSON",
                at,
                "Someone trying car door handles along the street after midnight",
            ),
        )
        .await;
        assert_eq!(ok["status"], "NEW");
    })
    .await;
}

#[tokio::test]
async fn public_health_reports_go_only_to_their_partner() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident3@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        let health = app.demo_login("outreach@health.demo.beatline.city").await;
        let at = point_in_beat(&app, "1011").await;
        let p = report(&app, &resident, report_input("SYRINGE_FOUND", at, "Needles by the swings.")).await;
        assert_eq!(p["assignedPartner"]["name"], "Harbor City Health Department");
        for police in [&officer, &captain] {
            let body = app.gql_as(Some(police), PROBLEM, json!({ "id": p["id"] })).await;
            assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
            let body = set_status(&app, police, &p, "ACKNOWLEDGED").await;
            assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
        }
        let anon = app.gql(PROBLEM, json!({ "id": p["id"] })).await;
        assert_eq!(error_code(&anon), "NOT_FOUND", "{anon}");
        // The health department works it and cannot hand it to police.
        let body = set_status(&app, &health, &p, "ACKNOWLEDGED").await;
        assert!(body.get("errors").is_none(), "{body}");
        let officer_id = my_id(&app, &officer).await;
        let body = app
            .gql_as(
                Some(&health),
                ASSIGN,
                json!({ "i": { "problemId": p["id"], "officerId": officer_id, "expectedVersion": 2 } }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("never to police"), "{body}");
        // The outreach worker was notified when it was reported.
        let health_id: uuid::Uuid = my_id(&app, &health).await.as_str().unwrap().parse().unwrap();
        let notes = entity::notification::Entity::find()
            .filter(entity::notification::Column::UserId.eq(health_id))
            .filter(entity::notification::Column::Kind.eq("PROBLEM_ASSIGNED"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(notes, 1);
    })
    .await;
}

#[tokio::test]
async fn transitions_follow_the_table_and_stale_versions_conflict() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident4@demo.beatline.city").await;
        let officer = app.demo_login("officer.1012@demo.beatline.city").await;
        let other_officer = app.demo_login("officer.2021@demo.beatline.city").await;
        let at = point_in_beat(&app, "1012").await;
        let p = report(
            &app,
            &resident,
            report_input("NOISE", at, "Loud music after midnight."),
        )
        .await;

        let body = set_status(&app, &officer, &p, "CLOSED").await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            error_message(&body)
                .contains("ACKNOWLEDGED, IN_PROGRESS, RESOLVED, DUPLICATE or NOT_ACTIONABLE"),
            "{body}"
        );
        let body = set_status(&app, &officer, &p, "DUPLICATE").await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("markDuplicate"), "{body}");
        let body = set_status(&app, &resident, &p, "ACKNOWLEDGED").await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
        let body = set_status(&app, &other_officer, &p, "ACKNOWLEDGED").await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

        // Two officers race from version 1: one wins, the other gets CONFLICT with the
        // current version, and nothing of theirs is written.
        let ok = set_status(&app, &officer, &p, "ACKNOWLEDGED").await;
        assert!(ok.get("errors").is_none(), "{ok}");
        let stale = set_status(&app, &officer, &p, "NOT_ACTIONABLE").await;
        assert_eq!(error_code(&stale), "CONFLICT", "{stale}");
        assert_eq!(
            stale["errors"][0]["extensions"]["currentVersion"], 2,
            "{stale}"
        );
        assert!(error_message(&stale).contains("version"), "{stale}");
        let now = problem(&app, Some(&officer), &p["id"]).await;
        assert_eq!(now["status"], "ACKNOWLEDGED");
        assert_eq!(now["version"], 2);
        assert_eq!(kinds(&now).len(), 2);

        // Reopening: only the reporter, only a RESOLVED problem, only within 14 days.
        let resolved =
            set_status(&app, &officer, &now, "RESOLVED").await["data"]["updateProblemStatus"]
                .clone();
        let pid: uuid::Uuid = p["id"].as_str().unwrap().parse().unwrap();
        let mut row = entity::problem::Entity::find_by_id(pid)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        row.resolved_at = sea_orm::Set(Some(chrono::Utc::now() - chrono::Duration::days(15)));
        row.update(&app.db).await.unwrap();
        let late = set_status(&app, &resident, &resolved, "IN_PROGRESS").await;
        assert_eq!(error_code(&late), "FORBIDDEN", "{late}");
        assert!(error_message(&late).contains("14 days"), "{late}");
        let closed = set_status(&app, &officer, &resolved, "CLOSED").await;
        assert!(closed.get("errors").is_none(), "{closed}");
        let closed = closed["data"]["updateProblemStatus"].clone();
        let body = set_status(&app, &officer, &closed, "IN_PROGRESS").await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            error_message(&body).contains("it can become none"),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn comments_are_public_or_internal_and_retries_do_not_duplicate_them() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident5@demo.beatline.city").await;
        let neighbour = app.demo_login("resident6@demo.beatline.city").await;
        let officer = app.demo_login("officer.1013@demo.beatline.city").await;
        let at = point_in_beat(&app, "1013").await;
        let p = report(&app, &resident, report_input("GRAFFITI", at, "Tags on the underpass.")).await;

        let comment = |k: String, body: &str, internal: bool| {
            json!({ "i": { "idempotencyKey": k, "problemId": p["id"], "body": body, "internal": internal } })
        };
        let k = key();
        let first = app.data_as(Some(&officer), COMMENT, comment(k.clone(), "Crew booked for Friday.", false)).await;
        let again = app.data_as(Some(&officer), COMMENT, comment(k.clone(), "Crew booked for Friday.", false)).await;
        assert_eq!(first["commentOnProblem"]["id"], again["commentOnProblem"]["id"]);
        let changed = app.gql_as(Some(&officer), COMMENT, comment(k, "Something else", false)).await;
        assert_eq!(error_code(&changed), "CONFLICT", "{changed}");
        assert!(error_message(&changed).contains("idempotency key"), "{changed}");

        app.data_as(Some(&officer), COMMENT, comment(key(), "Owner is a repeat case.", true)).await;
        let body = app.gql_as(Some(&neighbour), COMMENT, comment(key(), "psst", true)).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
        let body = app.gql_as(Some(&neighbour), COMMENT, comment(key(), " ", false)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        app.data_as(Some(&neighbour), COMMENT, comment(key(), "Same on my block.", false)).await;

        let staff_view = problem(&app, Some(&officer), &p["id"]).await;
        let public_view = problem(&app, Some(&neighbour), &p["id"]).await;
        assert_eq!(kinds(&staff_view), ["CREATED", "COMMENT", "COMMENT", "COMMENT"]);
        assert_eq!(kinds(&public_view), ["CREATED", "COMMENT", "COMMENT"]);
        assert!(!public_view.to_string().contains("repeat case"));
        // Public comments notified the reporter (twice: officer, neighbour), never the
        // author, and the internal one notified nobody.
        let pid: uuid::Uuid = p["id"].as_str().unwrap().parse().unwrap();
        let notes = entity::notification::Entity::find()
            .filter(entity::notification::Column::ProblemId.eq(pid))
            .filter(entity::notification::Column::Kind.eq("PROBLEM_COMMENT"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(notes, 2);
    })
    .await;
}

#[tokio::test]
async fn assignment_stays_within_the_beat_and_captains_reassign_in_the_precinct() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident7@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let neighbour_officer = app.demo_login("officer.1012@demo.beatline.city").await;
        let east_officer = app.demo_login("officer.2021@demo.beatline.city").await;
        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        let at = point_in_beat(&app, "1011").await;
        let p = report(&app, &resident, report_input("DRUG_ACTIVITY", at, "Hand-to-hand sales by the lot.")).await;
        let assign = |token: &str, officer_id: &Value, version: i64| {
            let token = token.to_owned();
            let vars = json!({ "i": { "problemId": p["id"], "officerId": officer_id, "expectedVersion": version } });
            let app = &app;
            async move { app.gql_as(Some(&token), ASSIGN, vars).await }
        };
        let me = my_id(&app, &officer).await;
        let other = my_id(&app, &neighbour_officer).await;
        let east = my_id(&app, &east_officer).await;

        let body = assign(&officer, &other, 1).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("captain"), "{body}");
        let body = assign(&officer, &me, 1).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert!(body["data"]["assignProblem"]["assignedOfficer"]["displayName"].is_string());
        let body = assign(&captain, &east, 2).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        let body = assign(&captain, &other, 2).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["assignProblem"]["version"], 3);
        let body = assign(&east_officer, &east, 3).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
        let body = app
            .gql_as(Some(&captain), ASSIGN, json!({ "i": { "problemId": p["id"], "expectedVersion": 3 } }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("exactly one"), "{body}");
        // The new assignee was notified.
        let other_id: uuid::Uuid = other.as_str().unwrap().parse().unwrap();
        let notes = entity::notification::Entity::find()
            .filter(entity::notification::Column::UserId.eq(other_id))
            .filter(entity::notification::Column::Kind.eq("PROBLEM_ASSIGNED"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(notes, 1);
    })
    .await;
}

#[tokio::test]
async fn support_counts_once_and_sorts_and_duplicates_merge_into_the_original() {
    each_backend(Options::default(), |app| async move {
        let first = app.demo_login("resident8@demo.beatline.city").await;
        let second = app.demo_login("resident9@demo.beatline.city").await;
        let third = app.demo_login("resident10@demo.beatline.city").await;
        let officer = app.demo_login("officer.2022@demo.beatline.city").await;
        let (lat, lon) = point_in_beat(&app, "2022").await;
        let original = report(&app, &first, report_input("ILLEGAL_DUMPING", (lat, lon), "Mattresses in the alley.")).await;

        // Before submitting, the second resident sees it nearby and supports it instead.
        let similar = app
            .data_as(
                Some(&second),
                "query($a: Float!, $o: Float!) { similarProblems(lat: $a, lon: $o, categoryCode: \"ILLEGAL_DUMPING\") { id } }",
                json!({ "a": lat + 0.0005, "o": lon }),
            )
            .await;
        let ids: Vec<_> = similar["similarProblems"].as_array().unwrap().iter().map(|p| p["id"].clone()).collect();
        assert!(ids.contains(&original["id"]), "{similar}");
        let far = app
            .data_as(
                Some(&second),
                "query($a: Float!, $o: Float!) { similarProblems(lat: $a, lon: $o, categoryCode: \"ILLEGAL_DUMPING\") { id } }",
                json!({ "a": lat + 0.01, "o": lon }),
            )
            .await;
        assert!(!far["similarProblems"].as_array().unwrap().iter().any(|p| p["id"] == original["id"]));

        for _ in 0..2 {
            let s = app.data_as(Some(&second), SUPPORT, json!({ "id": original["id"] })).await;
            assert_eq!(s["supportProblem"]["supportCount"], 1, "support counts once");
        }
        let own = app.gql_as(Some(&first), SUPPORT, json!({ "id": original["id"] })).await;
        assert_eq!(error_code(&own), "BAD_USER_INPUT", "{own}");

        // The third reports it again; staff merge the duplicate into the original.
        let dup = report(&app, &third, report_input("ILLEGAL_DUMPING", (lat, lon), "Old mattresses dumped.")).await;
        app.data_as(Some(&first), SUPPORT, json!({ "id": dup["id"] })).await;
        let merge = "mutation($i: MarkDuplicateInput!) { markDuplicate(input: $i) { duplicate { status version } original { supportCount } } }";
        let body = app
            .gql_as(Some(&officer), merge, json!({ "i": { "problemId": dup["id"], "duplicateOfId": dup["id"] } }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        let merged = app
            .data_as(Some(&officer), merge, json!({ "i": { "problemId": dup["id"], "duplicateOfId": original["id"], "expectedVersion": 1 } }))
            .await;
        assert_eq!(merged["markDuplicate"]["duplicate"]["status"], "DUPLICATE");
        // Supporters: resident9, plus resident10 (the duplicate's reporter); resident8's
        // support of the duplicate is their own report's, so it does not count twice.
        assert_eq!(merged["markDuplicate"]["original"]["supportCount"], 2, "{merged}");
        let oid: uuid::Uuid = original["id"].as_str().unwrap().parse().unwrap();
        let followers = entity::problem_follower::Entity::find()
            .filter(entity::problem_follower::Column::ProblemId.eq(oid))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(followers, 2, "the duplicate's reporter now follows the original");

        // MOST_SUPPORTED puts the most supported first, and pages by keyset.
        let q = "query($a: String) { problems(sort: MOST_SUPPORTED, first: 30, after: $a) { edges { node { id supportCount } } pageInfo { endCursor hasNextPage } } }";
        let admin = app.demo_login("admin@demo.beatline.city").await;
        let mut counts = Vec::new();
        let mut seen = HashSet::new();
        let mut after = Value::Null;
        loop {
            let page = app.data_as(Some(&admin), q, json!({ "a": after })).await;
            for e in page["problems"]["edges"].as_array().unwrap() {
                counts.push(e["node"]["supportCount"].as_i64().unwrap());
                assert!(seen.insert(e["node"]["id"].as_str().unwrap().to_owned()));
            }
            if !page["problems"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = page["problems"]["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(counts.len(), 202);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "not most supported first");
    })
    .await;
}

#[tokio::test]
async fn the_reporter_rates_a_resolution_once() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident11@demo.beatline.city").await;
        let neighbour = app.demo_login("resident12@demo.beatline.city").await;
        let officer = app.demo_login("officer.2023@demo.beatline.city").await;
        let at = point_in_beat(&app, "2023").await;
        let p = report(&app, &resident, report_input("NOISE", at, "Car alarms every night.")).await;
        let rate = |k: String, r: i64| {
            json!({ "i": { "idempotencyKey": k, "problemId": p["id"], "rating": r, "comment": "Quiet now, thanks" } })
        };
        let body = app.gql_as(Some(&resident), RATE, rate(key(), 5)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("RESOLVED"), "{body}");
        let body = set_status(&app, &officer, &p, "RESOLVED").await;
        assert!(body.get("errors").is_none(), "{body}");
        let body = app.gql_as(Some(&neighbour), RATE, rate(key(), 5)).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
        let body = app.gql_as(Some(&resident), RATE, rate(key(), 6)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("1 (poor) to 5"), "{body}");
        let k = key();
        let rated = app.data_as(Some(&resident), RATE, rate(k.clone(), 4)).await;
        assert_eq!(rated["rateResolution"]["rating"]["rating"], 4);
        let retry = app.data_as(Some(&resident), RATE, rate(k, 4)).await;
        assert_eq!(retry["rateResolution"]["rating"]["rating"], 4);
        let again = app.gql_as(Some(&resident), RATE, rate(key(), 1)).await;
        assert_eq!(error_code(&again), "CONFLICT", "{again}");
        assert!(error_message(&again).contains("already rated"), "{again}");
        let seen = problem(&app, Some(&officer), &p["id"]).await;
        assert_eq!(seen["rating"]["rating"], 4);
        assert_eq!(kinds(&seen).last().unwrap(), "RATED");
    })
    .await;
}

#[tokio::test]
async fn concurrent_identical_reports_create_exactly_one_problem() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident13@demo.beatline.city").await;
        let at = point_in_beat(&app, "1014").await;
        let input = report_input("ABANDONED_VEHICLE", at, "Burnt-out van in the lot.");
        let before = entity::problem::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        let calls =
            (0..100).map(|_| app.gql_as(Some(&resident), REPORT, json!({ "i": input.clone() })));
        let answers = futures::future::join_all(calls).await;
        let ids: HashSet<String> = answers
            .iter()
            .map(|a| {
                assert!(a.get("errors").is_none(), "{a}");
                a["data"]["reportProblem"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 1, "every retry returns the same problem");
        let after = entity::problem::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(after, before + 1);
        let events = entity::problem_event::Entity::find()
            .filter(
                entity::problem_event::Column::ProblemId.eq(ids
                    .iter()
                    .next()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap()),
            )
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(events, 1);

        // The same key with another input is refused and creates nothing.
        let mut changed = input.clone();
        changed["description"] = json!("A different van.");
        let body = app
            .gql_as(Some(&resident), REPORT, json!({ "i": changed }))
            .await;
        assert_eq!(error_code(&body), "CONFLICT", "{body}");
        assert!(
            error_message(&body).contains("different reportProblem request"),
            "{body}"
        );
        assert_eq!(
            entity::problem::Entity::find()
                .count(&app.db)
                .await
                .unwrap(),
            before + 1
        );
        // Keys are kept at least 24 hours.
        let keys = entity::idempotency_key::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        assert!(
            keys.iter()
                .all(|k| k.expires_at - k.created_at >= chrono::Duration::hours(24))
        );
    })
    .await;
}

#[tokio::test]
async fn anonymous_reporters_are_invisible_to_staff() {
    each_backend(Options::default(), |app| async move {
        let email = "resident14@demo.beatline.city";
        let resident = app.demo_login(email).await;
        let me = app.data_as(Some(&resident), "{ me { id displayName } }", json!({})).await;
        let (rid, name) = (me["me"]["id"].as_str().unwrap().to_owned(), me["me"]["displayName"].as_str().unwrap().to_owned());
        let at = point_in_beat(&app, "1011").await;
        let since = chrono::Utc::now().to_rfc3339();
        let mut tokens = Vec::new();
        let mut input = report_input("DRUG_ACTIVITY", at, "Dealing at the bus shelter every evening.");
        input["anonymous"] = json!(true);
        let p = report(&app, &resident, input).await;
        assert_eq!(p["anonymous"], true);
        app.data_as(
            Some(&resident),
            COMMENT,
            json!({ "i": { "idempotencyKey": key(), "problemId": p["id"], "body": "It happened again tonight." } }),
        )
        .await;
        let full = "query($id: ID!, $since: DateTime) { problem(id: $id) { id reporter { displayName } anonymous
          timeline(first: 50) { edges { node { kind actor { displayName } byReporter body } } } }
          problems(first: 100, filter: { updatedSince: $since }) { edges { node { id reporter { displayName } assignedOfficer { displayName } } } } }";
        let vars = json!({ "id": p["id"], "since": since });
        for staff in [
            "officer.1011@demo.beatline.city",
            "captain.west@demo.beatline.city",
            "admin@demo.beatline.city",
        ] {
            let token = app.demo_login(staff).await;
            let body = app.gql_as(Some(&token), full, vars.clone()).await;
            assert!(body.get("errors").is_none(), "{body}");
            assert_eq!(body["data"]["problems"]["edges"].as_array().unwrap().len(), 1, "{body}");
            let text = body.to_string();
            for secret in [rid.as_str(), name.as_str(), email] {
                assert!(!text.contains(secret), "{staff} saw {secret}: {text}");
            }
            assert!(body["data"]["problem"]["reporter"].is_null());
            tokens.push(token);
        }
        // A named report by the same resident, for contrast: staff see that name.
        let named = report(&app, &resident, report_input("NOISE", at, "Loud music after midnight.")).await;
        for token in &tokens {
            let named_view = problem(&app, Some(token), &named["id"]).await;
            assert_eq!(named_view["reporter"]["displayName"], name.as_str());
        }
        // Named reads were audited, one per staff read.
        let audits = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("problem.reporter.read"))
            .filter(entity::audit_log::Column::SubjectId.eq(named["id"].as_str().unwrap()))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(audits, 3);
        // The reporter still sees themselves.
        let own = problem(&app, Some(&resident), &p["id"]).await;
        assert_eq!(own["reporter"]["displayName"], name.as_str());
        // The public sees no reporter, even of a named report.
        let public = problem(&app, None, &named["id"]).await;
        assert!(public["reporter"].is_null());
    })
    .await;
}

#[tokio::test]
async fn new_filters_and_sorts() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident15@demo.beatline.city").await;
        let officer = app.demo_login("officer.2024@demo.beatline.city").await;
        let (lat, lon) = point_in_beat(&app, "2024").await;
        let since = chrono::Utc::now().to_rfc3339();
        let p = report(&app, &resident, report_input("NOISE", (lat, lon), "Loud music again.")).await;
        let q = "query($f: ProblemFilter, $s: ProblemSort) { problems(filter: $f, sort: $s, first: 100) { edges { node { id lat lon dueAt } } } }";
        let ids = |v: &Value| -> Vec<Value> {
            v["problems"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].clone()).collect()
        };
        let mine = app.data_as(Some(&resident), q, json!({ "f": { "reportedByMe": true } })).await;
        assert!(ids(&mine).contains(&p["id"]));
        let fresh = app.data_as(Some(&resident), q, json!({ "f": { "updatedSince": since } })).await;
        assert_eq!(ids(&fresh), vec![p["id"].clone()]);
        let near = app
            .data_as(None, q, json!({ "f": { "near": { "lat": lat, "lon": lon, "radiusMeters": 300.0 } } }))
            .await;
        assert!(ids(&near).contains(&p["id"]));
        for e in near["problems"]["edges"].as_array().unwrap() {
            let dy = (e["node"]["lat"].as_f64().unwrap() - lat) * 111_320.0;
            let dx = (e["node"]["lon"].as_f64().unwrap() - lon) * 111_320.0 * lat.to_radians().cos();
            assert!((dx * dx + dy * dy).sqrt() <= 301.0);
        }
        let body = app.gql_as(None, q, json!({ "f": { "near": { "lat": lat, "lon": lon, "radiusMeters": 50000.0 } } })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("radiusMeters"), "{body}");
        let body = app.gql_as(None, q, json!({ "f": { "reportedByMe": true } })).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");

        let officer_id = my_id(&app, &officer).await;
        app.data_as(
            Some(&officer),
            ASSIGN,
            json!({ "i": { "problemId": p["id"], "officerId": officer_id, "expectedVersion": 1 } }),
        )
        .await;
        let assigned = app.data_as(Some(&officer), q, json!({ "f": { "assignedToMe": true } })).await;
        assert!(ids(&assigned).contains(&p["id"]));

        let due = app.data_as(None, q, json!({ "s": "DUE_SOONEST" })).await;
        let dues: Vec<String> = due["problems"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["dueAt"].as_str().unwrap().to_owned()).collect();
        let parsed: Vec<chrono::DateTime<chrono::Utc>> = dues.iter().map(|d| d.parse().unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] <= w[1]), "not due soonest first");
    })
    .await;
}

#[tokio::test]
async fn statements_stay_constant_with_the_new_relations() {
    each_backend(Options::default(), |app| async move {
        let admin = app.demo_login("admin@demo.beatline.city").await;
        let q = "query($n: Int) { problems(first: $n) { edges { node { id supportCount
          category { name } assignedOfficer { displayName } assignedPartner { name }
          reporter { displayName } photos { url } beat { code } rating { rating }
          timeline(first: 3) { edges { node { kind } } pageInfo { hasNextPage } } } } } }";
        let mut costs = Vec::new();
        // Pages of 20 or more hold both officer- and partner-assigned problems, so every
        // relation is loaded on each page.
        for n in [20, 50, 100] {
            let before = app.statements().await;
            let data = app.data_as(Some(&admin), q, json!({ "n": n })).await;
            assert_eq!(data["problems"]["edges"].as_array().unwrap().len(), n);
            costs.push(app.statements().await - before);
        }
        assert!(
            costs.iter().all(|c| *c == costs[0]),
            "statements grew with the page: {costs:?}"
        );
        assert!(costs[0] <= 12, "too many statements: {costs:?}");
    })
    .await;
}

#[tokio::test]
async fn timelines_in_a_list_match_the_single_problem_and_hide_internal_entries() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident6@demo.beatline.city").await;
        let officer = app.demo_login("officer.1012@demo.beatline.city").await;
        let at = point_in_beat(&app, "1012").await;
        let since = chrono::Utc::now().to_rfc3339();
        let mut reported = Vec::new();
        for text in ["Streetlight out on the corner.", "Abandoned car for two weeks."] {
            reported.push(report(&app, &resident, report_input("STREETLIGHT_OUT", at, text)).await);
        }
        // The first problem: an internal note, a public comment and a status change.
        let p = &reported[0];
        for (body, internal) in [("Caller known to us; check the alley.", true), ("Crew is on the way.", false)] {
            let c = app
                .gql_as(
                    Some(&officer),
                    COMMENT,
                    json!({ "i": { "idempotencyKey": key(), "problemId": p["id"], "body": body, "internal": internal } }),
                )
                .await;
            assert!(c.get("errors").is_none(), "{c}");
        }
        let moved = set_status(&app, &officer, p, "ACKNOWLEDGED").await;
        assert!(moved.get("errors").is_none(), "{moved}");

        let list = "query($since: DateTime, $n: Int) { problems(first: 10, filter: { updatedSince: $since }) {
          edges { node { id timeline(first: $n) { edges { cursor node { kind body visibility } } pageInfo { hasNextPage endCursor } } } } } }";
        let single = "query($id: ID!, $n: Int, $after: String) { problem(id: $id) {
          timeline(first: $n, after: $after) { edges { cursor node { kind body visibility } } pageInfo { hasNextPage endCursor } } } }";
        for (who, token, internal_seen) in [("resident", &resident, false), ("officer", &officer, true)] {
            let data = app.data_as(Some(token), list, json!({ "since": since, "n": 10 })).await;
            let edges = data["problems"]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), 2, "{who}: {data}");
            for edge in edges {
                let id = &edge["node"]["id"];
                let alone = app.data_as(Some(token), single, json!({ "id": id, "n": 10 })).await;
                assert_eq!(edge["node"]["timeline"], alone["problem"]["timeline"], "{who}: list and single differ");
            }
            let mine = edges.iter().find(|e| e["node"]["id"] == p["id"]).unwrap();
            let text = mine["node"]["timeline"].to_string();
            assert_eq!(text.contains("Caller known to us"), internal_seen, "{who}: {text}");
            assert!(text.contains("Crew is on the way."), "{who}: {text}");

            // A page of one per problem, then the rest through the cursor.
            let data = app.data_as(Some(token), list, json!({ "since": since, "n": 1 })).await;
            let mine = data["problems"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["id"] == p["id"]).unwrap().clone();
            let head = &mine["node"]["timeline"];
            assert_eq!(head["edges"].as_array().unwrap().len(), 1);
            assert_eq!(head["pageInfo"]["hasNextPage"], true);
            let rest = app
                .data_as(Some(token), single, json!({ "id": p["id"], "n": 10, "after": head["pageInfo"]["endCursor"] }))
                .await;
            let whole = app.data_as(Some(token), single, json!({ "id": p["id"], "n": 10 })).await;
            let whole = whole["problem"]["timeline"]["edges"].as_array().unwrap().len();
            assert!(whole >= if internal_seen { 4 } else { 3 }, "{who}: {whole} entries");
            assert_eq!(rest["problem"]["timeline"]["edges"].as_array().unwrap().len(), whole - 1, "{who}: {rest}");
            assert_eq!(rest["problem"]["timeline"]["pageInfo"]["hasNextPage"], false);
        }
    })
    .await;
}

/// A JPEG with an EXIF segment that holds a GPS position and a device name.
pub(crate) fn jpeg_with_exif() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&img)
        .unwrap();
    let mut payload = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0".to_vec();
    payload.extend_from_slice(b"GPSLatitude 41.8031 N GPSLongitude 87.6990 W Model SecretPhone-9");
    let len = u16::try_from(payload.len() + 2).unwrap().to_be_bytes();
    let mut out = plain[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1, len[0], len[1]]);
    out.extend_from_slice(&payload);
    out.extend_from_slice(&plain[2..]);
    out
}

/// Sends `reportProblem` as a GraphQL multipart request (the spec the apps use).
pub(crate) async fn report_multipart(
    app: &TestApp,
    token: &str,
    input: Value,
    files: &[(&str, &str, Vec<u8>)],
) -> Value {
    let boundary = "beatline-test-boundary-7d3f";
    let mut input = input;
    input["photos"] = json!(vec![Value::Null; files.len()]);
    let operations = json!({ "query": REPORT.replace("id reference", "id reference photos { id url thumbnailUrl contentType width height signedUrl signedThumbnailUrl signedUrlExpiresAt }"), "variables": { "i": input } });
    let map: serde_json::Map<String, Value> = (0..files.len())
        .map(|i| (i.to_string(), json!([format!("variables.i.photos.{i}")])))
        .collect();
    let mut body = Vec::new();
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"operations\"".into(),
        operations.to_string().as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"map\"".into(),
        Value::Object(map).to_string().as_bytes(),
    );
    for (i, (name, mime, bytes)) in files.iter().enumerate() {
        part(
            format!(
                "Content-Disposition: form-data; name=\"{i}\"; filename=\"{name}\"\r\nContent-Type: {mime}"
            ),
            bytes,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    app.client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn photos_are_checked_stripped_thumbnailed_and_served_only_to_those_who_may_see_them() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident16@demo.beatline.city").await;
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let at = point_in_beat(&app, "1011").await;
        let original = jpeg_with_exif();
        assert!(contains(&original, b"Exif") && contains(&original, b"SecretPhone"));

        let body = report_multipart(
            &app,
            &resident,
            report_input("GRAFFITI", at, "Tags on the school fence."),
            &[("fence.png", "image/png", original.clone())],
        )
        .await;
        assert!(body.get("errors").is_none(), "{body}");
        let p = body["data"]["reportProblem"].clone();
        let photo = &p["photos"][0];
        assert_eq!(
            photo["contentType"], "image/jpeg",
            "judged by content, not name"
        );
        assert_eq!(
            (photo["width"].as_i64(), photo["height"].as_i64()),
            (Some(640), Some(480))
        );

        let fetch = |path: String, token: Option<String>| {
            let app = &app;
            async move {
                let mut req = app.client.get(format!("{}{path}", app.base));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                req.send().await.unwrap()
            }
        };
        let resp = fetch(
            photo["url"].as_str().unwrap().to_owned(),
            Some(officer.clone()),
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        let stored = resp.bytes().await.unwrap().to_vec();
        assert!(!contains(&stored, b"Exif"), "EXIF survived");
        assert!(!contains(&stored, b"GPSLatitude") && !contains(&stored, b"SecretPhone"));
        assert_eq!(image::load_from_memory(&stored).unwrap().width(), 640);
        let thumb = fetch(photo["thumbnailUrl"].as_str().unwrap().to_owned(), None).await;
        assert_eq!(thumb.status(), 200);
        let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
        assert_eq!(thumb.width(), 320);

        // A photo of a public-health report is not served to police.
        let body = report_multipart(
            &app,
            &resident,
            report_input("SYRINGE_FOUND", at, "Needles in the planter."),
            &[("needles.jpg", "image/jpeg", original.clone())],
        )
        .await;
        let url = body["data"]["reportProblem"]["photos"][0]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            fetch(url.clone(), Some(officer.clone())).await.status(),
            404
        );
        assert_eq!(fetch(url.clone(), None).await.status(), 404);
        assert_eq!(fetch(url, Some(resident.clone())).await.status(), 200);
        assert_eq!(fetch("/photos/not-a-uuid".into(), None).await.status(), 400);

        // Not an image, whatever its name: refused, nothing created.
        let before = entity::problem::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        let body = report_multipart(
            &app,
            &resident,
            report_input("GRAFFITI", at, "Tags again."),
            &[(
                "photo.jpg",
                "image/jpeg",
                b"#!/bin/sh\necho not a photo\n".to_vec(),
            )],
        )
        .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            error_message(&body).contains("not a JPEG, PNG or WebP"),
            "{body}"
        );
        let five: Vec<_> = (0..5)
            .map(|i| {
                (
                    ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"][i],
                    "image/jpeg",
                    original.clone(),
                )
            })
            .collect();
        let body = report_multipart(
            &app,
            &resident,
            report_input("GRAFFITI", at, "Tags again."),
            &five,
        )
        .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(
            entity::problem::Entity::find()
                .count(&app.db)
                .await
                .unwrap(),
            before
        );
    })
    .await;
}

/// The number of a reference `BL-<year>-<number>`.
fn reference_number(reference: &str, year: &str) -> i64 {
    reference
        .strip_prefix(&format!("BL-{year}-"))
        .unwrap_or_else(|| panic!("{reference} is not a reference of {year}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn concurrent_reports_get_distinct_consecutive_references() {
    each_backend(Options::default(), |app| async move {
        let year = chrono::Utc::now().format("%Y").to_string();
        // The demo city issued references this year already; new ones follow them.
        let issued: Vec<String> = entity::problem::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.reference)
            .filter(|r| r.starts_with(&format!("BL-{year}-")))
            .collect();
        let highest = issued
            .iter()
            .map(|r| reference_number(r, &year))
            .max()
            .unwrap_or(0);

        // A bulk load first (on PostgreSQL the year's sequence is still unused), then
        // concurrent reports, then another bulk load, then one more report.
        beatline_server::seed_problems::seed_problems(&app.db, 25)
            .await
            .unwrap();
        let resident = app.demo_login("resident14@demo.beatline.city").await;
        let at = point_in_beat(&app, "1012").await;
        let calls = (0..40).map(|n| {
            let input = report_input("GRAFFITI", at, &format!("Tag number {n} on the wall."));
            app.gql_as(Some(&resident), REPORT, json!({ "i": input }))
        });
        let answers = futures::future::join_all(calls).await;
        let mut numbers: Vec<i64> = answers
            .iter()
            .map(|a| {
                assert!(a.get("errors").is_none(), "{a}");
                reference_number(
                    a["data"]["reportProblem"]["reference"].as_str().unwrap(),
                    &year,
                )
            })
            .collect();
        numbers.sort_unstable();
        let expected: Vec<i64> = (highest + 26..=highest + 65).collect();
        assert_eq!(
            numbers, expected,
            "40 concurrent reports take the next 40 numbers after the bulk load, each once"
        );

        beatline_server::seed_problems::seed_problems(&app.db, 10)
            .await
            .unwrap();
        let next = report(
            &app,
            &resident,
            report_input("GRAFFITI", at, "One more tag after the bulk load."),
        )
        .await;
        assert_eq!(
            reference_number(next["reference"].as_str().unwrap(), &year),
            highest + 65 + 10 + 1,
            "{next}"
        );
        // Every reference is unique (the database enforces it; the bulk loads used
        // their numbers).
        let all = entity::problem::Entity::find().all(&app.db).await.unwrap();
        let distinct: HashSet<&str> = all.iter().map(|p| p.reference.as_str()).collect();
        assert_eq!(distinct.len(), all.len());
        assert!(distinct.contains(format!("BL-{year}-{:06}", highest + 1).as_str()));
        assert!(distinct.contains(format!("BL-{year}-{:06}", highest + 75).as_str()));
    })
    .await;
}
