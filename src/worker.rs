//! The background side: one thread per emitter that drains the queue,
//! batches, and hands batches to the sink. It sleeps on its own timer and
//! is woken by producers only for urgent events (`end`, fatal `error`), a
//! queue past its high-water mark, a flush, or shutdown — so the normal
//! `kino_emit_*` call never pays for a wake-up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::event::{beacon_body, AnalyticsEvent, AnalyticsEventRecord, SessionId, StampedEvent};
use crate::stats::Stats;
use crate::transport::{BatchSink, Body, Outcome};
use crate::view::{ClosedView, ViewTracker};

/// Longest the worker sleeps before looking at the queue again, so a full
/// batch goes out promptly without producers having to wake it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

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
    /// The last sequence number handed out (callers and `qoe` records).
    pub sequence: AtomicU64,
    pub stats: Stats,
    pub rx: Receiver<StampedEvent>,
    pub inbox: Mutex<Inbox>,
    pub requests: Mutex<Requests>,
    /// Bound on `inbox.pending`, equal to the queue capacity.
    pub capacity: usize,
}

impl Shared {
    /// Moves what is queued into the inbox (up to its bound), updating QoE.
    /// Called by the worker, and by `Emitter::qoe` so figures are current
    /// even while the worker is busy sending.
    pub fn drain(&self) {
        let mut inbox = self.inbox.lock();
        let room = self.capacity.saturating_sub(inbox.pending.len());
        for stamped in self.rx.try_iter().take(room) {
            let observed = inbox.views.observe(&stamped);
            let urgent = stamped.event.is_urgent();
            let at = stamped.timestamp;
            let reserved = stamped.reserved_qoe_sequence;
            inbox.pending.push_back(Queued {
                stamped,
                view_id: observed.view_id,
            });
            if let Some(closed) = observed.closed {
                self.push_qoe(&mut inbox, closed, at, reserved);
            }
            if urgent {
                inbox.urgent_until = inbox.pending.len();
            }
        }
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
        let sequence = if reserved != 0 {
            reserved
        } else {
            self.sequence.fetch_add(1, Relaxed) + 1
        };
        self.stats.emitted.fetch_add(1, Relaxed);
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

    /// Takes the next batch to send, if one is due. `quota` is how many
    /// more events must go out regardless of batch fullness (flush,
    /// interval, shutdown).
    fn next_batch(&self, batch_size: usize, quota: &mut usize) -> Option<Vec<Queued>> {
        let mut inbox = self.inbox.lock();
        let len = inbox.pending.len();
        let n = if inbox.urgent_until > 0 {
            inbox.urgent_until.min(batch_size)
        } else if len >= batch_size {
            batch_size
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

/// The worker's fixed settings.
pub(crate) struct Worker {
    pub shared: Arc<Shared>,
    pub wake: Receiver<()>,
    pub sink: Option<Arc<dyn BatchSink>>,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub request_timeout: Duration,
    /// Dropped when the worker exits; the emitter waits on it at shutdown.
    pub _done: Sender<()>,
}

impl Worker {
    /// The thread body: runs until shutdown is requested and handled.
    pub fn run(self) {
        let poll = POLL_INTERVAL.min(self.flush_interval);
        let mut next_interval = Instant::now() + self.flush_interval;
        loop {
            let wake_at = next_interval.min(Instant::now() + poll);
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
            let now = Instant::now();
            let interval_due = now >= next_interval;
            if interval_due {
                next_interval = now + self.flush_interval;
            }
            // Everything present now must go if a flush, the interval or
            // shutdown says so; events still in the channel (the inbox has
            // a bound) count too, and are drained as room appears.
            let mut quota = if interval_due || !flushes.is_empty() || shutdown.is_some() {
                self.shared.inbox.lock().pending.len() + self.shared.rx.len()
            } else {
                0
            };
            loop {
                self.shared.drain();
                let Some(batch) = self.shared.next_batch(self.batch_size, &mut quota) else {
                    break;
                };
                let deadline = match shutdown {
                    Some(at) => at,
                    None => Instant::now() + self.request_timeout,
                };
                if Instant::now() >= deadline {
                    Stats::add(&self.shared.stats.failed, batch.len() as u64);
                    continue;
                }
                self.deliver(batch, deadline);
            }
            for ack in flushes {
                let _ = ack.try_send(());
            }
            if shutdown.is_some() {
                return;
            }
        }
    }

    fn deliver(&self, batch: Vec<Queued>, deadline: Instant) {
        let stats = &self.shared.stats;
        let n = batch.len() as u64;
        let Some(sink) = &self.sink else {
            Stats::add(&stats.failed, n);
            return;
        };
        let mut records: Vec<AnalyticsEventRecord> = batch
            .into_iter()
            .map(|q| AnalyticsEventRecord::new(self.shared.session_id, q.stamped, q.view_id))
            .collect();
        // Concurrent callers may enqueue out of sequence order; a batch is
        // always sent oldest first.
        records.sort_by_key(|r| r.sequence);
        let body = Body::new(beacon_body(&records));
        match sink.deliver(&body, deadline) {
            Outcome::Delivered => {
                Stats::add(&stats.delivered, n);
                stats.batches.fetch_add(1, Relaxed);
            }
            Outcome::Failed(_) => Stats::add(&stats.failed, n),
        }
    }
}
