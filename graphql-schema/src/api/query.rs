//! The query root. Resolvers are thin: parse the arguments, call a domain service,
//! wrap the rows.

use async_graphql::{
    Context, Enum, ErrorExtensions as _, ID, InputObject, Lookahead, Object, Result,
};
use chrono::{DateTime, Utc};

use crate::api::loaders::{LoadError, Loaders, prime_cache};

use crate::api::parse_id;
use crate::api::types::{
    Beat, Category, Neighborhood, PageInfo, Precinct, Problem, ProblemConnection, ProblemEdge,
    ProblemStatus,
};
use crate::context::{api, loaders, viewer};
use crate::domain::inputs::{LatLon, PageSize};
use crate::domain::{catalog, geo_index, problems};

/// Which problems to list; all conditions must hold.
#[derive(InputObject, Default)]
pub struct ProblemFilter {
    /// Only problems in this beat.
    pub beat_id: Option<ID>,
    /// Only problems in the beats of this precinct.
    pub precinct_id: Option<ID>,
    /// Only problems in this neighbourhood.
    pub neighborhood_id: Option<ID>,
    /// Only problems in one of these statuses.
    pub statuses: Option<Vec<ProblemStatus>>,
    /// Only problems of this category (by id).
    pub category_id: Option<ID>,
    /// Only problems of this category (by Open311 service code).
    pub category_code: Option<String>,
    /// Only problems assigned to me (officers) or to my organisation (partners).
    pub assigned_to_me: Option<bool>,
    /// Only problems I reported.
    pub reported_by_me: Option<bool>,
    /// Only problems within a circle.
    pub near: Option<NearInput>,
    /// Only problems changed at or after this time: for offline sync, pass the time of
    /// the last sync.
    pub updated_since: Option<DateTime<Utc>>,
}

/// A circle on the map.
#[derive(InputObject)]
pub struct NearInput {
    /// Latitude of the centre, in degrees.
    pub lat: f64,
    /// Longitude of the centre, in degrees.
    pub lon: f64,
    /// Radius in metres, 1 to 10000.
    pub radius_meters: f64,
}

impl ProblemFilter {
    fn parse(self) -> Result<problems::ProblemFilter> {
        let id = |v: Option<ID>, what| v.map(|v| parse_id(&v, what)).transpose();
        Ok(problems::ProblemFilter {
            beat_id: id(self.beat_id, "beat")?,
            precinct_id: id(self.precinct_id, "precinct")?,
            neighborhood_id: id(self.neighborhood_id, "neighborhood")?,
            statuses: self
                .statuses
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            category_id: id(self.category_id, "category")?,
            category_code: self.category_code,
            assigned_to_me: self.assigned_to_me.unwrap_or(false),
            reported_by_me: self.reported_by_me.unwrap_or(false),
            near: self
                .near
                .map(|n| problems::Near::parse(n.lat, n.lon, n.radius_meters))
                .transpose()?,
            updated_since: self.updated_since,
        })
    }
}

/// The order of a problem list.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(remote = "problems::ProblemSort")]
pub enum ProblemSort {
    /// Most recently reported first.
    #[default]
    Newest,
    /// Least recently reported first.
    Oldest,
    /// Most "me too" supporters first.
    MostSupported,
    /// Earliest due date first (problems without a due date are left out).
    DueSoonest,
    /// Most recently changed first.
    RecentlyUpdated,
}

/// Loads, in one batch each, the relations of a page of problems that the query asks
/// for, so that a page costs the same number of statements whatever its size. The
/// categories came with the page and must be in the cache already.
async fn prime_problem_relations(
    loaders: &Loaders,
    ctx_loaders: &crate::api::problem_loaders::ProblemLoaders,
    rows: &[entity::problem::Model],
    node: &Lookahead<'_>,
) -> Result<()> {
    let wants = |name: &str| node.field(name).exists();
    // `reporter`, `rating` and `timeline` judge access by category and beat.
    let judges_access = wants("reporter") || wants("rating") || wants("timeline");
    let beats = async {
        if wants("beat") || judges_access {
            prime_cache(&loaders.beats, rows.iter().map(|p| p.beat_id)).await?;
            if node.field("beat").field("precinct").exists() {
                // All cached by now: no statement, no wait.
                let beats = loaders
                    .beats
                    .load_many(rows.iter().map(|p| p.beat_id))
                    .await?;
                prime_cache(&loaders.precincts, beats.values().map(|b| b.precinct_id)).await?;
            }
        }
        Ok::<_, LoadError>(())
    };
    let neighborhoods = async {
        if wants("neighborhood") {
            let ids = rows.iter().filter_map(|p| p.neighborhood_id);
            prime_cache(&loaders.neighborhoods, ids).await?;
        }
        Ok(())
    };
    let partners = async {
        if wants("assignedPartner") {
            let ids = rows.iter().filter_map(|p| p.assigned_partner_id);
            prime_cache(&loaders.partners, ids).await?;
        }
        Ok(())
    };
    let workflow = crate::api::problem_loaders::prime(ctx_loaders, rows, node);
    let (a, b, c, d) = futures::join!(beats, neighborhoods, partners, workflow);
    a.and(b).and(c).and(d).map_err(|e| e.as_ref().extend())
}

/// The city's set-up and its problems.
#[derive(Default)]
pub struct CatalogQuery;

/// The city's set-up and its problems.
#[Object]
impl CatalogQuery {
    /// Categories a resident can report, by name.
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let rows = catalog::categories(&api(ctx)?.db).await?;
        Ok(rows.into_iter().map(Category).collect())
    }

    /// Every precinct, by code.
    async fn precincts(&self, ctx: &Context<'_>) -> Result<Vec<Precinct>> {
        let rows = catalog::precincts(&api(ctx)?.db).await?;
        Ok(rows.into_iter().map(Precinct).collect())
    }

    /// One precinct.
    async fn precinct(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the precinct.")] id: ID,
    ) -> Result<Precinct> {
        let id = parse_id(&id, "precinct")?;
        Ok(Precinct(catalog::precinct(&api(ctx)?.db, id).await?))
    }

    /// Beats by code; only those of one precinct when `precinctId` is given.
    async fn beats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the beats of this precinct.")] precinct_id: Option<ID>,
    ) -> Result<Vec<Beat>> {
        let precinct_id = precinct_id.map(|p| parse_id(&p, "precinct")).transpose()?;
        let rows = catalog::beats(&api(ctx)?.db, precinct_id).await?;
        Ok(rows.into_iter().map(Beat).collect())
    }

    /// One beat.
    async fn beat(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the beat.")] id: ID,
    ) -> Result<Beat> {
        let id = parse_id(&id, "beat")?;
        Ok(Beat(catalog::beat(&api(ctx)?.db, id).await?))
    }

    /// The beat that contains a point, or null outside the service area.
    async fn beat_at(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Latitude in degrees, -90 to 90.")] lat: f64,
        #[graphql(desc = "Longitude in degrees, -180 to 180.")] lon: f64,
    ) -> Result<Option<Beat>> {
        let at = LatLon::parse(lat, lon)?;
        let api = api(ctx)?;
        let (beat_id, _) = geo_index::locate(&api.geo, &api.db, at).await?;
        match beat_id {
            Some(id) => Ok(Some(Beat(catalog::beat(&api.db, id).await?))),
            None => Ok(None),
        }
    }

    /// Every neighbourhood, by name.
    async fn neighborhoods(&self, ctx: &Context<'_>) -> Result<Vec<Neighborhood>> {
        let rows = catalog::neighborhoods(&api(ctx)?.db).await?;
        Ok(rows.into_iter().map(Neighborhood).collect())
    }

    /// One neighbourhood.
    async fn neighborhood(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the neighbourhood.")] id: ID,
    ) -> Result<Neighborhood> {
        let id = parse_id(&id, "neighborhood")?;
        Ok(Neighborhood(
            catalog::neighborhood(&api(ctx)?.db, id).await?,
        ))
    }

    /// One problem.
    async fn problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the problem.")] id: ID,
    ) -> Result<Problem> {
        let id = parse_id(&id, "problem")?;
        let viewer = viewer(ctx).await?;
        Ok(Problem(problems::get(&api(ctx)?.db, viewer, id).await?))
    }

    /// Problems matching `filter`, a page at a time: `first` (0 to 100, default 20)
    /// after the cursor `after`.
    async fn problems(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which problems; all when omitted.")] filter: Option<ProblemFilter>,
        #[graphql(desc = "The order of the list; NEWEST when omitted.")] sort: Option<ProblemSort>,
        #[graphql(desc = "How many problems, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` of an earlier page).")]
        after: Option<String>,
    ) -> Result<ProblemConnection> {
        let filter = filter.unwrap_or_default().parse()?;
        let first = PageSize::parse(first)?;
        let sort = sort.unwrap_or_default().into();
        let viewer = viewer(ctx).await?;
        let page = problems::list(
            &api(ctx)?.db,
            viewer,
            &filter,
            sort,
            first,
            after.as_deref(),
        )
        .await?;
        let node = ctx.look_ahead().field("edges").field("node");
        let workflow_loaders = crate::api::problem_loaders::problem_loaders(ctx)?;
        let categories = page.categories.into_iter().map(|c| (c.id, c));
        loaders(ctx)?.categories.feed_many(categories).await;
        prime_problem_relations(loaders(ctx)?, workflow_loaders, &page.problems, &node).await?;
        if let Some(first) = crate::api::problem_loaders::timeline_first_page(&node) {
            crate::api::problem_loaders::prime_timelines(
                loaders(ctx)?,
                workflow_loaders,
                viewer,
                &page.problems,
                first,
            )
            .await
            .map_err(|e| e.as_ref().extend())?;
        }
        if node.field("reporter").exists() {
            let addr = crate::context::meta(ctx)?.client_addr;
            crate::api::problem_loaders::prime_reporters(
                loaders(ctx)?,
                workflow_loaders,
                viewer,
                addr,
                &page.problems,
            )
            .await
            .map_err(|e| e.as_ref().extend())?;
        }
        let edges: Vec<ProblemEdge> = page
            .problems
            .into_iter()
            .map(|p| ProblemEdge {
                cursor: problems::ProblemCursor::after(&p, sort).encode(),
                node: Problem(p),
            })
            .collect();
        Ok(ProblemConnection {
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page: page.has_previous_page,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        })
    }
}
