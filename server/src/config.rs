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
    Serve(ServeConfig),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo city (precincts, beats, neighbourhoods, users, problems, meetings)
    /// into an empty database, and print the demo logins.
    SeedDemo,
    /// Print the GraphQL schema (SDL) to standard output.
    PrintSchema,
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
