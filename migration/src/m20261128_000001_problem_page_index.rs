//! The open problems of a beat, newest first, from the index alone.
//!
//! The lists take one ordered branch per status (`beat_id = ? AND status = ? ORDER BY
//! created_at DESC, id DESC LIMIT n`). `(beat_id, status, created_at, due_at,
//! category_id)` could not give that order, because `id` was missing after
//! `created_at`. So SQLite walked `(beat_id, created_at, id)` instead and read the
//! table row of every problem of the beat to test its status until it had a page: at
//! a million problems, about 2,000 row reads for a page of 50 open problems.
//!
//! `(beat_id, status, created_at, id, due_at, category_id)` replaces it. It gives the
//! order, and it holds what the policy tests (the category), so each branch reads
//! only index entries; the dashboard's counts by status, age and overdue still come
//! from it alone.

use sea_orm_migration::prelude::*;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "problems";

const ADDED: (&str, &[&str]) = (
    "idx_problems_beat_status_created_id_due_category",
    &[
        "beat_id",
        "status",
        "created_at",
        "id",
        "due_at",
        "category_id",
    ],
);

const REPLACED: (&str, &[&str]) = (
    "idx_problems_beat_status_created_due_category",
    &["beat_id", "status", "created_at", "due_at", "category_id"],
);

async fn create(
    manager: &SchemaManager<'_>,
    (name, columns): (&str, &[&str]),
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(TABLE);
    for column in columns {
        index.col(Alias::new(*column));
    }
    manager.create_index(index).await
}

async fn drop(manager: &SchemaManager<'_>, (name, _): (&str, &[&str])) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(TABLE).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, ADDED).await?;
        drop(manager, REPLACED).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, REPLACED).await?;
        drop(manager, ADDED).await
    }
}
