//! When to try a failed delivery again: exponential back-off with full
//! jitter, and the server's `Retry-After` (CONTRACT.md §4, issue 3).

use std::time::{Duration, SystemTime};

/// Longest wait kino honours from a `Retry-After` header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Back-off bounds: the n-th retry waits a random time in
/// `[min, min(max, min·2ⁿ)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Shortest wait before a retry.
    pub min: Duration,
    /// Longest wait before a retry.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(1000),
            max: Duration::from_millis(60_000),
        }
    }
}

impl Backoff {
    /// The upper bound of the wait before retry number `n` (1-based).
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 1u64.checked_shl(n.min(40)).unwrap_or(u64::MAX);
        let millis = (self.min.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(millis).min(self.max).max(self.min)
    }

    /// The wait before retry number `n`, placed in `[min, ceiling(n)]` by
    /// `unit`, a random number in `[0, 1)`.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let low = self.min.as_secs_f64();
        let high = self.ceiling(n).as_secs_f64();
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::from_secs_f64(low + (high - low) * unit)
    }
}

/// A random number in `[0, 1)` from the OS generator (via a v4 UUID's
/// random bits): used once per retry, on the worker thread.
pub fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3) — delay-seconds or an
/// HTTP date in any of its three formats (IMF-fixdate, RFC 850, asctime)
/// — into a wait from `now`, capped at [`MAX_RETRY_AFTER`]. Spaces and
/// tabs around it are ignored. A date in the past is a zero wait; a
/// number of seconds too large to represent is the cap; anything else
/// (a sign, a fraction, a date with a wrong day name or not in GMT, a
/// control character) is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        // delay-seconds = 1*DIGIT: more than u64 holds is still "long".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_min_up_to_max() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(1), Duration::from_secs(2));
        assert_eq!(b.ceiling(2), Duration::from_secs(4));
        assert_eq!(b.ceiling(5), Duration::from_secs(32));
        assert_eq!(b.ceiling(6), Duration::from_secs(60));
        assert_eq!(b.ceiling(1000), Duration::from_secs(60));
    }

    #[test]
    fn delay_stays_within_bounds() {
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for n in 1..20 {
            for unit in [0.0, 0.25, 0.999, 1.0, f64::NAN] {
                let d = b.delay(n, unit);
                assert!(d >= b.min && d <= b.ceiling(n), "{n} {unit} {d:?}");
            }
        }
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(200));
    }

    #[test]
    fn random_unit_is_in_range_and_varies() {
        let a: Vec<f64> = (0..16).map(|_| random_unit()).collect();
        assert!(a.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    /// Issue 8: RFC 9110 recipients must accept all three HTTP-date
    /// formats; chrono's RFC 2822 parser took only the first (and zones
    /// that HTTP does not allow). Delay-seconds are digits only.
    #[test]
    fn retry_after_follows_rfc_9110() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        let ten = Some(Duration::from_secs(10));
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:10 GMT", now),
            ten
        );
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:10 2015", now), ten);
        assert_eq!(
            parse_retry_after(" \tWed, 21 Oct 2015 07:28:10 GMT\t ", now),
            ten
        );
        assert_eq!(
            parse_retry_after("Thu Oct  1 07:28:10 2015", now),
            Some(Duration::ZERO)
        );
        // Too big for u64: still the longest wait, not "no Retry-After".
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in [
            "+5",
            "-5",
            "1.5",
            "",
            " ",
            "5\n",
            "Wed, 21 Oct 2015 07:28:10 +0000",
            "Thu, 21 Oct 2015 07:28:10 GMT",
            "wed, 21 Oct 2015 07:28:10 GMT",
            "Wed, 21 Oct 2015 07:28:10 GMT\r",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
