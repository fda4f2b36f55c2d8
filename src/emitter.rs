//! The caller side: validate, stamp, `try_send`. This is the path a
//! player's playback thread runs on every `kino_emit_*` call: no lock, no
//! system call on the normal path, and no allocation for numeric events.
//! The worker is woken only by the first event after an idle period, a
//! batch's worth queued, or an urgent event.
//!
//! The context calls (metadata, consent, clear, pending events, CMCD) are
//! in [`context`].

mod context;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::clock::Mono;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{AnalyticsEvent, SessionId};
use crate::metadata::MetadataState;
use crate::sanitize::sanitize;
use crate::stats::{Stats, StatsSnapshot};
use crate::transport::callback::CallbackSink;
use crate::transport::BatchSink;
use crate::view::ViewFigures;
use crate::worker::shared::{Inbox, Payload, Requests, SpoolCell};
use crate::worker::{Call, Due, FlushRequest, Settings, Shared, SpoolSettings, Worker};

/// Extra time `Drop` waits for the worker beyond the shutdown timeout
/// (CONTRACT.md allows 250 ms in all; the rest is for the spool rescue).
pub const SHUTDOWN_MARGIN: Duration = Duration::from_millis(150);

/// Latest end of the spool rescue, after the shutdown deadline.
const RESCUE_LIMIT: Duration = Duration::from_millis(230);

/// Stack size of a worker thread: enough for a TLS handshake, a fraction
/// of the platform default (an app with many players has many workers).
const WORKER_STACK: usize = 512 * 1024;

/// Channel slots for metadata changes, beside the queue capacity: events
/// never take a change's room, and at most this many changes wait for the
/// worker at once (the worker is woken at each; should this many still
/// wait, the caller applies them itself), so a change is refused for room
/// only when suppressed calls (sampled out, no consent) of other threads
/// fill the whole channel at that moment: `QUEUE_FULL`, a counted drop.
pub const CONTROL_SLOTS: u64 = 64;

/// What the view gate guards (see [`Emitter`]).
#[derive(Debug)]
struct Gate {
    /// Whether a view is open, as callers see it.
    open: bool,
    /// The metadata as callers have set it so far (the worker keeps the
    /// same state in queue order): to refuse a 65th key at the call, and
    /// to know whether a change changes the open view's metadata.
    meta: MetadataState,
}

impl Gate {
    /// A call that changes views was queued: a view it closes takes its
    /// metadata with it.
    fn moved(&mut self, closes: bool, opens: bool) {
        if closes {
            self.meta.clear_view();
        }
        self.open = opens;
    }
}

/// One player instance's analytics pipe. Thread-safe: `emit`, `flush`,
/// `stats` and `qoe` may be called from any thread at once.
pub struct Emitter {
    shared: Arc<Shared>,
    tx: Sender<Call>,
    /// Admission bound: events in memory (queue and worker) at most.
    capacity: u64,
    /// Calls with `sequence & wake_check_mask == 0` look at the queue's
    /// length, and wake the worker once a batch's worth is waiting.
    wake_check_mask: u64,
    wake_threshold: usize,
    keep_url_query: bool,
    /// Whether a view is open, as callers see it, and the metadata. Held
    /// while a call that can open or close a view (`load`, `end`, fatal
    /// `error`: a few per view) or change metadata is numbered and queued,
    /// so callers and the worker's tracker agree on which call closes a
    /// view (its `qoe` record can have the number right after it) and on
    /// which view a metadata change belongs to.
    view_gate: Mutex<Gate>,
    /// The session is sampled in (decided once, [`crate::sampling`]).
    sampled: bool,
    /// How long `clear` and `pending_events` wait for the worker: a
    /// delivery attempt it may be in, and a second.
    request_wait: Duration,
    shutdown_timeout: Duration,
    batch_size: usize,
    max_body_bytes: usize,
    sink: Option<Arc<dyn BatchSink>>,
    worker: Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
    worker_thread: ThreadId,
}

impl Emitter {
    /// Starts an emitter and its worker thread. With a spool directory, only
    /// cheap checks run here (the directory exists or can be made, and is
    /// writable); the worker opens the spool on its own thread.
    ///
    /// A session sampled out ([`crate::sampling`]) gets no sink and no
    /// spool: it sends and writes nothing, ever.
    pub fn new(config: &Config) -> Result<Emitter> {
        let capacity = config.queue_capacity as usize;
        let session_id = SessionId::new();
        let sampled = crate::sampling::sampled_in(&session_id, config.context.sample_rate);
        let (tx, rx) = crossbeam_channel::bounded(capacity + CONTROL_SLOTS as usize);
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        let (done_tx, done_rx) = crossbeam_channel::bounded(0);
        let spool_dir = config.spool_dir.as_ref().filter(|_| sampled);
        let sink: Option<Arc<dyn BatchSink>> = if !sampled {
            None
        } else if let Some(sink) = &config.sink {
            Some(Arc::clone(sink))
        } else if let Some(spec) = config.callback {
            Some(Arc::new(CallbackSink::new(spec)))
        } else {
            http_sink(config)
        };
        if let Some(dir) = spool_dir {
            check_spool_dir(dir)?;
        }
        // A spool file holds one body: keep bodies well inside its bound.
        let max_body_bytes = match spool_dir {
            Some(_) => config
                .max_body_bytes
                .min((config.spool_max_bytes / 4).max(1024) as usize),
            None => config.max_body_bytes,
        };
        let meta = MetadataState::new(
            crate::platform::kino_keys(),
            config.context.metadata.clone(),
        );
        let shared = Arc::new(Shared {
            session_id,
            stats: Stats::default(),
            rx: rx.clone(),
            inbox: Mutex::new(Inbox::new(meta.clone())),
            requests: Mutex::new(Requests::default()),
            wake: wake_tx,
            dealt: std::sync::atomic::AtomicU64::new(0),
            spool: SpoolCell::default(),
            backlog: Mutex::new(Default::default()),
            spool_ready: std::sync::atomic::AtomicBool::new(false),
            backlog_in_hand: std::sync::atomic::AtomicBool::new(false),
            wall_clock: config.wall_clock,
            every_record: config.context.metadata_on_every_record,
            sample_rate: config.context.sample_rate,
            control: std::sync::atomic::AtomicU64::new(0),
        });
        shared.stats.caller.suppress.store(!sampled, Relaxed);
        let worker = Worker {
            shared: Arc::clone(&shared),
            rx,
            wake: wake_rx,
            sink: sink.clone(),
            settings: Settings {
                batch_size: config.batch_size as usize,
                flush_interval: config.flush_interval,
                request_timeout: config.request_timeout,
                retry: crate::worker::settle::RetryRules {
                    backoff: config.backoff,
                    server_errors: config.server_error_limit,
                },
                max_body_bytes,
                format: config.format,
                spool: spool_dir.map(|dir| SpoolSettings {
                    dir: dir.clone(),
                    max_bytes: config.spool_max_bytes,
                    max_age: config.spool_max_age,
                }),
            },
            _done: done_tx,
        };
        let handle = std::thread::Builder::new()
            .name("kino-worker".into())
            .stack_size(WORKER_STACK)
            .spawn(move || worker.run())
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start worker thread: {e}")))?;
        let worker_thread = handle.thread().id();
        let wake_threshold = (config.batch_size as usize)
            .min(capacity.div_ceil(2))
            .max(1);
        Ok(Emitter {
            shared,
            tx,
            capacity: capacity as u64,
            wake_check_mask: check_mask(wake_threshold),
            wake_threshold,
            keep_url_query: config.keep_url_query,
            view_gate: Mutex::new(Gate { open: false, meta }),
            sampled,
            request_wait: config.request_timeout + Duration::from_secs(1),
            shutdown_timeout: config.shutdown_timeout,
            batch_size: config.batch_size as usize,
            max_body_bytes,
            sink,
            worker: Mutex::new(Some((handle, done_rx))),
            worker_thread,
        })
    }

    /// This emitter's session id (one per emitter).
    pub fn session_id(&self) -> SessionId {
        self.shared.session_id
    }

    /// Validates, stamps and queues one event; returns its sequence number.
    ///
    /// Refused input (`InvalidArgument`) takes no sequence number; a full
    /// queue (`QueueFull`) takes one, leaving a gap the collector can see:
    /// gaps in the sequence always add up to `dropped`.
    ///
    /// While calls are suppressed (the session is sampled out, or consent
    /// is withdrawn) a valid call returns `Ok(0)`: counted in
    /// `suppressed`, seen by the QoE tracker only.
    pub fn emit(&self, event: AnalyticsEvent) -> Result<u64> {
        let event = sanitize(event, self.keep_url_query)?;
        let c = &self.shared.stats.caller;
        if c.closed.load(Relaxed) {
            return Err(closed());
        }
        if event.changes_views() {
            return self.emit_view_change(event);
        }
        if c.suppress.load(Relaxed) {
            return self.observe(event);
        }
        self.admit(1)?;
        let sequence = self.shared.stats.caller.sequence.fetch_add(1, Relaxed) + 1;
        self.queue(sequence, event, 0)
    }

    /// `load`, `end` or a fatal `error`: numbered and queued under the view
    /// gate. A call that closes a view takes two numbers, the second for
    /// the view's `qoe` record (counted now, as emitted and in memory).
    fn emit_view_change(&self, event: AnalyticsEvent) -> Result<u64> {
        let mut gate = self.view_gate.lock();
        let closes = gate.open;
        let opens = matches!(event, AnalyticsEvent::Load { .. });
        let c = &self.shared.stats.caller;
        if c.suppress.load(Relaxed) {
            let observed = self.observe(event);
            if observed.is_ok() {
                gate.moved(closes, opens);
            }
            return observed;
        }
        let numbers = 1 + u64::from(closes);
        self.admit(numbers)?;
        let sequence = c.sequence.fetch_add(numbers, Relaxed) + 1;
        if closes {
            c.emitted.fetch_add(1, Relaxed);
        }
        let qoe_sequence = if closes { sequence + 1 } else { 0 };
        match self.queue(sequence, event, qoe_sequence) {
            Ok(sequence) => {
                gate.moved(closes, opens);
                Ok(sequence)
            }
            Err(e) => {
                if closes {
                    c.emitted.fetch_sub(1, Relaxed);
                    c.in_memory.fetch_sub(1, Relaxed);
                }
                Err(e)
            }
        }
    }

    /// A suppressed call: it reaches the QoE tracker only (so
    /// `kino_emitter_qoe` and `kino_emitter_cmcd` still work), makes no
    /// record, and costs what an accepted call costs: a count, a clock
    /// reading, a `try_send`. Callers wake the worker once a batch's worth
    /// waits (it does not watch the channel while suppressed). A full
    /// channel is a drop, as for any call.
    #[inline]
    fn observe(&self, event: AnalyticsEvent) -> Result<u64> {
        let c = &self.shared.stats.caller;
        let call = Call {
            sequence: 0,
            mono: Mono::now(),
            payload: Payload::Event(event),
            qoe_sequence: 0,
        };
        match self.tx.try_send(call) {
            Ok(()) => {
                let n = c.suppressed.fetch_add(1, Relaxed) + 1;
                if n & self.wake_check_mask == 0 && self.tx.len() >= self.wake_threshold {
                    let _ = self.shared.wake.try_send(());
                }
                Ok(0)
            }
            Err(TrySendError::Full(_)) => {
                c.sequence.fetch_add(1, Relaxed);
                c.dropped.fetch_add(1, Relaxed);
                self.wake_if_queued();
                Err(queue_full())
            }
            Err(TrySendError::Disconnected(_)) => Err(closed()),
        }
    }

    /// Admission of a call needing `slots` records in memory (two for a
    /// call that closes a view: it and its `qoe` record): events in memory
    /// (queue, inbox, batch in flight) never exceed the capacity, however
    /// long the collector is away. A refused call uses up one sequence
    /// number, leaving a gap the collector sees.
    #[inline]
    fn admit(&self, slots: u64) -> Result<()> {
        let c = &self.shared.stats.caller;
        if c.in_memory.fetch_add(slots, Relaxed) + slots > self.capacity {
            c.in_memory.fetch_sub(slots, Relaxed);
            c.sequence.fetch_add(1, Relaxed);
            c.dropped.fetch_add(1, Relaxed);
            self.wake_if_queued();
            return Err(queue_full());
        }
        Ok(())
    }

    /// A call was refused for room: wakes the worker if the queue holds
    /// calls it has not taken yet. The length checks of accepted calls
    /// ([`check_mask`]) can all miss the batch's worth when the inbox
    /// already holds most of the capacity, and the worker would otherwise
    /// sleep to its flush interval while every call is dropped. Once it
    /// has drained the queue (a collector outage: memory is full of
    /// batches it cannot send yet) drops wake nothing.
    #[cold]
    fn wake_if_queued(&self) {
        if !self.tx.is_empty() {
            let _ = self.shared.wake.try_send(());
        }
    }

    /// Counts an admitted event as emitted and queues it.
    #[inline]
    fn queue(&self, sequence: u64, event: AnalyticsEvent, qoe_sequence: u64) -> Result<u64> {
        let c = &self.shared.stats.caller;
        // Counted before it is queued: the worker can never settle an
        // event that `emitted` does not hold yet.
        c.emitted.fetch_add(1, Relaxed);
        let urgent = event.is_urgent();
        let call = Call {
            sequence,
            mono: Mono::now(),
            payload: Payload::Event(event),
            qoe_sequence,
        };
        match self.tx.try_send(call) {
            Ok(()) => {
                // The queue's length is read every few calls only: it lives
                // on the worker's cache line.
                if urgent
                    || (sequence & self.wake_check_mask == 0
                        && self.tx.len() >= self.wake_threshold)
                {
                    // Full means a wake-up is already pending.
                    let _ = self.shared.wake.try_send(());
                }
                Ok(sequence)
            }
            Err(e) => {
                c.emitted.fetch_sub(1, Relaxed);
                c.in_memory.fetch_sub(1, Relaxed);
                match e {
                    // Cannot happen (admission keeps the channel from
                    // filling); counted as a drop if it ever does.
                    TrySendError::Full(_) => {
                        c.dropped.fetch_add(1, Relaxed);
                        Err(queue_full())
                    }
                    TrySendError::Disconnected(_) => Err(closed()),
                }
            }
        }
    }

    /// Waits until everything emitted before this call has been dealt with
    /// (delivered, counted as failed, or with a spool written to disk), or
    /// `timeout` passes. With a spool the writing is done on this thread,
    /// so it is bounded by the disk, not by the collector.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        if self.on_worker_thread() {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "flush called from the batch callback (kino's own worker thread) would deadlock",
            ));
        }
        let c = &self.shared.stats.caller;
        let target = c.emitted.load(Relaxed);
        if c.in_memory.load(Relaxed) == 0 {
            return Ok(()); // nothing accepted is still in memory
        }
        let deadline = Instant::now() + timeout;
        // With a spool, make the events durable from this thread: the
        // worker may be stuck in a request to a collector that hangs, and an
        // app going to the background has a few seconds, not a request
        // timeout.
        if self.spool_now(deadline) && self.shared.dealt.load(Relaxed) >= target {
            return Ok(());
        }
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        // Held while this call waits: once it times out, the worker forgets it.
        let waiting = Arc::new(());
        self.shared.request_flush(FlushRequest {
            target,
            ack: ack_tx,
            caller: Arc::downgrade(&waiting),
        });
        match ack_rx.recv_deadline(deadline) {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("flush did not complete within {} ms", timeout.as_millis()),
            )),
        }
    }

    /// With a spool open and usable, writes what is queued to it from this
    /// thread (under the spool's lock, which the worker never holds over
    /// the network), then wakes the worker to send it. Returns whether it
    /// ran. Batches the disk refuses join the worker's memory backlog.
    fn spool_now(&self, deadline: Instant) -> bool {
        let cell = &self.shared.spool;
        let Some(mut guard) = cell.spool.try_lock_until(deadline) else {
            return false;
        };
        if cell.abandoned.load(Relaxed) || guard.is_none() {
            return false;
        }
        self.shared.drain();
        while let Some(parts) =
            self.shared
                .take_parts(self.batch_size, self.max_body_bytes, Due::All)
        {
            for part in parts {
                let spool = if Instant::now() < deadline {
                    guard.as_mut()
                } else {
                    None // out of time: the worker takes it from here
                };
                self.shared.spool_or_keep(spool, part);
            }
        }
        if let Some(spool) = guard.as_mut() {
            self.shared.publish_spool(spool);
        }
        drop(guard);
        let _ = self.shared.wake.try_send(());
        true
    }

    /// The delivery counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Why the last delivery attempt or spool write failed ("" if none).
    pub fn last_error_message(&self) -> String {
        self.shared.stats.last_error_message()
    }

    /// QoE of the open view, else of the last closed one, else `None`,
    /// over every event emitted before this call.
    pub fn qoe(&self) -> Option<ViewFigures> {
        self.shared.drain();
        self.shared.inbox.lock().views.current(Mono::now())
    }

    /// The open view (else the last closed one) as ITU-T P.1203 input
    /// JSON; `None` before the first `load`. See
    /// [`crate::view::ViewTracker::p1203_json`].
    pub fn p1203_json(&self, fps: f64) -> Option<String> {
        self.shared.drain();
        self.shared.inbox.lock().views.p1203_json(fps, Mono::now())
    }

    /// True on this emitter's own worker thread (inside its batch
    /// callback), where waiting for the worker would deadlock.
    pub fn on_worker_thread(&self) -> bool {
        std::thread::current().id() == self.worker_thread
    }

    /// Asks the worker to deliver what it can by the shutdown deadline,
    /// waits for it (bounded), and closes the sink so the host is never
    /// called back afterwards.
    fn shut_down(&mut self) {
        let deadline = Instant::now() + self.shutdown_timeout;
        self.shared.requests.lock().shutdown = Some(deadline);
        let _ = self.shared.wake.try_send(());
        if self.on_worker_thread() {
            // Dropped from inside the sink (a Rust sink only: the C API
            // refuses it): the worker ends its loop after this call.
            return;
        }
        if let Some((handle, done)) = self.worker.lock().take() {
            match done.recv_deadline(deadline + SHUTDOWN_MARGIN) {
                // The worker dropped its end: it has returned.
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) | Ok(()) => {
                    let _ = handle.join();
                }
                // Stuck in a request (or in a slow disk write): let it
                // finish on its own state, and put what it never got to on
                // disk ourselves.
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    drop(handle);
                    self.rescue_to_spool(deadline + RESCUE_LIMIT);
                }
            }
        }
        if let Some(sink) = &self.sink {
            sink.close();
        }
    }

    /// The worker is stuck: from this thread, write what is still queued to
    /// the spool (closing the open view first), until `until`, and make
    /// sure the worker never touches the spool again. If the worker holds
    /// the spool (a write under way) past `until`, nothing is rescued.
    fn rescue_to_spool(&self, until: Instant) {
        let cell = &self.shared.spool;
        let Some(mut guard) = cell.spool.try_lock_until(until) else {
            cell.abandoned.store(true, Relaxed);
            return;
        };
        cell.abandoned.store(true, Relaxed);
        let Some(spool) = guard.as_mut() else {
            return;
        };
        self.shared.drain();
        self.shared.close_view();
        'rescue: while Instant::now() < until {
            let Some(parts) = self
                .shared
                .take_parts(usize::MAX, self.max_body_bytes, Due::All)
            else {
                break;
            };
            for part in parts {
                if Instant::now() >= until || spool.write(&part.json, part.events).is_err() {
                    break 'rescue;
                }
            }
        }
        // The stuck worker will never send them: let others take them now.
        spool.disown();
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn queue_full() -> Error {
    Error::fixed(
        ErrorKind::QueueFull,
        "event queue is full: event dropped and counted",
    )
}

fn closed() -> Error {
    Error::fixed(
        ErrorKind::Closed,
        "emitter is shut down (its worker stopped after repeated internal errors)",
    )
}

/// The calls that read the queue's length: `sequence & mask == 0` for a
/// mask that makes it at least twice per `threshold` calls, at most every
/// 64th call.
fn check_mask(threshold: usize) -> u64 {
    let every = (threshold / 2).clamp(1, 64) as u64;
    let every = 1u64 << (63 - every.leading_zeros());
    every - 1
}

/// The checks `kino_emitter_new` makes on the host's thread: the spool
/// directory exists (or is created) and is a writable directory. Probing
/// with a real write and fsync is left to the worker.
fn check_spool_dir(dir: &std::path::Path) -> Result<()> {
    let fail = |what: &str| {
        Error::new(
            ErrorKind::Io,
            format!("spool directory {} {what}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(&format!("cannot be created: {e}")))?;
    if !dir.is_dir() {
        return Err(fail("is not a directory"));
    }
    if !writable(dir) {
        return Err(fail("is not writable"));
    }
    Ok(())
}

#[cfg(unix)]
fn writable(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

#[cfg(not(unix))]
fn writable(dir: &std::path::Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| !m.permissions().readonly())
}

/// The HTTP sink for the configured beacon URL, if any.
#[cfg(feature = "http")]
fn http_sink(config: &Config) -> Option<Arc<dyn BatchSink>> {
    config.beacon_url.as_ref().map(|url| {
        Arc::new(crate::transport::http::HttpSink::new(
            url.clone(),
            config.headers.clone(),
            config.request_timeout,
            config.gzip,
            &config.ca_certs,
        )) as Arc<dyn BatchSink>
    })
}

/// Built without the HTTP transport: batches go to the callback only.
#[cfg(not(feature = "http"))]
fn http_sink(_config: &Config) -> Option<Arc<dyn BatchSink>> {
    None
}

#[cfg(test)]
mod tests {
    use super::check_mask;

    #[test]
    fn the_queue_length_is_read_often_enough() {
        assert_eq!(check_mask(1), 0, "tiny thresholds: every call");
        assert_eq!(check_mask(3), 0);
        assert_eq!(check_mask(4), 1);
        assert_eq!(check_mask(50), 15);
        assert_eq!(check_mask(1000), 63);
    }
}
