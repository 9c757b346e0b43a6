//! Domain events: what changed, for live subscriptions and live connections.
//!
//! Services publish an event after the transaction that made the change commits. The
//! bus is a trait: in one process (SQLite) a `tokio` broadcast channel; across replicas
//! on PostgreSQL the server plugs in a bus that relays through LISTEN/NOTIFY.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// A problem was reported or changed (status, comment, assignment, support...).
    ProblemChanged {
        /// The problem.
        problem_id: Uuid,
        /// Its beat.
        beat_id: Uuid,
        /// Whether it was just reported.
        created: bool,
    },
    /// A notification was added to a user's inbox.
    NotificationCreated {
        /// The recipient.
        user_id: Uuid,
        /// The notification.
        notification_id: Uuid,
    },
    /// Sessions ended (sign-out, a refresh token presented twice, an erased account):
    /// live connections signed in with them close, on every replica.
    SessionsEnded {
        /// The user.
        user_id: Uuid,
        /// The session that ended, or `None` when every session of the user did.
        session_id: Option<Uuid>,
    },
}

/// Carries events to subscribers.
pub trait EventBus: Send + Sync {
    /// Sends an event to every subscriber (on every replica).
    fn publish(&self, event: DomainEvent);
    /// A new receiver of every event published from now on.
    fn subscribe(&self) -> broadcast::Receiver<DomainEvent>;
    /// Like [`EventBus::subscribe`], with the number of events this process delivered
    /// before the receiver's first: the position of that first event.
    fn subscribe_counted(&self) -> (u64, broadcast::Receiver<DomainEvent>);
    /// How many events this process delivered so far: the position the next one will
    /// have. Live subscribers use it to ignore changes made before they subscribed.
    fn delivered(&self) -> u64;
}

/// The in-process bus.
#[derive(Debug, Clone)]
pub struct LocalBus {
    sender: broadcast::Sender<DomainEvent>,
    /// Events delivered so far. Counting and sending happen under this lock, so that a
    /// count and a subscription taken together agree.
    delivered: Arc<Mutex<u64>>,
}

impl LocalBus {
    /// A bus whose slow subscribers may lag by up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            delivered: Arc::default(),
        }
    }

    /// Delivers an event to this process's subscribers only (relays use it).
    pub fn deliver_locally(&self, event: DomainEvent) {
        let mut delivered = self.count();
        *delivered += 1;
        // No subscriber is not an error.
        let _ = self.sender.send(event);
    }

    fn count(&self) -> MutexGuard<'_, u64> {
        // The guarded section cannot panic, so a poisoned count is still right.
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: DomainEvent) {
        self.deliver_locally(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }

    fn subscribe_counted(&self) -> (u64, broadcast::Receiver<DomainEvent>) {
        let delivered = self.count();
        (*delivered, self.sender.subscribe())
    }

    fn delivered(&self) -> u64 {
        *self.count()
    }
}
