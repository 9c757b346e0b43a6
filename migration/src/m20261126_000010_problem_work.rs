//! Indexes for the problem workflow's lists: the MOST_SUPPORTED and DUE_SOONEST sorts.
//! (A beat's problems newest first use `idx_problems_beat_created_id` from
//! `m20261126_000010_problem_list_indexes`.)

use sea_orm_migration::prelude::*;

/// The problem-workflow indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, columns) of each index on `problems`.
const INDEXES: &[(&str, &[&str])] = &[
    ("idx_problems_support_count", &["support_count"]),
    ("idx_problems_due_at", &["due_at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table("problems");
            for column in *columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(*name).table("problems").to_owned())
                .await?;
        }
        Ok(())
    }
}
