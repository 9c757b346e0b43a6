//! GraphQL object types. Each wraps an entity row; the row is never exposed as is, so
//! a column can change without breaking the apps.

use async_graphql::{Context, Enum, ErrorExtensions, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{beat, category, neighborhood, partner_organization, precinct, problem};

use crate::api::loaders::{LinkKey, load_err};
use crate::api::problem_types::{
    self, Photo, ProblemTimelineConnection, PublicProfile, ResolutionRating,
};
use crate::api::to_id;
use crate::context::loaders;
use crate::error::AppError;

fn missing(what: &str) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!("dangling reference to a {what}")).extend()
}

fn boundary_json(text: Option<&str>) -> Option<Json<serde_json::Value>> {
    text.and_then(|t| serde_json::from_str(t).ok()).map(Json)
}

/// Where a category's problems are sent.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::CategoryRoute")]
pub enum CategoryRoute {
    /// To the police beat where the problem is.
    Police,
    /// To a partner organisation (public health, sanitation, outreach), never to police.
    Partner,
}

/// Where a problem is in its life.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ProblemStatus")]
pub enum ProblemStatus {
    /// Reported, not yet seen by staff.
    New,
    /// Seen by staff; work has not started.
    Acknowledged,
    /// Being worked on.
    InProgress,
    /// Fixed; the reporter may reopen it within 14 days.
    Resolved,
    /// Done for good.
    Closed,
    /// Reported already; see the original problem.
    Duplicate,
    /// Not something Beatline's staff or partners can act on.
    NotActionable,
}

/// How urgent a problem is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Priority")]
pub enum Priority {
    /// Can wait.
    Low,
    /// The usual.
    Normal,
    /// Soon.
    High,
    /// Now.
    Urgent,
}

/// A kind of problem residents can report: an Open311 service.
pub struct Category(pub category::Model);

/// A kind of problem residents can report: an Open311 service.
#[Object]
impl Category {
    /// Stable id of the category.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Open311 service code, e.g. `STREETLIGHT_OUT`; stable, use it in apps.
    async fn service_code(&self) -> &str {
        &self.0.service_code
    }
    /// Name shown to residents.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What belongs in this category.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Whether problems go to the police beat or to a partner organisation.
    async fn route(&self) -> CategoryRoute {
        self.0.route.into()
    }
    /// The partner organisation that handles this category, when routed to a partner.
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerOrganization>> {
        let Some(id) = self.0.partner_id else {
            return Ok(None);
        };
        let loaded = loaders(ctx)?.partners.load_one(id).await;
        Ok(loaded.map_err(load_err)?.map(PartnerOrganization))
    }
    /// Hours within which a problem of this category should be resolved (its SLA).
    async fn sla_hours(&self) -> i32 {
        self.0.sla_hours
    }
    /// Whether locations of this category are blurred in public views (health, crisis).
    async fn sensitive(&self) -> bool {
        self.0.sensitive
    }
    /// Radius in metres within which a new report may duplicate an open one.
    async fn duplicate_radius_meters(&self) -> i32 {
        self.0.duplicate_radius_m
    }
    /// Whether a report must describe behaviour (for "suspicious person": behaviour,
    /// never appearance).
    async fn requires_behavior_description(&self) -> bool {
        self.0.requires_behavior_description
    }
}

/// A public-health department, sanitation crew, housing office or outreach group that
/// works the problems of its categories.
pub struct PartnerOrganization(pub partner_organization::Model);

/// A public-health department, sanitation crew, housing office or outreach group that
/// works the problems of its categories.
#[Object]
impl PartnerOrganization {
    /// Stable id of the organisation.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Name of the organisation.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the organisation does.
    async fn description(&self) -> &str {
        &self.0.description
    }
}

/// A police precinct (district), led by a captain and divided into beats.
pub struct Precinct(pub precinct::Model);

/// A police precinct (district), led by a captain and divided into beats.
#[Object]
impl Precinct {
    /// Stable id of the precinct.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Short code, e.g. `P1`.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Name of the precinct.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Boundary as a GeoJSON Polygon or MultiPolygon, when known.
    async fn boundary(&self) -> Option<Json<serde_json::Value>> {
        boundary_json(self.0.boundary.as_deref())
    }
    /// The beats of the precinct, by code.
    async fn beats(&self, ctx: &Context<'_>) -> Result<Vec<Beat>> {
        let loaded = loaders(ctx)?.beats_by_precinct.load_one(self.0.id).await;
        Ok(loaded
            .map_err(load_err)?
            .unwrap_or_default()
            .into_iter()
            .map(Beat)
            .collect())
    }
}

/// A police beat: the smallest patrol area, with its own officers and community
/// meetings.
pub struct Beat(pub beat::Model);

/// A police beat: the smallest patrol area, with its own officers and community
/// meetings.
#[Object]
impl Beat {
    /// Stable id of the beat.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Beat code, e.g. `1011`; used in calendar URLs.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Name of the beat.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Boundary as a GeoJSON Polygon or MultiPolygon.
    async fn boundary(&self) -> Option<Json<serde_json::Value>> {
        boundary_json(Some(&self.0.boundary))
    }
    /// The precinct the beat belongs to.
    async fn precinct(&self, ctx: &Context<'_>) -> Result<Precinct> {
        let loaded = loaders(ctx)?.precincts.load_one(self.0.precinct_id).await;
        loaded
            .map_err(load_err)?
            .map(Precinct)
            .ok_or_else(|| missing("precinct"))
    }
    /// The neighbourhoods that overlap the beat.
    async fn neighborhoods(&self, ctx: &Context<'_>) -> Result<Vec<Neighborhood>> {
        let loaders = loaders(ctx)?;
        let ids = loaders
            .neighborhood_beats
            .load_one(LinkKey::NeighborhoodsOf(self.0.id))
            .await
            .map_err(load_err)?
            .unwrap_or_default();
        let mut rows: Vec<_> = loaders
            .neighborhoods
            .load_many(ids)
            .await
            .map_err(load_err)?
            .into_values()
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows.into_iter().map(Neighborhood).collect())
    }
}

/// A neighbourhood (community area): the community's own map, which does not line up
/// with beats. Community views and the equity report are per neighbourhood.
pub struct Neighborhood(pub neighborhood::Model);

/// A neighbourhood (community area): the community's own map, which does not line up
/// with beats. Community views and the equity report are per neighbourhood.
#[Object]
impl Neighborhood {
    /// Stable id of the neighbourhood.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Name of the neighbourhood.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Number of residents, for per-capita figures.
    async fn population(&self) -> i32 {
        self.0.population
    }
    /// Boundary as a GeoJSON Polygon or MultiPolygon, when known.
    async fn boundary(&self) -> Option<Json<serde_json::Value>> {
        boundary_json(self.0.boundary.as_deref())
    }
    /// The beats that overlap the neighbourhood, by code.
    async fn beats(&self, ctx: &Context<'_>) -> Result<Vec<Beat>> {
        let loaders = loaders(ctx)?;
        let ids = loaders
            .neighborhood_beats
            .load_one(LinkKey::BeatsOf(self.0.id))
            .await
            .map_err(load_err)?
            .unwrap_or_default();
        let mut rows: Vec<_> = loaders
            .beats
            .load_many(ids)
            .await
            .map_err(load_err)?
            .into_values()
            .collect();
        rows.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(rows.into_iter().map(Beat).collect())
    }
}

/// A neighbourhood problem reported by a resident: a broken streetlight, an abandoned
/// car, a syringe in a park.
pub struct Problem(pub problem::Model);

impl Problem {
    async fn category_row(&self, ctx: &Context<'_>) -> Result<category::Model> {
        let loaded = loaders(ctx)?.categories.load_one(self.0.category_id).await;
        loaded.map_err(load_err)?.ok_or_else(|| missing("category"))
    }
}

/// A neighbourhood problem reported by a resident: a broken streetlight, an abandoned
/// car, a syringe in a park.
#[Object]
impl Problem {
    /// Stable id of the problem.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Public reference that residents quote, e.g. `BL-2026-000123`.
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    /// Short title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the reporter described.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Latitude in degrees.
    async fn lat(&self) -> f64 {
        self.0.lat
    }
    /// Longitude in degrees.
    async fn lon(&self) -> f64 {
        self.0.lon
    }
    /// Street address, when given.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Where the problem is in its life.
    async fn status(&self) -> ProblemStatus {
        self.0.status.into()
    }
    /// How urgent it is.
    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }
    /// How many residents said "me too".
    async fn support_count(&self) -> i32 {
        self.0.support_count
    }
    /// Version for optimistic concurrency: send it back as `expectedVersion` when
    /// changing the problem.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The kind of problem.
    async fn category(&self, ctx: &Context<'_>) -> Result<Category> {
        Ok(Category(self.category_row(ctx).await?))
    }
    /// The beat where the problem is.
    async fn beat(&self, ctx: &Context<'_>) -> Result<Beat> {
        let loaded = loaders(ctx)?.beats.load_one(self.0.beat_id).await;
        loaded
            .map_err(load_err)?
            .map(Beat)
            .ok_or_else(|| missing("beat"))
    }
    /// The neighbourhood where the problem is, when it lies in one.
    async fn neighborhood(&self, ctx: &Context<'_>) -> Result<Option<Neighborhood>> {
        let Some(id) = self.0.neighborhood_id else {
            return Ok(None);
        };
        let loaded = loaders(ctx)?.neighborhoods.load_one(id).await;
        Ok(loaded.map_err(load_err)?.map(Neighborhood))
    }
    /// The partner organisation working the problem, when routed to one.
    async fn assigned_partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerOrganization>> {
        let Some(id) = self.0.assigned_partner_id else {
            return Ok(None);
        };
        let loaded = loaders(ctx)?.partners.load_one(id).await;
        Ok(loaded.map_err(load_err)?.map(PartnerOrganization))
    }
    /// When the problem should be resolved by, from its category's SLA.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// When it was reported.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When staff first acknowledged it.
    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.0.acknowledged_at
    }
    /// When it was resolved.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    /// The original problem, when this one is a duplicate.
    async fn duplicate_of_id(&self) -> Option<ID> {
        self.0.duplicate_of_id.map(to_id)
    }
    /// When it was closed (CLOSED, NOT_ACTIONABLE or DUPLICATE).
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Whether the reporter asked to stay anonymous (to everyone, staff included).
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }
    /// Who reported it: shown to the reporter, and (audited) to staff working it unless
    /// the report is anonymous. Null for everyone else.
    async fn reporter(&self, ctx: &Context<'_>) -> Result<Option<PublicProfile>> {
        problem_types::reporter(ctx, &self.0).await
    }
    /// The officer working the problem, when assigned to one.
    async fn assigned_officer(&self, ctx: &Context<'_>) -> Result<Option<PublicProfile>> {
        problem_types::assigned_officer(ctx, &self.0).await
    }
    /// Photos, oldest first.
    async fn photos(&self, ctx: &Context<'_>) -> Result<Vec<Photo>> {
        problem_types::photos(ctx, &self.0).await
    }
    /// The reporter's rating of the resolution: for the reporter and staff working it.
    async fn rating(&self, ctx: &Context<'_>) -> Result<Option<ResolutionRating>> {
        problem_types::rating(ctx, &self.0).await
    }
    /// Everything that happened to the problem, oldest first; internal entries only for
    /// staff working it.
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many entries, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` of an earlier page).")]
        after: Option<String>,
    ) -> Result<ProblemTimelineConnection> {
        problem_types::timeline(ctx, &self.0, first, after).await
    }
    /// The SARA record (beat plan priority) the problem belongs to, if adopted.
    async fn sara(&self, ctx: &Context<'_>) -> Result<Option<crate::api::sara::SaraRecord>> {
        crate::api::sara::problem_sara(ctx, self.0.id).await
    }
}

/// Where a page sits in a list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow: ask again with `after: endCursor`.
    pub has_next_page: bool,
    /// Whether items precede this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A problem and its place in a list.
#[derive(SimpleObject)]
pub struct ProblemEdge {
    /// The problem.
    pub node: Problem,
    /// Pass as `after` to continue after this problem.
    pub cursor: String,
}

/// One page of problems.
#[derive(SimpleObject)]
pub struct ProblemConnection {
    /// The problems of the page, with cursors.
    pub edges: Vec<ProblemEdge>,
    /// Where the page sits in the list.
    pub page_info: PageInfo,
}
