//! Bad input gets a GraphQL error with `extensions.code` and a message a person can
//! act on: never a panic, never a 500 with internals.

use beatline_tests::{Options, each_backend, error_code, error_message};
use serde_json::{Value, json};

#[tokio::test]
async fn malformed_requests_get_bad_user_input() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            // A syntax error.
            let body = app.gql("{ categories { id ", json!({})).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            // An unknown field.
            let body = app.gql("{ nope }", json!({})).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains("nope"), "{body}");
            // A variable of the wrong type.
            let body = app
                .gql(
                    "query($n: Int) { problems(first: $n) { edges { cursor } } }",
                    json!({ "n": "ten" }),
                )
                .await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            // A body that is not JSON at all.
            let resp = app
                .client
                .post(format!("{}/graphql", app.base))
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(
                error_message(&body).contains("not a GraphQL request"),
                "{body}"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn coordinates_out_of_range_are_refused() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            for (lat, lon, word) in [
                (91.0, 0.0, "latitude"),
                (-90.5, 0.0, "latitude"),
                (0.0, 180.1, "longitude"),
                (0.0, -200.0, "longitude"),
            ] {
                let body = app
                    .gql(
                        "query($lat: Float!, $lon: Float!) { beatAt(lat: $lat, lon: $lon) { id } }",
                        json!({ "lat": lat, "lon": lon }),
                    )
                    .await;
                assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
                assert!(error_message(&body).contains(word), "{body}");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn overly_deep_queries_are_refused() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            let mut deep = "code".to_owned();
            for _ in 0..8 {
                deep = format!("beats {{ precinct {{ {deep} }} }}");
            }
            let body = app
                .gql(&format!("{{ precincts {{ {deep} }} }}"), json!({}))
                .await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(
                error_message(&body)
                    .to_lowercase()
                    .contains("nested too deeply"),
                "{body}"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn alias_heavy_and_batched_requests_are_refused() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            // 2,500 aliases of one cheap field add up past the complexity limit.
            let aliases: String = (0..2500).map(|i| format!("a{i}: categories {{ id }} ")).collect();
            let body = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{}", &body.to_string()[..300]);
            assert!(error_message(&body).contains("too much at once"), "{}", error_message(&body));

            // A JSON array of requests (batching) is refused.
            let resp = app
                .client
                .post(format!("{}/graphql", app.base))
                .json(&json!([{ "query": "{ categories { id } }" }, { "query": "{ categories { id } }" }]))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).to_lowercase().contains("batch"), "{body}");
        },
    )
    .await;
}
