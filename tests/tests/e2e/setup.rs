//! The city's set-up by admins.

use beatline_tests::{Options, each_backend, error_code, error_message};
use serde_json::json;

const CATEGORY: &str = "mutation($i: CategoryInput!) { upsertCategory(input: $i) { serviceCode name route sensitive slaHours partner { name } } }";

#[tokio::test]
async fn admins_manage_categories_with_checked_rules() {
    each_backend(Options::default(), |app| async move {
        let admin = app.demo_login("admin@demo.beatline.city").await;
        let cats = app.data("{ categories { serviceCode partner { id } } }", json!({})).await;
        let health = cats["categories"].as_array().unwrap().iter().find(|c| c["serviceCode"] == "SYRINGE_FOUND").unwrap()["partner"]["id"].clone();

        let bad = [
            (json!({ "serviceCode": "bad code", "name": "X", "description": "", "route": "POLICE", "slaHours": 24 }), "service code"),
            (json!({ "serviceCode": "SHARPS", "name": "Sharps", "description": "", "route": "POLICE", "slaHours": 24, "sensitive": true }), "never to police"),
            (json!({ "serviceCode": "SHARPS", "name": "Sharps", "description": "", "route": "PARTNER", "slaHours": 24 }), "partnerId"),
            (json!({ "serviceCode": "SHARPS", "name": "Sharps", "description": "", "route": "PARTNER", "partnerId": health, "slaHours": 0 }), "slaHours"),
        ];
        for (input, words) in bad {
            let body = app.gql_as(Some(&admin), CATEGORY, json!({ "i": input })).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains(words), "{words}: {body}");
        }
        let input = json!({ "i": { "serviceCode": "SHARPS_BIN_FULL", "name": "Sharps bin full", "description": "A public sharps bin is full.", "route": "PARTNER", "partnerId": health, "slaHours": 48, "sensitive": true } });
        let created = app.data_as(Some(&admin), CATEGORY, input.clone()).await;
        assert_eq!(created["upsertCategory"]["partner"]["name"], "Harbor City Health Department");
        // Repeating changes nothing; a change updates in place.
        app.data_as(Some(&admin), CATEGORY, input).await;
        let renamed = json!({ "i": { "serviceCode": "SHARPS_BIN_FULL", "name": "Sharps container full", "description": "", "route": "PARTNER", "partnerId": health, "slaHours": 24, "sensitive": true } });
        let updated = app.data_as(Some(&admin), CATEGORY, renamed).await;
        assert_eq!(updated["upsertCategory"]["slaHours"], 24);
        let all = app.data("{ categories { serviceCode name } }", json!({})).await;
        let matching: Vec<_> = all["categories"].as_array().unwrap().iter().filter(|c| c["serviceCode"] == "SHARPS_BIN_FULL").collect();
        assert_eq!(matching.len(), 1);
        assert_eq!(matching[0]["name"], "Sharps container full");
    })
    .await;
}

#[tokio::test]
async fn a_new_beat_is_found_by_point_at_once() {
    each_backend(Options::default(), |app| async move {
        let admin = app.demo_login("admin@demo.beatline.city").await;
        let at = json!({ "lat": 41.9005, "lon": -87.6005 });
        let q = "query($lat: Float!, $lon: Float!) { beatAt(lat: $lat, lon: $lon) { code precinct { code } } }";
        assert!(app.data(q, at.clone()).await["beatAt"].is_null());
        let square = json!({ "type": "Polygon", "coordinates": [[[-87.601, 41.900], [-87.600, 41.900], [-87.600, 41.901], [-87.601, 41.901], [-87.601, 41.900]]] });
        let bad = app
            .gql_as(Some(&admin), "mutation($b: JSON!) { upsertBeat(input: { code: \"3031\", name: \"Pier\", precinctCode: \"P2\", boundary: $b }) { code } }", json!({ "b": { "type": "Point", "coordinates": [0, 0] } }))
            .await;
        assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
        assert!(error_message(&bad).contains("Polygon or MultiPolygon"), "{bad}");
        let unknown_precinct = app
            .gql_as(Some(&admin), "mutation($b: JSON!) { upsertBeat(input: { code: \"3031\", name: \"Pier\", precinctCode: \"P7\", boundary: $b }) { code } }", json!({ "b": square }))
            .await;
        assert_eq!(error_code(&unknown_precinct), "BAD_USER_INPUT", "{unknown_precinct}");
        assert!(error_message(&unknown_precinct).contains("P7"), "{unknown_precinct}");
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let forbidden = app
            .gql_as(Some(&officer), "mutation($b: JSON!) { upsertBeat(input: { code: \"3031\", name: \"Pier\", precinctCode: \"P2\", boundary: $b }) { code } }", json!({ "b": square }))
            .await;
        assert_eq!(error_code(&forbidden), "FORBIDDEN", "{forbidden}");
        app.data_as(Some(&admin), "mutation($b: JSON!) { upsertBeat(input: { code: \"3031\", name: \"Pier\", precinctCode: \"P2\", boundary: $b }) { code } }", json!({ "b": square }))
            .await;
        let found = app.data(q, at).await;
        assert_eq!(found["beatAt"]["code"], "3031");
        assert_eq!(found["beatAt"]["precinct"]["code"], "P2");
    })
    .await;
}
