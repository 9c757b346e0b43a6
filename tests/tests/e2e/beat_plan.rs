//! The meeting cycle: an agenda built from the beat's data (report-back with progress,
//! top open problems, chronic problems), proposals and votes, minutes and action items
//! carried forward, attendance trends, and SARA records moving through all four stages
//! with before/after counts checked against an independent computation.

use std::collections::HashSet;

use beatline_tests::{Options, TestApp, each_backend, error_code, error_message};
use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::{ProblemEventKind, ProblemStatus, Visibility};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::meetings::{SCHEDULE, beat_id, second_tuesday};

const AGENDA: &str = "query($id: ID!, $r: Boolean) { meeting(id: $id) { id startsAt
  agenda(includeRemoved: $r) { id section kind title notes position voteCount votedByMe removed
    problem { id reference supportCount createdAt category { sensitive } }
    actionItem { id status title } } } }";
const ADD_ACTION: &str = "mutation($i: CreateActionItemInput!) { createActionItem(input: $i) { id status ownerKind ownerPartner { name } dueOn meetingId } }";
const PROPOSE: &str = "mutation($i: ProposeAgendaItemInput!) { proposeAgendaItem(input: $i) { id kind section voteCount } }";
const VOTE: &str = "mutation($id: ID!) { voteAgendaItem(id: $id) { id voteCount votedByMe } }";
const ADOPT: &str = "mutation($i: AdoptProblemInput!) { adoptProblem(input: $i) { id stage version scanning { harm reportCount } problems { id } } }";
const ADVANCE: &str = "mutation($i: AdvanceSaraInput!) { advanceSara(input: $i) { id stage version outcome
  analysis { hypothesis } response { chosen startedAt objectives { text dueOn } }
  assessment { planCarriedOut objectivesMet counts { before after windowDays radiusMeters centerLat centerLon responseStartedAt afterUntil beforeFrom } }
  history { fromStage toStage actorId at } } }";

fn uid(v: &Value) -> Uuid {
    Uuid::parse_str(v.as_str().unwrap()).unwrap()
}

/// Every problem as the admin sees it.
async fn all_problems(app: &TestApp) -> Vec<Value> {
    let admin = app.demo_login("admin@demo.beatline.city").await;
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = app
            .data_as(
                Some(&admin),
                "query($a: String) { problems(first: 100, after: $a) { edges { node { id reference lat lon createdAt status supportCount
                  beat { code } category { id sensitive duplicateRadiusMeters } } }
                  pageInfo { hasNextPage endCursor } } }",
                json!({ "a": after }),
            )
            .await;
        let c = &d["problems"];
        out.extend(
            c["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
}

fn is_open(p: &Value) -> bool {
    ["NEW", "ACKNOWLEDGED", "IN_PROGRESS"].contains(&p["status"].as_str().unwrap())
}

/// The next demo meeting of the beat (from the seeded monthly series).
async fn next_meeting(app: &TestApp, beat: &str) -> Value {
    let d = app
        .data(
            "query($b: ID!) { meetings(filter: { beatId: $b, upcoming: true }, first: 1) { edges { node { id startsAt } } } }",
            json!({ "b": beat }),
        )
        .await;
    d["meetings"]["edges"][0]["node"].clone()
}

#[tokio::test]
async fn agenda_reports_back_ranks_problems_and_carries_actions() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resident = app.demo_login("resident3@demo.beatline.city").await;
        let resident2 = app.demo_login("resident4@demo.beatline.city").await;
        let streets = app.demo_login("dispatch@streets.demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        let problems = all_problems(&app).await;
        let mut open_1011: Vec<&Value> = problems
            .iter()
            .filter(|p| p["beat"]["code"] == "1011" && is_open(p) && p["category"]["sensitive"] == false)
            .collect();
        open_1011.sort_by(|a, b| {
            b["supportCount"].as_i64().cmp(&a["supportCount"].as_i64()).then(
                a["createdAt"].as_str().cmp(&b["createdAt"].as_str()),
            )
        });
        assert!(open_1011.len() >= 4, "the demo beat needs open problems: {}", open_1011.len());
        // Preferably not among the top ten: it must come back as report-back all the same.
        let chosen = open_1011[std::cmp::min(10, open_1011.len() - 1)];
        let partners = app.data("{ categories { partner { id name } } }", json!({})).await;
        let streets_id = partners["categories"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["partner"].as_object())
            .find(|p| p["name"].as_str().unwrap().contains("Streets"))
            .unwrap()["id"]
            .clone();

        // Last month's meeting: scheduled, then (by set-up) moved into the past.
        let start = second_tuesday(1) + TimeDelta::days(2);
        let last = app
            .data_as(
                Some(&officer),
                SCHEDULE,
                json!({ "i": { "beatId": beat, "title": "Last month", "startsAt": start.to_rfc3339(),
                    "endsAt": (start + TimeDelta::hours(1)).to_rfc3339(), "timeZone": "America/Chicago",
                    "placeName": "Hall", "idempotencyKey": "last-month-1" } }),
            )
            .await["scheduleMeeting"]["id"]
            .clone();
        let last_id = uid(&last);
        // The problem chosen as a priority there, and an action agreed for Streets and Sanitation.
        app.data_as(
            Some(&officer),
            "mutation($i: AddAgendaItemInput!) { addAgendaItem(input: $i) { id kind } }",
            json!({ "i": { "meetingId": last, "section": "PRIORITIES", "title": "Chosen", "problemId": chosen["id"], "idempotencyKey": "add-chosen-1" } }),
        )
        .await;
        let due = (Utc::now() + TimeDelta::days(10)).date_naive().to_string();
        let action = app
            .data_as(
                Some(&officer),
                ADD_ACTION,
                json!({ "i": { "meetingId": last, "problemId": chosen["id"], "title": "Replace the lights on Harbor St",
                    "ownerKind": "PARTNER", "ownerPartnerId": streets_id, "dueOn": due, "idempotencyKey": "action-lights-1" } }),
            )
            .await["createActionItem"]
            .clone();
        assert_eq!(action["status"], "OPEN");
        assert_eq!(action["ownerPartner"]["name"], "Streets and Sanitation");
        // The partner's members are notified.
        let streets_user = entity::user::Entity::find()
            .filter(entity::user::Column::Email.eq("dispatch@streets.demo.beatline.city"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            entity::notification::Entity::find()
                .filter(entity::notification::Column::UserId.eq(streets_user.id))
                .filter(entity::notification::Column::Kind.eq("ACTION_ITEM_ASSIGNED"))
                .count(&app.db)
                .await
                .unwrap(),
            1
        );
        // Bad owners are refused.
        let bad_owner = app
            .gql_as(
                Some(&officer),
                ADD_ACTION,
                json!({ "i": { "meetingId": last, "title": "x", "ownerKind": "PARTNER", "idempotencyKey": "action-bad-1" } }),
            )
            .await;
        assert_eq!(error_code(&bad_owner), "BAD_USER_INPUT", "{bad_owner}");
        assert!(error_message(&bad_owner).contains("ownerPartnerId"), "{bad_owner}");

        let past = Utc::now() - TimeDelta::days(30);
        let mut m = entity::meeting::Entity::find_by_id(last_id).one(&app.db).await.unwrap().unwrap().into_active_model();
        m.starts_at = sea_orm::Set(past);
        m.ends_at = sea_orm::Set(past + TimeDelta::hours(1));
        m.update(&app.db).await.unwrap();
        // Since then, the chosen problem moved to IN_PROGRESS.
        let chosen_id = uid(&chosen["id"]);
        entity::problem_event::Model {
            id: Uuid::now_v7(),
            problem_id: chosen_id,
            actor_id: None,
            kind: ProblemEventKind::StatusChanged,
            from_status: Some(ProblemStatus::New),
            to_status: Some(ProblemStatus::InProgress),
            body: None,
            visibility: Visibility::Public,
            data: None,
            created_at: past + TimeDelta::days(3),
        }
        .into_active_model()
        .insert(&app.db)
        .await
        .unwrap();
        let mut p = entity::problem::Entity::find_by_id(chosen_id).one(&app.db).await.unwrap().unwrap().into_active_model();
        p.status = sea_orm::Set(ProblemStatus::InProgress);
        p.update(&app.db).await.unwrap();

        // Attendance and minutes of the last meeting.
        app.data_as(
            Some(&officer),
            "mutation($id: ID!) { recordAttendance(id: $id, residents: 14, officers: 2) { attendance { residents officers } } }",
            json!({ "id": last }),
        )
        .await;
        let minutes = app
            .data_as(
                Some(&officer),
                "mutation($id: ID!) { publishMinutes(meetingId: $id, body: \"We met.\", decisions: [\"Fix the lights\"]) { body decisions } }",
                json!({ "id": last }),
            )
            .await;
        assert_eq!(minutes["publishMinutes"]["decisions"], json!(["Fix the lights"]));
        let trend = app
            .data(
                "query($b: ID!) { attendanceTrend(beatId: $b) { residents officers meeting { id minutes { body } } } }",
                json!({ "b": beat }),
            )
            .await;
        let point = trend["attendanceTrend"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(point["residents"], 14);
        assert_eq!(point["meeting"]["minutes"]["body"], "We met.");

        // The next meeting's agenda, generated from the data.
        let next = next_meeting(&app, &beat).await;
        let agenda = app.data_as(Some(&resident), AGENDA, json!({ "id": next["id"] })).await["meeting"]["agenda"]
            .as_array()
            .unwrap()
            .clone();
        let order = ["WELCOME", "REPORT_BACK", "CURRENT_CONDITIONS", "PRIORITIES", "STRATEGIES", "NEXT_MEETING"];
        let ranks: Vec<usize> = agenda
            .iter()
            .map(|i| order.iter().position(|s| *s == i["section"].as_str().unwrap()).unwrap())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "not in CAPS order: {ranks:?}");
        for s in order {
            assert!(agenda.iter().any(|i| i["section"] == s), "no {s} item: {agenda:#?}");
        }
        let report_back: Vec<&Value> = agenda.iter().filter(|i| i["section"] == "REPORT_BACK").collect();
        let action_item = report_back
            .iter()
            .find(|i| i["actionItem"]["id"] == action["id"])
            .expect("the open action is reported back on");
        assert_eq!(action_item["actionItem"]["status"], "OPEN");
        let chosen_item = report_back
            .iter()
            .find(|i| i["problem"]["id"] == chosen["id"] && i["actionItem"].is_null())
            .expect("the problem chosen last time is reported back on");
        let notes = chosen_item["notes"].as_str().unwrap();
        assert!(notes.contains("Was new") && notes.contains("now in progress"), "{notes}");
        // Priorities: the top open problems by support then age, never sensitive ones.
        let priorities: Vec<&Value> = agenda.iter().filter(|i| i["section"] == "PRIORITIES").collect();
        let expected: Vec<&Value> = open_1011
            .iter()
            .filter(|p| p["id"] != chosen["id"])
            .take(10)
            .map(|p| &p["id"])
            .collect();
        let got: Vec<&Value> = priorities.iter().map(|i| &i["problem"]["id"]).collect();
        // The chosen problem took one of the ten slots out of the ranking query.
        assert!(
            got.len() >= std::cmp::min(9, expected.len()) && got.iter().all(|g| expected.contains(g)),
            "{got:?} vs {expected:?}"
        );
        assert_eq!(&got[0], &expected[0]);
        assert!(agenda.iter().all(|i| i["problem"].is_null() || i["problem"]["category"]["sensitive"] == false));

        // The agenda is generated once: reading it again gives the same items.
        let again = app.data(AGENDA, json!({ "id": next["id"] })).await["meeting"]["agenda"].as_array().unwrap().clone();
        let ids = |a: &[Value]| a.iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&again), ids(&agenda));

        // A resident proposes a problem and votes once; the second vote is refused.
        let on_agenda: HashSet<&Value> = agenda.iter().map(|i| &i["problem"]["id"]).collect();
        let other = problems
            .iter()
            .find(|p| p["beat"]["code"] == "1011" && p["category"]["sensitive"] == false && !on_agenda.contains(&p["id"]))
            .unwrap();
        let proposed = app
            .data_as(Some(&resident), PROPOSE, json!({ "i": { "meetingId": next["id"], "problemId": other["id"], "note": "Every night", "idempotencyKey": "propose-1-abc" } }))
            .await["proposeAgendaItem"]
            .clone();
        assert_eq!(proposed["kind"], "PROPOSED");
        assert_eq!(proposed["section"], "PRIORITIES");
        let twice = app
            .gql_as(Some(&resident2), PROPOSE, json!({ "i": { "meetingId": next["id"], "problemId": other["id"], "idempotencyKey": "propose-2-abc" } }))
            .await;
        assert_eq!(error_code(&twice), "CONFLICT", "{twice}");
        assert!(error_message(&twice).contains("vote for it instead"), "{twice}");
        let elsewhere = problems.iter().find(|p| p["beat"]["code"] == "2021" && p["category"]["sensitive"] == false).unwrap();
        let wrong_beat = app
            .gql_as(Some(&resident), PROPOSE, json!({ "i": { "meetingId": next["id"], "problemId": elsewhere["id"], "idempotencyKey": "propose-3-abc" } }))
            .await;
        assert_eq!(error_code(&wrong_beat), "BAD_USER_INPUT", "{wrong_beat}");
        assert!(error_message(&wrong_beat).contains("another beat"), "{wrong_beat}");
        let v = app.data_as(Some(&resident), VOTE, json!({ "id": proposed["id"] })).await;
        assert_eq!(v["voteAgendaItem"]["voteCount"], 1);
        let v2 = app.gql_as(Some(&resident), VOTE, json!({ "id": priorities[0]["id"] })).await;
        assert_eq!(error_code(&v2), "CONFLICT", "{v2}");
        assert!(error_message(&v2).contains("already voted"), "{v2}");
        app.data_as(Some(&resident2), VOTE, json!({ "id": proposed["id"] })).await;
        let welcome = &agenda[0];
        let not_priority = app.gql_as(Some(&resident2), VOTE, json!({ "id": welcome["id"] })).await;
        assert_eq!(error_code(&not_priority), "BAD_USER_INPUT", "{not_priority}");

        // Staff reorder the priorities (the proposal first) and remove one.
        let mut new_order = vec![proposed["id"].clone()];
        new_order.extend(priorities.iter().map(|i| i["id"].clone()));
        let reordered = app
            .data_as(
                Some(&officer),
                "mutation($m: ID!, $ids: [ID!]!) { reorderAgendaItems(meetingId: $m, section: PRIORITIES, itemIds: $ids) { id section } }",
                json!({ "m": next["id"], "ids": new_order }),
            )
            .await["reorderAgendaItems"]
            .as_array()
            .unwrap()
            .clone();
        let first_priority = reordered.iter().find(|i| i["section"] == "PRIORITIES").unwrap();
        assert_eq!(first_priority["id"], proposed["id"]);
        let resident_reorder = app
            .gql_as(
                Some(&resident),
                "mutation($m: ID!, $ids: [ID!]!) { reorderAgendaItems(meetingId: $m, section: PRIORITIES, itemIds: $ids) { id } }",
                json!({ "m": next["id"], "ids": [proposed["id"]] }),
            )
            .await;
        assert_eq!(error_code(&resident_reorder), "FORBIDDEN", "{resident_reorder}");
        app.data_as(Some(&officer), "mutation($id: ID!) { removeAgendaItem(id: $id) { removed } }", json!({ "id": priorities[1]["id"] })).await;
        let seen = app.data_as(Some(&resident), AGENDA, json!({ "id": next["id"] })).await["meeting"]["agenda"].as_array().unwrap().clone();
        assert!(seen.iter().all(|i| i["id"] != priorities[1]["id"]));
        assert!(seen.iter().any(|i| i["id"] == proposed["id"] && i["votedByMe"] == true && i["voteCount"] == 2));
        let staff_view = app.data_as(Some(&officer), AGENDA, json!({ "id": next["id"], "r": true })).await["meeting"]["agenda"].as_array().unwrap().clone();
        assert!(staff_view.iter().any(|i| i["id"] == priorities[1]["id"] && i["removed"] == true));

        // The owner marks the action done; it is no longer open for the beat.
        let done = app
            .data_as(
                Some(&streets),
                "mutation($id: ID!) { updateActionItem(input: { id: $id, status: DONE }) { status completedAt } }",
                json!({ "id": action["id"] }),
            )
            .await;
        assert_eq!(done["updateActionItem"]["status"], "DONE");
        assert!(done["updateActionItem"]["completedAt"].is_string());
        let resident_update = app
            .gql_as(Some(&resident), "mutation($id: ID!) { updateActionItem(input: { id: $id, status: OPEN }) { status } }", json!({ "id": action["id"] }))
            .await;
        assert_eq!(error_code(&resident_update), "FORBIDDEN", "{resident_update}");
        let open = app.data("query($b: ID!) { openActionItems(beatId: $b) { id } }", json!({ "b": beat })).await;
        assert!(open["openActionItems"].as_array().unwrap().iter().all(|a| a["id"] != action["id"]));
    })
    .await;
}

#[tokio::test]
async fn a_problem_adopted_at_a_meeting_moves_through_sara() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resident = app.demo_login("resident5@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        let problems = all_problems(&app).await;
        let mut candidates: Vec<&Value> = problems
            .iter()
            .filter(|p| p["beat"]["code"] == "1011" && p["category"]["sensitive"] == false)
            .collect();
        candidates.sort_by_key(|p| p["id"].as_str().unwrap().to_owned());
        let first = candidates[0];
        // A cluster: the problem and another of its category in the beat, when there is one.
        let second = candidates
            .iter()
            .find(|p| p["id"] != first["id"] && p["category"]["id"] == first["category"]["id"]);
        let mut linked = vec![first["id"].clone()];
        if let Some(s) = second {
            linked.push(s["id"].clone());
        }
        let next = next_meeting(&app, &beat).await;
        let adopt = json!({ "i": { "problemIds": linked, "meetingId": next["id"], "title": "Dark corner on Harbor St",
            "harm": "Residents avoid the bus stop after dark", "idempotencyKey": "adopt-key-001" } });
        let forbidden = app.gql_as(Some(&resident), ADOPT, adopt.clone()).await;
        assert_eq!(error_code(&forbidden), "FORBIDDEN", "{forbidden}");
        let rec = app.data_as(Some(&officer), ADOPT, adopt).await["adoptProblem"].clone();
        assert_eq!(rec["stage"], "SCANNING");
        assert_eq!(rec["scanning"]["reportCount"], linked.len());
        let twice = app
            .gql_as(Some(&officer), ADOPT, json!({ "i": { "problemIds": [first["id"]], "title": "Again", "harm": "x", "idempotencyKey": "adopt-key-002" } }))
            .await;
        assert_eq!(error_code(&twice), "CONFLICT", "{twice}");
        assert!(error_message(&twice).contains("already part of the open SARA record"), "{twice}");
        let sara_of = app
            .data("query($id: ID!) { problem(id: $id) { sara { id stage } } }", json!({ "id": first["id"] }))
            .await;
        assert_eq!(sara_of["problem"]["sara"]["id"], rec["id"]);

        let id = rec["id"].clone();
        let step = |to: &str, version: i64, extra: Value| {
            let mut i = json!({ "id": id, "expectedVersion": version, "to": to, "note": format!("to {to}") });
            for (k, v) in extra.as_object().unwrap() {
                i[k] = v.clone();
            }
            json!({ "i": i })
        };
        // Skipping a stage is refused, with what to do instead.
        let skip = app.gql_as(Some(&officer), ADVANCE, step("RESPONSE", 1, json!({}))).await;
        assert_eq!(error_code(&skip), "BAD_USER_INPUT", "{skip}");
        assert!(error_message(&skip).contains("move it to ANALYSIS next"), "{skip}");
        let r = app.data_as(Some(&officer), ADVANCE, step("ANALYSIS", 1, json!({}))).await["advanceSara"].clone();
        assert_eq!(r["stage"], "ANALYSIS");
        assert_eq!(r["version"], 2);
        let stale = app.gql_as(Some(&officer), ADVANCE, step("RESPONSE", 1, json!({}))).await;
        assert_eq!(error_code(&stale), "CONFLICT", "{stale}");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2);
        let missing = app.gql_as(Some(&officer), ADVANCE, step("RESPONSE", 2, json!({}))).await;
        assert_eq!(error_code(&missing), "BAD_USER_INPUT", "{missing}");
        assert!(error_message(&missing).contains("give `analysis`"), "{missing}");
        let analysis = json!({ "analysis": { "victim": "Commuters", "offender": "People dealing drugs at night",
            "place": "Broken streetlights and an unlit alley", "hypothesis": "Light the corner and dealing moves away" } });
        let r = app.data_as(Some(&officer), ADVANCE, step("RESPONSE", 2, analysis)).await["advanceSara"].clone();
        assert_eq!(r["stage"], "RESPONSE");
        assert!(r["analysis"]["hypothesis"].as_str().unwrap().contains("Light"));

        let started = Utc::now() - TimeDelta::days(20);
        let due = (Utc::now() + TimeDelta::days(30)).date_naive().to_string();
        let response = json!({ "response": { "interventionsConsidered": ["More patrols", "Fix the lights"], "chosen": "Fix the lights",
            "responsibleParties": ["Streets and Sanitation", "Beat 1011 officers"], "objectives": [{ "text": "All lights working", "dueOn": due }],
            "startedAt": started.to_rfc3339() } });
        // Related reports around the problems, before and after the response started.
        let base = entity::problem::Entity::find_by_id(uid(&first["id"])).one(&app.db).await.unwrap().unwrap();
        for (n, days_ago) in [30, 25, 10, 5, 1].into_iter().enumerate() {
            let mut copy = base.clone();
            copy.id = Uuid::now_v7();
            copy.reference = format!("BL-TEST-{n:06}");
            copy.lat += 0.0001 * n as f64;
            copy.created_at = Utc::now() - TimeDelta::days(days_ago);
            copy.updated_at = copy.created_at;
            copy.into_active_model().insert(&app.db).await.unwrap();
        }
        let r = app.data_as(Some(&officer), ADVANCE, step("ASSESSMENT", 3, response)).await["advanceSara"].clone();
        assert_eq!(r["stage"], "ASSESSMENT");
        assert_eq!(r["response"]["chosen"], "Fix the lights");
        let wrong_outcome = app
            .gql_as(Some(&officer), ADVANCE, step("CLOSED", 4, json!({ "assessment": { "planCarriedOut": true, "objectivesMet": 1, "outcome": "ADJUST" } })))
            .await;
        assert_eq!(error_code(&wrong_outcome), "BAD_USER_INPUT", "{wrong_outcome}");
        assert!(error_message(&wrong_outcome).contains("ADJUST to RESPONSE"), "{wrong_outcome}");
        let r = app
            .data_as(Some(&officer), ADVANCE, step("CLOSED", 4, json!({ "assessment": { "planCarriedOut": true, "objectivesMet": 1, "notes": "Lights fixed", "outcome": "CLOSE" } })))
            .await["advanceSara"]
            .clone();
        assert_eq!(r["stage"], "CLOSED");
        assert_eq!(r["outcome"], "CLOSE");
        let counts = &r["assessment"]["counts"];

        // The counts, computed independently from every problem the admin can list.
        let all = all_problems(&app).await;
        let linked_rows: Vec<&Value> = all.iter().filter(|p| linked.contains(&p["id"])).collect();
        let n = linked_rows.len() as f64;
        let clat = linked_rows.iter().map(|p| p["lat"].as_f64().unwrap()).sum::<f64>() / n;
        let clon = linked_rows.iter().map(|p| p["lon"].as_f64().unwrap()).sum::<f64>() / n;
        let cats: HashSet<&Value> = linked_rows.iter().map(|p| &p["category"]["id"]).collect();
        let dist = |lat: f64, lon: f64| {
            let (p1, p2) = (clat.to_radians(), lat.to_radians());
            let a = ((lat - clat).to_radians() / 2.0).sin().powi(2)
                + p1.cos() * p2.cos() * ((lon - clon).to_radians() / 2.0).sin().powi(2);
            2.0 * 6_371_000.0 * a.sqrt().asin()
        };
        let base_radius = linked_rows.iter().map(|p| p["category"]["duplicateRadiusMeters"].as_f64().unwrap()).fold(0.0, f64::max);
        let spread = linked_rows.iter().map(|p| dist(p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap())).fold(0.0, f64::max);
        let radius = base_radius + spread;
        assert!((counts["radiusMeters"].as_f64().unwrap() - radius).abs() < 0.01, "{counts}");
        let t = |k: &str| counts[k].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        let (from, mid, until) = (t("beforeFrom"), t("responseStartedAt"), t("afterUntil"));
        assert!((mid - started).num_seconds().abs() < 2);
        assert_eq!(mid - from, until - mid, "windows are not equal");
        let (mut before, mut after) = (0, 0);
        for p in &all {
            if !cats.contains(&p["category"]["id"]) || dist(p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap()) > radius {
                continue;
            }
            let c = p["createdAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
            if c >= from && c < mid {
                before += 1;
            } else if c >= mid && c < until {
                after += 1;
            }
        }
        assert!(before >= 2 && after >= 3, "the inserted reports are counted: {before} {after}");
        assert_eq!(counts["before"], before, "{counts}");
        assert_eq!(counts["after"], after, "{counts}");

        // Every stage change is recorded with who and when.
        let history = r["history"].as_array().unwrap();
        let stages: Vec<&str> = history.iter().map(|h| h["toStage"].as_str().unwrap()).collect();
        assert_eq!(stages, ["SCANNING", "ANALYSIS", "RESPONSE", "ASSESSMENT", "CLOSED"]);
        assert!(history.iter().all(|h| h["actorId"].is_string() && h["at"].is_string()));
        let closed = app.gql_as(Some(&officer), ADVANCE, step("ANALYSIS", 5, json!({}))).await;
        assert_eq!(error_code(&closed), "CONFLICT", "{closed}");
        assert!(error_message(&closed).contains("closed"), "{closed}");
        let stored = entity::sara_stage_change::Entity::find()
            .filter(entity::sara_stage_change::Column::SaraRecordId.eq(uid(&id)))
            .order_by_asc(entity::sara_stage_change::Column::CreatedAt)
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(stored.len(), 5);
    })
    .await;
}

#[tokio::test]
async fn similar_reports_in_one_place_show_as_a_chronic_problem() {
    each_backend(Options::default(), |app| async move {
        let beat = beat_id(&app, "1012").await;
        let problems = all_problems(&app).await;
        let seed = problems
            .iter()
            .find(|p| p["beat"]["code"] == "1012" && p["category"]["sensitive"] == false)
            .unwrap();
        let base = entity::problem::Entity::find_by_id(uid(&seed["id"]))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        // Three more reports of the same category within a few metres, this month.
        for n in 1..=3 {
            let mut copy = base.clone();
            copy.id = Uuid::now_v7();
            copy.reference = format!("BL-CHRONIC-{n}");
            copy.status = ProblemStatus::New;
            copy.duplicate_of_id = None;
            copy.lat += 0.00005 * f64::from(n);
            copy.created_at = Utc::now() - TimeDelta::days(i64::from(n));
            copy.updated_at = copy.created_at;
            copy.into_active_model().insert(&app.db).await.unwrap();
        }
        // A sensitive category never shows, however many reports: put three there too.
        let sensitive = problems
            .iter()
            .find(|p| p["category"]["sensitive"] == true)
            .unwrap();
        let sbase = entity::problem::Entity::find_by_id(uid(&sensitive["id"]))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        for n in 1..=3 {
            let mut copy = sbase.clone();
            copy.id = Uuid::now_v7();
            copy.reference = format!("BL-SENSITIVE-{n}");
            copy.beat_id = base.beat_id;
            copy.status = ProblemStatus::New;
            copy.lat = base.lat + 0.001;
            copy.lon = base.lon;
            copy.created_at = Utc::now() - TimeDelta::days(1);
            copy.into_active_model().insert(&app.db).await.unwrap();
        }
        let next = next_meeting(&app, &beat).await;
        let agenda = app.data(AGENDA, json!({ "id": next["id"] })).await["meeting"]["agenda"]
            .as_array()
            .unwrap()
            .clone();
        let chronic: Vec<&Value> = agenda
            .iter()
            .filter(|i| {
                i["section"] == "CURRENT_CONDITIONS"
                    && i["title"].as_str().unwrap().starts_with("Chronic:")
            })
            .collect();
        let ours = chronic
            .iter()
            .find(|i| i["notes"].as_str().unwrap().contains("BL-CHRONIC-1"))
            .unwrap_or_else(|| panic!("no chronic item for the cluster: {agenda:#?}"));
        let notes = ours["notes"].as_str().unwrap();
        assert!(
            notes.contains("BL-CHRONIC-2") && notes.contains("BL-CHRONIC-3"),
            "{notes}"
        );
        assert!(agenda.iter().all(|i| {
            !i["notes"]
                .as_str()
                .unwrap_or_default()
                .contains("BL-SENSITIVE")
        }));
        assert!(
            agenda
                .iter()
                .all(|i| !i["title"].as_str().unwrap().contains("BL-SENSITIVE"))
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_first_reads_and_writes_generate_one_agenda() {
    each_backend(Options::default(), |app| async move {
        let beat = beat_id(&app, "1013").await;
        let next = next_meeting(&app, &beat).await;
        let mut tokens = Vec::new();
        for n in 7..=12 {
            tokens.push(app.demo_login(&format!("resident{n}@demo.beatline.city")).await);
        }
        let officer = app.demo_login("officer.1013@demo.beatline.city").await;
        // Residents open the agenda and answer while an officer adds items and schedules.
        let reads = tokens.iter().map(|t| app.gql_as(Some(t), AGENDA, json!({ "id": next["id"] })));
        let rsvps = tokens.iter().map(|t| {
            app.gql_as(
                Some(t),
                "mutation($id: ID!) { rsvpMeeting(id: $id, response: GOING) { id } }",
                json!({ "id": next["id"] }),
            )
        });
        let adds = (0..4).map(|n| {
            app.gql_as(
                Some(&officer),
                "mutation($i: AddAgendaItemInput!) { addAgendaItem(input: $i) { id } }",
                json!({ "i": { "meetingId": next["id"], "section": "STRATEGIES", "title": format!("Item {n}"), "idempotencyKey": format!("concurrent-add-{n}") } }),
            )
        });
        let (reads, rsvps, adds) = futures::join!(
            futures::future::join_all(reads),
            futures::future::join_all(rsvps),
            futures::future::join_all(adds)
        );
        for body in reads.iter().chain(&rsvps).chain(&adds) {
            assert!(body.get("errors").is_none(), "[{:?}] {body}", app.backend);
        }
        let agenda = app.data(AGENDA, json!({ "id": next["id"] })).await["meeting"]["agenda"].as_array().unwrap().clone();
        let welcome = agenda.iter().filter(|i| i["section"] == "WELCOME").count();
        assert_eq!(welcome, 1, "the agenda was generated twice");
        let generated: Vec<&Value> = agenda.iter().filter(|i| i["kind"] == "GENERATED").collect();
        let first_read = reads[0]["data"]["meeting"]["agenda"].as_array().unwrap();
        assert_eq!(
            generated.len(),
            first_read.iter().filter(|i| i["kind"] == "GENERATED").count()
        );
        assert_eq!(agenda.iter().filter(|i| i["kind"] == "MANUAL").count(), 4);
    })
    .await;
}

/// The stored agenda rows of a meeting, as (id, position, removed, votes, updated).
async fn stored_items(
    app: &TestApp,
    meeting: &Value,
) -> Vec<(Uuid, i32, bool, i32, DateTime<Utc>)> {
    let mut rows: Vec<_> = entity::agenda_item::Entity::find()
        .filter(entity::agenda_item::Column::MeetingId.eq(uid(meeting)))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.position, i.removed, i.vote_count, i.updated_at))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn reading_an_agenda_writes_nothing() {
    each_backend(Options::default(), |app| async move {
        let beat = beat_id(&app, "1012").await;
        let next = next_meeting(&app, &beat).await;
        let mut tokens = Vec::new();
        for n in 13..=18 {
            tokens.push(
                app.demo_login(&format!("resident{n}@demo.beatline.city"))
                    .await,
            );
        }
        let ids = |a: &Value| -> Vec<Value> {
            a["meeting"]["agenda"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone())
                .collect()
        };

        // Two reads in a row: the first costs no more statements than the second (it
        // generates nothing to store), and both show the same items.
        let s0 = app.statements().await;
        let first = app
            .data_as(Some(&tokens[0]), AGENDA, json!({ "id": next["id"] }))
            .await;
        let s1 = app.statements().await;
        let second = app
            .data_as(Some(&tokens[0]), AGENDA, json!({ "id": next["id"] }))
            .await;
        let s2 = app.statements().await;
        assert_eq!(s1 - s0, s2 - s1, "the first read cost more than the second");
        assert_eq!(ids(&first), ids(&second));
        let priorities: Vec<Value> = first["meeting"]["agenda"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["section"] == "PRIORITIES")
            .cloned()
            .collect();
        assert!(priorities.len() >= 2, "{first}");
        assert!(
            stored_items(&app, &next["id"]).await.is_empty(),
            "a read stored the agenda"
        );

        // Many concurrent first reads: no error, all alike, still nothing stored.
        let reads = futures::future::join_all(
            tokens
                .iter()
                .map(|t| app.gql_as(Some(t), AGENDA, json!({ "id": next["id"] }))),
        )
        .await;
        for r in &reads {
            assert!(r.get("errors").is_none(), "[{:?}] {r}", app.backend);
            assert_eq!(ids(&r["data"]), ids(&first));
        }
        assert!(stored_items(&app, &next["id"]).await.is_empty());
        assert_eq!(
            entity::agenda_vote::Entity::find()
                .count(&app.db)
                .await
                .unwrap(),
            0
        );

        // A vote for a generated item (by the id the read showed) stores the agenda,
        // with the same ids.
        let v = app
            .data_as(Some(&tokens[1]), VOTE, json!({ "id": priorities[1]["id"] }))
            .await;
        assert_eq!(v["voteAgendaItem"]["voteCount"], 1);
        let stored = stored_items(&app, &next["id"]).await;
        assert_eq!(stored.len(), ids(&first).len());
        let after_vote = app
            .data_as(Some(&tokens[1]), AGENDA, json!({ "id": next["id"] }))
            .await;
        assert_eq!(ids(&after_vote), ids(&first));
        let voted = after_vote["meeting"]["agenda"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == priorities[1]["id"])
            .unwrap()
            .clone();
        assert_eq!(voted["voteCount"], 1);
        assert_eq!(voted["votedByMe"], true);

        // Reads of a stored agenda change no row either.
        app.data_as(Some(&tokens[2]), AGENDA, json!({ "id": next["id"] }))
            .await;
        app.data(AGENDA, json!({ "id": next["id"] })).await;
        assert_eq!(stored_items(&app, &next["id"]).await, stored);

        // A new top problem shows up on the next read (computed, not stored), after the
        // stored priorities, and is stored by the next change.
        let problems = all_problems(&app).await;
        let seed = problems
            .iter()
            .find(|p| p["beat"]["code"] == "1012" && p["category"]["sensitive"] == false)
            .unwrap();
        let mut hot = entity::problem::Entity::find_by_id(uid(&seed["id"]))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        hot.id = Uuid::now_v7();
        hot.reference = "BL-HOT-1".into();
        hot.status = ProblemStatus::New;
        hot.duplicate_of_id = None;
        hot.support_count = 10_000;
        hot.into_active_model().insert(&app.db).await.unwrap();
        let fresh = app.data(AGENDA, json!({ "id": next["id"] })).await;
        let fresh_items = fresh["meeting"]["agenda"].as_array().unwrap();
        let hot_item = fresh_items
            .iter()
            .find(|i| i["problem"]["reference"] == "BL-HOT-1")
            .expect("the new top problem is on the agenda");
        assert_eq!(hot_item["section"], "PRIORITIES");
        let last_priority = fresh_items
            .iter()
            .rfind(|i| i["section"] == "PRIORITIES")
            .unwrap();
        assert_eq!(last_priority["id"], hot_item["id"]);
        assert_eq!(stored_items(&app, &next["id"]).await, stored);
        let officer = app.demo_login("officer.1012@demo.beatline.city").await;
        app.data_as(
            Some(&officer),
            "mutation($id: ID!) { removeAgendaItem(id: $id) { id removed } }",
            json!({ "id": hot_item["id"] }),
        )
        .await;
        let now_stored = stored_items(&app, &next["id"]).await;
        assert_eq!(now_stored.len(), stored.len() + 1);
        assert!(now_stored.iter().any(|(id, _, removed, _, _)| {
            hot_item["id"].as_str().unwrap().ends_with(&id.to_string()) && *removed
        }));
    })
    .await;
}

#[tokio::test]
async fn creating_mutations_replay_a_retry_and_refuse_a_reused_key() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resident = app.demo_login("resident5@demo.beatline.city").await;
        let resident_id = app.data_as(Some(&resident), "{ me { id } }", json!({})).await["me"]["id"].clone();
        let beat = beat_id(&app, "1011").await;
        let next = next_meeting(&app, &beat).await;
        let problems = all_problems(&app).await;
        let open: Vec<&Value> = problems
            .iter()
            .filter(|p| p["beat"]["code"] == "1011" && is_open(p) && p["category"]["sensitive"] == false)
            .collect();
        let shown = app.data(AGENDA, json!({ "id": next["id"] })).await;
        let on_agenda: HashSet<&Value> = shown["meeting"]["agenda"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["problem"]["id"])
            .collect();
        let unlisted = problems
            .iter()
            .find(|p| p["beat"]["code"] == "1011" && p["category"]["sensitive"] == false && !on_agenda.contains(&p["id"]))
            .unwrap();
        let due = (Utc::now() + TimeDelta::days(10)).date_naive().to_string();
        const ADD: &str = "mutation($i: AddAgendaItemInput!) { addAgendaItem(input: $i) { id title } }";
        let cases: Vec<(&str, &str, &str, Value, Value)> = vec![
            (
                "addAgendaItem",
                ADD,
                "officer",
                json!({ "meetingId": next["id"], "section": "STRATEGIES", "title": "Walk the block", "idempotencyKey": "idem-add-0001" }),
                json!({ "title": "Something else" }),
            ),
            (
                "proposeAgendaItem",
                PROPOSE,
                "resident",
                json!({ "meetingId": next["id"], "problemId": unlisted["id"], "note": "Every night", "idempotencyKey": "idem-propose-1" }),
                json!({ "note": "Every morning" }),
            ),
            (
                "createActionItem",
                ADD_ACTION,
                "officer",
                json!({ "meetingId": next["id"], "title": "Call the landlord", "ownerKind": "RESIDENT", "ownerUserId": resident_id, "dueOn": due, "idempotencyKey": "idem-action-1" }),
                json!({ "title": "Call the city" }),
            ),
            (
                "adoptProblem",
                ADOPT,
                "officer",
                json!({ "problemIds": [open[0]["id"]], "meetingId": next["id"], "title": "Dark corner", "harm": "Nobody walks there", "idempotencyKey": "idem-adopt-01" }),
                json!({ "title": "Another corner" }),
            ),
        ];
        for (field, query, who, input, change) in cases {
            let token = if who == "officer" { &officer } else { &resident };
            let created = app.data_as(Some(token), query, json!({ "i": input })).await[field].clone();
            let again = app.data_as(Some(token), query, json!({ "i": input })).await[field].clone();
            assert_eq!(again["id"], created["id"], "{field}: a retry created another object");
            let mut other = input.clone();
            for (k, v) in change.as_object().unwrap() {
                other[k] = v.clone();
            }
            let reused = app.gql_as(Some(token), query, json!({ "i": other })).await;
            assert_eq!(error_code(&reused), "CONFLICT", "{field}: {reused}");
            assert!(error_message(&reused).contains("new key"), "{field}: {reused}");
        }
        // One of each was made.
        let agenda = app.data(AGENDA, json!({ "id": next["id"] })).await["meeting"]["agenda"].as_array().unwrap().clone();
        assert_eq!(agenda.iter().filter(|i| i["title"] == "Walk the block").count(), 1);
        assert_eq!(agenda.iter().filter(|i| i["kind"] == "PROPOSED").count(), 1);
        let meeting_id = uid(&next["id"]);
        assert_eq!(
            entity::action_item::Entity::find()
                .filter(entity::action_item::Column::MeetingId.eq(meeting_id))
                .count(&app.db)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            entity::sara_record::Entity::find()
                .filter(entity::sara_record::Column::MeetingId.eq(meeting_id))
                .count(&app.db)
                .await
                .unwrap(),
            1
        );
        // The keys are kept in the one shared table, per user and operation.
        let ops: HashSet<String> = entity::idempotency_key::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.operation)
            .collect();
        for op in ["addAgendaItem", "proposeAgendaItem", "createActionItem", "adoptProblem"] {
            assert!(ops.contains(op), "{op} not in {ops:?}");
        }
    })
    .await;
}
