//! Small statistics for the dashboard and the equity report, computed in Rust because
//! SQLite has no percentile functions, over the few values of one report window.

use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult};

/// The longest window a report may cover.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// A reporting window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant inside the window.
    pub from: DateTime<Utc>,
    /// First instant after the window.
    pub to: DateTime<Utc>,
}

impl Window {
    /// A window from `from` to `to`, which must be in order and at most
    /// [`MAX_WINDOW_DAYS`] apart.
    pub fn parse(from: DateTime<Utc>, to: DateTime<Utc>) -> AppResult<Self> {
        if to <= from {
            return Err(AppError::bad_input(format!(
                "`to` ({to}) must be after `from` ({from})"
            )));
        }
        if (to - from).num_days() > MAX_WINDOW_DAYS {
            return Err(AppError::bad_input(format!(
                "the window from `from` to `to` is longer than {MAX_WINDOW_DAYS} days: ask for a year or less at a time"
            )));
        }
        Ok(Self { from, to })
    }
}

/// The `q`-quantile (0 to 1) of `values` with linear interpolation between ranks (as
/// PostgreSQL's `percentile_cont`); `None` for no values. Reorders `values`.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    // Ranks are small non-negative integers here.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "rank is within 0..len"
    )]
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (_, lo_value, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let lo_value = *lo_value;
    if hi == lo {
        return Some(lo_value);
    }
    // The next rank is the smallest value above `lo`.
    let hi_value = above
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .unwrap_or(lo_value);
    Some(lo_value + (hi_value - lo_value) * (rank - lo as f64))
}

/// Median and 90th percentile of some durations, in hours.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DurationSummary {
    /// How many durations.
    pub count: usize,
    /// Their median, in hours.
    pub median_hours: Option<f64>,
    /// Their 90th percentile, in hours.
    pub p90_hours: Option<f64>,
}

impl DurationSummary {
    /// Summarises durations given in hours (reorders them).
    pub fn of(hours: &mut [f64]) -> Self {
        Self {
            count: hours.len(),
            median_hours: quantile(hours, 0.5).map(round2),
            p90_hours: quantile(hours, 0.9).map(round2),
        }
    }
}

/// Hours from `start` to `end`.
pub fn hours_between(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_seconds() as f64 / 3600.0
}

/// Rounds to two decimals, for figures shown to people.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_percentile_cont() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.5), Some(2.5));
        let mut v: Vec<f64> = (1..=10).map(f64::from).collect();
        v.reverse();
        assert!((quantile(&mut v, 0.9).unwrap() - 9.1).abs() < 1e-9);
        assert_eq!(quantile(&mut v, 0.0), Some(1.0));
        assert_eq!(quantile(&mut v, 1.0), Some(10.0));
        assert_eq!(quantile(&mut [7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn windows_must_be_ordered_and_bounded() {
        let t = Utc::now();
        assert!(Window::parse(t, t).is_err());
        assert!(Window::parse(t, t - chrono::Duration::hours(1)).is_err());
        assert!(Window::parse(t, t + chrono::Duration::days(400)).is_err());
        assert!(Window::parse(t, t + chrono::Duration::days(30)).is_ok());
    }
}
