//! Time, two ways: a monotonic reading for durations and the wall clock
//! for the timestamps records carry.
//!
//! The caller's thread reads one clock per `kino_emit_*` call: [`Mono`],
//! the time since boot (`CLOCK_BOOTTIME` on Linux and Android, so it keeps
//! counting while the device sleeps; `Instant` elsewhere). QoE durations
//! are differences of these readings, so an NTP step or a user changing
//! the clock mid-view changes no figure.
//!
//! The wall-clock timestamp of a record is worked out on the worker, when
//! it takes events off the queue: it reads the wall clock and the
//! monotonic clock together once (an [`Anchor`]) and dates every event
//! back from it by its monotonic age. An event's timestamp is therefore
//! "when the host called", on the wall clock as it reads at that drain.
//!
//! The wall clock is a [`WallClock`] function so tests can step it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// A monotonic clock reading: nanoseconds since an arbitrary origin (boot,
/// on Linux and Android). Only differences mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mono(u64);

impl Mono {
    /// The current reading. A vDSO call on Linux: no system call.
    #[inline]
    pub fn now() -> Mono {
        Mono(now_nanos())
    }

    /// A reading `nanos` after the origin (tests and arithmetic).
    pub const fn from_nanos(nanos: u64) -> Mono {
        Mono(nanos)
    }

    /// A reading `ms` milliseconds after the origin (tests).
    pub const fn from_millis(ms: u64) -> Mono {
        Mono(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds from `earlier` to `self`; 0 if `earlier` is later.
    pub fn seconds_since(self, earlier: Mono) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1e9
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Mono) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// This reading plus `d` (saturating).
    pub fn plus(self, d: Duration) -> Mono {
        Mono(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn now_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on
    // every Linux kernel kino supports (2.6.39+). It cannot fail then.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
fn now_nanos() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Where the wall-clock time comes from: `SystemTime::now` unless a test
/// steps it. Read on the worker only, never on the caller's thread.
pub type WallClock = fn() -> SystemTime;

/// The wall clock kino uses by default.
pub fn system_wall_clock() -> SystemTime {
    SystemTime::now()
}

/// A wall-clock reading paired with the monotonic reading taken with it:
/// dates monotonic readings on the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Anchor {
    wall: SystemTime,
    mono: Mono,
}

impl Anchor {
    /// Reads both clocks now.
    pub fn now(wall_clock: WallClock) -> Anchor {
        Anchor {
            wall: wall_clock(),
            mono: Mono::now(),
        }
    }

    /// An anchor from given readings (tests).
    pub fn at(wall: SystemTime, mono: Mono) -> Anchor {
        Anchor { wall, mono }
    }

    /// The monotonic reading of this anchor.
    pub fn mono(&self) -> Mono {
        self.mono
    }

    /// The wall-clock time of the monotonic reading `at`: the anchor's wall
    /// time minus how long before the anchor `at` was (or plus, for a
    /// reading after it). Never before the Unix epoch.
    pub fn wall_of(&self, at: Mono) -> DateTime<Utc> {
        let wall = if at <= self.mono {
            self.wall
                .checked_sub(self.mono.since(at))
                .unwrap_or(UNIX_EPOCH)
        } else {
            self.wall
                .checked_add(at.since(self.mono))
                .unwrap_or(self.wall)
        };
        DateTime::<Utc>::from(wall.max(UNIX_EPOCH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_readings_never_go_back() {
        let a = Mono::now();
        let b = Mono::now();
        assert!(b >= a);
        assert_eq!(a.seconds_since(b), 0.0, "negative spans are 0");
        assert_eq!(
            Mono::from_millis(1500).seconds_since(Mono::from_millis(500)),
            1.0
        );
    }

    #[test]
    fn anchors_date_readings_by_their_age() {
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let anchor = Anchor::at(wall, Mono::from_millis(10_000));
        let before = anchor.wall_of(Mono::from_millis(7_500));
        assert_eq!(
            before,
            DateTime::<Utc>::from(wall - Duration::from_millis(2_500))
        );
        let after = anchor.wall_of(Mono::from_millis(10_250));
        assert_eq!(
            after,
            DateTime::<Utc>::from(wall + Duration::from_millis(250))
        );
        let far = Anchor::at(
            UNIX_EPOCH + Duration::from_secs(1),
            Mono::from_millis(5_000_000),
        );
        assert_eq!(
            far.wall_of(Mono::from_millis(0)),
            DateTime::<Utc>::from(UNIX_EPOCH)
        );
    }
}
