//! Identity: who is calling. Tokens, passwords, throttling, and the authorization
//! policy that every resolver goes through ([`policy`]).

pub mod passwords;
pub mod policy;
pub mod ratelimit;
pub mod tokens;

use std::net::IpAddr;

use entity::enums::UserRole;
use entity::{captain_precinct, officer_beat, partner_member, refresh_token, user};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What the transport tells the API about a request.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The bearer token of the `Authorization` header (or the WebSocket
    /// `connection_init` payload), if any.
    pub bearer: Option<String>,
    /// The client's address, for throttling and the audit log.
    pub client_addr: Option<IpAddr>,
}

/// A signed-in user with the scopes their role gives them.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user's id.
    pub id: Uuid,
    /// The user's role.
    pub role: UserRole,
    /// The session (refresh-token family) the access token belongs to.
    pub session: Uuid,
    /// Beats an officer is assigned to.
    pub beats: Vec<Uuid>,
    /// Precincts a captain leads.
    pub precincts: Vec<Uuid>,
    /// Partner organisations a partner user belongs to.
    pub partners: Vec<Uuid>,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// Nobody signed in.
    Anonymous,
    /// A signed-in user.
    User(Principal),
}

impl Viewer {
    /// The signed-in user, or UNAUTHENTICATED.
    pub fn principal(&self) -> AppResult<&Principal> {
        match self {
            Self::User(p) => Ok(p),
            Self::Anonymous => Err(AppError::Unauthenticated(
                "sign in first: send `Authorization: Bearer <accessToken>` from `login`".into(),
            )),
        }
    }

    /// The signed-in user's id, if any.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::User(p) => Some(p.id),
            Self::Anonymous => None,
        }
    }

    /// The signed-in user's role, if any.
    pub fn role(&self) -> Option<UserRole> {
        match self {
            Self::User(p) => Some(p.role),
            Self::Anonymous => None,
        }
    }
}

/// The per-request slot in which the viewer is resolved once, on first use: a request
/// that never asks who is calling costs no statement for it.
#[derive(Debug, Default)]
pub struct ViewerCell(OnceCell<Viewer>);

impl ViewerCell {
    /// Resolves the viewer from the request's bearer token.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        keys: &tokens::TokenKeys,
        meta: &RequestMeta,
    ) -> AppResult<&Viewer> {
        self.0
            .get_or_try_init(|| async {
                match &meta.bearer {
                    None => Ok(Viewer::Anonymous),
                    Some(token) => load_principal(db, keys, token).await.map(Viewer::User),
                }
            })
            .await
    }
}

/// Checks an access token and loads its user and scopes. A token that is malformed,
/// expired, tampered with, or whose session was revoked, or whose user was erased, is
/// UNAUTHENTICATED.
pub async fn load_principal(
    db: &impl ConnectionTrait,
    keys: &tokens::TokenKeys,
    token: &str,
) -> AppResult<Principal> {
    let claims = keys.verify_access(token)?;
    let revoked = || {
        AppError::Unauthenticated(
            "this session has ended: sign in again, or call `refreshSession`".into(),
        )
    };
    // The user and the liveness of the session in one statement: a user row comes
    // back only while the token's session (refresh-token family) is not revoked.
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(refresh_token::Entity)
        .and_where(refresh_token::Column::FamilyId.eq(claims.sid))
        .and_where(refresh_token::Column::RevokedAt.is_null())
        .to_owned();
    let Some(user) = user::Entity::find_by_id(claims.sub)
        .filter(Expr::exists(live_session))
        .one(db)
        .await?
    else {
        return Err(revoked());
    };
    if user.deleted_at.is_some() {
        return Err(revoked());
    }
    let mut principal = Principal {
        id: user.id,
        role: user.role,
        session: claims.sid,
        beats: Vec::new(),
        precincts: Vec::new(),
        partners: Vec::new(),
    };
    match user.role {
        UserRole::Officer => {
            principal.beats = officer_beat::Entity::find()
                .select_only()
                .column(officer_beat::Column::BeatId)
                .filter(officer_beat::Column::OfficerId.eq(user.id))
                .into_tuple()
                .all(db)
                .await?;
        }
        UserRole::Captain => {
            principal.precincts = captain_precinct::Entity::find()
                .select_only()
                .column(captain_precinct::Column::PrecinctId)
                .filter(captain_precinct::Column::CaptainId.eq(user.id))
                .into_tuple()
                .all(db)
                .await?;
        }
        UserRole::Partner => {
            principal.partners = partner_member::Entity::find()
                .select_only()
                .column(partner_member::Column::PartnerId)
                .filter(partner_member::Column::UserId.eq(user.id))
                .into_tuple()
                .all(db)
                .await?;
        }
        UserRole::Resident | UserRole::Admin => {}
    }
    Ok(principal)
}
