//! Beat meetings: scheduling series with RRULEs, changes and cancellations of single
//! occurrences, RSVPs, notifications, attendance, and the iCalendar feeds (parsed with
//! the independent `ical` crate).

use std::io::BufReader;

use beatline_tests::{Options, TestApp, each_backend, error_code, error_message};
use chrono::{DateTime, Datelike as _, NaiveDate, TimeZone as _, Utc, Weekday};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    PaginatorTrait as _, QueryFilter as _,
};
use serde_json::{Value, json};

const CHICAGO: chrono_tz::Tz = chrono_tz::America::Chicago;

pub const SCHEDULE: &str = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) {
  id title startsAt endsAt timeZone localStartsAt seriesId recurrenceId status isException
  place { name address } onlineUrl languages accessibilityNotes beat { code } } }";
const LIST: &str = "query($f: MeetingFilter, $first: Int, $after: String) {
  meetings(filter: $f, first: $first, after: $after) {
    edges { cursor node { id title startsAt endsAt status seriesId isException beat { code }
      rsvpCounts { going maybe notGoing } myRsvp minutes { body } } }
    pageInfo { hasNextPage endCursor } } }";
const RSVP: &str = "mutation($id: ID!, $r: RsvpResponse!) { rsvpMeeting(id: $id, response: $r) { id rsvpCounts { going maybe notGoing } myRsvp } }";
const CANCEL: &str =
    "mutation($id: ID!) { cancelMeeting(id: $id, reason: \"Hall flooded\") { id status } }";
const UPDATE: &str = "mutation($i: UpdateMeetingInput!) { updateMeeting(input: $i) { id startsAt isException recurrenceId place { name } } }";

/// The second Tuesday of the month `months_ahead` after now, 18:30 in Chicago.
pub fn second_tuesday(months_ahead: u32) -> DateTime<Utc> {
    let today = Utc::now().with_timezone(&CHICAGO).date_naive();
    let (mut y, mut m) = (today.year(), today.month());
    for _ in 0..months_ahead {
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    let day = NaiveDate::from_weekday_of_month_opt(y, m, Weekday::Tue, 2).unwrap();
    CHICAGO
        .from_local_datetime(&day.and_hms_opt(18, 30, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

pub async fn beat_id(app: &TestApp, code: &str) -> String {
    let beats = app.data("{ beats { id code } }", json!({})).await;
    beats["beats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == code)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn series_input(beat: &str, start: DateTime<Utc>, key: &str) -> Value {
    json!({ "i": {
        "beatId": beat,
        "title": "Beat 1011 CAPS meeting",
        "startsAt": start.to_rfc3339(),
        "endsAt": (start + chrono::TimeDelta::minutes(90)).to_rfc3339(),
        "timeZone": "America/Chicago",
        "placeName": "Lakeside Library, Room B",
        "placeAddress": "12 Harbor St; 2nd floor",
        "lat": 41.80, "lon": -87.70,
        "languages": ["en", "es"],
        "accessibilityNotes": "Step-free entrance, ASL on request",
        "recurrence": "FREQ=MONTHLY;BYDAY=2TU",
        "idempotencyKey": key,
    }})
}

async fn notifications(app: &TestApp, user_email: &str, kind: &str) -> u64 {
    let user = entity::user::Entity::find()
        .filter(entity::user::Column::Email.eq(user_email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    entity::notification::Entity::find()
        .filter(entity::notification::Column::UserId.eq(user.id))
        .filter(entity::notification::Column::Kind.eq(kind))
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn officer_schedules_a_monthly_series_and_residents_answer() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;

        // A resident follows the beat, so they hear of new meetings.
        app.data_as(
            Some(&resident),
            "mutation($b: ID!) { followBeat(beatId: $b) { code } }",
            json!({ "b": beat }),
        )
        .await;

        let start = second_tuesday(1);
        let created = app
            .data_as(Some(&officer), SCHEDULE, series_input(&beat, start, "series-key-0001"))
            .await["scheduleMeeting"]
            .clone();
        assert_eq!(created["status"], "SCHEDULED");
        assert_eq!(created["beat"]["code"], "1011");
        assert_eq!(created["languages"], json!(["en", "es"]));
        assert!(created["seriesId"].is_string());
        assert!(
            created["localStartsAt"].as_str().unwrap().contains("T18:30:00-0"),
            "{created}"
        );

        // A retry with the same key returns the same meeting and creates nothing new.
        let again = app
            .data_as(Some(&officer), SCHEDULE, series_input(&beat, start, "series-key-0001"))
            .await["scheduleMeeting"]
            .clone();
        assert_eq!(again["id"], created["id"]);
        let series_count = entity::meeting_series::Entity::find()
            .filter(entity::meeting_series::Column::Title.eq("Beat 1011 CAPS meeting"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(series_count, 1);
        // The same key for another meeting is refused.
        let reused = app
            .gql_as(Some(&officer), SCHEDULE, series_input(&beat, second_tuesday(2), "series-key-0001"))
            .await;
        assert_eq!(error_code(&reused), "CONFLICT", "{reused}");
        assert!(error_message(&reused).contains("new key"), "{reused}");

        // The series is expanded a rolling 12 months ahead, always 18:30 local time on
        // the second Tuesday (across the DST change).
        let series_id = created["seriesId"].as_str().unwrap().to_owned();
        let occurrences = entity::meeting::Entity::find()
            .filter(entity::meeting::Column::SeriesId.eq(uuid::Uuid::parse_str(&series_id).unwrap()))
            .all(&app.db)
            .await
            .unwrap();
        assert!((11..=13).contains(&occurrences.len()), "{} occurrences", occurrences.len());
        for m in &occurrences {
            let local = m.starts_at.with_timezone(&CHICAGO);
            assert_eq!(local.format("%H:%M %a").to_string(), "18:30 Tue");
            assert!((8..=14).contains(&local.day()), "{local}");
        }

        // The follower was notified.
        assert_eq!(
            notifications(&app, "resident1@demo.beatline.city", "MEETING_SCHEDULED").await,
            1
        );

        // Listing: the beat's upcoming meetings, soonest first, in keyset pages.
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app
                .data_as(
                    Some(&resident),
                    LIST,
                    json!({ "f": { "beatId": beat, "upcoming": true }, "first": 5, "after": after }),
                )
                .await["meetings"]
                .clone();
            for e in page["edges"].as_array().unwrap() {
                seen.push(e["node"].clone());
            }
            if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        let starts: Vec<&str> = seen.iter().map(|m| m["startsAt"].as_str().unwrap()).collect();
        let mut sorted = starts.clone();
        sorted.sort();
        assert_eq!(starts, sorted, "not soonest first");
        let ids: std::collections::HashSet<_> = seen.iter().map(|m| m["id"].clone()).collect();
        assert_eq!(ids.len(), seen.len(), "a meeting appeared twice");
        // The demo series of beat 1011 (extended at start) and ours.
        assert!(seen.iter().any(|m| m["seriesId"] == series_id.as_str()));

        // RSVP, then change the answer.
        let first_id = created["id"].as_str().unwrap().to_owned();
        let r = app
            .data_as(Some(&resident), RSVP, json!({ "id": first_id, "r": "MAYBE" }))
            .await;
        assert_eq!(r["rsvpMeeting"]["myRsvp"], "MAYBE");
        let r = app
            .data_as(Some(&resident), RSVP, json!({ "id": first_id, "r": "GOING" }))
            .await;
        assert_eq!(
            r["rsvpMeeting"]["rsvpCounts"],
            json!({ "going": 1, "maybe": 0, "notGoing": 0 })
        );

        // Move the second occurrence: it becomes an exception that keeps its recurrence id.
        let mut sorted_occ = occurrences.clone();
        sorted_occ.sort_by_key(|m| m.starts_at);
        let second = &sorted_occ[1];
        let moved_start = second.starts_at + chrono::TimeDelta::days(1);
        let moved = app
            .data_as(
                Some(&officer),
                UPDATE,
                json!({ "i": { "id": second.id.to_string(), "expectedVersion": second.version,
                    "startsAt": moved_start.to_rfc3339(),
                    "endsAt": (moved_start + chrono::TimeDelta::minutes(90)).to_rfc3339(),
                    "placeName": "Harbor City Hall" } }),
            )
            .await["updateMeeting"]
            .clone();
        assert_eq!(moved["isException"], true);
        assert_eq!(
            moved["recurrenceId"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(),
            second.starts_at
        );

        assert_eq!(
            notifications(&app, "resident1@demo.beatline.city", "MEETING_CHANGED").await,
            1
        );

        // Near the venue: the series is found; far away, it is not.
        let near = |lat: f64, lon: f64| {
            json!({ "f": { "near": { "lat": lat, "lon": lon, "radiusMeters": 300.0 } }, "first": 100 })
        };
        let here = app.data(LIST, near(41.8005, -87.7005)).await;
        assert!(here["meetings"]["edges"].as_array().unwrap().iter().any(|e| e["node"]["seriesId"] == series_id.as_str()));
        let far = app.data(LIST, near(45.0, -80.0)).await;
        assert!(far["meetings"]["edges"].as_array().unwrap().is_empty(), "{far}");
        let bad_radius = app
            .gql(LIST, json!({ "f": { "near": { "lat": 41.8, "lon": -87.7, "radiusMeters": 0.0 } } }))
            .await;
        assert_eq!(error_code(&bad_radius), "BAD_USER_INPUT", "{bad_radius}");
        assert!(error_message(&bad_radius).contains("radiusMeters"), "{bad_radius}");

        // Cancel the first occurrence: the resident who answered hears of it, and it no
        // longer takes answers.
        let c = app
            .data_as(Some(&officer), CANCEL, json!({ "id": first_id }))
            .await;
        assert_eq!(c["cancelMeeting"]["status"], "CANCELLED");
        assert_eq!(
            notifications(&app, "resident1@demo.beatline.city", "MEETING_CANCELLED").await,
            1
        );
        let late = app
            .gql_as(Some(&resident), RSVP, json!({ "id": first_id, "r": "GOING" }))
            .await;
        assert_eq!(error_code(&late), "BAD_USER_INPUT", "{late}");
        assert!(error_message(&late).contains("cancelled"), "{late}");
        let upcoming = app
            .data(
                LIST,
                json!({ "f": { "beatId": beat, "upcoming": true, "includeCancelled": false }, "first": 100 }),
            )
            .await;
        assert!(
            upcoming["meetings"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["node"]["id"] != first_id.as_str())
        );

        // Attendance cannot be recorded before a meeting starts.
        let early = app
            .gql_as(
                Some(&officer),
                "mutation($id: ID!) { recordAttendance(id: $id, residents: 3, officers: 1) { id } }",
                json!({ "id": second.id.to_string() }),
            )
            .await;
        assert_eq!(error_code(&early), "BAD_USER_INPUT", "{early}");
        assert!(error_message(&early).contains("not started"), "{early}");
    })
    .await;
}

#[tokio::test]
async fn bad_meetings_are_refused_with_reasons() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let other_officer = app.demo_login("officer.2021@demo.beatline.city").await;
        let resident = app.demo_login("resident2@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        let start = second_tuesday(1);
        let with = |patch: Value| {
            let mut v = series_input(&beat, start, &format!("key-{}", uuid::Uuid::now_v7()));
            for (k, val) in patch.as_object().unwrap() {
                v["i"][k] = val.clone();
            }
            v
        };
        let cases = [
            (
                json!({ "startsAt": (Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339() }),
                "BAD_USER_INPUT",
                "past",
            ),
            (
                json!({ "endsAt": (start - chrono::TimeDelta::minutes(5)).to_rfc3339() }),
                "BAD_USER_INPUT",
                "ends before it starts",
            ),
            (
                json!({ "recurrence": "FREQ=FORTNIGHTLY" }),
                "BAD_USER_INPUT",
                "FREQ=MONTHLY;BYDAY=2TU",
            ),
            (
                json!({ "recurrence": "FREQ=HOURLY" }),
                "BAD_USER_INPUT",
                "more often than daily",
            ),
            (
                json!({ "recurrence": "FREQ=DAILY;BYHOUR=9,18" }),
                "BAD_USER_INPUT",
                "more than one meeting on one day",
            ),
            (
                json!({ "timeZone": "Mars/Olympus" }),
                "BAD_USER_INPUT",
                "IANA",
            ),
            (
                json!({ "placeName": null, "placeAddress": null, "lat": null, "lon": null }),
                "BAD_USER_INPUT",
                "where the meeting is",
            ),
            (
                json!({ "idempotencyKey": "x" }),
                "BAD_USER_INPUT",
                "idempotencyKey",
            ),
        ];
        for (patch, code, words) in cases {
            let body = app
                .gql_as(Some(&officer), SCHEDULE, with(patch.clone()))
                .await;
            assert_eq!(error_code(&body), code, "{patch}: {body}");
            assert!(error_message(&body).contains(words), "{patch}: {body}");
        }
        let forbidden = app
            .gql_as(Some(&other_officer), SCHEDULE, with(json!({})))
            .await;
        assert_eq!(error_code(&forbidden), "FORBIDDEN", "{forbidden}");
        assert!(
            error_message(&forbidden).contains("officers, its captain"),
            "{forbidden}"
        );
        let resident_try = app.gql_as(Some(&resident), SCHEDULE, with(json!({}))).await;
        assert_eq!(error_code(&resident_try), "FORBIDDEN", "{resident_try}");
        let anonymous = app.gql(SCHEDULE, with(json!({}))).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
        // The captain of the precinct may schedule for the beat.
        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        app.data_as(
            Some(&captain),
            SCHEDULE,
            with(json!({ "recurrence": null })),
        )
        .await;
        // A meeting that has not taken place has no minutes yet; actions are not due in
        // the past; a cancelled meeting cannot be changed.
        let single = app
            .data_as(
                Some(&officer),
                SCHEDULE,
                with(json!({ "recurrence": null, "title": "One-off", "idempotencyKey": "one-off-meeting" })),
            )
            .await["scheduleMeeting"]["id"]
            .clone();
        let resident_id = app.data_as(Some(&resident), "{ me { id } }", json!({})).await["me"]["id"].clone();
        let minutes = app
            .gql_as(
                Some(&officer),
                "mutation($id: ID!) { publishMinutes(meetingId: $id, body: \"x\") { body } }",
                json!({ "id": single }),
            )
            .await;
        assert_eq!(error_code(&minutes), "BAD_USER_INPUT", "{minutes}");
        assert!(error_message(&minutes).contains("after it takes place"), "{minutes}");
        let overdue = app
            .gql_as(
                Some(&officer),
                "mutation($i: CreateActionItemInput!) { createActionItem(input: $i) { id } }",
                json!({ "i": { "meetingId": single, "title": "Late", "ownerKind": "RESIDENT",
                    "ownerUserId": resident_id, "dueOn": "2020-01-01", "idempotencyKey": "late-action-1" } }),
            )
            .await;
        assert_eq!(error_code(&overdue), "BAD_USER_INPUT", "{overdue}");
        assert!(error_message(&overdue).contains("due date is in the past"), "{overdue}");
        app.data_as(Some(&officer), CANCEL, json!({ "id": single })).await;
        let changed = app
            .gql_as(Some(&officer), UPDATE, json!({ "i": { "id": single, "expectedVersion": 2, "title": "New title" } }))
            .await;
        assert_eq!(error_code(&changed), "CONFLICT", "{changed}");
        assert!(error_message(&changed).contains("schedule a new meeting instead"), "{changed}");

        // Nothing was written by the refused attempts: only the captain's meeting exists.
        let made = entity::meeting::Entity::find()
            .filter(entity::meeting::Column::Title.eq("Beat 1011 CAPS meeting"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(made, 1);
    })
    .await;
}

fn prop<'a>(
    props: &'a [ical::property::Property],
    name: &str,
) -> Option<&'a ical::property::Property> {
    props.iter().find(|p| p.name == name)
}

#[tokio::test]
async fn calendar_feed_parses_with_recurrence_and_exceptions() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        let created = app
            .data_as(
                Some(&officer),
                SCHEDULE,
                series_input(&beat, second_tuesday(1), "feed-key-0001"),
            )
            .await["scheduleMeeting"]
            .clone();
        let series_id = uuid::Uuid::parse_str(created["seriesId"].as_str().unwrap()).unwrap();
        let mut occ = entity::meeting::Entity::find()
            .filter(entity::meeting::Column::SeriesId.eq(series_id))
            .all(&app.db)
            .await
            .unwrap();
        occ.sort_by_key(|m| m.starts_at);
        // Cancel the 3rd, move the 4th.
        app.data_as(
            Some(&officer),
            CANCEL,
            json!({ "id": occ[2].id.to_string() }),
        )
        .await;
        let moved = occ[3].starts_at + chrono::TimeDelta::hours(1);
        app.data_as(
            Some(&officer),
            UPDATE,
            json!({ "i": { "id": occ[3].id.to_string(), "expectedVersion": 1, "startsAt": moved.to_rfc3339(),
                "endsAt": (moved + chrono::TimeDelta::minutes(60)).to_rfc3339() } }),
        )
        .await;

        let resp = app.get("/calendar/beats/1011.ics").await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/calendar"),
        );
        let text = resp.text().await.unwrap();
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
            assert!(!line.contains('\n'), "bare LF in {line:?}");
        }
        let cal = ical::IcalParser::new(BufReader::new(text.as_bytes()))
            .next()
            .expect("one calendar")
            .expect("the feed parses");
        assert!(cal.timezones.iter().any(|tz| {
            prop(&tz.properties, "TZID").and_then(|p| p.value.as_deref()) == Some("America/Chicago")
        }));
        let uid = format!("meeting-series-{series_id}@beatline");
        let ours: Vec<_> = cal
            .events
            .iter()
            .filter(|e| {
                prop(&e.properties, "UID").and_then(|p| p.value.as_deref()) == Some(uid.as_str())
            })
            .collect();
        assert_eq!(ours.len(), 2, "the master event and one changed occurrence");
        let master = ours
            .iter()
            .find(|e| prop(&e.properties, "RRULE").is_some())
            .expect("master with RRULE");
        assert_eq!(
            prop(&master.properties, "RRULE").unwrap().value.as_deref(),
            Some("FREQ=MONTHLY;BYDAY=2TU")
        );
        let dtstart = prop(&master.properties, "DTSTART").unwrap();
        assert_eq!(
            dtstart.params.as_ref().unwrap()[0],
            ("TZID".to_owned(), vec!["America/Chicago".to_owned()])
        );
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&CHICAGO)
                .format("%Y%m%dT%H%M%S")
                .to_string()
        };
        assert_eq!(
            dtstart.value.as_deref(),
            Some(local(occ[0].starts_at).as_str())
        );
        assert_eq!(
            prop(&master.properties, "EXDATE").unwrap().value.as_deref(),
            Some(local(occ[2].starts_at).as_str())
        );
        assert_eq!(
            prop(&master.properties, "LOCATION")
                .unwrap()
                .value
                .as_deref(),
            Some("Lakeside Library\\, Room B\\, 12 Harbor St\\; 2nd floor")
        );
        let exception = ours
            .iter()
            .find(|e| prop(&e.properties, "RECURRENCE-ID").is_some())
            .unwrap();
        assert_eq!(
            prop(&exception.properties, "RECURRENCE-ID")
                .unwrap()
                .value
                .as_deref(),
            Some(local(occ[3].starts_at).as_str())
        );
        assert_eq!(
            prop(&exception.properties, "DTSTART")
                .unwrap()
                .value
                .as_deref(),
            Some(local(moved).as_str())
        );

        // Expanding the feed's rule independently gives the stored occurrences.
        let rule: rrule::RRuleSet = format!(
            "DTSTART;TZID=America/Chicago:{}\nRRULE:FREQ=MONTHLY;BYDAY=2TU",
            dtstart.value.as_deref().unwrap()
        )
        .parse()
        .unwrap();
        let expanded = rule.all(5).dates;
        for (i, d) in expanded.iter().enumerate() {
            assert_eq!(d.with_timezone(&Utc), occ[i].recurrence_id.unwrap());
        }

        // The neighbourhood feeds cover the beats overlapping them; unknown ones are 404.
        let nbs = app
            .data("{ neighborhoods { id beats { code } } }", json!({}))
            .await;
        let nb = nbs["neighborhoods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| {
                n["beats"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b["code"] == "1011")
            })
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let nb_text = app
            .get(&format!("/calendar/neighborhoods/{nb}.ics"))
            .await
            .text()
            .await
            .unwrap();
        let nb_cal = ical::IcalParser::new(BufReader::new(nb_text.as_bytes()))
            .next()
            .unwrap()
            .unwrap();
        assert!(nb_cal.events.iter().any(|e| {
            prop(&e.properties, "UID").and_then(|p| p.value.as_deref()) == Some(uid.as_str())
        }));
        assert_eq!(app.get("/calendar/beats/9999.ics").await.status(), 404);
        assert_eq!(
            app.get("/calendar/neighborhoods/nope.ics").await.status(),
            404
        );
        assert_eq!(app.get("/calendar/beats/1011").await.status(), 404);
    })
    .await;
}

/// A page of meetings with their agendas (each item with its problem and action) and
/// action items.
const LIST_WITH_AGENDAS: &str = "query($f: MeetingFilter, $first: Int) {
  meetings(filter: $f, first: $first) {
    edges { node { id title beat { code } rsvpCounts { going } myRsvp minutes { body }
      actionItems { id title }
      agenda { id section kind title notes position voteCount votedByMe removed
        problem { id reference title status } actionItem { id status title } } } } } }";

#[tokio::test]
async fn a_page_of_meetings_costs_the_same_whatever_its_size() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident6@demo.beatline.city").await;
        // The demo series are expanded a year ahead: 8 beats x about 12 meetings.
        for (query, what) in [
            (LIST, "meetings"),
            (LIST_WITH_AGENDAS, "meetings with agendas"),
        ] {
            let mut counts = Vec::new();
            for first in [2, 60] {
                let before = app.statements().await;
                let page = app
                    .data_as(
                        Some(&resident),
                        query,
                        json!({ "f": { "upcoming": true }, "first": first }),
                    )
                    .await;
                let after = app.statements().await;
                let edges = page["meetings"]["edges"].as_array().unwrap();
                assert_eq!(edges.len(), first as usize);
                if query == LIST_WITH_AGENDAS {
                    // Every agenda is there, with the beat's problems under PRIORITIES.
                    for e in edges {
                        let agenda = e["node"]["agenda"].as_array().unwrap();
                        assert!(agenda.iter().any(|i| i["section"] == "WELCOME"), "{e}");
                        assert!(
                            agenda.iter().any(|i| i["section"] == "PRIORITIES"
                                && i["problem"]["reference"].is_string()),
                            "{e}"
                        );
                    }
                }
                counts.push(after - before);
            }
            assert_eq!(
                counts[0], counts[1],
                "statements per page of {what} grow with its size: {counts:?}"
            );
            eprintln!(
                "[{:?}] statements for a page of {what}: {}",
                app.backend, counts[0]
            );
        }
        // Reading agendas wrote nothing.
        assert_eq!(
            entity::agenda_item::Entity::find()
                .count(&app.db)
                .await
                .unwrap(),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn a_stale_version_cannot_overwrite_a_meeting() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        let mut input = series_input(&beat, second_tuesday(1), "stale-version-1");
        input["i"]["recurrence"] = Value::Null;
        let created = app.data_as(Some(&officer), SCHEDULE, input).await["scheduleMeeting"].clone();
        let id = created["id"].clone();
        let version = |v: &Value| v["version"].as_i64().unwrap();
        const RENAME: &str = "mutation($i: UpdateMeetingInput!) { updateMeeting(input: $i) { id title version } }";
        let read = app
            .data("query($id: ID!) { meeting(id: $id) { title version } }", json!({ "id": id }))
            .await["meeting"]
            .clone();
        assert_eq!(version(&read), 1);

        // The officer renames it from version 1.
        let renamed = app
            .data_as(Some(&officer), RENAME, json!({ "i": { "id": id, "expectedVersion": 1, "title": "Moved upstairs" } }))
            .await["updateMeeting"]
            .clone();
        assert_eq!(version(&renamed), 2);
        // The captain, who loaded version 1, is refused: nothing is overwritten, and the
        // current version comes with the error.
        let stale = app
            .gql_as(Some(&captain), RENAME, json!({ "i": { "id": id, "expectedVersion": 1, "title": "Captain's title", "placeName": "Elsewhere" } }))
            .await;
        assert_eq!(error_code(&stale), "CONFLICT", "{stale}");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2, "{stale}");
        assert!(error_message(&stale).contains("reload"), "{stale}");
        let row = entity::meeting::Entity::find_by_id(uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.title, "Moved upstairs");
        assert_eq!(row.place_name.as_deref(), Some("Lakeside Library, Room B"));
        assert_eq!(row.version, 2);

        // Two changes from the same version at once: exactly one wins.
        let attempts = ["First", "Second"].map(|t| {
            app.gql_as(Some(&officer), RENAME, json!({ "i": { "id": id, "expectedVersion": 2, "title": t } }))
        });
        let [a, b] = futures::future::join_all(attempts).await.try_into().unwrap();
        let won: Vec<&Value> = [&a, &b].into_iter().filter(|r| r.get("errors").is_none()).collect();
        assert_eq!(won.len(), 1, "[{:?}] {a} {b}", app.backend);
        let lost = if a.get("errors").is_none() { &b } else { &a };
        assert_eq!(error_code(lost), "CONFLICT", "{lost}");
        assert_eq!(lost["errors"][0]["extensions"]["currentVersion"], 3, "{lost}");
        let row = entity::meeting::Entity::find_by_id(row.id).one(&app.db).await.unwrap().unwrap();
        assert_eq!(row.version, 3);
        assert_eq!(row.title, won[0]["data"]["updateMeeting"]["title"].as_str().unwrap());

        // Cancelling bumps the version too, so an edit made before it is refused.
        app.data_as(Some(&officer), CANCEL, json!({ "id": id })).await;
        let late = app
            .gql_as(Some(&officer), RENAME, json!({ "i": { "id": id, "expectedVersion": 3, "title": "Too late" } }))
            .await;
        assert_eq!(error_code(&late), "CONFLICT", "{late}");
        assert_eq!(late["errors"][0]["extensions"]["currentVersion"], 4, "{late}");
    })
    .await;
}

/// The feed's VEVENTs with a UID.
fn events_with_uid<'a>(
    cal: &'a ical::parser::ical::component::IcalCalendar,
    uid: &str,
) -> Vec<&'a ical::parser::ical::component::IcalEvent> {
    cal.events
        .iter()
        .filter(|e| prop(&e.properties, "UID").and_then(|p| p.value.as_deref()) == Some(uid))
        .collect()
}

/// The instances an independent parser expands from a master VEVENT (DTSTART, RRULE).
fn expand_master(master: &ical::parser::ical::component::IcalEvent) -> Vec<DateTime<Utc>> {
    let start = prop(&master.properties, "DTSTART").unwrap();
    let tzid = &start.params.as_ref().unwrap()[0].1[0];
    let rule = prop(&master.properties, "RRULE")
        .unwrap()
        .value
        .clone()
        .unwrap();
    let set: rrule::RRuleSet = format!(
        "DTSTART;TZID={tzid}:{}\nRRULE:{rule}",
        start.value.as_deref().unwrap()
    )
    .parse()
    .unwrap();
    set.all(100)
        .dates
        .iter()
        .map(|d| d.with_timezone(&Utc))
        .collect()
}

async fn occurrences(app: &TestApp, series: uuid::Uuid) -> Vec<entity::meeting::Model> {
    let mut occ = entity::meeting::Entity::find()
        .filter(entity::meeting::Column::SeriesId.eq(series))
        .all(&app.db)
        .await
        .unwrap();
    occ.sort_by_key(|m| m.recurrence_id);
    occ
}

#[tokio::test]
async fn series_wide_changes_and_cancellations_keep_the_feed_right() {
    each_backend(Options::default(), |app| async move {
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let beat = beat_id(&app, "1011").await;
        app.data_as(
            Some(&resident),
            "mutation($b: ID!) { followBeat(beatId: $b) { code } }",
            json!({ "b": beat }),
        )
        .await;
        const CHANGE: &str = "mutation($i: UpdateMeetingInput!) { updateMeeting(input: $i) {
          id title startsAt endsAt version seriesId isException place { name } } }";
        const CANCEL_SCOPED: &str = "mutation($id: ID!, $s: MeetingScope) {
          cancelMeeting(id: $id, scope: $s) { id status version } }";
        let local = |t: DateTime<Utc>| t.with_timezone(&CHICAGO);
        let created = app
            .data_as(Some(&officer), SCHEDULE, series_input(&beat, second_tuesday(1), "series-scope-1"))
            .await["scheduleMeeting"]
            .clone();
        let series_id = uuid::Uuid::parse_str(created["seriesId"].as_str().unwrap()).unwrap();
        let occ = occurrences(&app, series_id).await;
        assert!(occ.len() >= 11, "{} occurrences", occ.len());

        // One occurrence moves a day on its own.
        let moved = occ[1].starts_at + chrono::TimeDelta::days(1);
        app.data_as(
            Some(&officer),
            CHANGE,
            json!({ "i": { "id": occ[1].id.to_string(), "expectedVersion": 1, "startsAt": moved.to_rfc3339(),
                "endsAt": (moved + chrono::TimeDelta::minutes(90)).to_rfc3339() } }),
        )
        .await;

        // The first occurrence took place already (moved into the past by set-up).
        let held = chrono::DurationRound::duration_trunc(
            Utc::now() - chrono::TimeDelta::days(1),
            chrono::TimeDelta::seconds(1),
        )
        .unwrap();
        let mut first = occ[0].clone().into_active_model();
        first.starts_at = sea_orm::Set(held);
        first.ends_at = sea_orm::Set(held + chrono::TimeDelta::minutes(90));
        first.update(&app.db).await.unwrap();

        // The whole series, changed from its third occurrence: 19:00 for an hour, new title.
        let seven_on = |t: DateTime<Utc>| {
            CHICAGO
                .from_local_datetime(&local(t).date_naive().and_hms_opt(19, 0, 0).unwrap())
                .earliest()
                .unwrap()
                .with_timezone(&Utc)
        };
        let whole = |id: uuid::Uuid, version: i32, start: DateTime<Utc>| {
            json!({ "i": { "id": id.to_string(), "expectedVersion": version, "scope": "WHOLE_SERIES",
                "title": "Beat 1011 CAPS meeting (7 pm)", "startsAt": start.to_rfc3339(),
                "endsAt": (start + chrono::TimeDelta::hours(1)).to_rfc3339() } })
        };
        // Another day is refused (a series keeps its days), and so is a stale version;
        // neither changes anything.
        let before = occurrences(&app, series_id).await;
        let other_day = app
            .gql_as(Some(&officer), CHANGE, whole(occ[2].id, 1, seven_on(occ[2].starts_at) + chrono::TimeDelta::days(1)))
            .await;
        assert_eq!(error_code(&other_day), "BAD_USER_INPUT", "{other_day}");
        assert!(error_message(&other_day).contains("keeps its days"), "{other_day}");
        let stale = app.gql_as(Some(&officer), CHANGE, whole(occ[1].id, 1, seven_on(occ[1].recurrence_id.unwrap()))).await;
        assert_eq!(error_code(&stale), "CONFLICT", "{stale}");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2, "{stale}");
        assert_eq!(occurrences(&app, series_id).await, before);

        let changed = app
            .data_as(Some(&officer), CHANGE, whole(occ[2].id, 1, seven_on(occ[2].starts_at)))
            .await["updateMeeting"]
            .clone();
        assert_eq!(changed["title"], "Beat 1011 CAPS meeting (7 pm)");
        assert_eq!(changed["version"], 2);
        assert_eq!(changed["seriesId"], created["seriesId"]);
        let after = occurrences(&app, series_id).await;
        assert_eq!(after.len(), occ.len());
        for (old, new) in occ.iter().zip(&after) {
            let rid = new.recurrence_id.unwrap();
            // Every instance of the rule moved to 19:00 on its day.
            assert_eq!(local(rid).format("%H:%M").to_string(), "19:00");
            assert_eq!(local(rid).date_naive(), local(old.recurrence_id.unwrap()).date_naive());
            if new.id == occ[0].id {
                // The one that took place stays as it was, an exception to the new rule.
                assert!(new.is_exception);
                assert_eq!(new.starts_at, held);
                assert_eq!(new.title, "Beat 1011 CAPS meeting");
                continue;
            }
            assert_eq!(new.title, "Beat 1011 CAPS meeting (7 pm)");
            if new.id == occ[1].id {
                // The occurrence moved on its own keeps its own day and time.
                assert!(new.is_exception);
                assert_eq!(new.starts_at, moved);
                assert_eq!(new.version, 3);
            } else {
                assert!(!new.is_exception, "{new:?}");
                assert_eq!(new.starts_at, rid);
                assert_eq!(new.ends_at - new.starts_at, chrono::TimeDelta::hours(1));
                assert_eq!(new.version, 2);
            }
        }
        let series = entity::meeting_series::Entity::find_by_id(series_id).one(&app.db).await.unwrap().unwrap();
        assert_eq!(series.first_starts_at, after[0].recurrence_id.unwrap());
        assert_eq!(series.duration_minutes, 60);
        // The follower heard once of the whole-series change (and once of the move).
        assert_eq!(notifications(&app, "resident1@demo.beatline.city", "MEETING_CHANGED").await, 2);

        // From the sixth occurrence on: a new hall. The series splits there.
        let split = app
            .data_as(
                Some(&officer),
                CHANGE,
                json!({ "i": { "id": occ[5].id.to_string(), "expectedVersion": 2, "scope": "THIS_AND_FOLLOWING",
                    "placeName": "Harbor City Hall" } }),
            )
            .await["updateMeeting"]
            .clone();
        assert_eq!(split["place"]["name"], "Harbor City Hall");
        assert_ne!(split["seriesId"], created["seriesId"]);
        let new_series = uuid::Uuid::parse_str(split["seriesId"].as_str().unwrap()).unwrap();
        let head = occurrences(&app, series_id).await;
        let tail = occurrences(&app, new_series).await;
        assert_eq!(head.len(), 5);
        assert_eq!(tail.len(), after.len() - 5);
        assert!(head.iter().all(|m| m.place_name.as_deref() == Some("Lakeside Library, Room B")));
        assert!(tail.iter().all(|m| m.place_name.as_deref() == Some("Harbor City Hall")));
        assert_eq!(tail[0].recurrence_id, after[5].recurrence_id);

        // Cancelled from the ninth occurrence on: the new series ends before it.
        let c = app
            .data_as(Some(&officer), CANCEL_SCOPED, json!({ "id": occ[8].id.to_string(), "s": "THIS_AND_FOLLOWING" }))
            .await;
        assert_eq!(c["cancelMeeting"]["status"], "CANCELLED");
        let tail = occurrences(&app, new_series).await;
        for (n, m) in tail.iter().enumerate() {
            let expected = if n < 3 { entity::enums::MeetingStatus::Scheduled } else { entity::enums::MeetingStatus::Cancelled };
            assert_eq!(m.status, expected, "{n}");
        }
        assert_eq!(notifications(&app, "resident1@demo.beatline.city", "MEETING_CANCELLED").await, 1);

        // Another series, cancelled as a whole before it ever met.
        let other = app
            .data_as(Some(&officer), SCHEDULE, {
                let mut i = series_input(&beat, second_tuesday(1) + chrono::TimeDelta::days(2), "series-scope-2");
                i["i"]["recurrence"] = json!("FREQ=MONTHLY;BYDAY=2TH");
                i["i"]["title"] = json!("Thursday walk");
                i
            })
            .await["scheduleMeeting"]
            .clone();
        let other_id = uuid::Uuid::parse_str(other["seriesId"].as_str().unwrap()).unwrap();
        let other_occ = occurrences(&app, other_id).await;
        app.data_as(
            Some(&officer),
            CANCEL_SCOPED,
            json!({ "id": other_occ[3].id.to_string(), "s": "WHOLE_SERIES" }),
        )
        .await;
        assert!(
            occurrences(&app, other_id)
                .await
                .iter()
                .all(|m| m.status == entity::enums::MeetingStatus::Cancelled)
        );

        // The feed, read with independent parsers.
        let text = app.get("/calendar/beats/1011.ics").await.text().await.unwrap();
        let cal = ical::IcalParser::new(BufReader::new(text.as_bytes()))
            .next()
            .expect("one calendar")
            .expect("the feed parses");
        let uid = |id: uuid::Uuid| format!("meeting-series-{id}@beatline");
        let head_events = events_with_uid(&cal, &uid(series_id));
        let master = head_events.iter().find(|e| prop(&e.properties, "RRULE").is_some()).unwrap();
        assert_eq!(
            prop(&master.properties, "SUMMARY").unwrap().value.as_deref(),
            Some("Beat 1011 CAPS meeting (7 pm)")
        );
        let expanded = expand_master(master);
        let head_rids: Vec<DateTime<Utc>> = head.iter().map(|m| m.recurrence_id.unwrap()).collect();
        assert_eq!(expanded, head_rids, "the old series ends where the new one starts");
        // Its exceptions: the occurrence that took place, as it was, and the one moved on
        // its own, each named by its new instance.
        let fmt = |t: DateTime<Utc>| local(t).format("%Y%m%dT%H%M%S").to_string();
        let exceptions: Vec<(Option<&str>, Option<&str>, Option<&str>)> = head_events
            .iter()
            .filter_map(|e| {
                let rid = prop(&e.properties, "RECURRENCE-ID")?.value.as_deref();
                Some((
                    rid,
                    prop(&e.properties, "DTSTART").unwrap().value.as_deref(),
                    prop(&e.properties, "SUMMARY").unwrap().value.as_deref(),
                ))
            })
            .collect();
        let (r0, r1) = (fmt(head[0].recurrence_id.unwrap()), fmt(head[1].recurrence_id.unwrap()));
        let (held_at, moved_at) = (fmt(held), fmt(moved));
        assert_eq!(
            exceptions,
            [
                (Some(r0.as_str()), Some(held_at.as_str()), Some("Beat 1011 CAPS meeting")),
                (Some(r1.as_str()), Some(moved_at.as_str()), Some("Beat 1011 CAPS meeting (7 pm)")),
            ]
        );
        let tail_events = events_with_uid(&cal, &uid(new_series));
        let tail_master = tail_events.iter().find(|e| prop(&e.properties, "RRULE").is_some()).unwrap();
        assert!(
            prop(&tail_master.properties, "LOCATION").unwrap().value.as_deref().unwrap().starts_with("Harbor City Hall")
        );
        assert_eq!(
            prop(&tail_master.properties, "STATUS").unwrap().value.as_deref(),
            Some("CONFIRMED")
        );
        let tail_rids: Vec<DateTime<Utc>> = tail.iter().take(3).map(|m| m.recurrence_id.unwrap()).collect();
        assert_eq!(expand_master(tail_master), tail_rids, "the new series ends before the cancelled ones");
        let other_events = events_with_uid(&cal, &uid(other_id));
        let other_master = other_events.iter().find(|e| prop(&e.properties, "RRULE").is_some()).unwrap();
        assert_eq!(
            prop(&other_master.properties, "STATUS").unwrap().value.as_deref(),
            Some("CANCELLED")
        );
    })
    .await;
}
