//! The emitter's context calls (issue 9): metadata, sampling, consent,
//! the records not yet delivered (`pending_events`, `clear`) and CMCD.
//! None of them is on the `kino_emit_*` hot path.
//!
//! Metadata changes travel through the event channel as control messages
//! ([`Payload::Metadata`]), so they are applied in order with the events
//! a thread emits: set `video_id`, then `load`, and the view has it. They
//! have their own [`CONTROL_SLOTS`] beside the queue capacity (events
//! never take a change's room); when that many wait, the caller applies
//! them itself (a drain, as `kino_emitter_qoe` makes), so a change is not
//! refused for room (unless suppressed calls of other threads fill the
//! whole channel at that moment: they take any slot). A change that changes the open view's metadata
//! makes a `metadata` record: it reserves (and counts) the record's number
//! at the call and needs room in memory like an event (else `QueueFull`,
//! counted as a drop), so sequence gaps stay exactly the drops.

use std::sync::atomic::Ordering::Relaxed;

use crossbeam_channel::TrySendError;

use super::{closed, Emitter, CONTROL_SLOTS};
use crate::clock::Mono;
use crate::cmcd::{self, CmcdState, Form};
use crate::error::{Error, ErrorKind, Result};
use crate::metadata::{self, Level, Map};
use crate::stats::Stats;
use crate::worker::shared::{ContextRequest, MetadataChange, Payload};
use crate::worker::Call;

impl Emitter {
    /// Sets (`Some`) or removes (`None`) a metadata key at `level`, in
    /// order with this thread's events. See [`crate::metadata`] for the
    /// rules; `InvalidArgument` for a bad key, a bad typed value or a 65th
    /// key, `QueueFull` when the change would make a `metadata` record and
    /// the queue is full (a drop, counted): then nothing changed.
    pub fn set_metadata(&self, level: Level, key: &str, value: Option<&str>) -> Result<()> {
        metadata::check_key(key)?;
        let value = value.map(|v| metadata::check_value(key, v)).transpose()?;
        let c = &self.shared.stats.caller;
        if c.closed.load(Relaxed) {
            return Err(closed());
        }
        let mut gate = self.view_gate.lock();
        let mut next = gate.meta.clone();
        let changed = next.set(level, key, value.clone())?;
        let record = gate.open && changed.is_some() && !c.suppress.load(Relaxed);
        let control = &self.shared.control;
        if control.load(Relaxed) >= CONTROL_SLOTS {
            // The worker is slow to apply them (busy in a delivery): apply
            // them here, in queue order, as `kino_emitter_qoe` does. No
            // other change is sent meanwhile (the gate is held), so this
            // frees every slot.
            self.shared.drain();
        }
        control.fetch_add(1, Relaxed);
        let sequence = if record {
            if let Err(e) = self.admit(1) {
                Stats::sub(control, 1);
                return Err(e);
            }
            c.emitted.fetch_add(1, Relaxed);
            c.sequence.fetch_add(1, Relaxed) + 1
        } else {
            0
        };
        let call = Call {
            sequence,
            mono: Mono::now(),
            payload: Payload::Metadata(Box::new(MetadataChange {
                level,
                key: key.to_owned(),
                value,
            })),
            qoe_sequence: 0,
        };
        match self.tx.try_send(call) {
            Ok(()) => {
                gate.meta = next;
                // Applied at once, so control slots free up; rare enough
                // for a wake each.
                let _ = self.shared.wake.try_send(());
                Ok(())
            }
            Err(e) => {
                Stats::sub(control, 1);
                if record {
                    c.emitted.fetch_sub(1, Relaxed);
                    c.in_memory.fetch_sub(1, Relaxed);
                }
                match e {
                    // Cannot happen but for suppressed calls from other
                    // threads refilling the channel at once: a drop, with
                    // a number used like any other.
                    TrySendError::Full(_) => {
                        if !record {
                            c.sequence.fetch_add(1, Relaxed);
                        }
                        c.dropped.fetch_add(1, Relaxed);
                        Err(Error::fixed(
                            ErrorKind::QueueFull,
                            "event queue is full: the metadata change was dropped (counted) and not applied",
                        ))
                    }
                    TrySendError::Disconnected(_) => Err(closed()),
                }
            }
        }
    }

    /// The session's metadata as of every call made before this one:
    /// kino's keys and the session level, without any view's (what an
    /// OTLP resource carries).
    pub fn session_metadata(&self) -> Map {
        self.shared.drain();
        self.shared.session_metadata()
    }

    /// Whether this emitter's session is sampled in (decided once).
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// Grants or withdraws the viewer's consent (granted by default).
    /// Withdrawing suppresses every later call (validated as usual,
    /// counted in `suppressed`, seen by the QoE tracker only; kino makes
    /// no records of its own) and then discards what is not yet delivered,
    /// as [`Emitter::clear`] does. Granting it again resumes collection
    /// (a sampled-out session stays suppressed).
    pub fn set_consent(&self, granted: bool) -> Result<()> {
        if self.shared.stats.caller.closed.load(Relaxed) {
            return Err(closed());
        }
        if !granted && self.on_worker_thread() {
            return Err(from_callback("kino_emitter_set_consent(false)"));
        }
        {
            // Under the gate: a view change is numbered on one side of it.
            let _gate = self.view_gate.lock();
            let suppress = !(self.sampled && granted);
            self.shared.stats.caller.suppress.store(suppress, Relaxed);
        }
        // The worker watches the channel again, or serves the clear.
        let _ = self.shared.wake.try_send(());
        if granted || !self.sampled {
            return Ok(());
        }
        self.clear().map_err(|e| match e.kind {
            ErrorKind::Timeout => Error::new(
                ErrorKind::Timeout,
                format!(
                    "consent withdrawn: later calls are suppressed, but kino's worker is in a \
                     delivery attempt: the {e}"
                ),
            ),
            _ => e,
        })
    }

    /// Discards every record accepted and not yet delivered or given up
    /// on (in memory and in this emitter's spool files), counting them in
    /// `discarded` and in `failed`. Views stay open; sequence numbers go
    /// on. Waits for kino's worker (it may be in a delivery attempt: at
    /// most the request timeout and a second, else `Timeout`, and the
    /// discard happens when the attempt ends).
    pub fn clear(&self) -> Result<()> {
        self.check_request("kino_emitter_clear")?;
        let (done, wait) = crossbeam_channel::bounded(1);
        self.shared.request(ContextRequest::Clear(done));
        self.wait_for(wait, "clear")
    }

    /// Every record accepted and not yet delivered or given up on, as a
    /// JSON array in sequence order, ids included: exactly the records a
    /// collector would receive for them. Waits for kino's worker like
    /// [`Emitter::clear`] (the request is dropped on `Timeout`).
    pub fn pending_events(&self) -> Result<String> {
        self.check_request("kino_emitter_pending_events")?;
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.shared.request(ContextRequest::Pending(reply));
        self.wait_for(wait, "pending events")
    }

    /// The CTA-5004 text for the next segment request (see
    /// [`crate::cmcd`]): the open view's state after every call made before
    /// this one. Marks stalls seen (`bs`).
    pub fn cmcd(&self, form: Form) -> String {
        self.shared.drain();
        let mut inbox = self.shared.inbox.lock();
        let view = inbox.views.cmcd();
        // A stall begun in this view since the last call (one of an
        // earlier view is that view's, not this one's).
        let starved = view.is_some_and(|v| match inbox.cmcd_stalls_seen {
            Some((id, seen)) if id == v.view_id => v.stalls > seen,
            _ => v.stalls > 0,
        });
        if let Some(v) = &view {
            inbox.cmcd_stalls_seen = Some((v.view_id, v.stalls));
        }
        let state = CmcdState {
            sid: view.map_or_else(
                || self.shared.session_id.to_string(),
                |v| v.view_id.hyphenated().to_string(),
            ),
            cid: inbox.meta.view_value("video_id").map(str::to_owned),
            bitrate: view.and_then(|v| v.bitrate),
            buffer_level: view.and_then(|v| v.buffer_level),
            live: view.map(|v| v.live),
            startup: view.is_some_and(|v| v.startup),
            starved,
        };
        drop(inbox);
        cmcd::encode(&state, form)
    }

    /// Checks that a request to the worker can be answered.
    fn check_request(&self, what: &str) -> Result<()> {
        if self.shared.stats.caller.closed.load(Relaxed) {
            return Err(closed());
        }
        if self.on_worker_thread() {
            return Err(from_callback(what));
        }
        Ok(())
    }

    /// Waits for the worker's answer to a request.
    fn wait_for<T>(&self, wait: crossbeam_channel::Receiver<T>, what: &str) -> Result<T> {
        match wait.recv_timeout(self.request_wait) {
            Ok(answer) => Ok(answer),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what} not served within {} ms: kino's worker is in a delivery attempt \
                     (a collector that does not answer?)",
                    self.request_wait.as_millis()
                ),
            )),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }
}

fn from_callback(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("{what} called from the batch callback (kino's own worker thread) would deadlock"),
    )
}
