//! The city's set-up (admins only): categories, partner organisations and areas. Each
//! mutation is an upsert by natural key, so repeating it changes nothing.

use async_graphql::{Context, ID, InputObject, Json, Object, Result};

use crate::api::parse_id;
use crate::api::types::{
    Beat, Category, CategoryRoute, Neighborhood, PartnerOrganization, Precinct,
};
use crate::context::{api, meta, viewer};
use crate::domain::setup::{self, AreaSpec, CategorySpec};
use crate::domain::{accounts, catalog};

/// A category as an admin describes it.
#[derive(InputObject)]
pub struct CategoryInput {
    /// Open311 service code (the key): upper-case letters, digits, `_`.
    pub service_code: String,
    /// Name shown to residents.
    pub name: String,
    /// What belongs in this category.
    pub description: String,
    /// POLICE (to the beat) or PARTNER (to `partnerId`).
    pub route: CategoryRoute,
    /// The partner organisation, required for PARTNER routing.
    pub partner_id: Option<ID>,
    /// Hours within which a problem should be resolved (1 to 8760).
    pub sla_hours: i32,
    /// Public-health or crisis category: hidden from police and the public, must be
    /// routed to a partner.
    #[graphql(default)]
    pub sensitive: bool,
    /// Radius in metres for duplicate suggestions (10 to 5000).
    #[graphql(default = 150)]
    pub duplicate_radius_meters: i32,
    /// Whether reports must describe behaviour (not appearance).
    #[graphql(default)]
    pub requires_behavior_description: bool,
    /// Whether residents can report in this category.
    #[graphql(default = true)]
    pub active: bool,
}

/// A partner organisation as an admin describes it.
#[derive(InputObject)]
pub struct PartnerOrganizationInput {
    /// Name (the key).
    pub name: String,
    /// What the organisation does.
    pub description: String,
    /// Where the organisation can be reached.
    pub contact_email: Option<String>,
}

/// A precinct and its boundary.
#[derive(InputObject)]
pub struct PrecinctInput {
    /// Code (the key), e.g. `P3`.
    pub code: String,
    /// Name.
    pub name: String,
    /// GeoJSON Polygon or MultiPolygon.
    pub boundary: Json<serde_json::Value>,
}

/// A beat and its boundary.
#[derive(InputObject)]
pub struct BeatInput {
    /// Code (the key), e.g. `3031`.
    pub code: String,
    /// Name.
    pub name: String,
    /// Code of the precinct the beat belongs to.
    pub precinct_code: String,
    /// GeoJSON Polygon or MultiPolygon.
    pub boundary: Json<serde_json::Value>,
}

/// A neighbourhood and its boundary.
#[derive(InputObject)]
pub struct NeighborhoodInput {
    /// Name (the key).
    pub name: String,
    /// Number of residents.
    pub population: i32,
    /// GeoJSON Polygon or MultiPolygon.
    pub boundary: Json<serde_json::Value>,
}

/// The city's set-up (admins only).
#[derive(Default)]
pub struct SetupMutation;

/// The city's set-up (admins only).
#[Object]
impl SetupMutation {
    /// Creates or updates a category by service code.
    async fn upsert_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category.")] input: CategoryInput,
    ) -> Result<Category> {
        let admin = accounts::admin(viewer(ctx).await?, "change the city's set-up")?.clone();
        let spec = CategorySpec {
            service_code: input.service_code.trim().to_owned(),
            name: input.name,
            description: input.description,
            route: input.route.into(),
            partner_id: input
                .partner_id
                .map(|p| parse_id(&p, "partner organization"))
                .transpose()?,
            sla_hours: input.sla_hours,
            sensitive: input.sensitive,
            duplicate_radius_m: input.duplicate_radius_meters,
            requires_behavior_description: input.requires_behavior_description,
            active: input.active,
        };
        let addr = meta(ctx)?.client_addr;
        Ok(Category(
            setup::upsert_category(&api(ctx)?.db, &admin, spec, addr).await?,
        ))
    }

    /// Creates or updates a partner organisation by name.
    async fn upsert_partner_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organisation.")] input: PartnerOrganizationInput,
    ) -> Result<PartnerOrganization> {
        let admin = accounts::admin(viewer(ctx).await?, "change the city's set-up")?.clone();
        let addr = meta(ctx)?.client_addr;
        let row = setup::upsert_partner(
            &api(ctx)?.db,
            &admin,
            &input.name,
            &input.description,
            input.contact_email.as_deref(),
            addr,
        )
        .await?;
        Ok(PartnerOrganization(row))
    }

    /// Creates or updates a precinct by code.
    async fn upsert_precinct(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The precinct.")] input: PrecinctInput,
    ) -> Result<Precinct> {
        let spec = AreaSpec::Precinct {
            code: input.code,
            name: input.name,
            boundary: input.boundary.0,
        };
        let id = upsert_area(ctx, spec).await?;
        Ok(Precinct(catalog::precinct(&api(ctx)?.db, id).await?))
    }

    /// Creates or updates a beat by code.
    async fn upsert_beat(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The beat.")] input: BeatInput,
    ) -> Result<Beat> {
        let spec = AreaSpec::Beat {
            code: input.code,
            name: input.name,
            precinct_code: input.precinct_code,
            boundary: input.boundary.0,
        };
        let id = upsert_area(ctx, spec).await?;
        Ok(Beat(catalog::beat(&api(ctx)?.db, id).await?))
    }

    /// Creates or updates a neighbourhood by name.
    async fn upsert_neighborhood(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The neighbourhood.")] input: NeighborhoodInput,
    ) -> Result<Neighborhood> {
        let spec = AreaSpec::Neighborhood {
            name: input.name,
            population: input.population,
            boundary: input.boundary.0,
        };
        let id = upsert_area(ctx, spec).await?;
        Ok(Neighborhood(
            catalog::neighborhood(&api(ctx)?.db, id).await?,
        ))
    }
}

async fn upsert_area(ctx: &Context<'_>, spec: AreaSpec) -> Result<uuid::Uuid> {
    let admin = accounts::admin(viewer(ctx).await?, "change the city's set-up")?.clone();
    let addr = meta(ctx)?.client_addr;
    let api = api(ctx)?;
    let id = setup::upsert_area(&api.db, &admin, spec, addr).await?;
    // Point lookups must see the new boundary at once.
    api.geo.invalidate().await;
    Ok(id)
}
