//! DataLoaders of the problem workflow's relations: people (public profiles), audited
//! reporter reads, photos. One batched statement per relation per request wave.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{audit_log, photo, problem_rating, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel as _, QueryFilter};
use uuid::Uuid;

use crate::api::loaders::{ById, ByIdLoader, Cached, LoadError, prime_cache};
use crate::domain::inputs::PageSize;
use crate::domain::problem_work::{self, TimelinePage};
use crate::domain::{now, photos};
use crate::error::AppError;

impl ById for user::Entity {
    fn id_column() -> Self::Column {
        user::Column::Id
    }
    fn id_of(model: &Self::Model) -> Uuid {
        model.id
    }
}

/// Loads the resolution rating of problems. Every key gets an entry (none when the
/// problem has no rating), so misses are cached too.
pub struct RatingsByProblem(DatabaseConnection);

impl Loader<Uuid> for RatingsByProblem {
    type Value = Option<problem_rating::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, Option<problem_rating::Model>>, LoadError> {
        let rows = problem_rating::Entity::find()
            .filter(problem_rating::Column::ProblemId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, Option<problem_rating::Model>> =
            keys.iter().map(|k| (*k, None)).collect();
        for row in rows {
            map.insert(row.problem_id, Some(row));
        }
        Ok(map)
    }
}

/// The first page of one problem's timeline, as one viewer may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimelineKey {
    /// The problem.
    pub problem: Uuid,
    /// Whether internal entries are included.
    pub internal: bool,
    /// The page size.
    pub first: PageSize,
}

/// Loads the first page of many problems' timelines, one statement per page size and
/// visibility (in practice one per request).
pub struct TimelineHeads(DatabaseConnection);

impl Loader<TimelineKey> for TimelineHeads {
    type Value = TimelinePage;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[TimelineKey],
    ) -> Result<HashMap<TimelineKey, TimelinePage>, LoadError> {
        let mut groups: HashMap<(bool, PageSize), Vec<Uuid>> = HashMap::new();
        for k in keys {
            groups
                .entry((k.internal, k.first))
                .or_default()
                .push(k.problem);
        }
        let mut out = HashMap::new();
        for ((internal, first), ids) in groups {
            let pages = problem_work::timeline_heads(&self.0, internal, &ids, first)
                .await
                .map_err(Arc::new)?;
            out.extend(pages.into_iter().map(|(problem, page)| {
                (
                    TimelineKey {
                        problem,
                        internal,
                        first,
                    },
                    page,
                )
            }));
        }
        Ok(out)
    }
}

/// One staff read of a reporter's display name, to be written to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReporterRead {
    /// The staff member reading.
    pub actor: Uuid,
    /// The problem.
    pub problem: Uuid,
    /// Its reporter.
    pub reporter: Uuid,
    /// The staff member's address.
    pub client_addr: Option<IpAddr>,
}

/// Loads reporters' display names for staff, writing one audit entry
/// (`problem.reporter.read`) per problem read, all in one statement per batch.
pub struct AuditedReporterReads(DatabaseConnection);

impl Loader<ReporterRead> for AuditedReporterReads {
    type Value = String;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ReporterRead],
    ) -> Result<HashMap<ReporterRead, String>, LoadError> {
        let err = |e: sea_orm::DbErr| Arc::new(AppError::from(e));
        let at = now();
        let entries = keys.iter().map(|k| {
            audit_log::Model {
                id: Uuid::now_v7(),
                actor_id: Some(k.actor),
                action: "problem.reporter.read".to_owned(),
                subject_type: "problem".to_owned(),
                subject_id: Some(k.problem.to_string()),
                details: serde_json::json!({ "reporterId": k.reporter }),
                client_addr: k.client_addr.map(|a| a.to_string()),
                created_at: at,
            }
            .into_active_model()
        });
        // The read is recorded before the name is handed out.
        audit_log::Entity::insert_many(entries)
            .exec_without_returning(&self.0)
            .await
            .map_err(err)?;
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().map(|k| k.reporter)))
            .all(&self.0)
            .await
            .map_err(err)?;
        let names: HashMap<Uuid, String> =
            users.into_iter().map(|u| (u.id, u.display_name)).collect();
        Ok(keys
            .iter()
            .filter_map(|k| names.get(&k.reporter).map(|n| (*k, n.clone())))
            .collect())
    }
}

/// Loads the photos of problems.
pub struct PhotosByProblem(DatabaseConnection);

impl Loader<Uuid> for PhotosByProblem {
    type Value = Vec<photo::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<photo::Model>>, LoadError> {
        let rows = photos::of_problems(&self.0, keys.iter().copied())
            .await
            .map_err(Arc::new)?;
        // Every key gets an entry, so that problems without photos are cached too.
        let mut map: HashMap<Uuid, Vec<photo::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(p) = row.problem_id {
                map.entry(p).or_default().push(row);
            }
        }
        Ok(map)
    }
}

/// The problem workflow's loaders, one set per request.
pub struct ProblemLoaders {
    /// Users by id (only public fields are ever exposed from them).
    pub users: Cached<ByIdLoader<user::Entity>>,
    /// Audited reporter reads.
    pub reporter_reads: Cached<AuditedReporterReads>,
    /// Photos by problem.
    pub photos: Cached<PhotosByProblem>,
    /// Resolution ratings by problem.
    pub ratings: Cached<RatingsByProblem>,
    /// First pages of timelines.
    pub timelines: Cached<TimelineHeads>,
}

impl ProblemLoaders {
    /// Loaders over `db`, for one request.
    pub fn new(db: &DatabaseConnection) -> Self {
        fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
            tokio::spawn(f);
        }
        Self {
            users: DataLoader::with_cache(
                ByIdLoader::new(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            reporter_reads: DataLoader::with_cache(
                AuditedReporterReads(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            photos: DataLoader::with_cache(
                PhotosByProblem(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            ratings: DataLoader::with_cache(
                RatingsByProblem(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            timelines: DataLoader::with_cache(
                TimelineHeads(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
        }
    }
}

/// Shorthand for resolvers: the request's [`ProblemLoaders`].
pub fn problem_loaders<'a>(
    ctx: &async_graphql::Context<'a>,
) -> async_graphql::Result<&'a ProblemLoaders> {
    ctx.data::<ProblemLoaders>()
}

/// Loads, one batch each, the workflow relations of a page of problems that the query
/// asks for (`assignedOfficer`, `photos`), so a page costs the same whatever its size.
pub async fn prime(
    loaders: &ProblemLoaders,
    rows: &[entity::problem::Model],
    node: &async_graphql::Lookahead<'_>,
) -> Result<(), LoadError> {
    let officers = async {
        if node.field("assignedOfficer").exists() {
            let ids = rows.iter().filter_map(|p| p.assigned_officer_id);
            prime_cache(&loaders.users, ids).await?;
        }
        Ok::<_, LoadError>(())
    };
    let photos = async {
        if node.field("photos").exists() {
            prime_cache(&loaders.photos, rows.iter().map(|p| p.id)).await?;
        }
        Ok(())
    };
    let ratings = async {
        if node.field("rating").exists() {
            prime_cache(&loaders.ratings, rows.iter().map(|p| p.id)).await?;
        }
        Ok(())
    };
    let (a, b, c) = futures::join!(officers, photos, ratings);
    a.and(b).and(c)
}

/// Primes the audited reporter reads of a page (one audit insert and one user query for
/// the whole page). Categories and beats must be primed already.
pub async fn prime_reporters(
    loaders: &crate::api::loaders::Loaders,
    workflow: &ProblemLoaders,
    viewer: &crate::auth::Viewer,
    client_addr: Option<IpAddr>,
    rows: &[entity::problem::Model],
) -> Result<(), LoadError> {
    use crate::auth::policy::{self, ProblemPlace, ReporterAccess};
    let Some(actor) = viewer.user_id() else {
        return Ok(());
    };
    let categories = loaders
        .categories
        .load_many(rows.iter().map(|p| p.category_id))
        .await?;
    let beats = loaders
        .beats
        .load_many(rows.iter().map(|p| p.beat_id))
        .await?;
    let mut reads = Vec::new();
    for p in rows {
        let (Some(reporter), Some(category), Some(beat)) = (
            p.reporter_id,
            categories.get(&p.category_id),
            beats.get(&p.beat_id),
        ) else {
            continue;
        };
        let place = ProblemPlace {
            beat_id: beat.id,
            precinct_id: beat.precinct_id,
        };
        if policy::reporter_access(viewer, p, place, category.sensitive)
            == ReporterAccess::DisplayNameAudited
        {
            reads.push(ReporterRead {
                actor,
                problem: p.id,
                reporter,
                client_addr,
            });
        }
    }
    if !reads.is_empty() {
        prime_cache(&workflow.reporter_reads, reads).await?;
    }
    Ok(())
}

/// The page size of `timeline` when every selection of it in a list query asks for a
/// first page (no `after`) of one size: then the list loads them all at once.
pub fn timeline_first_page(node: &async_graphql::Lookahead<'_>) -> Option<PageSize> {
    let mut size = None;
    for field in node.field("timeline").selection_fields() {
        let arguments = field.arguments().ok()?;
        let mut first = None;
        for (name, value) in arguments {
            match (name.as_str(), value) {
                ("after", async_graphql::Value::Null) => {}
                ("after", _) => return None,
                ("first", async_graphql::Value::Number(n)) => {
                    first = Some(i32::try_from(n.as_i64()?).ok()?);
                }
                _ => {}
            }
        }
        let this = PageSize::parse(first).ok()?;
        if size.is_some_and(|s| s != this) {
            return None;
        }
        size = Some(this);
    }
    size
}

/// Primes the first timeline page of every problem of a list page, as the viewer may
/// see it (internal entries only for staff working the problem), in one statement.
/// Categories and beats must be primed already.
pub async fn prime_timelines(
    loaders: &crate::api::loaders::Loaders,
    workflow: &ProblemLoaders,
    viewer: &crate::auth::Viewer,
    rows: &[entity::problem::Model],
    first: PageSize,
) -> Result<(), LoadError> {
    use crate::auth::policy::{self, ProblemPlace};
    let categories = loaders
        .categories
        .load_many(rows.iter().map(|p| p.category_id))
        .await?;
    let beats = loaders
        .beats
        .load_many(rows.iter().map(|p| p.beat_id))
        .await?;
    let keys: Vec<TimelineKey> = rows
        .iter()
        .filter_map(|p| {
            let category = categories.get(&p.category_id)?;
            let beat = beats.get(&p.beat_id)?;
            let place = ProblemPlace {
                beat_id: beat.id,
                precinct_id: beat.precinct_id,
            };
            Some(TimelineKey {
                problem: p.id,
                internal: policy::can_see_internal(viewer, p, place, category.sensitive),
                first,
            })
        })
        .collect();
    if !keys.is_empty() {
        prime_cache(&workflow.timelines, keys).await?;
    }
    Ok(())
}
