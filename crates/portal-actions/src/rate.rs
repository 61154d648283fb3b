//! Rate limits per (rule, action): token buckets that hold `count` tokens and regain them over
//! `per`, so a rule may act `count` times at once and then `count` times per `per`.

use std::collections::HashMap;
use std::time::Instant;

use portal_rules::actions::Rate;

/// (rule name, action index).
pub(crate) type RateKey = (String, usize);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Every (rule, action)'s bucket. Bounded by the rules loaded: [`RateLimits::retain_rules`]
/// drops the buckets of rules that left.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    buckets: HashMap<RateKey, Bucket>,
}

impl RateLimits {
    /// Takes a token of `key`'s bucket at `now`: whether the action may run now.
    pub(crate) fn try_take(&mut self, key: &RateKey, rate: Rate, now: Instant) -> bool {
        let capacity = f64::from(rate.count.max(1));
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let per_second = capacity / rate.per.as_secs_f64().max(f64::EPSILON);
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(crate) fn retain_rules(&mut self, keep: impl Fn(&str) -> bool) {
        self.buckets.retain(|(rule, _), _| keep(rule));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_count_then_refills_over_its_period() {
        let mut limits = RateLimits::default();
        let rate = Rate { count: 3, per: Duration::from_secs(60) };
        let key = ("r".to_owned(), 0);
        let start = Instant::now();
        assert_eq!((0..5).filter(|_| limits.try_take(&key, rate, start)).count(), 3);
        assert!(!limits.try_take(&key, rate, start + Duration::from_secs(19)));
        assert!(limits.try_take(&key, rate, start + Duration::from_secs(40)));
        // Another (rule, action) has a bucket of its own.
        assert!(limits.try_take(&("r".to_owned(), 1), rate, start));
        limits.retain_rules(|rule| rule != "r");
        assert!(limits.buckets.keys().all(|(rule, _)| rule != "r"));
    }
}
