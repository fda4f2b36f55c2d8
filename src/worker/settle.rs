//! The settlement of one delivery attempt, written once: what an outcome
//! does to the batch in hand and to the counters, for each source.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use super::job::{Job, Source};
use super::shared::Shared;
use crate::batch::split_in_halves;
use crate::clock::Mono;
use crate::retry::{random_unit, Backoff};
use crate::stats::Stats;
use crate::transport::{Failure, Outcome};

/// What the worker must do with the job after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// Keep it: more parts to send, or a retry is due later.
    Keep,
    /// Every part is dealt with: ack its spool file, drop it.
    Done,
    /// The sink is closed (the emitter was freed): give it back untouched.
    Abandon,
}

/// Counts `events` of the head part of a job from `source` as delivered
/// or given up on.
pub(crate) fn settle(shared: &Shared, source: &Source, events: u64, delivered: bool) {
    let stats = &shared.stats;
    match source {
        Source::Memory => shared.settle_memory(events, delivered),
        Source::OwnFile(_) => shared.settle_own_file(events, delivered),
        // Another writer's events: delivered counts as resent; a failure
        // is nobody's in this emitter's counters.
        Source::Orphan(_) if delivered => Stats::add(&stats.resent, events),
        Source::Orphan(_) => {}
    }
    if delivered {
        stats.batches.fetch_add(1, Relaxed);
        stats.last_success_unix_ms.store(unix_ms(), Relaxed);
    }
}

/// Applies `outcome` to the head part of `job`.
pub(crate) fn apply(shared: &Shared, job: &mut Job, outcome: Outcome, backoff: &Backoff) -> After {
    let Some(head) = job.parts.front() else {
        return After::Done;
    };
    let events = head.events;
    match outcome {
        Outcome::Closed => return After::Abandon,
        Outcome::Delivered => {
            job.parts.pop_front();
            job.attempts = 0;
            settle(shared, &job.source, events, true);
        }
        Outcome::Failed(failure) => {
            shared
                .stats
                .note_error(failure.kind, failure.reason.clone());
            let halves = (failure.status == Some(413))
                .then(|| split_in_halves(&head.json))
                .flatten();
            if let Some((a, b)) = halves {
                job.parts.pop_front();
                job.parts.push_front(b);
                job.parts.push_front(a);
            } else if failure.retryable {
                job.attempts = job.attempts.saturating_add(1);
                job.not_before = Mono::now().plus(wait(&failure, job.attempts, backoff));
            } else {
                job.parts.pop_front();
                job.attempts = 0;
                settle(shared, &job.source, events, false);
            }
        }
    }
    if job.parts.is_empty() {
        After::Done
    } else {
        After::Keep
    }
}

/// How long to wait before retry number `attempts`: the server's
/// `Retry-After` if it gave one, else the jittered back-off.
fn wait(failure: &Failure, attempts: u32, backoff: &Backoff) -> std::time::Duration {
    failure
        .retry_after
        .unwrap_or_else(|| backoff.delay(attempts, random_unit()))
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
