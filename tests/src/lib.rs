//! Test harness for Beatline's end-to-end tests: starts the real server on port 0 over
//! a fresh database (a temp SQLite file, and a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set), and talks to it over HTTP.
//!
//! Every test runs once per backend through [`each_backend`]. With `CI=true` and no
//! `TEST_DATABASE_URL`, the PostgreSQL run fails loudly instead of being skipped.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: failing loudly is the point"
)]

pub mod fake_fcm;
pub mod live;
pub mod s3;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use beatline_server::RunningServer;
use beatline_server::config::{
    CommonConfig, LogFormat, PhotoConfig, Profile, ServeConfig, SessionConfig,
};
use futures::FutureExt as _;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

/// The secret the test servers sign tokens with.
pub const TEST_JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = beatline_server::demo::DEMO_PASSWORD;

/// A database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// How a test wants its server.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Load the demo city.
    pub demo: bool,
    /// Run with the production profile (no GraphiQL, no introspection).
    pub production: bool,
    /// How long access tokens and new WebSockets' `connection_init` may take.
    pub sessions: SessionConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            demo: true,
            production: false,
            sessions: SessionConfig::default(),
        }
    }
}

/// A running server and a client for it.
pub struct TestApp {
    /// Base URL, e.g. `http://127.0.0.1:43121`.
    pub base: String,
    /// The HTTP client.
    pub client: reqwest::Client,
    /// The backend under test.
    pub backend: Backend,
    /// A direct connection to the server's database, for set-up the API cannot do yet.
    pub db: DatabaseConnection,
    /// The server's event bus, to announce changes made directly in the database.
    pub events: std::sync::Arc<dyn graphql_schema::domain::events::EventBus>,
    /// The URL of the server's database, to start more replicas on it.
    pub database_url: String,
}

impl TestApp {
    /// POSTs a GraphQL request and returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request failed")
            .json()
            .await
            .expect("response is not JSON")
    }

    /// POSTs a GraphQL request with a bearer token (when given).
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
            .await
            .expect("request failed")
            .json()
            .await
            .expect("response is not JSON")
    }

    /// Like [`TestApp::gql_as`], but the request must succeed; returns `data`.
    pub async fn data_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql_as(token, query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "[{:?}] unexpected errors: {body:#}",
            self.backend
        );
        body["data"].clone()
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let data = self
            .data(
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        data["login"]["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned()
    }

    /// Signs in a demo account (password [`DEMO_PASSWORD`]).
    pub async fn demo_login(&self, email: &str) -> String {
        self.login(email, DEMO_PASSWORD).await
    }

    /// POSTs a GraphQL request that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "[{:?}] unexpected errors: {body:#}",
            self.backend
        );
        body["data"].clone()
    }

    /// GETs a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request failed")
    }

    /// GETs a path with `Authorization: Bearer <token>`.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request failed")
    }

    /// How many SQL statements the server has run so far (from `/metrics`).
    pub async fn statements(&self) -> u64 {
        let text = self
            .get("/metrics")
            .await
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .find_map(|l| l.strip_prefix("beatline_db_statements_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("beatline_db_statements_total missing from /metrics")
    }
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body:#}"))
}

/// The message of the first error of a response.
pub fn error_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// Runs `test` against a fresh server on each backend.
pub async fn each_backend<F, Fut>(options: Options, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend_configured(options, |_| {}, test).await;
}

/// Like [`each_backend`], with `configure` changing the server's settings first (a
/// photo store, for instance).
pub async fn each_backend_configured<C, F, Fut>(options: Options, configure: C, test: F)
where
    C: Fn(&mut ServeConfig),
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    run_on(Backend::Sqlite, options, &configure, &test).await;
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            run_on(Backend::Postgres, options, &configure, &test).await;
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL half of the suite cannot run"
            )
        }
        _ => eprintln!(
            "TEST_DATABASE_URL not set: PostgreSQL run skipped (set it to run both backends)"
        ),
    }
}

/// A database made for one test, removed afterwards.
pub enum TestDatabase {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database on the server of `TEST_DATABASE_URL`.
    Postgres {
        /// Connection to the maintenance database, to drop the test one.
        admin: DatabaseConnection,
        /// Name of the test database.
        name: String,
    },
}

impl TestDatabase {
    /// Creates a fresh, empty database and returns its URL.
    pub async fn create(backend: Backend) -> (Self, String) {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("beatline-test-{suffix}.db"));
                let url = format!("sqlite://{}", path.display());
                (Self::Sqlite(path), url)
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("cannot reach TEST_DATABASE_URL");
                let name = format!("beatline_test_{suffix}");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("CREATE DATABASE");
                let base = admin_url.split('?').next().unwrap_or(&admin_url);
                let url = match base.rfind('/') {
                    Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
                    _ => format!("{base}/{name}"),
                };
                (Self::Postgres { admin, name }, url)
            }
        }
    }

    /// Removes the database.
    pub async fn drop_now(self) {
        match self {
            Self::Sqlite(path) => {
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
                }
            }
            Self::Postgres { admin, name } => {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// The settings of a test server on `database_url`: loopback on a free port, the
/// development profile, the test secret, no demo data, default photos, push and
/// sessions, 5 pooled connections, warnings only. Callers change what they test.
pub fn server_config(database_url: impl Into<String>) -> (CommonConfig, ServeConfig) {
    let common = CommonConfig {
        database_url: database_url.into(),
        db_max_connections: 5,
        log: "warn".into(),
        log_format: LogFormat::Pretty,
    };
    let serve = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        profile: Profile::Development,
        graphiql: None,
        introspection: None,
        demo: false,
        jwt_secret: Some(TEST_JWT_SECRET.parse().expect("secret")),
        photos: PhotoConfig::default(),
        push: beatline_server::push::PushConfig::default(),
        sessions: SessionConfig::default(),
    };
    (common, serve)
}

/// Starts another server (a replica) on the database of `app`, without demo data.
pub async fn spawn_replica(app: &TestApp) -> RunningServer {
    let (common, serve) = server_config(app.database_url.clone());
    beatline_server::start(&common, &serve, false)
        .await
        .expect("the replica did not start")
}

/// Starts a server on a fresh database of `backend`.
pub async fn spawn(backend: Backend, options: Options) -> (RunningServer, TestDatabase) {
    let (database, url) = TestDatabase::create(backend).await;
    let (server, database) = spawn_on(backend, options, &|_| {}, database, url).await;
    (server, database)
}

async fn spawn_on(
    backend: Backend,
    options: Options,
    configure: &dyn Fn(&mut ServeConfig),
    database: TestDatabase,
    url: String,
) -> (RunningServer, TestDatabase) {
    let (common, mut serve) = server_config(url);
    if options.production {
        serve.profile = Profile::Production;
    }
    serve.demo = options.demo;
    serve.photos = PhotoConfig::local_dir(std::env::temp_dir().join(format!(
        "beatline-test-photos-{}",
        uuid::Uuid::now_v7().simple()
    )));
    serve.sessions = options.sessions;
    configure(&mut serve);
    match beatline_server::start(&common, &serve, false).await {
        Ok(server) => (server, database),
        Err(error) => {
            database.drop_now().await;
            panic!("[{backend:?}] the server did not start: {error:#}");
        }
    }
}

async fn run_on<F, Fut>(
    backend: Backend,
    options: Options,
    configure: &dyn Fn(&mut ServeConfig),
    test: &F,
) where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let (database, url) = TestDatabase::create(backend).await;
    let (server, database) = spawn_on(backend, options, configure, database, url.clone()).await;
    let app = TestApp {
        base: format!("http://{}", server.addr),
        client: reqwest::Client::new(),
        backend,
        db: server.db.clone(),
        events: server.events.clone(),
        database_url: url,
    };
    let outcome = AssertUnwindSafe(test(app)).catch_unwind().await;
    let _ = server.shutdown().await;
    database.drop_now().await;
    if let Err(panic) = outcome {
        eprintln!("the test failed on {backend:?}");
        std::panic::resume_unwind(panic);
    }
}
