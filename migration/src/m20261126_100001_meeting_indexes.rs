//! Indexes for the hot filters of beat meetings and their action items:
//!
//! - `meetings(starts_at, id)`: `meetings(filter: {upcoming: true})` across all beats
//!   and neighbourhoods, in keyset order (the beat's own list uses
//!   `(beat_id, starts_at)`).
//! - `action_items(status, meeting_id)`: open actions carried onto agendas.
//! - `agenda_items(meeting_id, section, position)`: an agenda in CAPS order.

use sea_orm_migration::prelude::*;

/// The indexes, as (table, columns).
const INDEXES: &[(&str, &[&str])] = &[
    ("meetings", &["starts_at", "id"]),
    ("action_items", &["status", "meeting_id"]),
    ("agenda_items", &["meeting_id", "section", "position"]),
];

fn name(table: &str, columns: &[&str]) -> String {
    format!("idx_{table}_{}", columns.join("_"))
}

/// Adds the meeting indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name(table, columns)).table(*table);
            for column in *columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(name(table, columns))
                        .table(*table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
