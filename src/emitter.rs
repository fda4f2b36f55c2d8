//! The caller side: validate, stamp, `try_send`. This is the path a
//! player's playback thread runs on every `kino_emit_*` call: no lock, no
//! system call, and no allocation for numeric events. The worker is woken
//! only for urgent events or a queue past half full.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use crossbeam_channel::{Sender, TrySendError};
use parking_lot::Mutex;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{AnalyticsEvent, SessionId};
use crate::ids::IdGenerator;
use crate::sanitize::sanitize;
use crate::spool::Spool;
use crate::stats::{Stats, StatsSnapshot};
use crate::transport::callback::CallbackSink;
use crate::transport::BatchSink;
use crate::view::ViewFigures;
use crate::worker::{Call, Inbox, Requests, Shared, Worker};

/// Extra time `Drop` waits for the worker beyond the shutdown timeout
/// (CONTRACT.md allows 250 ms; the rest is for the spool rescue below).
pub const SHUTDOWN_MARGIN: Duration = Duration::from_millis(150);

/// Latest end of the spool rescue, after the shutdown deadline (the
/// contract allows 250 ms beyond it for the whole of free).
const RESCUE_LIMIT: Duration = Duration::from_millis(230);

/// Where `Drop` writes what a stuck worker could not: the spool settings.
struct Rescue {
    dir: std::path::PathBuf,
    max_bytes: u64,
    max_age: Duration,
    max_body_bytes: usize,
}

/// One player instance's analytics pipe. Thread-safe: `emit`, `flush`,
/// `stats` and `qoe` may be called from any thread at once.
pub struct Emitter {
    shared: Arc<Shared>,
    tx: Sender<Call>,
    wake: Sender<()>,
    /// Whether a view is open, as the callers see it: lets a closing call
    /// reserve the sequence number of the view's `qoe` record.
    view_open: AtomicBool,
    high_water: usize,
    /// `sequence & mask == 0` selects the calls that check the fill level.
    fill_check_mask: u64,
    keep_url_query: bool,
    shutdown_timeout: Duration,
    sink: Option<Arc<dyn BatchSink>>,
    rescue: Option<Rescue>,
    worker: Mutex<Option<(JoinHandle<()>, crossbeam_channel::Receiver<()>)>>,
    worker_thread: ThreadId,
}

impl Emitter {
    /// Starts an emitter and its worker thread.
    pub fn new(config: &Config) -> Result<Emitter> {
        let capacity = config.queue_capacity as usize;
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        let (done_tx, done_rx) = crossbeam_channel::bounded(0);
        let sink: Option<Arc<dyn BatchSink>> = if let Some(sink) = &config.sink {
            Some(Arc::clone(sink))
        } else if let Some(spec) = config.callback {
            Some(Arc::new(CallbackSink::new(spec)))
        } else {
            http_sink(config)
        };
        let shared = Arc::new(Shared {
            session_id: SessionId::new(),
            stats: Stats::default(),
            rx,
            inbox: Mutex::new(Inbox::default()),
            requests: Mutex::new(Requests::default()),
            capacity,
            ids: Mutex::new(IdGenerator::from_os()),
            dealt: std::sync::atomic::AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
        });
        // A spool file holds one body: keep bodies well inside its bound.
        let max_body_bytes = match &config.spool_dir {
            Some(_) => config
                .max_body_bytes
                .min((config.spool_max_bytes / 4).max(1024) as usize),
            None => config.max_body_bytes,
        };
        let rescue = config.spool_dir.as_ref().map(|dir| Rescue {
            dir: dir.clone(),
            max_bytes: config.spool_max_bytes,
            max_age: config.spool_max_age,
            max_body_bytes,
        });
        let spool = match &config.spool_dir {
            Some(dir) => Some(Spool::open(
                dir,
                config.spool_max_bytes,
                config.spool_max_age,
            )?),
            None => None,
        };
        let worker = Worker {
            shared: Arc::clone(&shared),
            wake: wake_rx,
            sink: sink.clone(),
            batch_size: config.batch_size as usize,
            flush_interval: config.flush_interval,
            request_timeout: config.request_timeout,
            backoff: config.backoff,
            max_body_bytes,
            format: config.format,
            spool,
            _done: done_tx,
        };
        let handle = std::thread::Builder::new()
            .name("kino-worker".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start worker thread: {e}")))?;
        let worker_thread = handle.thread().id();
        Ok(Emitter {
            shared,
            tx,
            wake: wake_tx,
            view_open: AtomicBool::new(false),
            high_water: capacity.div_ceil(2),
            // Every call for tiny queues, up to every 64th for large ones,
            // so the check happens well before the queue can fill.
            fill_check_mask: fill_check_mask(capacity),
            keep_url_query: config.keep_url_query,
            shutdown_timeout: config.shutdown_timeout,
            sink,
            rescue,
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
    /// queue (`QueueFull`) does, leaving a gap the collector can see.
    pub fn emit(&self, event: AnalyticsEvent) -> Result<u64> {
        let event = sanitize(event, self.keep_url_query)?;
        let urgent = event.is_urgent();
        // A call that closes a view reserves the next number for the
        // view's `qoe` record, so the record follows it directly.
        let closes_view = match &event {
            AnalyticsEvent::Load { .. } => self.view_open.swap(true, Relaxed),
            AnalyticsEvent::End { .. } | AnalyticsEvent::Error { fatal: true, .. } => {
                self.view_open.swap(false, Relaxed)
            }
            _ => false,
        };
        let numbers = if closes_view { 2 } else { 1 };
        let sequence = self
            .shared
            .stats
            .caller
            .sequence
            .fetch_add(numbers, Relaxed)
            + 1;
        let call = Call {
            sequence,
            at: SystemTime::now(),
            event,
            reserved_qoe_sequence: if closes_view { sequence + 1 } else { 0 },
        };
        match self.tx.try_send(call) {
            Ok(()) => {
                // Counted once accepted (with the qoe record it reserved), so
                // a refused call never shows in `emitted`, not even briefly.
                // The worker may see the event first; a snapshot then clamps
                // `queued` at 0 for that instant.
                self.shared.stats.caller.emitted.fetch_add(numbers, Relaxed);
                // The fill level is read every few calls only: it lives on
                // the worker's cache line.
                if urgent
                    || (sequence & self.fill_check_mask == 0 && self.tx.len() >= self.high_water)
                {
                    // Full means a wake-up is already pending.
                    let _ = self.wake.try_send(());
                }
                Ok(sequence)
            }
            Err(TrySendError::Full(call)) => {
                if let AnalyticsEvent::Load { .. } = call.event {
                    // The view this load would have opened never exists.
                    self.view_open.store(closes_view, Relaxed);
                }
                self.shared.stats.caller.dropped.fetch_add(1, Relaxed);
                Err(Error::fixed(
                    ErrorKind::QueueFull,
                    "event queue is full: event dropped and counted",
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(Error::fixed(ErrorKind::Closed, "emitter is shut down"))
            }
        }
    }

    /// Waits until everything emitted before this call has been dealt with
    /// (delivered, or counted as failed), or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        if std::thread::current().id() == self.worker_thread {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "flush called from the batch callback (kino's own worker thread) would deadlock",
            ));
        }
        if self.shared.stats.snapshot().queued == 0 {
            return Ok(()); // nothing accepted is still waiting
        }
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        self.shared.requests.lock().flushes.push(ack_tx);
        let _ = self.wake.try_send(());
        match ack_rx.recv_timeout(timeout) {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("flush did not complete within {} ms", timeout.as_millis()),
            )),
        }
    }

    /// The delivery counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// QoE of the open view, else of the last closed one, else `None`,
    /// over every event emitted before this call.
    pub fn qoe(&self) -> Option<ViewFigures> {
        self.shared.drain();
        self.shared.inbox.lock().views.current(Utc::now())
    }

    /// The open view (else the last closed one) as ITU-T P.1203 input
    /// JSON; `None` before the first `load`. See
    /// [`crate::view::ViewTracker::p1203_json`].
    pub fn p1203_json(&self, fps: f64) -> Option<String> {
        self.shared.drain();
        self.shared.inbox.lock().views.p1203_json(fps, Utc::now())
    }

    /// Asks the worker to deliver what it can by the shutdown deadline,
    /// waits for it (bounded), and closes the sink so the host is never
    /// called back afterwards.
    fn shut_down(&mut self) {
        let deadline = Instant::now() + self.shutdown_timeout;
        self.shared.requests.lock().shutdown = Some(deadline);
        let _ = self.wake.try_send(());
        if let Some((handle, done)) = self.worker.lock().take() {
            if std::thread::current().id() != self.worker_thread {
                let wait_until = deadline + SHUTDOWN_MARGIN;
                match done.recv_deadline(wait_until) {
                    // The worker dropped its end: it has returned.
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) | Ok(()) => {
                        let _ = handle.join();
                    }
                    // Stuck in a request: let it finish on its own state,
                    // and put what it never got to on disk ourselves.
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        self.shared.abandoned.store(true, Relaxed);
                        drop(handle);
                        self.rescue_to_spool(deadline + RESCUE_LIMIT);
                    }
                }
            }
        }
        if let Some(sink) = &self.sink {
            sink.close();
        }
    }
}

impl Emitter {
    /// With a spool, writes what is still queued to it from this thread
    /// (the worker is stuck in a request), closing the open view first.
    /// The worker takes from the same inbox under its lock, so no event is
    /// written twice.
    /// Stops at `until` (what is left then stays with the stuck worker,
    /// which spools it if the process lives long enough).
    fn rescue_to_spool(&self, until: Instant) {
        let Some(r) = &self.rescue else {
            return;
        };
        if Instant::now() >= until {
            return;
        }
        let Ok(mut spool) = Spool::open(&r.dir, r.max_bytes, r.max_age) else {
            return;
        };
        self.shared.close_view(Utc::now());
        let mut all = usize::MAX;
        // As few files as the body limit allows: each costs two fsyncs.
        while Instant::now() < until {
            let Some((parts, _)) =
                self.shared
                    .take_parts(usize::MAX, r.max_body_bytes, true, &mut all)
            else {
                break;
            };
            for part in parts {
                let _ = spool.write(&part.json, part.events);
            }
        }
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Which calls check the queue's fill level: `sequence & mask == 0`. The
/// interval is the largest power of two ≤ capacity/8, between 1 and 64.
fn fill_check_mask(capacity: usize) -> u64 {
    let every = (capacity / 8).clamp(1, 64) as u64;
    let every = 1u64 << (63 - every.leading_zeros());
    every - 1
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
    use super::fill_check_mask;

    #[test]
    fn the_fill_level_is_checked_often_enough() {
        assert_eq!(fill_check_mask(1), 0, "tiny queues: every call");
        assert_eq!(fill_check_mask(15), 0);
        assert_eq!(fill_check_mask(16), 1);
        assert_eq!(fill_check_mask(47), 3);
        assert_eq!(fill_check_mask(1000), 63);
        assert_eq!(fill_check_mask(1 << 20), 63);
    }
}
