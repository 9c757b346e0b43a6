//! Initial schema: every table of `docs/data-model.md`.
//!
//! Foreign keys are declared inline in `CREATE TABLE` because SQLite cannot add
//! them later. Every foreign-key column leads some index (primary key, unique
//! constraint or plain index), so joins and `ON DELETE` checks never scan.

use sea_orm_migration::{prelude::*, schema::*};

/// Length of the string columns holding enumerations.
const ENUM_LEN: u32 = 24;

/// Tables created by this migration, parents before children.
pub const TABLES: &[&str] = &[
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
    "refresh_tokens",
    "idempotency_keys",
    "audit_log",
];

/// The initial migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// An inline foreign key `table.column → target.id`, named `fk_<table>_<column>`.
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

/// An inline unique constraint, named `uq_<table>_<columns>`.
fn unique(table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("uq_{table}_{}", columns.join("_")))
        .unique();
    for column in columns {
        index.col(*column);
    }
    index
}

/// Creates the plain index `idx_<table>_<columns>`.
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // precincts: A police precinct, led by captains.
        manager
            .create_table(
                Table::create()
                    .table("precincts")
                    .col(pk_uuid("id"))
                    .col(string("code").unique_key())
                    .col(string("name"))
                    .col(text_null("boundary"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        // beats: A beat: the smallest patrol area.
        manager
            .create_table(
                Table::create()
                    .table("beats")
                    .col(pk_uuid("id"))
                    .col(uuid("precinct_id"))
                    .col(string("code").unique_key())
                    .col(string("name"))
                    .col(text("boundary"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "beats",
                        "precinct_id",
                        "precincts",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "beats", &["precinct_id"]).await?;

        // neighborhoods: A neighbourhood on the community map.
        manager
            .create_table(
                Table::create()
                    .table("neighborhoods")
                    .col(pk_uuid("id"))
                    .col(string("name").unique_key())
                    .col(text_null("boundary"))
                    .col(integer("population").default(0))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        // neighborhood_beats: Which beats overlap a neighbourhood.
        manager
            .create_table(
                Table::create()
                    .table("neighborhood_beats")
                    .col(uuid("neighborhood_id"))
                    .col(uuid("beat_id"))
                    .primary_key(Index::create().col("neighborhood_id").col("beat_id"))
                    .foreign_key(&mut fk(
                        "neighborhood_beats",
                        "neighborhood_id",
                        "neighborhoods",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "neighborhood_beats",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "neighborhood_beats", &["beat_id"]).await?;

        // users: A user account (resident, officer, captain, partner member or admin).
        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(pk_uuid("id"))
                    .col(string_len("role", ENUM_LEN))
                    .col(string("display_name"))
                    .col(string_null("email").unique_key())
                    .col(string_null("phone"))
                    .col(string_null("password_hash"))
                    .col(string("locale"))
                    .col(string("time_zone"))
                    .col(uuid_null("home_neighborhood_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk(
                        "users",
                        "home_neighborhood_id",
                        "neighborhoods",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "users", &["home_neighborhood_id"]).await?;

        // officer_beats: Assignment of an officer to a beat.
        manager
            .create_table(
                Table::create()
                    .table("officer_beats")
                    .col(uuid("officer_id"))
                    .col(uuid("beat_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("officer_id").col("beat_id"))
                    .foreign_key(&mut fk(
                        "officer_beats",
                        "officer_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "officer_beats",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "officer_beats", &["beat_id"]).await?;

        // captain_precincts: Assignment of a captain to a precinct.
        manager
            .create_table(
                Table::create()
                    .table("captain_precincts")
                    .col(uuid("captain_id"))
                    .col(uuid("precinct_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("captain_id").col("precinct_id"))
                    .foreign_key(&mut fk(
                        "captain_precincts",
                        "captain_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "captain_precincts",
                        "precinct_id",
                        "precincts",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "captain_precincts", &["precinct_id"]).await?;

        // partner_organizations: A partner organisation (city service, NGO, ...).
        manager
            .create_table(
                Table::create()
                    .table("partner_organizations")
                    .col(pk_uuid("id"))
                    .col(string("name").unique_key())
                    .col(text("description"))
                    .col(string_null("contact_email"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        // partner_members: Membership of a user in a partner organisation.
        manager
            .create_table(
                Table::create()
                    .table("partner_members")
                    .col(uuid("partner_id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("partner_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "partner_members",
                        "partner_id",
                        "partner_organizations",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "partner_members",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "partner_members", &["user_id"]).await?;

        // categories: A problem category (an Open311 service).
        manager
            .create_table(
                Table::create()
                    .table("categories")
                    .col(pk_uuid("id"))
                    .col(string("service_code").unique_key())
                    .col(string("name"))
                    .col(text("description"))
                    .col(string_len("route", ENUM_LEN))
                    .col(uuid_null("partner_id"))
                    .col(integer("sla_hours"))
                    .col(boolean("sensitive").default(false))
                    .col(integer("duplicate_radius_m").default(150))
                    .col(boolean("requires_behavior_description").default(false))
                    .col(boolean("active").default(true))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "categories",
                        "partner_id",
                        "partner_organizations",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "categories", &["partner_id"]).await?;

        // problem_reference_counters: Per-year counter issuing problem references such as `BL-2026-000123`.
        manager
            .create_table(
                Table::create()
                    .table("problem_reference_counters")
                    .col(integer("year").primary_key())
                    .col(big_integer("last_value").default(0))
                    .to_owned(),
            )
            .await?;

        // problems: A reported neighbourhood problem.
        manager
            .create_table(
                Table::create()
                    .table("problems")
                    .col(pk_uuid("id"))
                    .col(string("reference").unique_key())
                    .col(uuid("category_id"))
                    .col(string("title"))
                    .col(text("description"))
                    .col(double("lat"))
                    .col(double("lon"))
                    .col(string_null("address"))
                    .col(uuid("beat_id"))
                    .col(uuid_null("neighborhood_id"))
                    .col(string_len("status", ENUM_LEN))
                    .col(string_len("priority", ENUM_LEN))
                    .col(uuid_null("reporter_id"))
                    .col(boolean("anonymous").default(false))
                    .col(uuid_null("assigned_officer_id"))
                    .col(uuid_null("assigned_partner_id"))
                    .col(timestamp_with_time_zone_null("due_at"))
                    .col(uuid_null("duplicate_of_id"))
                    .col(integer("support_count").default(0))
                    .col(integer("version").default(1))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("acknowledged_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .foreign_key(&mut fk(
                        "problems",
                        "category_id",
                        "categories",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "problems",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "problems",
                        "neighborhood_id",
                        "neighborhoods",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "problems",
                        "reporter_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "problems",
                        "assigned_officer_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "problems",
                        "assigned_partner_id",
                        "partner_organizations",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "problems",
                        "duplicate_of_id",
                        "problems",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "problems", &["beat_id", "status", "created_at"]).await?;
        create_index(manager, "problems", &["assigned_officer_id", "status"]).await?;
        create_index(manager, "problems", &["assigned_partner_id", "status"]).await?;
        create_index(manager, "problems", &["category_id", "lat", "lon"]).await?;
        create_index(manager, "problems", &["updated_at"]).await?;
        create_index(manager, "problems", &["neighborhood_id", "status"]).await?;
        create_index(manager, "problems", &["created_at"]).await?;
        create_index(manager, "problems", &["reporter_id"]).await?;
        create_index(manager, "problems", &["duplicate_of_id"]).await?;

        // problem_events: An entry in a problem's append-only timeline.
        manager
            .create_table(
                Table::create()
                    .table("problem_events")
                    .col(pk_uuid("id"))
                    .col(uuid("problem_id"))
                    .col(uuid_null("actor_id"))
                    .col(string_len("kind", ENUM_LEN))
                    .col(string_len_null("from_status", ENUM_LEN))
                    .col(string_len_null("to_status", ENUM_LEN))
                    .col(text_null("body"))
                    .col(string_len("visibility", ENUM_LEN))
                    .col(json_binary_null("data"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "problem_events",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "problem_events",
                        "actor_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "problem_events", &["problem_id", "created_at"]).await?;
        create_index(manager, "problem_events", &["actor_id"]).await?;

        // problem_followers: A user following a problem.
        manager
            .create_table(
                Table::create()
                    .table("problem_followers")
                    .col(uuid("problem_id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("problem_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "problem_followers",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "problem_followers",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "problem_followers", &["user_id"]).await?;

        // problem_supporters: A user supporting ("me too") a problem.
        manager
            .create_table(
                Table::create()
                    .table("problem_supporters")
                    .col(uuid("problem_id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("problem_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "problem_supporters",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "problem_supporters",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "problem_supporters", &["user_id"]).await?;

        // problem_ratings: Feedback on how a problem was resolved.
        manager
            .create_table(
                Table::create()
                    .table("problem_ratings")
                    .col(pk_uuid("problem_id"))
                    .col(uuid("user_id"))
                    .col(integer("rating"))
                    .col(text_null("comment"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "problem_ratings",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "problem_ratings",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "problem_ratings", &["user_id"]).await?;

        // photos: An uploaded photo (metadata stripped before storage).
        manager
            .create_table(
                Table::create()
                    .table("photos")
                    .col(pk_uuid("id"))
                    .col(uuid_null("problem_id"))
                    .col(uuid_null("uploader_id"))
                    .col(string("storage_key"))
                    .col(string("thumbnail_key"))
                    .col(string("content_type"))
                    .col(integer("byte_size"))
                    .col(integer("width"))
                    .col(integer("height"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "photos",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "photos",
                        "uploader_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "photos", &["problem_id"]).await?;
        create_index(manager, "photos", &["uploader_id"]).await?;

        // beat_followers: A resident following a beat.
        manager
            .create_table(
                Table::create()
                    .table("beat_followers")
                    .col(uuid("beat_id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("beat_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "beat_followers",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "beat_followers",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "beat_followers", &["user_id"]).await?;

        // meeting_series: A recurring beat meeting (RFC 5545 recurrence).
        manager
            .create_table(
                Table::create()
                    .table("meeting_series")
                    .col(pk_uuid("id"))
                    .col(uuid("beat_id"))
                    .col(string("title"))
                    .col(string("rrule"))
                    .col(timestamp_with_time_zone("first_starts_at"))
                    .col(integer("duration_minutes"))
                    .col(string("time_zone"))
                    .col(string_null("place_name"))
                    .col(string_null("place_address"))
                    .col(double_null("lat"))
                    .col(double_null("lon"))
                    .col(string_null("online_url"))
                    .col(json_binary("languages"))
                    .col(text_null("accessibility_notes"))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "meeting_series",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "meeting_series",
                        "created_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "meeting_series", &["beat_id"]).await?;
        create_index(manager, "meeting_series", &["created_by"]).await?;

        // meetings: A meeting occurrence, standalone or part of a series.
        manager
            .create_table(
                Table::create()
                    .table("meetings")
                    .col(pk_uuid("id"))
                    .col(uuid_null("series_id"))
                    .col(uuid("beat_id"))
                    .col(string("title"))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(string("time_zone"))
                    .col(string_null("place_name"))
                    .col(string_null("place_address"))
                    .col(double_null("lat"))
                    .col(double_null("lon"))
                    .col(string_null("online_url"))
                    .col(json_binary("languages"))
                    .col(text_null("accessibility_notes"))
                    .col(string_len("status", ENUM_LEN))
                    .col(timestamp_with_time_zone_null("recurrence_id"))
                    .col(boolean("is_exception").default(false))
                    .col(integer_null("attendance_residents"))
                    .col(integer_null("attendance_officers"))
                    .col(timestamp_with_time_zone_null("reminder_sent_at"))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .index(&mut unique("meetings", &["series_id", "recurrence_id"]))
                    .foreign_key(&mut fk(
                        "meetings",
                        "series_id",
                        "meeting_series",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "meetings",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "meetings",
                        "created_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "meetings", &["beat_id", "starts_at"]).await?;
        create_index(manager, "meetings", &["created_by"]).await?;

        // meeting_rsvps: A user's answer to a meeting invitation.
        manager
            .create_table(
                Table::create()
                    .table("meeting_rsvps")
                    .col(uuid("meeting_id"))
                    .col(uuid("user_id"))
                    .col(string_len("response", ENUM_LEN))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("meeting_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "meeting_rsvps",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "meeting_rsvps",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "meeting_rsvps", &["user_id"]).await?;

        // meeting_minutes: Published minutes of a meeting.
        manager
            .create_table(
                Table::create()
                    .table("meeting_minutes")
                    .col(pk_uuid("meeting_id"))
                    .col(text("body"))
                    .col(json_binary("decisions"))
                    .col(uuid_null("published_by"))
                    .col(timestamp_with_time_zone("published_at"))
                    .foreign_key(&mut fk(
                        "meeting_minutes",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "meeting_minutes",
                        "published_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "meeting_minutes", &["published_by"]).await?;

        // sara_records: A SARA problem-solving record for a beat.
        manager
            .create_table(
                Table::create()
                    .table("sara_records")
                    .col(pk_uuid("id"))
                    .col(uuid("beat_id"))
                    .col(uuid_null("meeting_id"))
                    .col(string("title"))
                    .col(string_len("stage", ENUM_LEN))
                    .col(json_binary("scanning"))
                    .col(json_binary("analysis"))
                    .col(json_binary("response"))
                    .col(json_binary("assessment"))
                    .col(string_len_null("outcome", ENUM_LEN))
                    .col(integer("version").default(1))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "sara_records",
                        "beat_id",
                        "beats",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "sara_records",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "sara_records",
                        "created_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "sara_records", &["beat_id"]).await?;
        create_index(manager, "sara_records", &["meeting_id"]).await?;
        create_index(manager, "sara_records", &["created_by"]).await?;

        // action_items: An action agreed on; open actions carry onto later agendas.
        manager
            .create_table(
                Table::create()
                    .table("action_items")
                    .col(pk_uuid("id"))
                    .col(uuid_null("meeting_id"))
                    .col(uuid_null("problem_id"))
                    .col(uuid_null("sara_record_id"))
                    .col(string("title"))
                    .col(text_null("description"))
                    .col(string_len("owner_kind", ENUM_LEN))
                    .col(uuid_null("owner_user_id"))
                    .col(uuid_null("owner_partner_id"))
                    .col(date_null("due_on"))
                    .col(string_len("status", ENUM_LEN))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .foreign_key(&mut fk(
                        "action_items",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "action_items",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "action_items",
                        "sara_record_id",
                        "sara_records",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "action_items",
                        "owner_user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "action_items",
                        "owner_partner_id",
                        "partner_organizations",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "action_items",
                        "created_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "action_items", &["meeting_id"]).await?;
        create_index(manager, "action_items", &["problem_id"]).await?;
        create_index(manager, "action_items", &["sara_record_id"]).await?;
        create_index(manager, "action_items", &["owner_user_id"]).await?;
        create_index(manager, "action_items", &["owner_partner_id"]).await?;
        create_index(manager, "action_items", &["created_by"]).await?;

        // agenda_items: An item on a meeting agenda.
        manager
            .create_table(
                Table::create()
                    .table("agenda_items")
                    .col(pk_uuid("id"))
                    .col(uuid("meeting_id"))
                    .col(string_len("section", ENUM_LEN))
                    .col(string_len("kind", ENUM_LEN))
                    .col(uuid_null("problem_id"))
                    .col(uuid_null("action_item_id"))
                    .col(string("title"))
                    .col(text_null("notes"))
                    .col(integer("position"))
                    .col(uuid_null("proposed_by"))
                    .col(integer("vote_count").default(0))
                    .col(boolean("removed").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "agenda_items",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "agenda_items",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "agenda_items",
                        "action_item_id",
                        "action_items",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "agenda_items",
                        "proposed_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "agenda_items", &["meeting_id"]).await?;
        create_index(manager, "agenda_items", &["problem_id"]).await?;
        create_index(manager, "agenda_items", &["action_item_id"]).await?;
        create_index(manager, "agenda_items", &["proposed_by"]).await?;

        // agenda_votes: A resident's vote for an agenda item (one per meeting).
        manager
            .create_table(
                Table::create()
                    .table("agenda_votes")
                    .col(uuid("meeting_id"))
                    .col(uuid("user_id"))
                    .col(uuid("agenda_item_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("meeting_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "agenda_votes",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "agenda_votes",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "agenda_votes",
                        "agenda_item_id",
                        "agenda_items",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "agenda_votes", &["user_id"]).await?;
        create_index(manager, "agenda_votes", &["agenda_item_id"]).await?;

        // sara_problems: A problem linked to a SARA record.
        manager
            .create_table(
                Table::create()
                    .table("sara_problems")
                    .col(uuid("sara_record_id"))
                    .col(uuid("problem_id"))
                    .primary_key(Index::create().col("sara_record_id").col("problem_id"))
                    .foreign_key(&mut fk(
                        "sara_problems",
                        "sara_record_id",
                        "sara_records",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "sara_problems",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "sara_problems", &["problem_id"]).await?;

        // sara_stage_changes: Who moved a SARA record to another stage, and when.
        manager
            .create_table(
                Table::create()
                    .table("sara_stage_changes")
                    .col(pk_uuid("id"))
                    .col(uuid("sara_record_id"))
                    .col(string_len_null("from_stage", ENUM_LEN))
                    .col(string_len("to_stage", ENUM_LEN))
                    .col(uuid_null("actor_id"))
                    .col(text_null("note"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "sara_stage_changes",
                        "sara_record_id",
                        "sara_records",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "sara_stage_changes",
                        "actor_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "sara_stage_changes", &["sara_record_id"]).await?;
        create_index(manager, "sara_stage_changes", &["actor_id"]).await?;

        // devices: A push-notification device (FCM registration token).
        manager
            .create_table(
                Table::create()
                    .table("devices")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string("token").unique_key())
                    .col(string_len("platform", ENUM_LEN))
                    .col(string("locale"))
                    .col(string_null("app_version"))
                    .col(timestamp_with_time_zone_null("disabled_at"))
                    .col(string_null("disabled_reason"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "devices",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "devices", &["user_id"]).await?;

        // notifications: A notification in a user's inbox.
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string("kind"))
                    .col(string("title"))
                    .col(text("body"))
                    .col(json_binary("data"))
                    .col(uuid_null("problem_id"))
                    .col(uuid_null("meeting_id"))
                    .col(string_null("collapse_key"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "notifications",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "notifications",
                        "problem_id",
                        "problems",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "notifications",
                        "meeting_id",
                        "meetings",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "notifications", &["user_id", "created_at"]).await?;
        create_index(manager, "notifications", &["problem_id"]).await?;
        create_index(manager, "notifications", &["meeting_id"]).await?;

        // push_deliveries: Outbox entry delivering a notification to a device.
        manager
            .create_table(
                Table::create()
                    .table("push_deliveries")
                    .col(pk_uuid("id"))
                    .col(uuid("notification_id"))
                    .col(uuid("device_id"))
                    .col(string_len("status", ENUM_LEN))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .index(&mut unique(
                        "push_deliveries",
                        &["notification_id", "device_id"],
                    ))
                    .foreign_key(&mut fk(
                        "push_deliveries",
                        "notification_id",
                        "notifications",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "push_deliveries",
                        "device_id",
                        "devices",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "push_deliveries", &["status", "next_attempt_at"]).await?;
        create_index(manager, "push_deliveries", &["device_id"]).await?;

        // notification_preferences: A user's notification preferences.
        manager
            .create_table(
                Table::create()
                    .table("notification_preferences")
                    .col(pk_uuid("user_id"))
                    .col(json_binary("disabled_kinds"))
                    .col(string_null("quiet_hours_start"))
                    .col(string_null("quiet_hours_end"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "notification_preferences",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // refresh_tokens: A refresh token (rotated, with reuse detection per family).
        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(uuid("family_id"))
                    .col(string("token_hash").unique_key())
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("rotated_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk(
                        "refresh_tokens",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "refresh_tokens", &["family_id"]).await?;
        create_index(manager, "refresh_tokens", &["user_id"]).await?;

        // idempotency_keys: A stored idempotency key with its response.
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(pk_uuid("id"))
                    .col(string("scope"))
                    .col(string("operation"))
                    .col(string("key"))
                    .col(string("request_hash"))
                    .col(json_binary_null("response"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .index(&mut unique(
                        "idempotency_keys",
                        &["scope", "operation", "key"],
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "idempotency_keys", &["expires_at"]).await?;

        // audit_log: An append-only audit log entry.
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(pk_uuid("id"))
                    .col(uuid_null("actor_id"))
                    .col(string("action"))
                    .col(string("subject_type"))
                    .col(string_null("subject_id"))
                    .col(json_binary("details"))
                    .col(string_null("client_addr"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "audit_log",
                        "actor_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "audit_log", &["subject_type", "subject_id"]).await?;
        create_index(manager, "audit_log", &["created_at"]).await?;
        create_index(manager, "audit_log", &["actor_id"]).await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
