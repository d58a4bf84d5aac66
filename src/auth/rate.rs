//! Sending rate limits (GCRA, the generic cell rate algorithm): `count` messages per `period`,
//! bursts up to `count`, then one every `period / count`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate limiter keyed by user or IP.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: Duration,
    state: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// `count` per `period`.
    pub fn new(count: u64, period: Duration) -> Self {
        let interval = period / count.max(1) as u32;
        RateLimiter {
            interval,
            burst: period.saturating_sub(interval),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one message for `key`; `Err(wait)` says how long until one is allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.len() > 100_000 {
            st.retain(|_, tat| *tat > now);
        }
        let tat = st.get(key).copied().unwrap_or(now).max(now);
        let allowed_at = tat.checked_sub(self.burst).unwrap_or(now);
        if allowed_at > now {
            return Err(allowed_at - now);
        }
        st.insert(key.to_owned(), tat + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_limits() {
        let r = RateLimiter::new(3, Duration::from_secs(3600));
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        let wait = r.check("a").unwrap_err();
        assert!(
            wait > Duration::from_secs(1100) && wait <= Duration::from_secs(1200),
            "{wait:?}"
        );
        assert!(r.check("b").is_ok(), "keys are independent");
    }
}
