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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// An email address, trimmed and lower-cased so that one address is one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an email address.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let email = raw.trim().to_lowercase();
        let invalid = || {
            AppError::bad_input(format!(
                "{:?} is not a valid email address: it should look like name@example.org",
                raw.trim()
            ))
        };
        if email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid());
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 80 characters, no control characters.
pub fn display_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "the display name must be 1 to 80 characters, without line breaks",
        ));
    }
    Ok(name.to_owned())
}

/// A language tag such as `en`, `es` or `es-MX`.
pub fn locale(raw: &str) -> AppResult<String> {
    let tag = raw.trim();
    let mut parts = tag.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if lang_ok && rest_ok {
        Ok(tag.to_owned())
    } else {
        Err(AppError::bad_input(format!(
            "{tag:?} is not a language tag: use one like \"en\", \"es\" or \"es-MX\""
        )))
    }
}

/// An IANA time zone such as `America/Chicago`.
pub fn time_zone(raw: &str) -> AppResult<String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            AppError::bad_input(format!(
                "{raw:?} is not a time zone: use an IANA name like \"America/Chicago\""
            ))
        })
}

#[cfg(test)]
mod account_input_tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Maria@Example.ORG ").ok().map(|e| e.0),
            Some("maria@example.org".into())
        );
        for bad in [
            "",
            "maria",
            "maria@",
            "@example.org",
            "maria@example",
            "ma ria@example.org",
            "a@b..c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locales_and_zones() {
        assert!(locale("es-MX").is_ok());
        assert!(locale("spanish!").is_err());
        assert!(time_zone("America/Chicago").is_ok());
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
