//! Indexes for the captain's dashboard and the open-data export: problems of a beat
//! in a time window whatever their status, the open problems of a beat by support,
//! and ratings by when they were given.

use sea_orm_migration::prelude::*;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The indexes: name, table, columns.
const INDEXES: &[(&str, &str, &[&str])] = &[
    (
        "idx_problems_beat_id_created_at",
        "problems",
        &["beat_id", "created_at"],
    ),
    (
        "idx_problems_beat_id_status_support_count",
        "problems",
        &["beat_id", "status", "support_count"],
    ),
    (
        "idx_problem_ratings_created_at",
        "problem_ratings",
        &["created_at"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(*table);
            for column in *columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES.iter().rev() {
            manager
                .drop_index(Index::drop().name(*name).table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
