//! Connecting to the database: SQLite (WAL mode, busy timeout, foreign keys on) or
//! PostgreSQL, with every statement counted and timed for `/metrics`.

use std::time::Duration;

use anyhow::Context as _;
use migration::MigratorTrait as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait as _, Database, DatabaseConnection};

use crate::config::{CommonConfig, redact_url};
use crate::metrics::Metrics;

/// Opens the connection pool; fails with one clear sentence when the URL is wrong or
/// the database is unreachable.
pub async fn connect(
    config: &CommonConfig,
    metrics: Option<Metrics>,
) -> anyhow::Result<DatabaseConnection> {
    let url = &config.database_url;
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        anyhow::bail!(
            "BEATLINE_DATABASE_URL {:?} is not supported: use sqlite://FILE or postgres://USER@HOST/DB",
            redact_url(url)
        );
    }
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(config.db_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        // A SQLite connection reads the planner statistics when it loads the schema,
        // so connections are renewed every half hour to pick up those that
        // `refresh_statistics` gathers (sqlx's default, stated here on purpose).
        .max_lifetime(Duration::from_secs(30 * 60))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Read the file through a shared memory map instead of a `pread` per
                // page, and keep more pages per connection: at a million problems
                // the dashboard spent a third of its time copying pages.
                .pragma("mmap_size", "1073741824")
                .pragma("cache_size", "-32768")
        });
    let mut db = Database::connect(options)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redact_url(url)))?;
    if let Some(metrics) = metrics {
        db.set_metric_callback(move |info| metrics.observe_statement(info.elapsed, info.failed));
    }
    Ok(db)
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("cannot apply the database migrations")
}

/// Keeps SQLite's query-planner statistics current (`PRAGMA optimize`, which runs
/// `ANALYZE` only on tables whose statistics are stale, with a row limit so it stays
/// quick). Without statistics SQLite may pick an index that reads every row of a
/// million-row table. PostgreSQL's autovacuum does this on its own. Failures are
/// logged: stale statistics slow queries down, they do not break them.
pub async fn refresh_statistics(db: &DatabaseConnection) {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return;
    }
    // One call, so both run on the same connection (the limit is per connection).
    if let Err(error) = db
        .execute_unprepared("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")
        .await
    {
        tracing::warn!(%error, "cannot refresh the SQLite planner statistics");
    }
}
