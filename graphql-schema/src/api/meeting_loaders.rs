//! Per-request DataLoaders of the meeting relations (RSVP counts, the viewer's own
//! answer, minutes), so that a page of meetings costs one statement per relation.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::enums::RsvpResponse;
use entity::{meeting_minutes, meeting_rsvp};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::api::loaders::{Cached, LoadError};
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

/// The meeting loaders of one request (see [`crate::api::loaders::Loaders`]).
pub struct MeetingLoaders {
    /// RSVP tallies by meeting.
    pub tallies: Cached<RsvpTallies>,
    /// The viewer's answers by (meeting, user).
    pub my_rsvps: Cached<MyRsvps>,
    /// Minutes by meeting.
    pub minutes: Cached<MinutesByMeeting>,
}

impl MeetingLoaders {
    /// Loaders over `db`, for one request.
    pub fn new(db: &DatabaseConnection) -> Self {
        fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
            tokio::spawn(f);
        }
        Self {
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
        }
    }
}
