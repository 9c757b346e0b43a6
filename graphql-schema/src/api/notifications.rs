//! Notifications in the API: push devices, the inbox, and preferences. Every operation
//! acts on the signed-in user's own rows.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{device, notification};

use crate::api::types::PageInfo;
use crate::api::{parse_id, to_id};
use crate::auth::policy;
use crate::context::{api, viewer};
use crate::domain::inbox::{self, DeviceRegistration, DeviceToken, InboxCursor, MarkRead};
use crate::domain::inputs::PageSize;
use crate::domain::notify::{NoticeKind, Preferences};
use crate::error::AppError;

/// The platform of a push device.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DevicePlatform")]
pub enum DevicePlatform {
    /// An Android phone (FCM).
    Android,
    /// An iPhone or iPad (FCM through APNs).
    Ios,
    /// A web browser (FCM web push).
    Web,
}

/// What a notification is about; each kind can be turned off for push.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::notify::NoticeKind")]
pub enum NotificationKind {
    /// A problem you reported or follow changed status.
    ProblemStatusChanged,
    /// A public comment on a problem you reported or follow.
    ProblemComment,
    /// A problem was assigned to you or your organisation.
    ProblemAssigned,
    /// A meeting was scheduled in a beat you follow.
    MeetingScheduled,
    /// A meeting you follow or answered changed.
    MeetingChanged,
    /// A meeting you follow or answered was cancelled.
    MeetingCancelled,
    /// A meeting you follow or answered starts in 24 hours.
    MeetingReminder,
    /// An action item was given to you.
    ActionItemAssigned,
}

/// A phone or browser that receives the user's push notifications.
pub struct Device(pub device::Model);

/// A phone or browser that receives the user's push notifications.
#[Object]
impl Device {
    /// Stable id of the device.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Android, iOS or web.
    async fn platform(&self) -> DevicePlatform {
        self.0.platform.into()
    }
    /// Language of the push texts on this device.
    async fn locale(&self) -> &str {
        &self.0.locale
    }
    /// Version of the app, as it said when it registered.
    async fn app_version(&self) -> Option<&str> {
        self.0.app_version.as_deref()
    }
    /// Whether pushes to it stopped (the token expired or was revoked); registering
    /// it again turns it back on.
    async fn disabled(&self) -> bool {
        self.0.disabled_at.is_some()
    }
    /// Why pushes to it stopped.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// When the app last registered it.
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.0.last_seen_at
    }
}

/// A notification in the user's inbox.
pub struct Notification(pub notification::Model);

/// A notification in the user's inbox.
#[Object]
impl Notification {
    /// Stable id of the notification.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// What it is about.
    async fn kind(&self) -> Result<NotificationKind> {
        NoticeKind::parse(&self.0.kind)
            .map(Into::into)
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("unknown notification kind {}", self.0.kind))
                    .into()
            })
    }
    /// Headline, in the user's language.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Text, in the user's language.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Values the app can use to open the right screen (reference, status, title...).
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }
    /// The problem it is about, if any.
    async fn problem_id(&self) -> Option<ID> {
        self.0.problem_id.map(to_id)
    }
    /// The meeting it is about, if any.
    async fn meeting_id(&self) -> Option<ID> {
        self.0.meeting_id.map(to_id)
    }
    /// Whether the user has read it.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
    /// When the user read it.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A notification and its place in the inbox.
#[derive(SimpleObject)]
pub struct NotificationEdge {
    /// Pass it as `after` to continue after this notification.
    pub cursor: String,
    /// The notification.
    pub node: Notification,
}

/// A page of the inbox, newest first.
#[derive(SimpleObject)]
pub struct NotificationConnection {
    /// The notifications of the page.
    pub edges: Vec<NotificationEdge>,
    /// Where the page is in the list.
    pub page_info: PageInfo,
}

/// What the user wants pushed, and when.
pub struct NotificationPreferences(pub Preferences);

/// What the user wants pushed, and when.
#[Object]
impl NotificationPreferences {
    /// Kinds that get no push; they still appear in the inbox.
    async fn disabled_kinds(&self) -> Vec<NotificationKind> {
        self.0
            .disabled
            .iter()
            .filter_map(|k| NoticeKind::parse(k))
            .map(Into::into)
            .collect()
    }
    /// Start of quiet hours ("HH:MM", the user's time zone): pushes wait until they end.
    async fn quiet_hours_start(&self) -> Option<String> {
        self.0.quiet.map(|q| q.start.format("%H:%M").to_string())
    }
    /// End of quiet hours ("HH:MM", the user's time zone).
    async fn quiet_hours_end(&self) -> Option<String> {
        self.0.quiet.map(|q| q.end.format("%H:%M").to_string())
    }
}

/// New notification preferences; they replace the old ones.
#[derive(InputObject)]
pub struct NotificationPreferencesInput {
    /// Kinds that should get no push (they still appear in the inbox); empty for all.
    pub disabled_kinds: Vec<NotificationKind>,
    /// Start of quiet hours, "HH:MM" in the user's time zone, e.g. "22:00"; omit both
    /// start and end for none.
    pub quiet_hours_start: Option<String>,
    /// End of quiet hours, "HH:MM", e.g. "07:00".
    pub quiet_hours_end: Option<String>,
}

/// The signed-in user's notifications and devices.
#[derive(Default)]
pub struct NotificationQuery;

/// The signed-in user's notifications and devices.
#[Object]
impl NotificationQuery {
    /// The user's inbox, newest first: `first` (0 to 100, default 20) after `after`.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many notifications, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` of an earlier page).")]
        after: Option<String>,
        #[graphql(desc = "Only unread notifications; false when omitted.")] unread_only: Option<
            bool,
        >,
    ) -> Result<NotificationConnection> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        let first = PageSize::parse(first)?;
        let page = inbox::list(
            &api(ctx)?.db,
            user,
            unread_only.unwrap_or(false),
            first,
            after.as_deref(),
        )
        .await?;
        let edges: Vec<NotificationEdge> = page
            .notifications
            .into_iter()
            .map(|n| NotificationEdge {
                cursor: InboxCursor::after(&n).encode(),
                node: Notification(n),
            })
            .collect();
        Ok(NotificationConnection {
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page: page.has_previous_page,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        })
    }

    /// How many of the user's notifications are unread (the badge).
    async fn unread_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        Ok(inbox::unread_count(&api(ctx)?.db, user).await?)
    }

    /// What the user wants pushed, and when.
    async fn notification_preferences(&self, ctx: &Context<'_>) -> Result<NotificationPreferences> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        Ok(NotificationPreferences(
            inbox::preferences(&api(ctx)?.db, user).await?,
        ))
    }

    /// The user's registered push devices, newest first.
    async fn my_devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        let rows = inbox::devices(&api(ctx)?.db, user).await?;
        Ok(rows.into_iter().map(Device).collect())
    }
}

/// Registering devices, reading notifications, choosing what to receive.
#[derive(Default)]
pub struct NotificationMutation;

/// Registering devices, reading notifications, choosing what to receive.
#[Object]
impl NotificationMutation {
    /// Registers this phone or browser for push notifications (call it at every app
    /// start and whenever FCM gives a new token). A token another account registered
    /// moves to the signed-in account.
    async fn register_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration token from the FCM SDK.")] token: String,
        #[graphql(desc = "Android, iOS or web.")] platform: DevicePlatform,
        #[graphql(desc = "Language of the push texts, e.g. `es`; the account's when omitted.")]
        locale: Option<String>,
        #[graphql(desc = "The app's version, e.g. `2.3.1`.")] app_version: Option<String>,
    ) -> Result<Device> {
        let principal = policy::require_user(viewer(ctx).await?)?.clone();
        let token = DeviceToken::parse(&token)?;
        let api = api(ctx)?;
        let me = crate::domain::accounts::user(&api.db, principal.id).await?;
        let registration = DeviceRegistration {
            token,
            platform: platform.into(),
            locale,
            app_version,
        };
        let row = inbox::register_device(&api.db, principal.id, &me.locale, registration).await?;
        Ok(Device(row))
    }

    /// Stops pushes to this device (call it on sign-out). False when the token is not
    /// registered to the signed-in account.
    async fn unregister_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration token given to `registerDevice`.")] token: String,
    ) -> Result<bool> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        let token = DeviceToken::parse(&token)?;
        Ok(inbox::unregister_device(&api(ctx)?.db, user, &token).await?)
    }

    /// Marks notifications read: those in `ids`, or all of them with `all: true`.
    /// Returns how many changed.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Notifications to mark read (at most 500).")] ids: Option<Vec<ID>>,
        #[graphql(desc = "Mark every unread notification read.")] all: Option<bool>,
    ) -> Result<u64> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        let which = match (ids, all.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(
                    AppError::bad_input("pass either `ids` or `all: true`, not both").into(),
                );
            }
            (None, false) => {
                return Err(AppError::bad_input(
                    "say which notifications to mark read: pass `ids`, or `all: true`",
                )
                .into());
            }
            (None, true) => MarkRead::All,
            (Some(ids), false) => MarkRead::Ids(
                ids.iter()
                    .map(|id| parse_id(id, "notification"))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(inbox::mark_read(&api(ctx)?.db, user, which).await?)
    }

    /// Replaces the user's notification preferences.
    async fn update_notification_preferences(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new preferences.")] input: NotificationPreferencesInput,
    ) -> Result<NotificationPreferences> {
        let user = policy::require_user(viewer(ctx).await?)?.id;
        let kinds = input.disabled_kinds.into_iter().map(Into::into).collect();
        let prefs = inbox::update_preferences(
            &api(ctx)?.db,
            user,
            kinds,
            input.quiet_hours_start.as_deref(),
            input.quiet_hours_end.as_deref(),
        )
        .await?;
        Ok(NotificationPreferences(prefs))
    }
}
