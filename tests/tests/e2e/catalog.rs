//! The city's set-up: categories, precincts, beats, neighbourhoods, point lookup.

use beatline_tests::{Options, each_backend, error_code, error_message};
use serde_json::json;

#[tokio::test]
async fn the_demo_city_is_readable() {
    each_backend(Options::default(), |app| async move {
        let data = app
            .data(
                "{ categories { serviceCode route sensitive partner { name } }
                   precincts { code name beats { code precinct { code } neighborhoods { name } } }
                   neighborhoods { name population beats { code } } }",
                json!({}),
            )
            .await;
        let categories = data["categories"].as_array().unwrap();
        assert_eq!(categories.len(), 10);
        let syringe = categories
            .iter()
            .find(|c| c["serviceCode"] == "SYRINGE_FOUND")
            .unwrap();
        assert_eq!(syringe["route"], "PARTNER");
        assert_eq!(syringe["sensitive"], true);
        assert_eq!(syringe["partner"]["name"], "Harbor City Health Department");

        let precincts = data["precincts"].as_array().unwrap();
        assert_eq!(precincts.len(), 2);
        let beats: Vec<_> = precincts
            .iter()
            .flat_map(|p| p["beats"].as_array().unwrap().clone())
            .collect();
        assert_eq!(beats.len(), 8);
        for precinct in precincts {
            for beat in precinct["beats"].as_array().unwrap() {
                assert_eq!(beat["precinct"]["code"], precinct["code"]);
                assert!(
                    !beat["neighborhoods"].as_array().unwrap().is_empty(),
                    "{beat}"
                );
            }
        }
        let neighborhoods = data["neighborhoods"].as_array().unwrap();
        assert_eq!(neighborhoods.len(), 3);
        assert_eq!(neighborhoods[0]["name"], "Bayshore");
        assert!(
            neighborhoods
                .iter()
                .all(|n| n["population"].as_i64().unwrap() > 0)
        );
    })
    .await;
}

#[tokio::test]
async fn beat_at_finds_the_containing_beat() {
    each_backend(Options::default(), |app| async move {
        let q = "query($lat: Float!, $lon: Float!) { beatAt(lat: $lat, lon: $lon) { code precinct { code } } }";
        // South-west cell of the city is beat 1011 (precinct P1); north-east is 2024 (P2).
        let sw = app.data(q, json!({ "lat": 41.802, "lon": -87.698 })).await;
        assert_eq!(sw["beatAt"]["code"], "1011");
        assert_eq!(sw["beatAt"]["precinct"]["code"], "P1");
        let ne = app.data(q, json!({ "lat": 41.823, "lon": -87.642 })).await;
        assert_eq!(ne["beatAt"]["code"], "2024");
        // Outside the city there is no beat.
        let outside = app.data(q, json!({ "lat": 40.0, "lon": -80.0 })).await;
        assert!(outside["beatAt"].is_null());
    })
    .await;
}

#[tokio::test]
async fn beat_by_id_and_unknown_ids() {
    each_backend(Options::default(), |app| async move {
        let beats = app.data("{ beats { id code } }", json!({})).await;
        let first = &beats["beats"][0];
        let one = app
            .data(
                "query($id: ID!) { beat(id: $id) { code boundary } }",
                json!({ "id": first["id"] }),
            )
            .await;
        assert_eq!(one["beat"]["code"], first["code"]);
        assert_eq!(one["beat"]["boundary"]["type"], "Polygon");

        let unknown = app
            .gql(
                "query($id: ID!) { beat(id: $id) { code } }",
                json!({ "id": uuid::Uuid::now_v7().to_string() }),
            )
            .await;
        assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
        assert!(
            error_message(&unknown).contains("no beat with id"),
            "{unknown}"
        );

        let malformed = app.gql(r#"{ problem(id: "42") { id } }"#, json!({})).await;
        assert_eq!(error_code(&malformed), "BAD_USER_INPUT", "{malformed}");
        assert!(
            error_message(&malformed).contains("not a valid problem id"),
            "{malformed}"
        );
    })
    .await;
}
