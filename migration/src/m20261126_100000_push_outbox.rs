//! Push notifications: deferred fan-outs and the indexes the push worker and the inbox
//! filter on.
//!
//! A notice for many people (a meeting announced to a whole beat) is written as one
//! `notification_fanouts` row inside the transaction of the change; the push worker
//! expands it into inbox notifications and push deliveries in chunks, moving `cursor`
//! forward in the same transaction as each chunk, so an expansion that is interrupted
//! resumes where it stopped and never writes a notification twice.

use sea_orm_migration::{prelude::*, schema::*};

/// Length of the string columns holding enumerations.
const ENUM_LEN: u32 = 24;

/// The push-outbox migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    table: &'static str,
    column: &'static str,
    target: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(target, "id")
        .on_delete(on_delete)
        .to_owned()
}

async fn create_index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index
        .name(format!("idx_{table}_{}", columns.join("_")))
        .table(table);
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index).await
}

async fn drop_index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    manager
        .drop_index(
            Index::drop()
                .name(format!("idx_{table}_{}", columns.join("_")))
                .table(table)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // notification_fanouts: a notice waiting to be expanded by the push worker.
        manager
            .create_table(
                Table::create()
                    .table("notification_fanouts")
                    .col(pk_uuid("id"))
                    .col(string("kind"))
                    .col(json_binary("params"))
                    .col(uuid_null("actor_id"))
                    .col(uuid_null("problem_id"))
                    .col(uuid_null("meeting_id"))
                    .col(string_len("audience", ENUM_LEN))
                    .col(uuid_null("audience_id"))
                    .col(json_binary("recipients"))
                    .col(uuid_null("cursor"))
                    .col(integer("expanded").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("done_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "notification_fanouts",
                        "actor_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "notification_fanouts",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "notification_fanouts",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "notification_fanouts", &["actor_id"]).await?;
        create_index(manager, "notification_fanouts", &["problem_id"]).await?;
        create_index(manager, "notification_fanouts", &["meeting_id"]).await?;
        create_index(
            manager,
            "notification_fanouts",
            &["done_at", "next_attempt_at"],
        )
        .await?;
        // The unread badge counts a user's unread notifications.
        create_index(manager, "notifications", &["user_id", "read_at"]).await?;
        // The reminder job looks for meetings starting within a day, not yet reminded.
        create_index(manager, "meetings", &["reminder_sent_at", "starts_at"]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_index(manager, "meetings", &["reminder_sent_at", "starts_at"]).await?;
        drop_index(manager, "notifications", &["user_id", "read_at"]).await?;
        manager
            .drop_table(Table::drop().table("notification_fanouts").to_owned())
            .await
    }
}
