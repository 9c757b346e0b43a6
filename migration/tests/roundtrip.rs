//! Applies, rolls back and re-applies the migrations on SQLite and, when
//! `TEST_DATABASE_URL` is set, on a fresh PostgreSQL database; then checks
//! that every foreign key is backed by an index whose first column is the
//! foreign-key column.

use std::collections::BTreeSet;
use std::fmt;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use migration::{Migrator, MigratorTrait};

/// Every table of `docs/data-model.md`.
const EXPECTED_TABLES: &[&str] = &[
    "precincts",
    "beats",
    "neighborhoods",
    "neighborhood_beats",
    "users",
    "officer_beats",
    "captain_precincts",
    "partner_organizations",
    "partner_members",
    "categories",
    "problem_reference_counters",
    "problems",
    "problem_events",
    "problem_followers",
    "problem_supporters",
    "problem_ratings",
    "photos",
    "beat_followers",
    "meeting_series",
    "meetings",
    "meeting_rsvps",
    "meeting_minutes",
    "sara_records",
    "action_items",
    "agenda_items",
    "agenda_votes",
    "sara_problems",
    "sara_stage_changes",
    "devices",
    "notifications",
    "push_deliveries",
    "notification_preferences",
    "notification_fanouts",
    "refresh_tokens",
    "idempotency_keys",
    "audit_log",
];

/// Every foreign key of `docs/data-model.md`: (table, column, referenced table).
const EXPECTED_FKS: &[(&str, &str, &str)] = &[
    ("beats", "precinct_id", "precincts"),
    ("neighborhood_beats", "neighborhood_id", "neighborhoods"),
    ("neighborhood_beats", "beat_id", "beats"),
    ("users", "home_neighborhood_id", "neighborhoods"),
    ("officer_beats", "officer_id", "users"),
    ("officer_beats", "beat_id", "beats"),
    ("captain_precincts", "captain_id", "users"),
    ("captain_precincts", "precinct_id", "precincts"),
    ("partner_members", "partner_id", "partner_organizations"),
    ("partner_members", "user_id", "users"),
    ("categories", "partner_id", "partner_organizations"),
    ("problems", "category_id", "categories"),
    ("problems", "beat_id", "beats"),
    ("problems", "neighborhood_id", "neighborhoods"),
    ("problems", "reporter_id", "users"),
    ("problems", "assigned_officer_id", "users"),
    ("problems", "assigned_partner_id", "partner_organizations"),
    ("problems", "duplicate_of_id", "problems"),
    ("problem_events", "problem_id", "problems"),
    ("problem_events", "actor_id", "users"),
    ("problem_followers", "problem_id", "problems"),
    ("problem_followers", "user_id", "users"),
    ("problem_supporters", "problem_id", "problems"),
    ("problem_supporters", "user_id", "users"),
    ("problem_ratings", "problem_id", "problems"),
    ("problem_ratings", "user_id", "users"),
    ("photos", "problem_id", "problems"),
    ("photos", "uploader_id", "users"),
    ("beat_followers", "beat_id", "beats"),
    ("beat_followers", "user_id", "users"),
    ("meeting_series", "beat_id", "beats"),
    ("meeting_series", "created_by", "users"),
    ("meetings", "series_id", "meeting_series"),
    ("meetings", "beat_id", "beats"),
    ("meetings", "created_by", "users"),
    ("meeting_rsvps", "meeting_id", "meetings"),
    ("meeting_rsvps", "user_id", "users"),
    ("meeting_minutes", "meeting_id", "meetings"),
    ("meeting_minutes", "published_by", "users"),
    ("sara_records", "beat_id", "beats"),
    ("sara_records", "meeting_id", "meetings"),
    ("sara_records", "created_by", "users"),
    ("action_items", "meeting_id", "meetings"),
    ("action_items", "problem_id", "problems"),
    ("action_items", "sara_record_id", "sara_records"),
    ("action_items", "owner_user_id", "users"),
    ("action_items", "owner_partner_id", "partner_organizations"),
    ("action_items", "created_by", "users"),
    ("agenda_items", "meeting_id", "meetings"),
    ("agenda_items", "problem_id", "problems"),
    ("agenda_items", "action_item_id", "action_items"),
    ("agenda_items", "proposed_by", "users"),
    ("agenda_votes", "meeting_id", "meetings"),
    ("agenda_votes", "user_id", "users"),
    ("agenda_votes", "agenda_item_id", "agenda_items"),
    ("sara_problems", "sara_record_id", "sara_records"),
    ("sara_problems", "problem_id", "problems"),
    ("sara_stage_changes", "sara_record_id", "sara_records"),
    ("sara_stage_changes", "actor_id", "users"),
    ("devices", "user_id", "users"),
    ("notifications", "user_id", "users"),
    ("notifications", "problem_id", "problems"),
    ("notifications", "meeting_id", "meetings"),
    ("push_deliveries", "notification_id", "notifications"),
    ("push_deliveries", "device_id", "devices"),
    ("notification_preferences", "user_id", "users"),
    ("refresh_tokens", "user_id", "users"),
    ("notification_fanouts", "actor_id", "users"),
    ("notification_fanouts", "problem_id", "problems"),
    ("notification_fanouts", "meeting_id", "meetings"),
    ("audit_log", "actor_id", "users"),
];

/// A test failure whose `Debug` output is the plain, readable message.
struct Failure(String);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<DbErr> for Failure {
    fn from(err: DbErr) -> Self {
        Failure(format!("database error: {err}"))
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into()))
}

async fn query_strings(
    db: &DatabaseConnection,
    sql: &str,
    columns: &[&str],
) -> Result<Vec<Vec<String>>, Failure> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(columns.len());
        for column in columns {
            values.push(row.try_get::<String>("", column)?);
        }
        out.push(values);
    }
    Ok(out)
}

/// Names of the user tables currently in the database.
async fn tables(db: &DatabaseConnection) -> Result<BTreeSet<String>, Failure> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        DbBackend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        other => return fail(format!("unsupported backend {other:?}")),
    };
    Ok(query_strings(db, sql, &["name"])
        .await?
        .into_iter()
        .flatten()
        .collect())
}

async fn expect_all_tables(db: &DatabaseConnection, step: &str) -> Result<(), Failure> {
    let mut actual = tables(db).await?;
    actual.remove("seaql_migrations");
    let expected: BTreeSet<String> = EXPECTED_TABLES.iter().map(|t| t.to_string()).collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return fail(format!(
            "{:?} after {step}: missing tables {missing:?}, unexpected tables {extra:?}",
            db.get_database_backend()
        ));
    }
    Ok(())
}

async fn expect_no_tables(db: &DatabaseConnection, step: &str) -> Result<(), Failure> {
    let actual = tables(db).await?;
    let left: Vec<_> = EXPECTED_TABLES
        .iter()
        .filter(|t| actual.contains(**t))
        .collect();
    if !left.is_empty() {
        return fail(format!(
            "{:?} after {step}: tables still present {left:?}",
            db.get_database_backend()
        ));
    }
    Ok(())
}

/// Every foreign key in the database as (table, column, referenced table).
async fn foreign_keys(
    db: &DatabaseConnection,
) -> Result<BTreeSet<(String, String, String)>, Failure> {
    let sql = match db.get_database_backend() {
        // The table-valued forms of `PRAGMA foreign_key_list(t)`.
        DbBackend::Sqlite => {
            "SELECT m.name AS tbl, f.\"from\" AS col, f.\"table\" AS target \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table'"
        }
        DbBackend::Postgres => {
            "SELECT cl.relname::text AS tbl, a.attname::text AS col, rt.relname::text AS target \
             FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_class cl ON cl.oid = c.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
             JOIN pg_catalog.pg_class rt ON rt.oid = c.confrelid \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND n.nspname = current_schema()"
        }
        other => return fail(format!("unsupported backend {other:?}")),
    };
    let mut out = BTreeSet::new();
    for row in query_strings(db, sql, &["tbl", "col", "target"]).await? {
        if let [table, column, target] = row.as_slice() {
            out.insert((table.clone(), column.clone(), target.clone()));
        }
    }
    Ok(out)
}

/// First columns of every index (including primary keys and unique constraints) on `table`.
async fn leading_index_columns(
    db: &DatabaseConnection,
    table: &str,
) -> Result<BTreeSet<String>, Failure> {
    let sql = match db.get_database_backend() {
        // The table-valued forms of `PRAGMA index_list(t)` and `PRAGMA index_info(idx)`.
        DbBackend::Sqlite => format!(
            "SELECT ii.name AS col FROM pragma_index_list('{table}') il, \
             pragma_index_info(il.name) ii WHERE ii.seqno = 0 AND ii.name IS NOT NULL"
        ),
        DbBackend::Postgres => format!(
            "SELECT a.attname::text AS col \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class cl ON cl.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE cl.relname = '{table}' AND n.nspname = current_schema()"
        ),
        other => return fail(format!("unsupported backend {other:?}")),
    };
    Ok(query_strings(db, &sql, &["col"])
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// Checks that the foreign keys are the expected ones and that each leads an index.
async fn check_foreign_key_indexes(db: &DatabaseConnection) -> Result<(), Failure> {
    let backend = db.get_database_backend();
    let actual = foreign_keys(db).await?;
    let expected: BTreeSet<(String, String, String)> = EXPECTED_FKS
        .iter()
        .map(|(t, c, r)| (t.to_string(), c.to_string(), r.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (table, column, target) in expected.difference(&actual) {
        problems.push(format!("missing foreign key {table}.{column} -> {target}"));
    }
    for (table, column, target) in actual.difference(&expected) {
        problems.push(format!(
            "unexpected foreign key {table}.{column} -> {target}"
        ));
    }
    for (table, column, target) in &actual {
        if !leading_index_columns(db, table).await?.contains(column) {
            problems.push(format!(
                "foreign key {table}.{column} -> {target} has no index whose first column is \
                 `{column}` (table `{table}`, column `{column}`)"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        fail(format!("{backend:?}:\n  {}", problems.join("\n  ")))
    }
}

/// up, down (all), up again, checking the tables each time, then the FK indexes.
async fn roundtrip(db: &DatabaseConnection) -> Result<(), Failure> {
    Migrator::up(db, None).await?;
    expect_all_tables(db, "first up").await?;
    check_foreign_key_indexes(db).await?;

    Migrator::down(db, None).await?;
    expect_no_tables(db, "down").await?;

    Migrator::up(db, None).await?;
    expect_all_tables(db, "second up").await?;
    check_foreign_key_indexes(db).await?;
    Ok(())
}

async fn sqlite_run(url: &str) -> Result<(), Failure> {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
    let db = Database::connect(options).await?;
    let on = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_keys",
        ))
        .await?
        .map(|row| row.try_get_by_index::<i32>(0))
        .transpose()?;
    if on != Some(1) {
        return fail(format!("SQLite foreign keys are not enabled: {on:?}"));
    }
    let result = roundtrip(&db).await;
    db.close().await?;
    result
}

#[tokio::test]
async fn sqlite_roundtrip() -> Result<(), Failure> {
    let path = std::env::temp_dir().join(format!(
        "beatline_mig_{}.sqlite",
        uuid::Uuid::now_v7().simple()
    ));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let outcome = AssertUnwindSafe(sqlite_run(&url)).catch_unwind().await;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    match outcome {
        Ok(result) => result,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// `url` with its database (path) replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> Result<String, Failure> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let Some(scheme_end) = base.find("://").map(|i| i + 3) else {
        return fail(format!("TEST_DATABASE_URL is not a URL: {url}"));
    };
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| i + scheme_end);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

async fn postgres_run(url: &str) -> Result<(), Failure> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false);
    let db = Database::connect(options).await?;
    let result = roundtrip(&db).await;
    db.close().await?;
    result
}

#[tokio::test]
async fn postgres_roundtrip() -> Result<(), Failure> {
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        admin_url.is_some() || !ci,
        "CI is \"true\" but TEST_DATABASE_URL is unset: the PostgreSQL migration test must run \
         in CI (set TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)"
    );
    let Some(admin_url) = admin_url else {
        eprintln!("TEST_DATABASE_URL is unset: skipping the PostgreSQL migration test");
        return Ok(());
    };

    let mut options = ConnectOptions::new(admin_url.as_str());
    options.sqlx_logging(false).max_connections(1);
    let admin = Database::connect(options).await?;
    let name = format!("beatline_mig_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;

    let outcome = match with_database(&admin_url, &name) {
        Ok(url) => AssertUnwindSafe(postgres_run(&url)).catch_unwind().await,
        Err(err) => Ok(Err(err)),
    };
    let dropped = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    admin.close().await?;

    match outcome {
        Ok(result) => result?,
        Err(payload) => std::panic::resume_unwind(payload),
    }
    dropped?;
    Ok(())
}
