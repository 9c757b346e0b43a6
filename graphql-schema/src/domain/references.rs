//! Public problem references, `BL-<year>-<number>`, numbered from 1 each year.
//!
//! On PostgreSQL each year has its own sequence, `problem_reference_<year>`, created
//! the first time a server of the database reports a problem that year (under an
//! advisory lock, so that replicas racing at midnight create it once). `nextval` takes
//! no row lock, so concurrent reports do not queue on a counter until they commit: with
//! a counter row, every report held that row's lock through its commit's WAL flush,
//! which capped reporting at about 190 per second on the benchmark machine. Like any
//! sequence it is not transactional: a report that fails after taking a number leaves a
//! gap. References are unique and increasing, not gapless.
//!
//! On SQLite, where one writer runs at a time anyway, the per-year row of
//! `problem_reference_counters` is incremented inside the report's transaction.
//! PostgreSQL databases that issued references from that table before the sequences
//! existed continue after its last number.

use std::sync::atomic::{AtomicI32, Ordering};

use entity::problem_reference_counter;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, Set, Statement,
    TransactionTrait as _,
};

use crate::error::{AppError, AppResult};

/// Issues reference numbers; one per server, shared by its requests.
#[derive(Debug, Default)]
pub struct References {
    /// The year whose sequence this server knows to exist (0: none yet).
    ready_year: AtomicI32,
}

/// Arbitrary key of the advisory lock taken while a year's sequence is created.
const CREATE_LOCK_KEY: i64 = 0x4245_4154_5245_4631;

fn sequence_name(year: i32) -> AppResult<String> {
    if !(1..=9999).contains(&year) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "no reference sequence for the year {year}"
        )));
    }
    Ok(format!("problem_reference_{year}"))
}

impl References {
    /// Makes sure the next number of `year` can be taken inside a transaction. Call it
    /// before the transaction starts: creating the sequence is a statement of its own.
    pub async fn prepare(&self, db: &DatabaseConnection, year: i32) -> AppResult<()> {
        if db.get_database_backend() != DatabaseBackend::Postgres
            || self.ready_year.load(Ordering::Acquire) == year
        {
            return Ok(());
        }
        let name = sequence_name(year)?;
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [CREATE_LOCK_KEY.into()],
        ))
        .await?;
        let issued: Option<i64> = problem_reference_counter::Entity::find_by_id(year)
            .one(&txn)
            .await?
            .map(|row| row.last_value);
        let start = issued.unwrap_or(0) + 1;
        // DDL takes no bind parameters; the name and start are built from integers.
        txn.execute_unprepared(&format!(
            "CREATE SEQUENCE IF NOT EXISTS {name} AS bigint START WITH {start}"
        ))
        .await?;
        txn.commit().await?;
        self.ready_year.store(year, Ordering::Release);
        Ok(())
    }

    /// The next reference number of `year`, taken inside the report's transaction
    /// (after [`References::prepare`] for that year).
    pub async fn next(&self, txn: &impl ConnectionTrait, year: i32) -> AppResult<i64> {
        match txn.get_database_backend() {
            DatabaseBackend::Postgres => nextval(txn, &sequence_name(year)?).await,
            _ => {
                let counter = counter_upsert(year, 1).exec_with_returning(txn).await?;
                Ok(counter.last_value)
            }
        }
    }

    /// Reserves `count` consecutive numbers of `year` at once (for bulk loads) and
    /// returns the first.
    pub async fn reserve(&self, db: &DatabaseConnection, year: i32, count: i64) -> AppResult<i64> {
        if count < 1 {
            return Err(AppError::bad_input("reserve at least one reference"));
        }
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                self.prepare(db, year).await?;
                let name = sequence_name(year)?;
                // ALTER SEQUENCE locks out concurrent nextval until commit, so the block
                // is contiguous. The first number comes from a plain nextval, as a
                // sequence never used returns its start and not start + increment.
                let txn = db.begin().await?;
                let set_increment = |by: i64| format!("ALTER SEQUENCE {name} INCREMENT BY {by}");
                txn.execute_unprepared(&set_increment(1)).await?;
                let first = nextval(&txn, &name).await?;
                if count > 1 {
                    txn.execute_unprepared(&set_increment(count - 1)).await?;
                    nextval(&txn, &name).await?;
                    txn.execute_unprepared(&set_increment(1)).await?;
                }
                txn.commit().await?;
                Ok(first)
            }
            _ => {
                let counter = counter_upsert(year, count).exec_with_returning(db).await?;
                Ok(counter.last_value - count + 1)
            }
        }
    }
}

/// The next value of the PostgreSQL sequence `name`.
async fn nextval(conn: &impl ConnectionTrait, name: &str) -> AppResult<i64> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT nextval($1::regclass) AS n",
            [name.into()],
        ))
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("nextval returned no row")))?;
    Ok(row.try_get::<i64>("", "n")?)
}

fn counter_upsert(
    year: i32,
    added: i64,
) -> sea_orm::Insert<problem_reference_counter::ActiveModel> {
    problem_reference_counter::Entity::insert(problem_reference_counter::ActiveModel {
        year: Set(year),
        last_value: Set(added),
    })
    .on_conflict(
        OnConflict::column(problem_reference_counter::Column::Year)
            .value(
                problem_reference_counter::Column::LastValue,
                Expr::col((
                    problem_reference_counter::Entity,
                    problem_reference_counter::Column::LastValue,
                ))
                .add(added),
            )
            .to_owned(),
    )
}

/// The public reference of the `number`th problem of `year`, e.g. `BL-2026-000123`.
pub fn format(year: i32, number: i64) -> String {
    format!("BL-{year}-{number:06}")
}
