//! What an emitter and its worker share: the queue's receiving end, the
//! inbox the worker drains it into (where the QoE tracker sees every
//! event), the requests callers make (flush, shutdown), and the counters.
//!
//! The caller's threads touch this only through [`Shared::drain`] (from
//! `kino_emitter_qoe` and `kino_emitter_cmcd`), [`Shared::request_flush`],
//! [`Shared::request`] and the shutdown path; `kino_emit_*` itself touches
//! only the channel and the caller counters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::batch::{pack, Part};
use crate::clock::{Anchor, Mono, WallClock};
use crate::event::{AnalyticsEvent, AnalyticsEventRecord, SessionId, StampedEvent};
use crate::ids::IdGenerator;
use crate::metadata::{Level, Map, MetadataState};
use crate::spool::Spool;
use crate::stats::{DeliveryError, Stats};
use crate::view::{ClosedView, ViewTracker};

/// A call as it crosses the queue: stamped on the caller's thread with
/// its sequence number and a monotonic clock reading; its wall-clock time
/// is worked out when the worker drains it ([`crate::clock`]).
#[derive(Debug)]
pub(crate) struct Call {
    /// The number of the record this call makes; 0 when it makes none (a
    /// suppressed call, which only the QoE tracker sees, or a metadata
    /// change that changes no open view's metadata).
    pub sequence: u64,
    pub mono: Mono,
    pub payload: Payload,
    /// The number the caller reserved (and counted) for the `qoe` record
    /// of the view this call closes; 0 when it closes none.
    pub qoe_sequence: u64,
}

/// What a [`Call`] carries.
#[derive(Debug)]
pub(crate) enum Payload {
    /// A `kino_emit_*` event.
    Event(AnalyticsEvent),
    /// A metadata change: a control message, counted in
    /// [`Shared::control`] while it is in the channel.
    Metadata(Box<MetadataChange>),
}

/// One `kino_*_set_*metadata` call, checked by the caller.
#[derive(Debug)]
pub(crate) struct MetadataChange {
    pub level: Level,
    pub key: String,
    /// `None` removes the key.
    pub value: Option<String>,
}

/// A record waiting in the inbox: its id (drawn when it entered the
/// inbox, so `kino_emitter_pending_events` shows the id it is sent with),
/// the view it belongs to and the context it carries.
#[derive(Debug)]
pub(crate) struct Queued {
    pub id: Uuid,
    pub stamped: StampedEvent,
    pub view_id: Option<Uuid>,
    pub metadata: Option<Arc<Map>>,
    pub sample_rate: Option<f64>,
}

impl Queued {
    /// The wire record, as a copy (the record stays queued).
    pub fn record(&self, session_id: SessionId) -> AnalyticsEventRecord {
        let mut record =
            AnalyticsEventRecord::with_id(self.id, session_id, self.stamped.clone(), self.view_id);
        record.metadata = self.metadata.clone();
        record.sample_rate = self.sample_rate;
        record
    }

    /// The wire record.
    pub fn into_record(self, session_id: SessionId) -> AnalyticsEventRecord {
        let mut record =
            AnalyticsEventRecord::with_id(self.id, session_id, self.stamped, self.view_id);
        record.metadata = self.metadata;
        record.sample_rate = self.sample_rate;
        record
    }
}

/// Records taken off the channel and not yet cut into a batch, and the
/// state the drain keeps in queue order.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub pending: VecDeque<Queued>,
    /// `pending[..urgent_until]` must be sent now (ends with an urgent event).
    pub urgent_until: usize,
    /// When the oldest pending event arrived (its monotonic stamp).
    pub oldest: Option<Mono>,
    /// Views and their QoE over every event drained so far.
    pub views: ViewTracker,
    /// Metadata as of the last call drained.
    pub meta: MetadataState,
    /// Record ids (one generator per emitter, seeded once: no system call).
    pub ids: IdGenerator,
    /// The view and its stall count at the last `kino_emitter_cmcd` call.
    pub cmcd_stalls_seen: Option<(Uuid, u32)>,
}

impl Inbox {
    /// An empty inbox with the emitter's starting metadata.
    pub fn new(meta: MetadataState) -> Self {
        Inbox {
            pending: VecDeque::new(),
            urgent_until: 0,
            oldest: None,
            views: ViewTracker::default(),
            meta,
            ids: IdGenerator::from_os(),
            cmcd_stalls_seen: None,
        }
    }
}

/// A flush call waiting for every event accepted before it to be dealt with.
#[derive(Debug)]
pub(crate) struct FlushRequest {
    /// `dealt` must reach this (the `emitted` count when flush was called).
    pub target: u64,
    /// Where to say it is done.
    pub ack: Sender<()>,
    /// Alive while the flush call waits. One that timed out is forgotten:
    /// an app flushing now and then through a long outage would otherwise
    /// pile them up, unbounded.
    pub caller: Weak<()>,
}

impl FlushRequest {
    /// Its caller stopped waiting (the flush timed out).
    pub fn abandoned(&self) -> bool {
        self.caller.strong_count() == 0
    }
}

/// What callers ask of the worker besides events.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Each waiting flush, in call order.
    pub flushes: Vec<FlushRequest>,
    pub shutdown: Option<Instant>,
    /// `clear` and `pending_events` calls, in call order
    /// ([`crate::worker::context`]).
    pub context: Vec<ContextRequest>,
}

/// A caller's request about the records not yet delivered, served on the
/// worker (which alone holds all of them: inbox, batch in hand, memory
/// backlog, spool files).
#[derive(Debug)]
pub(crate) enum ContextRequest {
    /// Discard them; say when done.
    Clear(Sender<()>),
    /// Send them, as a JSON array of records in sequence order.
    Pending(Sender<String>),
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
    /// are dealt with in queue order (what flush relies on). The same holds
    /// while a batch taken from it is in the worker's hands
    /// ([`Shared::backlog_in_hand`]). Shared so that a flush on the host's
    /// thread can add to it too.
    pub backlog: Mutex<VecDeque<Part>>,
    /// The worker holds a batch taken from the backlog (set under the
    /// backlog's lock, cleared when that job is dropped: [`BacklogHold`]).
    pub backlog_in_hand: AtomicBool,
    /// The spool may hold something to send (own files written, or orphans
    /// found) and no claim has failed since.
    pub spool_ready: AtomicBool,
    pub wall_clock: WallClock,
    /// Put the merged metadata on every record of a view, not just on
    /// `load` and `qoe`.
    pub every_record: bool,
    /// The session's sample rate (on `load` and `qoe` records).
    pub sample_rate: f64,
    /// Metadata changes in the channel, bounded by
    /// [`crate::emitter::CONTROL_SLOTS`] (their own slots, beside the
    /// queue capacity).
    pub control: AtomicU64,
}

impl Shared {
    /// Moves everything queued into the inbox, updating QoE and metadata.
    /// Called by the worker, and by `Emitter::qoe` (and `cmcd`) so figures
    /// are current even while the worker is stuck in a request. The inbox
    /// needs no bound of its own: admission counts every event in memory
    /// (`in_memory`), so channel and inbox together never hold more than
    /// the capacity.
    pub fn drain(&self) {
        let mut guard = self.inbox.lock();
        let inbox = &mut *guard;
        let mut anchor: Option<Anchor> = None;
        while let Ok(call) = self.rx.try_recv() {
            let anchor = *anchor.get_or_insert_with(|| Anchor::now(self.wall_clock));
            match call.payload {
                Payload::Event(event) => {
                    let stamped = StampedEvent {
                        sequence: call.sequence,
                        mono: call.mono,
                        timestamp: anchor.wall_of(call.mono),
                        event,
                    };
                    self.take_event(inbox, stamped, call.qoe_sequence, anchor);
                }
                Payload::Metadata(change) => {
                    Stats::sub(&self.control, 1);
                    let at = StampedEvent {
                        sequence: call.sequence,
                        mono: call.mono,
                        timestamp: anchor.wall_of(call.mono),
                        event: AnalyticsEvent::Metadata {
                            changed: BTreeMap::new(),
                        },
                    };
                    self.take_metadata(inbox, *change, at);
                }
            }
        }
    }

    /// One event into the tracker and, unless it was suppressed (number
    /// 0), into the inbox as a record, followed by the `qoe` record of a
    /// view it closes.
    fn take_event(&self, inbox: &mut Inbox, stamped: StampedEvent, reserved: u64, anchor: Anchor) {
        let observed = inbox.views.observe(&stamped);
        // The closing view's metadata, before it goes.
        let closing = observed.closed.as_ref().map(|_| inbox.meta.merged());
        if closing.is_some() {
            inbox.meta.clear_view();
        }
        if stamped.sequence == 0 {
            return; // suppressed: the tracker saw it; no record, no qoe record
        }
        let load = matches!(stamped.event, AnalyticsEvent::Load { .. });
        // A load's record belongs to the view it opens; an end's to the one
        // it closes.
        let metadata = if load {
            Some(inbox.meta.merged())
        } else if self.every_record && observed.view_id.is_some() {
            closing.clone().or_else(|| Some(inbox.meta.merged()))
        } else {
            None
        };
        let urgent = stamped.event.is_urgent();
        let at = stamped.mono;
        let sample_rate = load.then_some(self.sample_rate);
        self.push(inbox, stamped, observed.view_id, metadata, sample_rate);
        match observed.closed {
            Some(closed) => self.push_qoe(inbox, closed, closing, at, anchor, reserved),
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

    /// A metadata change, applied in queue order; with a number (the
    /// caller found it changes the open view's metadata) it becomes a
    /// `metadata` record of that view. `at` is the call's stamp.
    fn take_metadata(&self, inbox: &mut Inbox, change: MetadataChange, mut at: StampedEvent) {
        let key = change.key;
        // The caller checked the key bound on the same state in the same
        // order: this cannot fail.
        let _ = inbox.meta.set(change.level, &key, change.value);
        if at.sequence == 0 {
            return;
        }
        let value = inbox.meta.value(&key).map(str::to_owned);
        at.event = AnalyticsEvent::Metadata {
            changed: [(key, value)].into(),
        };
        let view_id = inbox.views.open_view_id();
        let metadata = self.every_record.then(|| inbox.meta.merged());
        self.push(inbox, at, view_id, metadata, None);
    }

    /// Appends a record to the inbox with a fresh id.
    fn push(
        &self,
        inbox: &mut Inbox,
        stamped: StampedEvent,
        view_id: Option<Uuid>,
        metadata: Option<Arc<Map>>,
        sample_rate: Option<f64>,
    ) {
        inbox.oldest.get_or_insert(stamped.mono);
        let id = inbox.ids.next_id();
        inbox.pending.push_back(Queued {
            id,
            stamped,
            view_id,
            metadata,
            sample_rate,
        });
    }

    /// Closes the open view, if any, now (the emitter is going away). A
    /// suppressed emitter makes no `qoe` record for it.
    pub fn close_view(&self) {
        let mut guard = self.inbox.lock();
        let inbox = &mut *guard;
        let anchor = Anchor::now(self.wall_clock);
        if let Some(closed) = inbox.views.close(anchor.mono()) {
            let metadata = inbox.meta.merged();
            inbox.meta.clear_view();
            if !self.stats.caller.suppress.load(Relaxed) {
                self.push_qoe(inbox, closed, Some(metadata), anchor.mono(), anchor, 0);
            }
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
        metadata: Option<Arc<Map>>,
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
        let stamped = StampedEvent {
            sequence,
            mono: at,
            timestamp: anchor.wall_of(at),
            event: AnalyticsEvent::Qoe(Box::new(closed.figures)),
        };
        let sample_rate = Some(self.sample_rate);
        self.push(inbox, stamped, Some(closed.view_id), metadata, sample_rate);
    }

    /// The session's metadata now (kino's keys and the session level, no
    /// view's), for a beacon-level use such as an OTLP resource.
    pub fn session_metadata(&self) -> Map {
        self.inbox.lock().meta.session()
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
            let mut records: Vec<AnalyticsEventRecord> = batch
                .into_iter()
                .map(|q| q.into_record(self.session_id))
                .collect();
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

    /// Asks for a flush: its `ack` gets a message once `target` events (the
    /// `emitted` count when the flush was called) are dealt with. Since
    /// events are counted before they are queued and dealt with in queue
    /// order, that covers every event emitted before the flush.
    pub fn request_flush(&self, request: FlushRequest) {
        self.requests.lock().flushes.push(request);
        let _ = self.wake.try_send(());
    }

    /// Writes a part to the spool, or, if the disk refuses or the backlog
    /// already holds something, puts it in the memory backlog (saying so
    /// in the stats). The caller holds the spool's lock (`spool`).
    pub fn spool_or_keep(&self, spool: Option<&mut Spool>, part: Part) {
        let mut backlog = self.backlog.lock();
        if !backlog.is_empty() || self.backlog_in_hand.load(Relaxed) {
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

    /// Takes the oldest batch of the backlog, with the hold that keeps later
    /// batches behind it until it is dealt with.
    pub fn take_backlog(self: &Arc<Self>) -> Option<(Part, BacklogHold)> {
        let mut backlog = self.backlog.lock();
        let part = backlog.pop_front()?;
        self.backlog_in_hand.store(true, Relaxed);
        Some((part, BacklogHold(Arc::clone(self))))
    }

    /// Asks the worker for `request` (served in call order, after every
    /// call made before it is drained) and wakes it.
    pub fn request(&self, request: ContextRequest) {
        self.requests.lock().context.push(request);
        let _ = self.wake.try_send(());
    }

    /// The shutdown deadline, if kino_emitter_free has asked for one.
    pub fn shutdown_deadline(&self) -> Option<Instant> {
        self.requests.lock().shutdown
    }
}

/// Kept by a job taken from the memory backlog: while it lives, batches
/// cut later join the backlog instead of going to disk, so that none of
/// them counts as dealt with before it (what flush relies on).
pub(crate) struct BacklogHold(Arc<Shared>);

impl Drop for BacklogHold {
    fn drop(&mut self) {
        self.0.backlog_in_hand.store(false, Relaxed);
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
