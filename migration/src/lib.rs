//! Beatline's database migrations, for SQLite and PostgreSQL.
//!
//! Run them with [`Migrator`], e.g. `Migrator::up(&db, None).await`.

pub use sea_orm_migration::prelude::*;

pub mod m20261126_000001_initial;
pub mod m20261126_000010_problem_list_indexes;
pub mod m20261126_000010_problem_work;
pub mod m20261126_000040_live_analytics_indexes;
pub mod m20261126_100000_push_outbox;
pub mod m20261126_100001_meeting_indexes;
pub mod m20261126_200000_dashboard_indexes;
pub mod m20261127_000001_meeting_version;
pub mod m20261128_000001_problem_page_index;

/// Applies Beatline's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial::Migration),
            Box::new(m20261126_000010_problem_list_indexes::Migration),
            Box::new(m20261126_000010_problem_work::Migration),
            Box::new(m20261126_000040_live_analytics_indexes::Migration),
            Box::new(m20261126_100000_push_outbox::Migration),
            Box::new(m20261126_100001_meeting_indexes::Migration),
            Box::new(m20261126_200000_dashboard_indexes::Migration),
            Box::new(m20261127_000001_meeting_version::Migration),
            Box::new(m20261128_000001_problem_page_index::Migration),
        ]
    }
}
