//! What an emitter and its worker share: the queue's receiving end, the
//! inbox the worker drains it into (where the QoE tracker sees every
//! event), the requests callers make (flush, shutdown), and the counters.
//!
//! The caller's threads touch this only through [`Shared::drain`] (from
//! `kino_emitter_qoe`), [`Shared::request_flush`] and the shutdown path;
//! `kino_emit_*` itself touches only the channel and the caller counters.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::batch::{pack, Part};
use crate::clock::{Anchor, Mono, WallClock};
use crate::event::{AnalyticsEvent, AnalyticsEventRecord, SessionId, StampedEvent};
use crate::ids::IdGenerator;
use crate::spool::Spool;
use crate::stats::{DeliveryError, Stats};
use crate::view::{ClosedView, ViewTracker};

/// An event as it crosses the queue: stamped on the caller's thread with
/// its sequence number and a monotonic clock reading; its wall-clock time
/// is worked out when the worker drains it ([`crate::clock`]).
#[derive(Debug)]
pub(crate) struct Call {
    pub sequence: u64,
    pub mono: Mono,
    pub event: AnalyticsEvent,
    /// The number the caller reserved (and counted) for the `qoe` record
    /// of the view this call closes; 0 when it closes none.
    pub qoe_sequence: u64,
}

/// An event waiting in the inbox, with the view it belongs to.
#[derive(Debug)]
pub(crate) struct Queued {
    pub stamped: StampedEvent,
    pub view_id: Option<Uuid>,
}

/// Events taken off the channel and not yet cut into a batch.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    pub pending: VecDeque<Queued>,
    /// `pending[..urgent_until]` must be sent now (ends with an urgent event).
    pub urgent_until: usize,
    /// When the oldest pending event arrived (its monotonic stamp).
    pub oldest: Option<Mono>,
    /// Views and their QoE over every event drained so far.
    pub views: ViewTracker,
}

/// What callers ask of the worker besides events.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Each waiting flush: the `emitted` count when it was called, and
    /// where to say it is done.
    pub flushes: Vec<(u64, Sender<()>)>,
    pub shutdown: Option<Instant>,
}

/// The spool, shared between the worker and the shutdown path of
/// `kino_emitter_free` (which writes to it when the worker is stuck).
#[derive(Debug, Default)]
pub(crate) struct SpoolCell {
    /// `None` until the worker has opened it, and when it could not.
    pub spool: Mutex<Option<Spool>>,
    /// Set by `kino_emitter_free` once it has given up on the worker: from
    /// then on nobody touches the spool's files on the host's behalf.
    pub abandoned: AtomicBool,
}

/// State shared by an emitter and its worker.
pub(crate) struct Shared {
    pub session_id: SessionId,
    pub stats: Stats,
    pub rx: Receiver<Call>,
    pub inbox: Mutex<Inbox>,
    pub requests: Mutex<Requests>,
    /// Wakes the worker (a token; full means a wake is already pending).
    pub wake: Sender<()>,
    /// Own events delivered, failed, or written to the spool: what flush
    /// waits on. Counted in queue order (the worker keeps it so: see its
    /// backlog), so once it reaches a count, every event queued before
    /// those is dealt with.
    pub dealt: AtomicU64,
    pub spool: SpoolCell,
    /// Batches the spool refused (disk full, directory gone, read-only):
    /// sent from memory, oldest first, before anything else. While it is
    /// not empty, later batches join it instead of going to disk, so events
    /// are dealt with in queue order (what flush relies on). Shared so that
    /// a flush on the host's thread can add to it too.
    pub backlog: Mutex<VecDeque<Part>>,
    /// The spool may hold something to send (own files written, or orphans
    /// found) and no claim has failed since.
    pub spool_ready: AtomicBool,
    /// Record ids (taken when a batch is cut, by whoever cuts it).
    pub ids: Mutex<IdGenerator>,
    pub wall_clock: WallClock,
}

impl Shared {
    /// Moves everything queued into the inbox, updating QoE. Called by the
    /// worker, and by `Emitter::qoe` so figures are current even while the
    /// worker is stuck in a request. The inbox needs no bound of its own:
    /// admission counts every event in memory (`in_memory`), so channel
    /// and inbox together never hold more than the capacity.
    pub fn drain(&self) {
        let mut inbox = self.inbox.lock();
        let mut anchor: Option<Anchor> = None;
        while let Ok(call) = self.rx.try_recv() {
            let anchor = *anchor.get_or_insert_with(|| Anchor::now(self.wall_clock));
            let reserved = call.qoe_sequence;
            let stamped = StampedEvent {
                sequence: call.sequence,
                mono: call.mono,
                timestamp: anchor.wall_of(call.mono),
                event: call.event,
            };
            let observed = inbox.views.observe(&stamped);
            let urgent = stamped.event.is_urgent();
            let at = stamped.mono;
            inbox.oldest.get_or_insert(at);
            inbox.pending.push_back(Queued {
                stamped,
                view_id: observed.view_id,
            });
            match observed.closed {
                Some(closed) => self.push_qoe(&mut inbox, closed, at, anchor, reserved),
                // Cannot happen: callers number view changes in the order
                // they queue them, so they and the tracker agree on which
                // call closes a view. Undone, should it ever.
                None if reserved != 0 => {
                    let c = &self.stats.caller;
                    c.emitted.fetch_sub(1, Relaxed);
                    c.in_memory.fetch_sub(1, Relaxed);
                }
                None => {}
            }
            if urgent {
                inbox.urgent_until = inbox.pending.len();
            }
        }
    }

    /// Closes the open view, if any, now (the emitter is going away).
    pub fn close_view(&self) {
        let mut inbox = self.inbox.lock();
        let anchor = Anchor::now(self.wall_clock);
        if let Some(closed) = inbox.views.close(anchor.mono()) {
            self.push_qoe(&mut inbox, closed, anchor.mono(), anchor, 0);
        }
    }

    /// Queues the `qoe` record of a closed view right after the event that
    /// closed it, with the number that call reserved (already counted as
    /// emitted and in memory), so it directly follows it. A view closed
    /// without a call (the emitter is freed) takes the next number and is
    /// counted here, like an accepted call, without the admission check.
    fn push_qoe(
        &self,
        inbox: &mut Inbox,
        closed: ClosedView,
        at: Mono,
        anchor: Anchor,
        reserved: u64,
    ) {
        let sequence = if reserved != 0 {
            reserved
        } else {
            let c = &self.stats.caller;
            c.emitted.fetch_add(1, Relaxed);
            c.in_memory.fetch_add(1, Relaxed);
            c.sequence.fetch_add(1, Relaxed) + 1
        };
        inbox.oldest.get_or_insert(at);
        inbox.pending.push_back(Queued {
            stamped: StampedEvent {
                sequence,
                mono: at,
                timestamp: anchor.wall_of(at),
                event: AnalyticsEvent::Qoe(Box::new(closed.figures)),
            },
            view_id: Some(closed.view_id),
        });
    }

    /// Takes the next due batch (see [`Shared::next_batch`]) as bodies of at
    /// most `max_body_bytes`, oldest first. Records too large for any body
    /// are counted as failed here.
    pub fn take_parts(
        &self,
        batch_size: usize,
        max_body_bytes: usize,
        due: Due,
    ) -> Option<VecDeque<Part>> {
        loop {
            let batch = self.next_batch(batch_size, due)?;
            let mut ids = self.ids.lock();
            let mut records: Vec<AnalyticsEventRecord> = batch
                .into_iter()
                .map(|q| {
                    AnalyticsEventRecord::with_id(
                        ids.next_id(),
                        self.session_id,
                        q.stamped,
                        q.view_id,
                    )
                })
                .collect();
            drop(ids);
            // Concurrent callers may enqueue out of sequence order; a batch
            // is always sent oldest first.
            records.sort_by_key(|r| r.sequence);
            let (parts, oversized) = pack(&records, max_body_bytes);
            if oversized > 0 {
                self.settle_memory(oversized, false);
                self.stats.note_error(
                    DeliveryError::TooLarge,
                    format!("{oversized} record(s) larger than the body limit of {max_body_bytes} bytes"),
                );
            }
            if !parts.is_empty() {
                return Some(parts.into());
            }
        }
    }

    /// Takes the next batch to send, if one is due (see [`Due`]).
    fn next_batch(&self, batch_size: usize, due: Due) -> Option<Vec<Queued>> {
        let mut inbox = self.inbox.lock();
        let len = inbox.pending.len();
        let n = if inbox.urgent_until > 0 {
            inbox.urgent_until.min(batch_size)
        } else if len >= batch_size || due == Due::All {
            len.min(batch_size)
        } else {
            0
        };
        if n == 0 {
            return None;
        }
        inbox.urgent_until = inbox.urgent_until.saturating_sub(n);
        let batch: Vec<Queued> = inbox.pending.drain(..n).collect();
        inbox.oldest = inbox.pending.front().map(|q| q.stamped.mono);
        Some(batch)
    }

    /// Own events in memory are settled: delivered or given up on.
    pub fn settle_memory(&self, events: u64, delivered: bool) {
        let s = &self.stats;
        Stats::add(if delivered { &s.delivered } else { &s.failed }, events);
        Stats::sub(&s.caller.in_memory, events);
        self.dealt.fetch_add(events, Relaxed);
    }

    /// Own events moved from memory to the spool: still queued, but safe.
    pub fn settle_spooled(&self, events: u64) {
        let s = &self.stats;
        Stats::add(&s.spooled, events);
        Stats::sub(&s.caller.in_memory, events);
        self.dealt.fetch_add(events, Relaxed);
    }

    /// Own events on disk are settled: delivered or given up on.
    pub fn settle_own_file(&self, events: u64, delivered: bool) {
        let s = &self.stats;
        Stats::add(if delivered { &s.delivered } else { &s.failed }, events);
        Stats::sub(&s.spooled, events);
    }

    /// Asks for a flush: `ack` gets a message once `target` events (the
    /// `emitted` count when the flush was called) are dealt with. Since
    /// events are counted before they are queued and dealt with in queue
    /// order, that covers every event emitted before the flush.
    pub fn request_flush(&self, target: u64, ack: Sender<()>) {
        self.requests.lock().flushes.push((target, ack));
        let _ = self.wake.try_send(());
    }

    /// Writes a part to the spool, or, if the disk refuses or the backlog
    /// already holds something, puts it in the memory backlog (saying so
    /// in the stats). The caller holds the spool's lock (`spool`).
    pub fn spool_or_keep(&self, spool: Option<&mut Spool>, part: Part) {
        let mut backlog = self.backlog.lock();
        if !backlog.is_empty() {
            backlog.push_back(part);
            return;
        }
        match spool.map(|spool| spool.write(&part.json, part.events)) {
            Some(Ok(_)) => {
                self.settle_spooled(part.events);
                self.spool_ready.store(true, Relaxed);
            }
            Some(Err(e)) => {
                Stats::add(&self.stats.spool_errors, 1);
                self.stats.note_error(DeliveryError::Spool, e.message);
                backlog.push_back(part);
            }
            None => backlog.push_back(part),
        }
    }

    /// Copies the spool's evictions and losses into the stats. The caller
    /// holds the spool's lock.
    pub fn publish_spool(&self, spool: &mut Spool) {
        let evicted = spool.take_evicted();
        let lost = spool.take_own_lost();
        let stats = &self.stats;
        Stats::add(&stats.evicted, evicted.events);
        if evicted.own_events > 0 {
            self.settle_own_file(evicted.own_events, false);
        }
        if lost > 0 {
            self.settle_own_file(lost, false);
            stats.note_error(
                DeliveryError::Spool,
                format!(
                    "{lost} spooled event(s) were removed from the spool directory from outside kino"
                ),
            );
        }
        stats.spool_corrupt.store(spool.corrupt_files(), Relaxed);
    }

    /// The shutdown deadline, if kino_emitter_free has asked for one.
    pub fn shutdown_deadline(&self) -> Option<Instant> {
        self.requests.lock().shutdown
    }
}

/// Which batches are due when the worker cuts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Full batches and events up to an urgent one.
    Ready,
    /// Everything pending, full batches or not (the flush interval ran
    /// out, a flush waits, or shutdown).
    All,
}
