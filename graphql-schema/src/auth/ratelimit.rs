//! Login throttling, per account and per client address, with `governor` (GCRA).
//!
//! Only failed attempts count: each failure spends a cell of the account's and the
//! address's quota (a burst, then one per interval). Once a quota is spent, every
//! attempt for that account or from that address, even with the right password, is
//! refused with RATE_LIMITED until the quota refills; `extensions.retryAfter` says how
//! many seconds that is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{AppError, AppResult};

/// The login limiters.
pub struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimits")
    }
}

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Default for LoginLimits {
    /// 5 failures per account, then one a minute; 30 per address, then one every 2 s.
    fn default() -> Self {
        Self {
            per_account: RateLimiter::keyed(quota(5, Duration::from_secs(60))),
            per_address: RateLimiter::keyed(quota(30, Duration::from_secs(2))),
            blocked: Mutex::new(HashMap::new()),
        }
    }
}

fn account_key(account: &str) -> String {
    format!("account:{account}")
}

fn address_key(address: IpAddr) -> String {
    format!("address:{address}")
}

impl LoginLimits {
    /// Refuses an attempt while the account or the address is throttled.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> AppResult<()> {
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
        let keys = std::iter::once(account_key(account)).chain(address.map(address_key));
        let wait = keys
            .filter_map(|k| {
                blocked
                    .get(&k)
                    .map(|until| until.saturating_duration_since(now))
            })
            .max();
        match wait {
            Some(wait) => Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt; once a quota is spent, blocks its key until it refills.
    pub fn record_failure(&self, account: &str, address: Option<IpAddr>) {
        let clock = DefaultClock::default();
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(not_until) = self.per_account.check_key(&account.to_owned()) {
            blocked.insert(
                account_key(account),
                now + not_until.wait_time_from(clock.now()),
            );
        }
        if let Some(address) = address
            && let Err(not_until) = self.per_address.check_key(&address)
        {
            blocked.insert(
                address_key(address),
                now + not_until.wait_time_from(clock.now()),
            );
        }
    }
}
