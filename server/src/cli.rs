//! CLI sub-commands that are more than a line.

use std::path::Path;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::CommonConfig;
use crate::db;

/// `import-boundaries FILE`: imports precincts, beats and neighbourhoods with a
/// progress bar, then prints a summary.
pub async fn import_boundaries(common: &CommonConfig, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let collection: geojson::FeatureCollection = text
        .parse()
        .with_context(|| format!("{} is not a GeoJSON FeatureCollection", file.display()))?;
    let conn = db::connect(common, None).await?;
    db::migrate(&conn).await?;
    let bar = ProgressBar::new(collection.features.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} features {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = graphql_schema::domain::boundaries::import(&conn, collection, |done, _| {
        bar.set_position(done as u64);
    })
    .await;
    bar.finish_and_clear();
    let summary = result.map_err(graphql_schema::AppError::into_anyhow)?;
    for kind in ["precinct", "beat", "neighborhood"] {
        let get = |m: &std::collections::HashMap<&str, usize>| m.get(kind).copied().unwrap_or(0);
        println!(
            "{kind:>13}s: {} created, {} updated, {} unchanged",
            get(&summary.created),
            get(&summary.updated),
            get(&summary.unchanged)
        );
    }
    if !summary.changed_anything() {
        println!("nothing changed: the database already matches the file");
    }
    Ok(())
}
