//! Per-request DataLoaders of the meeting relations (RSVP counts, the viewer's own
//! answer, minutes, action items, agendas), so that a page of meetings costs the same
//! number of statements whatever its size.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::enums::RsvpResponse;
use entity::{action_item, meeting, meeting_minutes, meeting_rsvp};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::api::loaders::{Cached, LoadError};
use crate::auth::Viewer;
use crate::domain::agenda::{self, Agenda};
use crate::error::AppError;

/// How many people gave each answer to a meeting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RsvpTally {
    /// GOING answers.
    pub going: i64,
    /// MAYBE answers.
    pub maybe: i64,
    /// NOT_GOING answers.
    pub not_going: i64,
}

/// Loads RSVP tallies by meeting id.
pub struct RsvpTallies(DatabaseConnection);

impl Loader<Uuid> for RsvpTallies {
    type Value = RsvpTally;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, RsvpTally>, LoadError> {
        let rows: Vec<(Uuid, RsvpResponse, i64)> = meeting_rsvp::Entity::find()
            .select_only()
            .column(meeting_rsvp::Column::MeetingId)
            .column(meeting_rsvp::Column::Response)
            .column_as(Expr::col(meeting_rsvp::Column::UserId).count(), "n")
            .filter(meeting_rsvp::Column::MeetingId.is_in(keys.iter().copied()))
            .group_by(meeting_rsvp::Column::MeetingId)
            .group_by(meeting_rsvp::Column::Response)
            .into_tuple()
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, RsvpTally> =
            keys.iter().map(|k| (*k, RsvpTally::default())).collect();
        for (id, response, n) in rows {
            let t = map.entry(id).or_default();
            match response {
                RsvpResponse::Going => t.going = n,
                RsvpResponse::Maybe => t.maybe = n,
                RsvpResponse::NotGoing => t.not_going = n,
            }
        }
        Ok(map)
    }
}

/// Loads a user's answers by (meeting, user).
pub struct MyRsvps(DatabaseConnection);

impl Loader<(Uuid, Uuid)> for MyRsvps {
    // Every key gets a value (None when unanswered), so that the per-request cache
    // also remembers "no answer" and a field never triggers a second batch.
    type Value = Option<RsvpResponse>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(Uuid, Uuid)],
    ) -> Result<HashMap<(Uuid, Uuid), Option<RsvpResponse>>, LoadError> {
        let meetings: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let users: Vec<Uuid> = keys.iter().map(|k| k.1).collect();
        let rows = meeting_rsvp::Entity::find()
            .filter(meeting_rsvp::Column::MeetingId.is_in(meetings))
            .filter(meeting_rsvp::Column::UserId.is_in(users))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<(Uuid, Uuid), Option<RsvpResponse>> =
            keys.iter().map(|k| (*k, None)).collect();
        for r in rows {
            if let Some(slot) = map.get_mut(&(r.meeting_id, r.user_id)) {
                *slot = Some(r.response);
            }
        }
        Ok(map)
    }
}

/// Loads published minutes by meeting id.
pub struct MinutesByMeeting(DatabaseConnection);

impl Loader<Uuid> for MinutesByMeeting {
    // None for meetings without minutes, cached like the others.
    type Value = Option<meeting_minutes::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, Option<meeting_minutes::Model>>, LoadError> {
        let rows = meeting_minutes::Entity::find()
            .filter(meeting_minutes::Column::MeetingId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, Option<meeting_minutes::Model>> =
            keys.iter().map(|k| (*k, None)).collect();
        for m in rows {
            map.insert(m.meeting_id, Some(m));
        }
        Ok(map)
    }
}

/// Loads the action items agreed at each meeting, oldest first.
pub struct ActionsByMeeting(DatabaseConnection);

impl Loader<Uuid> for ActionsByMeeting {
    type Value = Vec<action_item::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<action_item::Model>>, LoadError> {
        let rows = action_item::Entity::find()
            .filter(action_item::Column::MeetingId.is_in(keys.iter().copied()))
            .order_by_asc(action_item::Column::CreatedAt)
            .order_by_asc(action_item::Column::Id)
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, Vec<action_item::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for a in rows {
            if let Some(m) = a.meeting_id {
                map.entry(m).or_default().push(a);
            }
        }
        Ok(map)
    }
}

/// A meeting as the key of its agenda: the row travels with the key (so the loader
/// need not read it again), equality and hashing go by id.
#[derive(Debug, Clone)]
pub struct MeetingKey(pub meeting::Model);

impl PartialEq for MeetingKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for MeetingKey {}

impl Hash for MeetingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

/// Loads the agendas of meetings as one viewer sees them, all of a batch computed
/// together (see [`agenda::agendas`]).
pub struct AgendaLoader {
    db: DatabaseConnection,
    viewer: Viewer,
}

impl Loader<MeetingKey> for AgendaLoader {
    type Value = Arc<Agenda>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MeetingKey],
    ) -> Result<HashMap<MeetingKey, Arc<Agenda>>, LoadError> {
        let meetings: Vec<meeting::Model> = keys.iter().map(|k| k.0.clone()).collect();
        let mut agendas = agenda::agendas(&self.db, &self.viewer, &meetings)
            .await
            .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|k| {
                let a = agendas.remove(&k.0.id).unwrap_or_default();
                (k.clone(), Arc::new(a))
            })
            .collect())
    }
}

fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
    tokio::spawn(f);
}

/// The meeting loaders of one request (see [`crate::api::loaders::Loaders`]).
pub struct MeetingLoaders {
    db: DatabaseConnection,
    /// RSVP tallies by meeting.
    pub tallies: Cached<RsvpTallies>,
    /// The viewer's answers by (meeting, user).
    pub my_rsvps: Cached<MyRsvps>,
    /// Minutes by meeting.
    pub minutes: Cached<MinutesByMeeting>,
    /// Action items by meeting.
    pub actions: Cached<ActionsByMeeting>,
    agendas: OnceLock<Cached<AgendaLoader>>,
}

impl MeetingLoaders {
    /// The agendas of the request's meetings as `viewer` (the request's caller, the same
    /// on every call) sees them.
    pub fn agendas(&self, viewer: &Viewer) -> &Cached<AgendaLoader> {
        self.agendas.get_or_init(|| {
            DataLoader::with_cache(
                AgendaLoader {
                    db: self.db.clone(),
                    viewer: viewer.clone(),
                },
                spawn,
                HashMapCache::default(),
            )
        })
    }

    /// Loaders over `db`, for one request.
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            db: db.clone(),
            tallies: DataLoader::with_cache(
                RsvpTallies(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            my_rsvps: DataLoader::with_cache(MyRsvps(db.clone()), spawn, HashMapCache::default()),
            minutes: DataLoader::with_cache(
                MinutesByMeeting(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            actions: DataLoader::with_cache(
                ActionsByMeeting(db.clone()),
                spawn,
                HashMapCache::default(),
            ),
            agendas: OnceLock::new(),
        }
    }
}
