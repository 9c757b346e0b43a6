//! `seed-problems --count N`: fills a database that already holds a city (e.g. the demo
//! city) with N generated problems, for benchmarks. Problems fall at random points inside
//! the city's beats, in every category and status (mostly closed, as in a city that has
//! used Beatline for years), with a CREATED timeline entry each. Inserts are batched and
//! committed in chunks, with a progress bar.

use anyhow::Context as _;
use chrono::{Datelike as _, Duration, Utc};
use entity::enums::{
    CategoryRoute, Priority, ProblemEventKind, ProblemStatus, UserRole, Visibility,
};
use entity::{beat, category, neighborhood, officer_beat, problem, problem_event, user};
use graphql_schema::domain::geo_index::AreaIndex;
use graphql_schema::domain::inputs::LatLon;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait, IntoActiveModel as _, QueryFilter as _,
    TransactionTrait as _,
};
use uuid::Uuid;

/// Rows per INSERT statement (well under both databases' parameter limits).
const ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 10_000;

/// Generates `count` problems.
pub async fn seed_problems(db: &DatabaseConnection, count: u64) -> anyhow::Result<()> {
    let beats = beat::Entity::find().all(db).await?;
    anyhow::ensure!(
        !beats.is_empty(),
        "the database has no beats: load a city first (`seed-demo` or `import-boundaries`)"
    );
    let neighborhoods = neighborhood::Entity::find().all(db).await?;
    let categories: Vec<category::Model> = category::Entity::find()
        .filter(category::Column::Active.eq(true))
        .all(db)
        .await?;
    anyhow::ensure!(!categories.is_empty(), "the database has no categories");
    let residents: Vec<Uuid> = user::Entity::find()
        .filter(user::Column::Role.eq(UserRole::Resident))
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    anyhow::ensure!(!residents.is_empty(), "the database has no residents");
    let officers: std::collections::HashMap<Uuid, Uuid> = officer_beat::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.beat_id, o.officer_id))
        .collect();
    let beat_index = AreaIndex::build(beats.iter().map(|b| (b.id, Some(b.boundary.clone()))));
    let nb_index = AreaIndex::build(neighborhoods.iter().map(|n| (n.id, n.boundary.clone())));
    // The area to draw points from: the bounding box of every beat.
    let mut bbox = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for b in &beats {
        let shape = graphql_schema::domain::geo_index::parse_boundary(&b.boundary)
            .map_err(|e| anyhow::anyhow!("beat {}: {e}", b.code))?;
        for poly in &shape.0 {
            for c in &poly.exterior().0 {
                bbox = (
                    bbox.0.min(c.y),
                    bbox.1.min(c.x),
                    bbox.2.max(c.y),
                    bbox.3.max(c.x),
                );
            }
        }
    }

    // Reserve a block of references for this year in one statement.
    let now = Utc::now();
    let year = now.year();
    let total = i64::try_from(count).context("count too large")?;
    let first_number = graphql_schema::domain::references::References::default()
        .reserve(db, year, total)
        .await
        .map_err(graphql_schema::AppError::into_anyhow)?;

    let bar = ProgressBar::new(count);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} problems ({per_sec}, {eta} left) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(count);
    let mut made: u64 = 0;
    while made < count {
        let batch = Ord::min(count - made, ROWS_PER_TRANSACTION as u64);
        let mut problems = Vec::with_capacity(batch as usize);
        let mut events = Vec::with_capacity(batch as usize);
        while (problems.len() as u64) < batch {
            let lat = bbox.0 + rng.random::<f64>() * (bbox.2 - bbox.0);
            let lon = bbox.1 + rng.random::<f64>() * (bbox.3 - bbox.1);
            let at = LatLon::parse(lat, lon).map_err(|e| anyhow::anyhow!(e.message()))?;
            let Some(beat_id) = beat_index.find(at) else {
                continue;
            };
            let cat = &categories[rng.random_range(0..categories.len())];
            // Spread over five years, newest densest.
            let age =
                Duration::minutes((rng.random::<f64>().powi(2) * 5.0 * 365.0 * 1440.0) as i64);
            let created_at = now - age;
            let status = if age < Duration::days(30) {
                match rng.random_range(0..10) {
                    0..4 => ProblemStatus::New,
                    4..6 => ProblemStatus::Acknowledged,
                    6..8 => ProblemStatus::InProgress,
                    _ => ProblemStatus::Resolved,
                }
            } else {
                match rng.random_range(0..100) {
                    0..2 => ProblemStatus::New,
                    2..4 => ProblemStatus::Acknowledged,
                    4..6 => ProblemStatus::InProgress,
                    6..10 => ProblemStatus::Resolved,
                    10..90 => ProblemStatus::Closed,
                    90..95 => ProblemStatus::Duplicate,
                    _ => ProblemStatus::NotActionable,
                }
            };
            // Realistic work times, so the dashboard and the equity report have
            // durations to compute: acknowledged within minutes to a few days, resolved
            // within hours to weeks (skewed short), never in the future.
            let acknowledged_at = (status != ProblemStatus::New).then(|| {
                let minutes = (rng.random::<f64>().powi(3) * 4.0 * 1440.0) as i64 + 5;
                Ord::min(created_at + Duration::minutes(minutes), now)
            });
            let resolved_at = matches!(status, ProblemStatus::Resolved | ProblemStatus::Closed)
                .then(|| {
                    let minutes = (rng.random::<f64>().powi(2) * 30.0 * 1440.0) as i64 + 60;
                    let ack = acknowledged_at.unwrap_or(created_at);
                    Ord::min(ack + Duration::minutes(minutes), now)
                });
            let closed_at = (status == ProblemStatus::Closed)
                .then(|| resolved_at.map(|r| Ord::min(r + Duration::days(3), now)))
                .flatten();
            let reporter = residents[rng.random_range(0..residents.len())];
            let id = Uuid::now_v7();
            let number = first_number + (made as i64) + problems.len() as i64;
            let police = cat.route == CategoryRoute::Police;
            problems.push(
                problem::Model {
                    id,
                    reference: graphql_schema::domain::references::format(year, number),
                    category_id: cat.id,
                    title: cat.name.clone(),
                    description: format!("{}. Generated for benchmarks.", cat.name),
                    lat,
                    lon,
                    address: None,
                    beat_id,
                    neighborhood_id: nb_index.find(at),
                    status,
                    priority: Priority::Normal,
                    reporter_id: Some(reporter),
                    anonymous: rng.random_range(0..5) == 0,
                    assigned_officer_id: (police && status != ProblemStatus::New)
                        .then(|| officers.get(&beat_id).copied())
                        .flatten(),
                    assigned_partner_id: if police { None } else { cat.partner_id },
                    due_at: Some(created_at + Duration::hours(i64::from(cat.sla_hours))),
                    duplicate_of_id: None,
                    support_count: rng.random_range(0..30),
                    version: 1,
                    created_at,
                    updated_at: closed_at
                        .or(resolved_at)
                        .or(acknowledged_at)
                        .unwrap_or(created_at),
                    acknowledged_at,
                    resolved_at,
                    closed_at,
                }
                .into_active_model(),
            );
            events.push(
                problem_event::Model {
                    id: Uuid::now_v7(),
                    problem_id: id,
                    actor_id: Some(reporter),
                    kind: ProblemEventKind::Created,
                    from_status: None,
                    to_status: Some(ProblemStatus::New),
                    body: None,
                    visibility: Visibility::Public,
                    data: None,
                    created_at,
                }
                .into_active_model(),
            );
        }
        let txn = db.begin().await?;
        for chunk in problems.chunks(ROWS_PER_STATEMENT) {
            problem::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            problem_event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        made += batch;
        bar.set_position(made);
    }
    bar.finish_and_clear();
    println!("{count} problems generated");
    Ok(())
}
