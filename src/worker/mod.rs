//! The background side: one thread per emitter that drains the queue,
//! batches, writes the spool and hands batches to the sink.
//!
//! It sleeps until there is work ([`wake`]): with nothing pending it
//! sleeps without a timeout, so an idle or paused player costs no wake-ups.
//! Producers wake it only for the first event after an idle period (the
//! channel itself), a batch's worth queued, an urgent event (`end`, fatal
//! `error`), a flush, or shutdown.
//!
//! The files: [`shared`] is what callers touch, [`job`] the batch in hand,
//! [`settle`] what an attempt's outcome does to it and to the counters,
//! [`wake`] when to wake next; this file is the loop.

mod context;
mod job;
pub(crate) mod settle;
pub(crate) mod shared;
pub(crate) mod wake;

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};

use crate::batch::{to_ndjson, Part};
use crate::clock::Mono;
use crate::config::BeaconFormat;
use crate::spool::Spool;
use crate::stats::{DeliveryError, Stats};
use crate::transport::{BatchSink, Body, Failure, Outcome};
use job::{Job, Source};
use settle::{After, RetryRules};
pub(crate) use shared::{Call, Due, FlushRequest, Shared};
use wake::{Situation, Wake};

/// How often the worker loop is restarted after an internal panic before
/// the worker gives up (calls then return `CLOSED`; everything accepted
/// is counted as failed).
pub const MAX_RESTARTS: u32 = 8;

/// How long after the shutdown deadline the worker may still start
/// writing batches to the spool (the emitter waits a little longer).
const FINAL_WRITE_MARGIN: Duration = Duration::from_millis(100);

/// Where and how the worker keeps a spool.
#[derive(Debug, Clone)]
pub(crate) struct SpoolSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub max_age: Duration,
}

/// The worker's settings.
pub(crate) struct Settings {
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub request_timeout: Duration,
    pub retry: RetryRules,
    pub max_body_bytes: usize,
    pub format: BeaconFormat,
    pub spool: Option<SpoolSettings>,
}

/// The worker's handles and settings.
pub(crate) struct Worker {
    pub shared: Arc<Shared>,
    /// The queue's receiving end, for sleeping on when idle.
    pub rx: Receiver<Call>,
    /// Wake tokens from callers.
    pub wake: Receiver<()>,
    pub sink: Option<Arc<dyn BatchSink>>,
    pub settings: Settings,
    /// Dropped when the worker exits; the emitter waits on it at shutdown.
    pub _done: Sender<()>,
}

/// What the worker keeps between loop turns. It lives outside the panic
/// boundary: a panic in the loop leaves the batch in hand and the waiting
/// flushes where they were (the memory backlog is in [`Shared`]).
#[derive(Default)]
struct State {
    job: Option<Job>,
    waiters: Vec<FlushRequest>,
    /// A delivery attempt is under way (a panic then fails its part).
    in_delivery: bool,
    panics: u32,
    spool_opened: bool,
}

impl State {
    /// Takes new flush requests, and forgets the ones whose caller no
    /// longer waits (timed out): what the worker holds stays bounded by
    /// the flush calls still waiting, however long an outage lasts.
    fn add_flushes(&mut self, flushes: Vec<FlushRequest>) {
        self.waiters.extend(flushes);
        self.waiters.retain(|w| !w.abandoned());
    }
}

impl Worker {
    /// The thread body: runs until shutdown is requested and handled.
    ///
    /// An internal bug that panics inside the loop does not end delivery:
    /// the loop restarts with its state intact; a part that was being
    /// delivered when it panicked is counted as failed. After
    /// [`MAX_RESTARTS`] panics the worker gives up (see [`Worker::give_up`]).
    pub fn run(mut self) {
        let mut state = State::default();
        loop {
            let turn = catch_unwind(AssertUnwindSafe(|| self.run_loop(&mut state)));
            let Err(payload) = turn else {
                return;
            };
            self.after_panic(&mut state, payload.as_ref());
            if state.panics > MAX_RESTARTS {
                self.give_up(&mut state);
                return;
            }
        }
    }

    fn run_loop(&mut self, st: &mut State) {
        if !st.spool_opened {
            st.spool_opened = true;
            self.open_spool();
        }
        loop {
            let mut disconnected = false;
            loop {
                match self.wake.try_recv() {
                    Ok(()) => {}
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            let (flushes, shutdown) = {
                let mut requests = self.shared.requests.lock();
                if disconnected {
                    // The emitter is gone without asking for shutdown.
                    requests.shutdown.get_or_insert_with(Instant::now);
                }
                (std::mem::take(&mut requests.flushes), requests.shutdown)
            };
            // Requests are taken before draining: every event emitted before
            // a flush call is in the channel by now.
            self.shared.drain();
            self.serve_context(st);
            if shutdown.is_some() {
                self.shared.close_view();
            }
            st.add_flushes(flushes);
            let due = if !st.waiters.is_empty() || shutdown.is_some() || self.interval_due() {
                Due::All
            } else {
                Due::Ready
            };
            self.work(st, due, shutdown);
            if self.abandoned() {
                return;
            }
            self.publish_spool();
            self.ack_waiters(st);
            if let Some(deadline) = shutdown {
                self.finish(st, deadline);
                return;
            }
            let wake = wake::next_wake(&self.situation(st));
            self.sleep(wake);
        }
    }

    /// Whether the oldest pending event has waited the flush interval.
    fn interval_due(&self) -> bool {
        let oldest = self.shared.inbox.lock().oldest;
        oldest.is_some_and(|t| t.plus(self.settings.flush_interval) <= Mono::now())
    }

    /// What the worker holds, for [`wake::next_wake`].
    fn situation(&self, st: &State) -> Situation {
        // The spool's lock is never taken while holding the inbox's (the
        // shutdown rescue takes them in the other order).
        let spooling = self.spooling();
        let backlog = self.shared.backlog.lock().len();
        let inbox = self.shared.inbox.lock();
        Situation {
            now: Mono::now(),
            pending: inbox.pending.len(),
            backlog,
            urgent: inbox.urgent_until > 0,
            oldest: inbox.oldest,
            batch_size: self.settings.batch_size,
            flush_interval: self.settings.flush_interval,
            flush_waiting: !st.waiters.is_empty(),
            job_retry_at: st.job.as_ref().map(|j| j.not_before),
            spooling,
            spool_ready: self.shared.spool_ready.load(Relaxed)
                && !self.shared.stats.caller.suppress.load(Relaxed),
        }
    }

    /// Sleeps until `wake` (or a caller's wake-up).
    fn sleep(&self, wake: Wake) {
        let (until, event_wakes) = match wake {
            Wake::Now => return,
            Wake::At(t) => (Some(t), false),
            Wake::AtOrEvent(t) => (Some(t), true),
            Wake::Idle => (None, true),
        };
        // Suppressed (sampled out, no consent): calls only feed the QoE
        // tracker, and callers wake the worker once a batch's worth of
        // them waits, never per call: the channel is not watched.
        if event_wakes && !self.shared.stats.caller.suppress.load(Relaxed) {
            let mut select = Select::new();
            select.recv(&self.rx);
            select.recv(&self.wake);
            match until {
                Some(t) => {
                    let _ = select.ready_timeout(t.since(Mono::now()));
                }
                None => {
                    select.ready();
                }
            }
        } else {
            match until {
                Some(t) => {
                    let _ = self.wake.recv_timeout(t.since(Mono::now()));
                }
                None => {
                    let _ = self.wake.recv();
                }
            }
        }
    }

    /// Forms batches and delivers until nothing more is due now.
    fn work(&mut self, st: &mut State, due: Due, shutdown: Option<Instant>) {
        loop {
            if self.past_deadline(shutdown) {
                return;
            }
            self.serve_context(st);
            // With a spool every due batch goes to disk at once, so the
            // queue keeps draining while the collector is away.
            if self.spooling() {
                // Cut and written under the spool's lock: batches reach the
                // disk in queue order even while a flush writes too.
                loop {
                    let mut guard = self.shared.spool.spool.lock();
                    if self.abandoned() {
                        return;
                    }
                    let Some(parts) = self.take_parts(due) else {
                        break;
                    };
                    for part in parts {
                        self.shared.spool_or_keep(guard.as_mut(), part);
                    }
                    drop(guard);
                    if self.past_deadline(shutdown) {
                        return;
                    }
                }
            }
            if st.job.is_none() {
                st.job = self.next_job(due);
            }
            let Some(job) = st.job.as_ref() else {
                return;
            };
            if Mono::now() < job.not_before {
                return; // waiting to retry; later batches wait behind it
            }
            let deadline = match shutdown {
                Some(at) => at.min(Instant::now() + self.settings.request_timeout),
                None => Instant::now() + self.settings.request_timeout,
            };
            self.attempt(st, deadline);
        }
    }

    /// Whether the shutdown deadline has passed (free may have been called
    /// since this turn began: its deadline ends the turn, so nothing is
    /// sent or written on the host's behalf after), or free gave up.
    fn past_deadline(&self, shutdown: Option<Instant>) -> bool {
        shutdown
            .or_else(|| self.shared.shutdown_deadline())
            .is_some_and(|deadline| Instant::now() >= deadline)
            || self.abandoned()
    }

    /// The next batch to deliver: the memory backlog first, then the spool
    /// (own files, then orphans), or, without a spool, the inbox.
    fn next_job(&mut self, due: Due) -> Option<Job> {
        if self.shared.stats.caller.suppress.load(Relaxed) {
            return None; // consent withdrawn: nothing is sent (not even orphans)
        }
        if let Some((part, hold)) = self.shared.take_backlog() {
            return Some(Job::from_backlog(part, hold));
        }
        if self.spooling() {
            if !self.shared.spool_ready.load(Relaxed) {
                return None;
            }
            let claimed = self.with_spool(Spool::claim_oldest).flatten();
            self.shared.spool_ready.store(claimed.is_some(), Relaxed);
            return claimed.map(Job::from_file);
        }
        self.take_parts(due)
            .map(|parts| Job::new(parts, Source::Memory))
    }

    fn take_parts(&self, due: Due) -> Option<VecDeque<Part>> {
        self.shared
            .take_parts(self.settings.batch_size, self.settings.max_body_bytes, due)
    }

    /// One delivery attempt of the current job's head part, and its
    /// settlement.
    fn attempt(&mut self, st: &mut State, deadline: Instant) {
        let Some(job) = st.job.as_mut() else {
            return;
        };
        let Some(part) = job.parts.front() else {
            self.finish_job(st);
            return;
        };
        let outcome = match &self.sink {
            None => Outcome::Failed(Failure {
                retryable: false,
                status: None,
                retry_after: None,
                kind: DeliveryError::NoDestination,
                reason: "no beacon URL and no batch callback configured".into(),
            }),
            Some(sink) => {
                if job.attempts > 0 {
                    self.shared.stats.retries.fetch_add(1, Relaxed);
                }
                // From encoding to the status read: a panic anywhere in
                // it fails this part, so one record that makes the encoder
                // panic cannot panic every restart until the worker gives up.
                st.in_delivery = true;
                let body = body_for(self.settings.format, part, &self.shared);
                let outcome = sink.deliver(&body, deadline);
                if let Some(status) = sink.last_http_status() {
                    let s = &self.shared.stats;
                    s.last_http_status.store(u64::from(status), Relaxed);
                }
                st.in_delivery = false;
                outcome
            }
        };
        if self.abandoned() {
            return; // freed meanwhile: touch nothing more
        }
        let Some(job) = st.job.as_mut() else {
            return;
        };
        match settle::apply(&self.shared, job, outcome, &self.settings.retry) {
            After::Keep => {}
            After::Done => self.finish_job(st),
            After::Abandon => {
                if let Some(job) = st.job.take() {
                    self.release(job);
                }
            }
        }
    }

    /// Every part of the current job is dealt with: remove its spool file.
    fn finish_job(&mut self, st: &mut State) {
        if let Some(claimed) = st.job.take().and_then(|job| job.source.into_claimed()) {
            self.with_spool(|spool| spool.ack(claimed));
            // The spool may hold more: try again (a claim costs no listing
            // while own files are known).
            self.shared.spool_ready.store(true, Relaxed);
        }
    }

    /// Gives a job's spool file back undelivered.
    fn release(&self, job: Job) {
        if let Some(claimed) = job.source.into_claimed() {
            self.with_spool(|spool| spool.release(claimed));
        }
    }

    /// Opens the spool, on this thread (never the host's): a directory
    /// that cannot be used is reported in the stats and delivery goes on
    /// from memory.
    fn open_spool(&self) {
        let Some(cfg) = &self.settings.spool else {
            return;
        };
        match Spool::open(&cfg.dir, cfg.max_bytes, cfg.max_age) {
            Ok(spool) => {
                let ready = spool.has_claimable();
                self.shared.spool_ready.store(ready, Relaxed);
                *self.shared.spool.spool.lock() = Some(spool);
            }
            Err(e) => {
                let stats = &self.shared.stats;
                Stats::add(&stats.spool_errors, 1);
                stats.note_error(DeliveryError::Spool, e.message);
            }
        }
    }

    /// Whether a spool is open.
    fn spooling(&self) -> bool {
        self.shared.spool.spool.lock().is_some()
    }

    /// Runs `f` on the spool unless `kino_emitter_free` has given up on
    /// this worker; `None` then, or without a spool.
    fn with_spool<R>(&self, f: impl FnOnce(&mut Spool) -> R) -> Option<R> {
        let mut guard = self.shared.spool.spool.lock();
        if self.shared.spool.abandoned.load(Relaxed) {
            return None;
        }
        guard.as_mut().map(f)
    }

    /// Whether `kino_emitter_free` has given up on this worker.
    fn abandoned(&self) -> bool {
        self.shared.spool.abandoned.load(Relaxed)
    }

    /// Copies the spool's evictions and losses into the stats.
    fn publish_spool(&self) {
        self.with_spool(|spool| self.shared.publish_spool(spool));
    }

    /// Acknowledges the flushes whose events are all dealt with.
    fn ack_waiters(&self, st: &mut State) {
        let shared = &self.shared;
        st.waiters.retain(|w| {
            let emitted = shared.stats.caller.emitted.load(Relaxed);
            if shared.dealt.load(Relaxed) >= w.target.min(emitted) {
                let _ = w.ack.try_send(());
                false
            } else {
                true
            }
        });
    }

    /// Shutdown: the deadline has passed or everything is out. With a
    /// spool what is left goes to disk (claimed files are released, kept);
    /// without one, or once the disk refuses or time is up, it is counted
    /// as failed.
    fn finish(&mut self, st: &mut State, deadline: Instant) {
        let write_until = deadline + FINAL_WRITE_MARGIN;
        let mut left: VecDeque<Part> = VecDeque::new();
        if let Some(job) = st.job.take() {
            if matches!(job.source, Source::Memory) {
                left.extend(job.parts);
            } else {
                self.release(job);
            }
        }
        left.extend(self.shared.backlog.lock().drain(..));
        loop {
            let part = match left.pop_front() {
                Some(part) => part,
                None if Instant::now() < write_until => match self.take_parts(Due::All) {
                    Some(parts) => {
                        left.extend(parts);
                        continue;
                    }
                    None => break,
                },
                None => break,
            };
            let written = Instant::now() < write_until
                && matches!(
                    self.with_spool(|spool| spool.write(&part.json, part.events)),
                    Some(Ok(_))
                );
            // (At shutdown a refused write is failed, not kept: nothing is
            // left to send it from memory.)
            if written {
                self.shared.settle_spooled(part.events);
            } else {
                self.shared.settle_memory(part.events, false);
            }
        }
        // Out of time: what is still in the inbox is not even cut into
        // bodies, only counted.
        let unsent: u64 = {
            let mut inbox = self.shared.inbox.lock();
            inbox.urgent_until = 0;
            inbox.oldest = None;
            inbox.pending.drain(..).count() as u64
        };
        if unsent > 0 {
            self.shared.settle_memory(unsent, false);
        }
        self.publish_spool();
        self.ack_waiters(st);
        if !self.abandoned() {
            if let Some(spool) = self.shared.spool.spool.lock().take() {
                spool.finish();
            }
        }
    }

    /// A panic was caught in the loop: count it, and fail the part being
    /// delivered if that is where it happened.
    fn after_panic(&mut self, st: &mut State, payload: &(dyn std::any::Any + Send)) {
        st.panics += 1;
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let stats = &self.shared.stats;
        Stats::add(&stats.internal_errors, 1);
        stats.note_error(
            DeliveryError::Internal,
            format!("internal error caught in kino's worker: {what}"),
        );
        if std::mem::take(&mut st.in_delivery) {
            let Some(job) = st.job.as_mut() else {
                return;
            };
            if let Some(part) = job.parts.front() {
                let events = part.events;
                job.next_part();
                settle::settle(&self.shared, &job.source, events, false);
            }
            if job.parts.is_empty() {
                self.finish_job(st);
            }
        }
    }

    /// Too many internal errors: stop accepting calls, count everything
    /// accepted and still here as failed, and answer every flush.
    fn give_up(&mut self, st: &mut State) {
        let shared = Arc::clone(&self.shared);
        shared.stats.caller.closed.store(true, Relaxed);
        if let Some(job) = st.job.take() {
            let events: u64 = job.parts.iter().map(|p| p.events).sum();
            settle::settle(&shared, &job.source, events, false);
            self.release(job);
        }
        let backlog: Vec<Part> = shared.backlog.lock().drain(..).collect();
        for part in backlog {
            shared.settle_memory(part.events, false);
        }
        shared.drain();
        let pending: u64 = {
            let mut inbox = shared.inbox.lock();
            inbox.urgent_until = 0;
            inbox.oldest = None;
            inbox.pending.drain(..).count() as u64
        };
        shared.settle_memory(pending, false);
        for w in st.waiters.drain(..) {
            let _ = w.ack.try_send(());
        }
        let mut requests = shared.requests.lock();
        for w in requests.flushes.drain(..) {
            let _ = w.ack.try_send(());
        }
        // Clear and pending-events callers hear CLOSED (their channel drops).
        requests.context.clear();
    }
}

/// The body of `part` in the configured format.
fn body_for(format: BeaconFormat, part: &Part, shared: &Shared) -> Body {
    match format {
        BeaconFormat::JsonArray => Body::new(part.json.clone()),
        BeaconFormat::Ndjson => match to_ndjson(&part.json) {
            Some(text) => Body::ndjson(text),
            None => Body::new(part.json.clone()),
        },
        BeaconFormat::OtlpJson => {
            // The session metadata as it is now: kino.metadata.<key>, and
            // service.name from app_name.
            let resource = crate::otlp::OtlpResource::with_metadata(
                shared.session_id,
                shared.session_metadata(),
            );
            match crate::otlp::encode_logs(&part.json, &resource, std::time::SystemTime::now()) {
                Some(json) => Body::otlp(json),
                None => Body::new(part.json.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_that_timed_out_are_forgotten() {
        let mut st = State::default();
        let waiting = Arc::new(());
        let request = |caller: &Arc<()>| FlushRequest {
            target: 1,
            ack: crossbeam_channel::bounded(1).0,
            caller: Arc::downgrade(caller),
        };
        for _ in 0..1000 {
            let gone = Arc::new(());
            st.add_flushes(vec![request(&gone)]);
        }
        st.add_flushes(vec![request(&waiting)]);
        assert_eq!(st.waiters.len(), 1, "only the flush still waiting");
        st.add_flushes(Vec::new());
        assert_eq!(st.waiters.len(), 1);
        drop(waiting);
        st.add_flushes(Vec::new());
        assert!(st.waiters.is_empty());
    }
}
