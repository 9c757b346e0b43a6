//! Working problems: reporting, status changes, comments, assignment, following,
//! support, duplicates and resolution feedback.
//!
//! Every change runs in one transaction that also appends the timeline event and
//! writes the notifications (the outbox); the domain events are published after the
//! commit. Creating changes go through [`idempotency`], so a retried request never
//! creates anything twice.

use std::collections::HashMap;

use chrono::{DateTime, Datelike as _, Duration, Utc};
use entity::enums::{CategoryRoute, ProblemEventKind, ProblemStatus, UserRole, Visibility};
use entity::{
    beat, category, notification, officer_beat, partner_member, partner_organization, problem,
    problem_event, problem_follower, problem_rating, problem_supporter, user,
};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel as _, Order, PaginatorTrait as _, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::policy::{self, ProblemPlace};
use crate::auth::{Principal, Viewer};
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::geo_index::{self, GeoIndex};
use crate::domain::idempotency::{self, Claim, IdempotencyKey, IdempotentRequest};
use crate::domain::inputs::{LatLon, PageSize};
use crate::domain::lifecycle::{self, OPEN_STATUSES, status_list, status_name};
use crate::domain::notify::{self, Notice, NoticeKind};
use crate::domain::now;
use crate::domain::photos::{self, PhotoStore, PreparedPhoto};
use crate::domain::problems::{Near, distance_m};
use crate::domain::references::{self, References};
use crate::error::{AppError, AppResult};

/// Shortest description accepted for categories that must describe behaviour.
pub const MIN_BEHAVIOUR_DESCRIPTION_CHARS: usize = 40;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// Longest comment or note.
pub const MAX_COMMENT_CHARS: usize = 2_000;

/// A problem with what the policy needs to judge access to it.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The problem.
    pub problem: problem::Model,
    /// Its category.
    pub category: category::Model,
    /// Its beat and precinct.
    pub place: ProblemPlace,
}

impl Subject {
    /// Whether the problem is of a sensitive (public-health, crisis) category.
    pub fn sensitive(&self) -> bool {
        self.category.sensitive
    }
}

/// Loads a problem the viewer may see, with its category and place; NOT_FOUND when it
/// does not exist or is hidden from the viewer.
pub async fn subject(db: &impl ConnectionTrait, viewer: &Viewer, id: Uuid) -> AppResult<Subject> {
    let not_found = || AppError::not_found("problem", id);
    let problem = problem::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let category = category::Entity::find_by_id(problem.category_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    if !policy::can_see_problem(viewer, &problem, category.sensitive) {
        return Err(not_found());
    }
    let precinct_id = beat::Entity::find_by_id(problem.beat_id)
        .select_only()
        .column(beat::Column::PrecinctId)
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    Ok(Subject {
        place: ProblemPlace {
            beat_id: problem.beat_id,
            precinct_id,
        },
        problem,
        category,
    })
}

/// Who hears of a public change: the reporter and the followers.
async fn audience(db: &impl ConnectionTrait, p: &problem::Model) -> AppResult<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = problem_follower::Entity::find()
        .select_only()
        .column(problem_follower::Column::UserId)
        .filter(problem_follower::Column::ProblemId.eq(p.id))
        .into_tuple()
        .all(db)
        .await?;
    ids.extend(p.reporter_id);
    Ok(ids)
}

/// Publishes what a committed change announces.
fn announce(
    events: &dyn EventBus,
    p: &problem::Model,
    created: bool,
    notifications: &[notification::Model],
) {
    events.publish(DomainEvent::ProblemChanged {
        problem_id: p.id,
        beat_id: p.beat_id,
        created,
    });
    for n in notifications {
        events.publish(DomainEvent::NotificationCreated {
            user_id: n.user_id,
            notification_id: n.id,
        });
    }
}

fn event(
    problem_id: Uuid,
    actor: Option<Uuid>,
    kind: ProblemEventKind,
    at: DateTime<Utc>,
) -> problem_event::Model {
    problem_event::Model {
        id: Uuid::now_v7(),
        problem_id,
        actor_id: actor,
        kind,
        from_status: None,
        to_status: None,
        body: None,
        visibility: Visibility::Public,
        data: None,
        created_at: at,
    }
}

fn text(raw: &str, what: &str, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(AppError::bad_input(format!(
            "the {what} is empty: write a few words"
        )));
    }
    let n = t.chars().count();
    if n > max {
        return Err(AppError::bad_input(format!(
            "the {what} is {n} characters long; shorten it to at most {max}"
        )));
    }
    Ok(t.to_owned())
}

fn optional_text(raw: Option<&str>, what: &str, max: usize) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => text(t, what, max).map(Some),
    }
}

// ---------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------

/// What a resident reports.
#[derive(Debug, Clone, Serialize)]
pub struct NewReport {
    /// Open311 service code of the category.
    pub category_code: String,
    /// Short title; the category's name when omitted.
    pub title: Option<String>,
    /// What is wrong.
    pub description: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Street address.
    pub address: Option<String>,
    /// Hide the reporter from everyone else, staff included.
    pub anonymous: bool,
}

/// What is stored for a replayed `reportProblem`.
#[derive(Debug, Serialize, Deserialize)]
struct ReportReceipt {
    problem_id: Uuid,
}

#[derive(Serialize)]
struct ReportFingerprint<'a> {
    report: &'a NewReport,
    photos: Vec<&'a str>,
}

/// Everything a report needs from the server.
pub struct ReportDeps<'a> {
    /// The connection pool.
    pub db: &'a DatabaseConnection,
    /// Beat and neighbourhood boundaries.
    pub geo: &'a GeoIndex,
    /// Where changes are announced.
    pub events: &'a dyn EventBus,
    /// Where photos are kept.
    pub photos: &'a dyn PhotoStore,
    /// Issues public references.
    pub references: &'a References,
}

/// Reports a problem: validates it, locates its beat and neighbourhood, routes it, sets
/// its due date from the category's SLA, gives it a reference, writes the first
/// timeline event, stores its photos, and makes the reporter follow it. A retry with
/// the same idempotency key returns the same problem.
pub async fn report(
    deps: ReportDeps<'_>,
    viewer: &Viewer,
    key: IdempotencyKey,
    input: NewReport,
    photos: Vec<PreparedPhoto>,
) -> AppResult<problem::Model> {
    let reporter = viewer.principal()?.clone();
    let db = deps.db;
    let fingerprint = ReportFingerprint {
        report: &input,
        photos: photos.iter().map(|p| p.sha256.as_str()).collect(),
    };
    let request = IdempotentRequest::new(reporter.id, "reportProblem", key, &fingerprint)?;

    // Validation reads only; the transaction starts with the key.
    let at = LatLon::parse(input.lat, input.lon)?;
    let cat = category::Entity::find()
        .filter(category::Column::ServiceCode.eq(input.category_code.trim()))
        .one(db)
        .await?
        .filter(|c| c.active)
        .ok_or_else(|| {
            AppError::bad_input(format!(
                "there is no category {:?}: use a `serviceCode` from the `categories` query",
                input.category_code
            ))
        })?;
    let description = text(&input.description, "description", MAX_DESCRIPTION_CHARS)?;
    if cat.requires_behavior_description
        && description.chars().count() < MIN_BEHAVIOUR_DESCRIPTION_CHARS
    {
        return Err(AppError::bad_input(format!(
            "describe what the person is doing, in at least {MIN_BEHAVIOUR_DESCRIPTION_CHARS} \
             characters: the behaviour that worries you (for example \"trying car door \
             handles along the street\"), where and when; do not describe what they look like"
        )));
    }
    let title = optional_text(input.title.as_deref(), "title", 120)?.unwrap_or(cat.name.clone());
    let address = optional_text(input.address.as_deref(), "address", 200)?;
    let (beat_id, neighborhood_id) = geo_index::locate(deps.geo, db, at).await?;
    let Some(beat_id) = beat_id else {
        return Err(AppError::bad_input(
            "this location is outside the service area: pick a point inside the city's beats",
        ));
    };

    let created_at = now();
    let year = created_at.year();
    deps.references.prepare(db, year).await?;
    let txn = match idempotency::claim::<ReportReceipt>(db, &request).await? {
        Claim::Replay(receipt) => {
            return problem::Entity::find_by_id(receipt.problem_id)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("problem", receipt.problem_id));
        }
        Claim::Fresh(txn) => txn,
    };
    let reference_number = deps.references.next(&txn, year).await?;
    let assigned_partner_id = match cat.route {
        CategoryRoute::Partner => cat.partner_id,
        CategoryRoute::Police => None,
    };
    let row = problem::Model {
        id: Uuid::now_v7(),
        reference: references::format(year, reference_number),
        category_id: cat.id,
        title,
        description,
        lat: input.lat,
        lon: input.lon,
        address,
        beat_id,
        neighborhood_id,
        status: ProblemStatus::New,
        priority: entity::enums::Priority::Normal,
        reporter_id: Some(reporter.id),
        anonymous: input.anonymous,
        assigned_officer_id: None,
        assigned_partner_id,
        due_at: Some(created_at + Duration::hours(i64::from(cat.sla_hours))),
        duplicate_of_id: None,
        support_count: 0,
        version: 1,
        created_at,
        updated_at: created_at,
        acknowledged_at: None,
        resolved_at: None,
        closed_at: None,
    };
    let row = row.into_active_model().insert(&txn).await?;
    let mut first = event(
        row.id,
        Some(reporter.id),
        ProblemEventKind::Created,
        created_at,
    );
    first.to_status = Some(ProblemStatus::New);
    let mut events = vec![first.into_active_model()];
    for photo in &photos {
        let mut e = event(
            row.id,
            Some(reporter.id),
            ProblemEventKind::PhotoAdded,
            created_at,
        );
        e.data = Some(serde_json::json!({ "photoId": photo.id }));
        events.push(e.into_active_model());
    }
    problem_event::Entity::insert_many(events)
        .exec(&txn)
        .await?;
    problem_follower::Entity::insert(
        problem_follower::Model {
            problem_id: row.id,
            user_id: reporter.id,
            created_at,
        }
        .into_active_model(),
    )
    .exec_without_returning(&txn)
    .await?;
    photos::attach(deps.photos, &txn, row.id, reporter.id, &photos).await?;
    // From here on the photos are stored: if the transaction does not commit, their
    // files are deleted again.
    let finish = async {
        let mut notifications = Vec::new();
        if let Some(partner) = assigned_partner_id {
            let members = partner_members(&txn, partner).await?;
            notifications = notify::enqueue(
                &txn,
                Notice {
                    kind: NoticeKind::ProblemAssigned,
                    recipients: members,
                    actor: Some(reporter.id),
                    problem_id: Some(row.id),
                    meeting_id: None,
                    params: serde_json::json!({ "reference": row.reference, "title": row.title }),
                },
            )
            .await?;
        }
        idempotency::complete(txn, &request, &ReportReceipt { problem_id: row.id }).await?;
        Ok::<_, AppError>(notifications)
    };
    let notifications = match finish.await {
        Ok(n) => n,
        Err(e) => {
            photos::discard(deps.photos, &photos).await;
            return Err(e);
        }
    };
    announce(deps.events, &row, true, &notifications);
    Ok(row)
}

async fn partner_members(db: &impl ConnectionTrait, partner: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(partner_member::Entity::find()
        .select_only()
        .column(partner_member::Column::UserId)
        .filter(partner_member::Column::PartnerId.eq(partner))
        .into_tuple()
        .all(db)
        .await?)
}

// ---------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------

/// A status change.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// The problem.
    pub problem_id: Uuid,
    /// The new status.
    pub to: ProblemStatus,
    /// The version the client last saw.
    pub expected_version: i32,
    /// A note for the timeline.
    pub note: Option<String>,
    /// Whether the note is for staff only.
    pub internal: bool,
}

fn stale(current: i32, expected: i32) -> AppError {
    AppError::Conflict {
        message: format!(
            "the problem changed since you loaded it (you sent version {expected}, it is now \
             at version {current}): reload it and try again"
        ),
        current_version: Some(current),
    }
}

/// Bumps the version of a problem from `expected`, or CONFLICT when someone else did
/// first. `changes` sets the other columns.
async fn bump_version(
    db: &impl ConnectionTrait,
    id: Uuid,
    expected: i32,
    at: DateTime<Utc>,
    changes: impl FnOnce(sea_orm::UpdateMany<problem::Entity>) -> sea_orm::UpdateMany<problem::Entity>,
) -> AppResult<problem::Model> {
    let update = problem::Entity::update_many()
        .col_expr(
            problem::Column::Version,
            Expr::col(problem::Column::Version).add(1),
        )
        .col_expr(problem::Column::UpdatedAt, Expr::value(at))
        .filter(problem::Column::Id.eq(id))
        .filter(problem::Column::Version.eq(expected));
    let done = changes(update).exec(db).await?;
    let row = problem::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("problem", id))?;
    if done.rows_affected == 0 {
        return Err(stale(row.version, expected));
    }
    Ok(row)
}

/// Changes a problem's status along the transition table. Staff who may work the
/// problem use the table; the reporter may only reopen a RESOLVED problem within 14
/// days. A stale `expected_version` is CONFLICT and changes nothing.
pub async fn update_status(
    db: &DatabaseConnection,
    events: &dyn EventBus,
    viewer: &Viewer,
    change: StatusChange,
) -> AppResult<problem::Model> {
    let actor = viewer.principal()?.clone();
    let s = subject(db, viewer, change.problem_id).await?;
    let p = &s.problem;
    let at = now();
    let staff = policy::can_work_problem(viewer, p, s.place, s.sensitive());
    let reopening = !staff && policy::can_reopen(viewer, p, at);
    if !staff && !reopening {
        if policy::require_reporter(viewer, p, "reopen this problem").is_ok() {
            return Err(AppError::Forbidden(format!(
                "you may only reopen your report while it is RESOLVED and within {} days of \
                 its resolution",
                policy::REOPEN_WINDOW_DAYS
            )));
        }
        policy::require_work_problem(viewer, p, s.place, s.sensitive())?;
    }
    if p.version != change.expected_version {
        return Err(stale(p.version, change.expected_version));
    }
    let allowed: &[ProblemStatus] = if staff {
        lifecycle::allowed_transitions(p.status)
    } else {
        &[lifecycle::REOPENED_STATUS]
    };
    if change.to == ProblemStatus::Duplicate && allowed.contains(&change.to) {
        return Err(AppError::bad_input(
            "to mark a problem a duplicate use `markDuplicate`, which also names the original",
        ));
    }
    if !allowed.contains(&change.to) {
        return Err(AppError::bad_input(format!(
            "a {} problem cannot become {}: it can become {}",
            status_name(p.status),
            status_name(change.to),
            status_list(allowed)
        )));
    }
    if change.internal && !staff {
        return Err(AppError::Forbidden(
            "your account may not write internal notes: only staff working the problem may".into(),
        ));
    }
    let note = optional_text(change.note.as_deref(), "note", MAX_COMMENT_CHARS)?;

    let txn = crate::domain::begin_write(db).await?;
    let to = change.to;
    let row = bump_version(&txn, p.id, change.expected_version, at, |u| {
        let mut u = u.col_expr(problem::Column::Status, Expr::value(to));
        match to {
            ProblemStatus::Acknowledged => {
                u = u.col_expr(problem::Column::AcknowledgedAt, Expr::value(at));
            }
            ProblemStatus::InProgress if p.acknowledged_at.is_none() => {
                u = u.col_expr(problem::Column::AcknowledgedAt, Expr::value(at));
            }
            ProblemStatus::Resolved => {
                u = u.col_expr(problem::Column::ResolvedAt, Expr::value(at));
            }
            ProblemStatus::Closed | ProblemStatus::NotActionable => {
                u = u.col_expr(problem::Column::ClosedAt, Expr::value(at));
            }
            _ => {}
        }
        u
    })
    .await?;
    let kind =
        if reopening || (p.status == ProblemStatus::Resolved && to == ProblemStatus::InProgress) {
            ProblemEventKind::Reopened
        } else {
            ProblemEventKind::StatusChanged
        };
    let mut e = event(p.id, Some(actor.id), kind, at);
    e.from_status = Some(p.status);
    e.to_status = Some(to);
    e.body = note.clone();
    // The change itself is public; an internal note makes the entry internal, so the
    // change is recorded twice: publicly without the note, internally with it.
    if change.internal && note.is_some() {
        let mut public = e.clone();
        public.body = None;
        e.id = Uuid::now_v7();
        e.visibility = Visibility::Internal;
        public.into_active_model().insert(&txn).await?;
    }
    e.into_active_model().insert(&txn).await?;
    let recipients = audience(&txn, &row).await?;
    let notifications = notify::enqueue(
        &txn,
        Notice {
            kind: NoticeKind::ProblemStatusChanged,
            recipients,
            actor: Some(actor.id),
            problem_id: Some(row.id),
            meeting_id: None,
            params: serde_json::json!({
                "reference": row.reference,
                "title": row.title,
                "status": status_name(to),
            }),
        },
    )
    .await?;
    txn.commit().await?;
    announce(events, &row, false, &notifications);
    Ok(row)
}

// ---------------------------------------------------------------------------------
// Comments
// ---------------------------------------------------------------------------------

/// A comment to add.
#[derive(Debug, Clone, Serialize)]
pub struct NewComment {
    /// The problem.
    pub problem_id: Uuid,
    /// The text.
    pub body: String,
    /// Staff only.
    pub internal: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct CommentReceipt {
    event_id: Uuid,
}

/// Comments on a problem. Anyone signed in who can see the problem may comment
/// publicly; internal comments are for staff working it. Public comments notify the
/// reporter and followers.
pub async fn comment(
    db: &DatabaseConnection,
    events: &dyn EventBus,
    viewer: &Viewer,
    key: IdempotencyKey,
    input: NewComment,
) -> AppResult<problem_event::Model> {
    let actor = viewer.principal()?.clone();
    let request = IdempotentRequest::new(actor.id, "commentOnProblem", key, &input)?;
    let s = subject(db, viewer, input.problem_id).await?;
    if input.internal && !policy::can_see_internal(viewer, &s.problem, s.place, s.sensitive()) {
        return Err(AppError::Forbidden(
            "your account may not comment internally on this problem: only staff working it may; \
             send `internal: false` for a public comment"
                .into(),
        ));
    }
    let body = text(&input.body, "comment", MAX_COMMENT_CHARS)?;
    let txn = match idempotency::claim::<CommentReceipt>(db, &request).await? {
        Claim::Replay(receipt) => {
            return problem_event::Entity::find_by_id(receipt.event_id)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("comment", receipt.event_id));
        }
        Claim::Fresh(txn) => txn,
    };
    let at = now();
    let mut e = event(s.problem.id, Some(actor.id), ProblemEventKind::Comment, at);
    e.body = Some(body.clone());
    if input.internal {
        e.visibility = Visibility::Internal;
    }
    let e = e.into_active_model().insert(&txn).await?;
    problem::Entity::update_many()
        .col_expr(problem::Column::UpdatedAt, Expr::value(at))
        .filter(problem::Column::Id.eq(s.problem.id))
        .exec(&txn)
        .await?;
    let mut notifications = Vec::new();
    if !input.internal {
        let recipients = audience(&txn, &s.problem).await?;
        notifications = notify::enqueue(
            &txn,
            Notice {
                kind: NoticeKind::ProblemComment,
                recipients,
                actor: Some(actor.id),
                problem_id: Some(s.problem.id),
                meeting_id: None,
                params: serde_json::json!({
                    "reference": s.problem.reference,
                    "title": s.problem.title,
                    "body": body,
                }),
            },
        )
        .await?;
    }
    idempotency::complete(txn, &request, &CommentReceipt { event_id: e.id }).await?;
    announce(events, &s.problem, false, &notifications);
    Ok(e)
}

// ---------------------------------------------------------------------------------
// Assignment
// ---------------------------------------------------------------------------------

/// Who a problem is assigned to.
#[derive(Debug, Clone, Copy)]
pub enum Assignee {
    /// An officer.
    Officer(Uuid),
    /// A partner organisation.
    Partner(Uuid),
}

/// Assigns a problem to an officer serving its beat (captains and admins: any beat of
/// its precinct) or to a partner organisation. Sensitive problems go only to partners.
pub async fn assign(
    db: &DatabaseConnection,
    events: &dyn EventBus,
    viewer: &Viewer,
    problem_id: Uuid,
    to: Assignee,
    expected_version: i32,
) -> AppResult<problem::Model> {
    let actor = viewer.principal()?.clone();
    let s = subject(db, viewer, problem_id).await?;
    policy::require_work_problem(viewer, &s.problem, s.place, s.sensitive())?;
    if s.problem.version != expected_version {
        return Err(stale(s.problem.version, expected_version));
    }
    if !lifecycle::is_open(s.problem.status) {
        return Err(AppError::bad_input(format!(
            "a {} problem cannot be assigned: only NEW, ACKNOWLEDGED or IN_PROGRESS ones can",
            status_name(s.problem.status)
        )));
    }
    let (recipients, body, data) = match to {
        Assignee::Officer(officer) => {
            if s.sensitive() {
                return Err(AppError::bad_input(
                    "this is a public-health problem: it can only be assigned to a partner \
                     organisation, never to police",
                ));
            }
            let user = user::Entity::find_by_id(officer)
                .one(db)
                .await?
                .filter(|u| u.deleted_at.is_none() && u.role == UserRole::Officer)
                .ok_or_else(|| {
                    AppError::bad_input(format!("{officer} is not an officer's account id"))
                })?;
            let mut beats =
                officer_beat::Entity::find().filter(officer_beat::Column::OfficerId.eq(user.id));
            beats = match policy::officer_pool(viewer) {
                policy::OfficerPool::Beat => {
                    beats.filter(officer_beat::Column::BeatId.eq(s.place.beat_id))
                }
                policy::OfficerPool::Precinct => beats.filter(
                    officer_beat::Column::BeatId.in_subquery(
                        Query::select()
                            .column(beat::Column::Id)
                            .from(beat::Entity)
                            .and_where(Expr::col(beat::Column::PrecinctId).eq(s.place.precinct_id))
                            .to_owned(),
                    ),
                ),
            };
            if beats.count(db).await? == 0 {
                return Err(AppError::bad_input(match policy::officer_pool(viewer) {
                    policy::OfficerPool::Beat => {
                        "that officer does not serve this problem's beat: pick an officer of \
                         the beat, or ask the precinct captain to reassign it"
                    }
                    policy::OfficerPool::Precinct => {
                        "that officer does not serve any beat of this problem's precinct"
                    }
                }));
            }
            (
                vec![user.id],
                "Assigned to an officer".to_owned(),
                serde_json::json!({ "officerId": user.id }),
            )
        }
        Assignee::Partner(partner) => {
            let org = partner_organization::Entity::find_by_id(partner)
                .one(db)
                .await?
                .ok_or_else(|| {
                    AppError::bad_input(format!("{partner} is not a partner organisation's id"))
                })?;
            (
                partner_members(db, org.id).await?,
                format!("Assigned to {}", org.name),
                serde_json::json!({ "partnerId": org.id }),
            )
        }
    };
    let at = now();
    let txn = crate::domain::begin_write(db).await?;
    let row = bump_version(&txn, problem_id, expected_version, at, |u| match to {
        Assignee::Officer(id) => u.col_expr(problem::Column::AssignedOfficerId, Expr::value(id)),
        Assignee::Partner(id) => u.col_expr(problem::Column::AssignedPartnerId, Expr::value(id)),
    })
    .await?;
    let mut e = event(problem_id, Some(actor.id), ProblemEventKind::Assigned, at);
    e.body = Some(body);
    e.data = Some(data);
    e.into_active_model().insert(&txn).await?;
    let notifications = notify::enqueue(
        &txn,
        Notice {
            kind: NoticeKind::ProblemAssigned,
            recipients,
            actor: Some(actor.id),
            problem_id: Some(row.id),
            meeting_id: None,
            params: serde_json::json!({ "reference": row.reference, "title": row.title }),
        },
    )
    .await?;
    txn.commit().await?;
    announce(events, &row, false, &notifications);
    Ok(row)
}

// ---------------------------------------------------------------------------------
// Following and support
// ---------------------------------------------------------------------------------

/// Follows (or, with `follow` false, unfollows) a problem the viewer can see. Repeating
/// it changes nothing.
pub async fn set_following(
    db: &DatabaseConnection,
    viewer: &Viewer,
    problem_id: Uuid,
    follow: bool,
) -> AppResult<problem::Model> {
    let me = viewer.principal()?.clone();
    let s = subject(db, viewer, problem_id).await?;
    if follow {
        problem_follower::Entity::insert(
            problem_follower::Model {
                problem_id,
                user_id: me.id,
                created_at: now(),
            }
            .into_active_model(),
        )
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    } else {
        problem_follower::Entity::delete_many()
            .filter(problem_follower::Column::ProblemId.eq(problem_id))
            .filter(problem_follower::Column::UserId.eq(me.id))
            .exec(db)
            .await?;
    }
    Ok(s.problem)
}

/// Says "me too": once per user, so repeating it changes nothing. The reporter cannot
/// support their own report.
pub async fn support(
    db: &DatabaseConnection,
    events: &dyn EventBus,
    viewer: &Viewer,
    problem_id: Uuid,
) -> AppResult<problem::Model> {
    let me = viewer.principal()?.clone();
    let s = subject(db, viewer, problem_id).await?;
    if s.problem.reporter_id == Some(me.id) {
        return Err(AppError::bad_input(
            "you reported this problem, so it already counts for you: support is for other \
             residents who have the same problem",
        ));
    }
    if !lifecycle::is_open(s.problem.status) {
        return Err(AppError::bad_input(format!(
            "this problem is {}: only open problems can be supported",
            status_name(s.problem.status)
        )));
    }
    let txn = crate::domain::begin_write(db).await?;
    let at = now();
    let inserted = problem_supporter::Entity::insert(
        problem_supporter::Model {
            problem_id,
            user_id: me.id,
            created_at: at,
        }
        .into_active_model(),
    )
    .on_conflict_do_nothing()
    .exec_without_returning(&txn)
    .await?;
    let inserted = matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    if inserted {
        problem::Entity::update_many()
            .col_expr(
                problem::Column::SupportCount,
                Expr::col(problem::Column::SupportCount).add(1),
            )
            .col_expr(problem::Column::UpdatedAt, Expr::value(at))
            .filter(problem::Column::Id.eq(problem_id))
            .exec(&txn)
            .await?;
    }
    let row = problem::Entity::find_by_id(problem_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("problem", problem_id))?;
    txn.commit().await?;
    if inserted {
        announce(events, &row, false, &[]);
    }
    Ok(row)
}

// ---------------------------------------------------------------------------------
// Duplicates
// ---------------------------------------------------------------------------------

/// Open problems of a category within its duplicate radius of a point, nearest first
/// (at most 20), for the app to show before a resident submits.
pub async fn similar(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    at: LatLon,
    category_code: &str,
) -> AppResult<Vec<problem::Model>> {
    let cat = category::Entity::find()
        .filter(category::Column::ServiceCode.eq(category_code.trim()))
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::bad_input(format!(
                "there is no category {category_code:?}: use a `serviceCode` from `categories`"
            ))
        })?;
    let radius = f64::from(Ord::max(cat.duplicate_radius_m, 1));
    let near = Near::parse(
        at.lat.degrees(),
        at.lon.degrees(),
        radius.min(Near::MAX_RADIUS_M),
    )?;
    let mut rows = problem::Entity::find()
        .filter(policy::visible_problems(viewer))
        .filter(problem::Column::CategoryId.eq(cat.id))
        .filter(problem::Column::Status.is_in(OPEN_STATUSES))
        .filter(near.condition())
        .limit(200)
        .all(db)
        .await?;
    let (lat, lon) = (at.lat.degrees(), at.lon.degrees());
    rows.sort_by(|a, b| {
        distance_m(lat, lon, a.lat, a.lon).total_cmp(&distance_m(lat, lon, b.lat, b.lon))
    });
    rows.truncate(20);
    Ok(rows)
}

/// Marks a problem a duplicate of an open original: its followers and supporters (and
/// its reporter, as a supporter) move to the original.
pub async fn mark_duplicate(
    db: &DatabaseConnection,
    events: &dyn EventBus,
    viewer: &Viewer,
    problem_id: Uuid,
    original_id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<(problem::Model, problem::Model)> {
    let actor = viewer.principal()?.clone();
    if problem_id == original_id {
        return Err(AppError::bad_input(
            "a problem cannot duplicate itself: pass the id of the earlier report as `duplicateOfId`",
        ));
    }
    let dup = subject(db, viewer, problem_id).await?;
    let original = subject(db, viewer, original_id).await?;
    if !policy::can_merge(
        viewer,
        &dup.problem,
        dup.place,
        dup.sensitive(),
        &original.problem,
        original.sensitive(),
    ) {
        policy::require_work_problem(viewer, &dup.problem, dup.place, dup.sensitive())?;
    }
    let expected = expected_version.unwrap_or(dup.problem.version);
    if dup.problem.version != expected {
        return Err(stale(dup.problem.version, expected));
    }
    let allowed = lifecycle::allowed_transitions(dup.problem.status);
    if !allowed.contains(&ProblemStatus::Duplicate) {
        return Err(AppError::bad_input(format!(
            "a {} problem cannot be marked a duplicate: only open ones can",
            status_name(dup.problem.status)
        )));
    }
    if original.problem.status == ProblemStatus::Duplicate {
        return Err(AppError::bad_input(format!(
            "{} is itself a duplicate: mark this problem a duplicate of {} instead",
            original.problem.reference,
            original
                .problem
                .duplicate_of_id
                .map(|id| id.to_string())
                .unwrap_or_default()
        )));
    }
    if original.problem.category_id != dup.problem.category_id {
        return Err(AppError::bad_input(
            "the two problems are of different categories: only a problem of the same category \
             can be a duplicate",
        ));
    }
    let at = now();
    let txn = crate::domain::begin_write(db).await?;
    let row = bump_version(&txn, problem_id, expected, at, |u| {
        u.col_expr(
            problem::Column::Status,
            Expr::value(ProblemStatus::Duplicate),
        )
        .col_expr(problem::Column::DuplicateOfId, Expr::value(original_id))
        .col_expr(problem::Column::ClosedAt, Expr::value(at))
    })
    .await?;
    // Followers and supporters move to the original (existing ones are kept once).
    for (table, problem_col, user_col, created_col) in [
        (
            problem_follower::Entity.into_iden(),
            problem_follower::Column::ProblemId.into_iden(),
            problem_follower::Column::UserId.into_iden(),
            problem_follower::Column::CreatedAt.into_iden(),
        ),
        (
            problem_supporter::Entity.into_iden(),
            problem_supporter::Column::ProblemId.into_iden(),
            problem_supporter::Column::UserId.into_iden(),
            problem_supporter::Column::CreatedAt.into_iden(),
        ),
    ] {
        let mut select = Query::select()
            .expr(Expr::val(original_id))
            .column(user_col.clone())
            .column(created_col.clone())
            .from(table.clone())
            .and_where(Expr::col(problem_col.clone()).eq(problem_id))
            .to_owned();
        // The original's reporter never supports their own report.
        if let Some(reporter) = original.problem.reporter_id {
            select.and_where(Expr::col(user_col.clone()).ne(reporter));
        }
        let insert = Query::insert()
            .into_table(table)
            .columns([problem_col.clone(), user_col.clone(), created_col])
            .select_from(select)
            .map_err(|e| AppError::Internal(e.into()))?
            .on_conflict(
                OnConflict::columns([problem_col, user_col])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        txn.execute(&insert).await?;
    }
    // The duplicate's reporter says "me too" to the original.
    if let Some(reporter) = dup.problem.reporter_id
        && original.problem.reporter_id != Some(reporter)
    {
        problem_supporter::Entity::insert(
            problem_supporter::Model {
                problem_id: original_id,
                user_id: reporter,
                created_at: at,
            }
            .into_active_model(),
        )
        .on_conflict_do_nothing()
        .exec_without_returning(&txn)
        .await?;
        problem_follower::Entity::insert(
            problem_follower::Model {
                problem_id: original_id,
                user_id: reporter,
                created_at: at,
            }
            .into_active_model(),
        )
        .on_conflict_do_nothing()
        .exec_without_returning(&txn)
        .await?;
    }
    let supporters = problem_supporter::Entity::find()
        .filter(problem_supporter::Column::ProblemId.eq(original_id))
        .count(&txn)
        .await?;
    problem::Entity::update_many()
        .col_expr(
            problem::Column::SupportCount,
            Expr::value(i32::try_from(supporters).unwrap_or(i32::MAX)),
        )
        .col_expr(problem::Column::UpdatedAt, Expr::value(at))
        .filter(problem::Column::Id.eq(original_id))
        .exec(&txn)
        .await?;
    let mut e = event(problem_id, Some(actor.id), ProblemEventKind::Merged, at);
    e.from_status = Some(dup.problem.status);
    e.to_status = Some(ProblemStatus::Duplicate);
    e.body = Some(format!("Duplicate of {}", original.problem.reference));
    e.data = Some(serde_json::json!({ "duplicateOfId": original_id }));
    let mut on_original = event(original_id, Some(actor.id), ProblemEventKind::Merged, at);
    on_original.body = Some(format!(
        "{} was merged into this problem",
        dup.problem.reference
    ));
    on_original.data = Some(serde_json::json!({ "duplicateId": problem_id }));
    problem_event::Entity::insert_many([e.into_active_model(), on_original.into_active_model()])
        .exec(&txn)
        .await?;
    let recipients = audience(&txn, &dup.problem).await?;
    let notifications = notify::enqueue(
        &txn,
        Notice {
            kind: NoticeKind::ProblemStatusChanged,
            recipients,
            actor: Some(actor.id),
            problem_id: Some(problem_id),
            meeting_id: None,
            params: serde_json::json!({
                "reference": row.reference,
                "title": row.title,
                "status": "DUPLICATE",
            }),
        },
    )
    .await?;
    let original_row = problem::Entity::find_by_id(original_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("problem", original_id))?;
    txn.commit().await?;
    announce(events, &row, false, &notifications);
    announce(events, &original_row, false, &[]);
    Ok((row, original_row))
}

// ---------------------------------------------------------------------------------
// Resolution feedback
// ---------------------------------------------------------------------------------

/// A rating of a resolution.
#[derive(Debug, Clone, Serialize)]
pub struct NewRating {
    /// The problem.
    pub problem_id: Uuid,
    /// 1 to 5.
    pub rating: i32,
    /// Optional comment.
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RatingReceipt {
    problem_id: Uuid,
}

/// The reporter rates how a RESOLVED or CLOSED problem was resolved, once.
pub async fn rate(
    db: &DatabaseConnection,
    events: &dyn EventBus,
    viewer: &Viewer,
    key: IdempotencyKey,
    input: NewRating,
) -> AppResult<problem::Model> {
    let me: Principal = viewer.principal()?.clone();
    let request = IdempotentRequest::new(me.id, "rateResolution", key, &input)?;
    let s = subject(db, viewer, input.problem_id).await?;
    policy::require_reporter(viewer, &s.problem, "rate this resolution")?;
    if !(1..=5).contains(&input.rating) {
        return Err(AppError::bad_input(format!(
            "the rating is {}; give 1 (poor) to 5 (excellent)",
            input.rating
        )));
    }
    if !matches!(
        s.problem.status,
        ProblemStatus::Resolved | ProblemStatus::Closed
    ) {
        return Err(AppError::bad_input(format!(
            "this problem is {}: you can rate it once it is RESOLVED or CLOSED",
            status_name(s.problem.status)
        )));
    }
    let comment = optional_text(input.comment.as_deref(), "comment", MAX_COMMENT_CHARS)?;
    let txn = match idempotency::claim::<RatingReceipt>(db, &request).await? {
        Claim::Replay(r) => {
            return problem::Entity::find_by_id(r.problem_id)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("problem", r.problem_id));
        }
        Claim::Fresh(txn) => txn,
    };
    let at = now();
    let inserted = problem_rating::Entity::insert(
        problem_rating::Model {
            problem_id: s.problem.id,
            user_id: me.id,
            rating: input.rating,
            comment: comment.clone(),
            created_at: at,
        }
        .into_active_model(),
    )
    .on_conflict_do_nothing()
    .exec_without_returning(&txn)
    .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        return Err(AppError::conflict(
            "you have already rated this resolution: a problem is rated once",
        ));
    }
    let mut e = event(s.problem.id, Some(me.id), ProblemEventKind::Rated, at);
    e.body = comment;
    e.data = Some(serde_json::json!({ "rating": input.rating }));
    e.into_active_model().insert(&txn).await?;
    idempotency::complete(
        txn,
        &request,
        &RatingReceipt {
            problem_id: s.problem.id,
        },
    )
    .await?;
    announce(events, &s.problem, false, &[]);
    Ok(s.problem)
}

// ---------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------

/// One page of a timeline.
#[derive(Debug, Clone, Default)]
pub struct TimelinePage {
    /// The entries, oldest first.
    pub events: Vec<problem_event::Model>,
    /// Whether more follow.
    pub has_next_page: bool,
}

/// Where a timeline page starts: the time and id of the last entry seen.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TimelineCursor {
    /// `created_at` of the last entry seen.
    #[serde(rename = "t")]
    pub at: DateTime<Utc>,
    /// Its id.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl TimelineCursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a cursor a client sent back.
    pub fn decode(text: &str) -> AppResult<Self> {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                AppError::bad_input(
                    "the cursor `after` is malformed: pass an `endCursor` of an earlier \
                     timeline page unchanged",
                )
            })
    }
}

/// A problem's timeline, oldest first; internal entries only for staff working it.
pub async fn timeline(
    db: &impl ConnectionTrait,
    include_internal: bool,
    problem_id: Uuid,
    first: PageSize,
    after: Option<&str>,
) -> AppResult<TimelinePage> {
    let after = after.map(TimelineCursor::decode).transpose()?;
    let mut q =
        problem_event::Entity::find().filter(problem_event::Column::ProblemId.eq(problem_id));
    if !include_internal {
        q = q.filter(problem_event::Column::Visibility.eq(Visibility::Public));
    }
    if let Some(c) = after {
        let (t, id) = (problem_event::Column::CreatedAt, problem_event::Column::Id);
        q = q.filter(
            Condition::any()
                .add(t.gt(c.at))
                .add(t.eq(c.at).and(id.gt(c.id))),
        );
    }
    let limit = first.get();
    let mut events = q
        .order_by(problem_event::Column::CreatedAt, Order::Asc)
        .order_by(problem_event::Column::Id, Order::Asc)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next_page = events.len() as u64 > limit;
    events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(TimelinePage {
        events,
        has_next_page,
    })
}

use sea_orm::sea_query::IntoIden as _;

/// The first page of the timelines of several problems at once, in one statement (a
/// window function numbers each problem's entries), for lists that ask for
/// `timeline` on every problem. Every problem asked for gets an entry, empty or not.
pub async fn timeline_heads(
    db: &impl ConnectionTrait,
    include_internal: bool,
    problem_ids: &[Uuid],
    first: PageSize,
) -> AppResult<HashMap<Uuid, TimelinePage>> {
    use sea_orm::sea_query::{Alias, Asterisk, WindowStatement};
    let limit = first.get();
    let mut pages: HashMap<Uuid, TimelinePage> = problem_ids
        .iter()
        .map(|id| (*id, TimelinePage::default()))
        .collect();
    if problem_ids.is_empty() {
        return Ok(pages);
    }
    let mut window = WindowStatement::partition_by(problem_event::Column::ProblemId);
    window
        .order_by(problem_event::Column::CreatedAt, Order::Asc)
        .order_by(problem_event::Column::Id, Order::Asc);
    let mut inner = Query::select();
    inner
        .column(Asterisk)
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("rn"))
        .from(problem_event::Entity)
        .and_where(problem_event::Column::ProblemId.is_in(problem_ids.iter().copied()));
    if !include_internal {
        inner.and_where(problem_event::Column::Visibility.eq(Visibility::Public));
    }
    let mut outer = Query::select();
    outer
        .column(Asterisk)
        .from_subquery(inner, Alias::new("t"))
        .and_where(Expr::col(Alias::new("rn")).lte(limit + 1))
        .order_by(Alias::new("problem_id"), Order::Asc)
        .order_by(Alias::new("rn"), Order::Asc);
    let statement = db.get_database_backend().build(&outer);
    let rows = problem_event::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await?;
    for row in rows {
        if let Some(page) = pages.get_mut(&row.problem_id) {
            if page.events.len() as u64 >= limit {
                page.has_next_page = true;
            } else {
                page.events.push(row);
            }
        }
    }
    Ok(pages)
}
