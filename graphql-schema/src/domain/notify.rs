//! The notification outbox. A change that should notify people calls [`enqueue`] inside
//! its own transaction: the in-app notifications (inbox) and one push delivery per
//! active device are written atomically with the change (a transactional outbox), and
//! the push worker delivers them later. A crash can therefore never lose one.

use std::collections::BTreeSet;

use entity::enums::DeliveryStatus;
use entity::{device, notification, push_delivery, user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::now;
use crate::error::AppResult;

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

/// Texts of a notice in a language.
fn render(kind: NoticeKind, locale: &str, params: &serde_json::Value) -> (String, String) {
    let p = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let spanish = locale.starts_with("es");
    match (kind, spanish) {
        (NoticeKind::ProblemStatusChanged, false) => (
            format!("{} is now {}", p("reference"), p("status")),
            p("title"),
        ),
        (NoticeKind::ProblemStatusChanged, true) => (
            format!("{} ahora está {}", p("reference"), p("status")),
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
            (format!("New beat meeting: {}", p("title")), p("when"))
        }
        (NoticeKind::MeetingScheduled, true) => (
            format!("Nueva reunión del sector: {}", p("title")),
            p("when"),
        ),
        (NoticeKind::MeetingChanged, false) => {
            (format!("Meeting changed: {}", p("title")), p("when"))
        }
        (NoticeKind::MeetingChanged, true) => {
            (format!("Cambio de reunión: {}", p("title")), p("when"))
        }
        (NoticeKind::MeetingCancelled, false) => {
            (format!("Meeting cancelled: {}", p("title")), p("when"))
        }
        (NoticeKind::MeetingCancelled, true) => {
            (format!("Reunión cancelada: {}", p("title")), p("when"))
        }
        (NoticeKind::MeetingReminder, false) => (format!("Tomorrow: {}", p("title")), p("when")),
        (NoticeKind::MeetingReminder, true) => (format!("Mañana: {}", p("title")), p("when")),
        (NoticeKind::ActionItemAssigned, false) => {
            (format!("New action for you: {}", p("title")), p("due"))
        }
        (NoticeKind::ActionItemAssigned, true) => {
            (format!("Nueva tarea para usted: {}", p("title")), p("due"))
        }
    }
}

/// Writes the inbox notifications and pending push deliveries of a notice, in the
/// caller's transaction. Returns the notifications written (publish
/// `DomainEvent::NotificationCreated` for each after the commit).
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
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(recipients.iter().copied()))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let devices = device::Entity::find()
        .filter(device::Column::UserId.is_in(recipients.iter().copied()))
        .filter(device::Column::DisabledAt.is_null())
        .all(db)
        .await?;
    let at = now();
    let collapse_key = notice
        .problem_id
        .map(|p| format!("problem-{p}"))
        .or_else(|| notice.meeting_id.map(|m| format!("meeting-{m}")));
    let mut notifications = Vec::with_capacity(users.len());
    let mut deliveries = Vec::new();
    for u in &users {
        let (title, body) = render(notice.kind, &u.locale, &notice.params);
        let n = notification::Model {
            id: Uuid::now_v7(),
            user_id: u.id,
            kind: notice.kind.as_str().to_owned(),
            title,
            body,
            data: notice.params.clone(),
            problem_id: notice.problem_id,
            meeting_id: notice.meeting_id,
            collapse_key: collapse_key.clone(),
            read_at: None,
            created_at: at,
        };
        for d in devices.iter().filter(|d| d.user_id == u.id) {
            deliveries.push(push_delivery::Model {
                id: Uuid::now_v7(),
                notification_id: n.id,
                device_id: d.id,
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: at,
                locked_until: None,
                last_error: None,
                sent_at: None,
                created_at: at,
                updated_at: at,
            });
        }
        notifications.push(n);
    }
    for chunk in notifications.chunks(500) {
        notification::Entity::insert_many(chunk.iter().cloned().map(|n| n.into_active_model()))
            .exec(db)
            .await?;
    }
    for chunk in deliveries.chunks(500) {
        push_delivery::Entity::insert_many(chunk.iter().cloned().map(|d| d.into_active_model()))
            .exec(db)
            .await?;
    }
    Ok(notifications)
}
