//! Live updates over GraphQL subscriptions (served by the server over WebSocket with
//! the graphql-transport-ws protocol): a problem's changes, a beat's activity, and the
//! caller's new notifications. Authorization is that of the queries: a subscription
//! is refused at its start when the caller may not watch, and every event is checked
//! again before it is sent, so a problem that becomes hidden stops showing.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use entity::{category, notification, problem};
use futures::Stream;
use sea_orm::{DatabaseConnection, EntityTrait as _};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::api::loaders::Loaders;
use crate::api::types::Problem;
use crate::api::{parse_id, to_id};
use crate::auth::{RequestMeta, Viewer, ViewerCell, load_principal, policy};
use crate::context::{ApiContext, api, viewer};
use crate::domain::live::{LiveEvent, LiveHub, LiveReceiver};
use crate::domain::{catalog, problems};
use crate::error::{AppError, AppResult};

/// A WebSocket connection whose `connection_init` was accepted.
pub struct LiveConnection {
    /// What the server attaches to the connection: the caller (resolved now, so that a
    /// bad token refuses the connection at once rather than failing every
    /// subscription), and loaders for the types that subscriptions return.
    pub data: async_graphql::Data,
    /// The signed-in caller, when a token was given.
    pub session: Option<LiveSession>,
}

/// The session a live connection was opened with. The connection lives no longer than
/// its access token, and ends with its session.
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// The user.
    pub user_id: Uuid,
    /// The session (refresh-token family) of the access token.
    pub session_id: Uuid,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// The access token, to check the session again.
    pub token: String,
}

impl LiveSession {
    /// Whether a [`DomainEvent::SessionsEnded`](crate::domain::events::DomainEvent)
    /// for `user_id` and `session_id` ends this session.
    pub fn ended_by(&self, user_id: Uuid, session_id: Option<Uuid>) -> bool {
        user_id == self.user_id && session_id.is_none_or(|s| s == self.session_id)
    }

    /// Checks again that the session is live (not signed out, not revoked, its user
    /// not erased) and its token not expired: UNAUTHENTICATED otherwise.
    pub async fn check(&self, api: &ApiContext) -> AppResult<()> {
        load_principal(&api.db, &api.keys, &self.token)
            .await
            .map(|_| ())
    }
}

/// Accepts a WebSocket connection's `connection_init`: resolves the caller of the
/// token in it (UNAUTHENTICATED when it is bad, expired or revoked) and prepares what
/// the connection's subscriptions need.
pub async fn prepare_connection(api: &ApiContext, meta: RequestMeta) -> AppResult<LiveConnection> {
    let cell = ViewerCell::default();
    let session = match (cell.get(&api.db, &api.keys, &meta).await?, &meta.bearer) {
        (Viewer::User(principal), Some(token)) => {
            let claims = api.keys.verify_access(token)?;
            let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
            // The API accepts a token a few seconds past its expiry (clock skew); a
            // connection would only be closed at once.
            if expires_at <= Utc::now() {
                return Err(AppError::Unauthenticated(
                    "the access token has expired: call `refreshSession` with your refresh token, then reconnect".into(),
                ));
            }
            Some(LiveSession {
                user_id: principal.id,
                session_id: principal.session,
                expires_at,
                token: token.clone(),
            })
        }
        _ => None,
    };
    // What `prepare_request` gives an HTTP request. The loaders' caches live as long as
    // the connection, which its token's expiry bounds for signed-in callers; they hold
    // what barely changes (categories, beats, people's public names, report photos).
    let mut data = async_graphql::Data::default();
    data.insert(Loaders::new(&api.db));
    data.insert(crate::api::meeting_loaders::MeetingLoaders::new(&api.db));
    data.insert(crate::api::problem_loaders::ProblemLoaders::new(&api.db));
    data.insert(meta);
    data.insert(cell);
    Ok(LiveConnection { data, session })
}

/// The bearer token of a `connection_init` payload: `{"authorization": "Bearer …"}`
/// (any case) or `{"accessToken": "…"}`.
pub fn bearer_from_init_payload(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let header = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.as_str())
        .map(|v| {
            let v = v.trim();
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_owned()
        });
    header.or_else(|| {
        object
            .get("accessToken")
            .and_then(|v| v.as_str())
            .map(|v| v.trim().to_owned())
    })
}

/// How a problem took part in a beat's activity.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ActivityKind {
    /// The problem was just reported.
    Reported,
    /// The problem changed (status, assignment, comment, support...).
    Changed,
}

/// A change on a beat.
#[derive(SimpleObject)]
pub struct BeatActivity {
    /// Whether the problem is new or changed.
    pub kind: ActivityKind,
    /// The problem as it is now.
    pub problem: Problem,
}

/// A notification as it arrives in the caller's inbox.
pub struct LiveNotification(pub Arc<notification::Model>);

/// A notification as it arrives in the caller's inbox.
#[Object]
impl LiveNotification {
    /// Stable id of the notification.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// What happened, e.g. `PROBLEM_STATUS_CHANGED`, `MEETING_REMINDER`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Title, in the recipient's language.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Body, in the recipient's language.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The problem it is about, when any.
    async fn problem_id(&self) -> Option<ID> {
        self.0.problem_id.map(to_id)
    }
    /// The meeting it is about, when any.
    async fn meeting_id(&self) -> Option<ID> {
        self.0.meeting_id.map(to_id)
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Live updates.
#[derive(Default)]
pub struct LiveSubscription;

/// Live updates.
#[Subscription]
impl LiveSubscription {
    /// Every change of one problem, as it happens (NOT_FOUND when the caller may not
    /// see it).
    async fn problem_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the problem to watch.")] id: ID,
    ) -> Result<impl Stream<Item = Problem> + use<>> {
        let id = parse_id(&id, "problem")?;
        let api = api(ctx)?;
        // Subscribe before checking, so that no change between the check and the first
        // event is lost.
        let events = ctx.data::<LiveHub>()?.subscribe(api);
        let viewer = viewer(ctx).await?.clone();
        problems::get(&api.db, &viewer, id).await?;
        let db = api.db.clone();
        Ok(watch(events, move |event| {
            let (viewer, db) = (viewer.clone(), db.clone());
            async move {
                match event {
                    LiveEvent::Problem { row, sensitive, .. } if row.id == id => {
                        policy::can_see_problem(&viewer, &row, sensitive)
                            .then(|| Problem((*row).clone()))
                    }
                    // Changes were missed: send the problem as it is now.
                    LiveEvent::Missed => reread(&db, &viewer, id).await,
                    _ => None,
                }
            }
        }))
    }

    /// New and changed problems of one beat, as they happen. Officers may watch only
    /// their beats and captains their precincts (FORBIDDEN otherwise); partner users
    /// see only the problems routed to their organisation; everyone sees only the
    /// problems they may see in queries.
    async fn beat_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the beat to watch.")] beat_id: ID,
    ) -> Result<impl Stream<Item = BeatActivity> + use<>> {
        let beat_id = parse_id(&beat_id, "beat")?;
        let api = api(ctx)?;
        let events = ctx.data::<LiveHub>()?.subscribe(api);
        let viewer = viewer(ctx).await?.clone();
        let beat = catalog::beat(&api.db, beat_id).await?;
        policy::require_watch_beat(&viewer, beat.id, beat.precinct_id)?;
        Ok(watch(events, move |event| {
            let viewer = viewer.clone();
            async move {
                match event {
                    LiveEvent::Problem {
                        row,
                        sensitive,
                        created,
                    } if row.beat_id == beat_id
                        && policy::shows_in_beat_activity(&viewer, &row, sensitive) =>
                    {
                        Some(BeatActivity {
                            kind: if created {
                                ActivityKind::Reported
                            } else {
                                ActivityKind::Changed
                            },
                            problem: Problem((*row).clone()),
                        })
                    }
                    _ => None,
                }
            }
        }))
    }

    /// The caller's new notifications, as they arrive (UNAUTHENTICATED without a
    /// token in the connection's `connection_init` payload).
    async fn my_notifications(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = LiveNotification> + use<>> {
        let api = api(ctx)?;
        let events = ctx.data::<LiveHub>()?.subscribe(api);
        let me: Uuid = policy::require_user(viewer(ctx).await?)?.id;
        Ok(watch(events, move |event| async move {
            match event {
                LiveEvent::Notification(n) if n.user_id == me => Some(LiveNotification(n)),
                _ => None,
            }
        }))
    }
}

/// The problem as it is now, when the viewer may still see it.
async fn reread(db: &DatabaseConnection, viewer: &Viewer, id: Uuid) -> Option<Problem> {
    let found = problem::Entity::find_by_id(id)
        .find_also_related(category::Entity)
        .one(db)
        .await;
    match found {
        Ok(Some((row, category))) => {
            let sensitive = category.is_some_and(|c| c.sensitive);
            policy::can_see_problem(viewer, &row, sensitive).then_some(Problem(row))
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "cannot re-read a problem for a live subscriber");
            None
        }
    }
}

/// The stream of `select`ed events: each live event is offered to `select`, which
/// returns what to send, if anything. Ends when the hub closes.
fn watch<T, F, Fut>(events: LiveReceiver, select: F) -> impl Stream<Item = T> + use<T, F, Fut>
where
    F: Fn(LiveEvent) -> Fut,
    Fut: Future<Output = Option<T>>,
{
    futures::stream::unfold((events, select), |(mut events, select)| async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live subscriber fell behind");
                    LiveEvent::Missed
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if let Some(item) = select(event).await {
                return Some((item, (events, select)));
            }
        }
    })
}
