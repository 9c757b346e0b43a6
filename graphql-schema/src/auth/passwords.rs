//! Password hashing (argon2id) and strength rules.
//!
//! Strength uses the `zxcvbn` crate: it matches a password against lists of common
//! passwords, names and words and against keyboard patterns, which a hand-kept list
//! could not; we refuse a password it scores below 3 of 4 ("safely unguessable"
//! against online attacks) or shorter than 10 characters.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AppError, AppResult};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 10;

/// A password that meets the rules, not yet hashed.
pub struct NewPassword(String);

impl NewPassword {
    /// Checks the rules; `context` (email, display name) may not make up the password.
    pub fn parse(password: &str, context: &[&str]) -> AppResult<Self> {
        if password.chars().count() < MIN_LENGTH {
            return Err(AppError::bad_input(format!(
                "the password is too short: use at least {MIN_LENGTH} characters (a few unrelated words make a strong one)"
            )));
        }
        if password.len() > 256 {
            return Err(AppError::bad_input(
                "the password is too long: use at most 256 bytes",
            ));
        }
        let score = zxcvbn::zxcvbn(password, context).score();
        if (score as u8) < 3 {
            return Err(AppError::bad_input(
                "this password is too common or too easy to guess: avoid common passwords, names, dates and keyboard patterns; a few unrelated words work well",
            ));
        }
        Ok(Self(password.to_owned()))
    }

    /// The argon2id hash in PHC string form.
    pub fn hash(&self) -> AppResult<String> {
        hash(&self.0)
    }
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes any password (used for accounts set up by admins and the CLI too).
pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot hash a password: {e}")))
}

/// Whether `password` matches the stored hash. A malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that a failed login
/// takes as long whether or not the email is known.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-real-password-0").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        assert!(NewPassword::parse("short", &[]).is_err());
        assert!(NewPassword::parse("password123", &[]).is_err());
        assert!(NewPassword::parse("qwertyuiop", &[]).is_err());
        assert!(
            NewPassword::parse("maria.lopez@example.org", &["maria.lopez@example.org"]).is_err()
        );
        assert!(NewPassword::parse("lantern orbit pickle harbor", &[]).is_ok());
    }

    #[test]
    fn hashes_verify() {
        let h = hash("lantern orbit pickle harbor").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("lantern orbit pickle harbor", &h));
        assert!(!verify("lantern orbit pickle harbour", &h));
        assert!(!verify("x", "not a hash"));
    }
}
