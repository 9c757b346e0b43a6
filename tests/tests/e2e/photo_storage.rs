//! Where photos are stored and how phones fetch them: an S3 bucket on a real
//! S3-protocol server (s3s-fs on loopback) with presigned URLs, and signed links to
//! this server for the local directory; both work without an `Authorization` header
//! until they expire, and not after.

use std::time::Duration;

use beatline_server::config::{PhotoConfig, ServeConfig};
use beatline_tests::s3::S3Server;
use beatline_tests::{
    Options, TEST_JWT_SECRET, each_backend, each_backend_configured, server_config,
};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use graphql_schema::domain::photos::PhotoUrlKey;
use object_store::ObjectStore as _;
use object_store::path::Path as ObjectPath;
use serde_json::{Value, json};

use crate::problem_work::{
    contains, jpeg_with_exif, point_in_beat, report_input, report_multipart,
};

const BUCKET: &str = "beatline-photos";
const PHOTOS: &str = "query($id: ID!) { problem(id: $id) { photos {
  id signedUrl signedThumbnailUrl signedUrlExpiresAt } } }";

fn expires_at(photo: &Value) -> DateTime<Utc> {
    photo["signedUrlExpiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `reportProblem` in beat 1011 with one JPEG that carries EXIF and GPS metadata; the
/// problem as the API returned it.
async fn report_with_a_photo(
    app: &beatline_tests::TestApp,
    token: &str,
    category: &str,
    description: &str,
) -> Value {
    let at = point_in_beat(app, "1011").await;
    let body = report_multipart(
        app,
        token,
        report_input(category, at, description),
        &[("photo.jpg", "image/jpeg", jpeg_with_exif())],
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["reportProblem"].clone()
}

/// A GET without any header, as an image loader sends it.
async fn plain_get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

#[tokio::test]
async fn photos_go_to_an_s3_bucket_and_presigned_urls_serve_them_until_they_expire() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET);
    let photos = PhotoConfig {
        photo_url_ttl_secs: 3,
        ..s3.photo_config(BUCKET, Some("city/prod"))
    };
    let configure = move |serve: &mut ServeConfig| serve.photos = photos.clone();
    each_backend_configured(Options::default(), configure, |app| {
        let s3 = &s3;
        async move {
            let resident = app.demo_login("resident16@demo.beatline.city").await;
            let officer = app.demo_login("officer.1011@demo.beatline.city").await;
            let problem =
                report_with_a_photo(&app, &resident, "GRAFFITI", "Tags on the school fence.").await;
            let photo = problem["photos"][0].clone();
            let id = photo["id"].as_str().unwrap();

            // In the bucket, under the prefix, without the metadata.
            let bucket = s3.client(BUCKET);
            let object = |key: String| {
                let bucket = &bucket;
                async move {
                    let got = bucket.get(&ObjectPath::from(key)).await.unwrap();
                    let content_type = got
                        .attributes
                        .get(&object_store::Attribute::ContentType)
                        .map(|v| v.as_ref().to_owned());
                    (content_type, got.bytes().await.unwrap().to_vec())
                }
            };
            let (content_type, stored) = object(format!("city/prod/photos/{id}.jpg")).await;
            assert_eq!(content_type.as_deref(), Some("image/jpeg"));
            assert!(!contains(&stored, b"Exif"), "EXIF reached the bucket");
            assert!(!contains(&stored, b"GPSLatitude") && !contains(&stored, b"SecretPhone"));
            assert_eq!(image::load_from_memory(&stored).unwrap().width(), 640);
            let (_, stored_thumb) = object(format!("city/prod/photos/{id}-thumb.jpg")).await;
            assert_eq!(image::load_from_memory(&stored_thumb).unwrap().width(), 320);

            // The presigned URLs point at the store and need no header.
            let signed = photo["signedUrl"].as_str().unwrap().to_owned();
            assert!(
                signed.starts_with(&format!(
                    "{}/{BUCKET}/city/prod/photos/{id}.jpg?",
                    s3.endpoint
                )),
                "{signed}"
            );
            assert!(
                signed.contains("X-Amz-Signature=") && signed.contains("X-Amz-Expires="),
                "{signed}"
            );
            let resp = plain_get(&signed).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "image/jpeg");
            assert_eq!(resp.bytes().await.unwrap().to_vec(), stored);
            let thumb = plain_get(photo["signedThumbnailUrl"].as_str().unwrap()).await;
            assert_eq!(thumb.status(), 200);
            assert_eq!(thumb.bytes().await.unwrap().to_vec(), stored_thumb);

            // The signature covers the object: pointing it at another one fails.
            let other = signed.replacen(&format!("{id}.jpg"), &format!("{id}-thumb.jpg"), 1);
            assert_eq!(plain_get(&other).await.status(), 403);
            // Without the signature, the bucket is closed.
            let bare = signed.split('?').next().unwrap();
            assert_eq!(plain_get(bare).await.status(), 403);

            // The server's own route still serves it, from the bucket, with the token.
            let resp = app.get_as(&officer, &format!("/photos/{id}")).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.bytes().await.unwrap().to_vec(), stored);

            // It expires when the API said it would (BEATLINE_PHOTO_URL_TTL_SECS=3).
            let until = expires_at(&photo);
            let left = until - Utc::now();
            assert!(
                left > chrono::Duration::zero() && left <= chrono::Duration::seconds(3),
                "{left}"
            );
            let wait =
                (until - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1_500);
            tokio::time::sleep(wait).await;
            assert_eq!(
                plain_get(&signed).await.status(),
                403,
                "still served after {until}"
            );
            // Asking the API again gives a fresh URL that works.
            let data = app
                .data_as(Some(&resident), PHOTOS, json!({ "id": problem["id"] }))
                .await;
            let fresh = &data["problem"]["photos"][0];
            assert!(expires_at(fresh) > until);
            let resp = plain_get(fresh["signedUrl"].as_str().unwrap()).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.bytes().await.unwrap().to_vec(), stored);

            // The start-up check left nothing behind: the bucket holds photos only.
            let keys: Vec<String> = bucket
                .list(None)
                .map(|meta| meta.unwrap().location.to_string())
                .collect()
                .await;
            assert!(
                keys.iter().all(|k| k.starts_with("city/prod/photos/")),
                "{keys:?}"
            );
            assert!(
                keys.contains(&format!("city/prod/photos/{id}.jpg")),
                "{keys:?}"
            );
        }
    })
    .await;
}

/// Starts a server with these photo settings; the error when it does not start.
async fn start_error(photos: PhotoConfig) -> String {
    let path = std::env::temp_dir().join(format!(
        "beatline-s3-start-{}.db",
        uuid::Uuid::now_v7().simple()
    ));
    let (mut common, mut serve) = server_config(format!("sqlite://{}", path.display()));
    common.db_max_connections = 2;
    serve.photos = photos;
    let result = beatline_server::start(&common, &serve, false).await;
    let _ = std::fs::remove_file(&path);
    match result {
        Ok(server) => {
            let _ = server.shutdown().await;
            panic!("the server started with a photo store it cannot use");
        }
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn a_photo_bucket_the_server_cannot_use_stops_it_at_start_with_one_clear_line() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET);
    let secret = beatline_tests::s3::SECRET_ACCESS_KEY;

    let missing = start_error(s3.photo_config("no-such-bucket", None)).await;
    assert!(missing.contains("the bucket does not exist"), "{missing}");
    assert!(missing.contains("no-such-bucket"), "{missing}");

    let wrong_secret = PhotoConfig {
        photo_s3_secret_access_key: Some(
            beatline_server::config::Secret::credential("not-the-secret-access-key").unwrap(),
        ),
        ..s3.photo_config(BUCKET, None)
    };
    let refused = start_error(wrong_secret).await;
    assert!(refused.contains("credentials were refused"), "{refused}");
    assert!(
        !refused.contains("not-the-secret-access-key"),
        "the secret leaked: {refused}"
    );

    let cleartext = PhotoConfig {
        photo_s3_endpoint: Some("http://s3.example.org".into()),
        ..s3.photo_config(BUCKET, None)
    };
    let cleartext = start_error(cleartext).await;
    assert!(
        cleartext.contains("BEATLINE_PHOTO_S3_ENDPOINT") && cleartext.contains("https"),
        "{cleartext}"
    );

    let half = PhotoConfig {
        photo_s3_secret_access_key: None,
        ..s3.photo_config(BUCKET, None)
    };
    let half = start_error(half).await;
    assert!(half.contains("AWS_SECRET_ACCESS_KEY"), "{half}");

    for message in [&missing, &refused, &cleartext, &half] {
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(!message.contains(secret), "the secret leaked: {message}");
    }
}

#[tokio::test]
async fn signed_links_to_the_local_store_work_without_a_token_until_they_expire() {
    each_backend(Options::default(), |app| async move {
        let resident = app.demo_login("resident16@demo.beatline.city").await;
        // A public-health report: only the reporter and its partner may see it.
        let problem = report_with_a_photo(
            &app,
            &resident,
            "SYRINGE_FOUND",
            "Needles by the bus shelter.",
        )
        .await;
        let photo = problem["photos"][0].clone();
        let id: uuid::Uuid = photo["id"].as_str().unwrap().parse().unwrap();

        // A path on this server, working without any header.
        let signed = photo["signedUrl"].as_str().unwrap().to_owned();
        assert!(
            signed.starts_with(&format!("/photos/{id}?expires=")),
            "{signed}"
        );
        let with_token = app
            .get_as(&resident, &format!("/photos/{id}"))
            .await
            .bytes()
            .await
            .unwrap();
        let resp = app.get(&signed).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        assert_eq!(resp.bytes().await.unwrap(), with_token);
        let thumb_link = photo["signedThumbnailUrl"].as_str().unwrap().to_owned();
        assert!(
            thumb_link.starts_with(&format!("/photos/{id}/thumbnail?")),
            "{thumb_link}"
        );
        let thumb = app.get(&thumb_link).await;
        assert_eq!(thumb.status(), 200);
        assert_eq!(
            image::load_from_memory(&thumb.bytes().await.unwrap())
                .unwrap()
                .width(),
            320
        );
        // Ten minutes by default.
        let left = expires_at(&photo) - Utc::now();
        assert!(
            left > chrono::Duration::seconds(590) && left <= chrono::Duration::seconds(600),
            "{left}"
        );
        // Without the signature, the route wants a token that may see it, as before.
        assert_eq!(app.get(&format!("/photos/{id}")).await.status(), 404);
        let officer = app.demo_login("officer.1011@demo.beatline.city").await;
        let resp = app.get_as(&officer, &format!("/photos/{id}")).await;
        assert_eq!(resp.status(), 404);

        // Tampered links are refused, all with the same answer.
        let (path, query) = signed.split_once('?').unwrap();
        let expires: i64 = query
            .split('&')
            .find_map(|p| p.strip_prefix("expires="))
            .unwrap()
            .parse()
            .unwrap();
        let signature = query
            .split('&')
            .find_map(|p| p.strip_prefix("signature="))
            .unwrap();
        let flipped = format!(
            "{}{}",
            &signature[..63],
            if signature.ends_with('0') { '1' } else { '0' }
        );
        let refused_answer = app
            .get(&format!("{path}?expires={expires}&signature={flipped}"))
            .await;
        assert_eq!(refused_answer.status(), 403);
        let refused_body = refused_answer.text().await.unwrap();
        let tampered = [
            format!("{path}?expires={}&signature={signature}", expires + 3600),
            format!("/photos/{id}/thumbnail?{query}"),
            format!("{path}?expires={expires}"),
            format!("{path}?signature={signature}"),
            format!("{path}?expires={expires}&signature=not-hex"),
            format!("{path}?expires=tomorrow&signature={signature}"),
            format!("/photos/{}?{query}", uuid::Uuid::now_v7()),
        ];
        for link in tampered {
            let resp = app.get(&link).await;
            assert_eq!(resp.status(), 403, "{link}");
            assert_eq!(resp.text().await.unwrap(), refused_body, "{link}");
        }

        // A link made with the server's own key works until its expiry, not after.
        let key = PhotoUrlKey::derive(TEST_JWT_SECRET.as_bytes());
        let now = Utc::now().timestamp();
        let fresh = key.signed_path(id, false, now + 60).unwrap();
        assert_eq!(app.get(&fresh).await.status(), 200);
        let expired = key.signed_path(id, false, now - 1).unwrap();
        let resp = app.get(&expired).await;
        assert_eq!(resp.status(), 403);
        assert_eq!(
            resp.text().await.unwrap(),
            refused_body,
            "expiry and tampering answer alike"
        );
        // A bearer token that does not work is not looked at on a signed link.
        let resp = app.get_as("not-a-token", &thumb_link).await;
        assert_eq!(resp.status(), 200);
    })
    .await;
}
