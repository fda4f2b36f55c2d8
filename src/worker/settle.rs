//! The settlement of one delivery attempt, written once: what an outcome
//! does to the batch in hand and to the counters, for each source.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use super::job::{Job, Source};
use super::shared::Shared;
use crate::batch::split_in_halves;
use crate::clock::Mono;
use crate::config::ServerErrorLimit;
use crate::retry::{random_unit, Backoff};
use crate::stats::{DeliveryError, Stats};
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

/// How the worker retries: the back-off and the server-error limit.
pub(crate) struct RetryRules {
    pub backoff: Backoff,
    pub server_errors: ServerErrorLimit,
}

/// Applies `outcome` to the head part of `job`.
pub(crate) fn apply(shared: &Shared, job: &mut Job, outcome: Outcome, rules: &RetryRules) -> After {
    let Some(head) = job.parts.front() else {
        return After::Done;
    };
    let events = head.events;
    match outcome {
        Outcome::Closed => return After::Abandon,
        Outcome::Delivered => {
            job.next_part();
            settle(shared, &job.source, events, true);
        }
        Outcome::Partial { rejected, message } => {
            let rejected = rejected.min(events);
            job.next_part();
            settle(shared, &job.source, events - rejected, true);
            settle_failed(shared, &job.source, rejected);
            shared.stats.note_error(
                DeliveryError::Rejected,
                format!("the collector rejected {rejected} of {events} records: {message}"),
            );
        }
        Outcome::Failed(failure) => {
            let halves = (failure.status == Some(413))
                .then(|| split_in_halves(&head.json))
                .flatten();
            if let Some((a, b)) = halves {
                shared
                    .stats
                    .note_error(failure.kind, failure.reason.clone());
                job.parts.pop_front();
                job.parts.push_front(b);
                job.parts.push_front(a);
            } else if failure.retryable && !poisoned(job, &failure, &rules.server_errors) {
                shared
                    .stats
                    .note_error(failure.kind, failure.reason.clone());
                job.attempts = job.attempts.saturating_add(1);
                job.not_before = Mono::now().plus(wait(&failure, job.attempts, &rules.backoff));
            } else {
                let reason = if failure.retryable {
                    format!(
                        "gave a batch of {events} records up after {} server errors: {}",
                        job.server_errors, failure.reason
                    )
                } else {
                    failure.reason.clone()
                };
                shared.stats.note_error(failure.kind, reason);
                job.next_part();
                settle_failed(shared, &job.source, events);
            }
        }
    }
    if job.parts.is_empty() {
        After::Done
    } else {
        After::Keep
    }
}

fn settle_failed(shared: &Shared, source: &Source, events: u64) {
    if events > 0 {
        settle(shared, source, events, false);
    }
}

/// A server error (a 5xx that does not say "later") counts against the
/// head part; true once the part has had too many, or for too long.
fn poisoned(job: &mut Job, failure: &Failure, limit: &ServerErrorLimit) -> bool {
    let server_error = failure
        .status
        .is_some_and(|s| s >= 500 && !matches!(s, 502..=504));
    if !server_error {
        return false;
    }
    let now = Mono::now();
    let first = *job.first_server_error.get_or_insert(now);
    job.server_errors = job.server_errors.saturating_add(1);
    job.server_errors >= limit.attempts || now.since(first) >= limit.max_age
}

/// How long to wait before retry number `attempts`: the server's
/// `Retry-After` if it gave one; the longest back-off for a TLS failure (a
/// certificate does not fix itself in a second: never a hot loop); else
/// the jittered back-off.
fn wait(failure: &Failure, attempts: u32, backoff: &Backoff) -> std::time::Duration {
    if let Some(wait) = failure.retry_after {
        return wait;
    }
    if failure.kind == DeliveryError::Tls {
        return backoff.max;
    }
    backoff.delay(attempts, random_unit())
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
