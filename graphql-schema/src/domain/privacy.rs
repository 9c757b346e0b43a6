//! Privacy rules for public and open-data views.

/// Grid step, in degrees, to which public views blur the locations of sensitive
/// categories: 0.001° is about 111 m of latitude (and about 83 m of longitude at 41°N).
pub const BLUR_STEP_DEGREES: f64 = 0.001;

/// The centre of the grid cell that holds `value`, rounded to 6 decimals: every point
/// of a cell maps to the same published point.
pub fn blur(value: f64) -> f64 {
    let centre = (value / BLUR_STEP_DEGREES).floor() * BLUR_STEP_DEGREES + BLUR_STEP_DEGREES / 2.0;
    (centre * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_of_one_cell_blur_alike() {
        assert_eq!(blur(41.80312), blur(41.80388));
        assert_eq!(blur(41.80312), 41.8035);
        assert_ne!(blur(41.80312), blur(41.80412));
        assert!((blur(-87.69951) - -87.6995).abs() < 1e-9);
    }
}
