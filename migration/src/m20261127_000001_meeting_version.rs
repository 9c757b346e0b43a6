//! A version on meetings, for optimistic concurrency: `updateMeeting` takes the version
//! the client saw, and a change made meanwhile by someone else is a CONFLICT instead of
//! being overwritten. Existing meetings start at version 1.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `meetings.version`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("meetings")
                    .add_column(integer("version").default(1))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("meetings")
                    .drop_column("version")
                    .to_owned(),
            )
            .await
    }
}
