//! Problem exports: staff CSV and GeoJSON, the public blurred GeoJSON, the date range,
//! what is never exported, and bad input.

use std::collections::{HashMap, HashSet};

use beatline_tests::{Options, TestApp, each_backend};
use chrono::{Duration, SecondsFormat, Utc};
use entity::{category, problem};
use graphql_schema::domain::privacy::blur;
use sea_orm::EntityTrait as _;
use serde_json::Value;
use uuid::Uuid;

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

fn range() -> String {
    let now = Utc::now();
    format!(
        "from={}&to={}",
        (now - Duration::days(120)).format("%Y-%m-%d"),
        (now + Duration::days(1)).format("%Y-%m-%d")
    )
}

async fn categories(app: &TestApp) -> HashMap<Uuid, category::Model> {
    category::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c))
        .collect()
}

/// Parses a CSV body (RFC 4180, as the export writes it) into header and rows.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    let header = rows.remove(0);
    (header, rows)
}

#[tokio::test]
async fn staff_export_what_they_may_see_exactly() {
    each_backend(Options::default(), |app| async move {
        let cats = categories(&app).await;
        let all = problem::Entity::find().all(&app.db).await.unwrap();
        let by_id: HashMap<String, &problem::Model> =
            all.iter().map(|p| (p.id.to_string(), p)).collect();

        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resp = get(
            &app,
            &format!("/export/problems.csv?{}", range()),
            Some(&officer),
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(
            resp.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(".csv")
        );
        let (header, rows) = parse_csv(&resp.text().await.unwrap());
        assert_eq!(header[0], "id");
        assert!(
            !header
                .iter()
                .any(|h| h.contains("reporter") || h.contains("anonymous")),
            "{header:?}"
        );
        let police_visible = all
            .iter()
            .filter(|p| !cats[&p.category_id].sensitive)
            .count();
        assert_eq!(rows.len(), police_visible, "[{:?}]", app.backend);
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        for r in &rows {
            let p = by_id[&r[col("id")]];
            assert!(
                !cats[&p.category_id].sensitive,
                "police got a sensitive problem"
            );
            assert_eq!(r[col("reference")], p.reference);
            assert!((r[col("lat")].parse::<f64>().unwrap() - p.lat).abs() < 1e-6);
            assert_eq!(r[col("location_blurred")], "false");
            assert_eq!(r[col("title")], p.title);
        }
        let times: Vec<&str> = rows.iter().map(|r| r[col("created_at")].as_str()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

        // A partner of the health department sees its routed sensitive problems, exact.
        let outreach = app.demo_login("outreach@health.demo.beatline.city").await;
        let resp = get(
            &app,
            &format!("/export/problems.geojson?{}", range()),
            Some(&outreach),
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/geo+json");
        let doc: Value = resp.json().await.unwrap();
        assert_eq!(doc["type"], "FeatureCollection");
        let features = doc["features"].as_array().unwrap();
        let sensitive: Vec<&Value> = features
            .iter()
            .filter(|f| {
                cats.values().any(|c| {
                    c.sensitive && f["properties"]["service_code"] == c.service_code.as_str()
                })
            })
            .collect();
        assert!(!sensitive.is_empty());
        for f in sensitive {
            let p = by_id[f["id"].as_str().unwrap()];
            assert!((f["geometry"]["coordinates"][0].as_f64().unwrap() - p.lon).abs() < 1e-9);
            assert_eq!(f["properties"]["location_blurred"], false);
        }

        // A narrower range gives exactly the problems reported in it.
        let from = Utc::now() - Duration::days(10);
        let to = Utc::now() - Duration::days(3);
        let path = format!(
            "/export/problems.csv?from={}&to={}",
            from.to_rfc3339_opts(SecondsFormat::Secs, true),
            to.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let (_, rows) = parse_csv(&get(&app, &path, Some(&officer)).await.text().await.unwrap());
        let from = from.with_nanosecond_zero();
        let to = to.with_nanosecond_zero();
        let expected = all
            .iter()
            .filter(|p| {
                !cats[&p.category_id].sensitive && p.created_at >= from && p.created_at < to
            })
            .count();
        assert_eq!(rows.len(), expected);
    })
    .await;
}

trait TruncSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl TruncSeconds for chrono::DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap()
    }
}

#[tokio::test]
async fn the_open_data_export_blurs_sensitive_problems_and_names_no_one() {
    each_backend(Options::default(), |app| async move {
        let cats = categories(&app).await;
        let all = problem::Entity::find().all(&app.db).await.unwrap();
        let by_id: HashMap<String, &problem::Model> =
            all.iter().map(|p| (p.id.to_string(), p)).collect();
        let resp = get(
            &app,
            &format!("/open-data/problems.geojson?{}", range()),
            None,
        )
        .await;
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(
            !text.contains("reporter"),
            "reporter data in the open-data export"
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        let features = doc["features"].as_array().unwrap();
        assert_eq!(
            features.len(),
            all.len(),
            "every problem, sensitive ones blurred"
        );
        let mut blurred = 0;
        for f in features {
            let p = by_id[f["id"].as_str().unwrap()];
            let c = &cats[&p.category_id];
            let [lon, lat] = [
                f["geometry"]["coordinates"][0].as_f64().unwrap(),
                f["geometry"]["coordinates"][1].as_f64().unwrap(),
            ];
            let props = &f["properties"];
            if c.sensitive {
                blurred += 1;
                assert_eq!(props["location_blurred"], true);
                assert!((lat - blur(p.lat)).abs() < 1e-9 && (lon - blur(p.lon)).abs() < 1e-9);
                // Within a cell: at most ~80 m from the true point in each direction.
                assert!((lat - p.lat).abs() <= 0.0005 + 1e-9);
                assert_eq!(props["title"], c.name.as_str());
                assert_eq!(props["description"], "");
                assert!(props["address"].is_null());
            } else {
                assert_eq!(props["location_blurred"], false);
                assert!((lat - p.lat).abs() < 1e-9 && (lon - p.lon).abs() < 1e-9);
                assert_eq!(props["title"], p.title.as_str());
            }
        }
        assert!(blurred > 0, "the demo city has sensitive problems");
        let ids: HashSet<&str> = features.iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), features.len());
    })
    .await;
}

#[tokio::test]
async fn exports_check_who_asks_and_the_dates() {
    each_backend(Options::default(), |app| async move {
        let error = |resp: reqwest::Response| async move {
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (
                status,
                body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                body["errors"][0]["message"].as_str().unwrap().to_owned(),
            )
        };
        let path = format!("/export/problems.csv?{}", range());
        let (status, code, message) = error(get(&app, &path, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "UNAUTHENTICATED"),
            "{message}"
        );
        let (status, code, _) = error(get(&app, &path, Some("not-a-token")).await).await;
        assert_eq!((status, code.as_str()), (401, "UNAUTHENTICATED"));
        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let (status, code, message) = error(get(&app, &path, Some(&resident)).await).await;
        assert_eq!((status, code.as_str()), (403, "FORBIDDEN"));
        assert!(message.contains("/open-data/problems.geojson"), "{message}");

        let admin = app.demo_login("admin@demo.beatline.city").await;
        for (query, words) in [
            ("to=2026-11-01", "`from` is required"),
            ("from=2026-11-01", "`to` is required"),
            ("from=yesterday&to=2026-11-01", "is not a date"),
            ("from=2026-11-05&to=2026-11-01", "must be after"),
            ("from=2026-13-01&to=2026-11-01", "is not a date"),
        ] {
            for endpoint in ["/export/problems.geojson", "/open-data/problems.geojson"] {
                let resp = get(&app, &format!("{endpoint}?{query}"), Some(&admin)).await;
                let (status, code, message) = error(resp).await;
                assert_eq!(
                    (status, code.as_str()),
                    (400, "BAD_USER_INPUT"),
                    "{endpoint}?{query}"
                );
                assert!(message.contains(words), "{endpoint}?{query}: {message}");
            }
        }
        // An empty range is an empty, valid file.
        let resp = get(
            &app,
            "/open-data/problems.geojson?from=2001-01-01&to=2001-01-02",
            None,
        )
        .await;
        let doc: Value = resp.json().await.unwrap();
        assert_eq!(doc["features"].as_array().unwrap().len(), 0);
        let resp = get(
            &app,
            "/export/problems.csv?from=2001-01-01&to=2001-01-02",
            Some(&admin),
        )
        .await;
        assert_eq!(resp.text().await.unwrap().lines().count(), 1, "header only");
    })
    .await;
}
