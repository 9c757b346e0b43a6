//! Point-in-polygon lookup of beats and neighbourhoods.
//!
//! Boundaries are stored as GeoJSON text. They change rarely (an import, an admin edit),
//! so each server keeps them parsed in memory, with bounding boxes to skip most polygons
//! at once: a lookup in a city of 300 beats tests a handful of polygons, not 300. The
//! snapshot is reloaded after [`GeoIndex::TTL`] so that edits made through another
//! replica are picked up, and at once after a local edit ([`GeoIndex::invalidate`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use geo::{BoundingRect, Contains, MultiPolygon, Point, Rect};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::domain::inputs::LatLon;
use crate::error::AppResult;

/// Parses a GeoJSON Polygon, MultiPolygon, Feature or single-feature collection into a
/// multipolygon. The error says what is wrong with the text.
pub fn parse_boundary(text: &str) -> Result<MultiPolygon<f64>, String> {
    let geojson: geojson::GeoJson = text.parse().map_err(|e| format!("not GeoJSON: {e}"))?;
    let geometry = match geojson {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(f) => f
            .geometry
            .ok_or_else(|| "the feature has no geometry".to_owned())?,
        geojson::GeoJson::FeatureCollection(_) => {
            return Err("expected a geometry, found a feature collection".to_owned());
        }
    };
    geometry_to_multipolygon(geometry)
}

/// Converts a GeoJSON geometry into a multipolygon; only Polygon and MultiPolygon are
/// boundaries.
pub fn geometry_to_multipolygon(geometry: geojson::Geometry) -> Result<MultiPolygon<f64>, String> {
    let geometry: geo::Geometry<f64> = geometry
        .try_into()
        .map_err(|e| format!("invalid geometry: {e}"))?;
    let shape = match geometry {
        geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        other => {
            return Err(format!(
                "a boundary must be a Polygon or MultiPolygon, not {}",
                geometry_kind(&other)
            ));
        }
    };
    if shape.0.iter().any(|p| p.exterior().0.len() < 4) {
        return Err("a polygon ring needs at least 4 positions".to_owned());
    }
    Ok(shape)
}

fn geometry_kind(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "a Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "a LineString",
        geo::Geometry::MultiPoint(_) => "a MultiPoint",
        geo::Geometry::MultiLineString(_) => "a MultiLineString",
        geo::Geometry::GeometryCollection(_) => "a GeometryCollection",
        _ => "another geometry type",
    }
}

/// One area with a boundary.
#[derive(Debug)]
struct Area {
    id: Uuid,
    bbox: Rect<f64>,
    shape: MultiPolygon<f64>,
}

/// A set of areas searchable by point.
#[derive(Debug, Default)]
pub struct AreaIndex {
    areas: Vec<Area>,
}

impl AreaIndex {
    /// Builds an index from `(id, GeoJSON)` pairs; boundaries that do not parse are
    /// skipped with a warning (the import refuses them, so this is only old data).
    pub fn build(rows: impl IntoIterator<Item = (Uuid, Option<String>)>) -> Self {
        let mut areas = Vec::new();
        for (id, text) in rows {
            let Some(text) = text else { continue };
            match parse_boundary(&text) {
                Ok(shape) => {
                    if let Some(bbox) = shape.bounding_rect() {
                        areas.push(Area { id, bbox, shape });
                    }
                }
                Err(error) => tracing::warn!(%id, %error, "skipping an unusable boundary"),
            }
        }
        Self { areas }
    }

    /// The first area that contains the point, if any.
    pub fn find(&self, at: LatLon) -> Option<Uuid> {
        let point = Point::new(at.lon.degrees(), at.lat.degrees());
        self.areas
            .iter()
            .filter(|a| {
                let (min, max) = (a.bbox.min(), a.bbox.max());
                point.x() >= min.x && point.x() <= max.x && point.y() >= min.y && point.y() <= max.y
            })
            .find(|a| a.shape.contains(&point))
            .map(|a| a.id)
    }

    /// How many areas the index holds.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether the index holds no area.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }
}

/// Beats and neighbourhoods, parsed.
#[derive(Debug, Default)]
pub struct GeoSnapshot {
    /// Beat boundaries.
    pub beats: AreaIndex,
    /// Neighbourhood boundaries.
    pub neighborhoods: AreaIndex,
}

/// The per-server cache of [`GeoSnapshot`].
#[derive(Debug, Default)]
pub struct GeoIndex {
    current: RwLock<Option<(Instant, Arc<GeoSnapshot>)>>,
}

impl GeoIndex {
    /// How long a snapshot is trusted before it is reloaded.
    pub const TTL: Duration = Duration::from_secs(60);

    /// The current snapshot, loading it if there is none or it is stale.
    pub async fn snapshot(&self, db: &impl ConnectionTrait) -> AppResult<Arc<GeoSnapshot>> {
        if let Some((loaded, snap)) = self.current.read().await.as_ref()
            && loaded.elapsed() < Self::TTL
        {
            return Ok(snap.clone());
        }
        let mut guard = self.current.write().await;
        if let Some((loaded, snap)) = guard.as_ref()
            && loaded.elapsed() < Self::TTL
        {
            return Ok(snap.clone());
        }
        let snap = Arc::new(load(db).await?);
        *guard = Some((Instant::now(), snap.clone()));
        Ok(snap)
    }

    /// Drops the snapshot so that the next lookup reloads it (after a boundary edit).
    pub async fn invalidate(&self) {
        *self.current.write().await = None;
    }
}

async fn load(db: &impl ConnectionTrait) -> AppResult<GeoSnapshot> {
    use entity::{beat, neighborhood};
    let beats: Vec<(Uuid, String)> = beat::Entity::find()
        .select_only()
        .column(beat::Column::Id)
        .column(beat::Column::Boundary)
        .into_tuple()
        .all(db)
        .await?;
    let neighborhoods: Vec<(Uuid, Option<String>)> = neighborhood::Entity::find()
        .select_only()
        .column(neighborhood::Column::Id)
        .column(neighborhood::Column::Boundary)
        .into_tuple()
        .all(db)
        .await?;
    Ok(GeoSnapshot {
        beats: AreaIndex::build(beats.into_iter().map(|(id, b)| (id, Some(b)))),
        neighborhoods: AreaIndex::build(neighborhoods),
    })
}

/// Which beat and neighbourhood a point lies in.
pub async fn locate(
    index: &GeoIndex,
    db: &impl ConnectionTrait,
    at: LatLon,
) -> AppResult<(Option<Uuid>, Option<Uuid>)> {
    let snap = index.snapshot(db).await?;
    Ok((snap.beats.find(at), snap.neighborhoods.find(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"#;

    #[test]
    fn finds_the_containing_area() -> Result<(), String> {
        let id = Uuid::now_v7();
        let index = AreaIndex::build([(id, Some(SQUARE.to_owned()))]);
        let inside = LatLon::parse(0.5, 0.5).map_err(|e| e.message())?;
        let outside = LatLon::parse(1.5, 0.5).map_err(|e| e.message())?;
        assert_eq!(index.find(inside), Some(id));
        assert_eq!(index.find(outside), None);
        Ok(())
    }

    #[test]
    fn rejects_non_polygons() {
        let err = parse_boundary(r#"{"type":"Point","coordinates":[0,0]}"#);
        assert!(matches!(err, Err(m) if m.contains("Point")));
    }
}
