//! A user's side of notifications: their push devices, their inbox, their preferences.
//! Every function acts on the signed-in user's own rows only.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::enums::{DeliveryStatus, DevicePlatform};
use entity::{device, notification, notification_preference, push_delivery};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel as _,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::inputs::PageSize;
use crate::domain::notify::{NoticeKind, Preferences, QuietHours};
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// Longest registration token accepted (FCM tokens are about 160 to 250 characters).
const MAX_TOKEN_LEN: usize = 4_096;

/// A registration token from the FCM SDK on a phone or browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceToken(String);

impl DeviceToken {
    /// Parses a token: not empty, at most 4,096 characters, no spaces or control
    /// characters.
    pub fn parse(token: &str) -> AppResult<Self> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AppError::bad_input(
                "the device token is empty: pass the registration token the FCM SDK gave the app",
            ));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AppError::bad_input(format!(
                "the device token is {} characters long; FCM tokens are at most {MAX_TOKEN_LEN}",
                token.len()
            )));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AppError::bad_input(
                "the device token contains spaces or control characters: pass it unchanged from the FCM SDK",
            ));
        }
        Ok(Self(token.to_owned()))
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an app says about the device it runs on.
#[derive(Debug, Clone)]
pub struct DeviceRegistration {
    /// The FCM registration token.
    pub token: DeviceToken,
    /// Android, iOS or web.
    pub platform: DevicePlatform,
    /// The app's language, e.g. `es`; the user's when omitted.
    pub locale: Option<String>,
    /// The app's version, e.g. `2.3.1`.
    pub app_version: Option<String>,
}

fn check_locale(locale: &str) -> AppResult<String> {
    let locale = locale.trim();
    let ok = !locale.is_empty()
        && locale.len() <= 35
        && locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(locale.to_owned())
    } else {
        Err(AppError::bad_input(format!(
            "locale {locale:?} is not a language tag: use e.g. \"en\", \"es\" or \"es-US\""
        )))
    }
}

fn check_app_version(version: &str) -> AppResult<String> {
    let version = version.trim();
    if version.is_empty() || version.len() > 64 || version.chars().any(char::is_control) {
        Err(AppError::bad_input(
            "appVersion must be 1 to 64 printable characters, e.g. \"2.3.1\"",
        ))
    } else {
        Ok(version.to_owned())
    }
}

/// Registers (or refreshes) a device for `user_id`. A token already registered moves
/// to this user and is enabled again; pending pushes of its previous owner are
/// dropped, so the new user never sees someone else's notifications.
pub async fn register_device(
    db: &DatabaseConnection,
    user_id: Uuid,
    user_locale: &str,
    registration: DeviceRegistration,
) -> AppResult<device::Model> {
    let locale = match registration.locale.as_deref() {
        Some(l) => check_locale(l)?,
        None => user_locale.to_owned(),
    };
    let app_version = registration
        .app_version
        .as_deref()
        .map(check_app_version)
        .transpose()?;
    let at = now();
    let row = device::Model {
        id: Uuid::now_v7(),
        user_id,
        token: registration.token.as_str().to_owned(),
        platform: registration.platform,
        locale,
        app_version,
        disabled_at: None,
        disabled_reason: None,
        last_seen_at: at,
        created_at: at,
        updated_at: at,
    };
    let txn = crate::domain::begin_write(db).await?;
    // An upsert, so that two registrations of one token at once cannot collide.
    device::Entity::insert(row.clone().into_active_model())
        .on_conflict(
            OnConflict::column(device::Column::Token)
                .update_columns([
                    device::Column::UserId,
                    device::Column::Platform,
                    device::Column::Locale,
                    device::Column::AppVersion,
                    device::Column::DisabledAt,
                    device::Column::DisabledReason,
                    device::Column::LastSeenAt,
                    device::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let saved = device::Entity::find()
        .filter(device::Column::Token.eq(row.token.as_str()))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("device vanished after upsert")))?;
    // Pushes still queued for someone else on this device are not for the new owner.
    push_delivery::Entity::update_many()
        .col_expr(
            push_delivery::Column::Status,
            Expr::value(DeliveryStatus::Disabled),
        )
        .col_expr(
            push_delivery::Column::LastError,
            Expr::value("the device was registered by another user"),
        )
        .col_expr(push_delivery::Column::UpdatedAt, Expr::value(at))
        .filter(push_delivery::Column::DeviceId.eq(saved.id))
        .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .filter(
            push_delivery::Column::NotificationId.in_subquery(
                Query::select()
                    .column(notification::Column::Id)
                    .from(notification::Entity)
                    .and_where(Expr::col(notification::Column::UserId).ne(user_id))
                    .to_owned(),
            ),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Removes the user's device with this token (on sign-out). Whether it was theirs; a
/// token of another user is left alone.
pub async fn unregister_device(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    token: &DeviceToken,
) -> AppResult<bool> {
    let deleted = device::Entity::delete_many()
        .filter(device::Column::Token.eq(token.as_str()))
        .filter(device::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The user's devices, newest first.
pub async fn devices(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<Vec<device::Model>> {
    Ok(device::Entity::find()
        .filter(device::Column::UserId.eq(user_id))
        .order_by_desc(device::Column::CreatedAt)
        .limit(50)
        .all(db)
        .await?)
}

/// Where an inbox page starts: the last notification of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxCursor {
    /// `created_at` of the last notification seen.
    #[serde(rename = "t")]
    pub created_at: DateTime<Utc>,
    /// Its id.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl InboxCursor {
    /// The cursor after a notification.
    pub fn after(n: &notification::Model) -> Self {
        Self {
            created_at: n.created_at,
            id: n.id,
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
                    "the cursor `after` is malformed: pass an `endCursor` from an earlier page unchanged, or omit it",
                )
            })
    }
}

/// One page of the inbox.
#[derive(Debug, Clone)]
pub struct InboxPage {
    /// Newest first.
    pub notifications: Vec<notification::Model>,
    /// Whether older notifications follow.
    pub has_next_page: bool,
    /// Whether the page started after a cursor.
    pub has_previous_page: bool,
}

/// The user's notifications, newest first, `first` after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    unread_only: bool,
    first: PageSize,
    after: Option<&str>,
) -> AppResult<InboxPage> {
    let after = after.map(InboxCursor::decode).transpose()?;
    let mut query = notification::Entity::find().filter(notification::Column::UserId.eq(user_id));
    if unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    if let Some(c) = &after {
        let (created, id) = (notification::Column::CreatedAt, notification::Column::Id);
        query = query.filter(
            Condition::any()
                .add(created.lt(c.created_at))
                .add(created.eq(c.created_at).and(id.lt(c.id))),
        );
    }
    let limit = first.get();
    let mut notifications = query
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next_page = notifications.len() as u64 > limit;
    notifications.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(InboxPage {
        notifications,
        has_next_page,
        has_previous_page: after.is_some(),
    })
}

/// How many of the user's notifications are unread.
pub async fn unread_count(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<u64> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await?)
}

/// Which notifications to mark read.
#[derive(Debug, Clone)]
pub enum MarkRead {
    /// These (ids of the user's own; others are ignored).
    Ids(Vec<Uuid>),
    /// Every unread notification of the user.
    All,
}

/// Marks notifications read; returns how many changed.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    which: MarkRead,
) -> AppResult<u64> {
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(now()))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null());
    if let MarkRead::Ids(ids) = which {
        if ids.is_empty() {
            return Ok(0);
        }
        if ids.len() > 500 {
            return Err(AppError::bad_input(format!(
                "{} ids given; mark at most 500 at a time, or pass `all: true`",
                ids.len()
            )));
        }
        update = update.filter(notification::Column::Id.is_in(ids));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// The user's preferences (defaults when never set).
pub async fn preferences(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<Preferences> {
    Ok(notification_preference::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|row| Preferences::from_row(&row))
        .unwrap_or_default())
}

/// Replaces the user's preferences: the kinds that get no push, and quiet hours.
pub async fn update_preferences(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    disabled: Vec<NoticeKind>,
    quiet_start: Option<&str>,
    quiet_end: Option<&str>,
) -> AppResult<Preferences> {
    let quiet = QuietHours::parse(quiet_start, quiet_end)?;
    let disabled: BTreeSet<String> = disabled.iter().map(|k| k.as_str().to_owned()).collect();
    crate::domain::notify::save_preferences(db, user_id, &disabled, quiet).await?;
    Ok(Preferences { disabled, quiet })
}
