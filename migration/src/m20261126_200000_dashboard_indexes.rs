//! Covering indexes for the captain's dashboard at a million problems.
//!
//! - The open problems of a precinct's beats by status, age and overdue are counted
//!   from `(beat_id, status, created_at, due_at, category_id)` alone (the category
//!   decides whether police may see a problem). It replaces `(beat_id, status,
//!   created_at)`, which it extends, so the beat lists keep their index.
//! - The most supported open problems come from `(beat_id, status, support_count,
//!   created_at, category_id)`, which replaces `(beat_id, status, support_count)`.
//! - The acknowledgement and resolution times of a window's problems are read from
//!   `(beat_id, created_at, category_id, assigned_officer_id, acknowledged_at,
//!   resolved_at)` alone. It replaces `(beat_id, created_at)`, which `(beat_id,
//!   created_at, id)` already covers for the lists.
//!
//! Both engines then answer from the index without reading the table's rows (SQLite's
//! covering index; PostgreSQL's index-only scan once the table is vacuumed).

use sea_orm_migration::prelude::*;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "problems";

/// Indexes added: name and columns.
const ADDED: &[(&str, &[&str])] = &[
    (
        "idx_problems_beat_status_created_due_category",
        &["beat_id", "status", "created_at", "due_at", "category_id"],
    ),
    (
        "idx_problems_beat_status_support_created_category",
        &[
            "beat_id",
            "status",
            "support_count",
            "created_at",
            "category_id",
        ],
    ),
    (
        "idx_problems_beat_created_work_times",
        &[
            "beat_id",
            "created_at",
            "category_id",
            "assigned_officer_id",
            "acknowledged_at",
            "resolved_at",
        ],
    ),
];

/// Indexes they replace: name and columns.
const REPLACED: &[(&str, &[&str])] = &[
    (
        "idx_problems_beat_id_status_created_at",
        &["beat_id", "status", "created_at"],
    ),
    (
        "idx_problems_beat_id_created_at",
        &["beat_id", "created_at"],
    ),
];

async fn create(
    manager: &SchemaManager<'_>,
    name: &str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(TABLE);
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index).await
}

async fn drop(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(TABLE).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in ADDED {
            create(manager, name, columns).await?;
        }
        for (name, _) in REPLACED {
            drop(manager, name).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in REPLACED {
            create(manager, name, columns).await?;
        }
        for (name, _) in ADDED {
            drop(manager, name).await?;
        }
        Ok(())
    }
}
