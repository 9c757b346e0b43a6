//! The notification outbox. A change that should notify people calls [`enqueue`] (a
//! list of recipients) or [`enqueue_audience`] (everyone who follows a beat or answered
//! a meeting) inside its own transaction, so that nothing is lost if the process dies
//! right after the change commits (a transactional outbox):
//!
//! - up to [`INLINE_LIMIT`] recipients, the in-app notifications (inbox) and one pending
//!   push delivery per active device are written right there;
//! - beyond that, and for audiences, one `notification_fanouts` row is written, and the
//!   push worker expands it ([`expand_fanout`]) a chunk of recipients per transaction,
//!   so that a request announcing a meeting to a whole beat stays fast.
//!
//! Per recipient, the notification always lands in the inbox; a push is only queued
//! when the user has not turned that kind off, and is held until the end of the user's
//! quiet hours (in their time zone). Texts are in the user's language.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveTime, TimeZone as _, Utc};
use entity::enums::{DeliveryStatus, RsvpResponse};
use entity::{
    beat_follower, device, meeting, meeting_rsvp, notification, notification_fanout,
    notification_preference, push_delivery, user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel as _, QueryFilter, QueryOrder, QuerySelect, SqliteTransactionMode,
    TransactionOptions, TransactionTrait as _,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::now;
use crate::error::{AppError, AppResult};

/// Most recipients whose notifications [`enqueue`] writes in the caller's transaction;
/// a longer list is handed to the push worker as a fan-out.
pub const INLINE_LIMIT: usize = 200;

/// Recipients expanded per transaction by [`expand_fanout`].
pub const FANOUT_CHUNK: u64 = 1_000;

/// Most ids bound in one `IN (...)` list by the outbox (about 8 KiB of parameters).
///
/// sqlx 0.9.0 no longer sets `TCP_NODELAY` on its PostgreSQL sockets (sqlx issue
/// #4335; fixed upstream by #4336, not released as of 0.9.0). A statement whose message
/// is larger than the socket's initial send buffer (16 KiB, `net.ipv4.tcp_wmem`) goes
/// out in two writes, and Nagle's algorithm holds the second until the server's delayed
/// ACK: 40 ms per statement. Measured here, a 500-row insert of deliveries took 50 ms,
/// five 100-row inserts 2 to 4 ms each. The outbox therefore keeps every statement it
/// sends under [`MAX_STATEMENT_BYTES`].
pub const MAX_IDS_PER_STATEMENT: usize = 400;

/// Most bytes of parameters the outbox binds in one statement (see
/// [`MAX_IDS_PER_STATEMENT`]).
pub const MAX_STATEMENT_BYTES: usize = 12 * 1024;

/// Most rows per multi-row insert, whatever their size (SQLite binds at most 32,766
/// parameters).
const MAX_ROWS_PER_INSERT: usize = 500;

/// Rows of `row_bytes` each per insert statement, under [`MAX_STATEMENT_BYTES`].
fn rows_per_insert(row_bytes: usize) -> usize {
    (MAX_STATEMENT_BYTES / row_bytes.max(1)).clamp(1, MAX_ROWS_PER_INSERT)
}

/// Parameter bytes of one `push_deliveries` row: three UUIDs, the status, the attempt
/// count, three timestamps and three NULLs, each with its 4-byte length.
const DELIVERY_ROW_BYTES: usize = 140;

/// Longest title of a push message, in characters (the inbox keeps the whole text).
pub const PUSH_TITLE_CHARS: usize = 120;

/// Longest body of a push message, in characters (the inbox keeps the whole text).
pub const PUSH_BODY_CHARS: usize = 600;

/// The kinds of notification; users can turn each off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeKind {
    /// A followed or reported problem changed status.
    ProblemStatusChanged,
    /// A public comment on a followed or reported problem.
    ProblemComment,
    /// A problem was assigned to the recipient (or their organisation).
    ProblemAssigned,
    /// A meeting was scheduled in a followed beat.
    MeetingScheduled,
    /// A meeting the recipient follows or answered changed.
    MeetingChanged,
    /// A meeting the recipient follows or answered was cancelled.
    MeetingCancelled,
    /// A meeting starts in 24 hours.
    MeetingReminder,
    /// An action item was given to the recipient.
    ActionItemAssigned,
}

impl NoticeKind {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::ProblemStatusChanged,
        Self::ProblemComment,
        Self::ProblemAssigned,
        Self::MeetingScheduled,
        Self::MeetingChanged,
        Self::MeetingCancelled,
        Self::MeetingReminder,
        Self::ActionItemAssigned,
    ];

    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProblemStatusChanged => "PROBLEM_STATUS_CHANGED",
            Self::ProblemComment => "PROBLEM_COMMENT",
            Self::ProblemAssigned => "PROBLEM_ASSIGNED",
            Self::MeetingScheduled => "MEETING_SCHEDULED",
            Self::MeetingChanged => "MEETING_CHANGED",
            Self::MeetingCancelled => "MEETING_CANCELLED",
            Self::MeetingReminder => "MEETING_REMINDER",
            Self::ActionItemAssigned => "ACTION_ITEM_ASSIGNED",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A notification to send.
#[derive(Debug, Clone)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// Who should learn of it (duplicates are dropped).
    pub recipients: Vec<Uuid>,
    /// Who caused it: never notified of their own change.
    pub actor: Option<Uuid>,
    /// The problem it is about.
    pub problem_id: Option<Uuid>,
    /// The meeting it is about.
    pub meeting_id: Option<Uuid>,
    /// Values for the text templates (reference, status, title, time...).
    pub params: serde_json::Value,
}

/// A group of people a notice goes to, resolved by the push worker when it expands the
/// notice (on top of the notice's own `recipients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Only the notice's `recipients`.
    Recipients,
    /// Everyone following a beat.
    BeatFollowers(Uuid),
    /// Everyone following the meeting's beat, and everyone who answered GOING or MAYBE.
    MeetingAudience(Uuid),
}

impl Audience {
    fn stored(self) -> (&'static str, Option<Uuid>) {
        match self {
            Self::Recipients => ("USERS", None),
            Self::BeatFollowers(b) => ("BEAT_FOLLOWERS", Some(b)),
            Self::MeetingAudience(m) => ("MEETING_AUDIENCE", Some(m)),
        }
    }

    fn load(name: &str, id: Option<Uuid>) -> Option<Self> {
        match (name, id) {
            ("USERS", _) => Some(Self::Recipients),
            ("BEAT_FOLLOWERS", Some(b)) => Some(Self::BeatFollowers(b)),
            ("MEETING_AUDIENCE", Some(m)) => Some(Self::MeetingAudience(m)),
            _ => None,
        }
    }
}

/// Texts of a notice for a recipient with a language (`en`, `es-MX`...) and a time
/// zone (IANA, e.g. `America/Chicago`).
///
/// Meeting notices carry `startsAt` (RFC 3339) and `place`: their body is the start
/// time in the recipient's zone and language ("Tue, Dec 8, 6:30 PM" or "mar 8 dic,
/// 18:30") and the place; notices written before those parameters existed show their
/// `when` text.
pub fn render(
    kind: NoticeKind,
    locale: &str,
    time_zone: &str,
    params: &serde_json::Value,
) -> (String, String) {
    let p = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let spanish = locale.starts_with("es");
    let when = || meeting_when(params, locale, time_zone).unwrap_or_else(|| p("when"));
    match (kind, spanish) {
        (NoticeKind::ProblemStatusChanged, false) => (
            format!(
                "{} is now {}",
                p("reference"),
                status_words(&p("status"), false)
            ),
            p("title"),
        ),
        (NoticeKind::ProblemStatusChanged, true) => (
            format!(
                "{} ahora está {}",
                p("reference"),
                status_words(&p("status"), true)
            ),
            p("title"),
        ),
        (NoticeKind::ProblemComment, false) => {
            (format!("New comment on {}", p("reference")), p("body"))
        }
        (NoticeKind::ProblemComment, true) => {
            (format!("Nuevo comentario en {}", p("reference")), p("body"))
        }
        (NoticeKind::ProblemAssigned, false) => (
            format!("{} was assigned to you", p("reference")),
            p("title"),
        ),
        (NoticeKind::ProblemAssigned, true) => {
            (format!("Se le asignó {}", p("reference")), p("title"))
        }
        (NoticeKind::MeetingScheduled, false) => {
            (format!("New beat meeting: {}", p("title")), when())
        }
        (NoticeKind::MeetingScheduled, true) => {
            (format!("Nueva reunión del sector: {}", p("title")), when())
        }
        (NoticeKind::MeetingChanged, false) => (format!("Meeting changed: {}", p("title")), when()),
        (NoticeKind::MeetingChanged, true) => {
            (format!("Cambio de reunión: {}", p("title")), when())
        }
        (NoticeKind::MeetingCancelled, false) => {
            (format!("Meeting cancelled: {}", p("title")), when())
        }
        (NoticeKind::MeetingCancelled, true) => {
            (format!("Reunión cancelada: {}", p("title")), when())
        }
        (NoticeKind::MeetingReminder, false) => (format!("Tomorrow: {}", p("title")), when()),
        (NoticeKind::MeetingReminder, true) => (format!("Mañana: {}", p("title")), when()),
        (NoticeKind::ActionItemAssigned, false) => {
            (format!("New action for you: {}", p("title")), p("due"))
        }
        (NoticeKind::ActionItemAssigned, true) => {
            (format!("Nueva tarea para usted: {}", p("title")), p("due"))
        }
    }
}

/// The start of a meeting in the recipient's zone and language, with its place:
/// "Tue, Dec 8, 6:30 PM, Library" or "mar 8 dic, 18:30, Library". `None` without a
/// readable `startsAt`. Unknown zones read as UTC; languages other than Spanish as
/// US English.
pub fn meeting_when(params: &serde_json::Value, locale: &str, time_zone: &str) -> Option<String> {
    let starts = params.get("startsAt")?.as_str()?;
    let starts = DateTime::parse_from_rfc3339(starts).ok()?;
    let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = starts.with_timezone(&tz);
    let mut text = if locale.starts_with("es") {
        local
            .format_localized("%a %-d %b, %H:%M", chrono::Locale::es_ES)
            .to_string()
    } else {
        local
            .format_localized("%a, %b %-d, %-I:%M %p", chrono::Locale::en_US)
            .to_string()
    };
    if let Some(place) = params
        .get("place")
        .and_then(|v| v.as_str())
        .filter(|p| !p.trim().is_empty())
    {
        text.push_str(", ");
        text.push_str(place);
    }
    Some(text)
}

/// A problem status (`IN_PROGRESS`) in words of the language; unknown values as given.
fn status_words(status: &str, spanish: bool) -> String {
    let words = match (status, spanish) {
        ("NEW", false) => "new",
        ("ACKNOWLEDGED", false) => "acknowledged",
        ("IN_PROGRESS", false) => "in progress",
        ("RESOLVED", false) => "resolved",
        ("CLOSED", false) => "closed",
        ("DUPLICATE", false) => "a duplicate",
        ("NOT_ACTIONABLE", false) => "not actionable",
        ("NEW", true) => "nuevo",
        ("ACKNOWLEDGED", true) => "recibido",
        ("IN_PROGRESS", true) => "en curso",
        ("RESOLVED", true) => "resuelto",
        ("CLOSED", true) => "cerrado",
        ("DUPLICATE", true) => "duplicado",
        ("NOT_ACTIONABLE", true) => "fuera de nuestro alcance",
        (other, _) => other,
    };
    words.to_owned()
}

/// The collapse key of a notice: one per problem (else per meeting), so that a burst of
/// updates shows once on the phone.
pub fn collapse_key(problem_id: Option<Uuid>, meeting_id: Option<Uuid>) -> Option<String> {
    problem_id
        .map(|p| format!("problem-{}", p.simple()))
        .or_else(|| meeting_id.map(|m| format!("meeting-{}", m.simple())))
}

/// Cuts a text to at most `max` characters, ending with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Quiet hours: a daily span of local time during which pushes are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// When quiet begins (local time).
    pub start: NaiveTime,
    /// When quiet ends (local time); before `start` when the span crosses midnight.
    pub end: NaiveTime,
}

impl QuietHours {
    /// Parses `"HH:MM"` times; both or neither must be given, and they must differ.
    pub fn parse(start: Option<&str>, end: Option<&str>) -> AppResult<Option<Self>> {
        let time = |which: &str, t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| {
                AppError::bad_input(format!(
                    "quiet hours {which} {t:?} is not a time: use 24-hour \"HH:MM\", e.g. \"22:00\""
                ))
            })
        };
        match (start, end) {
            (None, None) => Ok(None),
            (Some(s), Some(e)) => {
                let (start, end) = (time("start", s)?, time("end", e)?);
                if start == end {
                    return Err(AppError::bad_input(
                        "quiet hours start and end are the same time: give a span, e.g. 22:00 to 07:00, or clear both",
                    ));
                }
                Ok(Some(Self { start, end }))
            }
            _ => Err(AppError::bad_input(
                "quiet hours need both a start and an end (\"HH:MM\"), or neither to turn them off",
            )),
        }
    }

    /// When a push due `at` may go out for a user in `time_zone`: `None` when not in
    /// quiet hours, else the end of the quiet span (in UTC).
    pub fn held_until(&self, at: DateTime<Utc>, time_zone: &str) -> Option<DateTime<Utc>> {
        let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
        let local = at.with_timezone(&tz);
        let t = local.time();
        let date = local.date_naive();
        let end_date = if self.start < self.end {
            if t < self.start || t >= self.end {
                return None;
            }
            date
        } else if t >= self.start {
            date.succ_opt()?
        } else if t < self.end {
            date
        } else {
            return None;
        };
        let end = end_date.and_time(self.end);
        // On a daylight-saving gap the end time may not exist: an hour later does.
        let resolved = tz.from_local_datetime(&end).earliest().or_else(|| {
            tz.from_local_datetime(&(end + chrono::TimeDelta::hours(1)))
                .earliest()
        })?;
        Some(resolved.with_timezone(&Utc))
    }
}

/// What a user asked for: kinds turned off and quiet hours.
#[derive(Debug, Clone, Default)]
pub struct Preferences {
    /// Kinds that get no push (they still reach the inbox).
    pub disabled: BTreeSet<String>,
    /// Quiet hours, if any.
    pub quiet: Option<QuietHours>,
}

impl Preferences {
    /// The preferences stored in a row (unknown or malformed values are ignored).
    pub fn from_row(row: &notification_preference::Model) -> Self {
        let disabled = row
            .disabled_kinds
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let quiet = QuietHours::parse(
            row.quiet_hours_start.as_deref(),
            row.quiet_hours_end.as_deref(),
        )
        .ok()
        .flatten();
        Self { disabled, quiet }
    }
}

/// What a notice says, independent of its recipients.
#[derive(Debug, Clone)]
struct Content {
    kind: NoticeKind,
    problem_id: Option<Uuid>,
    meeting_id: Option<Uuid>,
    params: serde_json::Value,
}

/// Writes the inbox notifications and pending push deliveries of a notice, in the
/// caller's transaction. Returns the notifications written (publish
/// `DomainEvent::NotificationCreated` for each after the commit).
///
/// A notice for more than [`INLINE_LIMIT`] people is written as a fan-out for the push
/// worker instead (which then publishes the events); the result is then empty.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    notice: Notice,
) -> AppResult<Vec<notification::Model>> {
    let recipients: BTreeSet<Uuid> = notice
        .recipients
        .iter()
        .copied()
        .filter(|r| Some(*r) != notice.actor)
        .collect();
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    if recipients.len() > INLINE_LIMIT {
        enqueue_audience(db, notice, Audience::Recipients).await?;
        return Ok(Vec::new());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(recipients.iter().copied()))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let content = Content {
        kind: notice.kind,
        problem_id: notice.problem_id,
        meeting_id: notice.meeting_id,
        params: notice.params,
    };
    write_for_users(db, &content, &users, now()).await
}

/// Notifies `audience` and the notice's own recipients, in the caller's transaction:
/// like [`enqueue`] when they are at most [`INLINE_LIMIT`] people, else as a fan-out
/// ([`enqueue_audience`]) without reading the audience, so that a request announcing a
/// meeting to a beat of any size stays fast. Returns the notifications written inline
/// (publish `DomainEvent::NotificationCreated` for each after the commit); empty for a
/// fan-out, whose events the push worker publishes.
pub async fn enqueue_to(
    db: &impl ConnectionTrait,
    notice: Notice,
    audience: Audience,
) -> AppResult<Vec<notification::Model>> {
    let limit = u64::try_from(INLINE_LIMIT).unwrap_or(200) + 1;
    let mut people: BTreeSet<Uuid> = notice.recipients.iter().copied().collect();
    people.extend(audience_after(db, audience, None, limit).await?);
    if people.len() > INLINE_LIMIT {
        enqueue_audience(db, notice, audience).await?;
        return Ok(Vec::new());
    }
    // Fewer than the limit from each source: these are all of them.
    enqueue(
        db,
        Notice {
            recipients: people.into_iter().collect(),
            ..notice
        },
    )
    .await
}

/// Writes a notice for `audience` (and the notice's own recipients) as one fan-out row,
/// in the caller's transaction; the push worker expands it into notifications. Returns
/// the fan-out's id.
pub async fn enqueue_audience(
    db: &impl ConnectionTrait,
    notice: Notice,
    audience: Audience,
) -> AppResult<Uuid> {
    let at = now();
    let (name, audience_id) = audience.stored();
    let recipients: BTreeSet<Uuid> = notice.recipients.iter().copied().collect();
    let row = notification_fanout::Model {
        id: Uuid::now_v7(),
        kind: notice.kind.as_str().to_owned(),
        params: notice.params,
        actor_id: notice.actor,
        problem_id: notice.problem_id,
        meeting_id: notice.meeting_id,
        audience: name.to_owned(),
        audience_id,
        recipients: serde_json::json!(recipients),
        cursor: None,
        expanded: 0,
        next_attempt_at: at,
        done_at: None,
        created_at: at,
        updated_at: at,
    };
    let id = row.id;
    notification_fanout::Entity::insert(row.into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(id)
}

/// Writes the notifications of `content` for `users`, with a pending delivery per
/// active device unless the user turned the kind off; deliveries due in quiet hours are
/// held until they end.
async fn write_for_users(
    db: &impl ConnectionTrait,
    content: &Content,
    users: &[user::Model],
    at: DateTime<Utc>,
) -> AppResult<Vec<notification::Model>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let mut devices = Vec::new();
    for chunk in ids.chunks(MAX_IDS_PER_STATEMENT) {
        devices.extend(
            device::Entity::find()
                .filter(device::Column::UserId.is_in(chunk.iter().copied()))
                .filter(device::Column::DisabledAt.is_null())
                .all(db)
                .await?,
        );
    }
    let mut by_user: HashMap<Uuid, Vec<&device::Model>> = HashMap::new();
    for d in &devices {
        by_user.entry(d.user_id).or_default().push(d);
    }
    let with_devices: Vec<Uuid> = by_user.keys().copied().collect();
    let mut preferences: HashMap<Uuid, Preferences> = HashMap::new();
    for chunk in with_devices.chunks(MAX_IDS_PER_STATEMENT) {
        let rows = notification_preference::Entity::find()
            .filter(notification_preference::Column::UserId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        preferences.extend(
            rows.iter()
                .map(|row| (row.user_id, Preferences::from_row(row))),
        );
    }
    let collapse = collapse_key(content.problem_id, content.meeting_id);
    let kind = content.kind.as_str();
    let mut notifications = Vec::with_capacity(users.len());
    let mut deliveries = Vec::new();
    for u in users {
        let (title, body) = render(content.kind, &u.locale, &u.time_zone, &content.params);
        let n = notification::Model {
            id: Uuid::now_v7(),
            user_id: u.id,
            kind: kind.to_owned(),
            title,
            body,
            data: content.params.clone(),
            problem_id: content.problem_id,
            meeting_id: content.meeting_id,
            collapse_key: collapse.clone(),
            read_at: None,
            created_at: at,
        };
        let prefs = preferences.get(&u.id);
        let wanted = prefs.is_none_or(|p| !p.disabled.contains(kind));
        if wanted {
            let due = prefs
                .and_then(|p| p.quiet)
                .and_then(|q| q.held_until(at, &u.time_zone))
                .unwrap_or(at);
            for d in by_user.get(&u.id).into_iter().flatten() {
                deliveries.push(push_delivery::Model {
                    id: Uuid::now_v7(),
                    notification_id: n.id,
                    device_id: d.id,
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    next_attempt_at: due,
                    locked_until: None,
                    last_error: None,
                    sent_at: None,
                    created_at: at,
                    updated_at: at,
                });
            }
        }
        notifications.push(n);
    }
    // Texts differ only by language, so the largest row sizes every statement.
    let data_bytes = content.params.to_string().len();
    let widest = notifications
        .iter()
        .map(|n| n.title.len() + n.body.len())
        .max()
        .unwrap_or(0);
    let per_insert = rows_per_insert(200 + data_bytes + widest);
    for chunk in notifications.chunks(per_insert) {
        notification::Entity::insert_many(chunk.iter().cloned().map(|n| n.into_active_model()))
            .exec_without_returning(db)
            .await?;
    }
    for chunk in deliveries.chunks(rows_per_insert(DELIVERY_ROW_BYTES)) {
        push_delivery::Entity::insert_many(chunk.iter().cloned().map(|d| d.into_active_model()))
            .exec_without_returning(db)
            .await?;
    }
    Ok(notifications)
}

/// What one call of [`expand_fanout`] did.
#[derive(Debug, Clone, Default)]
pub struct ExpandStep {
    /// The notifications written by this step (publish `NotificationCreated` for each).
    pub notifications: Vec<notification::Model>,
    /// Whether the fan-out is now complete.
    pub done: bool,
}

/// Takes a pending fan-out for `lease`: the id of one whose turn has come, now leased to
/// the caller, or `None`.
pub async fn claim_fanout(
    db: &DatabaseConnection,
    lease: chrono::TimeDelta,
) -> AppResult<Option<Uuid>> {
    let at = now();
    let candidate = notification_fanout::Entity::find()
        .select_only()
        .column(notification_fanout::Column::Id)
        .filter(notification_fanout::Column::DoneAt.is_null())
        .filter(notification_fanout::Column::NextAttemptAt.lte(at))
        .order_by_asc(notification_fanout::Column::NextAttemptAt)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    let Some(id) = candidate else {
        return Ok(None);
    };
    // Compare-and-set on the lease, so that two workers never take the same one.
    let taken = notification_fanout::Entity::update_many()
        .col_expr(
            notification_fanout::Column::NextAttemptAt,
            Expr::value(at + lease),
        )
        .col_expr(notification_fanout::Column::UpdatedAt, Expr::value(at))
        .filter(notification_fanout::Column::Id.eq(id))
        .filter(notification_fanout::Column::DoneAt.is_null())
        .filter(notification_fanout::Column::NextAttemptAt.lte(at))
        .exec(db)
        .await?;
    Ok((taken.rows_affected == 1).then_some(id))
}

/// Expands the next chunk of a fan-out in one transaction: writes the notifications and
/// deliveries of up to [`FANOUT_CHUNK`] recipients after the fan-out's cursor and moves
/// the cursor past them. The cursor is compared and set in the same transaction, so an
/// interrupted or concurrent expansion never writes a recipient's notification twice.
///
/// Recipients are taken in id order from the primary keys of `beat_followers` and
/// `meeting_rsvps` (`(beat_id, user_id)`, `(meeting_id, user_id)`), so each chunk
/// reads about a chunk's worth of index entries, however large the audience.
pub async fn expand_fanout(
    db: &DatabaseConnection,
    id: Uuid,
    lease: chrono::TimeDelta,
) -> AppResult<ExpandStep> {
    // On SQLite the transaction takes the write lock at once: a deferred one reads the
    // fan-out and the users, then fails its first write with SQLITE_BUSY_SNAPSHOT
    // (code 517) whenever the delivery loops recorded a batch in between, which they
    // do all the time during a large fan-out. Waiting for the lock (the busy timeout)
    // is what we want instead.
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let Some(fanout) = notification_fanout::Entity::find_by_id(id)
        .one(&txn)
        .await?
    else {
        return Ok(ExpandStep {
            notifications: Vec::new(),
            done: true,
        });
    };
    if fanout.done_at.is_some() {
        return Ok(ExpandStep {
            notifications: Vec::new(),
            done: true,
        });
    }
    let at = now();
    let (Some(kind), Some(audience)) = (
        NoticeKind::parse(&fanout.kind),
        Audience::load(&fanout.audience, fanout.audience_id),
    ) else {
        tracing::error!(fanout = %id, kind = fanout.kind, audience = fanout.audience, "fan-out of an unknown kind or audience: dropped");
        finish(&txn, &fanout, None, 0, true, at + lease).await?;
        txn.commit().await?;
        return Ok(ExpandStep {
            notifications: Vec::new(),
            done: true,
        });
    };
    let chunk = usize::try_from(FANOUT_CHUNK).unwrap_or(1_000);
    // From each source, the chunk + 1 smallest ids after the cursor: the chunk smallest
    // of their union are the chunk smallest of all recipients left, and a union of at
    // most a chunk means every source is exhausted.
    let mut explicit: Vec<Uuid> =
        serde_json::from_value(fanout.recipients.clone()).unwrap_or_default();
    explicit.retain(|id| fanout.cursor.is_none_or(|c| *id > c));
    explicit.sort_unstable();
    explicit.truncate(chunk + 1);
    let mut candidates: BTreeSet<Uuid> = explicit.into_iter().collect();
    candidates.extend(audience_after(&txn, audience, fanout.cursor, FANOUT_CHUNK + 1).await?);
    let done = candidates.len() <= chunk;
    let ids: Vec<Uuid> = candidates.into_iter().take(chunk).collect();
    let cursor = ids.last().copied().or(fanout.cursor);
    let mut users = Vec::with_capacity(ids.len());
    for part in ids.chunks(MAX_IDS_PER_STATEMENT) {
        let mut query = user::Entity::find()
            .filter(user::Column::Id.is_in(part.iter().copied()))
            .filter(user::Column::DeletedAt.is_null());
        if let Some(actor) = fanout.actor_id {
            query = query.filter(user::Column::Id.ne(actor));
        }
        users.extend(query.order_by_asc(user::Column::Id).all(&txn).await?);
    }
    let content = Content {
        kind,
        problem_id: fanout.problem_id,
        meeting_id: fanout.meeting_id,
        params: fanout.params.clone(),
    };
    let notifications = write_for_users(&txn, &content, &users, at).await?;
    let written = i32::try_from(notifications.len()).unwrap_or(i32::MAX);
    if !finish(&txn, &fanout, cursor, written, done, at + lease).await? {
        // Another worker moved the cursor first: drop this chunk, it wrote it.
        txn.rollback().await?;
        return Ok(ExpandStep::default());
    }
    txn.commit().await?;
    Ok(ExpandStep {
        notifications,
        done,
    })
}

/// Members of an audience after `cursor`, in id order: up to `limit` from each of its
/// sources (a meeting's audience has two, so up to twice `limit`, unsorted across them).
async fn audience_after(
    db: &impl ConnectionTrait,
    audience: Audience,
    cursor: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<Uuid>> {
    match audience {
        Audience::Recipients => Ok(Vec::new()),
        Audience::BeatFollowers(beat) => followers_after(db, beat, cursor, limit).await,
        Audience::MeetingAudience(meeting) => {
            let beat = meeting::Entity::find_by_id(meeting)
                .select_only()
                .column(meeting::Column::BeatId)
                .into_tuple::<Uuid>()
                .one(db)
                .await?;
            let mut people = match beat {
                Some(beat) => followers_after(db, beat, cursor, limit).await?,
                None => Vec::new(),
            };
            let mut answered = meeting_rsvp::Entity::find()
                .select_only()
                .column(meeting_rsvp::Column::UserId)
                .filter(meeting_rsvp::Column::MeetingId.eq(meeting))
                .filter(
                    meeting_rsvp::Column::Response
                        .is_in([RsvpResponse::Going, RsvpResponse::Maybe]),
                )
                .order_by_asc(meeting_rsvp::Column::UserId)
                .limit(limit);
            if let Some(cursor) = cursor {
                answered = answered.filter(meeting_rsvp::Column::UserId.gt(cursor));
            }
            people.extend(answered.into_tuple::<Uuid>().all(db).await?);
            Ok(people)
        }
    }
}

/// Up to `limit` followers of a beat after `cursor`, in id order (from the primary key
/// `(beat_id, user_id)`).
async fn followers_after(
    db: &impl ConnectionTrait,
    beat: Uuid,
    cursor: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<Uuid>> {
    let mut query = beat_follower::Entity::find()
        .select_only()
        .column(beat_follower::Column::UserId)
        .filter(beat_follower::Column::BeatId.eq(beat))
        .order_by_asc(beat_follower::Column::UserId)
        .limit(limit);
    if let Some(cursor) = cursor {
        query = query.filter(beat_follower::Column::UserId.gt(cursor));
    }
    Ok(query.into_tuple::<Uuid>().all(db).await?)
}

/// Moves a fan-out's cursor if nobody else did, and renews the caller's lease until
/// `lease_until`; whether it did.
async fn finish(
    db: &impl ConnectionTrait,
    fanout: &notification_fanout::Model,
    cursor: Option<Uuid>,
    written: i32,
    done: bool,
    lease_until: DateTime<Utc>,
) -> AppResult<bool> {
    let at = now();
    let mut update = notification_fanout::ActiveModel {
        id: Set(fanout.id),
        cursor: Set(cursor),
        expanded: Set(fanout.expanded.saturating_add(written)),
        next_attempt_at: Set(lease_until),
        updated_at: Set(at),
        ..Default::default()
    };
    if done {
        update.done_at = Set(Some(at));
    }
    let stale = match fanout.cursor {
        Some(c) => notification_fanout::Column::Cursor.eq(c),
        None => notification_fanout::Column::Cursor.is_null(),
    };
    let result = notification_fanout::Entity::update_many()
        .set(update)
        .filter(notification_fanout::Column::Id.eq(fanout.id))
        .filter(stale)
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Queues the 24-hour reminders of meetings that start within a day and were not
/// reminded yet: for each, the meeting is marked reminded and a fan-out to its audience
/// (followers of its beat, and GOING or MAYBE answers) written in one transaction. The
/// mark is compare-and-set, so two replicas never remind twice. Returns how many
/// meetings were reminded.
pub async fn enqueue_due_meeting_reminders(db: &DatabaseConnection) -> AppResult<usize> {
    let at = now();
    let due = meeting::Entity::find()
        .filter(meeting::Column::ReminderSentAt.is_null())
        .filter(meeting::Column::StartsAt.gt(at))
        .filter(meeting::Column::StartsAt.lte(at + chrono::TimeDelta::hours(24)))
        .filter(meeting::Column::Status.eq(entity::enums::MeetingStatus::Scheduled))
        .limit(100)
        .all(db)
        .await?;
    let mut reminded = 0;
    for m in due {
        let txn = crate::domain::begin_write(db).await?;
        let marked = meeting::Entity::update_many()
            .col_expr(meeting::Column::ReminderSentAt, Expr::value(at))
            .filter(meeting::Column::Id.eq(m.id))
            .filter(meeting::Column::ReminderSentAt.is_null())
            .exec(&txn)
            .await?;
        if marked.rows_affected != 1 {
            continue;
        }
        let tz: chrono_tz::Tz = m.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let mut when = m
            .starts_at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        if let Some(place) = &m.place_name {
            when = format!("{when}, {place}");
        }
        let notice = Notice {
            kind: NoticeKind::MeetingReminder,
            recipients: Vec::new(),
            actor: None,
            problem_id: None,
            meeting_id: Some(m.id),
            params: serde_json::json!({
                "title": m.title,
                "when": when,
                "startsAt": m.starts_at.to_rfc3339(),
                "place": m.place_name,
            }),
        };
        enqueue_audience(&txn, notice, Audience::MeetingAudience(m.id)).await?;
        txn.commit().await?;
        reminded += 1;
    }
    Ok(reminded)
}

/// Updates a notification preference row (creating it), for the API.
pub async fn save_preferences(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    disabled: &BTreeSet<String>,
    quiet: Option<QuietHours>,
) -> AppResult<notification_preference::Model> {
    let row = notification_preference::Model {
        user_id,
        disabled_kinds: serde_json::json!(disabled),
        quiet_hours_start: quiet.map(|q| q.start.format("%H:%M").to_string()),
        quiet_hours_end: quiet.map(|q| q.end.format("%H:%M").to_string()),
        updated_at: now(),
    };
    let existing = notification_preference::Entity::find_by_id(user_id)
        .one(db)
        .await?;
    let mut active = row.clone().into_active_model();
    if existing.is_some() {
        active = active.reset_all();
        active.update(db).await?;
    } else {
        notification_preference::Entity::insert(active)
            .exec_without_returning(db)
            .await?;
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
    }

    #[test]
    fn quiet_hours_across_midnight_hold_until_morning_local_time() {
        let q = QuietHours {
            start: t(22, 0),
            end: t(7, 0),
        };
        // 23:30 in Chicago (CST, UTC-6) on 26 Nov = 05:30 UTC on 27 Nov.
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 5, 30, 0).unwrap();
        let until = q.held_until(at, "America/Chicago");
        assert_eq!(until, Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).single());
        // 03:00 local: held until 07:00 the same day.
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
        assert_eq!(
            q.held_until(at, "America/Chicago"),
            Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).single()
        );
        // Noon local: not held.
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0).unwrap();
        assert_eq!(q.held_until(at, "America/Chicago"), None);
    }

    #[test]
    fn quiet_hours_within_a_day() {
        let q = QuietHours {
            start: t(13, 0),
            end: t(14, 0),
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 13, 30, 0).unwrap();
        assert_eq!(
            q.held_until(at, "UTC"),
            Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).single()
        );
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap();
        assert_eq!(q.held_until(at, "UTC"), None);
    }

    #[test]
    fn quiet_hours_parse_rejects_half_and_garbage() {
        assert!(QuietHours::parse(Some("22:00"), None).is_err());
        assert!(QuietHours::parse(Some("25:00"), Some("07:00")).is_err());
        assert!(QuietHours::parse(Some("07:00"), Some("07:00")).is_err());
        assert!(matches!(QuietHours::parse(None, None), Ok(None)));
    }

    #[test]
    fn meeting_times_are_in_the_recipients_zone_and_language() {
        // 18:30 on Tuesday 8 December 2026 in Chicago (CST, UTC-6).
        let params = serde_json::json!({
            "title": "Beat 1011 community meeting",
            "when": "Tue 8 Dec 2026, 18:30 (America/Chicago)",
            "startsAt": "2026-12-09T00:30:00+00:00",
            "place": "Library",
        });
        let chicago = "America/Chicago";
        assert_eq!(
            meeting_when(&params, "en", chicago).as_deref(),
            Some("Tue, Dec 8, 6:30 PM, Library")
        );
        assert_eq!(
            meeting_when(&params, "es-MX", chicago).as_deref(),
            Some("mar 8 dic, 18:30, Library")
        );
        // The same meeting seen from Madrid (UTC+1) is past midnight, on Wednesday.
        assert_eq!(
            meeting_when(&params, "es", "Europe/Madrid").as_deref(),
            Some("mié 9 dic, 01:30, Library")
        );
        // Morning, and an unknown language, read as US English.
        let morning = serde_json::json!({ "startsAt": "2026-07-04T14:05:00Z" });
        assert_eq!(
            meeting_when(&morning, "fr", chicago).as_deref(),
            Some("Sat, Jul 4, 9:05 AM")
        );
        let (title, body) = render(NoticeKind::MeetingReminder, "es", chicago, &params);
        assert_eq!(title, "Mañana: Beat 1011 community meeting");
        assert_eq!(body, "mar 8 dic, 18:30, Library");
        // A notice written before `startsAt` existed keeps its text.
        let old = serde_json::json!({ "title": "T", "when": "Thu 18:30" });
        assert_eq!(
            render(NoticeKind::MeetingScheduled, "en", chicago, &old).1,
            "Thu 18:30"
        );
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("mañana", 10), "mañana");
        assert_eq!(shorten("mañana por la tarde", 5), "maña…");
    }
}
