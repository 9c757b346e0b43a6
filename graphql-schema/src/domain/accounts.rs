//! Accounts: registration, sign-in, sessions, staff set-up and erasure.

use std::net::IpAddr;

use entity::enums::UserRole;
use entity::{
    beat, captain_precinct, device, neighborhood, notification_preference, officer_beat,
    partner_member, partner_organization, precinct, problem, user,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _,
    QueryFilter, TransactionSession as _, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::passwords::{self, NewPassword};
use crate::auth::ratelimit::LoginLimits;
use crate::auth::tokens::{self, TokenKeys, TokenPair};
use crate::auth::{Principal, policy};
use crate::domain::audit::{self, AuditEntry};
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::inputs::{self, Email};
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// What `register` needs.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Email address (normalised before use).
    pub email: String,
    /// Password, checked against the rules.
    pub password: String,
    /// Name shown to others.
    pub display_name: String,
    /// Language tag, e.g. `en`.
    pub locale: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Home neighbourhood.
    pub home_neighborhood_id: Option<Uuid>,
}

/// The default language of new accounts.
pub const DEFAULT_LOCALE: &str = "en";
/// The default time zone of new accounts.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

async fn email_taken(db: &impl ConnectionTrait, email: &Email) -> AppResult<bool> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .is_some())
}

async fn create_user(
    db: &impl ConnectionTrait,
    role: UserRole,
    input: Registration,
) -> AppResult<user::Model> {
    let email = Email::parse(&input.email)?;
    let display_name = inputs::display_name(&input.display_name)?;
    let password = NewPassword::parse(&input.password, &[email.as_str(), &display_name])?;
    let locale = inputs::locale(input.locale.as_deref().unwrap_or(DEFAULT_LOCALE))?;
    let time_zone = inputs::time_zone(input.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE))?;
    if let Some(id) = input.home_neighborhood_id
        && neighborhood::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(AppError::not_found("neighborhood", id));
    }
    if email_taken(db, &email).await? {
        return Err(AppError::bad_input(
            "an account with this email already exists: sign in instead",
        ));
    }
    let at = now();
    let row = user::Model {
        id: Uuid::now_v7(),
        role,
        display_name,
        email: Some(email.as_str().to_owned()),
        phone: None,
        password_hash: Some(password.hash()?),
        locale,
        time_zone,
        home_neighborhood_id: input.home_neighborhood_id,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    match row.clone().into_active_model().insert(db).await {
        Ok(inserted) => Ok(inserted),
        Err(e) => match AppError::from(e) {
            // Two registrations raced for one email: the unique index decided.
            AppError::Conflict { .. } => Err(AppError::bad_input(
                "an account with this email already exists: sign in instead",
            )),
            other => Err(other),
        },
    }
}

/// Registers a resident and signs them in.
pub async fn register<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &TokenKeys,
    input: Registration,
) -> AppResult<(user::Model, TokenPair)> {
    let txn = crate::domain::begin_write(db).await?;
    let user = create_user(&txn, UserRole::Resident, input).await?;
    let pair = tokens::open_session(&txn, keys, user.id, now()).await?;
    txn.commit().await?;
    Ok((user, pair))
}

/// Signs in with email and password. A failure never says whether the email exists.
pub async fn login(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    limits: &LoginLimits,
    email: &str,
    password: &str,
    client_addr: Option<IpAddr>,
) -> AppResult<(user::Model, TokenPair)> {
    let normalised = email.trim().to_lowercase();
    limits.check(&normalised, client_addr)?;
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(normalised.as_str()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    let hash = found
        .as_ref()
        .and_then(|u| u.password_hash.as_deref())
        .unwrap_or_else(|| passwords::dummy_hash());
    // Always verify, so that an unknown email takes as long as a wrong password.
    let ok = passwords::verify(password, hash);
    match found {
        Some(user) if ok && user.password_hash.is_some() => {
            let pair = tokens::open_session(db, keys, user.id, now()).await?;
            Ok((user, pair))
        }
        _ => {
            limits.record_failure(&normalised, client_addr);
            Err(AppError::Unauthenticated(
                "the email or password is wrong: check both and try again".into(),
            ))
        }
    }
}

/// Exchanges a refresh token for a new pair.
pub async fn refresh(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    events: &dyn EventBus,
    refresh_token: &str,
) -> AppResult<(user::Model, TokenPair)> {
    let (user_id, pair) = tokens::rotate(db, keys, events, refresh_token, now()).await?;
    let user = user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("this account no longer exists".into()))?;
    Ok((user, pair))
}

/// Ends the caller's session: its refresh tokens and access tokens stop working, and
/// its live connections close.
pub async fn logout(
    db: &impl ConnectionTrait,
    events: &dyn EventBus,
    principal: &Principal,
) -> AppResult<()> {
    tokens::revoke_family(db, principal.session, now()).await?;
    events.publish(DomainEvent::SessionsEnded {
        user_id: principal.id,
        session_id: Some(principal.session),
    });
    Ok(())
}

/// Loads a user.
pub async fn user(db: &impl ConnectionTrait, id: Uuid) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))
}

/// Erases the caller's personal data. Their reports stay, as anonymous reports; their
/// sessions (live connections included), devices and preferences go.
pub async fn delete_my_account<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    events: &dyn EventBus,
    principal: &Principal,
    client_addr: Option<IpAddr>,
) -> AppResult<()> {
    let txn = crate::domain::begin_write(db).await?;
    let at = now();
    problem::Entity::update_many()
        .col_expr(problem::Column::Anonymous, Expr::value(true))
        .col_expr(
            problem::Column::ReporterId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(problem::Column::ReporterId.eq(principal.id))
        .exec(&txn)
        .await?;
    device::Entity::delete_many()
        .filter(device::Column::UserId.eq(principal.id))
        .exec(&txn)
        .await?;
    notification_preference::Entity::delete_many()
        .filter(notification_preference::Column::UserId.eq(principal.id))
        .exec(&txn)
        .await?;
    tokens::revoke_user(&txn, principal.id, at).await?;
    user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(Option::<String>::None))
        .col_expr(user::Column::Phone, Expr::value(Option::<String>::None))
        .col_expr(
            user::Column::PasswordHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(user::Column::DisplayName, Expr::value("Former member"))
        .col_expr(
            user::Column::HomeNeighborhoodId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(user::Column::DeletedAt, Expr::value(at))
        .col_expr(user::Column::UpdatedAt, Expr::value(at))
        .filter(user::Column::Id.eq(principal.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEntry {
            actor: Some(principal.id),
            action: "account.erase",
            subject_type: "user",
            subject_id: Some(principal.id.to_string()),
            details: json!({}),
            client_addr,
        },
    )
    .await?;
    txn.commit().await?;
    events.publish(DomainEvent::SessionsEnded {
        user_id: principal.id,
        session_id: None,
    });
    Ok(())
}

/// Creates an officer, captain, partner or admin account (admins only).
pub async fn create_staff_account<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    admin: &Principal,
    role: UserRole,
    input: Registration,
    client_addr: Option<IpAddr>,
) -> AppResult<user::Model> {
    if role == UserRole::Resident {
        return Err(AppError::bad_input(
            "residents sign up themselves with `register`; choose OFFICER, CAPTAIN, PARTNER or ADMIN",
        ));
    }
    let txn = crate::domain::begin_write(db).await?;
    let user = create_user(&txn, role, input).await?;
    audit::record(
        &txn,
        AuditEntry {
            actor: Some(admin.id),
            action: "staff.create",
            subject_type: "user",
            subject_id: Some(user.id.to_string()),
            details: json!({ "role": role }),
            client_addr,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Creates an admin from the command line (no actor); refuses a taken email.
pub async fn create_admin_cli(
    db: &impl ConnectionTrait,
    email: &str,
    password: &str,
) -> AppResult<user::Model> {
    let input = Registration {
        email: email.to_owned(),
        password: password.to_owned(),
        display_name: "Administrator".to_owned(),
        locale: None,
        time_zone: None,
        home_neighborhood_id: None,
    };
    let user = create_user(db, UserRole::Admin, input).await?;
    audit::record(
        db,
        AuditEntry {
            actor: None,
            action: "admin.create.cli",
            subject_type: "user",
            subject_id: Some(user.id.to_string()),
            details: json!({}),
            client_addr: None,
        },
    )
    .await?;
    Ok(user)
}

async fn staff_user(db: &impl ConnectionTrait, id: Uuid, role: UserRole) -> AppResult<user::Model> {
    let user = user(db, id).await?;
    if user.role != role || user.deleted_at.is_some() {
        return Err(AppError::bad_input(format!(
            "user {id} is not an active {} account",
            format!("{role:?}").to_lowercase()
        )));
    }
    Ok(user)
}

/// The kinds of assignment an admin can make.
#[derive(Debug, Clone, Copy)]
pub enum Assignment {
    /// An officer to a beat.
    OfficerToBeat {
        /// The officer.
        officer: Uuid,
        /// The beat.
        beat: Uuid,
    },
    /// A captain to a precinct.
    CaptainToPrecinct {
        /// The captain.
        captain: Uuid,
        /// The precinct.
        precinct: Uuid,
    },
    /// A partner user to an organisation.
    PartnerMember {
        /// The partner user.
        user: Uuid,
        /// The organisation.
        partner: Uuid,
    },
}

/// Records an assignment (admins only); repeating one changes nothing.
pub async fn assign(
    db: &impl ConnectionTrait,
    admin: &Principal,
    assignment: Assignment,
    client_addr: Option<IpAddr>,
) -> AppResult<()> {
    let at = now();
    let (action, subject) = match assignment {
        Assignment::OfficerToBeat { officer, beat } => {
            staff_user(db, officer, UserRole::Officer).await?;
            beat::Entity::find_by_id(beat)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("beat", beat))?;
            officer_beat::Entity::insert(
                officer_beat::Model {
                    officer_id: officer,
                    beat_id: beat,
                    created_at: at,
                }
                .into_active_model(),
            )
            .on_conflict(
                OnConflict::columns([
                    officer_beat::Column::OfficerId,
                    officer_beat::Column::BeatId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .try_insert()
            .exec(db)
            .await?;
            (
                "assign.officer_beat",
                json!({ "officer": officer, "beat": beat }),
            )
        }
        Assignment::CaptainToPrecinct { captain, precinct } => {
            staff_user(db, captain, UserRole::Captain).await?;
            precinct::Entity::find_by_id(precinct)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("precinct", precinct))?;
            captain_precinct::Entity::insert(
                captain_precinct::Model {
                    captain_id: captain,
                    precinct_id: precinct,
                    created_at: at,
                }
                .into_active_model(),
            )
            .on_conflict(
                OnConflict::columns([
                    captain_precinct::Column::CaptainId,
                    captain_precinct::Column::PrecinctId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .try_insert()
            .exec(db)
            .await?;
            (
                "assign.captain_precinct",
                json!({ "captain": captain, "precinct": precinct }),
            )
        }
        Assignment::PartnerMember { user, partner } => {
            staff_user(db, user, UserRole::Partner).await?;
            partner_organization::Entity::find_by_id(partner)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("partner organization", partner))?;
            partner_member::Entity::insert(
                partner_member::Model {
                    partner_id: partner,
                    user_id: user,
                    created_at: at,
                }
                .into_active_model(),
            )
            .on_conflict(
                OnConflict::columns([
                    partner_member::Column::PartnerId,
                    partner_member::Column::UserId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .try_insert()
            .exec(db)
            .await?;
            (
                "assign.partner_member",
                json!({ "user": user, "partner": partner }),
            )
        }
    };
    audit::record(
        db,
        AuditEntry {
            actor: Some(admin.id),
            action,
            subject_type: "assignment",
            subject_id: None,
            details: subject,
            client_addr,
        },
    )
    .await
}

/// Checks that the caller is an admin (for the resolvers of this module).
pub fn admin<'a>(viewer: &'a crate::auth::Viewer, what: &str) -> AppResult<&'a Principal> {
    policy::require_admin(viewer, what)
}
