//! Delivery counters shared by the caller side and the worker.
//!
//! Every counter is counted where its event happens, none is derived from
//! the others, so `emitted == delivered + failed + queued` is a check
//! that can fail. `queued` is the sum of two raw counters: events in
//! memory (`in_memory`: in the queue or in the worker's hands) and this
//! emitter's events on disk (`spooled`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

/// The counters every `kino_emit_*` call writes, on a cache line (pair) of
/// their own, so the worker's writes to the others never move the line
/// away from the player's thread. The worker writes `in_memory` here too,
/// but once per batch, not per event.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CallerCounters {
    /// The last sequence number handed out (calls and kino's own records).
    pub sequence: AtomicU64,
    /// Records accepted: counted at acceptance, before the event can reach
    /// the worker (so a flush never misses it).
    pub emitted: AtomicU64,
    /// Accepted events in memory (queue, worker's inbox, batch in flight)
    /// not yet delivered, failed or written to the spool. Also the
    /// admission counter: a call is dropped when it is at the capacity.
    pub in_memory: AtomicU64,
    /// Calls refused with a full queue.
    pub dropped: AtomicU64,
    /// Set once the worker has given up (repeated internal errors): calls
    /// then return `CLOSED`.
    pub closed: AtomicBool,
    /// Set while calls are collected no more (the session is sampled out,
    /// or consent is withdrawn): a valid call is counted in `suppressed`
    /// and only the QoE tracker sees it.
    pub suppress: AtomicBool,
    /// Valid `kino_emit_*` calls not collected (see `suppress`).
    pub suppressed: AtomicU64,
}

/// Why the last delivery attempt (or spool write) failed, as
/// `KinoStats.last_error` reports it. Values are fixed: new ones are added
/// at the end.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryError {
    /// Nothing has failed yet.
    None = 0,
    /// The network: no connection, a reset, a timeout, a bad reply.
    Network = 1,
    /// The collector answered with a non-2xx status (see
    /// `last_http_status`).
    HttpStatus = 2,
    /// TLS: the certificate or the handshake was refused.
    Tls = 3,
    /// The batch callback returned non-zero.
    Callback = 4,
    /// The spool directory could not be written or read (disk full,
    /// removed, read-only, no permission): batches are kept in memory.
    Spool = 5,
    /// No beacon URL and no callback: events are counted as failed.
    NoDestination = 6,
    /// An internal error was caught in kino's worker (a bug).
    Internal = 7,
    /// A record was larger than the body limit on its own.
    TooLarge = 8,
    /// The collector took a batch but rejected some of its records (an
    /// OTLP partial success).
    Rejected = 9,
}

/// Live counters (events unless said otherwise).
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) caller: CallerCounters,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) spooled: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) resent: AtomicU64,
    pub(crate) spool_corrupt: AtomicU64,
    pub(crate) spool_errors: AtomicU64,
    pub(crate) internal_errors: AtomicU64,
    pub(crate) discarded: AtomicU64,
    pub(crate) last_http_status: AtomicU64,
    pub(crate) last_success_unix_ms: AtomicU64,
    pub(crate) last_error: AtomicU64,
    /// The message of the last failure (what `last_error` stands for).
    last_error_message: Mutex<String>,
}

/// A point-in-time copy of an emitter's counters (CONTRACT.md §4). Each
/// field is read on its own: while events are in flight the equation may
/// be off by the events that moved between two reads; once a flush has
/// returned and no call is running it holds exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Records accepted (calls that returned OK, and kino's own records).
    pub emitted: u64,
    /// Calls refused with a full queue.
    pub dropped: u64,
    /// Accepted events the collector or callback took.
    pub delivered: u64,
    /// Accepted events given up on.
    pub failed: u64,
    /// Accepted events not yet delivered or failed: in memory plus
    /// `spooled`.
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
    /// Events of earlier runs (or freed emitters) found in the spool and
    /// delivered by this emitter; not part of `emitted`/`delivered`.
    pub resent: u64,
    /// Corrupt, truncated or foreign files seen in the spool directory.
    pub spool_corrupt: u64,
    /// Spool operations that failed (a batch not written, the directory
    /// unusable); those batches were kept and sent from memory.
    pub spool_errors: u64,
    /// Internal errors caught in the worker (bugs); the worker carried on.
    pub internal_errors: u64,
    /// The last HTTP status the collector answered (0: none yet).
    pub last_http_status: u64,
    /// When a batch was last delivered, ms since the Unix epoch (0: never).
    pub last_success_unix_ms: u64,
    /// Why the last failure happened ([`DeliveryError`] as a number).
    pub last_error: u64,
    /// Valid calls not collected: the session is sampled out, or consent
    /// was withdrawn. Not part of `emitted`.
    pub suppressed: u64,
    /// Accepted records discarded by `kino_emitter_clear` (or a consent
    /// withdrawal); also counted in `failed`.
    pub discarded: u64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Relaxed);
    }

    /// Records why something failed, for `last_error` and its message.
    pub(crate) fn note_error(&self, kind: DeliveryError, message: impl Into<String>) {
        *self.last_error_message.lock() = message.into();
        self.last_error.store(kind as u64, Relaxed);
    }

    /// The message of the last failure ("" if none).
    pub fn last_error_message(&self) -> String {
        self.last_error_message.lock().clone()
    }

    /// Reads the counters. Settled counters are read before the accepted
    /// ones, so a snapshot never shows more settled than accepted.
    pub fn snapshot(&self) -> StatsSnapshot {
        let delivered = self.delivered.load(Relaxed);
        let failed = self.failed.load(Relaxed);
        let spooled = self.spooled.load(Relaxed);
        let in_memory = self.caller.in_memory.load(Relaxed);
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        StatsSnapshot {
            emitted: self.caller.emitted.load(Relaxed),
            dropped: self.caller.dropped.load(Relaxed),
            delivered,
            failed,
            queued: in_memory.saturating_add(spooled),
            batches: self.batches.load(Relaxed),
            retries: self.retries.load(Relaxed),
            spooled,
            evicted: self.evicted.load(Relaxed),
            resent: self.resent.load(Relaxed),
            spool_corrupt: self.spool_corrupt.load(Relaxed),
            spool_errors: self.spool_errors.load(Relaxed),
            internal_errors: self.internal_errors.load(Relaxed),
            last_http_status: self.last_http_status.load(Relaxed),
            last_success_unix_ms: self.last_success_unix_ms.load(Relaxed),
            last_error: self.last_error.load(Relaxed),
            suppressed: self.caller.suppressed.load(Relaxed),
            discarded: self.discarded.load(Relaxed),
        }
    }
}
