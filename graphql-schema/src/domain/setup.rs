//! The city's set-up by admins: categories, partner organisations, precincts, beats and
//! neighbourhoods. Every operation is an upsert by natural key (service code, name,
//! code), so repeating it changes nothing; boundaries go through the same checks as
//! the GeoJSON import.

use std::net::IpAddr;

use entity::enums::CategoryRoute;
use entity::{beat, category, neighborhood, partner_organization, precinct};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _,
    QueryFilter, Set, TransactionSession as _, TransactionTrait, TryIntoModel as _,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::boundaries;
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// A category as an admin describes it.
#[derive(Debug, Clone)]
pub struct CategorySpec {
    /// Open311 service code: upper-case letters, digits and `_`.
    pub service_code: String,
    /// Name shown to residents.
    pub name: String,
    /// What belongs in the category.
    pub description: String,
    /// POLICE or PARTNER.
    pub route: CategoryRoute,
    /// The partner organisation, required for PARTNER routing.
    pub partner_id: Option<Uuid>,
    /// Hours to resolve.
    pub sla_hours: i32,
    /// Public-health or crisis category: hidden from police and the public.
    pub sensitive: bool,
    /// Duplicate search radius in metres.
    pub duplicate_radius_m: i32,
    /// Whether reports must describe behaviour.
    pub requires_behavior_description: bool,
    /// Whether residents can report it.
    pub active: bool,
}

fn check_category(spec: &CategorySpec) -> AppResult<()> {
    let code_ok = (2..=40).contains(&spec.service_code.len())
        && spec
            .service_code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !code_ok {
        return Err(AppError::bad_input(
            "the service code must be 2 to 40 upper-case letters, digits or underscores, e.g. STREETLIGHT_OUT",
        ));
    }
    if spec.name.trim().is_empty() || spec.name.len() > 120 {
        return Err(AppError::bad_input(
            "the category name must be 1 to 120 characters",
        ));
    }
    if !(1..=8760).contains(&spec.sla_hours) {
        return Err(AppError::bad_input(
            "slaHours must be between 1 and 8760 (one year)",
        ));
    }
    if !(10..=5000).contains(&spec.duplicate_radius_m) {
        return Err(AppError::bad_input(
            "duplicateRadiusMeters must be between 10 and 5000",
        ));
    }
    match (spec.route, spec.partner_id) {
        (CategoryRoute::Partner, None) => Err(AppError::bad_input(
            "a PARTNER category needs `partnerId`: the organisation that works it",
        )),
        (CategoryRoute::Police, Some(_)) => Err(AppError::bad_input(
            "a POLICE category cannot have a partner: drop `partnerId` or route it to PARTNER",
        )),
        (CategoryRoute::Police, None) if spec.sensitive => Err(AppError::bad_input(
            "a sensitive (public-health or crisis) category must be routed to a PARTNER, never to police",
        )),
        _ => Ok(()),
    }
}

async fn audit_setup(
    db: &impl ConnectionTrait,
    admin: &Principal,
    action: &str,
    subject_type: &str,
    subject_id: Uuid,
    details: serde_json::Value,
    client_addr: Option<IpAddr>,
) -> AppResult<()> {
    audit::record(
        db,
        AuditEntry {
            actor: Some(admin.id),
            action,
            subject_type,
            subject_id: Some(subject_id.to_string()),
            details,
            client_addr,
        },
    )
    .await
}

/// Creates or updates a category by service code.
pub async fn upsert_category<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    admin: &Principal,
    spec: CategorySpec,
    client_addr: Option<IpAddr>,
) -> AppResult<category::Model> {
    check_category(&spec)?;
    let txn = crate::domain::begin_write(db).await?;
    if let Some(partner) = spec.partner_id
        && partner_organization::Entity::find_by_id(partner)
            .one(&txn)
            .await?
            .is_none()
    {
        return Err(AppError::not_found("partner organization", partner));
    }
    let at = now();
    let existing = category::Entity::find()
        .filter(category::Column::ServiceCode.eq(&spec.service_code))
        .one(&txn)
        .await?;
    let row = match existing {
        None => {
            category::Model {
                id: Uuid::now_v7(),
                service_code: spec.service_code.clone(),
                name: spec.name.trim().to_owned(),
                description: spec.description.trim().to_owned(),
                route: spec.route,
                partner_id: spec.partner_id,
                sla_hours: spec.sla_hours,
                sensitive: spec.sensitive,
                duplicate_radius_m: spec.duplicate_radius_m,
                requires_behavior_description: spec.requires_behavior_description,
                active: spec.active,
                created_at: at,
                updated_at: at,
            }
            .into_active_model()
            .insert(&txn)
            .await?
        }
        Some(row) => {
            let mut active = row.into_active_model();
            active.name = Set(spec.name.trim().to_owned());
            active.description = Set(spec.description.trim().to_owned());
            active.route = Set(spec.route);
            active.partner_id = Set(spec.partner_id);
            active.sla_hours = Set(spec.sla_hours);
            active.sensitive = Set(spec.sensitive);
            active.duplicate_radius_m = Set(spec.duplicate_radius_m);
            active.requires_behavior_description = Set(spec.requires_behavior_description);
            active.active = Set(spec.active);
            if active.is_changed() {
                active.updated_at = Set(at);
                active.update(&txn).await?
            } else {
                active.try_into_model()?
            }
        }
    };
    audit_setup(
        &txn,
        admin,
        "setup.category",
        "category",
        row.id,
        json!({ "serviceCode": row.service_code }),
        client_addr,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Creates or updates a partner organisation by name.
pub async fn upsert_partner<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    admin: &Principal,
    name: &str,
    description: &str,
    contact_email: Option<&str>,
    client_addr: Option<IpAddr>,
) -> AppResult<partner_organization::Model> {
    let name = name.trim();
    if name.is_empty() || name.len() > 120 {
        return Err(AppError::bad_input(
            "the organisation name must be 1 to 120 characters",
        ));
    }
    let contact = contact_email
        .map(crate::domain::inputs::Email::parse)
        .transpose()?
        .map(|e| e.as_str().to_owned());
    let txn = crate::domain::begin_write(db).await?;
    let at = now();
    let existing = partner_organization::Entity::find()
        .filter(partner_organization::Column::Name.eq(name))
        .one(&txn)
        .await?;
    let row = match existing {
        None => {
            partner_organization::Model {
                id: Uuid::now_v7(),
                name: name.to_owned(),
                description: description.trim().to_owned(),
                contact_email: contact,
                created_at: at,
                updated_at: at,
            }
            .into_active_model()
            .insert(&txn)
            .await?
        }
        Some(row) => {
            let mut active = row.into_active_model();
            active.description = Set(description.trim().to_owned());
            active.contact_email = Set(contact);
            if active.is_changed() {
                active.updated_at = Set(at);
                active.update(&txn).await?
            } else {
                active.try_into_model()?
            }
        }
    };
    audit_setup(
        &txn,
        admin,
        "setup.partner",
        "partner_organization",
        row.id,
        json!({ "name": row.name }),
        client_addr,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// An area to create or update.
#[derive(Debug, Clone)]
pub enum AreaSpec {
    /// A precinct, by code.
    Precinct {
        /// Code, e.g. `P3`.
        code: String,
        /// Name.
        name: String,
        /// GeoJSON Polygon or MultiPolygon.
        boundary: serde_json::Value,
    },
    /// A beat, by code.
    Beat {
        /// Code, e.g. `3031`.
        code: String,
        /// Name.
        name: String,
        /// The precinct's code.
        precinct_code: String,
        /// GeoJSON Polygon or MultiPolygon.
        boundary: serde_json::Value,
    },
    /// A neighbourhood, by name.
    Neighborhood {
        /// Name.
        name: String,
        /// Residents.
        population: i32,
        /// GeoJSON Polygon or MultiPolygon.
        boundary: serde_json::Value,
    },
}

/// Creates or updates one area through the boundary import (same checks, same
/// idempotence). Returns the id of the area.
pub async fn upsert_area<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    admin: &Principal,
    spec: AreaSpec,
    client_addr: Option<IpAddr>,
) -> AppResult<Uuid> {
    let (properties, geometry, kind) = match &spec {
        AreaSpec::Precinct {
            code,
            name,
            boundary,
        } => (
            json!({ "kind": "precinct", "code": code, "name": name }),
            boundary,
            "precinct",
        ),
        AreaSpec::Beat {
            code,
            name,
            precinct_code,
            boundary,
        } => (
            json!({ "kind": "beat", "code": code, "name": name, "precinct": precinct_code }),
            boundary,
            "beat",
        ),
        AreaSpec::Neighborhood {
            name,
            population,
            boundary,
        } => (
            json!({ "kind": "neighborhood", "name": name, "population": population }),
            boundary,
            "neighborhood",
        ),
    };
    let collection: geojson::FeatureCollection = serde_json::from_value(json!({
        "type": "FeatureCollection",
        "features": [{ "type": "Feature", "properties": properties, "geometry": geometry }],
    }))
    .map_err(|e| AppError::bad_input(format!("the boundary is not a GeoJSON geometry: {e}")))?;
    boundaries::import(db, collection, |_, _| {}).await?;
    let id = match &spec {
        AreaSpec::Precinct { code, .. } => precinct::Entity::find()
            .filter(precinct::Column::Code.eq(code.trim()))
            .one(db)
            .await?
            .map(|r| r.id),
        AreaSpec::Beat { code, .. } => beat::Entity::find()
            .filter(beat::Column::Code.eq(code.trim()))
            .one(db)
            .await?
            .map(|r| r.id),
        AreaSpec::Neighborhood { name, .. } => neighborhood::Entity::find()
            .filter(neighborhood::Column::Name.eq(name.trim()))
            .one(db)
            .await?
            .map(|r| r.id),
    }
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("an imported {kind} cannot be found")))?;
    audit_setup(db, admin, "setup.area", kind, id, properties, client_addr).await?;
    Ok(id)
}
