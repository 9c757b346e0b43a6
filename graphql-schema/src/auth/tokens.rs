//! Access tokens (short-lived JWTs, HS256) and rotating refresh tokens.
//!
//! A sign-in opens a *session*: a family of refresh tokens. Each `refreshSession` spends
//! the presented refresh token and issues the next one of the family. Presenting a
//! token that was already spent means it was copied: the whole family is revoked, and
//! every access token of the session stops working at once (they carry the family id,
//! checked on every request). Refresh tokens are stored only as SHA-256 hashes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use entity::refresh_token;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _,
    QueryFilter,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::photos::PhotoUrlKey;
use crate::error::{AppError, AppResult};

/// How long an access token lives, unless the server configures otherwise
/// ([`TokenKeys::with_access_ttl`]).
pub const ACCESS_TTL: Duration = Duration::minutes(15);
/// How long a refresh token lives unused.
pub const REFRESH_TTL: Duration = Duration::days(30);

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The session (refresh-token family).
    pub sid: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// The keys that sign and check access tokens, and the key derived from the same
/// secret that signs links to photos.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl: Duration,
    photo_urls: PhotoUrlKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

impl TokenKeys {
    /// Keys from a shared secret (`BEATLINE_JWT_SECRET`).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl: ACCESS_TTL,
            photo_urls: PhotoUrlKey::derive(secret),
        }
    }

    /// The same keys, issuing access tokens that live `ttl`.
    #[must_use]
    pub fn with_access_ttl(self, ttl: Duration) -> Self {
        Self {
            access_ttl: ttl,
            ..self
        }
    }

    /// The key that signs links to photos on this server.
    pub fn photo_urls(&self) -> &PhotoUrlKey {
        &self.photo_urls
    }

    /// How long the access tokens these keys issue live.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// Signs an access token for `user` in `session`.
    pub fn issue_access(&self, user: Uuid, session: Uuid, now: DateTime<Utc>) -> AppResult<String> {
        let claims = Claims {
            sub: user,
            sid: session,
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot sign a token: {e}")))
    }

    /// Checks an access token's signature and expiry.
    pub fn verify_access(&self, token: &str) -> AppResult<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                let why = match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        "the access token has expired: call `refreshSession` with your refresh token"
                    }
                    _ => "the access token is not valid: sign in again",
                };
                AppError::Unauthenticated(why.into())
            })
    }
}

/// A fresh pair of tokens.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The JWT to send as `Authorization: Bearer`.
    pub access_token: String,
    /// The opaque token to exchange for the next pair.
    pub refresh_token: String,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn issue_in_family(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    user: Uuid,
    family: Uuid,
    now: DateTime<Utc>,
) -> AppResult<TokenPair> {
    let secret = new_refresh_secret();
    refresh_token::Model {
        id: Uuid::now_v7(),
        user_id: user,
        family_id: family,
        token_hash: hash_token(&secret),
        expires_at: now + REFRESH_TTL,
        created_at: now,
        rotated_at: None,
        revoked_at: None,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(TokenPair {
        access_token: keys.issue_access(user, family, now)?,
        refresh_token: secret,
        access_expires_at: now + keys.access_ttl,
    })
}

/// Opens a new session for `user`.
pub async fn open_session(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    user: Uuid,
    now: DateTime<Utc>,
) -> AppResult<TokenPair> {
    issue_in_family(db, keys, user, Uuid::now_v7(), now).await
}

/// Spends a refresh token and issues the next pair of its session. Returns the user id
/// with the pair.
pub async fn rotate(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    events: &dyn EventBus,
    presented: &str,
    now: DateTime<Utc>,
) -> AppResult<(Uuid, TokenPair)> {
    let invalid =
        || AppError::Unauthenticated("the refresh token is not valid: sign in again".into());
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(presented)))
        .one(db)
        .await?
    else {
        return Err(invalid());
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    // Spend the token; only one of two racing refreshes can win.
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if spent.rows_affected != 1 {
        revoke_family(db, row.family_id, now).await?;
        events.publish(DomainEvent::SessionsEnded {
            user_id: row.user_id,
            session_id: Some(row.family_id),
        });
        tracing::warn!(user = %row.user_id, family = %row.family_id, "refresh token reused; session revoked");
        return Err(AppError::Unauthenticated(
            "this refresh token was already used, so the session was ended for your safety: sign in again".into(),
        ));
    }
    let pair = issue_in_family(db, keys, row.user_id, row.family_id, now).await?;
    Ok((row.user_id, pair))
}

/// Revokes every token of a session.
pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every session of a user.
pub async fn revoke_user(
    db: &impl ConnectionTrait,
    user: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
