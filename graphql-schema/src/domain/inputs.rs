//! Values that arrive from outside, parsed once into types that cannot be invalid
//! ("parse, don't validate").

use crate::error::{AppError, AppResult};

/// A latitude in degrees, within ±90.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latitude(f64);

impl Latitude {
    /// Parses a latitude; rejects values outside ±90 and non-numbers.
    pub fn parse(value: f64) -> AppResult<Self> {
        if value.is_finite() && (-90.0..=90.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(AppError::bad_input(format!(
                "latitude {value} is out of range: it must be between -90 and 90 degrees"
            )))
        }
    }

    /// The value in degrees.
    pub fn degrees(self) -> f64 {
        self.0
    }
}

/// A longitude in degrees, within ±180.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Longitude(f64);

impl Longitude {
    /// Parses a longitude; rejects values outside ±180 and non-numbers.
    pub fn parse(value: f64) -> AppResult<Self> {
        if value.is_finite() && (-180.0..=180.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(AppError::bad_input(format!(
                "longitude {value} is out of range: it must be between -180 and 180 degrees"
            )))
        }
    }

    /// The value in degrees.
    pub fn degrees(self) -> f64 {
        self.0
    }
}

/// A point on the map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    /// North-south position.
    pub lat: Latitude,
    /// East-west position.
    pub lon: Longitude,
}

impl LatLon {
    /// Parses both coordinates.
    pub fn parse(lat: f64, lon: f64) -> AppResult<Self> {
        Ok(Self {
            lat: Latitude::parse(lat)?,
            lon: Longitude::parse(lon)?,
        })
    }
}

/// How many items one page of a connection holds: 0 to [`PageSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u64);

impl PageSize {
    /// The largest page a client may ask for.
    pub const MAX: i32 = 100;
    /// The page size when the client does not say.
    pub const DEFAULT: i32 = 20;

    /// Parses `first`; `None` means the default.
    pub fn parse(first: Option<i32>) -> AppResult<Self> {
        let first = first.unwrap_or(Self::DEFAULT);
        match u64::try_from(first) {
            Ok(n) if first <= Self::MAX => Ok(Self(n)),
            _ => Err(AppError::bad_input(format!(
                "`first` is {first}; it must be between 0 and {}",
                Self::MAX
            ))),
        }
    }

    /// The number of items.
    pub fn get(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_checked() {
        assert!(Latitude::parse(90.0).is_ok());
        assert!(Latitude::parse(-90.1).is_err());
        assert!(Latitude::parse(f64::NAN).is_err());
        assert!(Longitude::parse(-180.0).is_ok());
        assert!(Longitude::parse(180.5).is_err());
    }

    #[test]
    fn page_size_is_bounded() {
        assert_eq!(PageSize::parse(None).map(PageSize::get).ok(), Some(20));
        assert_eq!(PageSize::parse(Some(0)).map(PageSize::get).ok(), Some(0));
        assert!(PageSize::parse(Some(101)).is_err());
        assert!(PageSize::parse(Some(-1)).is_err());
    }
}
