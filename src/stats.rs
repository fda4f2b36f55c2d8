//! Delivery counters shared by the caller side and the worker.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The counters every `kino_emit_*` call writes, on a cache line (pair) of
/// their own, so the worker's writes to the others never move the line
/// away from the player's thread.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CallerCounters {
    /// The last sequence number handed out (calls and `qoe` records).
    pub sequence: AtomicU64,
    pub emitted: AtomicU64,
    pub dropped: AtomicU64,
}

/// Live counters (events unless said otherwise). Plain relaxed atomics:
/// each is exact, and a snapshot is consistent enough for
/// `emitted == delivered + failed + queued` to hold in it.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) caller: CallerCounters,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) spooled: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) resent: AtomicU64,
    pub(crate) spool_corrupt: AtomicU64,
    pub(crate) last_http_status: AtomicU64,
    pub(crate) last_success_unix_ms: AtomicU64,
}

/// A point-in-time copy of an emitter's counters (CONTRACT.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Records accepted into the queue.
    pub emitted: u64,
    /// Calls refused with a full queue.
    pub dropped: u64,
    /// Accepted events the collector or callback took.
    pub delivered: u64,
    /// Accepted events given up on.
    pub failed: u64,
    /// Accepted events not yet delivered or failed.
    pub queued: u64,
    /// Batches delivered.
    pub batches: u64,
    /// Delivery attempts after the first.
    pub retries: u64,
    /// This emitter's events on disk now (part of `queued`).
    pub spooled: u64,
    /// Events evicted from the spool (size or age bound); this emitter's
    /// own evicted events also count in `failed`.
    pub evicted: u64,
    /// Events of earlier runs (or other emitters) found in the spool and
    /// delivered by this emitter; not part of `emitted`/`delivered`.
    pub resent: u64,
    /// Corrupt, truncated or foreign files seen in the spool directory.
    pub spool_corrupt: u64,
    /// The last HTTP status the collector answered (0: none yet).
    pub last_http_status: u64,
    /// When a batch was last delivered, ms since the Unix epoch (0: never).
    pub last_success_unix_ms: u64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Reads the counters. `delivered` and `failed` are read before
    /// `emitted`; since an event is counted in `emitted` before it can be
    /// delivered or failed, `queued` never goes negative.
    pub fn snapshot(&self) -> StatsSnapshot {
        let delivered = self.delivered.load(Relaxed);
        let failed = self.failed.load(Relaxed);
        let batches = self.batches.load(Relaxed);
        let retries = self.retries.load(Relaxed);
        let dropped = self.caller.dropped.load(Relaxed);
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let emitted = self.caller.emitted.load(Relaxed);
        let queued = emitted.saturating_sub(delivered + failed);
        StatsSnapshot {
            emitted: delivered + failed + queued,
            dropped,
            delivered,
            failed,
            queued,
            batches,
            retries,
            spooled: self.spooled.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            resent: self.resent.load(Relaxed),
            spool_corrupt: self.spool_corrupt.load(Relaxed),
            last_http_status: self.last_http_status.load(Relaxed),
            last_success_unix_ms: self.last_success_unix_ms.load(Relaxed),
        }
    }
}
