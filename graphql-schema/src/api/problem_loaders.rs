//! DataLoaders of the problem workflow's relations: people (public profiles), audited
//! reporter reads, photos. One batched statement per relation per request wave.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{audit_log, photo, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel as _, QueryFilter};
use uuid::Uuid;

use crate::api::loaders::{ById, ByIdLoader, Cached, LoadError};
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
            loaders.users.load_many(ids).await?;
        }
        Ok::<_, LoadError>(())
    };
    let photos = async {
        if node.field("photos").exists() {
            loaders.photos.load_many(rows.iter().map(|p| p.id)).await?;
        }
        Ok(())
    };
    let (a, b) = futures::join!(officers, photos);
    a.and(b)
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
        workflow.reporter_reads.load_many(reads).await?;
    }
    Ok(())
}
