//! Session sampling: whether an emitter's session is collected, decided
//! once from its session id by a rule a backend can recompute.
//!
//! # The rule
//!
//! Take the session id's first 8 bytes (its first 16 hex digits, hyphens
//! left out) as an unsigned 64-bit big-endian integer `u`. The session is
//! sampled in when `u < rate · 2⁶⁴`, that is `u < ⌈rate · 2⁶⁴⌉` (the
//! product of a double and a power of two is exact, so this is exact in
//! any language with 64-bit doubles). A rate of 1 samples every session.
//!
//! ```python
//! import math
//! def sampled_in(session_id: str, rate: float) -> bool:
//!     return int(session_id.replace("-", "")[:16], 16) < math.ceil(rate * 2**64)
//! ```
//!
//! The id is a random version-4 UUID, so `u` is uniform over its top 48
//! bits (byte 6 holds the version): the share sampled in is `rate` to
//! within 2⁻⁴⁸.

use crate::event::SessionId;

/// Whether a session with this id is sampled in at `rate` (in (0, 1]).
pub fn sampled_in(session: &SessionId, rate: f64) -> bool {
    let bytes = session.0.as_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes[..8]);
    let u = u64::from_be_bytes(first);
    match threshold(rate) {
        None => true,
        Some(t) => u < t,
    }
}

/// `⌈rate · 2⁶⁴⌉` when that is below 2⁶⁴; `None` when every id is in.
fn threshold(rate: f64) -> Option<u64> {
    let scaled = (rate * 2f64.powi(64)).ceil();
    // Exact: `scaled` is an integer-valued double below 2^64 here.
    (scaled < 2f64.powi(64)).then_some(scaled as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(hex: &str) -> SessionId {
        SessionId(Uuid::parse_str(hex).unwrap())
    }

    #[test]
    fn the_rule_compares_the_first_eight_bytes() {
        let low = id("00000000-0000-4000-8000-000000000000");
        let mid = id("7fffffff-ffff-4fff-bfff-ffffffffffff");
        let high = id("ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(sampled_in(&low, 1e-12), "u = 0x4000 < 2^64 / 10^12");
        assert!(
            !sampled_in(&low, f64::MIN_POSITIVE),
            "u = 0x4000 is not < 1"
        );
        assert!(sampled_in(&mid, 0.5));
        assert!(!sampled_in(
            &id("80000000-0000-4000-8000-000000000000"),
            0.5
        ));
        assert!(!sampled_in(&high, 0.999_999));
        assert!(sampled_in(&high, 1.0));
        assert_eq!(threshold(0.5), Some(1 << 63));
        assert_eq!(threshold(1.0), None);
        assert_eq!(threshold(f64::MIN_POSITIVE), Some(1));
    }

    #[test]
    fn a_tiny_rate_samples_every_v4_id_out() {
        // Byte 6 of a v4 id is 0x4?, so u >= 0x4000 > 1 = the threshold.
        for _ in 0..1000 {
            assert!(!sampled_in(&SessionId::new(), f64::MIN_POSITIVE));
        }
    }
}
