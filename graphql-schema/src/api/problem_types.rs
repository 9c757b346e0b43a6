//! GraphQL types of the problem workflow: people as others see them, the timeline,
//! photos and ratings, and the resolvers behind the matching `Problem` fields.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{photo, problem, problem_event, problem_rating};
use sea_orm::EntityTrait as _;
use uuid::Uuid;

use crate::api::loaders::load_err;
use crate::api::problem_loaders::{ReporterRead, TimelineKey, problem_loaders};
use crate::api::to_id;
use crate::api::types::ProblemStatus;
use crate::auth::Viewer;
use crate::auth::policy::{self, ProblemPlace, ReporterAccess};
use crate::context::{api, loaders, meta, viewer};
use crate::domain::inputs::PageSize;
use crate::domain::photos;
use crate::domain::problem_work::{self, TimelineCursor};
use crate::error::AppError;

/// A person as others see them: a display name, nothing else (never an email, a phone
/// number or an account id).
#[derive(SimpleObject)]
pub struct PublicProfile {
    /// The name the person chose to show.
    pub display_name: String,
}

/// What happened in a timeline entry.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ProblemEventKind")]
pub enum ProblemEventKind {
    /// The problem was reported.
    Created,
    /// The status changed.
    StatusChanged,
    /// Someone commented.
    Comment,
    /// The problem was assigned to an officer or a partner organisation.
    Assigned,
    /// A duplicate was merged (into or from this problem).
    Merged,
    /// The priority changed.
    PriorityChanged,
    /// The problem was reopened after its resolution.
    Reopened,
    /// The reporter rated the resolution.
    Rated,
    /// A photo was attached.
    PhotoAdded,
}

/// Who can see a timeline entry.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Visibility")]
pub enum Visibility {
    /// Everyone who can see the problem.
    Public,
    /// Staff working the problem only.
    Internal,
}

/// Whether, and as whom, the viewer sees a problem and its place.
struct Access {
    place: ProblemPlace,
    sensitive: bool,
}

async fn access(ctx: &Context<'_>, p: &problem::Model) -> Result<Access> {
    let loaders = loaders(ctx)?;
    let (category, beat) = futures::join!(
        loaders.categories.load_one(p.category_id),
        loaders.beats.load_one(p.beat_id)
    );
    let category = category.map_err(load_err)?;
    let beat = beat.map_err(load_err)?;
    let (Some(category), Some(beat)) = (category, beat) else {
        return Err(AppError::Internal(anyhow::anyhow!("problem without category or beat")).into());
    };
    Ok(Access {
        place: ProblemPlace {
            beat_id: beat.id,
            precinct_id: beat.precinct_id,
        },
        sensitive: category.sensitive,
    })
}

/// One entry of a problem's timeline.
pub struct ProblemEvent {
    /// The entry.
    pub row: problem_event::Model,
    /// The problem's reporter, whose identity the entry must not reveal to others.
    pub reporter_id: Option<Uuid>,
    /// Whether the problem is anonymous.
    pub anonymous: bool,
}

impl ProblemEvent {
    fn is_by_reporter(&self) -> bool {
        self.row.actor_id.is_some() && self.row.actor_id == self.reporter_id
    }
}

/// One entry of a problem's timeline.
#[Object]
impl ProblemEvent {
    /// Stable id of the entry.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// What happened.
    async fn kind(&self) -> ProblemEventKind {
        self.row.kind.into()
    }
    /// Who did it. Null for entries by the reporter (unless you are the reporter) and
    /// for system entries; see `byReporter`.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PublicProfile>> {
        let Some(actor) = self.row.actor_id else {
            return Ok(None);
        };
        if self.is_by_reporter() && viewer(ctx).await?.user_id() != Some(actor) {
            return Ok(None);
        }
        let user = problem_loaders(ctx)?
            .users
            .load_one(actor)
            .await
            .map_err(load_err)?;
        Ok(user
            .filter(|u| u.deleted_at.is_none())
            .map(|u| PublicProfile {
                display_name: u.display_name,
            }))
    }
    /// Whether the problem's reporter made this entry.
    async fn by_reporter(&self) -> bool {
        self.is_by_reporter()
    }
    /// Status before a change.
    async fn from_status(&self) -> Option<ProblemStatus> {
        self.row.from_status.map(Into::into)
    }
    /// Status after a change.
    async fn to_status(&self) -> Option<ProblemStatus> {
        self.row.to_status.map(Into::into)
    }
    /// The comment or note, if any.
    async fn body(&self) -> Option<&str> {
        self.row.body.as_deref()
    }
    /// The rating given, for RATED entries.
    async fn rating(&self) -> Option<i32> {
        self.row
            .data
            .as_ref()
            .and_then(|d| d.get("rating"))
            .and_then(serde_json::Value::as_i64)
            .and_then(|r| i32::try_from(r).ok())
    }
    /// Who can see the entry.
    async fn visibility(&self) -> Visibility {
        self.row.visibility.into()
    }
    /// When it happened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// A timeline entry and its place in the list.
#[derive(SimpleObject)]
pub struct ProblemEventEdge {
    /// The entry.
    pub node: ProblemEvent,
    /// Pass as `after` to continue after this entry.
    pub cursor: String,
}

/// Where a page of a timeline sits.
#[derive(SimpleObject)]
pub struct TimelinePageInfo {
    /// Whether more entries follow: ask again with `after: endCursor`.
    pub has_next_page: bool,
    /// Cursor of the last entry of the page.
    pub end_cursor: Option<String>,
}

/// A page of a problem's timeline, oldest entry first.
#[derive(SimpleObject)]
pub struct ProblemTimelineConnection {
    /// The entries, with cursors.
    pub edges: Vec<ProblemEventEdge>,
    /// Where the page sits.
    pub page_info: TimelinePageInfo,
}

/// A photo of a problem, stripped of metadata. Fetch it from `url` (or the smaller
/// `thumbnailUrl`) with the same `Authorization` header as API calls, or from
/// `signedUrl` (`signedThumbnailUrl`) without any header until `signedUrlExpiresAt`.
pub struct Photo {
    row: photo::Model,
    /// When the signed URLs handed out with it expire.
    signed_until: DateTime<Utc>,
}

impl Photo {
    /// A photo whose signed URLs work until `signed_until`.
    pub fn new(row: photo::Model, signed_until: DateTime<Utc>) -> Self {
        Self { row, signed_until }
    }

    async fn signed(&self, ctx: &Context<'_>, thumbnail: bool) -> Result<String> {
        let api = api(ctx)?;
        Ok(photos::signed_url(
            api.photos.as_ref(),
            api.keys.photo_urls(),
            &self.row,
            thumbnail,
            self.signed_until,
        )
        .await?)
    }
}

/// A photo of a problem, stripped of metadata. Fetch it from `url` (or the smaller
/// `thumbnailUrl`) with the same `Authorization` header as API calls, or from
/// `signedUrl` (`signedThumbnailUrl`) without any header until `signedUrlExpiresAt`.
#[Object]
impl Photo {
    /// Stable id of the photo.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// MIME type: image/jpeg, image/png or image/webp.
    async fn content_type(&self) -> &str {
        &self.row.content_type
    }
    /// Width in pixels.
    async fn width(&self) -> i32 {
        self.row.width
    }
    /// Height in pixels.
    async fn height(&self) -> i32 {
        self.row.height
    }
    /// Size of the stored image in bytes.
    async fn byte_size(&self) -> i32 {
        self.row.byte_size
    }
    /// Path of the image on this server, e.g. `/photos/<id>`; send the `Authorization`
    /// header with it.
    async fn url(&self) -> String {
        format!("/photos/{}", self.row.id)
    }
    /// Path of a JPEG thumbnail (at most 320 pixels a side); send the `Authorization`
    /// header with it.
    async fn thumbnail_url(&self) -> String {
        format!("/photos/{}/thumbnail", self.row.id)
    }
    /// URL of the image that works without an `Authorization` header until
    /// `signedUrlExpiresAt`, for image loaders that cannot send one. Either an absolute
    /// URL of the object store, or a path on this server with `expires` and `signature`
    /// parameters: resolve it against the API's base URL like `url` (an absolute URL
    /// resolves to itself). Anyone who holds it can fetch the photo until it expires,
    /// so do not log or share it; once expired it answers 403: ask for the photo again.
    async fn signed_url(&self, ctx: &Context<'_>) -> Result<String> {
        self.signed(ctx, false).await
    }
    /// URL of the JPEG thumbnail that works without an `Authorization` header until
    /// `signedUrlExpiresAt`; see `signedUrl`.
    async fn signed_thumbnail_url(&self, ctx: &Context<'_>) -> Result<String> {
        self.signed(ctx, true).await
    }
    /// When `signedUrl` and `signedThumbnailUrl` stop working: a set time after they
    /// were handed out (10 minutes unless the server is configured otherwise). Ask for
    /// the photo again before then to keep loading it.
    async fn signed_url_expires_at(&self) -> DateTime<Utc> {
        self.signed_until
    }
}

/// The reporter's rating of how a problem was resolved.
pub struct ResolutionRating(pub problem_rating::Model);

/// The reporter's rating of how a problem was resolved.
#[Object]
impl ResolutionRating {
    /// 1 (poor) to 5 (excellent).
    async fn rating(&self) -> i32 {
        self.0.rating
    }
    /// What the reporter said.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
    /// When it was given.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// `Problem.reporter`: what the policy lets the viewer see; staff reads are audited.
pub async fn reporter(ctx: &Context<'_>, p: &problem::Model) -> Result<Option<PublicProfile>> {
    let Some(reporter) = p.reporter_id else {
        return Ok(None);
    };
    let viewer = viewer(ctx).await?;
    // Cheap exits first, so that anonymous reports cost nothing to hide.
    if viewer.user_id() != Some(reporter) && (p.anonymous || matches!(viewer, Viewer::Anonymous)) {
        return Ok(None);
    }
    let a = access(ctx, p).await?;
    let loaders = problem_loaders(ctx)?;
    match policy::reporter_access(viewer, p, a.place, a.sensitive) {
        ReporterAccess::Hidden => Ok(None),
        ReporterAccess::Own => {
            let user = loaders.users.load_one(reporter).await.map_err(load_err)?;
            Ok(user.map(|u| PublicProfile {
                display_name: u.display_name,
            }))
        }
        ReporterAccess::DisplayNameAudited => {
            let Some(actor) = viewer.user_id() else {
                return Ok(None);
            };
            let read = ReporterRead {
                actor,
                problem: p.id,
                reporter,
                client_addr: meta(ctx)?.client_addr,
            };
            let name = loaders
                .reporter_reads
                .load_one(read)
                .await
                .map_err(load_err)?;
            Ok(name.map(|display_name| PublicProfile { display_name }))
        }
    }
}

/// `Problem.assignedOfficer`.
pub async fn assigned_officer(
    ctx: &Context<'_>,
    p: &problem::Model,
) -> Result<Option<PublicProfile>> {
    let Some(id) = p.assigned_officer_id else {
        return Ok(None);
    };
    let user = problem_loaders(ctx)?
        .users
        .load_one(id)
        .await
        .map_err(load_err)?;
    Ok(user.map(|u| PublicProfile {
        display_name: u.display_name,
    }))
}

/// `Problem.photos`.
pub async fn photos(ctx: &Context<'_>, p: &problem::Model) -> Result<Vec<Photo>> {
    let rows = problem_loaders(ctx)?
        .photos
        .load_one(p.id)
        .await
        .map_err(load_err)?;
    let signed_until = photos::signed_url_expiry(api(ctx)?.photo_url_ttl);
    Ok(rows
        .unwrap_or_default()
        .into_iter()
        .map(|row| Photo::new(row, signed_until))
        .collect())
}

/// Whether the field being resolved belongs to an element of a list (a page of
/// problems), where the list resolver primed the loaders for the whole page.
fn in_list(ctx: &Context<'_>) -> bool {
    ctx.path_node.is_some_and(|node| {
        std::iter::once(&node)
            .chain(node.parents())
            .any(|n| matches!(n.segment, async_graphql::QueryPathSegment::Index(_)))
    })
}

/// `Problem.rating`: for the reporter and staff working the problem.
pub async fn rating(ctx: &Context<'_>, p: &problem::Model) -> Result<Option<ResolutionRating>> {
    let viewer = viewer(ctx).await?;
    let mine = viewer.user_id().is_some() && viewer.user_id() == p.reporter_id;
    if !mine {
        let a = access(ctx, p).await?;
        if !policy::can_work_problem(viewer, p, a.place, a.sensitive) {
            return Ok(None);
        }
    }
    let row = if in_list(ctx) {
        problem_loaders(ctx)?
            .ratings
            .load_one(p.id)
            .await
            .map_err(load_err)?
            .flatten()
    } else {
        problem_rating::Entity::find_by_id(p.id)
            .one(&api(ctx)?.db)
            .await
            .map_err(AppError::from)?
    };
    Ok(row.map(ResolutionRating))
}

/// `Problem.timeline`.
pub async fn timeline(
    ctx: &Context<'_>,
    p: &problem::Model,
    first: Option<i32>,
    after: Option<String>,
) -> Result<ProblemTimelineConnection> {
    let first = PageSize::parse(first)?;
    let viewer = viewer(ctx).await?;
    let a = access(ctx, p).await?;
    let internal = policy::can_see_internal(viewer, p, a.place, a.sensitive);
    // In a list, the first page is loaded for every problem at once; elsewhere (one
    // problem, a subscription's events, later pages) it is read on its own, so that a
    // long-lived connection's loaders never answer from an earlier event's cache.
    let page = match after {
        None if in_list(ctx) => problem_loaders(ctx)?
            .timelines
            .load_one(TimelineKey {
                problem: p.id,
                internal,
                first,
            })
            .await
            .map_err(load_err)?
            .unwrap_or_default(),
        after => {
            problem_work::timeline(&api(ctx)?.db, internal, p.id, first, after.as_deref()).await?
        }
    };
    let edges: Vec<ProblemEventEdge> = page
        .events
        .into_iter()
        .map(|row| ProblemEventEdge {
            cursor: TimelineCursor {
                at: row.created_at,
                id: row.id,
            }
            .encode(),
            node: ProblemEvent {
                row,
                reporter_id: p.reporter_id,
                anonymous: p.anonymous,
            },
        })
        .collect();
    Ok(ProblemTimelineConnection {
        page_info: TimelinePageInfo {
            has_next_page: page.has_next_page,
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
    })
}
