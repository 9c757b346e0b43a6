//! The authorization matrix: for every query and mutation that takes an id, every role
//! (and officer inside and outside the beat, captain inside and outside the precinct,
//! partner of the routed organisation or not) is asserted allowed, FORBIDDEN,
//! UNAUTHENTICATED or NOT_FOUND (hidden). The test reads the schema by introspection, so
//! a new id-taking field without a row here makes it fail.

use std::collections::{BTreeSet, HashMap};

use beatline_tests::{Options, TestApp, each_backend};
use serde_json::{Value, json};

/// The callers of the matrix, in column order.
const ROLES: [&str; 9] = [
    "anonymous",
    "resident",
    "officer_in",
    "officer_out",
    "captain_in",
    "captain_out",
    "partner_routed",
    "partner_other",
    "admin",
];

fn login_of(role: &str) -> Option<&'static str> {
    Some(match role {
        "officer_in" => "officer.1011@demo.beatline.city",
        "officer_out" => "officer.2021@demo.beatline.city",
        "captain_in" => "captain.west@demo.beatline.city",
        "captain_out" => "captain.east@demo.beatline.city",
        "partner_routed" => "outreach@health.demo.beatline.city",
        "partner_other" => "dispatch@streets.demo.beatline.city",
        "admin" => "admin@demo.beatline.city",
        _ => return None,
    })
}

/// What a caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// No error.
    Ok,
    /// FORBIDDEN.
    Forb,
    /// UNAUTHENTICATED.
    Unau,
    /// NOT_FOUND: the object is hidden from this caller.
    Hide,
}
use Outcome::{Forb, Hide, Ok, Unau};

const ALL_OK: [Outcome; 9] = [Ok; 9];
const ADMIN_ONLY: [Outcome; 9] = [Unau, Forb, Forb, Forb, Forb, Forb, Forb, Forb, Ok];

/// Ids the cases use, read from the demo city.
struct Fixtures(HashMap<String, Value>);

impl Fixtures {
    fn id(&self, key: &str) -> Value {
        self.0
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no fixture {key}"))
    }
}

/// The fresh resident's token is the `resident` column: a new account that reported the
/// fixture problems below, and nothing else.
async fn fresh_resident(app: &TestApp) -> String {
    let fresh = app
        .data(
            "mutation { register(input: { email: \"fresh.resident@example.org\", password: \"lantern orbit pickle harbor\", displayName: \"Fresh\" }) { accessToken } }",
            json!({}),
        )
        .await;
    fresh["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn report(app: &TestApp, token: &str, key: &str) -> Value {
    let data = app
        .data_as(
            Some(token),
            "mutation($i: ReportProblemInput!) { reportProblem(input: $i) { id } }",
            json!({ "i": { "idempotencyKey": key, "categoryCode": "ABANDONED_VEHICLE", "description": "A van without plates for two weeks.", "lat": 41.802, "lon": -87.698 } }),
        )
        .await;
    data["reportProblem"]["id"].clone()
}

async fn fixtures(app: &TestApp, resident: &str) -> Fixtures {
    let admin = app.demo_login("admin@demo.beatline.city").await;
    let data = app
        .data_as(
            Some(&admin),
            r#"{ precincts { id code beats { id code } }
                 neighborhoods { id }
                 police: problems(filter: { categoryCode: "ABANDONED_VEHICLE" }, first: 100) { edges { node { id beat { code } } } }
                 health: problems(filter: { categoryCode: "SYRINGE_FOUND" }, first: 1) { edges { node { id assignedPartner { id } } } } }"#,
            json!({}),
        )
        .await;
    let mut map: HashMap<String, Value> = HashMap::new();
    for p in data["precincts"].as_array().unwrap() {
        if p["code"] == "P1" {
            map.insert("precinct_p1".into(), p["id"].clone());
        }
        for b in p["beats"].as_array().unwrap() {
            if b["code"] == "1011" {
                map.insert("beat_1011".into(), b["id"].clone());
            }
        }
    }
    map.insert(
        "neighborhood".into(),
        data["neighborhoods"][0]["id"].clone(),
    );
    let police = data["police"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["beat"]["code"] == "1011")
        .expect("a police problem in beat 1011");
    map.insert("police_problem_1011".into(), police["node"]["id"].clone());
    map.insert(
        "health_problem".into(),
        data["health"]["edges"][0]["node"]["id"].clone(),
    );
    map.insert(
        "health_partner".into(),
        data["health"]["edges"][0]["node"]["assignedPartner"]["id"].clone(),
    );
    let officer = app.demo_login("officer.1011@demo.beatline.city").await;
    let me = app
        .data_as(Some(&officer), "{ me { id } }", json!({}))
        .await;
    map.insert("officer_1011".into(), me["me"]["id"].clone());
    let captain = app.demo_login("captain.west@demo.beatline.city").await;
    let me = app
        .data_as(Some(&captain), "{ me { id } }", json!({}))
        .await;
    map.insert("captain_west".into(), me["me"]["id"].clone());
    let partner = app.demo_login("outreach@health.demo.beatline.city").await;
    let me = app
        .data_as(Some(&partner), "{ me { id } }", json!({}))
        .await;
    map.insert("partner_user".into(), me["me"]["id"].clone());
    // One meeting of beat 1011 per role, so that each role's cancel or change acts on
    // a meeting of its own.
    let start = chrono::Utc::now() + chrono::Duration::days(20);
    for role in ROLES.iter().chain(&["past", "agenda"]) {
        let m = app
            .data_as(
                Some(&admin),
                "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
                json!({ "i": {
                    "beatId": map["beat_1011"], "title": format!("Matrix {role}"),
                    "startsAt": start.to_rfc3339(), "endsAt": (start + chrono::Duration::hours(1)).to_rfc3339(),
                    "timeZone": "America/Chicago", "placeName": "Hall", "idempotencyKey": format!("fixture-{role}"),
                } }),
            )
            .await;
        map.insert(
            format!("meeting_{role}"),
            m["scheduleMeeting"]["id"].clone(),
        );
    }
    // Problems in beat 1011 reported by the fresh resident: one per role for the
    // operations that change a problem's version or state.
    for case in ["status", "assign", "dup", "sara", "adopt", "propose"] {
        for role in ROLES {
            let id = report(app, resident, &format!("matrix-{case}-{role}")).await;
            map.insert(format!("p_{case}_{role}"), id);
        }
    }
    map.insert(
        "original".into(),
        report(app, resident, "matrix-original").await,
    );
    // A problem of the fresh resident, resolved, to rate.
    let rated = report(app, resident, "matrix-rated").await;
    for (status, version) in [("ACKNOWLEDGED", 1), ("RESOLVED", 2)] {
        app.data_as(
            Some(&admin),
            "mutation($i: UpdateProblemStatusInput!) { updateProblemStatus(input: $i) { version } }",
            json!({ "i": { "problemId": rated, "status": status, "expectedVersion": version } }),
        )
        .await;
    }
    map.insert("rated".into(), rated);
    // Agenda items, SARA records and action items of beat 1011: one per role where an
    // operation consumes them.
    for role in ROLES {
        let item = app
            .data_as(
                Some(&admin),
                "mutation($i: AddAgendaItemInput!) { addAgendaItem(input: $i) { id } }",
                json!({ "i": { "meetingId": map["meeting_agenda"], "section": "PRIORITIES", "title": format!("Item {role}"), "idempotencyKey": format!("fixture-item-{role}") } }),
            )
            .await;
        map.insert(
            format!("agenda_{role}"),
            item["addAgendaItem"]["id"].clone(),
        );
        let record = app
            .data_as(
                Some(&admin),
                "mutation($i: AdoptProblemInput!) { adoptProblem(input: $i) { id } }",
                json!({ "i": { "problemIds": [map[&format!("p_sara_{role}")]], "title": format!("Plan {role}"), "harm": "Blocks the alley.", "idempotencyKey": format!("fixture-sara-{role}") } }),
            )
            .await;
        map.insert(format!("sara_{role}"), record["adoptProblem"]["id"].clone());
    }
    let action = app
        .data_as(
            Some(&admin),
            "mutation($i: CreateActionItemInput!) { createActionItem(input: $i) { id } }",
            json!({ "i": { "meetingId": map["meeting_agenda"], "title": "Ask Streets to fix the light", "ownerKind": "OFFICER", "ownerUserId": map["officer_1011"], "idempotencyKey": "fixture-action" } }),
        )
        .await;
    map.insert("action".into(), action["createActionItem"]["id"].clone());
    let proposed = app
        .data_as(
            Some(resident),
            "mutation($i: ProposeAgendaItemInput!) { proposeAgendaItem(input: $i) { id } }",
            json!({ "i": { "meetingId": map["meeting_agenda"], "problemId": map["original"], "idempotencyKey": "fixture-proposal" } }),
        )
        .await;
    map.insert(
        "proposal".into(),
        proposed["proposeAgendaItem"]["id"].clone(),
    );
    // A meeting that took place yesterday, for attendance.
    {
        use sea_orm::{ActiveModelTrait as _, EntityTrait as _, IntoActiveModel as _, Set};
        let id: uuid::Uuid = map["meeting_past"].as_str().unwrap().parse().unwrap();
        let row = entity::meeting::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut past = row.into_active_model();
        let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
        past.starts_at = Set(yesterday);
        past.ends_at = Set(yesterday + chrono::Duration::hours(1));
        past.update(&app.db).await.unwrap();
        map.insert("past_meeting".into(), map["meeting_past"].clone());
    }
    Fixtures(map)
}

const BEAT_1011_STAFF: [Outcome; 9] = [Unau, Forb, Ok, Forb, Ok, Forb, Forb, Forb, Ok];
const SIGNED_IN: [Outcome; 9] = [Unau, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok];

fn schedule_vars(f: &Fixtures, role: &str) -> Value {
    let start = chrono::Utc::now() + chrono::Duration::days(30);
    json!({ "i": {
        "beatId": f.id("beat_1011"), "title": "Beat 1011 meeting", "startsAt": start.to_rfc3339(),
        "endsAt": (start + chrono::Duration::hours(1)).to_rfc3339(), "timeZone": "America/Chicago",
        "placeName": "Hall", "idempotencyKey": format!("matrix-{role}"),
    } })
}

/// One row of the matrix.
struct Case {
    /// `Query.field` or `Mutation.field`.
    field: &'static str,
    /// The operation to run.
    query: &'static str,
    /// Its variables, for a role.
    vars: fn(&Fixtures, &str) -> Value,
    /// What each role gets, in [`ROLES`] order.
    expect: [Outcome; 9],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            field: "Query.precinct",
            query: "query($id: ID!) { precinct(id: $id) { code } }",
            vars: |f, _| json!({ "id": f.id("precinct_p1") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.beat",
            query: "query($id: ID!) { beat(id: $id) { code } }",
            vars: |f, _| json!({ "id": f.id("beat_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.beats",
            query: "query($id: ID) { beats(precinctId: $id) { code } }",
            vars: |f, _| json!({ "id": f.id("precinct_p1") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.neighborhood",
            query: "query($id: ID!) { neighborhood(id: $id) { name } }",
            vars: |f, _| json!({ "id": f.id("neighborhood") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.problem",
            query: "query($id: ID!) { problem(id: $id) { reference } }",
            vars: |f, _| json!({ "id": f.id("police_problem_1011") }),
            expect: ALL_OK,
        },
        // A public-health problem: only its partner and admins see it.
        Case {
            field: "Query.problem",
            query: "query($id: ID!) { problem(id: $id) { reference } }",
            vars: |f, _| json!({ "id": f.id("health_problem") }),
            expect: [Hide, Hide, Hide, Hide, Hide, Hide, Ok, Hide, Ok],
        },
        Case {
            field: "Query.problems",
            query: "query($b: ID) { problems(filter: { beatId: $b }, first: 1) { edges { cursor } } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Mutation.register",
            query: "mutation($n: ID, $e: String!) { register(input: { email: $e, password: \"lantern orbit pickle harbor\", displayName: \"M\", homeNeighborhoodId: $n }) { accessToken } }",
            vars: |f, role| json!({ "n": f.id("neighborhood"), "e": format!("matrix.{role}@example.org") }),
            expect: ALL_OK,
        },
        Case {
            field: "Mutation.assignOfficerToBeat",
            query: "mutation($o: ID!, $b: ID!) { assignOfficerToBeat(officerId: $o, beatId: $b) }",
            vars: |f, _| json!({ "o": f.id("officer_1011"), "b": f.id("beat_1011") }),
            expect: ADMIN_ONLY,
        },
        Case {
            field: "Mutation.assignCaptainToPrecinct",
            query: "mutation($c: ID!, $p: ID!) { assignCaptainToPrecinct(captainId: $c, precinctId: $p) }",
            vars: |f, _| json!({ "c": f.id("captain_west"), "p": f.id("precinct_p1") }),
            expect: ADMIN_ONLY,
        },
        Case {
            field: "Mutation.addPartnerMember",
            query: "mutation($u: ID!, $p: ID!) { addPartnerMember(userId: $u, partnerId: $p) }",
            vars: |f, _| json!({ "u": f.id("partner_user"), "p": f.id("health_partner") }),
            expect: ADMIN_ONLY,
        },
        Case {
            field: "Mutation.upsertCategory",
            query: "mutation($p: ID) { upsertCategory(input: { serviceCode: \"NEEDLE_BIN_FULL\", name: \"Needle bin full\", description: \"A sharps disposal bin is full.\", route: PARTNER, partnerId: $p, slaHours: 48, sensitive: true }) { serviceCode } }",
            vars: |f, _| json!({ "p": f.id("health_partner") }),
            expect: ADMIN_ONLY,
        },
        Case {
            field: "Query.meeting",
            query: "query($id: ID!) { meeting(id: $id) { title } }",
            vars: |f, _| json!({ "id": f.id("meeting_admin") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.meetings",
            query: "query($b: ID) { meetings(filter: { beatId: $b }, first: 5) { edges { cursor } } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.attendanceTrend",
            query: "query($b: ID!) { attendanceTrend(beatId: $b) { __typename } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Mutation.scheduleMeeting",
            query: "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
            vars: schedule_vars,
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.updateMeeting",
            query: "mutation($id: ID!) { updateMeeting(input: { id: $id, expectedVersion: 1, title: \"Renamed\" }) { id } }",
            vars: |f, role| json!({ "id": f.id(&format!("meeting_{role}")) }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.rsvpMeeting",
            query: "mutation($id: ID!) { rsvpMeeting(id: $id, response: GOING) { id } }",
            vars: |f, _| json!({ "id": f.id("meeting_officer_in") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.recordAttendance",
            query: "mutation($id: ID!) { recordAttendance(id: $id, residents: 12, officers: 2) { id } }",
            vars: |f, _| json!({ "id": f.id("past_meeting") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.cancelMeeting",
            query: "mutation($id: ID!) { cancelMeeting(id: $id, reason: \"Matrix\") { id } }",
            vars: |f, role| json!({ "id": f.id(&format!("meeting_{role}")) }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.followBeat",
            query: "mutation($b: ID!) { followBeat(beatId: $b) { code } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.unfollowBeat",
            query: "mutation($b: ID!) { unfollowBeat(beatId: $b) { code } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.updateProblemStatus",
            query: "mutation($p: ID!) { updateProblemStatus(input: { problemId: $p, status: ACKNOWLEDGED, expectedVersion: 1 }) { version } }",
            vars: |f, role| json!({ "p": f.id(&format!("p_status_{role}")) }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.assignProblem",
            query: "mutation($p: ID!, $o: ID!) { assignProblem(input: { problemId: $p, officerId: $o, expectedVersion: 1 }) { version } }",
            vars: |f, role| json!({ "p": f.id(&format!("p_assign_{role}")), "o": f.id("officer_1011") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.markDuplicate",
            query: "mutation($p: ID!, $o: ID!) { markDuplicate(input: { problemId: $p, duplicateOfId: $o }) { __typename } }",
            vars: |f, role| json!({ "p": f.id(&format!("p_dup_{role}")), "o": f.id("original") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.commentOnProblem",
            query: "mutation($p: ID!, $k: String!) { commentOnProblem(input: { problemId: $p, body: \"Still there this morning.\", idempotencyKey: $k }) { __typename } }",
            vars: |f, role| json!({ "p": f.id("police_problem_1011"), "k": format!("matrix-comment-{role}") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.followProblem",
            query: "mutation($p: ID!) { followProblem(problemId: $p) { id } }",
            vars: |f, _| json!({ "p": f.id("police_problem_1011") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.unfollowProblem",
            query: "mutation($p: ID!) { unfollowProblem(problemId: $p) { id } }",
            vars: |f, _| json!({ "p": f.id("police_problem_1011") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.supportProblem",
            query: "mutation($p: ID!) { supportProblem(problemId: $p) { id } }",
            vars: |f, _| json!({ "p": f.id("police_problem_1011") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.rateResolution",
            query: "mutation($p: ID!, $k: String!) { rateResolution(input: { problemId: $p, rating: 5, idempotencyKey: $k }) { id } }",
            vars: |f, role| json!({ "p": f.id("rated"), "k": format!("matrix-rate-{role}") }),
            expect: [Unau, Ok, Forb, Forb, Forb, Forb, Forb, Forb, Forb],
        },
        Case {
            field: "Query.dashboard",
            query: "query($p: ID!, $f: DateTime!, $t: DateTime!) { dashboard(precinctId: $p, from: $f, to: $t) { __typename } }",
            vars: |f, _| json!({ "p": f.id("precinct_p1"), "f": "2026-01-01T00:00:00Z", "t": "2026-12-31T00:00:00Z" }),
            expect: [Unau, Forb, Forb, Forb, Ok, Forb, Forb, Forb, Ok],
        },
        Case {
            field: "Query.openActionItems",
            query: "query($b: ID!) { openActionItems(beatId: $b) { id } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.saraRecord",
            query: "query($id: ID!) { saraRecord(id: $id) { id } }",
            vars: |f, _| json!({ "id": f.id("sara_admin") }),
            expect: ALL_OK,
        },
        Case {
            field: "Query.saraRecords",
            query: "query($b: ID!) { saraRecords(beatId: $b) { id } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Mutation.addAgendaItem",
            query: "mutation($m: ID!, $k: String!) { addAgendaItem(input: { meetingId: $m, section: STRATEGIES, title: \"Lights\", idempotencyKey: $k }) { id } }",
            vars: |f, role| json!({ "m": f.id("meeting_agenda"), "k": format!("matrix-add-{role}") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.removeAgendaItem",
            query: "mutation($id: ID!) { removeAgendaItem(id: $id) { id } }",
            vars: |f, role| json!({ "id": f.id(&format!("agenda_{role}")) }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.reorderAgendaItems",
            query: "mutation($m: ID!, $a: ID!) { reorderAgendaItems(meetingId: $m, section: PRIORITIES, itemIds: [$a]) { id } }",
            vars: |f, _| json!({ "m": f.id("meeting_agenda"), "a": f.id("agenda_admin") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.refreshAgenda",
            query: "mutation($m: ID!) { refreshAgenda(meetingId: $m) { id } }",
            vars: |f, _| json!({ "m": f.id("meeting_agenda") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.proposeAgendaItem",
            query: "mutation($m: ID!, $p: ID!, $k: String!) { proposeAgendaItem(input: { meetingId: $m, problemId: $p, idempotencyKey: $k }) { id } }",
            vars: |f, role| json!({ "m": f.id("meeting_agenda"), "p": f.id(&format!("p_propose_{role}")), "k": format!("matrix-propose-{role}") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.voteAgendaItem",
            query: "mutation($id: ID!) { voteAgendaItem(id: $id) { id } }",
            vars: |f, _| json!({ "id": f.id("proposal") }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Mutation.publishMinutes",
            query: "mutation($m: ID!) { publishMinutes(meetingId: $m, body: \"Minutes\", decisions: [\"Fix the light\"]) { __typename } }",
            vars: |f, _| json!({ "m": f.id("past_meeting") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.createActionItem",
            query: "mutation($m: ID!, $o: ID!, $k: String!) { createActionItem(input: { meetingId: $m, title: \"Walk the alley\", ownerKind: OFFICER, ownerUserId: $o, idempotencyKey: $k }) { id } }",
            vars: |f, role| json!({ "m": f.id("meeting_agenda"), "o": f.id("officer_1011"), "k": format!("matrix-action-{role}") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.updateActionItem",
            query: "mutation($id: ID!) { updateActionItem(input: { id: $id, status: IN_PROGRESS }) { id } }",
            vars: |f, _| json!({ "id": f.id("action") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.adoptProblem",
            query: "mutation($p: ID!, $k: String!) { adoptProblem(input: { problemIds: [$p], title: \"Alley plan\", harm: \"Blocks the alley.\", idempotencyKey: $k }) { id } }",
            vars: |f, role| json!({ "p": f.id(&format!("p_adopt_{role}")), "k": format!("matrix-adopt-{role}") }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.advanceSara",
            query: "mutation($id: ID!) { advanceSara(input: { id: $id, expectedVersion: 1, to: ANALYSIS, note: \"Matrix\" }) { stage } }",
            vars: |f, role| json!({ "id": f.id(&format!("sara_{role}")) }),
            expect: BEAT_1011_STAFF,
        },
        Case {
            field: "Mutation.markNotificationsRead",
            query: "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }",
            vars: |_, _| json!({ "ids": [uuid::Uuid::now_v7().to_string()] }),
            expect: SIGNED_IN,
        },
        Case {
            field: "Subscription.problemUpdated",
            query: "subscription($id: ID!) { problemUpdated(id: $id) { id } }",
            vars: |f, _| json!({ "id": f.id("police_problem_1011") }),
            expect: ALL_OK,
        },
        Case {
            field: "Subscription.problemUpdated",
            query: "subscription($id: ID!) { problemUpdated(id: $id) { id } }",
            vars: |f, _| json!({ "id": f.id("health_problem") }),
            expect: [Hide, Hide, Hide, Hide, Hide, Hide, Ok, Hide, Ok],
        },
        Case {
            field: "Subscription.beatActivity",
            query: "subscription($b: ID!) { beatActivity(beatId: $b) { kind } }",
            vars: |f, _| json!({ "b": f.id("beat_1011") }),
            expect: [Ok, Ok, Ok, Forb, Ok, Forb, Ok, Ok, Ok],
        },
    ]
}

/// Runs a subscription over WebSocket: no message within a short while means it was
/// accepted (nothing has changed yet); an error message gives its code.
async fn subscribe_outcome(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    let mut client = beatline_tests::live::LiveClient::connect(&app.base, token).await;
    client.subscribe(query, vars).await;
    let msg = client
        .next_message(std::time::Duration::from_millis(700))
        .await;
    client.close().await;
    match msg {
        None => json!({ "data": {} }),
        Some(m) if m["type"] == "next" => m["payload"].clone(),
        Some(m) if m["type"] == "error" => json!({ "errors": m["payload"] }),
        Some(m) => {
            json!({ "errors": [{ "extensions": { "code": format!("unexpected message {m}") } }] })
        }
    }
}

/// Names of the root fields that take an ID, directly or inside an input object.
async fn id_taking_fields(app: &TestApp) -> BTreeSet<String> {
    let data = app
        .data(
            "{ __schema { queryType { name } mutationType { name } subscriptionType { name }
                 types { name kind
                   fields { name args { name type { ...T } } }
                   inputFields { name type { ...T } } } } }
             fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }",
            json!({}),
        )
        .await;
    fn base(t: &Value) -> String {
        let mut t = t;
        while t["ofType"].is_object() {
            t = &t["ofType"];
        }
        t["name"].as_str().unwrap_or_default().to_owned()
    }
    let types = data["__schema"]["types"].as_array().unwrap();
    let by_name: HashMap<String, &Value> = types
        .iter()
        .map(|t| (t["name"].as_str().unwrap_or_default().to_owned(), t))
        .collect();
    fn input_has_id(name: &str, by_name: &HashMap<String, &Value>, depth: u8) -> bool {
        let Some(t) = by_name.get(name) else {
            return false;
        };
        if depth > 3 || t["kind"] != "INPUT_OBJECT" {
            return false;
        }
        t["inputFields"].as_array().unwrap().iter().any(|f| {
            let b = base(&f["type"]);
            b == "ID" || input_has_id(&b, by_name, depth + 1)
        })
    }
    let mut out = BTreeSet::new();
    for (root, label) in [
        ("queryType", "Query"),
        ("mutationType", "Mutation"),
        ("subscriptionType", "Subscription"),
    ] {
        let Some(name) = data["__schema"][root]["name"].as_str() else {
            continue;
        };
        let Some(t) = by_name.get(name) else { continue };
        for f in t["fields"].as_array().unwrap() {
            let takes_id = f["args"].as_array().unwrap().iter().any(|a| {
                let b = base(&a["type"]);
                b == "ID" || input_has_id(&b, &by_name, 0)
            });
            if takes_id {
                out.insert(format!("{label}.{}", f["name"].as_str().unwrap()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_id_taking_field_is_in_the_matrix_and_holds() {
    each_backend(Options::default(), |app| async move {
        let cases = cases();
        let covered: BTreeSet<String> = cases.iter().map(|c| c.field.to_owned()).collect();
        let needed = id_taking_fields(&app).await;
        let missing: Vec<_> = needed.difference(&covered).collect();
        assert!(
            missing.is_empty(),
            "id-taking fields without a row in the authorization matrix: {missing:?}"
        );

        let resident = fresh_resident(&app).await;
        let fx = fixtures(&app, &resident).await;
        let mut tokens: HashMap<&str, Option<String>> = HashMap::new();
        for role in ROLES {
            let token = match login_of(role) {
                Some(email) => Some(app.demo_login(email).await),
                None => None,
            };
            tokens.insert(role, token);
        }
        tokens.insert("resident", Some(resident.clone()));
        let mut failures = Vec::new();
        for case in &cases {
            for (role, expected) in ROLES.iter().zip(case.expect) {
                let token = tokens.get(role).cloned().flatten();
                let vars = (case.vars)(&fx, role);
                let body = if case.field.starts_with("Subscription.") {
                    subscribe_outcome(&app, token.as_deref(), case.query, vars).await
                } else {
                    app.gql_as(token.as_deref(), case.query, vars).await
                };
                let got = match body["errors"][0]["extensions"]["code"].as_str() {
                    None => Ok,
                    Some("FORBIDDEN") => Forb,
                    Some("UNAUTHENTICATED") => Unau,
                    Some("NOT_FOUND") => Hide,
                    Some(other) => {
                        failures.push(format!(
                            "{} as {role}: unexpected {other}: {body}",
                            case.field
                        ));
                        continue;
                    }
                };
                if got != expected {
                    failures.push(format!(
                        "{} as {role}: expected {expected:?}, got {got:?}: {body}",
                        case.field
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "authorization matrix violations:\n{}",
            failures.join("\n")
        );
    })
    .await;
}
