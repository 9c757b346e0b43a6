//! The server's one typed configuration, from command-line flags and `BEATLINE_*`
//! environment variables (flags win). `beatline --help` and `beatline serve --help`
//! print every setting with its default; README.md lists them too.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Every `BEATLINE_*` variable the server reads; any other is refused at start-up, so a
/// typo cannot silently fall back to a default.
pub const KNOWN_ENV: &[&str] = &[
    "BEATLINE_DATABASE_URL",
    "BEATLINE_DB_MAX_CONNECTIONS",
    "BEATLINE_LISTEN",
    "BEATLINE_PROFILE",
    "BEATLINE_GRAPHIQL",
    "BEATLINE_INTROSPECTION",
    "BEATLINE_LOG",
    "BEATLINE_LOG_FORMAT",
    "BEATLINE_DEMO",
    "BEATLINE_JWT_SECRET",
    "BEATLINE_PHOTO_DIR",
    "BEATLINE_PHOTO_S3_BUCKET",
    "BEATLINE_PHOTO_S3_ENDPOINT",
    "BEATLINE_PHOTO_S3_REGION",
    "BEATLINE_PHOTO_S3_PREFIX",
    "BEATLINE_PHOTO_S3_ADDRESSING",
    "BEATLINE_PHOTO_URL_TTL_SECS",
    "BEATLINE_PUSH",
    "BEATLINE_FCM_CREDENTIALS",
    "BEATLINE_FCM_ENDPOINT",
    "BEATLINE_PUSH_CONCURRENCY",
    "BEATLINE_PUSH_BATCH_SIZE",
    "BEATLINE_PUSH_LEASE_SECS",
    "BEATLINE_PUSH_RETRY_BASE_MS",
    "BEATLINE_PUSH_RETRY_WINDOW_SECS",
    "BEATLINE_PUSH_POLL_MS",
    "BEATLINE_ACCESS_TOKEN_TTL_SECS",
    "BEATLINE_WS_INIT_TIMEOUT_MS",
];

/// Beatline: a backend for community policing. Residents report neighbourhood
/// problems, beat officers and partner agencies work them, beats meet to solve them.
#[derive(Debug, Parser)]
#[command(name = "beatline", version)]
pub struct Cli {
    /// Database and logging settings shared by every sub-command.
    #[command(flatten)]
    pub common: CommonConfig,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the GraphQL API over HTTP.
    Serve(Box<ServeConfig>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo city (precincts, beats, neighbourhoods, users, problems, meetings)
    /// into an empty database, and print the demo logins.
    SeedDemo,
    /// Print the GraphQL schema (SDL) to standard output.
    PrintSchema,
    /// Generate N problems in the city already loaded (for benchmarks), with a
    /// progress bar.
    SeedProblems {
        /// How many problems to generate.
        #[arg(long)]
        count: u64,
    },
    /// Create an administrator account (the first one, typically).
    CreateAdmin {
        /// The admin's email.
        #[arg(long)]
        email: String,
        /// The admin's password (at least 10 characters, not a common one).
        #[arg(long)]
        password: String,
    },
    /// Import precinct, beat and neighbourhood boundaries from a GeoJSON
    /// FeatureCollection (Polygon and MultiPolygon features). Importing the same file
    /// twice changes nothing.
    ImportBoundaries {
        /// The GeoJSON file. Each feature's properties say `kind` (`precinct`, `beat` or
        /// `neighborhood`), `code` (precincts, beats), `name`, `precinct` (a beat's
        /// precinct code), `population` (neighbourhoods); see server/demo/city.geojson.
        file: std::path::PathBuf,
    },
}

/// Settings every sub-command needs.
#[derive(Debug, Clone, Args)]
pub struct CommonConfig {
    /// Database URL: `sqlite://FILE` (created if missing; WAL mode) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(
        long,
        env = "BEATLINE_DATABASE_URL",
        default_value = "sqlite://beatline.db",
        global = true
    )]
    pub database_url: String,
    /// Most connections the pool opens.
    #[arg(
        long,
        env = "BEATLINE_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `beatline=debug,info`.
    #[arg(long, env = "BEATLINE_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(long, env = "BEATLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address and port to listen on.
    #[arg(long, env = "BEATLINE_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// `development` turns GraphiQL and introspection on; `production` turns them off.
    #[arg(long, env = "BEATLINE_PROFILE", value_enum, default_value_t = Profile::Development)]
    pub profile: Profile,
    /// Serve GraphiQL at `/` (default: on in development, off in production).
    #[arg(long, env = "BEATLINE_GRAPHIQL")]
    pub graphiql: Option<bool>,
    /// Allow schema introspection (default: on in development, off in production).
    #[arg(long, env = "BEATLINE_INTROSPECTION")]
    pub introspection: Option<bool>,
    /// Load the demo city first when the database is empty, and print the demo logins.
    #[arg(long, env = "BEATLINE_DEMO", default_value_t = false)]
    pub demo: bool,
    /// Secret that signs access tokens (at least 32 bytes). Required in production;
    /// elsewhere a random one is generated at start (sessions then end on restart).
    #[arg(long, env = "BEATLINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Problem photos: where they are stored, how long signed links to them work.
    #[command(flatten)]
    pub photos: PhotoConfig,
    /// Push notifications: provider and delivery tuning.
    #[command(flatten)]
    pub push: crate::push::PushConfig,
    /// Access tokens and live connections: how long they last.
    #[command(flatten)]
    pub sessions: SessionConfig,
}

/// Where problem photos are stored (a local directory, or an S3 bucket), and how long
/// signed links to them work.
#[derive(Debug, Clone, Args)]
pub struct PhotoConfig {
    /// Directory where problem photos are stored (created if missing), unless
    /// `BEATLINE_PHOTO_S3_BUCKET` is set. When unset (only possible when embedding the
    /// server), photos are kept in memory.
    #[arg(long, env = "BEATLINE_PHOTO_DIR", default_value = "photos")]
    pub photo_dir: Option<std::path::PathBuf>,
    /// Store photos in this S3 bucket (AWS S3, or an S3-compatible store such as MinIO,
    /// Cloudflare R2 or Ceph with `BEATLINE_PHOTO_S3_ENDPOINT`) instead of
    /// `BEATLINE_PHOTO_DIR`. Credentials come from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), or else from the machine's role
    /// (EKS web identity, ECS task role, EC2 instance profile).
    #[arg(long, env = "BEATLINE_PHOTO_S3_BUCKET")]
    pub photo_s3_bucket: Option<String>,
    /// Base URL of an S3-compatible store, e.g. `https://ACCOUNT.r2.cloudflarestorage.com`
    /// (default: AWS S3 in `BEATLINE_PHOTO_S3_REGION`). Plain `http` is accepted only for
    /// a loopback address. The apps fetch signed photo URLs from it, so it must be
    /// reachable from phones.
    #[arg(long, env = "BEATLINE_PHOTO_S3_ENDPOINT")]
    pub photo_s3_endpoint: Option<String>,
    /// Region of the bucket (`auto` for Cloudflare R2).
    #[arg(long, env = "BEATLINE_PHOTO_S3_REGION", default_value = "us-east-1")]
    pub photo_s3_region: String,
    /// Folder of the bucket under which photos are stored, e.g. `beatline/prod` (default:
    /// the bucket's root).
    #[arg(long, env = "BEATLINE_PHOTO_S3_PREFIX")]
    pub photo_s3_prefix: Option<String>,
    /// How the bucket is addressed: `path` (`ENDPOINT/BUCKET/KEY`, what most
    /// S3-compatible stores expect) or `virtual-hosted` (`BUCKET.ENDPOINT/KEY`; give the
    /// endpoint with the bucket in its host name).
    #[arg(long, env = "BEATLINE_PHOTO_S3_ADDRESSING", value_enum, default_value_t = S3Addressing::Path)]
    pub photo_s3_addressing: S3Addressing,
    /// Access key id for the bucket (prefer the environment variable: a flag shows in
    /// the process list).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub photo_s3_access_key_id: Option<String>,
    /// Secret access key for the bucket (prefer the environment variable). Never logged.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true, value_parser = Secret::credential)]
    pub photo_s3_secret_access_key: Option<Secret>,
    /// Session token of temporary credentials (prefer the environment variable). Never
    /// logged.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true, value_parser = Secret::credential)]
    pub photo_s3_session_token: Option<Secret>,
    /// Seconds a signed photo URL (`Photo.signedUrl`) works, from when the API hands it
    /// out; at most 7 days (S3's limit).
    #[arg(
        long,
        env = "BEATLINE_PHOTO_URL_TTL_SECS",
        default_value_t = graphql_schema::domain::photos::SIGNED_URL_TTL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=604_800)
    )]
    pub photo_url_ttl_secs: u64,
}

impl Default for PhotoConfig {
    /// Photos in memory (the embedded set-up; the command line's default is the
    /// `photos` directory), signed URLs working 10 minutes.
    fn default() -> Self {
        Self {
            photo_dir: None,
            photo_s3_bucket: None,
            photo_s3_endpoint: None,
            photo_s3_region: "us-east-1".to_owned(),
            photo_s3_prefix: None,
            photo_s3_addressing: S3Addressing::Path,
            photo_s3_access_key_id: None,
            photo_s3_secret_access_key: None,
            photo_s3_session_token: None,
            photo_url_ttl_secs: graphql_schema::domain::photos::SIGNED_URL_TTL.as_secs(),
        }
    }
}

impl PhotoConfig {
    /// Photos kept in a local directory.
    pub fn local_dir(dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            photo_dir: Some(dir.into()),
            ..Self::default()
        }
    }

    /// How long a signed photo URL works.
    pub fn url_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.photo_url_ttl_secs)
    }
}

/// How an S3 bucket is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum S3Addressing {
    /// `https://ENDPOINT/BUCKET/KEY`.
    Path,
    /// `https://BUCKET.ENDPOINT/KEY`.
    VirtualHosted,
}

/// How long access tokens and live (WebSocket) connections last.
#[derive(Debug, Clone, Copy, Args)]
pub struct SessionConfig {
    /// Seconds an access token lives. A WebSocket opened with it is closed (4401) when
    /// it expires.
    #[arg(
        long,
        env = "BEATLINE_ACCESS_TOKEN_TTL_SECS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub access_token_ttl_secs: u64,
    /// Milliseconds a new WebSocket may take to send `connection_init` before it is
    /// closed (4408, as graphql-transport-ws asks).
    #[arg(
        long,
        env = "BEATLINE_WS_INIT_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub ws_init_timeout_ms: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            ws_init_timeout_ms: 10_000,
        }
    }
}

impl SessionConfig {
    /// How long an access token lives.
    pub fn access_token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.access_token_ttl_secs).unwrap_or(i64::MAX))
    }

    /// How long a new WebSocket may take to send `connection_init`.
    pub fn ws_init_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ws_init_timeout_ms)
    }
}

/// A secret value that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Secret {
    /// A credential of any length (access keys of S3-compatible stores can be short),
    /// but not empty.
    pub fn credential(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            Err("the credential is empty".to_owned())
        } else {
            Ok(Self(s.to_owned()))
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() < 32 {
            Err("the secret must be at least 32 bytes long".to_owned())
        } else {
            Ok(Self(s.to_owned()))
        }
    }
}

impl ServeConfig {
    /// Whether GraphiQL is served.
    pub fn graphiql_enabled(&self) -> bool {
        self.graphiql
            .unwrap_or(self.profile == Profile::Development)
    }

    /// Whether introspection is allowed.
    pub fn introspection_enabled(&self) -> bool {
        self.introspection
            .unwrap_or(self.profile == Profile::Development)
    }
}

/// A deployment profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Local use: GraphiQL and introspection on.
    Development,
    /// Public service: GraphiQL and introspection off.
    Production,
}

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Refuses `BEATLINE_*` variables the server does not know.
pub fn check_environment() -> anyhow::Result<()> {
    let unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("BEATLINE_") && !KNOWN_ENV.contains(&k.as_str()))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "unknown setting(s) {}: the known ones are {}",
            unknown.join(", "),
            KNOWN_ENV.join(", ")
        )
    }
}

/// The database URL with any password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://beatline.db"), "sqlite://beatline.db");
    }
}
