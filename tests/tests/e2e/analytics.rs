//! The captain's dashboard and the equity report: figures checked against the
//! database, authorization, bad input, and a constant number of statements.

use std::collections::HashSet;

use beatline_tests::{Options, TestApp, each_backend, error_code, error_message};
use chrono::{Duration, Utc};
use entity::enums::{MeetingStatus, ProblemStatus};
use entity::{beat, category, meeting, neighborhood, precinct, problem, problem_rating, user};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

const DASHBOARD: &str = "query($p: ID!, $from: DateTime!, $to: DateTime!) {
  dashboard(precinctId: $p, from: $from, to: $to) {
    from to generatedAt openTotal overdueTotal
    beats { code }
    openProblems { beatCode status count overdue }
    ageing { label minDays maxDays count }
    overdueByBeat { beatCode count }
    responseTimes { name toAcknowledge { count medianHours p90Hours } toResolve { count medianHours p90Hours } }
    responseTimesByBeat { id name toResolve { count medianHours } }
    responseTimesByOfficer { id name toAcknowledge { count } }
    responseTimesByCategory { id name toResolve { count medianHours } }
    satisfaction { count average distribution { rating count } }
    meetings { beatCode held cancelled withAttendance residents officers averageResidents }
    mostSupported { id status supportCount category { serviceCode } }
  }
}";

const EQUITY: &str = "query($from: DateTime!, $to: DateTime!) {
  equityReport(from: $from, to: $to) {
    neighborhoods { neighborhood { id name population } reports reportsPer1000 resolved
      medianHoursToResolve resolveTimeRatio withinSlaShare chronicLocations partnerShare
      servedSlower slowerBecause }
    servedSlower { id name }
    city { reportsPer1000 medianHoursToResolve withinSlaShare chronicLocations partnerShare }
  }
}";

const OPEN: [ProblemStatus; 3] = [
    ProblemStatus::New,
    ProblemStatus::Acknowledged,
    ProblemStatus::InProgress,
];

async fn precinct_id(app: &TestApp, code: &str) -> Uuid {
    precinct::Entity::find()
        .filter(precinct::Column::Code.eq(code))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The problems of a precinct, and which categories are sensitive.
async fn precinct_problems(app: &TestApp, precinct: Uuid) -> (Vec<problem::Model>, HashSet<Uuid>) {
    let beats: Vec<Uuid> = beat::Entity::find()
        .filter(beat::Column::PrecinctId.eq(precinct))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    let rows = problem::Entity::find()
        .filter(problem::Column::BeatId.is_in(beats))
        .all(&app.db)
        .await
        .unwrap();
    let sensitive = category::Entity::find()
        .filter(category::Column::Sensitive.eq(true))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    (rows, sensitive)
}

fn window() -> Value {
    let now = Utc::now();
    json!({ "from": (now - Duration::days(120)).to_rfc3339(), "to": (now + Duration::days(1)).to_rfc3339() })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

#[tokio::test]
async fn the_captain_sees_the_precincts_numbers() {
    each_backend(Options::default(), |app| async move {
        let p1 = precinct_id(&app, "P1").await;
        let (rows, sensitive) = precinct_problems(&app, p1).await;
        let visible: Vec<&problem::Model> = rows
            .iter()
            .filter(|p| !sensitive.contains(&p.category_id))
            .collect();
        let now = Utc::now();

        // A past meeting with attendance, one cancelled, and two ratings in the window.
        let beat_1011 = beat::Entity::find()
            .filter(beat::Column::Code.eq("1011"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        for (status, residents) in [
            (MeetingStatus::Scheduled, Some(14)),
            (MeetingStatus::Cancelled, None),
        ] {
            meeting::Model {
                id: Uuid::now_v7(),
                series_id: None,
                beat_id: beat_1011.id,
                title: "Beat 1011 community meeting".into(),
                starts_at: now - Duration::days(10),
                ends_at: now - Duration::days(10) + Duration::hours(1),
                time_zone: "America/Chicago".into(),
                place_name: None,
                place_address: None,
                lat: None,
                lon: None,
                online_url: None,
                languages: json!(["en"]),
                accessibility_notes: None,
                status,
                recurrence_id: None,
                is_exception: false,
                attendance_residents: residents,
                attendance_officers: residents.map(|_| 2),
                reminder_sent_at: None,
                version: 1,
                created_by: None,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .insert(&app.db)
            .await
            .unwrap();
        }
        let resident = user::Entity::find()
            .filter(user::Column::Email.eq("resident1@demo.beatline.city"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let resolved: Vec<&&problem::Model> = visible
            .iter()
            .filter(|p| p.resolved_at.is_some())
            .take(2)
            .collect();
        for (p, rating) in resolved.iter().zip([5, 2]) {
            problem_rating::Model {
                problem_id: p.id,
                user_id: resident.id,
                rating,
                comment: None,
                created_at: now - Duration::days(1),
            }
            .into_active_model()
            .insert(&app.db)
            .await
            .unwrap();
        }

        let captain = app.demo_login("captain.west@demo.beatline.city").await;
        let mut vars = window();
        vars["p"] = json!(p1.to_string());
        let before = app.statements().await;
        let data = app.data_as(Some(&captain), DASHBOARD, vars.clone()).await;
        let statements = app.statements().await - before;
        let d = &data["dashboard"];

        let open: Vec<&&problem::Model> = visible
            .iter()
            .filter(|p| OPEN.contains(&p.status))
            .collect();
        assert_eq!(d["openTotal"], open.len() as i64, "[{:?}]", app.backend);
        let by_status: i64 = d["openProblems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["count"].as_i64().unwrap())
            .sum();
        assert_eq!(by_status, open.len() as i64);
        let ageing: i64 = d["ageing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["count"].as_i64().unwrap())
            .sum();
        assert_eq!(ageing, open.len() as i64, "every open problem has an age");
        let under_a_week = open
            .iter()
            .filter(|p| p.created_at > now - Duration::days(7))
            .count() as i64;
        let first_three: i64 = d["ageing"].as_array().unwrap()[..3]
            .iter()
            .map(|a| a["count"].as_i64().unwrap())
            .sum();
        assert_eq!(first_three, under_a_week);
        // Each bucket exactly: [0, 1), [1, 3), [3, 7), [7, 30), [30, ...) days old.
        let bounds = [0, 1, 3, 7, 30];
        for (i, bucket) in d["ageing"].as_array().unwrap().iter().enumerate() {
            let lower = now - Duration::days(bounds[i]);
            let upper = bounds.get(i + 1).map(|days| now - Duration::days(*days));
            let expected = open
                .iter()
                .filter(|p| p.created_at <= lower && upper.is_none_or(|u| p.created_at > u))
                .count() as i64;
            assert_eq!(bucket["count"], expected, "bucket {i}: {bucket}");
        }
        let overdue = open
            .iter()
            .filter(|p| p.due_at.is_some_and(|d| d < now))
            .count() as i64;
        assert!(overdue > 0, "the demo city has overdue problems");
        assert_eq!(d["overdueTotal"], overdue);
        assert_eq!(d["overdueByBeat"].as_array().unwrap().len(), 4);
        assert_eq!(
            d["beats"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["code"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["1011", "1012", "1013", "1014"]
        );

        // Response times: precinct-wide median time to resolve, computed here.
        let resolve_hours: Vec<f64> = visible
            .iter()
            .filter_map(|p| {
                p.resolved_at
                    .map(|r| (r - p.created_at).num_seconds() as f64 / 3600.0)
            })
            .collect();
        let expected = median(resolve_hours.clone()).unwrap();
        let rt = &d["responseTimes"]["toResolve"];
        assert_eq!(rt["count"], resolve_hours.len() as i64);
        assert!(
            (rt["medianHours"].as_f64().unwrap() - expected).abs() < 0.01,
            "{rt} vs {expected}"
        );
        assert!(rt["p90Hours"].as_f64().unwrap() >= rt["medianHours"].as_f64().unwrap());
        let per_category: i64 = d["responseTimesByCategory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["toResolve"]["count"].as_i64().unwrap())
            .sum();
        assert_eq!(per_category, resolve_hours.len() as i64);
        let categories: Vec<&str> = d["responseTimesByCategory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            !categories.iter().any(|c| c.contains("Syringe")),
            "police see no sensitive category: {categories:?}"
        );
        assert_eq!(d["responseTimesByBeat"].as_array().unwrap().len(), 4);

        assert_eq!(d["satisfaction"]["count"], 2);
        assert_eq!(d["satisfaction"]["average"], 3.5);
        assert_eq!(
            d["satisfaction"]["distribution"][4],
            json!({ "rating": 5, "count": 1 })
        );
        assert_eq!(
            d["meetings"],
            json!([{ "beatCode": "1011", "held": 1, "cancelled": 1, "withAttendance": 1,
                     "residents": 14, "officers": 2, "averageResidents": 14.0 }])
        );

        let top = d["mostSupported"].as_array().unwrap();
        assert_eq!(top.len(), 10);
        let supports: Vec<i64> = top
            .iter()
            .map(|p| p["supportCount"].as_i64().unwrap())
            .collect();
        assert!(supports.windows(2).all(|w| w[0] >= w[1]), "{supports:?}");
        let max_open = open
            .iter()
            .map(|p| i64::from(p.support_count))
            .max()
            .unwrap();
        assert_eq!(supports[0], max_open);
        assert!(top.iter().all(|p| {
            ["NEW", "ACKNOWLEDGED", "IN_PROGRESS"].contains(&p["status"].as_str().unwrap())
        }));
        // Exactly the top ten, newest first among equals.
        let mut expected = open.clone();
        expected.sort_by(|a, b| {
            (b.support_count, b.created_at, b.id).cmp(&(a.support_count, a.created_at, a.id))
        });
        let expected: Vec<String> = expected.iter().take(10).map(|p| p.id.to_string()).collect();
        let got: Vec<String> = top
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected);

        assert!(
            statements <= 20,
            "[{:?}] the dashboard ran {statements} statements",
            app.backend
        );

        // Admins see sensitive problems too.
        let admin = app.demo_login("admin@demo.beatline.city").await;
        let data = app.data_as(Some(&admin), DASHBOARD, vars).await;
        let all_open = rows.iter().filter(|p| OPEN.contains(&p.status)).count() as i64;
        assert_eq!(data["dashboard"]["openTotal"], all_open);
    })
    .await;
}

#[tokio::test]
async fn the_dashboard_is_for_the_precincts_captain_and_checks_its_input() {
    each_backend(Options::default(), |app| async move {
        let p1 = precinct_id(&app, "P1").await.to_string();
        let mut vars = window();
        vars["p"] = json!(p1);

        let body = app.gql_as(None, DASHBOARD, vars.clone()).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
        for email in [
            "captain.east@demo.beatline.city",
            "officer.1011@demo.beatline.city",
            "resident1@demo.beatline.city",
        ] {
            let token = app.demo_login(email).await;
            let body = app.gql_as(Some(&token), DASHBOARD, vars.clone()).await;
            assert_eq!(error_code(&body), "FORBIDDEN", "{email}: {body}");
            assert!(error_message(&body).contains("only its captain and admins"), "{body}");
        }

        let admin = app.demo_login("admin@demo.beatline.city").await;
        let now = Utc::now();
        let cases = [
            (json!({ "p": p1, "from": now.to_rfc3339(), "to": (now - Duration::days(1)).to_rfc3339() }), "must be after"),
            (json!({ "p": p1, "from": (now - Duration::days(400)).to_rfc3339(), "to": now.to_rfc3339() }), "366 days"),
            (json!({ "p": "P1", "from": (now - Duration::days(1)).to_rfc3339(), "to": now.to_rfc3339() }), "not a valid precinct id"),
            (json!({ "p": p1, "from": "last tuesday", "to": now.to_rfc3339() }), "DateTime"),
        ];
        for (vars, words) in cases {
            let body = app.gql_as(Some(&admin), DASHBOARD, vars).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains(words), "expected {words:?} in {body}");
        }
        let mut vars = window();
        vars["p"] = json!(Uuid::now_v7().to_string());
        let body = app.gql_as(Some(&admin), DASHBOARD, vars).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    })
    .await;
}

#[tokio::test]
async fn the_equity_report_names_the_neighbourhoods_that_wait_longest() {
    each_backend(Options::default(), |app| async move {
        let hoods = neighborhood::Entity::find().all(&app.db).await.unwrap();
        assert_eq!(hoods.len(), 3);
        let slow = &hoods[0];
        // Make one neighbourhood's resolved problems take a month.
        let rows = problem::Entity::find()
            .filter(problem::Column::NeighborhoodId.eq(slow.id))
            .filter(problem::Column::ResolvedAt.is_not_null())
            .all(&app.db)
            .await
            .unwrap();
        assert!(
            rows.len() >= 5,
            "the demo neighbourhood has resolved problems"
        );
        for p in rows {
            let created = p.created_at;
            let mut active = p.into_active_model();
            active.resolved_at = Set(Some(created + Duration::days(30)));
            active.update(&app.db).await.unwrap();
        }

        let captain = app.demo_login("captain.east@demo.beatline.city").await;
        let data = app.data_as(Some(&captain), EQUITY, window()).await;
        let report = &data["equityReport"];
        let list = report["neighborhoods"].as_array().unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(
            report["servedSlower"],
            json!([{ "id": slow.id.to_string(), "name": slow.name }])
        );
        let first = &list[0];
        assert_eq!(first["neighborhood"]["id"], slow.id.to_string());
        assert_eq!(first["servedSlower"], true);
        assert!((first["medianHoursToResolve"].as_f64().unwrap() - 720.0).abs() < 0.01);
        assert!(first["resolveTimeRatio"].as_f64().unwrap() >= 1.5);
        assert!(
            first["slowerBecause"][0]
                .as_str()
                .unwrap()
                .contains("city-wide median")
        );
        assert!(list[1..].iter().all(|n| n["servedSlower"] == false));

        // Reports add up to the window's problems with a neighbourhood, sensitive
        // ones included (aggregates only).
        let expected = problem::Entity::find()
            .filter(problem::Column::NeighborhoodId.is_not_null())
            .all(&app.db)
            .await
            .unwrap()
            .len() as i64;
        let total: i64 = list.iter().map(|n| n["reports"].as_i64().unwrap()).sum();
        assert_eq!(total, expected);
        for n in list {
            let population = n["neighborhood"]["population"].as_f64().unwrap();
            let per_1000 = n["reportsPer1000"].as_f64().unwrap();
            assert!((per_1000 - n["reports"].as_f64().unwrap() * 1000.0 / population).abs() < 0.01);
            let share = n["partnerShare"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&share));
        }
        assert!(report["city"]["medianHoursToResolve"].as_f64().unwrap() < 720.0);

        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let body = app.gql_as(Some(&resident), EQUITY, window()).await;
        assert_eq!(error_code(&body), "FORBIDDEN");
        assert!(error_message(&body).contains("only captains and admins"));
        let now = Utc::now();
        let body = app
            .gql_as(
                Some(&captain),
                EQUITY,
                json!({ "from": now.to_rfc3339(), "to": now.to_rfc3339() }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        assert!(error_message(&body).contains("must be after"));
    })
    .await;
}
