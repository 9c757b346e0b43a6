//! Importing precinct, beat and neighbourhood boundaries from a GeoJSON
//! FeatureCollection. Every feature is checked before anything is written, and the
//! whole import is one transaction: a bad file changes nothing. Rows are matched by
//! code (precincts, beats) or name (neighbourhoods), so importing the same file twice
//! changes nothing the second time.

use std::collections::HashMap;

use entity::{beat, neighborhood, neighborhood_beat, precinct};
use geo::{BoundingRect, Intersects, MultiPolygon};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _,
    QueryFilter, Set, TransactionSession as _, TransactionTrait,
};
use uuid::Uuid;

use crate::domain::geo_index::geometry_to_multipolygon;
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows created, per kind.
    pub created: HashMap<&'static str, usize>,
    /// Rows whose name, boundary or population changed, per kind.
    pub updated: HashMap<&'static str, usize>,
    /// Rows already as in the file, per kind.
    pub unchanged: HashMap<&'static str, usize>,
}

impl ImportSummary {
    fn count(&mut self, kind: &'static str, outcome: Outcome) {
        let map = match outcome {
            Outcome::Created => &mut self.created,
            Outcome::Updated => &mut self.updated,
            Outcome::Unchanged => &mut self.unchanged,
        };
        *map.entry(kind).or_default() += 1;
    }

    /// Whether the import changed anything.
    pub fn changed_anything(&self) -> bool {
        !self.created.is_empty() || !self.updated.is_empty()
    }
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

enum Kind {
    Precinct { code: String },
    Beat { code: String, precinct: String },
    Neighborhood { population: i32 },
}

struct Parsed {
    kind: Kind,
    name: String,
    geometry_json: String,
    shape: MultiPolygon<f64>,
}

fn label(index: usize, props: &serde_json::Map<String, serde_json::Value>) -> String {
    let kind = props
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or("feature");
    let id = props
        .get("code")
        .or_else(|| props.get("name"))
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    format!("feature #{} ({kind} {id})", index + 1)
}

fn parse_features(collection: geojson::FeatureCollection) -> AppResult<Vec<Parsed>> {
    let mut out = Vec::with_capacity(collection.features.len());
    for (i, feature) in collection.features.into_iter().enumerate() {
        let props = feature.properties.clone().unwrap_or_default();
        let at = label(i, &props);
        let text = |key: &str| -> AppResult<String> {
            props
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    AppError::bad_input(format!("{at}: the property `{key}` is missing"))
                })
        };
        let kind = match props.get("kind").and_then(|v| v.as_str()) {
            Some("precinct") => Kind::Precinct {
                code: text("code")?,
            },
            Some("beat") => Kind::Beat {
                code: text("code")?,
                precinct: text("precinct")?,
            },
            Some("neighborhood" | "neighbourhood") => Kind::Neighborhood {
                population: props
                    .get("population")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|p| i32::try_from(p).ok())
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| {
                        AppError::bad_input(format!(
                            "{at}: `population` must be a whole number of residents"
                        ))
                    })?,
            },
            other => {
                return Err(AppError::bad_input(format!(
                    "{at}: `kind` is {other:?}; it must be \"precinct\", \"beat\" or \"neighborhood\""
                )));
            }
        };
        let name = text("name")?;
        let geometry = feature
            .geometry
            .ok_or_else(|| AppError::bad_input(format!("{at}: the feature has no geometry")))?;
        let geometry_json = geometry.to_string();
        let shape = geometry_to_multipolygon(geometry)
            .map_err(|e| AppError::bad_input(format!("{at}: {e}")))?;
        if shape.bounding_rect().is_none() {
            return Err(AppError::bad_input(format!("{at}: the polygon is empty")));
        }
        out.push(Parsed {
            kind,
            name,
            geometry_json,
            shape,
        });
    }
    Ok(out)
}

/// Imports a FeatureCollection; `progress(done, total)` is called after each feature.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    collection: geojson::FeatureCollection,
    mut progress: impl FnMut(usize, usize),
) -> AppResult<ImportSummary> {
    let features = parse_features(collection)?;
    let total = features.len();
    let mut summary = ImportSummary::default();
    let at = now();
    let txn = crate::domain::begin_write(db).await?;
    let mut precinct_ids: HashMap<String, Uuid> = precinct::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|p| (p.code, p.id))
        .collect();
    let mut done = 0;
    // Precincts first, then beats (which name their precinct), then neighbourhoods
    // (linked to the beats they overlap).
    for pass in 0..3 {
        for f in &features {
            let outcome = match (&f.kind, pass) {
                (Kind::Precinct { code }, 0) => {
                    let existing = precinct::Entity::find()
                        .filter(precinct::Column::Code.eq(code))
                        .one(&txn)
                        .await?;
                    let (outcome, id) = match existing {
                        None => {
                            let id = Uuid::now_v7();
                            precinct::Model {
                                id,
                                code: code.clone(),
                                name: f.name.clone(),
                                boundary: Some(f.geometry_json.clone()),
                                created_at: at,
                                updated_at: at,
                            }
                            .into_active_model()
                            .insert(&txn)
                            .await?;
                            (Outcome::Created, id)
                        }
                        Some(row)
                            if row.name == f.name
                                && row.boundary.as_deref() == Some(f.geometry_json.as_str()) =>
                        {
                            (Outcome::Unchanged, row.id)
                        }
                        Some(row) => {
                            let id = row.id;
                            let mut active = row.into_active_model();
                            active.name = Set(f.name.clone());
                            active.boundary = Set(Some(f.geometry_json.clone()));
                            active.updated_at = Set(at);
                            active.update(&txn).await?;
                            (Outcome::Updated, id)
                        }
                    };
                    precinct_ids.insert(code.clone(), id);
                    summary.count("precinct", outcome);
                    true
                }
                (Kind::Beat { code, precinct }, 1) => {
                    let precinct_id = *precinct_ids.get(precinct).ok_or_else(|| {
                        AppError::bad_input(format!("beat {code}: its precinct {precinct:?} is neither in the file nor in the database"))
                    })?;
                    let existing = beat::Entity::find()
                        .filter(beat::Column::Code.eq(code))
                        .one(&txn)
                        .await?;
                    let outcome = match existing {
                        None => {
                            beat::Model {
                                id: Uuid::now_v7(),
                                precinct_id,
                                code: code.clone(),
                                name: f.name.clone(),
                                boundary: f.geometry_json.clone(),
                                created_at: at,
                                updated_at: at,
                            }
                            .into_active_model()
                            .insert(&txn)
                            .await?;
                            Outcome::Created
                        }
                        Some(row)
                            if row.name == f.name
                                && row.boundary == f.geometry_json
                                && row.precinct_id == precinct_id =>
                        {
                            Outcome::Unchanged
                        }
                        Some(row) => {
                            let mut active = row.into_active_model();
                            active.name = Set(f.name.clone());
                            active.boundary = Set(f.geometry_json.clone());
                            active.precinct_id = Set(precinct_id);
                            active.updated_at = Set(at);
                            active.update(&txn).await?;
                            Outcome::Updated
                        }
                    };
                    summary.count("beat", outcome);
                    true
                }
                (Kind::Neighborhood { population }, 2) => {
                    let existing = neighborhood::Entity::find()
                        .filter(neighborhood::Column::Name.eq(&f.name))
                        .one(&txn)
                        .await?;
                    let (outcome, id) = match existing {
                        None => {
                            let id = Uuid::now_v7();
                            neighborhood::Model {
                                id,
                                name: f.name.clone(),
                                boundary: Some(f.geometry_json.clone()),
                                population: *population,
                                created_at: at,
                                updated_at: at,
                            }
                            .into_active_model()
                            .insert(&txn)
                            .await?;
                            (Outcome::Created, id)
                        }
                        Some(row)
                            if row.population == *population
                                && row.boundary.as_deref() == Some(f.geometry_json.as_str()) =>
                        {
                            (Outcome::Unchanged, row.id)
                        }
                        Some(row) => {
                            let id = row.id;
                            let mut active = row.into_active_model();
                            active.population = Set(*population);
                            active.boundary = Set(Some(f.geometry_json.clone()));
                            active.updated_at = Set(at);
                            active.update(&txn).await?;
                            (Outcome::Updated, id)
                        }
                    };
                    link_beats(&txn, id, &f.shape).await?;
                    summary.count("neighborhood", outcome);
                    true
                }
                _ => false,
            };
            if outcome {
                done += 1;
                progress(done, total);
            }
        }
    }
    txn.commit().await?;
    Ok(summary)
}

/// Links a neighbourhood to every beat whose boundary overlaps it.
async fn link_beats(
    db: &impl ConnectionTrait,
    neighborhood_id: Uuid,
    shape: &MultiPolygon<f64>,
) -> AppResult<()> {
    let beats = beat::Entity::find().all(db).await?;
    let linked: Vec<Uuid> = neighborhood_beat::Entity::find()
        .filter(neighborhood_beat::Column::NeighborhoodId.eq(neighborhood_id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.beat_id)
        .collect();
    for b in beats {
        let Ok(beat_shape) = crate::domain::geo_index::parse_boundary(&b.boundary) else {
            continue;
        };
        let overlaps = shape.intersects(&beat_shape) && overlap_area_positive(shape, &beat_shape);
        if overlaps && !linked.contains(&b.id) {
            neighborhood_beat::Model {
                neighborhood_id,
                beat_id: b.id,
            }
            .into_active_model()
            .insert(db)
            .await?;
        } else if !overlaps && linked.contains(&b.id) {
            neighborhood_beat::Entity::delete_many()
                .filter(neighborhood_beat::Column::NeighborhoodId.eq(neighborhood_id))
                .filter(neighborhood_beat::Column::BeatId.eq(b.id))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// Whether two shapes share area, not just an edge.
fn overlap_area_positive(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    use geo::{Area, BooleanOps};
    a.intersection(b).unsigned_area() > 1e-10
}
