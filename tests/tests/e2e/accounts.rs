//! Sign-up, sign-in, sessions, staff set-up and erasure.

use beatline_tests::{Options, TEST_JWT_SECRET, TestApp, each_backend, error_code, error_message};
use serde_json::{Value, json};

const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken user { id email role displayName locale } } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { email } } }";
const ME: &str = "{ me { id email role displayName homeNeighborhood { name } } }";
const STRONG: &str = "lantern orbit pickle harbor";

fn registration(email: &str) -> Value {
    json!({ "i": { "email": email, "password": STRONG, "displayName": "Maria L.", "locale": "es" } })
}

async fn register(app: &TestApp, email: &str) -> Value {
    app.data(REGISTER, registration(email)).await["register"].clone()
}

#[tokio::test]
async fn register_login_refresh_and_logout() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            let reg = register(&app, "  Maria.Lopez@Example.org ").await;
            assert_eq!(reg["user"]["email"], "maria.lopez@example.org");
            assert_eq!(reg["user"]["role"], "RESIDENT");
            assert_eq!(reg["user"]["locale"], "es");

            let token = app.login("MARIA.LOPEZ@example.org", STRONG).await;
            let me = app.data_as(Some(&token), ME, json!({})).await;
            assert_eq!(me["me"]["email"], "maria.lopez@example.org");

            // Refresh issues a new pair; the old refresh token is spent.
            let first = reg["refreshToken"].as_str().unwrap();
            let next = app.data(REFRESH, json!({ "t": first })).await["refreshSession"].clone();
            let next_access = next["accessToken"].as_str().unwrap().to_owned();
            assert_eq!(
                app.data_as(Some(&next_access), ME, json!({})).await["me"]["email"],
                "maria.lopez@example.org"
            );

            // Reusing the spent token ends the whole session: both tokens of it stop working.
            let reuse = app.gql(REFRESH, json!({ "t": first })).await;
            assert_eq!(error_code(&reuse), "UNAUTHENTICATED", "{reuse}");
            assert!(error_message(&reuse).contains("already used"), "{reuse}");
            let after = app.gql_as(Some(&next_access), ME, json!({})).await;
            assert_eq!(error_code(&after), "UNAUTHENTICATED", "{after}");
            let newer = app.gql(REFRESH, json!({ "t": next["refreshToken"] })).await;
            assert_eq!(error_code(&newer), "UNAUTHENTICATED", "{newer}");

            // The login session is separate and still works, until logout.
            assert!(
                app.gql_as(Some(&token), ME, json!({}))
                    .await
                    .get("errors")
                    .is_none()
            );
            app.data_as(Some(&token), "mutation { logout }", json!({}))
                .await;
            let gone = app.gql_as(Some(&token), ME, json!({})).await;
            assert_eq!(error_code(&gone), "UNAUTHENTICATED", "{gone}");
        },
    )
    .await;
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    each_backend(
        Options {
            demo: false,
            ..Options::default()
        },
        |app| async move {
            let anonymous = app.gql(ME, json!({})).await;
            assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
            assert!(error_message(&anonymous).contains("sign in"), "{anonymous}");

            let reg = register(&app, "sam@example.org").await;
            let token = reg["accessToken"].as_str().unwrap();
            // Tampered: flip a character of the signature.
            let mut tampered = token.to_owned();
            let last = tampered.pop().unwrap();
            tampered.push(if last == 'A' { 'B' } else { 'A' });
            let body = app.gql_as(Some(&tampered), ME, json!({})).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
            // Garbage.
            let body = app.gql_as(Some("not-a-jwt"), ME, json!({})).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
            // Expired: same key, expiry in the past.
            let claims = jsonwebtoken::decode::<Value>(
                token,
                &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
                &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
            )
            .unwrap()
            .claims;
            let mut old = claims.clone();
            old["exp"] = json!(claims["iat"].as_i64().unwrap() - 3600);
            let expired = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &old,
                &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
            )
            .unwrap();
            let body = app.gql_as(Some(&expired), ME, json!({})).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
            assert!(error_message(&body).contains("expired"), "{body}");
            // Signed with another key.
            let forged = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-of-32-bytes-or-more!"),
            )
            .unwrap();
            let body = app.gql_as(Some(&forged), ME, json!({})).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        },
    )
    .await;
}

#[tokio::test]
async fn registration_input_is_checked() {
    each_backend(Options { demo: false, ..Options::default() }, |app| async move {
        let cases = [
            (json!({ "email": "a@example.org", "password": "short", "displayName": "A" }), "too short"),
            (json!({ "email": "a@example.org", "password": "password1234", "displayName": "A" }), "too common"),
            (json!({ "email": "not-an-email", "password": STRONG, "displayName": "A" }), "not a valid email"),
            (json!({ "email": "a@example.org", "password": STRONG, "displayName": "  " }), "display name"),
            (json!({ "email": "a@example.org", "password": STRONG, "displayName": "A", "timeZone": "Mars/Base" }), "time zone"),
        ];
        for (input, words) in cases {
            let body = app.gql(REGISTER, json!({ "i": input })).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert!(error_message(&body).contains(words), "{words}: {body}");
        }
        register(&app, "taken@example.org").await;
        let body = app.gql(REGISTER, registration("Taken@Example.org")).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(error_message(&body).contains("already exists"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn login_failures_do_not_reveal_accounts_and_are_throttled() {
    each_backend(Options { demo: false, ..Options::default() }, |app| async move {
        register(&app, "kim@example.org").await;
        let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        let wrong = app.gql(login, json!({ "e": "kim@example.org", "p": "wrong password!" })).await;
        let unknown = app.gql(login, json!({ "e": "nobody@example.org", "p": "wrong password!" })).await;
        assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
        assert_eq!(error_message(&wrong), error_message(&unknown), "the messages differ");
        // Five attempts per account are allowed in a burst; then RATE_LIMITED.
        let mut limited = None;
        for _ in 0..6 {
            let body = app.gql(login, json!({ "e": "kim@example.org", "p": "wrong password!" })).await;
            if error_code(&body) == "RATE_LIMITED" {
                limited = Some(body);
                break;
            }
        }
        let body = limited.expect("never rate limited");
        assert!(body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() >= 1, "{body}");
        // Even the right password is refused while throttled.
        let right = app.gql(login, json!({ "e": "kim@example.org", "p": STRONG })).await;
        assert_eq!(error_code(&right), "RATE_LIMITED", "{right}");
    })
    .await;
}

#[tokio::test]
async fn admins_set_up_staff() {
    each_backend(Options::default(), |app| async move {
        let admin = app.demo_login("admin@demo.beatline.city").await;
        let resident = app.demo_login("resident1@demo.beatline.city").await;
        let create = "mutation($i: CreateStaffAccountInput!) { createStaffAccount(input: $i) { id role email } }";
        let input = json!({ "i": { "email": "new.officer@example.org", "password": STRONG, "displayName": "Officer New", "role": "OFFICER" } });
        for (token, code) in [(None, "UNAUTHENTICATED"), (Some(resident.as_str()), "FORBIDDEN")] {
            let body = app.gql_as(token, create, input.clone()).await;
            assert_eq!(error_code(&body), code, "{body}");
        }
        let officer = app.data_as(Some(&admin), create, input).await["createStaffAccount"].clone();
        assert_eq!(officer["role"], "OFFICER");

        let beats = app.data("{ beats { id code } }", json!({})).await;
        let beat = &beats["beats"][3];
        let assign = "mutation($o: ID!, $b: ID!) { assignOfficerToBeat(officerId: $o, beatId: $b) }";
        let vars = json!({ "o": officer["id"], "b": beat["id"] });
        let body = app.gql_as(Some(&resident), assign, vars.clone()).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
        app.data_as(Some(&admin), assign, vars.clone()).await;
        app.data_as(Some(&admin), assign, vars).await; // repeating changes nothing

        // The new officer signs in with the password the admin set.
        let token = app.login("new.officer@example.org", STRONG).await;
        let me = app.data_as(Some(&token), ME, json!({})).await;
        assert_eq!(me["me"]["role"], "OFFICER");

        // A resident cannot be made an officer of a beat.
        let res_id = app.data_as(Some(&resident), ME, json!({})).await["me"]["id"].clone();
        let body = app
            .gql_as(Some(&admin), "mutation($o: ID!, $b: ID!) { assignOfficerToBeat(officerId: $o, beatId: $b) }", json!({ "o": res_id, "b": beat["id"] }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    })
    .await;
}

#[tokio::test]
async fn deleting_an_account_keeps_reports_anonymously() {
    each_backend(Options::default(), |app| async move {
        let token = app.demo_login("resident1@demo.beatline.city").await;
        let me = app.data_as(Some(&token), ME, json!({})).await["me"].clone();
        let id: uuid::Uuid = me["id"].as_str().unwrap().parse().unwrap();
        use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
        let before = entity::problem::Entity::find()
            .filter(entity::problem::Column::ReporterId.eq(id))
            .count(&app.db)
            .await
            .unwrap();
        assert!(before > 0);
        let total = entity::problem::Entity::find().count(&app.db).await.unwrap();

        app.data_as(Some(&token), "mutation { deleteMyAccount }", json!({})).await;

        let after = entity::problem::Entity::find()
            .filter(entity::problem::Column::ReporterId.eq(id))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(after, 0);
        assert_eq!(entity::problem::Entity::find().count(&app.db).await.unwrap(), total, "reports were lost");
        let user = entity::user::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
        assert!(user.email.is_none() && user.password_hash.is_none() && user.deleted_at.is_some());
        assert_ne!(user.display_name, me["displayName"].as_str().unwrap());
        let body = app.gql_as(Some(&token), ME, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        let login = app
            .gql("mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", json!({ "e": "resident1@demo.beatline.city", "p": beatline_tests::DEMO_PASSWORD }))
            .await;
        assert_eq!(error_code(&login), "UNAUTHENTICATED", "{login}");
    })
    .await;
}
