//! The background side: one thread per emitter that drains the queue,
//! batches, and hands batches to the sink. It sleeps on its own timer and
//! is woken by producers only for urgent events (`end`, fatal `error`), a
//! queue past its high-water mark, a flush, or shutdown — so the normal
//! `kino_emit_*` call never pays for a wake-up.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::batch::{pack, split_in_halves, to_ndjson, Part};
use crate::config::BeaconFormat;
use crate::event::{AnalyticsEvent, AnalyticsEventRecord, SessionId, StampedEvent};
use crate::ids::IdGenerator;
use crate::retry::{random_unit, Backoff};
use crate::spool::{Claimed, Spool};
use crate::stats::Stats;
use crate::transport::{BatchSink, Body, Outcome};
use crate::view::{ClosedView, ViewTracker};

/// Longest the worker sleeps before looking at the queue again, so a full
/// batch goes out promptly without producers having to wake it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// An event as it crosses the queue: stamped on the caller's thread with
/// its sequence number and the raw wall-clock reading; the calendar
/// arithmetic of a `DateTime` is left to the worker.
#[derive(Debug)]
pub(crate) struct Call {
    pub sequence: u64,
    pub at: SystemTime,
    pub event: AnalyticsEvent,
    pub reserved_qoe_sequence: u64,
}

impl Call {
    /// The event with its timestamp as a UTC date-time.
    pub fn stamp(self) -> StampedEvent {
        StampedEvent {
            sequence: self.sequence,
            timestamp: DateTime::<Utc>::from(self.at),
            event: self.event,
            reserved_qoe_sequence: self.reserved_qoe_sequence,
        }
    }
}

/// An event waiting in the inbox, with the view it belongs to.
#[derive(Debug)]
pub(crate) struct Queued {
    pub stamped: StampedEvent,
    pub view_id: Option<Uuid>,
}

/// Events taken off the channel and not yet handed to the sink.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    pub pending: VecDeque<Queued>,
    /// `pending[..urgent_until]` must be sent now (ends with an urgent event).
    pub urgent_until: usize,
    /// Views and their QoE over every event drained so far.
    pub views: ViewTracker,
}

/// What callers ask of the worker besides events.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pub flushes: Vec<Sender<()>>,
    pub shutdown: Option<Instant>,
}

/// State shared by an emitter and its worker.
pub(crate) struct Shared {
    pub session_id: SessionId,
    pub stats: Stats,
    pub rx: Receiver<Call>,
    pub inbox: Mutex<Inbox>,
    pub requests: Mutex<Requests>,
    /// Bound on `inbox.pending`, equal to the queue capacity.
    pub capacity: usize,
    /// Own events delivered, failed, or safely written to the spool: what
    /// flush waits on. Kept here, not in the worker loop, so a restarted
    /// loop keeps counting.
    pub dealt: std::sync::atomic::AtomicU64,
    /// Set by `kino_emitter_free` once it has stopped waiting: the worker
    /// must not touch the sink or the spool's files on the host's behalf.
    pub abandoned: std::sync::atomic::AtomicBool,
    /// Record ids (taken when a batch is cut, by whoever cuts it).
    pub ids: Mutex<IdGenerator>,
}

impl Shared {
    /// Moves what is queued into the inbox (up to its bound), updating QoE.
    /// Called by the worker, and by `Emitter::qoe` so figures are current
    /// even while the worker is busy sending.
    pub fn drain(&self) {
        let mut inbox = self.inbox.lock();
        let room = self.capacity.saturating_sub(inbox.pending.len());
        for call in self.rx.try_iter().take(room) {
            let stamped = call.stamp();
            let observed = inbox.views.observe(&stamped);
            let urgent = stamped.event.is_urgent();
            let at = stamped.timestamp;
            let reserved = stamped.reserved_qoe_sequence;
            inbox.pending.push_back(Queued {
                stamped,
                view_id: observed.view_id,
            });
            match observed.closed {
                Some(closed) => self.push_qoe(&mut inbox, closed, at, reserved),
                // The caller reserved a number (and counted it in
                // `emitted`) for a view the tracker did not have open:
                // that number stays a gap.
                None if reserved != 0 => {
                    self.stats.caller.emitted.fetch_sub(1, Relaxed);
                }
                None => {}
            }
            if urgent {
                inbox.urgent_until = inbox.pending.len();
            }
        }
    }

    /// Takes the next due batch (see [`Shared::next_batch`]) as bodies of at
    /// most `max_body_bytes`, oldest first. Records too large for any body
    /// are counted as failed; their number is returned beside the bodies
    /// (or, when no body is left to return, counted as dealt with here).
    pub fn take_parts(
        &self,
        batch_size: usize,
        max_body_bytes: usize,
        force_all: bool,
        quota: &mut usize,
    ) -> Option<(VecDeque<Part>, u64)> {
        let mut oversized_total = 0;
        loop {
            self.drain();
            let Some(batch) = self.next_batch(batch_size, force_all, quota) else {
                // Batches of nothing but oversized records: dealt with, or
                // a flush waiting for them never returns.
                self.add_dealt(oversized_total);
                return None;
            };
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
                Stats::add(&self.stats.failed, oversized);
                oversized_total += oversized;
            }
            if !parts.is_empty() {
                return Some((parts.into(), oversized_total));
            }
        }
    }

    /// Counts events as dealt with (see `dealt`).
    pub fn add_dealt(&self, n: u64) {
        self.dealt.fetch_add(n, Relaxed);
    }

    /// The shutdown deadline, if kino_emitter_free has asked for one.
    pub fn shutdown_deadline(&self) -> Option<Instant> {
        self.requests.lock().shutdown
    }

    /// Closes the open view, if any, at `at` (the emitter is going away).
    pub fn close_view(&self, at: DateTime<Utc>) {
        let mut inbox = self.inbox.lock();
        if let Some(closed) = inbox.views.close(at) {
            self.push_qoe(&mut inbox, closed, at, 0);
        }
    }

    /// Queues the `qoe` record of a closed view: it takes the number the
    /// closing call reserved (else the next one) and counts as emitted,
    /// like an accepted call.
    fn push_qoe(&self, inbox: &mut Inbox, closed: ClosedView, at: DateTime<Utc>, reserved: u64) {
        // A reserved number was counted in `emitted` by the closing call.
        let sequence = if reserved != 0 {
            reserved
        } else {
            self.stats.caller.emitted.fetch_add(1, Relaxed);
            self.stats.caller.sequence.fetch_add(1, Relaxed) + 1
        };
        inbox.pending.push_back(Queued {
            stamped: StampedEvent {
                sequence,
                timestamp: at,
                event: AnalyticsEvent::Qoe(Box::new(closed.figures)),
                reserved_qoe_sequence: 0,
            },
            view_id: Some(closed.view_id),
        });
    }

    /// Takes the next batch to send, if one is due: a full batch, the
    /// events up to an urgent one, everything (`force_all`: flush or
    /// shutdown), or up to `quota` events regardless of batch fullness
    /// (the interval).
    pub fn next_batch(
        &self,
        batch_size: usize,
        force_all: bool,
        quota: &mut usize,
    ) -> Option<Vec<Queued>> {
        let mut inbox = self.inbox.lock();
        let len = inbox.pending.len();
        let n = if inbox.urgent_until > 0 {
            inbox.urgent_until.min(batch_size)
        } else if len >= batch_size || force_all {
            len.min(batch_size)
        } else if *quota > 0 {
            len.min(*quota)
        } else {
            0
        };
        if n == 0 {
            return None;
        }
        inbox.urgent_until = inbox.urgent_until.saturating_sub(n);
        *quota = quota.saturating_sub(n);
        Some(inbox.pending.drain(..n).collect())
    }
}

/// Where the batch being delivered came from.
enum Source {
    /// Built from this emitter's inbox; lives only in memory.
    Memory,
    /// A spool file this worker has claimed.
    Spooled(Claimed),
}

/// The batch being delivered, held until every part is dealt with. A
/// batch being retried holds back later ones.
struct Job {
    /// Bodies still to send, oldest first (a 413 splits the head).
    parts: VecDeque<Part>,
    source: Source,
    /// Failed attempts of the head part so far.
    attempts: u32,
    /// No attempt before this (back-off or `Retry-After`).
    not_before: Instant,
}

impl Job {
    /// Events in this job that count in this emitter's `emitted`.
    fn is_own(&self) -> bool {
        match &self.source {
            Source::Memory => true,
            Source::Spooled(c) => c.is_own(),
        }
    }
}

/// A flush call waiting for every event accepted before it to be dealt with.
struct FlushWaiter {
    /// `dealt` must reach this (the `emitted` count when the worker saw
    /// the request, after draining).
    target: u64,
    ack: Sender<()>,
}

/// How often the worker loop is restarted after an internal panic before
/// the worker gives up (emits then fill the queue and report `QUEUE_FULL`).
pub const MAX_RESTARTS: u32 = 8;

/// The worker's settings and its own state.
pub(crate) struct Worker {
    pub shared: Arc<Shared>,
    pub wake: Receiver<()>,
    pub sink: Option<Arc<dyn BatchSink>>,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub request_timeout: Duration,
    pub backoff: Backoff,
    pub max_body_bytes: usize,
    pub format: BeaconFormat,
    pub spool: Option<Spool>,
    /// Dropped when the worker exits; the emitter waits on it at shutdown.
    pub _done: Sender<()>,
}

/// What the worker keeps between loop turns.
#[derive(Default)]
struct Progress {
    job: Option<Job>,
    waiters: Vec<FlushWaiter>,
}

impl Worker {
    /// The thread body: runs until shutdown is requested and handled.
    ///
    /// An internal bug that panics inside the loop does not end delivery:
    /// the loop is restarted (the batch in hand is lost from memory, or
    /// released back to the spool), at most [`MAX_RESTARTS`] times.
    pub fn run(mut self) {
        for _ in 0..=MAX_RESTARTS {
            let turn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop()));
            if turn.is_ok() {
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn run_loop(&mut self) {
        let poll = POLL_INTERVAL.min(self.flush_interval);
        let mut next_interval = Instant::now() + self.flush_interval;
        let mut progress = Progress::default();
        loop {
            let now = Instant::now();
            let mut wake_at = next_interval.min(now + poll);
            if let Some(job) = &progress.job {
                // A retry that falls due before the next poll.
                wake_at = wake_at.min(job.not_before.max(now));
            }
            if let Err(RecvTimeoutError::Disconnected) = self.wake.recv_deadline(wake_at) {
                // The emitter is gone without asking for shutdown.
                let mut requests = self.shared.requests.lock();
                requests.shutdown.get_or_insert_with(Instant::now);
            }
            let (flushes, shutdown) = {
                let mut requests = self.shared.requests.lock();
                (std::mem::take(&mut requests.flushes), requests.shutdown)
            };
            // Requests are taken before draining: every event emitted before
            // a flush call is in the channel by now.
            self.shared.drain();
            if shutdown.is_some() {
                self.shared.close_view(Utc::now());
            }
            let target = self.shared.stats.caller.emitted.load(Relaxed);
            progress
                .waiters
                .extend(flushes.into_iter().map(|ack| FlushWaiter { target, ack }));
            let now = Instant::now();
            let interval_due = now >= next_interval;
            if interval_due {
                next_interval = now + self.flush_interval;
            }
            // What must go regardless of batch fullness: everything, while a
            // flush waits or at shutdown; what is there now, at the interval.
            let force_all = !progress.waiters.is_empty() || shutdown.is_some();
            let mut quota = if interval_due {
                self.shared.inbox.lock().pending.len()
            } else {
                0
            };
            self.work(&mut progress, force_all, &mut quota, shutdown);
            self.publish_spool_stats();
            progress.waiters.retain(|w| {
                // `emitted` can shrink (an unused qoe reservation), so the
                // target is capped by its current value.
                let emitted = self.shared.stats.caller.emitted.load(Relaxed);
                if self.shared.dealt.load(Relaxed) >= w.target.min(emitted) {
                    let _ = w.ack.try_send(());
                    false
                } else {
                    true
                }
            });
            if shutdown.is_some() {
                self.finish(&mut progress);
                return;
            }
        }
    }

    /// Forms batches and delivers until nothing more is due now.
    fn work(
        &mut self,
        progress: &mut Progress,
        force_all: bool,
        quota: &mut usize,
        shutdown: Option<Instant>,
    ) {
        let mut shutdown = shutdown;
        loop {
            // Free may have been called since this turn began: its deadline
            // ends the turn, so nothing is sent on the host's behalf after.
            shutdown = shutdown.or_else(|| self.shared.shutdown_deadline());
            if let Some(deadline) = shutdown {
                if Instant::now() >= deadline || self.shared.abandoned.load(Relaxed) {
                    return;
                }
            }
            // With a spool every due batch goes to disk at once, so the
            // queue keeps draining while the collector is away.
            if self.spool.is_some() {
                while let Some(parts) = self.next_parts(force_all, quota) {
                    self.spool_parts(parts);
                }
            }
            if progress.job.is_none() {
                progress.job = match self.spool.as_mut() {
                    Some(spool) => spool.claim_oldest().map(|claimed| Job {
                        parts: VecDeque::from([Part {
                            json: claimed.body().to_vec(),
                            events: claimed.events(),
                        }]),
                        source: Source::Spooled(claimed),
                        attempts: 0,
                        not_before: Instant::now(),
                    }),
                    None => self.next_parts(force_all, quota).map(|parts| Job {
                        parts,
                        source: Source::Memory,
                        attempts: 0,
                        not_before: Instant::now(),
                    }),
                };
            }
            let Some(job) = progress.job.as_mut() else {
                return;
            };
            if Instant::now() < job.not_before {
                return; // waiting to retry; later batches wait behind it
            }
            let deadline = match shutdown {
                Some(at) => at.min(Instant::now() + self.request_timeout),
                None => Instant::now() + self.request_timeout,
            };
            self.attempt(progress, deadline);
        }
    }

    /// Takes the next due batch from the inbox as bodies within the byte
    /// limit. Records too large for any body are counted as failed.
    fn next_parts(&self, force_all: bool, quota: &mut usize) -> Option<VecDeque<Part>> {
        let (parts, oversized) =
            self.shared
                .take_parts(self.batch_size, self.max_body_bytes, force_all, quota)?;
        self.shared.add_dealt(oversized);
        Some(parts)
    }

    /// Writes parts to the spool; an event on disk is dealt with. If the
    /// disk refuses, the events are counted as failed.
    fn spool_parts(&mut self, parts: VecDeque<Part>) {
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        for part in parts {
            if spool.write(&part.json, part.events).is_err() {
                Stats::add(&self.shared.stats.failed, part.events);
            }
            self.shared.add_dealt(part.events);
        }
    }

    /// One delivery attempt of the current job's head part.
    fn attempt(&mut self, progress: &mut Progress, deadline: Instant) {
        let stats = &self.shared.stats;
        let Some(job) = progress.job.as_mut() else {
            return;
        };
        let Some(part) = job.parts.front() else {
            self.finish_job(progress);
            return;
        };
        let own = job.is_own();
        let counted_in_dealt = matches!(job.source, Source::Memory);
        let Some(sink) = &self.sink else {
            let events = part.events;
            job.parts.pop_front();
            if own {
                Stats::add(&stats.failed, events);
            }
            if counted_in_dealt {
                self.shared.add_dealt(events);
            }
            if job.parts.is_empty() {
                self.finish_job(progress);
            }
            return;
        };
        if job.attempts > 0 {
            stats.retries.fetch_add(1, Relaxed);
        }
        let body = match self.format {
            BeaconFormat::JsonArray => Body::new(part.json.clone()),
            BeaconFormat::Ndjson => match to_ndjson(&part.json) {
                Some(text) => Body::ndjson(text),
                None => Body::new(part.json.clone()),
            },
        };
        let outcome = sink.deliver(&body, deadline);
        if let Some(status) = sink.last_http_status() {
            stats.last_http_status.store(u64::from(status), Relaxed);
        }
        match outcome {
            Outcome::Closed => {
                // Freed meanwhile: keep the batch (a spool file stays for
                // the next launch), count nothing, stop.
                if let Some(job) = progress.job.take() {
                    if let (Source::Spooled(claimed), Some(spool)) =
                        (job.source, self.spool.as_mut())
                    {
                        spool.release(claimed);
                    }
                }
            }
            Outcome::Delivered => {
                let events = part.events;
                job.parts.pop_front();
                job.attempts = 0;
                if own {
                    Stats::add(&stats.delivered, events);
                } else {
                    Stats::add(&stats.resent, events);
                }
                if counted_in_dealt {
                    self.shared.add_dealt(events);
                }
                stats.batches.fetch_add(1, Relaxed);
                stats.last_success_unix_ms.store(unix_ms(), Relaxed);
                if job.parts.is_empty() {
                    self.finish_job(progress);
                }
            }
            Outcome::Failed(failure) if failure.status == Some(413) => {
                let part = job.parts.pop_front().unwrap_or_else(|| Part {
                    json: Vec::new(),
                    events: 0,
                });
                match split_in_halves(&part.json) {
                    Some((a, b)) => {
                        job.parts.push_front(b);
                        job.parts.push_front(a);
                    }
                    None => {
                        if own {
                            Stats::add(&stats.failed, part.events);
                        }
                        if counted_in_dealt {
                            self.shared.add_dealt(part.events);
                        }
                        if job.parts.is_empty() {
                            self.finish_job(progress);
                        }
                    }
                }
            }
            Outcome::Failed(failure) if failure.retryable => {
                job.attempts = job.attempts.saturating_add(1);
                let wait = failure
                    .retry_after
                    .unwrap_or_else(|| self.backoff.delay(job.attempts, random_unit()));
                job.not_before = Instant::now() + wait;
            }
            Outcome::Failed(_) => {
                let events = part.events;
                job.parts.pop_front();
                job.attempts = 0;
                if own {
                    Stats::add(&stats.failed, events);
                }
                if counted_in_dealt {
                    self.shared.add_dealt(events);
                }
                if job.parts.is_empty() {
                    self.finish_job(progress);
                }
            }
        }
    }

    /// Every part of the current job is dealt with: remove its spool file.
    fn finish_job(&mut self, progress: &mut Progress) {
        if let Some(job) = progress.job.take() {
            if let (Source::Spooled(claimed), Some(spool)) = (job.source, self.spool.as_mut()) {
                let _ = spool.ack(claimed);
            }
        }
    }

    /// Shutdown: the deadline has passed or everything is out. With a
    /// spool, what is left goes to disk (its claim released, its file
    /// kept); without one, it is counted as failed.
    fn finish(&mut self, progress: &mut Progress) {
        let shared = Arc::clone(&self.shared);
        let stats = &shared.stats;
        if let Some(job) = progress.job.take() {
            match job.source {
                Source::Spooled(claimed) => {
                    if let Some(spool) = self.spool.as_mut() {
                        spool.release(claimed);
                    }
                }
                Source::Memory => {
                    let events: u64 = job.parts.iter().map(|p| p.events).sum();
                    if self.spool.is_some() {
                        let parts = job.parts;
                        self.spool_parts(parts);
                    } else {
                        Stats::add(&stats.failed, events);
                    }
                }
            }
        }
        let mut all = usize::MAX;
        while let Some(parts) = self.next_parts(true, &mut all) {
            if self.spool.is_some() {
                self.spool_parts(parts);
            } else {
                Stats::add(&stats.failed, parts.iter().map(|p| p.events).sum());
            }
        }
        self.publish_spool_stats();
    }

    /// Copies the spool's counters into the stats.
    fn publish_spool_stats(&mut self) {
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        let stats = &self.shared.stats;
        let evicted = spool.take_evicted();
        Stats::add(&stats.evicted, evicted.events);
        Stats::add(&stats.failed, evicted.own_events);
        // Own batches another emitter sharing the directory sent (counted
        // in its `resent`) or evicted: out of this emitter's hands.
        Stats::add(&stats.failed, spool.take_own_removed_elsewhere());
        stats.spooled.store(spool.own_pending_events(), Relaxed);
        stats.spool_corrupt.store(spool.corrupt_files(), Relaxed);
    }
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
