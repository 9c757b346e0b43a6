//! The HTTP surface: probes, metrics, GraphiQL, profiles.

use beatline_tests::{Options, each_backend};
use serde_json::json;

#[tokio::test]
async fn probes_and_metrics_answer() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            let health = app.get("/healthz").await;
            assert_eq!(health.status(), 200);
            let ready = app.get("/readyz").await;
            assert_eq!(ready.status(), 200);
            assert_eq!(ready.text().await.unwrap(), "ready");

            app.data("{ categories { id } }", json!({})).await;
            let metrics = app.get("/metrics").await.text().await.unwrap();
            assert!(
                metrics.contains(
                    r#"beatline_http_requests_total{method="POST",route="/graphql",status="200"} 1"#
                ),
                "{metrics}"
            );
            assert!(
                metrics.contains("beatline_http_request_duration_seconds_bucket"),
                "{metrics}"
            );
            assert!(app.statements().await > 0);
        },
    )
    .await;
}

#[tokio::test]
async fn development_profile_serves_graphiql_and_introspection() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            let page = app.get("/").await;
            assert_eq!(page.status(), 200);
            assert!(page.text().await.unwrap().contains("graphiql"));
            let data = app
                .data("{ __schema { queryType { name } } }", json!({}))
                .await;
            assert_eq!(data["__schema"]["queryType"]["name"], "QueryRoot");
        },
    )
    .await;
}

#[tokio::test]
async fn production_profile_hides_graphiql_and_introspection() {
    each_backend(
        Options {
            demo: false,
            production: true,
            ..Options::default()
        },
        |app| async move {
            assert_eq!(app.get("/").await.status(), 404);
            let body = app
                .gql(
                    r#"{ __schema { queryType { name } } __type(name: "Problem") { name } }"#,
                    json!({}),
                )
                .await;
            assert!(body["data"]["__schema"].is_null(), "{body}");
            assert!(body["data"]["__type"].is_null(), "{body}");
            // The API itself still answers.
            app.data("{ categories { id } }", json!({})).await;
        },
    )
    .await;
}

#[tokio::test]
async fn get_requests_run_queries() {
    each_backend(Options::default(), |app| async move {
        let resp = app
            .get("/graphql?query=%7B%20precincts%20%7B%20code%20%7D%20%7D")
            .await;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["data"]["precincts"][0]["code"], "P1", "{body}");
    })
    .await;
}
