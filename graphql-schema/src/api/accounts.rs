//! Accounts in the API: `me`, sign-up and sign-in, sessions, erasure, staff set-up.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::user;

use crate::api::loaders::load_err;
use crate::api::types::Neighborhood;
use crate::api::{parse_id, to_id};
use crate::context::{api, loaders, meta, viewer};
use crate::domain::accounts::{self, Assignment, Registration};

/// The role of an account.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::UserRole")]
pub enum UserRole {
    /// A resident who reports and follows problems and joins beat meetings.
    Resident,
    /// A beat officer.
    Officer,
    /// A precinct captain.
    Captain,
    /// A member of a partner organisation.
    Partner,
    /// A city administrator.
    Admin,
}

/// The signed-in user's own account. Only `me` returns it: nobody else ever sees an
/// account's email.
pub struct Me(pub user::Model);

/// The signed-in user's own account. Only `me` returns it: nobody else ever sees an
/// account's email.
#[Object(name = "User")]
impl Me {
    /// Stable id of the account.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// The account's role.
    async fn role(&self) -> UserRole {
        self.0.role.into()
    }
    /// Name shown to others.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Sign-in email (normalised to lower case).
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Language of texts and notifications, e.g. `en` or `es`.
    async fn locale(&self) -> &str {
        &self.0.locale
    }
    /// IANA time zone, for quiet hours and meeting times.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// The neighbourhood the user lives in, if they said.
    async fn home_neighborhood(&self, ctx: &Context<'_>) -> Result<Option<Neighborhood>> {
        let Some(id) = self.0.home_neighborhood_id else {
            return Ok(None);
        };
        let loaded = loaders(ctx)?.neighborhoods.load_one(id).await;
        Ok(loaded.map_err(load_err)?.map(Neighborhood))
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A signed-in session: tokens and the account.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Short-lived JWT (15 minutes unless the server is configured otherwise; see
    /// `accessTokenExpiresAt`): send it as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// When the access token expires.
    pub access_token_expires_at: DateTime<Utc>,
    /// Long-lived, single-use token: exchange it with `refreshSession` for a new pair.
    /// Store it securely; using it twice ends the session.
    pub refresh_token: String,
    /// The signed-in account.
    pub user: Me,
}

fn payload(user: user::Model, pair: crate::auth::tokens::TokenPair) -> AuthPayload {
    AuthPayload {
        access_token: pair.access_token,
        access_token_expires_at: pair.access_expires_at,
        refresh_token: pair.refresh_token,
        user: Me(user),
    }
}

/// What a resident gives to sign up.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Email address; used to sign in, never shown to others.
    pub email: String,
    /// At least 10 characters, and not a common or easily guessed password.
    pub password: String,
    /// Name shown to others, 1 to 80 characters.
    pub display_name: String,
    /// Language, e.g. `en` or `es`; `en` when omitted.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `America/Chicago`; `UTC` when omitted.
    pub time_zone: Option<String>,
    /// The neighbourhood the resident lives in.
    pub home_neighborhood_id: Option<ID>,
}

/// What an admin gives to create a staff account.
#[derive(InputObject)]
pub struct CreateStaffAccountInput {
    /// Email address.
    pub email: String,
    /// Initial password (same rules as for residents).
    pub password: String,
    /// Name shown to others.
    pub display_name: String,
    /// OFFICER, CAPTAIN, PARTNER or ADMIN.
    pub role: UserRole,
    /// Language; `en` when omitted.
    pub locale: Option<String>,
    /// IANA time zone; `UTC` when omitted.
    pub time_zone: Option<String>,
}

/// Reads about the signed-in account.
#[derive(Default)]
pub struct AccountQuery;

/// Reads about the signed-in account.
#[Object]
impl AccountQuery {
    /// The signed-in account; UNAUTHENTICATED without a valid token.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let principal = viewer(ctx).await?.principal()?.clone();
        Ok(Me(accounts::user(&api(ctx)?.db, principal.id).await?))
    }
}

/// Sign-up, sign-in and sessions.
#[derive(Default)]
pub struct AccountMutation;

/// Sign-up, sign-in and sessions.
#[Object]
impl AccountMutation {
    /// Creates a resident account and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account.")] input: RegisterInput,
    ) -> Result<AuthPayload> {
        let api = api(ctx)?;
        let home = input
            .home_neighborhood_id
            .map(|id| parse_id(&id, "neighborhood"))
            .transpose()?;
        let registration = Registration {
            email: input.email,
            password: input.password,
            display_name: input.display_name,
            locale: input.locale,
            time_zone: input.time_zone,
            home_neighborhood_id: home,
        };
        let (user, pair) = accounts::register(&api.db, &api.keys, registration).await?;
        Ok(payload(user, pair))
    }

    /// Signs in. Throttled per account and per client address (RATE_LIMITED with
    /// `extensions.retryAfter` seconds).
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email.")] email: String,
        #[graphql(desc = "The account's password.")] password: String,
    ) -> Result<AuthPayload> {
        let api = api(ctx)?;
        let addr = meta(ctx)?.client_addr;
        let (user, pair) = accounts::login(
            &api.db,
            &api.keys,
            &api.login_limits,
            &email,
            &password,
            addr,
        )
        .await?;
        Ok(payload(user, pair))
    }

    /// Exchanges a refresh token for a new access and refresh token. Each refresh
    /// token works once: presenting a spent one ends its whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token from `login`, `register` or the last refresh.")]
        refresh_token: String,
    ) -> Result<AuthPayload> {
        let api = api(ctx)?;
        let (user, pair) =
            accounts::refresh(&api.db, &api.keys, api.events.as_ref(), &refresh_token).await?;
        Ok(payload(user, pair))
    }

    /// Ends the current session: its access and refresh tokens stop working.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let principal = viewer(ctx).await?.principal()?.clone();
        let api = api(ctx)?;
        accounts::logout(&api.db, api.events.as_ref(), &principal).await?;
        Ok(true)
    }

    /// Erases the signed-in account's personal data (email, name, password, devices).
    /// Reports stay, as anonymous reports.
    async fn delete_my_account(&self, ctx: &Context<'_>) -> Result<bool> {
        let principal = viewer(ctx).await?.principal()?.clone();
        let addr = meta(ctx)?.client_addr;
        let api = api(ctx)?;
        accounts::delete_my_account(&api.db, api.events.as_ref(), &principal, addr).await?;
        Ok(true)
    }

    /// Creates an officer, captain, partner or admin account (admins only).
    async fn create_staff_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new staff account.")] input: CreateStaffAccountInput,
    ) -> Result<Me> {
        let admin = accounts::admin(viewer(ctx).await?, "create staff accounts")?.clone();
        let registration = Registration {
            email: input.email,
            password: input.password,
            display_name: input.display_name,
            locale: input.locale,
            time_zone: input.time_zone,
            home_neighborhood_id: None,
        };
        let addr = meta(ctx)?.client_addr;
        let user = accounts::create_staff_account(
            &api(ctx)?.db,
            &admin,
            input.role.into(),
            registration,
            addr,
        )
        .await?;
        Ok(Me(user))
    }

    /// Assigns an officer to a beat (admins only). Repeating it changes nothing.
    async fn assign_officer_to_beat(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The officer's account id.")] officer_id: ID,
        #[graphql(desc = "The beat.")] beat_id: ID,
    ) -> Result<bool> {
        let assignment = Assignment::OfficerToBeat {
            officer: parse_id(&officer_id, "user")?,
            beat: parse_id(&beat_id, "beat")?,
        };
        assign(ctx, assignment).await
    }

    /// Assigns a captain to a precinct (admins only). Repeating it changes nothing.
    async fn assign_captain_to_precinct(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The captain's account id.")] captain_id: ID,
        #[graphql(desc = "The precinct.")] precinct_id: ID,
    ) -> Result<bool> {
        let assignment = Assignment::CaptainToPrecinct {
            captain: parse_id(&captain_id, "user")?,
            precinct: parse_id(&precinct_id, "precinct")?,
        };
        assign(ctx, assignment).await
    }

    /// Adds a partner user to a partner organisation (admins only).
    async fn add_partner_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner user's account id.")] user_id: ID,
        #[graphql(desc = "The partner organisation.")] partner_id: ID,
    ) -> Result<bool> {
        let assignment = Assignment::PartnerMember {
            user: parse_id(&user_id, "user")?,
            partner: parse_id(&partner_id, "partner organization")?,
        };
        assign(ctx, assignment).await
    }
}

async fn assign(ctx: &Context<'_>, assignment: Assignment) -> Result<bool> {
    let admin = accounts::admin(viewer(ctx).await?, "assign staff")?.clone();
    let addr = meta(ctx)?.client_addr;
    accounts::assign(&api(ctx)?.db, &admin, assignment, addr).await?;
    Ok(true)
}
