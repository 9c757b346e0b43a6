//! Beat meetings: scheduling (single or recurring), changes to and cancellation of
//! single occurrences, RSVPs, attendance, following a beat, and finding meetings.
//!
//! A recurring series is stored once (`meeting_series`, with its RRULE) and its
//! occurrences are materialised as `meetings` rows a rolling year ahead, each with the
//! `recurrence_id` (its original start) that RFC 5545 uses to name it. A changed
//! occurrence keeps its `recurrence_id` and is marked `is_exception`; a cancelled one
//! keeps its row with status CANCELLED, so calendars get an EXDATE for it.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::{MeetingStatus, RsvpResponse};
use entity::{beat, beat_follower, meeting, meeting_rsvp, meeting_series, neighborhood_beat};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel as _, QueryFilter, QueryOrder, QuerySelect, TransactionSession as _,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::idempotency::{self, Begin, Claim, Created, IdempotencyKey, IdempotentRequest};
use crate::domain::inputs::{LatLon, PageSize};
use crate::domain::notify::{self, Audience, Notice, NoticeKind};
use crate::domain::recurrence::{self, RecurrenceRule};
use crate::domain::series;
use crate::domain::{inputs, now};
use crate::error::{AppError, AppResult};

/// What a meeting is: title, time and place, as a client sent it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MeetingFields {
    /// Title.
    pub title: Option<String>,
    /// Start (any offset; stored in UTC).
    pub starts_at: Option<DateTime<Utc>>,
    /// End.
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA time zone of the meeting.
    pub time_zone: Option<String>,
    /// Venue name.
    pub place_name: Option<String>,
    /// Venue address.
    pub place_address: Option<String>,
    /// Venue latitude.
    pub lat: Option<f64>,
    /// Venue longitude.
    pub lon: Option<f64>,
    /// Link to join online.
    pub online_url: Option<String>,
    /// Languages spoken (tags such as `en`, `es`).
    pub languages: Option<Vec<String>>,
    /// Accessibility information.
    pub accessibility_notes: Option<String>,
}

/// A meeting's validated details.
#[derive(Debug, Clone)]
pub(crate) struct Details {
    pub(crate) title: String,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
    pub(crate) tz: chrono_tz::Tz,
    pub(crate) place_name: Option<String>,
    pub(crate) place_address: Option<String>,
    pub(crate) lat: Option<f64>,
    pub(crate) lon: Option<f64>,
    pub(crate) online_url: Option<String>,
    pub(crate) languages: Vec<String>,
    pub(crate) accessibility_notes: Option<String>,
}

pub(crate) fn text(value: Option<String>, what: &str, max: usize) -> AppResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "the {what} is too long: keep it under {max} characters"
        )));
    }
    Ok(Some(value))
}

pub(crate) fn parse_tz(name: &str) -> AppResult<chrono_tz::Tz> {
    inputs::time_zone(name)?
        .parse::<chrono_tz::Tz>()
        .map_err(|_| {
            AppError::bad_input(format!(
                "{name:?} is not a time zone: use an IANA name like \"America/Chicago\""
            ))
        })
}

impl Details {
    /// Validates the fields of a new meeting, or of a change merged over `current`.
    pub(crate) fn validate(
        fields: MeetingFields,
        current: Option<&meeting::Model>,
    ) -> AppResult<Self> {
        let title = match text(fields.title, "title", 200)? {
            Some(t) => t,
            None => match current {
                Some(m) => m.title.clone(),
                None => {
                    return Err(AppError::bad_input(
                        "the meeting needs a title, e.g. \"Beat 1011 community meeting\"",
                    ));
                }
            },
        };
        let starts_at = fields
            .starts_at
            .or(current.map(|m| m.starts_at))
            .ok_or_else(|| AppError::bad_input("give `startsAt`: when the meeting starts"))?;
        let ends_at = fields
            .ends_at
            .or(current.map(|m| m.ends_at))
            .ok_or_else(|| AppError::bad_input("give `endsAt`: when the meeting ends"))?;
        let tz_name = fields
            .time_zone
            .or(current.map(|m| m.time_zone.clone()))
            .ok_or_else(|| {
                AppError::bad_input("give `timeZone`: the IANA time zone, e.g. \"America/Chicago\"")
            })?;
        let tz = parse_tz(&tz_name)?;
        let at = now();
        if starts_at <= at {
            return Err(AppError::bad_input(format!(
                "the meeting would start in the past ({starts_at}): choose a start after now"
            )));
        }
        if ends_at <= starts_at {
            return Err(AppError::bad_input(
                "the meeting ends before it starts: `endsAt` must be after `startsAt`",
            ));
        }
        if ends_at - starts_at > TimeDelta::hours(12) {
            return Err(AppError::bad_input(
                "the meeting would last more than 12 hours: check `endsAt` (for a series, give \
                 the end of the first meeting, and the rule in `recurrence`)",
            ));
        }
        let place_name = match fields.place_name {
            Some(v) => text(Some(v), "place name", 200)?,
            None => current.and_then(|m| m.place_name.clone()),
        };
        let place_address = match fields.place_address {
            Some(v) => text(Some(v), "place address", 300)?,
            None => current.and_then(|m| m.place_address.clone()),
        };
        let (lat, lon) = match (fields.lat, fields.lon) {
            (Some(lat), Some(lon)) => {
                let p = LatLon::parse(lat, lon)?;
                (Some(p.lat.degrees()), Some(p.lon.degrees()))
            }
            (None, None) => (current.and_then(|m| m.lat), current.and_then(|m| m.lon)),
            _ => {
                return Err(AppError::bad_input(
                    "give both `lat` and `lon` of the venue, or neither",
                ));
            }
        };
        let online_url = match fields.online_url {
            Some(v) => text(Some(v), "online link", 500)?,
            None => current.and_then(|m| m.online_url.clone()),
        };
        if let Some(url) = &online_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(AppError::bad_input(format!(
                "the online link {url:?} is not a web address: it must start with https://"
            )));
        }
        if place_name.is_none() && place_address.is_none() && online_url.is_none() {
            return Err(AppError::bad_input(
                "say where the meeting is: give a place (`placeName` or `placeAddress`) or an \
                 `onlineUrl`, or both",
            ));
        }
        let languages = match fields.languages {
            Some(list) => list
                .iter()
                .map(|l| inputs::locale(l))
                .collect::<AppResult<Vec<_>>>()?,
            None => current
                .and_then(|m| serde_json::from_value(m.languages.clone()).ok())
                .unwrap_or_else(|| vec!["en".to_owned()]),
        };
        let accessibility_notes = match fields.accessibility_notes {
            Some(v) => text(Some(v), "accessibility notes", 2000)?,
            None => current.and_then(|m| m.accessibility_notes.clone()),
        };
        Ok(Self {
            title,
            starts_at,
            ends_at,
            tz,
            place_name,
            place_address,
            lat,
            lon,
            online_url,
            languages: if languages.is_empty() {
                vec!["en".to_owned()]
            } else {
                languages
            },
            accessibility_notes,
        })
    }
}

/// The text of a meeting time in its own zone, for notifications.
pub fn local_when(m: &meeting::Model) -> String {
    match m.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => format!(
            "{} ({})",
            m.starts_at.with_timezone(&tz).format("%a %-d %b %Y, %H:%M"),
            m.time_zone
        ),
        Err(_) => m.starts_at.format("%a %-d %b %Y, %H:%M UTC").to_string(),
    }
}

/// The beat of a meeting and its precinct, for the policy.
async fn beat_of(db: &impl ConnectionTrait, beat_id: Uuid) -> AppResult<beat::Model> {
    beat::Entity::find_by_id(beat_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("beat", beat_id))
}

/// One meeting, visible to everyone.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<meeting::Model> {
    meeting::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("meeting", id))
}

/// A meeting that the viewer may manage (officer of its beat, its captain, admin).
pub async fn get_managed(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<meeting::Model> {
    viewer.principal()?;
    let m = get(db, id).await?;
    let b = beat_of(db, m.beat_id).await?;
    policy::require_manage_beat(viewer, b.id, b.precinct_id)?;
    Ok(m)
}

fn occurrence(
    d: &Details,
    beat_id: Uuid,
    series_id: Option<Uuid>,
    starts_at: DateTime<Utc>,
    created_by: Uuid,
    at: DateTime<Utc>,
) -> meeting::Model {
    meeting::Model {
        id: Uuid::now_v7(),
        series_id,
        beat_id,
        title: d.title.clone(),
        starts_at,
        ends_at: starts_at + (d.ends_at - d.starts_at),
        time_zone: d.tz.name().to_owned(),
        place_name: d.place_name.clone(),
        place_address: d.place_address.clone(),
        lat: d.lat,
        lon: d.lon,
        online_url: d.online_url.clone(),
        languages: serde_json::json!(d.languages),
        accessibility_notes: d.accessibility_notes.clone(),
        status: MeetingStatus::Scheduled,
        recurrence_id: series_id.map(|_| starts_at),
        is_exception: false,
        attendance_residents: None,
        attendance_officers: None,
        reminder_sent_at: None,
        version: 1,
        created_by: Some(created_by),
        created_at: at,
        updated_at: at,
    }
}

/// Residents who follow a beat.
pub(crate) async fn beat_followers(
    db: &impl ConnectionTrait,
    beat_id: Uuid,
) -> AppResult<Vec<Uuid>> {
    Ok(beat_follower::Entity::find()
        .select_only()
        .column(beat_follower::Column::UserId)
        .filter(beat_follower::Column::BeatId.eq(beat_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// Followers of the beat and everyone who answered the meeting's RSVP.
async fn meeting_audience(db: &impl ConnectionTrait, m: &meeting::Model) -> AppResult<Vec<Uuid>> {
    audience(db, m.beat_id, &[m.id]).await
}

/// Followers of a beat and everyone who answered the RSVP of any of `meetings`.
pub(crate) async fn audience(
    db: &impl ConnectionTrait,
    beat_id: Uuid,
    meetings: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    let mut people: BTreeSet<Uuid> = beat_followers(db, beat_id).await?.into_iter().collect();
    let answered: Vec<Uuid> = meeting_rsvp::Entity::find()
        .select_only()
        .column(meeting_rsvp::Column::UserId)
        .filter(meeting_rsvp::Column::MeetingId.is_in(meetings.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    people.extend(answered);
    Ok(people.into_iter().collect())
}

/// Which occurrences of a series a change or cancellation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// This occurrence only (it becomes an exception to its series).
    #[default]
    ThisOccurrence,
    /// This occurrence and the ones after it (the series is split at it).
    ThisAndFollowing,
    /// The whole series: every occurrence that has not started.
    WholeSeries,
}

pub(crate) fn notice(
    kind: NoticeKind,
    m: &meeting::Model,
    recipients: Vec<Uuid>,
    actor: Uuid,
) -> Notice {
    Notice {
        kind,
        recipients,
        actor: Some(actor),
        problem_id: None,
        meeting_id: Some(m.id),
        params: serde_json::json!({
            "title": m.title,
            "when": local_when(m),
            // Shown in each recipient's own zone and language (`notify::render`).
            "startsAt": m.starts_at.to_rfc3339(),
            "place": m.place_name,
            "meetingId": m.id.to_string(),
            "beatId": m.beat_id.to_string(),
        }),
    }
}

/// Announces notifications after their transaction committed.
pub fn publish_notifications(events: &dyn EventBus, written: &[entity::notification::Model]) {
    for n in written {
        events.publish(DomainEvent::NotificationCreated {
            user_id: n.user_id,
            notification_id: n.id,
        });
    }
}

/// A request to schedule a meeting.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// The beat.
    pub beat_id: Uuid,
    /// Title, time and place.
    pub fields: MeetingFields,
    /// RFC 5545 recurrence rule, for a series.
    pub recurrence: Option<String>,
    /// The client's idempotency key (not part of the request's fingerprint).
    #[serde(skip)]
    pub idempotency_key: String,
}

/// Schedules a meeting or, with a recurrence rule, a series (its occurrences up to a
/// year ahead). Returns the (first) meeting.
pub async fn schedule(
    db: &impl Begin,
    events: &dyn EventBus,
    viewer: &Viewer,
    request: Schedule,
) -> AppResult<meeting::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&request.idempotency_key)?;
    let b = beat_of(db, request.beat_id).await?;
    policy::require_manage_beat(viewer, b.id, b.precinct_id)?;
    let idem = IdempotentRequest::new(p.id, "scheduleMeeting", key, &request)?;
    // The key is claimed before the input is checked, so that a retry of a request
    // that succeeded gets its meeting even once the start has passed.
    let txn = match idempotency::claim::<Created>(db, &idem).await? {
        Claim::Replay(done) => return get(db, done.id).await,
        Claim::Fresh(txn) => txn,
    };
    let rule = request
        .recurrence
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(RecurrenceRule::parse)
        .transpose()?;
    let d = Details::validate(request.fields, None)?;
    let at = now();
    let first = match rule {
        None => {
            let m = occurrence(&d, b.id, None, d.starts_at, p.id, at);
            m.clone().into_active_model().insert(&txn).await?;
            m
        }
        Some(rule) => {
            let starts = rule.expand(d.starts_at, d.tz, recurrence::horizon(at))?;
            let Some(&first_start) = starts.first() else {
                return Err(AppError::bad_input(format!(
                    "the recurrence rule {:?} yields no meeting in the next 12 months from the \
                     start you gave: check its UNTIL or COUNT, or the start date",
                    rule.as_str()
                )));
            };
            let series = meeting_series::Model {
                id: Uuid::now_v7(),
                beat_id: b.id,
                title: d.title.clone(),
                rrule: rule.as_str().to_owned(),
                first_starts_at: first_start,
                duration_minutes: i32::try_from((d.ends_at - d.starts_at).num_minutes())
                    .unwrap_or(i32::MAX),
                time_zone: d.tz.name().to_owned(),
                place_name: d.place_name.clone(),
                place_address: d.place_address.clone(),
                lat: d.lat,
                lon: d.lon,
                online_url: d.online_url.clone(),
                languages: serde_json::json!(d.languages),
                accessibility_notes: d.accessibility_notes.clone(),
                created_by: Some(p.id),
                created_at: at,
                updated_at: at,
            };
            series.clone().into_active_model().insert(&txn).await?;
            let rows: Vec<meeting::Model> = starts
                .iter()
                .map(|s| occurrence(&d, b.id, Some(series.id), *s, p.id, at))
                .collect();
            for chunk in rows.chunks(200) {
                meeting::Entity::insert_many(chunk.iter().cloned().map(|m| m.into_active_model()))
                    .exec(&txn)
                    .await?;
            }
            rows.into_iter()
                .next()
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("series without occurrences")))?
        }
    };
    // Read by the outbox, not here: a beat of 100,000 followers is one fan-out row.
    let written = notify::enqueue_to(
        &txn,
        notice(NoticeKind::MeetingScheduled, &first, Vec::new(), p.id),
        Audience::BeatFollowers(b.id),
    )
    .await?;
    idempotency::complete(txn, &idem, &Created { id: first.id }).await?;
    publish_notifications(events, &written);
    Ok(first)
}

/// The CONFLICT of a change made from a stale version.
pub(crate) fn stale(current: i32, sent: i32) -> AppError {
    AppError::Conflict {
        message: format!(
            "this meeting changed since you loaded it (version {current} now, you sent {sent}): \
             reload it, check the changes, and try again"
        ),
        current_version: Some(current),
    }
}

/// Writes `m` over the row of version `expected`, bumping the version; CONFLICT with the
/// current version when the row changed meanwhile (nothing is written then).
pub(crate) async fn save_versioned(
    db: &impl ConnectionTrait,
    m: &meeting::Model,
    expected: i32,
    columns: &[meeting::Column],
) -> AppResult<meeting::Model> {
    let mut update = meeting::Entity::update_many()
        .col_expr(meeting::Column::Version, Expr::value(expected + 1))
        .filter(meeting::Column::Id.eq(m.id))
        .filter(meeting::Column::Version.eq(expected));
    let active = m.clone().into_active_model();
    for col in columns {
        let value = active
            .get(*col)
            .into_value()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("meeting column without a value")))?;
        update = update.col_expr(*col, Expr::value(value));
    }
    let changed = update.exec(db).await?;
    if changed.rows_affected != 1 {
        let now_version = get(db, m.id).await?.version;
        return Err(stale(now_version, expected));
    }
    let mut saved = m.clone();
    saved.version = expected + 1;
    Ok(saved)
}

/// The columns a change to a meeting's details writes.
pub(crate) const DETAIL_COLUMNS: [meeting::Column; 13] = [
    meeting::Column::Title,
    meeting::Column::StartsAt,
    meeting::Column::EndsAt,
    meeting::Column::TimeZone,
    meeting::Column::PlaceName,
    meeting::Column::PlaceAddress,
    meeting::Column::Lat,
    meeting::Column::Lon,
    meeting::Column::OnlineUrl,
    meeting::Column::Languages,
    meeting::Column::AccessibilityNotes,
    meeting::Column::IsException,
    meeting::Column::UpdatedAt,
];

/// Changes one meeting (for a series: this occurrence only, which becomes an exception,
/// or with `scope` more of its series: see [`crate::domain::series`]), if it is still at
/// `expected_version`; otherwise CONFLICT with the current version in
/// `extensions.currentVersion`, and nothing is changed.
pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    events: &dyn EventBus,
    viewer: &Viewer,
    id: Uuid,
    expected_version: i32,
    fields: MeetingFields,
    scope: Scope,
) -> AppResult<meeting::Model> {
    let p = viewer.principal()?;
    // Read before the transaction, whose first statement is then the write: on SQLite
    // a transaction that reads before writing fails when another connection wrote in
    // between (SQLITE_BUSY_SNAPSHOT).
    let current = get_managed(db, viewer, id).await?;
    if current.version != expected_version {
        return Err(stale(current.version, expected_version));
    }
    if current.status == MeetingStatus::Cancelled {
        return Err(AppError::conflict(
            "this meeting was cancelled and cannot be changed: schedule a new meeting instead",
        ));
    }
    if current.starts_at <= now() {
        return Err(AppError::conflict(
            "this meeting has already started: record its attendance or publish its minutes \
             instead of changing it",
        ));
    }
    if scope != Scope::ThisOccurrence && current.series_id.is_some() {
        return series::update(db, events, p.id, current, fields, scope).await;
    }
    let d = Details::validate(fields, Some(&current))?;
    let mut m = current.clone();
    m.title = d.title;
    m.starts_at = d.starts_at;
    m.ends_at = d.ends_at;
    m.time_zone = d.tz.name().to_owned();
    m.place_name = d.place_name;
    m.place_address = d.place_address;
    m.lat = d.lat;
    m.lon = d.lon;
    m.online_url = d.online_url;
    m.languages = serde_json::json!(d.languages);
    m.accessibility_notes = d.accessibility_notes;
    m.is_exception = m.series_id.is_some();
    m.updated_at = now();
    let txn = crate::domain::begin_write(db).await?;
    let m = save_versioned(&txn, &m, expected_version, &DETAIL_COLUMNS).await?;
    let audience = meeting_audience(&txn, &m).await?;
    let written =
        notify::enqueue(&txn, notice(NoticeKind::MeetingChanged, &m, audience, p.id)).await?;
    txn.commit().await?;
    publish_notifications(events, &written);
    Ok(m)
}

/// Cancels one meeting (for a series: this occurrence only, or with `scope` more of its
/// series: see [`crate::domain::series`]). Cancelling a cancelled meeting alone changes
/// nothing.
pub async fn cancel(
    db: &(impl ConnectionTrait + TransactionTrait),
    events: &dyn EventBus,
    viewer: &Viewer,
    id: Uuid,
    reason: Option<String>,
    scope: Scope,
) -> AppResult<meeting::Model> {
    let p = viewer.principal()?;
    let reason = text(reason, "reason", 500)?;
    let current = get_managed(db, viewer, id).await?;
    if scope != Scope::ThisOccurrence && current.series_id.is_some() {
        if current.starts_at <= now() {
            return Err(AppError::conflict(
                "this meeting has already started: cancel the series from an upcoming \
                 occurrence instead",
            ));
        }
        return series::cancel(db, events, p.id, current, reason, scope).await;
    }
    if current.status == MeetingStatus::Cancelled {
        return Ok(current);
    }
    if current.ends_at <= now() {
        return Err(AppError::conflict(
            "this meeting has already taken place and cannot be cancelled",
        ));
    }
    let mut m = current.clone();
    m.status = MeetingStatus::Cancelled;
    m.updated_at = now();
    let txn = crate::domain::begin_write(db).await?;
    let m = save_versioned(
        &txn,
        &m,
        current.version,
        &[meeting::Column::Status, meeting::Column::UpdatedAt],
    )
    .await?;
    let audience = meeting_audience(&txn, &m).await?;
    let mut n = notice(NoticeKind::MeetingCancelled, &m, audience, p.id);
    if let (Some(reason), Some(obj)) = (reason, n.params.as_object_mut()) {
        obj.insert("reason".into(), reason.into());
    }
    let written = notify::enqueue(&txn, n).await?;
    txn.commit().await?;
    publish_notifications(events, &written);
    Ok(m)
}

/// Records the viewer's answer to a meeting invitation (replacing an earlier one).
pub async fn rsvp(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
    response: RsvpResponse,
) -> AppResult<meeting::Model> {
    let p = viewer.principal()?;
    let m = get(db, id).await?;
    if m.status == MeetingStatus::Cancelled {
        return Err(AppError::bad_input(
            "this meeting was cancelled, so it takes no answers: look for the next meeting of \
             the beat in `meetings(filter: {beatId, upcoming: true})`",
        ));
    }
    if m.ends_at <= now() {
        return Err(AppError::bad_input(
            "this meeting is over, so it takes no answers: answer for an upcoming meeting",
        ));
    }
    let at = now();
    meeting_rsvp::Entity::insert(
        meeting_rsvp::Model {
            meeting_id: m.id,
            user_id: p.id,
            response,
            created_at: at,
            updated_at: at,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([
            meeting_rsvp::Column::MeetingId,
            meeting_rsvp::Column::UserId,
        ])
        .update_columns([
            meeting_rsvp::Column::Response,
            meeting_rsvp::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(m)
}

/// The viewer's answer to a meeting, if any.
pub async fn my_rsvp(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<RsvpResponse>> {
    let Some(user) = viewer.user_id() else {
        return Ok(None);
    };
    Ok(meeting_rsvp::Entity::find_by_id((id, user))
        .one(db)
        .await?
        .map(|r| r.response))
}

/// Records how many residents and officers came to a meeting that has started.
pub async fn record_attendance(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
    residents: i32,
    officers: i32,
) -> AppResult<meeting::Model> {
    let m = get_managed(db, viewer, id).await?;
    if m.status == MeetingStatus::Cancelled {
        return Err(AppError::bad_input(
            "this meeting was cancelled, so nobody attended it: record attendance on a meeting \
             that took place",
        ));
    }
    if m.starts_at > now() {
        return Err(AppError::bad_input(
            "this meeting has not started yet: record attendance after it begins",
        ));
    }
    for (value, what) in [(residents, "residents"), (officers, "officers")] {
        if !(0..=100_000).contains(&value) {
            return Err(AppError::bad_input(format!(
                "the number of {what} must be between 0 and 100000, not {value}"
            )));
        }
    }
    let expected = m.version;
    let mut m = m;
    m.attendance_residents = Some(residents);
    m.attendance_officers = Some(officers);
    m.updated_at = now();
    save_versioned(
        db,
        &m,
        expected,
        &[
            meeting::Column::AttendanceResidents,
            meeting::Column::AttendanceOfficers,
            meeting::Column::UpdatedAt,
        ],
    )
    .await
}

/// Follows a beat: its new, changed and cancelled meetings are notified.
pub async fn follow_beat(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    beat_id: Uuid,
    follow: bool,
) -> AppResult<beat::Model> {
    let p = viewer.principal()?;
    let b = beat_of(db, beat_id).await?;
    if follow {
        beat_follower::Entity::insert(
            beat_follower::Model {
                beat_id,
                user_id: p.id,
                created_at: now(),
            }
            .into_active_model(),
        )
        .on_conflict(
            OnConflict::columns([beat_follower::Column::BeatId, beat_follower::Column::UserId])
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec(db)
        .await?;
    } else {
        beat_follower::Entity::delete_by_id((beat_id, p.id))
            .exec(db)
            .await?;
    }
    Ok(b)
}

/// Which meetings to list; all conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct MeetingFilter {
    /// Only meetings of this beat.
    pub beat_id: Option<Uuid>,
    /// Only meetings of the beats overlapping this neighbourhood.
    pub neighborhood_id: Option<Uuid>,
    /// Only meetings that have not ended yet.
    pub upcoming: bool,
    /// Only meetings near a point.
    pub near: Option<Near>,
    /// Whether cancelled meetings are listed.
    pub include_cancelled: bool,
}

/// Meetings near a point: venue within the radius, or held for the beat containing it.
#[derive(Debug, Clone, Copy)]
pub struct Near {
    /// The point.
    pub at: LatLon,
    /// Radius in metres.
    pub radius_m: f64,
    /// The beat containing the point, if any.
    pub beat_id: Option<Uuid>,
}

/// Distance in metres between two points (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6_371_000.0_f64;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin()
}

/// Where a page of meetings starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingCursor {
    /// Start of the last meeting seen.
    #[serde(rename = "t")]
    pub starts_at: DateTime<Utc>,
    /// Its id.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl MeetingCursor {
    /// The cursor after `m`.
    pub fn after(m: &meeting::Model) -> Self {
        Self {
            starts_at: m.starts_at,
            id: m.id,
        }
    }

    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a cursor a client sent back.
    pub fn decode(text: &str) -> AppResult<Self> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                AppError::bad_input(
                    "the cursor `after` is malformed: pass an `endCursor` from an earlier page \
                     unchanged, or omit it to start at the beginning",
                )
            })
    }
}

/// One page of meetings, soonest first.
#[derive(Debug, Clone)]
pub struct MeetingPage {
    /// The meetings.
    pub meetings: Vec<meeting::Model>,
    /// Whether more follow.
    pub has_next_page: bool,
    /// The cursor after the last meeting examined (which a `near` filter may have left
    /// out of the page).
    pub end_cursor: Option<String>,
}

/// Lists meetings in start order (keyset pages).
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &MeetingFilter,
    first: PageSize,
    after: Option<&str>,
) -> AppResult<MeetingPage> {
    let after = after.map(MeetingCursor::decode).transpose()?;
    let mut cond = Condition::all();
    if let Some(beat) = filter.beat_id {
        cond = cond.add(meeting::Column::BeatId.eq(beat));
    }
    if let Some(nb) = filter.neighborhood_id {
        let beats: Vec<Uuid> = neighborhood_beat::Entity::find()
            .select_only()
            .column(neighborhood_beat::Column::BeatId)
            .filter(neighborhood_beat::Column::NeighborhoodId.eq(nb))
            .into_tuple()
            .all(db)
            .await?;
        cond = cond.add(meeting::Column::BeatId.is_in(beats));
    }
    if filter.upcoming {
        cond = cond.add(meeting::Column::EndsAt.gt(now()));
    }
    if !filter.include_cancelled {
        cond = cond.add(meeting::Column::Status.eq(MeetingStatus::Scheduled));
    }
    if let Some(near) = filter.near {
        let lat = near.at.lat.degrees();
        let lon = near.at.lon.degrees();
        let dlat = near.radius_m / 111_320.0;
        let dlon = near.radius_m / (111_320.0 * lat.to_radians().cos().max(0.01));
        let mut any = Condition::any().add(
            Condition::all()
                .add(meeting::Column::Lat.between(lat - dlat, lat + dlat))
                .add(meeting::Column::Lon.between(lon - dlon, lon + dlon)),
        );
        if let Some(beat) = near.beat_id {
            any = any.add(meeting::Column::BeatId.eq(beat));
        }
        cond = cond.add(any);
    }
    if let Some(c) = &after {
        cond = cond.add(
            Condition::any()
                .add(meeting::Column::StartsAt.gt(c.starts_at))
                .add(
                    Condition::all()
                        .add(meeting::Column::StartsAt.eq(c.starts_at))
                        .add(meeting::Column::Id.gt(c.id)),
                ),
        );
    }
    let limit = first.get();
    let mut rows = meeting::Entity::find()
        .filter(cond)
        .order_by_asc(meeting::Column::StartsAt)
        .order_by_asc(meeting::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let end_cursor = rows.last().map(|m| MeetingCursor::after(m).encode());
    if let Some(near) = filter.near {
        rows.retain(|m| {
            Some(m.beat_id) == near.beat_id
                || matches!((m.lat, m.lon), (Some(lat), Some(lon))
                    if distance_m(near.at.lat.degrees(), near.at.lon.degrees(), lat, lon) <= near.radius_m)
        });
    }
    Ok(MeetingPage {
        meetings: rows,
        has_next_page,
        end_cursor,
    })
}

/// Attendance of one meeting, for trends.
#[derive(Debug, Clone)]
pub struct AttendancePoint {
    /// The meeting.
    pub meeting: meeting::Model,
    /// Residents who answered GOING.
    pub going: i64,
}

/// The beat's past meetings with recorded attendance, oldest first (at most `last`).
pub async fn attendance_trend(
    db: &impl ConnectionTrait,
    beat_id: Uuid,
    last: u64,
) -> AppResult<Vec<AttendancePoint>> {
    beat_of(db, beat_id).await?;
    let mut rows = meeting::Entity::find()
        .filter(meeting::Column::BeatId.eq(beat_id))
        .filter(meeting::Column::Status.eq(MeetingStatus::Scheduled))
        .filter(meeting::Column::StartsAt.lte(now()))
        .order_by_desc(meeting::Column::StartsAt)
        .limit(last)
        .all(db)
        .await?;
    rows.reverse();
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let going: Vec<(Uuid, i64)> = meeting_rsvp::Entity::find()
        .select_only()
        .column(meeting_rsvp::Column::MeetingId)
        .column_as(Expr::col(meeting_rsvp::Column::UserId).count(), "n")
        .filter(meeting_rsvp::Column::MeetingId.is_in(ids))
        .filter(meeting_rsvp::Column::Response.eq(RsvpResponse::Going))
        .group_by(meeting_rsvp::Column::MeetingId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| AttendancePoint {
            going: going
                .iter()
                .find(|(id, _)| *id == m.id)
                .map_or(0, |(_, n)| *n),
            meeting: m,
        })
        .collect())
}

/// Materialises the occurrences of every series up to a year from now (the rolling
/// horizon). Safe to run concurrently and repeatedly: an occurrence that exists is
/// never inserted twice (unique `(series_id, recurrence_id)`). Returns how many were
/// added.
pub async fn extend_all_series(db: &(impl ConnectionTrait + TransactionTrait)) -> AppResult<u64> {
    let series = meeting_series::Entity::find().all(db).await?;
    let mut added = 0;
    for s in series {
        added += extend_series(db, &s).await?;
    }
    Ok(added)
}

/// Materialises the occurrences of one series up to the horizon.
pub async fn extend_series(
    db: &(impl ConnectionTrait + TransactionTrait),
    s: &meeting_series::Model,
) -> AppResult<u64> {
    let Ok(rule) = RecurrenceRule::parse(&s.rrule) else {
        tracing::warn!(series = %s.id, "series with an unusable recurrence rule skipped");
        return Ok(0);
    };
    let Ok(tz) = s.time_zone.parse::<chrono_tz::Tz>() else {
        return Ok(0);
    };
    let at = now();
    let starts = rule.expand(s.first_starts_at, tz, recurrence::horizon(at))?;
    let last: Option<Option<DateTime<Utc>>> = meeting::Entity::find()
        .select_only()
        .column_as(Expr::col(meeting::Column::RecurrenceId).max(), "last")
        .filter(meeting::Column::SeriesId.eq(s.id))
        .into_tuple()
        .one(db)
        .await?;
    let last = last.flatten();
    let missing: Vec<meeting::Model> = starts
        .into_iter()
        .filter(|t| last.is_none_or(|l| *t > l) && *t > at)
        .map(|t| meeting::Model {
            id: Uuid::now_v7(),
            series_id: Some(s.id),
            beat_id: s.beat_id,
            title: s.title.clone(),
            starts_at: t,
            ends_at: t + TimeDelta::minutes(i64::from(s.duration_minutes)),
            time_zone: s.time_zone.clone(),
            place_name: s.place_name.clone(),
            place_address: s.place_address.clone(),
            lat: s.lat,
            lon: s.lon,
            online_url: s.online_url.clone(),
            languages: s.languages.clone(),
            accessibility_notes: s.accessibility_notes.clone(),
            status: MeetingStatus::Scheduled,
            recurrence_id: Some(t),
            is_exception: false,
            attendance_residents: None,
            attendance_officers: None,
            reminder_sent_at: None,
            version: 1,
            created_by: s.created_by,
            created_at: at,
            updated_at: at,
        })
        .collect();
    let n = missing.len() as u64;
    if n == 0 {
        return Ok(0);
    }
    let txn = crate::domain::begin_write(db).await?;
    for chunk in missing.chunks(200) {
        meeting::Entity::insert_many(chunk.iter().cloned().map(|m| m.into_active_model()))
            .on_conflict(
                OnConflict::columns([meeting::Column::SeriesId, meeting::Column::RecurrenceId])
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(n)
}
