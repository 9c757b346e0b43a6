//! Listing problems: filters, keyset pagination, bad input, and no N+1.

use std::collections::HashSet;

use beatline_tests::{Options, TestApp, each_backend, error_code, error_message};
use sea_orm::{ActiveModelTrait as _, EntityTrait as _, IntoActiveModel as _};
use serde_json::{Value, json};

const PAGE: &str =
    "query($filter: ProblemFilter, $sort: ProblemSort, $first: Int, $after: String) {
  problems(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id reference status createdAt supportCount version
      category { serviceCode } beat { code precinct { code } } neighborhood { name } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// Walks every page as an admin (who sees every problem).
async fn walk(app: &TestApp, filter: Value, sort: &str, first: i64) -> Vec<Value> {
    let admin = app.demo_login("admin@demo.beatline.city").await;
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data_as(
                Some(&admin),
                PAGE,
                json!({ "filter": filter, "sort": sort, "first": first, "after": after }),
            )
            .await;
        let conn = &data["problems"];
        all.extend(
            conn["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return all;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn pages_cover_every_problem_once_in_order() {
    each_backend(Options::default(), |app| async move {
        let newest = walk(&app, json!({}), "NEWEST", 37).await;
        assert_eq!(newest.len(), 200);
        let ids: HashSet<_> = newest
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 200, "a problem appeared twice");
        let times: Vec<_> = newest
            .iter()
            .map(|p| p["createdAt"].as_str().unwrap().to_owned())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first");

        let oldest = walk(&app, json!({}), "OLDEST", 100).await;
        let reversed: Vec<_> = newest.iter().rev().map(|p| p["id"].clone()).collect();
        assert_eq!(
            oldest.iter().map(|p| p["id"].clone()).collect::<Vec<_>>(),
            reversed
        );
    })
    .await;
}

#[tokio::test]
async fn filters_narrow_the_list() {
    each_backend(Options::default(), |app| async move {
        let beats = app
            .data(
                "{ beats { id code } precincts { id code } neighborhoods { id name } }",
                json!({}),
            )
            .await;
        let beat = &beats["beats"][0];
        let open = json!(["NEW", "ACKNOWLEDGED", "IN_PROGRESS"]);
        let in_beat = walk(
            &app,
            json!({ "beatId": beat["id"], "statuses": open }),
            "NEWEST",
            50,
        )
        .await;
        assert!(!in_beat.is_empty());
        for p in &in_beat {
            assert_eq!(p["beat"]["code"], beat["code"]);
            assert!(open.as_array().unwrap().contains(&p["status"]), "{p}");
        }
        // Several statuses are merged from one branch per status: in pages of two, in
        // both orders, they are exactly the beat's open problems, in the order of the
        // whole beat's list, each with its own category and fields.
        let whole_beat = walk(&app, json!({ "beatId": beat["id"] }), "NEWEST", 100).await;
        let expected: Vec<&Value> = whole_beat
            .iter()
            .filter(|p| open.as_array().unwrap().contains(&p["status"]))
            .collect();
        assert!(expected.len() > 2, "too few open problems to page through");
        let by_twos = walk(
            &app,
            json!({ "beatId": beat["id"], "statuses": open }),
            "NEWEST",
            2,
        )
        .await;
        assert_eq!(by_twos.iter().collect::<Vec<_>>(), expected);
        let oldest = walk(
            &app,
            json!({ "beatId": beat["id"], "statuses": open }),
            "OLDEST",
            2,
        )
        .await;
        assert_eq!(oldest.iter().rev().collect::<Vec<_>>(), expected);

        let precinct = &beats["precincts"][1];
        let in_precinct = walk(&app, json!({ "precinctId": precinct["id"] }), "NEWEST", 100).await;
        assert!(!in_precinct.is_empty());
        assert!(
            in_precinct
                .iter()
                .all(|p| p["beat"]["precinct"]["code"] == precinct["code"])
        );

        let nb = &beats["neighborhoods"][0];
        let in_nb = walk(&app, json!({ "neighborhoodId": nb["id"] }), "NEWEST", 100).await;
        assert!(
            in_nb
                .iter()
                .all(|p| p["neighborhood"]["name"] == nb["name"])
        );

        let syringes = walk(
            &app,
            json!({ "categoryCode": "SYRINGE_FOUND" }),
            "NEWEST",
            100,
        )
        .await;
        assert!(!syringes.is_empty());
        assert!(
            syringes
                .iter()
                .all(|p| p["category"]["serviceCode"] == "SYRINGE_FOUND")
        );

        let total = walk(&app, json!({}), "NEWEST", 100).await.len();
        let all_parts: usize = {
            let mut n = 0;
            for p in beats["precincts"].as_array().unwrap() {
                n += walk(&app, json!({ "precinctId": p["id"] }), "NEWEST", 100)
                    .await
                    .len();
            }
            n
        };
        assert_eq!(total, all_parts, "precincts do not partition the problems");
    })
    .await;
}

#[tokio::test]
async fn pages_stay_stable_while_new_problems_arrive() {
    each_backend(Options::default(), |app| async move {
        let first = app.data(PAGE, json!({ "first": 10 })).await;
        let page1: Vec<_> = first["problems"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        // A new problem arrives between two page loads.
        let template = entity::problem::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let now = chrono::Utc::now();
        let mut fresh = template.clone();
        fresh.id = uuid::Uuid::now_v7();
        fresh.reference = "BL-2099-000001".into();
        fresh.created_at = now;
        fresh.updated_at = now;
        fresh.into_active_model().insert(&app.db).await.unwrap();

        let after = first["problems"]["pageInfo"]["endCursor"].clone();
        let second = app.data(PAGE, json!({ "first": 10, "after": after })).await;
        let page2: Vec<_> = second["problems"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        assert_eq!(page2.len(), 10);
        assert!(
            page2.iter().all(|id| !page1.contains(id)),
            "the second page repeats the first"
        );
        assert_eq!(second["problems"]["pageInfo"]["hasPreviousPage"], true);

        // Without a cursor the newest problem leads.
        let again = app.data(PAGE, json!({ "first": 1 })).await;
        assert_eq!(
            again["problems"]["edges"][0]["node"]["reference"],
            "BL-2099-000001"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_page_arguments_are_refused() {
    each_backend(Options::default(), |app| async move {
        for first in [101, -1] {
            let body = app.gql(PAGE, json!({ "first": first })).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains("between 0 and 100"), "{body}");
        }
        let body = app
            .gql(PAGE, json!({ "first": 5, "after": "garbage!" }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("cursor"), "{body}");

        let newest = app.data(PAGE, json!({ "first": 1 })).await;
        let cursor = newest["problems"]["pageInfo"]["endCursor"].clone();
        let body = app
            .gql(
                PAGE,
                json!({ "first": 1, "after": cursor, "sort": "OLDEST" }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");

        let empty = app.data(PAGE, json!({ "first": 0 })).await;
        assert_eq!(empty["problems"]["edges"].as_array().unwrap().len(), 0);
        assert_eq!(empty["problems"]["pageInfo"]["hasNextPage"], true);

        let unknown = app
            .gql(
                "query($id: ID!) { problem(id: $id) { id } }",
                json!({ "id": uuid::Uuid::now_v7().to_string() }),
            )
            .await;
        assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
    })
    .await;
}

#[tokio::test]
async fn statements_per_page_do_not_grow_with_the_page() {
    each_backend(Options::default(), |app| async move {
        let mut costs = Vec::new();
        for first in [5, 50, 100] {
            let before = app.statements().await;
            let data = app.data(PAGE, json!({ "first": first })).await;
            assert_eq!(data["problems"]["edges"].as_array().unwrap().len(), first);
            costs.push(app.statements().await - before);
        }
        assert!(
            costs.iter().all(|c| *c == costs[0]),
            "statements per request grew with the page: {costs:?}"
        );
        // The page with its categories in one statement, then one batch per relation
        // (beat, precinct, neighbourhood).
        assert!(costs[0] <= 4, "too many statements for one page: {costs:?}");
    })
    .await;
}

#[tokio::test]
async fn sensitive_problems_are_shown_only_to_their_partner() {
    each_backend(Options::default(), |app| async move {
        let q = "query($f: ProblemFilter) { problems(filter: $f, first: 100) { edges { node { id lat assignedPartner { name } } } } }";
        let f = json!({ "f": { "categoryCode": "SYRINGE_FOUND" } });
        // The public and the police never see public-health reports.
        let public = app.data(q, f.clone()).await;
        assert_eq!(public["problems"]["edges"].as_array().unwrap().len(), 0, "{public}");
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let police = app.data_as(Some(&officer), q, f.clone()).await;
        assert_eq!(police["problems"]["edges"].as_array().unwrap().len(), 0, "{police}");
        // The health department sees them, with exact locations.
        let health = app.demo_login("outreach@health.demo.beatline.city").await;
        let partner = app.data_as(Some(&health), q, f).await;
        let edges = partner["problems"]["edges"].as_array().unwrap();
        assert!(!edges.is_empty());
        for e in edges {
            assert_eq!(e["node"]["assignedPartner"]["name"], "Harbor City Health Department");
            let id: uuid::Uuid = e["node"]["id"].as_str().unwrap().parse().unwrap();
            let row = entity::problem::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
            assert!((e["node"]["lat"].as_f64().unwrap() - row.lat).abs() < 1e-9);
            // And one of them by id is NOT_FOUND for the officer.
            let one = app
                .gql_as(Some(&officer), "query($id: ID!) { problem(id: $id) { id } }", json!({ "id": id.to_string() }))
                .await;
            assert_eq!(error_code(&one), "NOT_FOUND", "{one}");
        }
    })
    .await;
}
