//! The worker's side of `kino_emitter_clear` and
//! `kino_emitter_pending_events`: both are served here, on the worker's
//! thread, because only the worker holds every record accepted and not
//! yet delivered or given up on — the inbox, the batch in hand, the
//! memory backlog and this emitter's spool files — and, between two of
//! its own steps, none is on the move.
//!
//! A request is taken at the top of a loop turn or between two delivery
//! attempts, after every call made before it has been drained (the caller
//! queued its calls before asking), so what it sees or discards is at
//! least everything accepted before the request.

use std::sync::atomic::Ordering::Relaxed;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::job::{Job, Source};
use super::shared::ContextRequest;
use super::{State, Worker};
use crate::stats::Stats;

impl Worker {
    /// Serves the waiting clear and pending-events requests, in call order.
    /// While calls are suppressed (consent withdrawn), also discards any
    /// record still held: one accepted by a call that raced the withdrawal
    /// on another thread. Nothing is sent then, so it would otherwise wait.
    pub(super) fn serve_context(&self, st: &mut State) {
        let requests = std::mem::take(&mut self.shared.requests.lock().context);
        if !requests.is_empty() {
            // Every call made before these requests is in the channel by now.
            self.shared.drain();
            for request in requests {
                match request {
                    ContextRequest::Clear(done) => {
                        self.discard_all(st);
                        let _ = done.try_send(());
                    }
                    ContextRequest::Pending(reply) => {
                        let _ = reply.try_send(self.pending_json(st));
                    }
                }
            }
        }
        if self.shared.stats.caller.suppress.load(Relaxed) && self.holds_records(st) {
            self.discard_all(st);
        }
    }

    /// Whether any record of this emitter is in memory here.
    fn holds_records(&self, st: &State) -> bool {
        st.job.is_some()
            || !self.shared.backlog.lock().is_empty()
            || !self.shared.inbox.lock().pending.is_empty()
    }

    /// Discards every record of this emitter not yet delivered or given up
    /// on: counted in `failed` and in `discarded`. A batch file of another
    /// writer in hand is given back (it is not this emitter's to discard).
    fn discard_all(&self, st: &mut State) {
        let shared = &self.shared;
        let mut in_memory = 0u64;
        let mut on_disk = 0u64;
        if let Some(Job { parts, source, .. }) = st.job.take() {
            let events: u64 = parts.iter().map(|p| p.events).sum();
            match source {
                Source::Memory => in_memory += events,
                Source::OwnFile(claimed) => {
                    on_disk += events;
                    // Removes the file (its other parts were delivered).
                    self.with_spool(|spool| spool.ack(claimed));
                }
                Source::Orphan(claimed) => {
                    self.with_spool(|spool| spool.release(claimed));
                }
            }
        }
        in_memory += shared
            .backlog
            .lock()
            .drain(..)
            .map(|p| p.events)
            .sum::<u64>();
        {
            let mut inbox = shared.inbox.lock();
            inbox.urgent_until = 0;
            inbox.oldest = None;
            in_memory += inbox.pending.drain(..).count() as u64;
        }
        on_disk += self
            .with_spool(|spool| spool.discard_own(None))
            .unwrap_or(0);
        if in_memory > 0 {
            shared.settle_memory(in_memory, false);
        }
        if on_disk > 0 {
            shared.settle_own_file(on_disk, false);
        }
        Stats::add(&shared.stats.discarded, in_memory + on_disk);
    }

    /// Every record of this emitter not yet delivered or given up on, as a
    /// JSON array in sequence order: the records' text exactly as it will
    /// be sent (records already cut into bodies), or as it will be cut.
    fn pending_json(&self, st: &State) -> String {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        let claimed = st.job.as_ref().and_then(|job| match &job.source {
            Source::OwnFile(c) => Some(c.id()),
            _ => None,
        });
        if let Some(files) = self.with_spool(|spool| spool.own_bodies(claimed)) {
            bodies.extend(files);
        }
        if let Some(job) = &st.job {
            if !matches!(job.source, Source::Orphan(_)) {
                bodies.extend(job.parts.iter().map(|p| p.json.clone()));
            }
        }
        bodies.extend(self.shared.backlog.lock().iter().map(|p| p.json.clone()));
        let mut records: Vec<(u64, Box<RawValue>)> = Vec::new();
        for body in &bodies {
            let Ok(items) = serde_json::from_slice::<Vec<Box<RawValue>>>(body) else {
                continue;
            };
            records.extend(items.into_iter().map(|r| (sequence_of(&r), r)));
        }
        {
            let inbox = self.shared.inbox.lock();
            for q in &inbox.pending {
                let record = q.record(self.shared.session_id);
                if let Ok(raw) = serde_json::value::to_raw_value(&record) {
                    records.push((record.sequence, raw));
                }
            }
        }
        records.sort_by_key(|(sequence, _)| *sequence);
        let mut out = String::with_capacity(
            2 + records
                .iter()
                .map(|(_, r)| r.get().len() + 1)
                .sum::<usize>(),
        );
        out.push('[');
        for (i, (_, r)) in records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r.get());
        }
        out.push(']');
        out
    }
}

/// A record's `sequence` (0 if it has none: never for kino's records).
fn sequence_of(record: &RawValue) -> u64 {
    #[derive(Deserialize)]
    struct Numbered {
        sequence: u64,
    }
    serde_json::from_str::<Numbered>(record.get()).map_or(0, |n| n.sequence)
}
